import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';

import { ASYMMETRIC_ALGS } from '../token/algs.js';
import { joseFailure } from '../token/jose-failures.js';

export { ASYMMETRIC_ALGS };

export type VerifyFailureReason =
  | 'malformed'
  | 'not_an_id_token'
  | 'too_old'
  | 'alg_not_allowed'
  | 'kid_unknown'
  | 'bad_signature'
  | 'issuer_mismatch'
  | 'expired'
  | 'not_yet_valid'
  | 'issued_in_future'
  | 'audience_not_allowed'
  | 'azp_missing'
  | 'azp_not_allowed'
  | 'key_too_weak'
  | 'jwks_unavailable';

export type VerifyResult = { ok: true; claims: JWTPayload } | { ok: false; reason: VerifyFailureReason; message: string };

export interface IdTokenVerifierOptions {
  /** The IdP's issuer identifier, exactly as in its tokens. */
  issuer: string;
  /** Client ids whose id_tokens this backend trusts (the CLI's Native client among them). */
  allowedClientIds: readonly string[];
  clockToleranceSec?: number;
  /** Where the keys are; default: `jwks_uri` from the issuer's discovery document. */
  jwksUri?: string;
  /** Fetch to use (a proxy-aware one, or a test's); default: the global fetch. */
  fetch?: (url: string, init?: RequestInit) => Promise<Response>;
  /** The current time; default: the system clock. */
  now?: () => Date;
  /**
   * The JWKS is fetched at most this often (seconds; default 60), counted from the start of a
   * fetch: on an unknown `kid`, and after a failed fetch (requests meanwhile fail fast).
   */
  jwksRefreshCooldownSec?: number;
  /** An id_token issued longer ago than this is refused (seconds); default one day. */
  maxAgeSec?: number;
}

export type IdTokenVerifier = (token: string) => Promise<VerifyResult>;

/**
 * The server half of the CLI-auth contract: verify an id_token a CLI obtained for its Native
 * client. Checks, in order: the `alg` (asymmetric only), the signature against the issuer's JWKS
 * (cached; refetched once on an unknown `kid`, at most every `jwksRefreshCooldownSec`), `iss`,
 * `exp`/`nbf`/`iat` with tolerance, `aud` ∩ allow-list, and `azp` when `aud` has several entries.
 */
