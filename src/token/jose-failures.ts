import { errors } from 'jose';

/** Why jose refused a signature or a JWT, in one vocabulary for every verifier of ours. */
export type JoseFailure =
  | 'kid_unknown'
  | 'kid_ambiguous'
  | 'bad_signature'
  | 'alg_not_allowed'
  | 'expired'
  | 'not_yet_valid'
  | 'claim_invalid'
  | 'key_too_weak'
  | 'malformed';

/**
 * The one reading of jose's errors: the login's id_token check, `token inspect --verify` and the
 * reference backend verifier each name the same failure the same way. Undefined for an error
 * that is not jose's (a network failure while fetching keys, say).
 */
export function joseFailure(error: unknown): JoseFailure | undefined {
  if (error instanceof errors.JWKSNoMatchingKey) return 'kid_unknown';
  if (error instanceof errors.JWKSMultipleMatchingKeys) return 'kid_ambiguous';
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'bad_signature';
  if (error instanceof errors.JOSEAlgNotAllowed) return 'alg_not_allowed';
  if (error instanceof errors.JWTExpired) return 'expired';
  if (error instanceof errors.JWTClaimValidationFailed) return error.claim === 'nbf' ? 'not_yet_valid' : 'claim_invalid';
  if (error instanceof errors.JOSEError) return 'malformed';
  // jose refuses RSA keys under 2048 bits with a TypeError: the issuer's key is the problem.
  if (error instanceof TypeError && /modulusLength|bits or larger/.test(error.message)) return 'key_too_weak';
  return undefined;
}
