/**
 * `npm run demo`: the real `latchkey login` against a real OpenID Provider (oidc-provider) and the
 * reference backend, both started here on 127.0.0.1, in a throwaway config dir.
 *
 * With a display, your browser opens: sign in with any name and password, then allow access.
 * Without one (or with DEMO_AUTO=1, or in CI) a scripted user agent does the same.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startDevBackend } from './backend.js';
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

async function main(): Promise<number> {
  // The IdP lets clients register themselves (RFC 7591) and issues access tokens for the backend
  // (RFC 8707); the backend publishes where to log in (RFC 9728). The profile needs its URL alone.
  const idp = await startDevIdp({ registration: true });
  const backend = await startDevBackend({ issuer: idp.issuer, allowedClientIds: [idp.clientId] });
  idp.resourceServers.add(backend.url);
  const configDir = join(mkdtempSync(join(tmpdir(), 'latchkey-demo-')), 'config');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    LATCHKEY_CONFIG_DIR: configDir,
    // A throwaway credentials file next to the throwaway config: the demo never touches your keychain.
    LATCHKEY_STORAGE: 'file',
    ...(auto ? { BROWSER: `"${process.execPath}" "${userAgent}"` } : {}),
  };
  delete env.LATCHKEY_PROFILE;
  delete env.LATCHKEY_TOKEN;
  try {
    process.stderr.write(
      `latchkey demo\n  IdP (oidc-provider): ${idp.issuer}\n  backend (latchkey/backend): ${backend.url}\n  config dir: ${configDir}\n`,
    );
    say(`latchkey profile add demo --backend-url ${backend.url}`);
    let { code } = await latchkey(['profile', 'add', 'demo', '--backend-url', backend.url], env);
    if (code !== 0) return code;

    say(
      auto
        ? 'latchkey login   (a scripted browser signs in as "ada")'
        : 'latchkey login   (sign in with any name and password, then allow access)',
    );
    ({ code } = await latchkey(['login', '--timeout', auto ? '60' : '300'], env));
    if (code !== 0) return code;

    say('latchkey status');
    await latchkey(['status'], env);

    say('the backend takes the credential: GET /api/whoami with $(latchkey token)');
    const token = await latchkey(['token'], env, true);
    if (token.code !== 0) return token.code;
    const session = token.stdout.trim();
    const whoami = await fetch(`${backend.url}/api/whoami`, { headers: { authorization: `Bearer ${session}` } });
    process.stderr.write(`${whoami.status} ${await whoami.text()}\n`);

    say('latchkey token inspect   (the IdP access token for the backend, decoded locally)');
    ({ code } = await latchkey(['token', 'inspect'], env));
    if (code !== 0) return code;
    process.stderr.write('\nDone: the demo profile is logged in. The IdP and backend stop now; the config dir is removed.\n');
    return whoami.ok ? 0 : 1;
  } finally {
    await Promise.all([idp.close(), backend.close()]);
    rmSync(join(configDir, '..'), { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (error: Error) => {
    process.stderr.write(`demo failed: ${error.message}\n`);
    process.exit(1);
  },
);
