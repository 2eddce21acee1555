import type { Clock } from '../io/clock.js';
import { browserUnreachable, type RunEnvironment } from '../io/environment.js';
import { TLS_UNCHECKED, tlsChecksDisabled, type Http } from '../http.js';
import { isLoopbackHost } from '../loopback/hosts.js';
import { startCallbackListener } from '../loopback/listener.js';
import { safeLine } from '../io/text.js';
import { requireWebUrl } from '../io/urls.js';
import { discoveryNames, discoveryUrl, fetchChecked, fetchDiscovery } from '../discovery.js';
import { authParamsOf, effective, type Profile, type StorageSetting } from '../store/profile-keys.js';
import type { SecretStore } from '../store/secrets.js';

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

/** One line of `doctor`: what was checked, how it went, and the next step when it did not. */
export interface Check {
  name: string;
  status: CheckStatus;
  detail: string;
  next?: string;
  ms?: number;
}

export interface DoctorInput {
  /** Absent with no profile at all: the environment, proxy, TLS, keychain and port are still checked. */
  profileName?: string;
  profile?: Profile;
  /** `<PREFIX>_STORAGE` for this run: it decides as the profile's `storage` would (as login does). */
  storageOverride?: StorageSetting;
  cliName: string;
  envPrefix: string;
  environment: RunEnvironment;
  env: NodeJS.ProcessEnv;
}

export interface DoctorDeps {
  http: Http;
  clock: Clock;
  keychain: SecretStore;
}

const PROBE_ACCOUNT = '__doctor_probe__';

/**
 * `doctor`: the usual reasons a CLI login fails, checked in one place: where this runs (SSH,
 * WSL, containers, no display), the proxy in force, discovery and JWKS (timing, TLS), the clock
 * against the IdP's, the keychain (a probe write, read and delete), the loopback port.
 */
export async function runDoctor(input: DoctorInput, deps: DoctorDeps): Promise<Check[]> {
  const { profile, profileName } = input;
  const checks: Check[] = [environmentCheck(input), proxyCheck(profile?.issuer, input.env)];
  if (tlsChecksDisabled(input.env))
    checks.push({
      name: 'tls',
      status: 'fail',
      detail: TLS_UNCHECKED,
      next: "Unset it; trust a private CA with the profile's caFile or NODE_EXTRA_CA_CERTS instead.",
    });
  if (profile && profileName) {
    const issuer = await issuerChecks({ profile, profileName, cliName: input.cliName }, deps);
    checks.push(...issuer);
    const discovery = issuer.find((c) => c.name === 'discovery');
    if (discovery && discovery.status !== 'fail')
      checks.push(loginModeCheck(input, profile, discovery.detail.includes('device flow offered')));
  } else
    checks.push({
      name: 'profile',
      status: 'skip',
      detail: 'no profile yet: the IdP is not checked',
      next: `Add one: ${input.cliName} profile add <name> --issuer <url> --client-id <id>, then run doctor again.`,
    });
  checks.push(await keychainCheck(input, deps));
  checks.push(await portCheck(input));
  return checks;
}

/**
 * Which login `login` will run here, and why: the local browser; over SSH or without a display
 * the device flow where the IdP offers it, else the remote login (paste back the address). With a
 * fixed redirect port, the `ssh -L` line that lets a browser elsewhere reach the listener.
 */
function loginModeCheck({ environment: where, cliName, profileName }: DoctorInput, profile: Profile, deviceOffered: boolean): Check {
  const redirect = new URL(effective(profile).redirectUri);
  const fixedPort = redirect.port !== '0' && redirect.port !== '' ? redirect.port : undefined;
  const forward = fixedPort ? ` or forward the port from your machine: ssh -L ${fixedPort}:127.0.0.1:${fixedPort} <this host>` : '';
  if (!browserUnreachable(where)) return { name: 'login', status: 'ok', detail: 'login opens a browser here (authorization code + PKCE)' };
  const why = where.ssh ? 'an SSH session' : 'no display';
  if (deviceOffered)
    return {
      name: 'login',
      status: 'ok',
      detail: `login uses the device flow here (${why}; the IdP offers it)`,
      next: `For the browser login instead: ${cliName} login -p ${profileName ?? '<name>'} --remote${forward}`,
    };
  return {
    name: 'login',
    status: 'ok',
    detail: `login is a remote login here (${why}, and the IdP offers no device flow): it prints the URL to open elsewhere, and you paste back the address the browser was sent to`,
    ...(forward ? { next: `Or${forward.slice(3)}` } : {}),
  };
}

