import { createLocalJWKSet, errors, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { authorizationServerMetadataUrl, discoveryUrl } from '../discovery.js';
import { boundedText } from '../io/body.js';
import { requireWebUrl } from '../io/urls.js';
import type { VerifyFailureReason, VerifyResult } from '../token/id-token.js';

/** How an issuer's keys are found and kept: the settings both verifiers share. */
export interface IssuerKeysOptions {
  /** The IdP's issuer identifier, exactly as in its tokens (and its metadata). */
  issuer: string;
  /** Where the keys are; default: `jwks_uri` from the issuer's metadata (OpenID discovery, else RFC 8414). */
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
}

/** A reason and its message, thrown while loading keys and returned as the verdict. */
export class KeysUnavailable extends Error {
  constructor(
    readonly reason: VerifyFailureReason,
    message: string,
  ) {
    super(message);
  }
}

/** A check's result, with keys that could not be loaded as the verdict's reason (not the token's fault). */
export function keysVerdict(result: VerifyResult): VerifyResult {
  return !result.ok && result.cause instanceof KeysUnavailable
    ? { ok: false, reason: result.cause.reason, message: result.cause.message }
    : result;
}

export interface IssuerKeys {
  /** jose's key lookup: the cached set, refetched on an unknown `kid` within the cooldown rule. */
  keys: JWTVerifyGetKey;
  /** Resolves when the keys could be loaded; rejects with a `KeysUnavailable` otherwise. */
  ready(this: void): Promise<void>;
}

const MAX_DOCUMENT_BYTES = 512 * 1024;

/**
 * An issuer's signing keys for a verifier: found through its metadata, cached for
 * `jwksMaxAgeSec`, refetched once on an unknown `kid` at most every `jwksRefreshCooldownSec`,
 * with one fetch in flight shared by every request that needs it. An attacker sending random
 * kids, or an IdP that is down, costs one fetch per cooldown, not one per request.
 */
export function issuerKeys(options: IssuerKeysOptions): IssuerKeys {
  const fetchFn = options.fetch ?? ((url: string, init?: RequestInit) => fetch(url, init));
  const now = options.now ?? (() => new Date());
  const cooldownMs = (options.jwksRefreshCooldownSec ?? 60) * 1000;
  const keysMaxAgeMs = (options.jwksMaxAgeSec ?? 600) * 1000;
  const timeoutMs = options.fetchTimeoutMs ?? 5000;
  type Keys = ReturnType<typeof createLocalJWKSet>;
  let jwks: { keys: Keys; fetchedAt: number } | undefined;
  let inflight: Promise<Keys> | undefined;
  let lastFetchStarted = Number.NEGATIVE_INFINITY;
  let lastFailure: KeysUnavailable | undefined;
  const coolingDown = () => now().getTime() - lastFetchStarted < cooldownMs;
  /** The cached keys while they are younger than the maximum age. */
  const freshKeys = () => (jwks !== undefined && now().getTime() - jwks.fetchedAt < keysMaxAgeMs ? jwks.keys : undefined);

  /** GET a JSON document with the timeout; failures name the host. A 404 is `undefined` when `missingOk`. */
  async function getJson(url: string, reason: VerifyFailureReason, what: string, missingOk = false): Promise<unknown> {
    const host = URL.canParse(url) ? new URL(url).host : url;
    let response: Response;
    try {
      response = await fetchFn(url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(timeoutMs) });
    } catch (error) {
      const why = (error as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs / 1000} s` : (error as Error).message;
      throw new KeysUnavailable(reason, `could not fetch the ${what} from ${host}: ${why}`);
    }
    if (missingOk && response.status === 404) {
      await response.body?.cancel();
      return undefined;
    }
    if (!response.ok) throw new KeysUnavailable(reason, `the ${what} at ${host} answered ${response.status}`);
    // A discovery document or a key set is a few kB: a server that sends megabytes is refused
    // as it reads, not buffered whole.
    const text = await boundedText(response, MAX_DOCUMENT_BYTES, () => new Error(`is larger than ${MAX_DOCUMENT_BYTES} bytes`)).catch(
      (error: Error) => {
        throw new KeysUnavailable(reason, `the ${what} at ${host} ${error.message}`);
      },
    );
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new KeysUnavailable(reason, `the ${what} at ${host} is not JSON`);
    }
  }

  async function jwksUri(): Promise<string> {
    if (options.jwksUri) return options.jwksUri;
    // OpenID discovery, else RFC 8414's metadata (an OAuth-only authorization server).
    type Metadata = { issuer?: unknown; jwks_uri?: unknown } | null;
    const document = ((await getJson(discoveryUrl(options.issuer), 'discovery_failed', 'discovery document', true)) ??
      (await getJson(authorizationServerMetadataUrl(options.issuer), 'discovery_failed', 'authorization server metadata'))) as Metadata;
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

  return {
    keys,
    ready: async () => {
      await currentKeys();
    },
  };
}

/** The issuer and jwks_uri settings every verifier needs, checked when it is made. */
export function checkIssuerSettings(where: string, options: Pick<IssuerKeysOptions, 'issuer' | 'jwksUri'>): void {
  if (typeof options.issuer !== 'string' || !URL.canParse(options.issuer))
    throw new TypeError(`${where}: issuer must be the IdP's issuer URL, got ${JSON.stringify(options.issuer)}`);
  try {
    requireWebUrl(options.issuer);
    if (options.jwksUri !== undefined) requireWebUrl(options.jwksUri);
  } catch (error) {
    throw new TypeError(`${where}: ${(error as Error).message}`);
  }
}
