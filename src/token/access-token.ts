import type { JWTVerifyGetKey } from 'jose';
import { namesResource } from '../io/urls.js';
import { checkHeader, checkIssuer, checkSignature, checkTimes, failure, type IdTokenFailure, type VerifyResult } from './id-token.js';

/**
 * The one access-token check (RFC 9068 §4), for a resource server that takes the IdP's access
 * tokens: the same named steps as the id_token check, with the header and the audience of an
 * access token. It depends on jose alone.
 */

export interface AccessTokenExpectations {
  /** The issuer identifier, exactly as in the token's `iss`. */
  issuer: string;
  /** This resource's identifier (RFC 8707): the token's `aud` must name it. */
  resource: string;
  now: Date;
  toleranceSec: number;
}

/** `aud` names this resource (a set, compared as URLs: a trailing "/" of an origin does not matter). */
export function checkResourceAudience(claims: { aud?: unknown }, resource: string): IdTokenFailure | undefined {
  const aud = typeof claims.aud === 'string' ? [claims.aud] : Array.isArray(claims.aud) ? (claims.aud as unknown[]) : [];
  return namesResource(aud, resource)
    ? undefined
    : failure('audience_not_allowed', `aud ${JSON.stringify(aud)} does not name this resource (${resource})`);
}

/** Every step in order: header, signature (with `exp`/`nbf`), issuer, times, audience. */
export async function checkAccessToken(token: string, keys: JWTVerifyGetKey, expect: AccessTokenExpectations): Promise<VerifyResult> {
  const header = checkHeader(token, 'access_token');
  if (header) return header;
  const signed = await checkSignature(token, keys, expect);
  if ('ok' in signed) return signed;
  const { claims } = signed;
  return (
    checkIssuer(claims, expect.issuer) ??
    checkTimes(claims, expect) ??
    checkResourceAudience(claims, expect.resource) ?? { ok: true, claims }
  );
}
