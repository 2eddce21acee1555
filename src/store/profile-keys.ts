import { hasUnsafeText } from '../io/text.js';
import { isAbsolute, resolve } from 'node:path';
import { isLoopbackHost } from '../loopback/hosts.js';
import type { PresetName, Profile, StorageSetting, TokenEndpointAuthMethod } from '../model.js';

export type { PresetName, Profile, StorageSetting, TokenEndpointAuthMethod };
export type ProfileKey = keyof Profile;

export const PRESET_NAMES = ['auth0', 'okta', 'entra', 'google', 'keycloak'] as const satisfies readonly Exclude<PresetName, 'none'>[];

/**
 * Parameters latchkey sets itself (the login's security, or a profile key of their own): an
 * `authParams` entry may not replace them.
 */
const RESERVED_AUTH_PARAMS = new Set([
  'state',
  'nonce',
  'code_challenge',
  'code_challenge_method',
  'redirect_uri',
  'response_type',
  'client_id',
  'scope',
  'audience',
  'prompt',
  'resource',
  'request',
  'request_uri',
]);

export const DEFAULT_SCOPES = 'openid profile email offline_access';
export const DEFAULT_REDIRECT_URI = 'http://127.0.0.1:0/callback';
export const DEFAULT_EXCHANGE_PATH = '/api/cli-auth';

export interface KeySpec {
  key: ProfileKey;
  /** The kebab-case flag of `profile add`. */
  flag: string;
  /** `<value>` placeholder in help. */
  arg: string;
  description: string;
  default?: string;
  required?: boolean;
  /** Turn the flag/`profile set` text into the stored value; throws a one-line reason. */
  parse(raw: string): unknown;
  /** The flag may be given several times (`--auth-param a=1 --auth-param b=2`). */
  repeatable?: boolean;
  /** The values it takes, when too long to write into `arg` (help and completion show them). */
  choices?: readonly string[];
  /** JSON schema of the stored value, for conf's write-time validation. */
  schema: Record<string, unknown>;
}

function httpUrl(what: string, raw: string, { allowPath }: { allowPath: boolean }): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`${what} "${raw}" is not a URL (expected e.g. https://idp.example.com)`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`${what} must be an https URL, got ${url.protocol}`);
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
    throw new Error(`${what} must use https: http is only allowed on loopback hosts (127.0.0.1, ::1, localhost), got ${url.host}`);
  }
  if (url.username || url.password) throw new Error(`${what} must not carry a user name or password`);
  if (url.search || url.hash) throw new Error(`${what} must not have a query or fragment`);
  if (!allowPath && url.pathname !== '/') throw new Error(`${what} must not have a path`);
  return url;
}

