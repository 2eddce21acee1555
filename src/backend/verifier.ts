import { ASYMMETRIC_ALGS } from '../token/algs.js';
import { checkIdToken } from '../token/id-token.js';
import { checkIssuerSettings, issuerKeys, keysVerdict, type IssuerKeysOptions } from './keys.js';
import { checkServiceClients, withSubject, type SubjectFailureReason, type SubjectOptions, type SubjectResult } from './subjects.js';

export type { IdTokenFailure } from '../token/id-token.js';
/** Why a token was refused: the token checks' reasons, and the subject's (src/backend/subjects.ts). */
export type VerifyFailureReason = import('../token/id-token.js').VerifyFailureReason | SubjectFailureReason;
/** A verifier's verdict: the claims and their subject, or why the token was refused. */
export type VerifyResult = SubjectResult;

export { ASYMMETRIC_ALGS };

export interface IdTokenVerifierOptions extends IssuerKeysOptions, SubjectOptions {
  /** Client ids whose id_tokens this backend trusts (the CLI's Native client among them). */
  allowedClientIds: readonly string[];
  clockToleranceSec?: number;
  /** An id_token issued longer ago than this is refused (seconds); default one day. */
  maxAgeSec?: number;
}

/** Verify one id_token; `ready()` fetches discovery and the keys once (a start-up check). */
export interface IdTokenVerifier {
  (token: string): Promise<SubjectResult>;
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

/**
 * The server half of the CLI-auth contract: verify an id_token a CLI obtained for its Native
 * client. Checks, in order: the `alg` (asymmetric only), the signature against the issuer's JWKS
 * (cached for `jwksMaxAgeSec`; refetched once on an unknown `kid`, at most every
 * `jwksRefreshCooldownSec`), `iss`, `exp`/`nbf`/`iat` with tolerance, `aud` ∩ allow-list, and
 * `azp` when `aud` has several entries; then the subject (src/backend/subjects.ts): a user, or
 * one of `serviceClients`, any other client's client-credentials token refused. A configuration that cannot work (an issuer that is not
 * an https URL, no client id) throws here, at start-up, rather than refusing every login.
 */
export function createIdTokenVerifier(options: IdTokenVerifierOptions): IdTokenVerifier {
  checkConfiguration(options);
  const now = options.now ?? (() => new Date());
  const tolerance = options.clockToleranceSec ?? 60;
  const maxAge = options.maxAgeSec ?? 86_400;
  const allowed = new Set(options.allowedClientIds);
  const { keys, ready } = issuerKeys(options);

  const subjects = { serviceClients: options.serviceClients ?? [], kind: 'id_token' as const };
  const verify = async (token: string): Promise<SubjectResult> =>
    withSubject(
      keysVerdict(
        await checkIdToken(token, keys, {
          issuer: options.issuer,
          clientIds: allowed,
          now: now(),
          toleranceSec: tolerance,
          maxAgeSec: maxAge,
        }),
      ),
      subjects,
    );
  return Object.assign(verify, { ready });
}

/** What makes a verifier unable to accept any token, said when it is made. */
function checkConfiguration(options: IdTokenVerifierOptions): void {
  const where = 'createIdTokenVerifier';
  checkIssuerSettings(where, options);
  if (!Array.isArray(options.allowedClientIds) || options.allowedClientIds.length === 0)
    throw new TypeError(`${where}: allowedClientIds must list the client ids whose id_tokens this backend trusts (it is empty)`);
  for (const id of options.allowedClientIds)
    if (typeof id !== 'string' || id.trim() === '') throw new TypeError(`${where}: allowedClientIds holds an empty or non-string entry`);
  checkServiceClients(where, options.serviceClients);
}
