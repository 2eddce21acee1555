/**
 * `npm run demo`: the real `latchkey login` against a real OpenID Provider (oidc-provider) and the
 * reference backend, both started here on 127.0.0.1, in a throwaway config dir. First what
 * latchkey exists for: the browser login whose id_token the backend trades at /api/cli-auth for
 * its own session, `latchkey sessions`, and a logout at the IdP that ends that session (the IdP's
 * back-channel logout token). Then, as a second act, zero-config: a profile from the backend's
 * URL alone, the IdP's access token as the credential.
 *
 * With a display, your browser opens: sign in with any name and password, then allow access.
 * Without one (or with DEMO_AUTO=1, or in CI) a scripted user agent does the same.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DEV_BACKEND_PATHS, startDevBackend } from './backend.js';
import { startDevIdp } from './idp.js';

const root = resolve(import.meta.dirname, '../..');
const bin = join(root, 'bin', 'latchkey.js');
const userAgent = join(root, 'dist-dev', 'dev', 'user-agent.js');

const headless = process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY;
const auto = process.env.DEMO_AUTO === '1' || process.env.CI === 'true' || headless;

const bold = process.stderr.isTTY && !process.env.NO_COLOR;
const say = (text: string) => process.stderr.write(bold ? `\n\u001b[1m▶ ${text}\u001b[0m\n` : `\n▶ ${text}\n`);

/** Run the real CLI; `capture` keeps its stdout (as `$(latchkey token)` would). */
function latchkey(args: string[], env: NodeJS.ProcessEnv, capture = false): Promise<{ code: number; stdout: string }> {
  // Asynchronous on purpose: the IdP and the backend live in this process and must keep serving.
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { env, stdio: ['inherit', capture ? 'pipe' : 'inherit', 'inherit'] });
    let stdout = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolvePromise({ code: code ?? (signal ? 130 : 1), stdout }));
  });
}

/** A free loopback port: the IdP must know the backend's logout URL before the backend starts. */
function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as import('node:net').AddressInfo;
      server.close(() => resolvePort(port));
    });
  });
}

/** Run the scripted user agent once (its cookies kept in `jar`: the browser's session at the IdP). */
function userAgentRun(url: string, env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [userAgent, url], { env, stdio: 'inherit' });
    child.on('error', reject);
    child.on('close', (code) => resolveRun(code ?? 1));
  });
}

async function main(): Promise<number> {
  // The IdP sends its logout tokens to the backend (OpenID Connect Back-Channel Logout), lets
  // clients register themselves (RFC 7591) and issues access tokens for the backend (RFC 8707);
  // the backend records its sessions and publishes where to log in (RFC 9728).
  const port = await freePort();
  const idp = await startDevIdp({
    registration: true,
    backchannelLogoutUri: `http://127.0.0.1:${port}${DEV_BACKEND_PATHS.backchannelLogout}`,
  });
  const backend = await startDevBackend({ issuer: idp.issuer, allowedClientIds: [idp.clientId], port });
  idp.resourceServers.add(backend.url);
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-demo-'));
  const configDir = join(dir, 'config');
  const jar = join(dir, 'browser-cookies.json');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    LATCHKEY_CONFIG_DIR: configDir,
    // A throwaway credentials file next to the throwaway config: the demo never touches your keychain.
    LATCHKEY_STORAGE: 'file',
    ...(auto ? { BROWSER: `"${process.execPath}" "${userAgent}"`, LATCHKEY_DEV_UA_JAR: jar } : {}),
  };
  delete env.LATCHKEY_PROFILE;
  delete env.LATCHKEY_TOKEN;
  try {
    process.stderr.write(
      `latchkey demo\n  IdP (oidc-provider): ${idp.issuer}\n  backend (latchkey/backend): ${backend.url}\n  config dir: ${configDir}\n`,
    );
    say(
      `Act 1: the browser login, traded at the backend for its own session\n  latchkey profile add demo --issuer ${idp.issuer} --client-id ${idp.clientId} --backend-url ${backend.url}`,
    );
    let { code } = await latchkey(
      ['profile', 'add', 'demo', '--issuer', idp.issuer, '--client-id', idp.clientId, '--backend-url', backend.url, '--prompt', 'consent'],
      env,
    );
    if (code !== 0) return code;

    say(
      auto
        ? 'latchkey login   (a scripted browser signs in as "ada"; the backend trades the id_token at /api/cli-auth)'
        : 'latchkey login   (sign in with any name and password, then allow access)',
    );
    ({ code } = await latchkey(['login', '--timeout', auto ? '60' : '300'], env));
    if (code !== 0) return code;

    say('latchkey status');
    await latchkey(['status'], env);

    say('the backend takes its session: GET /api/whoami with $(latchkey token)');
    const token = await latchkey(['token'], env, true);
    if (token.code !== 0) return token.code;
    const session = token.stdout.trim();
    const whoami = await fetch(`${backend.url}/api/whoami`, { headers: { authorization: `Bearer ${session}` } });
    process.stderr.write(`${whoami.status} ${await whoami.text()}\n`);

    say("latchkey sessions   (the backend's sessions of ada, this machine marked)");
    ({ code } = await latchkey(['sessions'], env));
    if (code !== 0) return code;

    const endSession = `${idp.issuer}/session/end`;
    const logouts = backend.logouts.length;
    if (auto) {
      say('ada signs out at the IdP (its end-session page, in the same browser): the IdP POSTs a logout token to the backend');
      await userAgentRun(endSession, { ...env, LATCHKEY_DEV_UA_ACTION: 'logout' });
    } else {
      say(`sign out at the IdP: open ${endSession} in the browser you logged in with, and press "Yes, sign me out"`);
      for (let waited = 0; backend.logouts.length === logouts && waited < 300_000; waited += 250)
        await new Promise((r) => setTimeout(r, 250));
    }
    const logout = backend.logouts.at(-1);
    if (backend.logouts.length === logouts || !logout) {
      process.stderr.write('the backend received no logout token\n');
      return 1;
    }
    process.stderr.write(`the backend received the logout token: sid ${logout.sid ?? '-'}, ${logout.ended} session ended\n`);

    say('latchkey api /api/whoami   (the session was ended; renewing it with the refresh token is refused too)');
    ({ code } = await latchkey(['api', '/api/whoami'], env));
    if (code !== 3) return code === 0 ? 1 : code;

    say(`Act 2: zero-config, a profile from the backend's URL alone\n  latchkey profile add zero --backend-url ${backend.url}`);
    ({ code } = await latchkey(['profile', 'add', 'zero', '--backend-url', backend.url], env));
    if (code !== 0) return code;
    say('latchkey login -p zero');
    ({ code } = await latchkey(['login', '-p', 'zero', '--timeout', auto ? '60' : '300'], env));
    if (code !== 0) return code;

    say('latchkey token inspect -p zero   (the IdP access token for the backend, decoded locally)');
    ({ code } = await latchkey(['token', 'inspect', '-p', 'zero'], env));
    if (code !== 0) return code;
    process.stderr.write('\nDone. The IdP and backend stop now; the config dir is removed.\n');
    return whoami.ok ? 0 : 1;
  } finally {
    await Promise.all([idp.close(), backend.close()]);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (error: Error) => {
    process.stderr.write(`demo failed: ${error.message}\n`);
    process.exit(1);
  },
);
