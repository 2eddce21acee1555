import { FailureError, latchkeyErrorIn, type LatchkeyError, UsageError } from '../errors.js';
import type { Http } from '../http.js';
import { safeText } from '../io/text.js';
import { checkFetchable, discoveryNames, fetchDiscovery, fetchJson } from '../discovery.js';
import { ASYMMETRIC_ALGS as ASYMMETRIC } from './algs.js';
import type { DecodedJwt } from './decode.js';
import type { Diagnostic, SignatureResult } from './inspect.js';

export interface VerifyOptions {
  /** Where the keys are (--jwks-uri); else discovered from `issuer`. */
  jwksUri?: string;
  /** Whose keys (--issuer, else the token's own `iss`). */
  issuer?: string;
  /** Told each URL before it is fetched (the CLI says which host it contacts). */
  announce?: (url: string) => void;
}

/** What `token inspect --verify` found; `failure` is set when the check could not run (network, a bad answer). */
export interface Verification {
  signature: SignatureResult;
  diagnostics: Diagnostic[];
  failure?: LatchkeyError;
}

/**
 * `token inspect --verify` as a whole: which keys may be trusted, then the check. The keys are
 * those of the issuer the user trusts (`--issuer`, else the profile's), never of one a token
 * names for itself: a forged token from an attacker's issuer would verify against the attacker's
 * keys. When the check cannot run, the decode and diagnostics still stand: the outcome says why.
 */
export async function verifyForInspection(
  decoded: DecodedJwt,
  options: {
    trustedIssuer?: string | undefined;
    jwksUri?: string | undefined;
    backendCredential: boolean;
    announce?: (message: string) => void;
  },
  http: () => Promise<Http>,
): Promise<Verification> {
  const skip = (reason: string): Verification => ({ signature: { checked: false, reason }, diagnostics: [] });
  if (options.backendCredential) return skip("not verifiable: this is the backend's own session or API key, not a token of the IdP");
  if (decoded.format === 'jwe') return skip('not verifiable: the token is encrypted (JWE), for its recipient only');
  const alg = typeof decoded.header.alg === 'string' ? decoded.header.alg : 'none';
  if (alg.toLowerCase() === 'none') return skip('refused: alg none (the token is not signed)');
  if (!ASYMMETRIC.includes(alg))
    return skip(
      `not verifiable: ${alg} is ` +
        (/^HS/.test(alg)
          ? 'a shared-secret signature: only holders of the secret can check it'
          : 'not an algorithm issuers publish keys for'),
    );
  const tokenIssuer = typeof decoded.claims?.iss === 'string' ? decoded.claims.iss : undefined;
  if (!options.trustedIssuer && !options.jwksUri) {
    return skip(
      `not verified: no issuer to trust. The token names ${tokenIssuer ? JSON.stringify(tokenIssuer) : 'no issuer'},` +
        ` which proves nothing by itself; give --issuer <url> (or use a profile)`,
    );
  }
  if (options.trustedIssuer && tokenIssuer !== undefined && tokenIssuer !== options.trustedIssuer) {
    options.announce?.(
      `Checking the signature with the keys of ${options.trustedIssuer}; the token names another issuer (${safeText(tokenIssuer)}).`,
    );
  }
  try {
    return await verifySignature(
      decoded,
      {
        ...(options.jwksUri ? { jwksUri: options.jwksUri } : {}),
        ...(options.trustedIssuer ? { issuer: options.trustedIssuer } : {}),
        announce: (url) => options.announce?.(`Fetching ${url} to check the signature…`),
      },
      await http(),
    );
  } catch (error) {
    const failure = latchkeyErrorIn(error) ?? new FailureError(`the signature check failed: ${(error as Error).message}`, { cause: error });
    return { signature: { checked: false, reason: `could not be checked: ${failure.message}` }, diagnostics: [], failure };
  }
}

/**
 * `token inspect --verify`: check the signature against the issuer's published keys (its JWKS,
 * found by discovery). The only network use of `token inspect`; the token itself is never sent
 * anywhere, and its own `jku`/`x5u`/`jwk` headers are never followed or trusted.
 */