const nonEmpty = (what: string) => (raw: string) => {
  const value = raw.trim();
  if (!value) throw new Error(`${what} must not be empty`);
  return value;
};
const pathValue = (what: string) => (raw: string) => {
  if (!raw.startsWith('/')) throw new Error(`${what} must start with "/", got "${raw}"`);
  if (/[?#\s]/.test(raw)) throw new Error(`${what} must be a plain path without query, fragment or spaces`);
  return raw;
};
const oneOf =
  <T extends string>(what: string, values: readonly T[]) =>
  (raw: string): T => {
    if (!(values as readonly string[]).includes(raw)) throw new Error(`${what} must be one of ${values.join(', ')}, got "${raw}"`);
    return raw as T;
  };
const list = (raw: string) =>
  raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

const string = { type: 'string', minLength: 1 };

/** Every profile key, its flag, default and validation: the one table the CLI, docs and checks use. */
export const PROFILE_KEYS: readonly KeySpec[] = [
  {
    key: 'issuer',
    flag: 'issuer',
    arg: '<url>',
    description: 'IdP issuer URL (discovery at /.well-known/openid-configuration)',
    required: true,
    // Kept as written: the issuer identifier is compared with discovery's `issuer` (Auth0's ends in "/").
    parse: (raw) => (httpUrl('issuer', raw.trim(), { allowPath: true }), raw.trim()),
    schema: string,
  },
  {
    key: 'clientId',
    flag: 'client-id',
    arg: '<id>',
    description: "the Native (public) client's id",
    required: true,
    parse: nonEmpty('client id'),
    schema: string,
  },
  {
    key: 'scopes',
    flag: 'scopes',
    arg: '<scopes>',
    description: 'requested scopes, space-separated',
    default: DEFAULT_SCOPES,
    parse: (raw) => {
      const scopes = raw.split(/[\s,]+/).filter(Boolean);
      if (scopes.length === 0) throw new Error('scopes must not be empty');
      return scopes.join(' ');
    },
    schema: string,
  },
  {
    key: 'audience',
    flag: 'audience',
    arg: '<aud>',
    description: 'extra `audience` authorization parameter (Auth0 APIs)',
    parse: nonEmpty('audience'),
    schema: string,
  },
  {
    key: 'redirectUri',
    flag: 'redirect-uri',
    arg: '<uri>',
    description: 'loopback redirect URI; port 0 = any free port',
    default: DEFAULT_REDIRECT_URI,
    parse: (raw) => {
      let url: URL;
      try {
        url = new URL(raw);
      } catch {
        throw new Error(`redirect URI "${raw}" is not a URL (expected e.g. http://127.0.0.1:0/callback)`);
      }
      if (url.protocol !== 'http:' || !isLoopbackHost(url.hostname)) {
        throw new Error(`redirect URI must be http on a loopback host (127.0.0.1, [::1] or localhost), got ${raw}`);
      }
      if (url.search || url.hash) throw new Error('redirect URI must not have a query or fragment');
      // URL drops an explicit ":80"; keep what the user wrote so "port 0" survives.
      const port = /^http:\/\/(?:\[[^\]]+\]|[^/:]+)(?::(\d+))?/.exec(raw)?.[1] ?? '80';
      return `http://${url.hostname}:${Number(port)}${url.pathname}`;
    },
    schema: string,
  },
  {
    key: 'redirectPorts',
    flag: 'redirect-ports',
    arg: '<ports>',
    description: 'fallback ports tried in order when the fixed one is taken (comma-separated)',
    default: '',
    parse: (raw) =>
      list(raw).map((p) => {
        const n = Number(p);
        if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`redirect port "${p}" is not a port number (1-65535)`);
        return n;
      }),
    schema: { type: 'array', items: { type: 'integer', minimum: 1, maximum: 65535 } },
  },
  {
    key: 'backendUrl',
    flag: 'backend-url',
    arg: '<url>',
    description: 'base URL of the backend API (none: the IdP tokens are the credential)',
    parse: (raw) => httpUrl('backend URL', raw, { allowPath: true }).href.replace(/\/$/, ''),
    schema: string,
  },
  {
    key: 'exchange',
    flag: 'exchange',
    arg: '<id-token|none>',
    description:
      "with a backendUrl: trade the id_token for the backend's session (id-token), or keep the IdP's access token for the resource (none)",
    default: 'id-token',
    parse: oneOf('exchange', ['id-token', 'none'] as const),
    schema: { enum: ['id-token', 'none'] },
  },
  {
    key: 'exchangePath',
    flag: 'exchange-path',
    arg: '<path>',
    description: "the backend's CLI-auth endpoint",
    default: DEFAULT_EXCHANGE_PATH,
    parse: pathValue('exchange path'),
    schema: string,
  },
  {
    key: 'exchangeEncoding',
    flag: 'exchange-encoding',
    arg: '<form|json>',
    description: 'body of the exchange: form (token=<id_token>) or json ({"token": …})',
    default: 'form',
    parse: oneOf('exchange encoding', ['form', 'json'] as const),
    schema: { enum: ['form', 'json'] },
  },
  {
    key: 'whoamiPath',
    flag: 'whoami-path',
    arg: '<path>',
    description: 'GET endpoint used to check a token given with --with-token',
    parse: pathValue('whoami path'),
    schema: string,
  },
  {
    key: 'sessionsPath',
    flag: 'sessions-path',
    arg: '<path>',
    description: "the backend's session API (`sessions`); default: the sessions_endpoint its resource metadata advertises",
    parse: pathValue('sessions path'),
    schema: string,
  },
  {
    key: 'tokenEnv',
    flag: 'token-env',
    arg: '<name>',
    description: 'env var that overrides the stored credential (e.g. MYAPP_TOKEN)',
    parse: (raw) => {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(raw)) throw new Error(`token env "${raw}" is not an environment variable name`);
      return raw;
    },
    schema: string,
  },
  {
    key: 'audiencePriority',
    flag: 'audience-priority',
    arg: '<a,b,c>',
    description: 'ordered audiences for `token inspect` classification',
    default: '',
    parse: list,
    schema: { type: 'array', items: string },
  },
  {
    key: 'storage',
    flag: 'storage',
    arg: '<auto|keychain|file>',
    description: 'where the credential is kept',
    default: 'auto',
    parse: oneOf('storage', ['auto', 'keychain', 'file'] as const),
    schema: { enum: ['auto', 'keychain', 'file'] },
  },
  {
    key: 'prompt',
    flag: 'prompt',
    arg: '<prompt>',
    description: '`prompt` authorization parameter (e.g. consent)',
    parse: (raw) => {
      const values = raw.split(/\s+/).filter(Boolean);
      for (const v of values) oneOf('prompt', ['none', 'login', 'consent', 'select_account'] as const)(v);
      if (values.length === 0) throw new Error('prompt must not be empty');
      return values.join(' ');
    },
    schema: string,
  },
  {
    key: 'assertionAudience',
    flag: 'assertion-audience',
    arg: '<issuer|token-endpoint>',
    description: 'the `aud` of private_key_jwt client assertions',
    default: 'issuer',
    parse: oneOf('assertion audience', ['issuer', 'token-endpoint'] as const),
    schema: { enum: ['issuer', 'token-endpoint'] },
  },
  {
    key: 'caFile',
    flag: 'ca-file',
    arg: '<pem>',
    description: 'extra CA certificates (PEM) to trust for this profile: a private IdP, or a TLS-inspecting proxy',
    // Kept as an absolute path; whether it is readable is checked when it is used, so a moved
    // file never makes the whole config unreadable.
    parse: (raw) => {
      const value = raw.trim();
      if (!value) throw new Error('ca file must not be empty');
      return isAbsolute(value) ? value : resolve(value);
    },
    schema: string,
  },
  {
    key: 'tokenEndpointAuthMethod',
    flag: 'token-endpoint-auth-method',
    arg: '<method>',
    description: 'client authentication at the token endpoint (default: from discovery)',
    choices: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'],
    parse: oneOf('token endpoint auth method', ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'] as const),
    schema: { enum: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'] },
  },
  {
    key: 'authParams',
    flag: 'auth-param',
    arg: '<key=value>',
    description: 'extra authorization parameter (repeatable; e.g. organization=org_123, acr_values=…)',
    repeatable: true,
    parse: (raw) =>
      list(raw).map((entry) => {
        const at = entry.indexOf('=');
        const key = at > 0 ? entry.slice(0, at) : '';
        if (!/^[A-Za-z0-9_.-]+$/.test(key)) throw new Error(`auth param "${entry}" is not key=value`);
        if (RESERVED_AUTH_PARAMS.has(key))
          throw new Error(`auth param "${key}" is set by latchkey itself (or by its own profile key) and cannot be overridden`);
        return entry;
      }),
    schema: { type: 'array', items: string },
  },
  {
    key: 'resource',
    flag: 'resource',
    arg: '<uri>',
    description: 'RFC 8707 resource indicator (the API the tokens are for)',
    parse: (raw) => {
      let url: URL;
      try {
        url = new URL(raw.trim());
      } catch {
        throw new Error(`resource "${raw}" is not an absolute URI`);
      }
      if (url.hash) throw new Error('resource must not have a fragment (RFC 8707 §2)');
      return raw.trim();
    },
    schema: string,
  },
  {
    key: 'preset',
    flag: 'preset',
    arg: `<${PRESET_NAMES.join('|')}|none>`,
    description: "the IdP's documented quirks as defaults (detected from the issuer when not given; none: no preset)",
    parse: oneOf('preset', [...PRESET_NAMES, 'none'] as const),
    schema: { enum: [...PRESET_NAMES, 'none'] },
  },
  {
    key: 'workloadAudience',
    flag: 'workload-audience',
    arg: '<aud>',
    description: "the audience asked of a CI platform's OIDC token (login --workload); default: the origin of the backend URL",
    parse: nonEmpty('workload audience'),
    schema: string,
  },
  {
    key: 'workloadTokenEnv',
    flag: 'workload-token-env',
    arg: '<name>',
    description: "the variable holding the platform's OIDC token (GitLab CI's id_tokens:), for login --workload",
    parse: (raw) => {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(raw)) throw new Error(`workload token env "${raw}" is not an environment variable name`);
      return raw;
    },
    schema: string,
  },
];

