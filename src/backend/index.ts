/// <reference types="node" preserve="true" />
/**
 * `latchkey/backend`: the server half of the CLI-auth contract, for backend teams and for
 * latchkey's own tests.
 */
export { createIdTokenVerifier, ASYMMETRIC_ALGS, UNAVAILABLE_REASONS } from './verifier.js';
export type { IdTokenFailure, IdTokenVerifier, IdTokenVerifierOptions, VerifyFailureReason, VerifyResult } from './verifier.js';
export { createCliAuthHandler } from './handler.js';
export { createWorkloadVerifier, githubActionsPolicy, GITHUB_ACTIONS_ISSUER } from './workload.js';
export type {
  GithubActionsPolicyOptions,
  WorkloadDecision,
  WorkloadPolicy,
  WorkloadVerifier,
  WorkloadVerifierOptions,
} from './workload.js';
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
export { clientCredentialsEvidence, hasScopes, requireScope, subjectKey, subjectOf } from './subjects.js';
export type {
  ScopeRefusal,
  ServiceClient,
  ServiceSubject,
  Subject,
  SubjectFailureReason,
  SubjectOptions,
  SubjectResult,
  UserSubject,
} from './subjects.js';
export { createSessionApiHandler, createSessions, machineName, SESSION_ENDED, sessionRefusal, tokenHash } from './sessions.js';
export type {
  RecordSessionInput,
  SessionApiHandler,
  SessionApiOptions,
  SessionApiResult,
  SessionCheck,
  Sessions,
  SessionsOptions,
  SessionView,
} from './sessions.js';
export { createMemorySessionStore, SessionStoreUnavailable } from './store.js';
export type { EndMark, EndReason, MemorySessionStoreOptions, SessionRecord, SessionStore, StoredSubject } from './store.js';
export { createRedisSessionStore } from './redis-store.js';
export type { RedisSessionStoreOptions } from './redis-store.js';
export { BACKCHANNEL_LOGOUT_EVENT, createBackChannelLogoutHandler } from './logout.js';
export type { BackChannelLogoutHandler, BackChannelLogoutOptions, LogoutRefusalReason, LogoutResult } from './logout.js';