function environmentCheck({ environment: where, cliName }: DoctorInput): Check {
  const seen = [
    where.ci && 'CI',
    where.ssh && 'SSH session',
    where.wsl && 'WSL',
    where.container && 'container',
    where.noDisplay && 'no display',
    where.browserCommand && 'BROWSER set',
  ]
    .filter(Boolean)
    .join(', ');
  if (!browserUnreachable(where)) {
    return {
      name: 'environment',
      status: 'ok',
      detail: seen ? `${seen}: a browser can be opened` : 'a browser can be opened',
      ...(where.wsl ? { next: 'On WSL the Windows browser opens through wslview (package wslu).' } : {}),
    };
  }
  return {
    name: 'environment',
    status: 'warn',
    detail: `${seen}: no local browser can be opened`,
    next: where.ci
      ? `Nobody can sign in here: in CI use ${cliName} login --with-token (a token from a secret) or --client-credentials.`
      : `${cliName} login uses the device flow when the IdP offers it; otherwise a remote login (--remote: open the URL` +
        ` elsewhere, paste back the address${where.ssh ? ', or forward the port with ssh -L' : ''}). Or set BROWSER to a command that opens URLs.`,
  };
}

/** Which proxy variable applies to `url`, as undici's EnvHttpProxyAgent decides it. */
export function proxyFor(url: string, env: NodeJS.ProcessEnv): { variable: string; proxy: string } | { bypassedBy: string } | undefined {
  const target = new URL(url);
  const names = target.protocol === 'https:' ? ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy'] : ['HTTP_PROXY', 'http_proxy'];
  const variable = names.find((name) => env[name]);
  if (!variable) return undefined;
  const noProxy = env.NO_PROXY ?? env.no_proxy ?? '';
  const host = target.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (isLoopbackHost(host)) return { bypassedBy: 'a loopback host, never proxied' };
  for (const entry of noProxy.split(/[,\s]+/).filter(Boolean)) {
    const [name, port] = entry.toLowerCase().split(':');
    if (port && port !== (target.port || (target.protocol === 'https:' ? '443' : '80'))) continue;
    const bare = name!.replace(/^\*?\./, '');
    if (name === '*' || host === bare || host.endsWith(`.${bare}`)) return { bypassedBy: `NO_PROXY (${entry})` };
  }
  return { variable, proxy: env[variable]! };
}

function proxyCheck(issuer: string | undefined, env: NodeJS.ProcessEnv): Check {
  const found = proxyFor(issuer ?? 'https://idp.example/', env);
  if (!found) return { name: 'proxy', status: 'ok', detail: 'no proxy variable set: direct connections' };
  if (issuer === undefined && 'variable' in found)
    return {
      name: 'proxy',
      status: 'ok',
      detail: `https hosts are reached through ${found.variable}=${redactProxy(found.proxy)} (loopback never is)`,
    };
  if ('bypassedBy' in found)
    return {
      name: 'proxy',
      status: 'ok',
      detail: `${issuer === undefined ? 'hosts are' : 'the issuer is'} reached directly: ${found.bypassedBy}`,
    };
  const shown = redactProxy(found.proxy);
  if (shown === undefined)
    return {
      name: 'proxy',
      status: 'fail',
      detail: `${found.variable} is not a URL`,
      next: `Set ${found.variable} to http://proxy.example:3128 (or unset it).`,
    };
  return { name: 'proxy', status: 'ok', detail: `the issuer is reached through ${found.variable}=${shown}` };
}

/** A proxy URL with its password hidden; undefined when it is not a URL. */
function redactProxy(proxy: string): string | undefined {
  try {
    const url = new URL(proxy);
    if (url.password) url.password = 'REDACTED';
    return url.href;
  } catch {
    return undefined;
  }
}

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await fn();
  return { value, ms: Math.round(performance.now() - started) };
}

