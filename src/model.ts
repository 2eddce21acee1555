/**
 * The domain: what a profile is, what is stored for it and what `status` knows of it, the result
 * of a login, and the rules over them. No I/O and no imports: storage, flows and the CLI all
 * build on these types.
 */

/** Whether a login of this profile trades the id_token at the backend (DESIGN's exchange) for its credential. */
export function exchangesAtBackend(profile: Pick<Profile, 'backendUrl' | 'exchange'>): boolean {
  return profile.backendUrl !== undefined && profile.exchange !== 'none';
}

/** A profile: where to log in, and what to do with the result. No secret is ever kept here. */
export interface Profile {
  issuer: string;
  clientId: string;
  scopes?: string;
  audience?: string;
  redirectUri?: string;
  redirectPorts?: number[];
  backendUrl?: string;
  /**
   * What the login does with the IdP's answer when there is a `backendUrl`: `id-token` trades the
   * id_token for the backend's own session (the CLI-auth exchange); `none` keeps the IdP's access
   * token for the backend's `resource` as the credential (an OAuth protected resource, RFC 9728).
   */
  exchange?: 'id-token' | 'none';
  exchangePath?: string;
  exchangeEncoding?: 'form' | 'json';
  whoamiPath?: string;
  /** The backend's session API (`sessions`); default: the `sessions_endpoint` it advertises. */
  sessionsPath?: string;
  tokenEnv?: string;
  audiencePriority?: string[];
  storage?: StorageSetting;
  prompt?: string;
  assertionAudience?: 'issuer' | 'token-endpoint';
  /** Extra CA certificates (PEM file) to trust for this profile's IdP and backend. */
  caFile?: string;
  /** Force the token endpoint's client authentication; default: from discovery. */
  tokenEndpointAuthMethod?: TokenEndpointAuthMethod;
  /** Extra authorization parameters, `key=value` each (values percent-decoded when sent). */
  authParams?: string[];
  /** RFC 8707 resource indicator, sent in authorization and token requests. */
  resource?: string;
  /** The IdP whose documented quirks were applied as defaults (see src/store/presets.ts). */
  preset?: PresetName;
  /** The audience asked of a CI platform's OIDC token (`login --workload`); default the origin of `backendUrl`. */
  workloadAudience?: string;
  /** The variable holding a platform's token where the job puts it (GitLab's `id_tokens:`). */
  workloadTokenEnv?: string;
}

export type TokenEndpointAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt' | 'none';
/** A preset (src/store/presets.ts), or `none`: no quirks applied, none detected. */
export type PresetName = 'auth0' | 'okta' | 'entra' | 'google' | 'keycloak' | 'none';

export type StorageSetting = 'auto' | 'keychain' | 'file';

/** Where a credential was stored, as `status` reports it. */
export type StorageKind = 'keychain' | 'file';

/**
 * The non-secret facts of a login, kept in the config so `status` does not unlock the keychain.
 * The credential itself lives in the secret store.
 */
export interface LoginState {
  kind: 'session' | 'api_key' | 'oauth' | 'service';
  subject?: string;
  email?: string;
  /** False when subject/email come from an unverified token (`login --with-token`): shown as such. */
  identityVerified?: boolean;
  expiresAt?: string;
  storage: StorageKind;
  /** How it was obtained: browser, device, with-token, token-arg, client-credentials. */
  via: string;
  obtainedAt: string;
  /** True when `token` can renew it (refresh token, client credentials, or a workload's platform token). */
  renewable: boolean;
}

/** What is stored for a profile (README, "Where credentials are kept"). Secret as a whole. */
export interface CredentialRecord {
  kind: 'session' | 'api_key' | 'oauth' | 'service';
  /** The credential `latchkey token` prints: a backend session/API key, or the IdP access token. */
  token: string;
  expiresAt?: string;
  refreshToken?: string;
  idToken?: string;
  subject?: string;
  email?: string;
  /** False when subject/email were read from a token nobody verified (`login --with-token`). */
  identityVerified?: boolean;
  obtainedAt: string;
  /** How it was obtained: browser, device, with-token, token-arg, client-credentials. */
  via: string;
  /** The scopes the IdP granted (its token answer's `scope`), when it said: what `api`'s step-up starts from. */
  scope?: string;
  /** client-credentials: how to mint a new one (`secret` or a private key path). */
  clientSecret?: string;
  privateKeyPath?: string;
  keyId?: string;
  /**
   * `login --workload`: where a new platform token comes from (`github`, `gitlab`, `kubernetes`,
   * `file:PATH`, `env:NAME`), never the token: `token` fetches a fresh one and exchanges it again.
   */
  workloadSource?: string;
}