export async function verifySignature(
  decoded: DecodedJwt,
  options: VerifyOptions,
  http: Http,
): Promise<{ signature: SignatureResult; diagnostics: Diagnostic[] }> {
  const alg = typeof decoded.header.alg === 'string' ? decoded.header.alg : 'none';
  if (decoded.format === 'jwe' || !ASYMMETRIC.includes(alg)) return { signature: { checked: false }, diagnostics: [] };

  const announce = options.announce ?? (() => undefined);
  const jwksUri =
    options.jwksUri ??
    (await discoverJwksUri(options.issuer ?? (typeof decoded.claims?.iss === 'string' ? decoded.claims.iss : undefined), http, announce));
  checkFetchable(jwksUri, options.jwksUri ? '--jwks-uri' : "the discovery document's jwks_uri");
  const keys = await fetchJson(jwksUri, http, 'the JWKS', announce);
  const list = Array.isArray((keys as { keys?: unknown }).keys) ? (keys as { keys: Array<Record<string, unknown>> }).keys : undefined;
  if (!list) throw new FailureError(`${jwksUri} is not a JWKS (no "keys" array)`);
  const signing = list.filter((k) => k.use === undefined || k.use === 'sig');

  const diagnostics: Diagnostic[] = [];
  const kid = typeof decoded.header.kid === 'string' ? decoded.header.kid : undefined;
  const stale = (): { signature: SignatureResult; diagnostics: Diagnostic[] } => {
    diagnostics.push({
      level: 'error',
      code: 'kid_unknown',
      message:
        `the token is signed by a key (kid ${JSON.stringify(kid ?? null)}) that the issuer does not publish:` +
        ` it was signed by a key since rotated out (a stale token: log in again), or it is not the issuer's`,
    });
    return { signature: { checked: true, valid: false, jwksUri }, diagnostics };
  };
  if (kid !== undefined && !signing.some((k) => k.kid === kid)) return stale();
  if (kid === undefined && signing.length > 1) {
    diagnostics.push({
      level: 'warning',
      code: 'kid_missing',
      message: `the token has no "kid" while the issuer publishes ${signing.length} keys: verifiers must try each one, and some refuse`,
    });
  }

  const [{ createLocalJWKSet, compactVerify }, { joseFailure }] = await Promise.all([import('jose'), import('./jose-failures.js')]);
  const set = createLocalJWKSet({ keys: list });
  const options_ = { algorithms: [...ASYMMETRIC] };
  let valid = false;
  try {
    await compactVerify(decoded.compact, set, options_);
    valid = true;
  } catch (error) {
    const failure = joseFailure(error);
    if (failure === 'kid_ambiguous') {
      for await (const key of error as AsyncIterable<never>) {
        try {
          await compactVerify(decoded.compact, key, options_);
          valid = true;
          break;
        } catch {
          // try the next one
        }
      }
    } else if (failure === 'kid_unknown') {
      return stale();
    } else if (failure === 'key_too_weak') {
      throw new FailureError("the issuer's key is too weak to trust (RSA under 2048 bits)", { cause: error });
    } else if (failure === undefined) {
      throw error;
    }
  }
  if (!valid) {
    diagnostics.push({
      level: 'error',
      code: 'bad_signature',
      message: "the signature does not verify with the issuer's key: the token was altered, or signed by someone else",
    });
  }
  return { signature: { checked: true, valid, jwksUri }, diagnostics };
}

async function discoverJwksUri(issuer: string | undefined, http: Http, announce: (url: string) => void): Promise<string> {
  if (!issuer) throw new UsageError('--verify needs an issuer: the token has no "iss"; give --issuer <url> or --jwks-uri <url>');
  const { document, url, response } = await fetchDiscovery(issuer, http, announce);
  if (!response.ok) throw new FailureError(`the issuer's discovery document at ${url} answered ${response.status}`);
  if (!document) throw new FailureError(`the issuer's discovery document at ${url} is not JSON`);
  if (!discoveryNames(document, issuer)) {
    throw new FailureError(
      `the discovery document at ${issuer} names issuer ${JSON.stringify(document.issuer)},` +
        ` not ${JSON.stringify(issuer)}: its keys say nothing about this token`,
    );
  }
  if (typeof document.jwks_uri !== 'string') throw new FailureError(`the discovery document of ${issuer} has no jwks_uri`);
  return document.jwks_uri;
}