async function issuerChecks(
  { profile, profileName, cliName }: { profile: Profile; profileName: string; cliName: string },
  deps: DoctorDeps,
): Promise<Check[]> {
  // The same discovery as token inspect --verify (src/discovery.ts): one URL rule, checked redirects.
  let url = discoveryUrl(profile.issuer);
  let response: Response;
  let ms: number;
  let document: Record<string, unknown> = {};
  try {
    const fetched = await fetchDiscovery(profile.issuer, deps.http);
    ({ response, ms, url } = fetched);
    document = fetched.document ?? {};
  } catch (error) {
    const message = (error as Error).message;
    const hint = (error as { hint?: string }).hint;
    return [
      { name: 'discovery', status: 'fail', detail: message, ...(hint ? { next: hint } : {}) },
      { name: 'jwks', status: 'skip', detail: 'needs discovery' },
      { name: 'clock', status: 'skip', detail: 'needs an answer from the IdP' },
    ];
  }
  const checks: Check[] = [];
  if (!response.ok || typeof document.issuer !== 'string') {
    checks.push({
      name: 'discovery',
      status: 'fail',
      detail: `${url} answered ${response.status}${response.ok ? ' without a discovery document' : ''}`,
      ms,
      next: `Check the issuer: ${cliName} profile set ${profileName} issuer <url>`,
    });
  } else if (!discoveryNames(document, profile.issuer)) {
    checks.push({
      name: 'discovery',
      status: 'fail',
      detail: `the document names issuer ${document.issuer}, the profile ${profile.issuer}`,
      ms,
      next: `${cliName} profile set ${profileName} issuer ${document.issuer}`,
    });
  } else if (document.issuer !== profile.issuer) {
    // The same URL, written another way (a trailing "/"): discovery accepts it, but tokens carry
    // the IdP's form and strict verifiers compare it exactly. A login stores the IdP's form.
    checks.push({
      name: 'discovery',
      status: 'warn',
      detail: `the IdP writes its issuer as ${safeLine(document.issuer)}, the profile as ${profile.issuer}: the same URL, but tokens carry the IdP's form and verifiers compare it exactly`,
      ms,
      next: `${cliName} profile set ${profileName} issuer ${safeLine(document.issuer)} (the next login does it too)`,
    });
  } else {
    const device = typeof document.device_authorization_endpoint === 'string' ? ', device flow offered' : '';
    checks.push({ name: 'discovery', status: 'ok', detail: `${url} (${ms} ms)${device}`, ms });
  }

  if (typeof document.jwks_uri !== 'string') {
    checks.push({ name: 'jwks', status: 'skip', detail: 'no jwks_uri in the discovery document' });
  } else {
    try {
      const jwks = await fetchChecked(document.jwks_uri, deps.http, 'the JWKS');
      const keys = ((await jwks.response.json().catch(() => ({}))) as { keys?: unknown[] }).keys;
      checks.push(
        jwks.response.ok && Array.isArray(keys)
          ? { name: 'jwks', status: 'ok', detail: `${keys.length} key${keys.length === 1 ? '' : 's'} (${jwks.ms} ms)`, ms: jwks.ms }
          : { name: 'jwks', status: 'fail', detail: `${jwks.url} answered ${jwks.response.status} without a key set`, ms: jwks.ms },
      );
    } catch (error) {
      checks.push({ name: 'jwks', status: 'fail', detail: (error as Error).message });
    }
  }

  if (typeof document.authorization_endpoint === 'string')
    checks.push(await redirectCheck({ profile, profileName, cliName }, document.authorization_endpoint, deps));

  // The server's Date has a one-second resolution and the request took `ms`: allow for both.
  const date = Date.parse(response.headers.get('date') ?? '');
  if (Number.isNaN(date)) {
    checks.push({ name: 'clock', status: 'skip', detail: 'the IdP sent no Date header' });
  } else {
    const skew = Math.round((deps.clock.now().getTime() - date) / 1000);
    const tolerance = 2 + Math.ceil(ms / 1000);
    const text = Math.abs(skew) <= tolerance ? 'in step with the IdP' : `${Math.abs(skew)} s ${skew > 0 ? 'ahead of' : 'behind'} the IdP`;
    const status: CheckStatus = Math.abs(skew) <= 60 ? 'ok' : Math.abs(skew) <= 300 ? 'warn' : 'fail';
    checks.push({
      name: 'clock',
      status,
      detail: `this machine's clock is ${text}`,
      ...(status === 'ok'
        ? {}
        : { next: 'Set the clock right (timedatectl set-ntp true): tokens look expired or not yet valid to one side otherwise.' }),
    });
  }
  return checks;
}

