/** The asymmetric JWS algorithms latchkey accepts for signatures. `none` and HS* never are. */
export const ASYMMETRIC_ALGS: readonly string[] = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
];
