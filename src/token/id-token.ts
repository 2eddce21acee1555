import { decodeProtectedHeader, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { ASYMMETRIC_ALGS } from './algs.js';
import { joseFailure } from './jose-failures.js';

/**
 * The one id_token check (OpenID Connect Core §3.1.3.7), used by the login (after openid-client's
 * own claim checks) and by the reference backend verifier. It depends on jose alone. Each step is
 * a function named for what it checks and returns the failure it found, so a caller reads why in
 * one vocabulary; the keys come from the caller (a cached set, a remote one).
 */

export type VerifyFailureReason =
  | 'malformed'
  | 'not_an_id_token'
  | 'not_an_access_token'
  | 'too_old'
  | 'alg_not_allowed'
  | 'kid_unknown'
  | 'kid_ambiguous'
  | 'bad_signature'
  | 'issuer_mismatch'
  | 'expired'
  | 'not_yet_valid'
  | 'issued_in_future'
  | 'audience_not_allowed'
  | 'azp_missing'
  | 'azp_not_allowed'
  | 'key_too_weak'
  | 'jwks_unavailable'
  | 'discovery_failed'
  | 'discovery_issuer_mismatch';

export interface IdTokenFailure {
  ok: false;
  reason: VerifyFailureReason;
  message: string;
  cause?: unknown;
}
/** The verdict on a token: its claims, or why it was refused. */
export type VerifyResult = { ok: true; claims: JWTPayload } | IdTokenFailure;

export interface IdTokenExpectations {
  /** The issuer identifier, exactly as in the token's `iss`. */
  issuer: string;
  /** The client ids the token may be issued to (`aud`, and `azp` when present). */
  clientIds: ReadonlySet<string>;
  now: Date;
  toleranceSec: number;
  /** A token issued longer ago than this is refused (seconds); no limit when absent. */
  maxAgeSec?: number;
}

/** A refusal: its reason, its message, and what caused it (both token checks build theirs with it). */
export const failure = (reason: VerifyFailureReason, message: string, cause?: unknown): IdTokenFailure => ({
  ok: false,
  reason,
  message,
  cause,
});

/** What each kind of token's `typ` may be, and the refusal when it is something else. */
const TYP_RULES = {
  // An id_token: JWT, or no typ at all (an access or logout token is not an id_token).
  id_token: {
    accepts: (typ: unknown) => typeof typ !== 'string' || /^(jwt|application\/jwt)$/i.test(typ),
    refuse: (typ: unknown) => failure('not_an_id_token', `typ ${String(typ)} is not an id_token`),
  },
  // An access token (RFC 9068 §2.1): at+jwt, or JWT as many IdPs write it; never absent.
  access_token: {
    accepts: (typ: unknown) => typeof typ === 'string' && /^(application\/)?(at\+jwt|jwt)$/i.test(typ),
    refuse: (typ: unknown) => failure('not_an_access_token', `typ ${String(typ)} is not an access token's (at+jwt or JWT)`),
  },
} as const;

/** The JOSE header: a JWT of the kind expected, signed asymmetrically. */
export function checkHeader(token: string, kind: keyof typeof TYP_RULES = 'id_token'): IdTokenFailure | undefined {
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(token);
  } catch {
    return failure('malformed', 'not a compact JWS');
  }
  const rule = TYP_RULES[kind];
  if (!rule.accepts(header.typ)) return rule.refuse(header.typ);
  const alg: unknown = header.alg;
  if (typeof alg !== 'string' || !ASYMMETRIC_ALGS.includes(alg)) return failure('alg_not_allowed', `alg ${String(alg)} is not allowed`);
  return undefined;
}