/**
 * Whether the IdP accepts the profile's redirect URI: an authorization request with it (no login
 * happens; the request is never followed). An IdP that refuses a redirect URI shows its error in
 * the browser only, so a login would wait until the timeout. A redirect to its login page (or
 * the page itself) means accepted; an error sent back to the redirect URI means accepted, the
 * rest of the request refused; a 4xx page means refused.
 */
async function redirectCheck(
  { profile, profileName, cliName }: { profile: Profile; profileName: string; cliName: string },
  endpoint: string,
  deps: DoctorDeps,
): Promise<Check> {
  const configured = effective(profile).redirectUri;
  const redirect = new URL(configured);
  // Port 0 means "any free port": the IdP must accept whichever one a login gets.
  if (redirect.port === '0') redirect.port = String(49152 + Math.floor(Math.random() * 16000));
  let url: URL;
  try {
    url = requireWebUrl(endpoint);
  } catch (error) {
    return { name: 'redirect', status: 'fail', detail: `the authorization_endpoint cannot be used: ${(error as Error).message}` };
  }
  const params = {
    ...authParamsOf(profile),
    client_id: profile.clientId,
    redirect_uri: redirect.href,
    response_type: 'code',
    scope: effective(profile).scopes,
    state: 'latchkey-doctor',
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    code_challenge_method: 'S256',
  };
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
  const registerWhat = configured.includes(':0/') ? 'a loopback redirect URI for any port' : configured;
  const fix =
    `Register ${registerWhat} for client ${profile.clientId} at the IdP,` +
    ` or use the one it has: ${cliName} profile set ${profileName} redirect-uri http://127.0.0.1:PORT/callback`;
  try {
    const answer = await probeAuthorization(url, redirect, deps);
    if (answer.kind === 'back') {
      const error = answer.url.searchParams.get('error');
      return error
        ? {
            name: 'redirect',
            status: 'warn',
            detail:
              `the IdP accepts the redirect URI, but refused the request: ${safeLine(error)}` +
              (answer.url.searchParams.get('error_description') ? ` (${safeLine(answer.url.searchParams.get('error_description')!)})` : ''),
            next: "Check the profile's scopes, audience and auth params.",
          }
        : { name: 'redirect', status: 'ok', detail: `the IdP accepts ${redirect.href}` };
    }
    if (answer.kind === 'refused')
      return {
        name: 'redirect',
        status: 'fail',
        detail:
          `the IdP refused an authorization request with redirect_uri ${redirect.href} (HTTP ${answer.status}):` +
          ` it does not accept that redirect URI, or the client id`,
        next: fix,
      };
    // Its sign-in page. Proof only if the IdP refuses, before any sign-in, what it must refuse:
    // an unknown client id and an unregistered redirect URI. LemonLDAP::NG (and others) show the
    // sign-in page first and check both only after the user signed in.
    const unknownClient = new URL(url);
    unknownClient.searchParams.set('client_id', `latchkey-doctor-no-such-client-${Math.random().toString(36).slice(2, 8)}`);
    const unregistered = new URL(url);
    const bogus = new URL(redirect);
    bogus.pathname = '/latchkey-doctor-unregistered';
    unregistered.searchParams.set('redirect_uri', bogus.href);
    const [client, other] = await Promise.all([
      probeAuthorization(unknownClient, redirect, deps),
      probeAuthorization(unregistered, bogus, deps),
    ]);
    if (client.kind === 'refused' && other.kind === 'refused')
      return {
        name: 'redirect',
        status: 'ok',
        detail: `the IdP accepts ${redirect.href} (it answered with its sign-in page, and refuses an unknown client and an unregistered redirect URI before sign-in)`,
      };
    return {
      name: 'redirect',
      status: 'warn',
      detail:
        `not known before sign-in: the IdP answers with its sign-in page before it checks the client id and the redirect URI` +
        ` (it did so for ${client.kind === 'refused' ? 'an unregistered redirect URI' : 'an unknown client id'} too)`,
      next:
        `Check at the IdP that client ${profile.clientId} exists and has ${registerWhat} registered (many IdPs match it exactly, port included);` +
        ` a login that waits until its timeout while the browser shows an IdP error is one of the two.`,
    };
  } catch (error) {
    return { name: 'redirect', status: 'fail', detail: (error as Error).message };
  }
}

