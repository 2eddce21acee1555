import { createLocalJWKSet, errors, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { discoveryUrl } from '../discovery.js';
import { requireWebUrl } from '../io/urls.js';
import { ASYMMETRIC_ALGS } from '../token/algs.js';
import { checkIdToken, type VerifyResult } from '../token/id-token.js';

export type { IdTokenFailure, VerifyFailureReason, VerifyResult } from '../token/id-token.js';

export { ASYMMETRIC_ALGS };

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
    const response = await fetchFn(discoveryUrl(options.issuer), { headers: { accept: 'application/json' } });
    if (!response.ok) throw new Error(`discovery answered ${response.status}`);
    const document = (await response.json()) as { issuer?: unknown; jwks_uri?: unknown };
    if (document.issuer !== options.issuer) throw new Error(`discovery names issuer ${String(document.issuer)}, not ${options.issuer}`);
    if (typeof document.jwks_uri !== 'string') throw new Error('discovery has no jwks_uri');
    return requireWebUrl(document.jwks_uri).href;
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

  // The keys for a token: the cached set; for an unknown kid (a key rotated at the IdP) a fresh
  // one, not more often than the cooldown allows.
  const keys: JWTVerifyGetKey = async (header, token) => {
    const set = await currentKeys();
    try {
      return await set(header, token);
    } catch (error) {
      const fresh = error instanceof errors.JWKSNoMatchingKey ? keysForUnknownKid() : undefined;
      if (!fresh) throw error;
      return (await fresh)(header, token);
    }
  };

  return (token) =>
    checkIdToken(token, keys, { issuer: options.issuer, clientIds: allowed, now: now(), toleranceSec: tolerance, maxAgeSec: maxAge });
}