/** The signature against the issuer's keys, and `exp`/`nbf` (jose checks them with the signature). */
export async function checkSignature(
  token: string,
  keys: JWTVerifyGetKey,
  expect: Pick<IdTokenExpectations, 'now' | 'toleranceSec'>,
): Promise<{ claims: JWTPayload } | IdTokenFailure> {
  try {
    const { payload } = await jwtVerify(token, keys, {
      algorithms: [...ASYMMETRIC_ALGS],
      currentDate: expect.now,
      clockTolerance: expect.toleranceSec,
    });
    return { claims: payload };
  } catch (error) {
    const message = (error as Error).message;
    switch (joseFailure(error)) {
      case 'kid_unknown':
        return failure('kid_unknown', 'no key in the issuer JWKS matches the token kid', error);
      case 'kid_ambiguous':
        return failure('kid_ambiguous', 'the token has no kid and the issuer publishes several keys', error);
      case 'bad_signature':
        return failure('bad_signature', 'signature verification failed', error);
      case 'alg_not_allowed':
        return failure('alg_not_allowed', message, error);
      case 'expired':
        return failure('expired', 'the token has expired', error);
      case 'not_yet_valid':
        return failure('not_yet_valid', 'the token is not valid yet', error);
      case 'key_too_weak':
        return failure('key_too_weak', `the issuer's key is too weak to trust: ${message}`, error);
      case undefined:
        return failure('jwks_unavailable', `could not load the issuer's keys: ${message}`, error);
      default:
        return failure('malformed', message, error);
    }
  }
}

/** `iss` is the expected issuer, exactly. */
export function checkIssuer(claims: JWTPayload, issuer: string): IdTokenFailure | undefined {
  return claims.iss === issuer ? undefined : failure('issuer_mismatch', `iss ${String(claims.iss)} is not ${issuer}`);
}

/** `exp` and `iat` are there, `iat` is not in the future, and not older than the maximum age. */
export function checkTimes(claims: JWTPayload, expect: Omit<IdTokenExpectations, 'issuer' | 'clientIds'>): IdTokenFailure | undefined {
  const nowSec = Math.floor(expect.now.getTime() / 1000);
  if (typeof claims.exp !== 'number') return failure('malformed', 'the token has no exp');
  if (typeof claims.iat !== 'number') return failure('malformed', 'the token has no iat');
  if (claims.iat > nowSec + expect.toleranceSec)
    return failure('issued_in_future', `iat is in the future (${new Date(claims.iat * 1000).toISOString()})`);
  if (expect.maxAgeSec !== undefined && claims.iat < nowSec - expect.maxAgeSec - expect.toleranceSec)
    return failure('too_old', `issued ${Math.round((nowSec - claims.iat) / 3600)} h ago, more than ${expect.maxAgeSec / 3600} h`);
  return undefined;
}

/** `aud` names a client id of ours; with several audiences, `azp` must name one too. */
export function checkAudience(claims: JWTPayload, clientIds: ReadonlySet<string>): IdTokenFailure | undefined {
  const aud = typeof claims.aud === 'string' ? [claims.aud] : Array.isArray(claims.aud) ? claims.aud : [];
  if (!aud.some((a) => clientIds.has(a)))
    return failure('audience_not_allowed', `aud ${JSON.stringify(aud)} contains no trusted client id`);
  if (aud.length > 1 && typeof claims.azp !== 'string') return failure('azp_missing', 'aud has several entries and there is no azp');
  if (claims.azp !== undefined && (typeof claims.azp !== 'string' || !clientIds.has(claims.azp)))
    return failure('azp_not_allowed', `azp ${JSON.stringify(claims.azp)} is not a trusted client id`);
  return undefined;
}

/** Every step in order: header, signature (with `exp`/`nbf`), issuer, times, audience. */
export async function checkIdToken(token: string, keys: JWTVerifyGetKey, expect: IdTokenExpectations): Promise<VerifyResult> {
  const header = checkHeader(token);
  if (header) return header;
  const signed = await checkSignature(token, keys, expect);
  if ('ok' in signed) return signed;
  const { claims } = signed;
  return (
    checkIssuer(claims, expect.issuer) ?? checkTimes(claims, expect) ?? checkAudience(claims, expect.clientIds) ?? { ok: true, claims }
  );
}