/**
 * One authorization request, never followed: sent back to `redirect` (with or without an error),
 * refused (an error status), or anything else, which is the IdP's sign-in page.
 */
async function probeAuthorization(
  url: URL,
  redirect: URL,
  deps: DoctorDeps,
): Promise<{ kind: 'back'; url: URL } | { kind: 'refused'; status: number } | { kind: 'sign-in' }> {
  const { value: response } = await timed(() => deps.http.fetch(url.href, { redirect: 'manual' }));
  await response.body?.cancel();
  const location = response.headers.get('location');
  if (response.status >= 300 && response.status < 400 && location) {
    let back: URL;
    try {
      back = new URL(location, url);
    } catch {
      return { kind: 'sign-in' };
    }
    if (back.origin === redirect.origin && back.pathname === redirect.pathname) return { kind: 'back', url: back };
    return { kind: 'sign-in' };
  }
  if (response.ok) return { kind: 'sign-in' };
  return { kind: 'refused', status: response.status };
}

async function keychainCheck({ profile, envPrefix, profileName, cliName, storageOverride }: DoctorInput, deps: DoctorDeps): Promise<Check> {
  const storage = storageOverride ?? (profile ? effective(profile).storage : 'auto');
  const fixStorage = storageOverride
    ? `unset ${envPrefix}_STORAGE (it says ${storageOverride} for this run)`
    : `${cliName} profile set ${profileName ?? '<name>'} storage auto`;
  const value = `probe-${Date.now()}`;
  try {
    const { ms } = await timed(async () => {
      await deps.keychain.set(PROBE_ACCOUNT, value);
      const read = await deps.keychain.get(PROBE_ACCOUNT);
      await deps.keychain.delete(PROBE_ACCOUNT);
      if (read !== value) throw new Error('what was written could not be read back');
    });
    return { name: 'keychain', status: 'ok', detail: `${deps.keychain.location}: write, read and delete work (${ms} ms)`, ms };
  } catch (error) {
    const reason = (error as Error).message;
    if (storage === 'file')
      return {
        name: 'keychain',
        status: 'ok',
        detail:
          `not reachable (${reason}), and not used:` +
          ` ${storageOverride ? `${envPrefix}_STORAGE=file` : 'the profile stores in the credentials file'}`,
      };
    return {
      name: 'keychain',
      status: storage === 'keychain' ? 'fail' : 'warn',
      detail: reason,
      next:
        storage === 'keychain'
          ? `Start or unlock it (Linux: a Secret Service such as gnome-keyring on D-Bus), or allow the file: ${fixStorage}`
          : `Credentials will go to the 0600 credentials file instead (storage: auto).` +
            ` To keep them in a keychain, start or unlock one;` +
            ` to silence this, ${envPrefix}_STORAGE=file.`,
    };
  }
}

async function portCheck({ profile, profileName, cliName }: DoctorInput): Promise<Check> {
  const settings = effective(profile ?? { issuer: '', clientId: '' });
  const port = new URL(settings.redirectUri).port;
  try {
    const listener = await startCallbackListener({
      redirectUri: settings.redirectUri,
      redirectPorts: settings.redirectPorts,
      expectedState: 'doctor',
    });
    await listener.close();
    return {
      name: 'port',
      status: 'ok',
      detail: port === '0' ? 'the login listener gets a free loopback port' : `loopback port ${listener.port} is free`,
    };
  } catch (error) {
    return {
      name: 'port',
      status: 'fail',
      detail: (error as Error).message,
      next: `Close what holds it, or: ${cliName} profile set ${profileName ?? '<name>'} redirect-ports 8086,8087`,
    };
  }
}