export function createIdTokenVerifier(options: IdTokenVerifierOptions): IdTokenVerifier {
  const fetchFn = options.fetch ?? ((url: string, init?: RequestInit) => fetch(url, init));
  const now = options.now ?? (() => new Date());
  const tolerance = options.clockToleranceSec ?? 60;
  const cooldownMs = (options.jwksRefreshCooldownSec ?? 60) * 1000;
  const maxAge = options.maxAgeSec ?? 86_400;
  const allowed = new Set(options.allowedClientIds);
  type Keys = ReturnType<typeof createLocalJWKSet>;
  // The key set, the one fetch in flight (shared by every request that needs it), and when the
  // last fetch started and how it failed: an attacker sending random kids, or an IdP that is
  // down, costs one fetch per cooldown, not one per request.
  let jwks: Keys | undefined;
  let inflight: Promise<Keys> | undefined;
  let lastFetchStarted = Number.NEGATIVE_INFINITY;
  let lastFailure: Error | undefined;
  const coolingDown = () => now().getTime() - lastFetchStarted < cooldownMs;

  async function jwksUri(): Promise<string> {
    if (options.jwksUri) return options.jwksUri;
    const url = `${options.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
    const response = await fetchFn(url, { headers: { accept: 'application/json' } });
    if (!response.ok) throw new Error(`discovery answered ${response.status}`);
    const document = (await response.json()) as { issuer?: unknown; jwks_uri?: unknown };
    if (document.issuer !== options.issuer) throw new Error(`discovery names issuer ${String(document.issuer)}, not ${options.issuer}`);
    if (typeof document.jwks_uri !== 'string') throw new Error('discovery has no jwks_uri');
    return document.jwks_uri;
  }

  function fetchKeys(): Promise<Keys> {
    if (inflight) return inflight;
    lastFetchStarted = now().getTime();
    inflight = (async () => {
      const response = await fetchFn(await jwksUri(), { headers: { accept: 'application/json' } });
      if (!response.ok) throw new Error(`the JWKS answered ${response.status}`);
      return createLocalJWKSet((await response.json()) as JSONWebKeySet);
    })().then(
      (keys) => {
        jwks = keys;
        lastFailure = undefined;
        return keys;
      },
      (error: Error) => {
        lastFailure = error;
        throw error;
      },
    );
    inflight.finally(() => (inflight = undefined)).catch(() => undefined);
    return inflight;
  }

  /** The cached keys; the first time (or after a failure, once the cooldown is over) fetched. */
  function currentKeys(): Promise<Keys> {
    if (jwks) return Promise.resolve(jwks);
    if (!inflight && lastFailure && coolingDown()) return Promise.reject(lastFailure);
    return fetchKeys();
  }

  /** Fresh keys for an unknown `kid`, or undefined while the cooldown forbids a fetch. */
  function keysForUnknownKid(): Promise<Keys> | undefined {
    if (inflight) return inflight;
    return coolingDown() ? undefined : fetchKeys();
  }

  const fail = (reason: VerifyFailureReason, message: string): VerifyResult => ({ ok: false, reason, message });

  return async (token) => {
    let header: ReturnType<typeof decodeProtectedHeader>;
    try {
      header = decodeProtectedHeader(token);
    } catch {
      return fail('malformed', 'not a compact JWS');
    }
    const alg: unknown = header.alg;
    // An access token (RFC 9068) or a logout token offered as an id_token is not one.
    if (typeof header.typ === 'string' && !/^(jwt|application\/jwt)$/i.test(header.typ))
      return fail('not_an_id_token', `typ ${header.typ} is not an id_token`);
    if (typeof alg !== 'string' || !ASYMMETRIC_ALGS.includes(alg)) return fail('alg_not_allowed', `alg ${String(alg)} is not allowed`);

    let payload: JWTPayload;
    try {
      const verify = (set: Keys) =>
        jwtVerify(token, set, { algorithms: [...ASYMMETRIC_ALGS], currentDate: now(), clockTolerance: tolerance });
      try {
        ({ payload } = await verify(await currentKeys()));
      } catch (error) {
        // A key rotated at the IdP: refetch once, not more often than the cooldown allows.
        const fresh = joseFailure(error) === 'kid_unknown' ? keysForUnknownKid() : undefined;
        if (!fresh) throw error;
        ({ payload } = await verify(await fresh));
      }
    } catch (error) {
      switch (joseFailure(error)) {
        case 'kid_unknown':
          return fail('kid_unknown', 'no key in the issuer JWKS matches the token kid');
        case 'bad_signature':
          return fail('bad_signature', 'signature verification failed');
        case 'expired':
          return fail('expired', 'the token has expired');
        case 'not_yet_valid':
          return fail('not_yet_valid', 'the token is not valid yet');
        case 'key_too_weak':
          // The IdP's key is the problem, not its availability.
          return fail('key_too_weak', `the issuer's key is too weak to trust: ${(error as Error).message}`);
        case undefined:
          return fail('jwks_unavailable', `could not load the issuer's keys: ${(error as Error).message}`);
        default:
          return fail('malformed', (error as Error).message);
      }
    }

    const nowSec = Math.floor(now().getTime() / 1000);
    if (payload.iss !== options.issuer) return fail('issuer_mismatch', `iss ${String(payload.iss)} is not ${options.issuer}`);
    if (typeof payload.exp !== 'number') return fail('malformed', 'the token has no exp');
    if (typeof payload.iat === 'number' && payload.iat > nowSec + tolerance) return fail('issued_in_future', 'iat is in the future');
    if (typeof payload.iat !== 'number') return fail('malformed', 'the token has no iat');
    if (payload.iat < nowSec - maxAge - tolerance)
      return fail('too_old', `issued ${Math.round((nowSec - payload.iat) / 3600)} h ago, more than ${maxAge / 3600} h`);
    const aud = typeof payload.aud === 'string' ? [payload.aud] : Array.isArray(payload.aud) ? payload.aud : [];
    if (!aud.some((a) => allowed.has(a))) return fail('audience_not_allowed', `aud ${JSON.stringify(aud)} contains no trusted client id`);
    if (aud.length > 1 && typeof payload.azp !== 'string') return fail('azp_missing', 'aud has several entries and there is no azp');
    if (payload.azp !== undefined && (typeof payload.azp !== 'string' || !allowed.has(payload.azp)))
      return fail('azp_not_allowed', `azp ${JSON.stringify(payload.azp)} is not a trusted client id`);
    return { ok: true, claims: payload };
  };
}
