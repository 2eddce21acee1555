import { FailureError, UsageError } from '../errors.js';
import type { Http } from '../http.js';
import { isLoopbackHost } from '../loopback/hosts.js';
import { ASYMMETRIC_ALGS as ASYMMETRIC } from './algs.js';
import type { DecodedJwt } from './decode.js';
import type { Diagnostic, SignatureResult } from './inspect.js';

export interface VerifyOptions {
  /** Where the keys are (--jwks-uri); else discovered from `issuer`. */
  jwksUri?: string;
  /** Whose keys (--issuer, else the token's own `iss`). */
  issuer?: string;
}


/**
 * `token inspect --verify`: check the signature against the issuer's published keys (its JWKS,
 * found by discovery). The only network use of `token inspect`; the token itself is never sent
 * anywhere, and its own `jku`/`x5u`/`jwk` headers are never followed or trusted.
 */
export async function verifySignature(decoded: DecodedJwt, options: VerifyOptions, http: Http): Promise<{ signature: SignatureResult; diagnostics: Diagnostic[] }> {
  const alg = typeof decoded.header.alg === 'string' ? decoded.header.alg : 'none';
  if (decoded.format === 'jwe' || !ASYMMETRIC.includes(alg)) return { signature: { checked: false }, diagnostics: [] };

  const jwksUri = options.jwksUri ?? (await discoverJwksUri(options.issuer ?? (typeof decoded.claims?.iss === 'string' ? decoded.claims.iss : undefined), http));
  checkFetchable(jwksUri, '--jwks-uri');
  const keys = await fetchJson(jwksUri, http, 'the JWKS');
  const list = Array.isArray((keys as { keys?: unknown }).keys) ? ((keys as { keys: Array<Record<string, unknown>> }).keys) : undefined;
  if (!list) throw new FailureError(`${jwksUri} is not a JWKS (no "keys" array)`);
  const signing = list.filter((k) => k.use === undefined || k.use === 'sig');

  const diagnostics: Diagnostic[] = [];
  const kid = typeof decoded.header.kid === 'string' ? decoded.header.kid : undefined;
  const stale = (): { signature: SignatureResult; diagnostics: Diagnostic[] } => {
    diagnostics.push({
      level: 'error',
      code: 'kid_unknown',
      message: `the token is signed by a key (kid ${JSON.stringify(kid ?? null)}) that the issuer does not publish: it was signed by a key since rotated out (a stale token: log in again), or it is not the issuer's`,
    });
    return { signature: { checked: true, valid: false, jwksUri }, diagnostics };
  };
  if (kid !== undefined && !signing.some((k) => k.kid === kid)) return stale();
  if (kid === undefined && signing.length > 1) {
    diagnostics.push({ level: 'warning', code: 'kid_missing', message: `the token has no "kid" while the issuer publishes ${signing.length} keys: verifiers must try each one, and some refuse` });
  }

  const { createLocalJWKSet, compactVerify, errors } = await import('jose');
  const set = createLocalJWKSet({ keys: list as never });
  const options_ = { algorithms: [...ASYMMETRIC] };
  let valid = false;
  try {
    await compactVerify(decoded.compact, set, options_);
    valid = true;
  } catch (error) {
    if (error instanceof errors.JWKSMultipleMatchingKeys) {
      for await (const key of error as unknown as AsyncIterable<never>) {
        try {
          await compactVerify(decoded.compact, key, options_);
          valid = true;
          break;
        } catch {
          // try the next one
        }
      }
    } else if (error instanceof errors.JWKSNoMatchingKey) {
      return stale();
    } else if (!(error instanceof errors.JOSEError)) {
      throw error;
    }
  }
  if (!valid) {
    diagnostics.push({ level: 'error', code: 'bad_signature', message: "the signature does not verify with the issuer's key: the token was altered, or signed by someone else" });
  }
  return { signature: { checked: true, valid, jwksUri }, diagnostics };
}

async function discoverJwksUri(issuer: string | undefined, http: Http): Promise<string> {
  if (!issuer) throw new UsageError('--verify needs an issuer: the token has no "iss"; give --issuer <url> or --jwks-uri <url>');
  checkFetchable(issuer, 'the issuer');
  const document = (await fetchJson(`${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`, http, "the issuer's discovery document")) as Record<string, unknown>;
  if (document.issuer !== issuer) {
    throw new FailureError(`the discovery document at ${issuer} names issuer ${JSON.stringify(document.issuer)}, not ${JSON.stringify(issuer)}: its keys say nothing about this token`);
  }
  if (typeof document.jwks_uri !== 'string') throw new FailureError(`the discovery document of ${issuer} has no jwks_uri`);
  return document.jwks_uri;
}

function checkFetchable(url: string, what: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`${what} ${JSON.stringify(url.slice(0, 200))} is not a URL`);
  }
  if (parsed.protocol !== 'https:' && !(parsed.protocol === 'http:' && isLoopbackHost(parsed.hostname))) {
    throw new UsageError(`${what} ${parsed.origin} is not https: keys are only fetched over https (or http on a loopback host)`);
  }
}

async function fetchJson(url: string, http: Http, what: string): Promise<unknown> {
  const response = await http.fetch(url, { headers: { accept: 'application/json' }, redirect: 'follow' });
  if (!response.ok) throw new FailureError(`${what} at ${url} answered ${response.status}`);
  try {
    return await response.json();
  } catch {
    throw new FailureError(`${what} at ${url} is not JSON`);
  }
}