/** Whether a user login of this profile needs a client secret (`tokenEndpointAuthMethod` client_secret_*). */
export function needsClientSecret(profile: Profile): boolean {
  return profile.tokenEndpointAuthMethod === 'client_secret_basic' || profile.tokenEndpointAuthMethod === 'client_secret_post';
}

/** The extra authorization parameters of a profile, decoded, as a record. */
export function authParamsOf(profile: Profile): Record<string, string> {
  const params: Record<string, string> = {};
  for (const entry of profile.authParams ?? []) {
    const at = entry.indexOf('=');
    params[entry.slice(0, at)] = safeDecode(entry.slice(at + 1));
  }
  return params;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

const BY_KEY = new Map(PROFILE_KEYS.map((spec) => [spec.key as string, spec]));

export function keySpec(key: string): KeySpec | undefined {
  return BY_KEY.get(key) ?? PROFILE_KEYS.find((spec) => spec.flag === key);
}

/** Parse one `profile set` / flag value; throws `Error` with a one-line reason. */
export function parseProfileValue(key: string, raw: string): { key: ProfileKey; value: unknown } {
  const spec = keySpec(key);
  if (!spec) throw new Error(`unknown key "${key}"; known keys: ${PROFILE_KEYS.map((s) => s.key).join(', ')}`);
  // The rule the config file is read with (profileProblems): what is refused there is never written.
  if (hasUnsafeText(raw)) throw new Error(`"${spec.key}" holds a control character or line break`);
  return { key: spec.key, value: spec.parse(raw) };
}

/**
 * Check a profile read from disk (hand-edited files too): every key known, every value valid.
 * Returns the reasons it is not, empty when it is. `seen` remembers each (key, value) already
 * judged, across the profiles of one file: a thousand profiles of one IdP parse its URL once.
 */
export function profileProblems(value: unknown, seen: Map<string, Map<string, string | null>> = new Map()): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return ['a profile must be an object'];
  const problems: string[] = [];
  const record = value as Record<string, unknown>;
  for (const spec of REQUIRED_KEYS) if (record[spec.key] === undefined) problems.push(`"${spec.key}" is missing`);
  for (const key of Object.keys(record)) {
    const spec = BY_KEY.get(key);
    if (!spec) {
      problems.push(`unknown key "${key}"`);
      continue;
    }
    const v = record[key];
    if (v === undefined) continue;
    // Strings (nearly every value) are remembered by the value itself; arrays and numbers are judged each time.
    const judged = typeof v === 'string' ? seen.get(key) : undefined;
    let problem = judged?.get(v as string);
    if (problem === undefined) {
      try {
        const asText = Array.isArray(v) ? v.join(',') : typeof v === 'string' || typeof v === 'number' ? String(v) : undefined;
        const wantsArray = spec.schema.type === 'array';
        if (asText === undefined || wantsArray !== Array.isArray(v)) throw new Error(`"${spec.key}" has the wrong type`);
        // A number where a string belongs (or a nested list) is no value anyone wrote on purpose.
        const itemType = (spec.schema as { items?: { type?: string } }).items?.type;
        if (!wantsArray && spec.schema.type === 'string' && typeof v !== 'string') throw new Error(`"${spec.key}" has the wrong type`);
        const fits = (item: unknown) => (itemType === 'integer' ? Number.isInteger(item) : typeof item === itemType);
        if (wantsArray && itemType !== undefined && !(v as unknown[]).every(fits)) throw new Error(`"${spec.key}" has the wrong type`);
        // A value is printed by profile list/show and written into other tools' config by setup:
        // a line break or control character in it is never wanted, whoever wrote it.
        if (Array.isArray(v) ? v.some((item) => typeof item === 'string' && hasUnsafeText(item)) : hasUnsafeText(asText))
          throw new Error(`"${spec.key}" holds a control character or line break`);
        spec.parse(asText);
        problem = null;
      } catch (error) {
        problem = (error as Error).message;
      }
      if (typeof v === 'string') {
        if (judged) judged.set(v, problem);
        else seen.set(key, new Map([[v, problem]]));
      }
    }
    if (problem !== null) problems.push(problem);
  }
  return problems;
}

const REQUIRED_KEYS = PROFILE_KEYS.filter((spec) => spec.required);

/** The value in force for `key`: the profile's, else the default. */
export function effective(profile: Profile) {
  return {
    scopes: profile.scopes ?? DEFAULT_SCOPES,
    redirectUri: profile.redirectUri ?? DEFAULT_REDIRECT_URI,
    redirectPorts: profile.redirectPorts ?? [],
    exchangePath: profile.exchangePath ?? DEFAULT_EXCHANGE_PATH,
    exchangeEncoding: profile.exchangeEncoding ?? 'form',
    audiencePriority: profile.audiencePriority ?? [],
    storage: profile.storage ?? 'auto',
    assertionAudience: profile.assertionAudience ?? 'issuer',
  };
}

export const PROFILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
