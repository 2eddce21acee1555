import { createLocalJWKSet, errors, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { discoveryUrl } from '../discovery.js';
import { requireWebUrl } from '../io/urls.js';
import { ASYMMETRIC_ALGS } from '../token/algs.js';
import { checkIdToken, type VerifyFailureReason, type VerifyResult } from '../token/id-token.js';

export type { IdTokenFailure, VerifyFailureReason, VerifyResult } from '../token/id-token.js';

export { ASYMMETRIC_ALGS };

export interface IdTokenVerifierOptions {
  /** The IdP's issuer identifier, exactly as in its tokens (and its discovery document). */
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
  /**
   * Keys are fetched again when they are older than this (seconds; default 600), so a key the IdP
   * removed stops being trusted. While the IdP cannot be reached the keys in hand stay in use.
   */
  jwksMaxAgeSec?: number;
  /** A discovery or JWKS fetch is abandoned after this long (milliseconds; default 5000). */
  fetchTimeoutMs?: number;
  /** An id_token issued longer ago than this is refused (seconds); default one day. */
  maxAgeSec?: number;
}

/** Verify one id_token; `ready()` fetches discovery and the keys once (a start-up check). */
export interface IdTokenVerifier {
  (token: string): Promise<VerifyResult>;
  /** Resolves when the issuer's keys could be loaded; rejects with why (the host named) otherwise. */
  ready(): Promise<void>;
}

/**
 * The reasons that say the backend cannot verify anything right now (its configuration, or the
 * IdP out of reach), not that the token is bad: the handler answers 503 for them.
 */
export const UNAVAILABLE_REASONS: ReadonlySet<VerifyFailureReason> = new Set<VerifyFailureReason>([
  'discovery_failed',
  'discovery_issuer_mismatch',
  'jwks_unavailable',
]);

/** A reason and its message, thrown while loading keys and returned as the verdict. */
class KeysUnavailable extends Error {
  constructor(
    readonly reason: VerifyFailureReason,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The server half of the CLI-auth contract: verify an id_token a CLI obtained for its Native
 * client. Checks, in order: the `alg` (asymmetric only), the signature against the issuer's JWKS
 * (cached for `jwksMaxAgeSec`; refetched once on an unknown `kid`, at most every
 * `jwksRefreshCooldownSec`), `iss`, `exp`/`nbf`/`iat` with tolerance, `aud` ∩ allow-list, and
 * `azp` when `aud` has several entries. A configuration that cannot work (an issuer that is not
 * an https URL, no client id) throws here, at start-up, rather than refusing every login.
 */
export function createIdTokenVerifier(options: IdTokenVerifierOptions): IdTokenVerifier {
  checkConfiguration(options);
  const fetchFn = options.fetch ?? ((url: string, init?: RequestInit) => fetch(url, init));
  const now = options.now ?? (() => new Date());
  const tolerance = options.clockToleranceSec ?? 60;
  const cooldownMs = (options.jwksRefreshCooldownSec ?? 60) * 1000;
  const keysMaxAgeMs = (options.jwksMaxAgeSec ?? 600) * 1000;
  const timeoutMs = options.fetchTimeoutMs ?? 5000;
  const maxAge = options.maxAgeSec ?? 86_400;
  const allowed = new Set(options.allowedClientIds);
  type Keys = ReturnType<typeof createLocalJWKSet>;
  // The key set and when it was fetched, the one fetch in flight (shared by every request that
  // needs it), and when the last fetch started and how it failed: an attacker sending random
  // kids, or an IdP that is down, costs one fetch per cooldown, not one per request.
  let jwks: { keys: Keys; fetchedAt: number } | undefined;
  let inflight: Promise<Keys> | undefined;
  let lastFetchStarted = Number.NEGATIVE_INFINITY;
  let lastFailure: KeysUnavailable | undefined;
  const coolingDown = () => now().getTime() - lastFetchStarted < cooldownMs;
  /** The cached keys while they are younger than the maximum age. */
  const freshKeys = () => (jwks !== undefined && now().getTime() - jwks.fetchedAt < keysMaxAgeMs ? jwks.keys : undefined);

  /** GET a JSON document with the timeout; failures name the host. */
  async function getJson(url: string, reason: VerifyFailureReason, what: string): Promise<unknown> {
    const host = URL.canParse(url) ? new URL(url).host : url;
    let response: Response;
    try {
      response = await fetchFn(url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(timeoutMs) });
    } catch (error) {
      const why = (error as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs / 1000} s` : (error as Error).message;
      throw new KeysUnavailable(reason, `could not fetch the ${what} from ${host}: ${why}`);
    }
    if (!response.ok) throw new KeysUnavailable(reason, `the ${what} at ${host} answered ${response.status}`);
    // A discovery document or a key set is a few kB: a server that sends megabytes is refused
    // as it reads, not buffered whole.
    const text = await boundedText(response, MAX_DOCUMENT_BYTES).catch((error: Error) => {
      throw new KeysUnavailable(reason, `the ${what} at ${host} ${error.message}`);
    });
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new KeysUnavailable(reason, `the ${what} at ${host} is not JSON`);
    }
  }

  async function jwksUri(): Promise<string> {
    if (options.jwksUri) return options.jwksUri;
    const document = (await getJson(discoveryUrl(options.issuer), 'discovery_failed', 'discovery document')) as {
      issuer?: unknown;
      jwks_uri?: unknown;
    } | null;
    if (document?.issuer !== options.issuer)
      throw new KeysUnavailable(
        'discovery_issuer_mismatch',
        `the discovery document names the issuer ${JSON.stringify(document?.issuer)}, not ${JSON.stringify(options.issuer)}:` +
          ' configure the verifier with the issuer exactly as the IdP names it',
      );
    if (typeof document.jwks_uri !== 'string') throw new KeysUnavailable('discovery_failed', 'the discovery document has no jwks_uri');
    try {
      return requireWebUrl(document.jwks_uri).href;
    } catch (error) {
      throw new KeysUnavailable('discovery_failed', `the discovery document's jwks_uri is refused: ${(error as Error).message}`);
    }
  }

  function fetchKeys(): Promise<Keys> {
    if (inflight) return inflight;
    lastFetchStarted = now().getTime();
    inflight = (async () => {
      const set = await getJson(await jwksUri(), 'jwks_unavailable', 'JWKS');
      try {
        return createLocalJWKSet(set as JSONWebKeySet);
      } catch (error) {
        throw new KeysUnavailable('jwks_unavailable', `the JWKS is not a key set: ${(error as Error).message}`);
      }
    })().then(
      (keys) => {
        jwks = { keys, fetchedAt: now().getTime() };
        selected = new Map();
        lastFailure = undefined;
        return keys;
      },
      (error: unknown) => {
        lastFailure = error instanceof KeysUnavailable ? error : new KeysUnavailable('jwks_unavailable', (error as Error).message);
        throw lastFailure;
      },
    );
    inflight.finally(() => (inflight = undefined)).catch(() => undefined);
    return inflight;
  }

  /**
   * The keys to check a token with: the cached ones (fetched again once they are older than the
   * maximum age; kept while the IdP cannot be reached), or, the first time, fetched.
   */
  async function currentKeys(): Promise<Keys> {
    if (jwks) {
      if (freshKeys() || inflight || coolingDown()) return jwks.keys;
      const stale = jwks.keys;
      return fetchKeys().catch(() => stale);
    }
    if (!inflight && lastFailure && coolingDown()) throw lastFailure;
    return fetchKeys();
  }

  /** Fresh keys for an unknown `kid`, or undefined while the cooldown forbids a fetch. */
  function keysForUnknownKid(): Promise<Keys> | undefined {
    if (inflight) return inflight;
    return coolingDown() ? undefined : fetchKeys();
  }

  // The keys for a token: the cached set; for an unknown kid (a key rotated at the IdP) a fresh
  // one, not more often than the cooldown allows.
  // The key each (kid, alg) selected in the current set: the set's own selection runs once per
  // key, not once per token (what makes the verifier as fast as jose with the key in hand).
  type Key = Awaited<ReturnType<Keys>>;
  let selected = new Map<string, Key>();
  const keys: JWTVerifyGetKey = (header, token) => {
    const fresh = freshKeys();
    const id = `${String(header.kid)}\u0000${String(header.alg)}`;
    const hit = fresh ? selected.get(id) : undefined;
    if (hit) return hit;
    const lookup = fresh ? fresh(header, token) : currentKeys().then((set) => set(header, token));
    return lookup.then(
      (key) => {
        if (fresh === jwks?.keys) selected.set(id, key);
        return key;
      },
      async (error: unknown) => {
        const refetched = error instanceof errors.JWKSNoMatchingKey ? await keysForUnknownKid()?.catch(() => undefined) : undefined;
        if (!refetched) throw error;
        return refetched(header, token);
      },
    );
  };

  const verify = async (token: string): Promise<VerifyResult> => {
    const result = await checkIdToken(token, keys, {
      issuer: options.issuer,
      clientIds: allowed,
      now: now(),
      toleranceSec: tolerance,
      maxAgeSec: maxAge,
    });
    if (!result.ok && result.cause instanceof KeysUnavailable)
      return { ok: false, reason: result.cause.reason, message: result.cause.message };
    return result;
  };
  return Object.assign(verify, {
    ready: async () => {
      await currentKeys();
    },
  });
}

const MAX_DOCUMENT_BYTES = 512 * 1024;

/** A response body as text, read no further than `limit` bytes. */
async function boundedText(response: Response, limit: number): Promise<string> {
  if (Number(response.headers.get('content-length') ?? 0) > limit) throw new Error(`is larger than ${limit} bytes`);
  if (!response.body) return '';
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw new Error(`is larger than ${limit} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** What makes a verifier unable to accept any token, said when it is made. */
function checkConfiguration(options: IdTokenVerifierOptions): void {
  const where = 'createIdTokenVerifier';
  if (typeof options.issuer !== 'string' || !URL.canParse(options.issuer))
    throw new TypeError(`${where}: issuer must be the IdP's issuer URL, got ${JSON.stringify(options.issuer)}`);
  try {
    requireWebUrl(options.issuer);
    if (options.jwksUri !== undefined) requireWebUrl(options.jwksUri);
  } catch (error) {
    throw new TypeError(`${where}: ${(error as Error).message}`);
  }
  if (!Array.isArray(options.allowedClientIds) || options.allowedClientIds.length === 0)
    throw new TypeError(`${where}: allowedClientIds must list the client ids whose id_tokens this backend trusts (it is empty)`);
  for (const id of options.allowedClientIds)
    if (typeof id !== 'string' || id.trim() === '') throw new TypeError(`${where}: allowedClientIds holds an empty or non-string entry`);
}
