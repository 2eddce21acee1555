/// <reference types="node" preserve="true" />
/**
 * latchkey as a library: the browser, device and client-credentials logins, the backend
 * exchange, tokens with refresh, logout, token inspection, the profile and secret stores, and
 * `createCli` to put all of it in a product CLI under its own name.
 *
 * Everything the CLI does is here; the server half of the contract is `latchkey/backend`.
 * Heavy dependencies (openid-client, undici, the keychain binding, conf) load only when a
 * function that needs them runs.
 *
 * @packageDocumentation
 */
import { brandOf } from './cli/create-cli.js';
import { createDeps } from './deps.js';
import { createServices } from './services.js';
import { FileSecretStore } from './store/file-secrets.js';
import { KeychainSecretStore } from './store/keychain-secrets.js';
import type { StorageSetting } from './store/profile-keys.js';
import { ProfileStore } from './store/profiles.js';
import type { SecretStore } from './store/secrets.js';
import { decodeJwt } from './token/decode.js';
import { inspect, type InspectOptions, type Inspection } from './token/inspect.js';

// The CLI, branded.
export { createCli, brandOf, type CliOptions, type CommandContext, type LatchkeyCli } from './cli/create-cli.js';
export type { GlobalOptions } from './cli/context.js';
export { createServices, type Services, type ServicesOptions } from './services.js';
export { liveness, renewalMarginSeconds, use, type Lazy } from './model.js';
export type { Brand } from './cli/brand.js';
export type { Deps } from './deps.js';
export type { BrowserOpener } from './io/browser.js';
export { detectEnvironment, browserUnreachable, type RunEnvironment } from './io/environment.js';

// Logins and tokens.
export { loginWithBrowser, type BrowserLoginInput, type BrowserLoginDeps } from './flows/browser.js';
export { loginWithDevice, type DeviceLoginInput, type DeviceLoginDeps } from './flows/device.js';
export { loginWithClientCredentials, loadPrivateKey, type ServiceAuth, type ClientCredentialsDeps } from './flows/client-credentials.js';
export { loginWithToken, type WithTokenInput, type WithTokenDeps, type LoginResult } from './flows/with-token.js';
export { exchangeIdToken, CREDENTIAL_KEYS, type ExchangeInput, type ExchangedCredential } from './exchange/cli-auth.js';
export { getToken, envOverride, type GetTokenInput, type GetTokenDeps, type TokenSource } from './flows/get-token.js';
export { refreshCredential, type RefreshInput, type RefreshDeps } from './flows/refresh.js';
export { endIdpSession, logOutProfile, logout, type ProfileLogoutReport } from './flows/logout.js';
export { discoverProfile, type ZeroConfigInput, type ZeroConfigResult } from './flows/zero-config.js';
export { discoverResource, resourceMetadataOf, type DiscoveredResource } from './flows/resource-discovery.js';
export { registerClient, deregisterClient, type RegisterInput } from './flows/register.js';
export { apiRequest, apiUrl, type ApiRequestInput, type ApiResponse } from './cli/api.js';
export { getExecCredential, execInfo, type ExecCredential, type ExecInfo } from './flows/exec-credential.js';
export { gitCredentialAnswer, parseCredentialRequest, type GitCredentialDeps, type RejectedTokens } from './cli/git-credential.js';

// Inspection.
export { decodeJwt, normalizeTokenInput, NotAJwtError, type DecodedJwt, type JsonObject } from './token/decode.js';
export {
  chooseAudience,
  classify,
  hasErrors,
  type Diagnostic,
  type DiagnosticCode,
  type Inspection,
  type InspectOptions,
  type TokenKind,
  type DiagnosticLevel,
  type SignatureResult,
} from './token/inspect.js';
export { verifySignature, type VerifyOptions } from './token/verify.js';
export { renderInspection, type RenderOptions } from './token/render.js';

// Storage.
export { ProfileStore, type ConfigFile, type LoginState, type ProfileStoreOptions, type StorageKind } from './store/profiles.js';
export { PROFILE_KEYS, parseProfileValue, type KeySpec, type Profile, type StorageSetting } from './store/profile-keys.js';
export { Credentials, type ClientRegistration, type CredentialsOptions } from './store/credentials.js';
export { KeychainSecretStore, type KeychainSecretStoreOptions } from './store/keychain-secrets.js';
export { FileSecretStore, type FileSecretStoreOptions } from './store/file-secrets.js';
export type { SecretStore, CredentialRecord } from './store/secrets.js';

// Side effects flows receive, and errors.
export { createHttp, type Fetch, type Http, type HttpOptions } from './http.js';
export { fixedClock, systemClock, type Clock } from './io/clock.js';
export { createOutput, type Output, type OutputOptions, type Progress, type Streams, type TextSink } from './io/output.js';
export * from './errors.js';

/**
 * Decode and diagnose a JWT (no network): kind, audience by priority, and the diagnostics.
 * Throws `NotAJwtError` (exit 2) for input that is not a JWT.
 */
export function inspectToken(token: string, options: Partial<InspectOptions> = {}): Inspection {
  return inspect(decodeJwt(token), { now: new Date(), ...options });
}

/** A profile store over `<dir>/config.json`. */
export function createProfileStore(options: { dir: string; name?: string }): ProfileStore {
  return new ProfileStore({ dir: options.dir, ...(options.name ? { name: options.name } : {}) });
}

/** The OS keychain (service = your CLI's name) or the 0600 credentials file in `dir`. */
export function createSecretStore(
  options: { kind: 'keychain'; service: string; timeoutMs?: number } | { kind: 'file'; service: string; dir: string },
): SecretStore {
  return options.kind === 'keychain'
    ? new KeychainSecretStore({ service: options.service, ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}) })
    : new FileSecretStore({ dir: options.dir, service: options.service });
}

/** Everything the login functions take, built with real side effects. */
export type LoginDeps = import('./flows/browser.js').BrowserLoginDeps;

/**
 * The real dependencies for `loginWithBrowser`, `loginWithDevice`, `loginWithClientCredentials`,
 * `getToken` and `logout`, for a CLI whose config lives in `configDir`.
 */
export async function createLoginDeps(options: {
  configDir: string;
  /** Your CLI's name: the keychain service, env prefix and message prefix. Default `latchkey`. */
  name?: string;
  storage?: StorageSetting;
  debug?: boolean;
  signal?: AbortSignal;
}): Promise<LoginDeps> {
  const deps = createDeps();
  const services = createServices({
    brand: brandOf({ name: options.name ?? 'latchkey' }),
    deps,
    configDir: options.configDir,
    debug: options.debug,
    storage: options.storage,
    signal: options.signal,
  });
  return {
    http: await services.http(),
    credentials: await services.credentials(),
    clock: deps.clock,
    out: services.out,
    openBrowser: deps.openBrowser,
    signal: services.signal,
  };
}
