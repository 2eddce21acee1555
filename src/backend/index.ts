/// <reference types="node" preserve="true" />
/**
 * `latchkey/backend`: the server half of the CLI-auth contract, for backend teams and for
 * latchkey's own tests.
 */
export { createIdTokenVerifier, ASYMMETRIC_ALGS, UNAVAILABLE_REASONS } from './verifier.js';
export type { IdTokenFailure, IdTokenVerifier, IdTokenVerifierOptions, VerifyFailureReason, VerifyResult } from './verifier.js';
export { createCliAuthHandler } from './handler.js';
export type { CliAuthHandler, CliAuthHandlerOptions, ExchangeContext, ExchangeResult, MintedSession, RefusalReason } from './handler.js';
export { createAccessTokenVerifier, createBearerAuth, createResourceMetadataHandler } from './resource.js';
export type {
  AccessTokenVerifier,
  AccessTokenVerifierOptions,
  BearerAuth,
  BearerAuthOptions,
  BearerRefusal,
  BearerRefusalReason,
  ResourceMetadataHandler,
  ResourceMetadataOptions,
} from './resource.js';
export type { IssuerKeysOptions } from './keys.js';