/** What makes the CLI "latchkey" or an embedding product's own (`acmectl`). */
export interface Brand {
  /** Program name in help, messages and completions. */
  name: string;
  /** Prefix of the environment variables: `LATCHKEY` → LATCHKEY_TOKEN, LATCHKEY_PROFILE… */
  envPrefix: string;
  /** Keychain service name. */
  keychainService: string;
  /** Directory name under the platform config dir. */
  configDirName: string;
  version: string;
  /** Profiles that exist without `profile add` (a product's `prod`/`stage`). */
  builtinProfiles?: Record<string, Profile>;
  /** Values every profile added with `profile add` starts from (a product's issuer, client id…). */
  defaults?: Partial<Profile>;
  /** One line under the usage in `--help`. */
  description?: string;
  /** The example lines of `--help` (each a command line, without "$ "); default: latchkey's. */
  examples?: string[];
  /** Commands left out of help and completion (they still run): e.g. `oauth`. */
  hiddenCommands?: string[];
  /**
   * The way out when the backend refuses a login, in the product's words (where to create an API
   * key); `<profile>` is replaced by the profile's name.
   */
  refusalHint?: string;
}

/** What a login reports (`login --json`). */
export interface LoginResult {
  profile: string;
  subject: string | null;
  email: string | null;
  /** False when subject/email were only read from the token given (`--with-token`), not verified. */
  identityVerified: boolean;
  expiresAt: string | null;
  storage: LoginState['storage'];
  /**
   * The issuer exactly as the IdP's discovery writes it, when the profile's differed only in form
   * (a trailing "/"): tokens carry the IdP's form and verifiers compare it exactly, so the login
   * that noticed stores it in the profile.
   */
  issuerForm?: string;
}

/**
 * When a credential is due for renewal: a service token is re-minted at will, so it is used until
 * 30 s before its end; a user's is renewed a minute early (it may be in flight a while).
 */
export function renewalMarginSeconds(kind: CredentialRecord['kind']): number {
  return kind === 'service' ? 30 : 60;
}

/**
 * The one rule for "is this login usable", for `token`, `status` and the library: `live` while
 * it has more than its margin left, `renew` when it is due and can be renewed (refresh token,
 * client credentials), `expired` when it is due and cannot.
 */
export function liveness(
  state: Pick<LoginState, 'kind' | 'expiresAt' | 'renewable'>,
  now: Date,
  marginSeconds = renewalMarginSeconds(state.kind),
): 'live' | 'renew' | 'expired' {
  const due = state.expiresAt !== undefined && Date.parse(state.expiresAt) - marginSeconds * 1000 <= now.getTime();
  if (!due) return 'live';
  return state.renewable ? 'renew' : 'expired';
}

/** The non-secret facts of a record that the config keeps (what `status` shows). */
export function loginStateOf(record: CredentialRecord, storage: StorageKind): LoginState {
  const state: LoginState = {
    kind: record.kind,
    storage,
    via: record.via,
    obtainedAt: record.obtainedAt,
    renewable: record.refreshToken !== undefined || record.kind === 'service' || record.workloadSource !== undefined,
  };
  if (record.subject !== undefined) state.subject = record.subject;
  if (record.email !== undefined) state.email = record.email;
  if (record.identityVerified === false) state.identityVerified = false;
  if (record.expiresAt !== undefined) state.expiresAt = record.expiresAt;
  return state;
}

/**
 * A dependency given as it is, or as a function that builds it when first needed (the HTTP
 * client of a `token` that may not need the network). Every flow takes both.
 */
export type Lazy<T extends object> = T | (() => Promise<T>);

/** The value of a `Lazy` dependency. */
export function use<T extends object>(value: Lazy<T>): Promise<T> {
  return typeof value === 'function' ? value() : Promise.resolve(value);
}

/**
 * Why a credential cannot be sent as an HTTP header value (RFC 9110 §5.5: no CR, LF, NUL or other
 * control character; nothing beyond Latin-1 in a Fetch header), in words that name the problem
 * but never the credential; undefined when it can. Checked before a credential is stored from a
 * backend's answer and before a stored one is used, so a bad one is never echoed by an error.
 */
export function credentialProblem(token: string): string | undefined {
  const at = token.search(/[^\t\x20-\x7e\x80-\xff]/);
  if (at < 0) return undefined;
  const code = token.charCodeAt(at);
  const what =
    code === 0x0a || code === 0x0d
      ? 'a line break'
      : code < 0x20 || code === 0x7f
        ? `a control character (U+${code.toString(16).toUpperCase().padStart(4, '0')})`
        : `a character no HTTP header can carry (U+${code.toString(16).toUpperCase().padStart(4, '0')})`;
  return `holds ${what} at character ${at + 1} of ${token.length}`;
}
