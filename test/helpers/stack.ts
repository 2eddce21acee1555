import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { DEV_BACKEND_PATHS, startDevBackend, type DevBackend, type DevBackendOptions } from '../../dev/backend.js';
import { freePort } from './idp-browser.js';
import { startDevIdp, type DevIdp, type DevIdpOptions } from '../../dev/idp.js';
import { runCli, tempConfigDir, type RunOptions, type RunResult } from './cli.js';
import { systemClock } from '../../src/io/clock.js';
import { createTestRoot } from './root.js';

/** The scripted user agent, compiled by `npm run build:dev` (npm test does it first). */
export const USER_AGENT = resolve(import.meta.dirname, '../../dist-dev/dev/user-agent.js');

export interface Stack {
  idp: DevIdp;
  backend: DevBackend;
  close(): Promise<void>;
}

/**
 * A real IdP (oidc-provider) and the reference backend, both on 127.0.0.1. With
 * `backchannelLogout`, the IdP sends its logout tokens to the backend (and puts `sid` in its
 * id_tokens, as Auth0, Okta, Keycloak and Entra ID do).
 */
export async function startStack(
  options: { idp?: DevIdpOptions; backend?: Partial<DevBackendOptions>; backchannelLogout?: boolean } = {},
): Promise<Stack> {
  if (!existsSync(USER_AGENT)) throw new Error(`${USER_AGENT} is missing: run npm run build:dev (npm test does)`);
  const port = options.backchannelLogout ? await freePort() : undefined;
  const idp = await startDevIdp({
    ...options.idp,
    ...(port ? { backchannelLogoutUri: `http://127.0.0.1:${port}${DEV_BACKEND_PATHS.backchannelLogout}` } : {}),
  });
  const backend = await startDevBackend({
    issuer: idp.issuer,
    allowedClientIds: [idp.clientId],
    ...(port ? { port } : {}),
    ...options.backend,
  });
  return {
    idp,
    backend,
    close: async () => {
      await Promise.all([idp.close(), backend.close()]);
    },
  };
}

export interface LoginSetup {
  configDir: string;
  /** What the scripted browser did, one entry per step. */
  uaLog(): Array<Record<string, unknown>>;
  /**
   * The same, once the browser has finished: it runs on its own and reads the final page after
   * the CLI may already have exited.
   */
  uaDone(): Promise<Array<Record<string, unknown>>>;
  run(args: string[], options?: RunOptions & { ua?: string; user?: string; spawn?: boolean }): Promise<RunResult>;
}

/** A `demo` profile for the stack in a fresh config dir, and a runner with the scripted browser as BROWSER. */
export async function loginSetup(stack: Stack, profileArgs: string[] = [], { backend = true } = {}): Promise<LoginSetup> {
  const configDir = tempConfigDir();
  const uaLogFile = join(dirname(configDir), 'user-agent.log');
  // Commands run in this process (the composition root, the real clock and OS keychain), unless the
  // test signals the process or needs a process-wide setting (a CA bundle read at start).
  const root = createTestRoot({ clock: systemClock, osKeychain: true });
  const run: LoginSetup['run'] = (args, options = {}) =>
    (options.spawn || options.onSpawn || options.env?.NODE_EXTRA_CA_CERTS ? runCli : root.run)(args, {
      ...options,
      configDir,
      env: {
        BROWSER: `"${process.execPath}" "${USER_AGENT}"`,
        LATCHKEY_DEV_UA_LOG: uaLogFile,
        LATCHKEY_DEV_UA_ACTION: options.ua ?? 'login',
        LATCHKEY_DEV_UA_USER: options.user ?? 'ada',
        LATCHKEY_STORAGE: 'file',
        ...options.env,
      },
    });
  const added = await run(
    [
      'profile',
      'add',
      'demo',
      '--issuer',
      stack.idp.issuer,
      '--client-id',
      stack.idp.clientId,
      '--prompt',
      'consent',
      ...(backend ? ['--backend-url', stack.backend.url] : []),
      ...profileArgs,
    ],
    { configDir },
  );
  if (added.code !== 0) throw new Error(`profile add failed: ${added.stderr}`);
  const uaLog = () =>
    existsSync(uaLogFile)
      ? readFileSync(uaLogFile, 'utf8')
          .trim()
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as Record<string, unknown>)
      : [];
  const FINAL = new Set(['callback', 'device-done', 'stuck', 'error', 'too-many-hops']);
  return {
    configDir,
    run,
    uaDone: async () => {
      await until(() => uaLog().some((entry) => FINAL.has(String(entry.step))));
      return uaLog();
    },
    uaLog,
  };
}

/** Wait until `check` holds (polling), for steps of another process. */
export async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A confidential client every test IdP can carry, to ask whether a token is still active (RFC 7662). */
const INTROSPECTOR = { client_id: 'introspector', client_secret: 'introspector-secret-0123456789-abcdefghij' };
export const INTROSPECTOR_CLIENT = {
  ...INTROSPECTOR,
  grant_types: ['client_credentials'],
  response_types: [],
  redirect_uris: [],
  token_endpoint_auth_method: 'client_secret_basic',
};

/** What the IdP says of a token, asked by the introspector client (revoked tokens are inactive). */
export async function isActive(stack: Stack, token: string): Promise<boolean> {
  const response = await fetch(`${stack.idp.issuer.replace(/\/$/, '')}/token/introspection`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${INTROSPECTOR.client_id}:${INTROSPECTOR.client_secret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ token }).toString(),
  });
  return ((await response.json()) as { active: boolean }).active;
}
