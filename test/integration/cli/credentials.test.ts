import { chmodSync, existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempConfigDir } from '../../helpers/cli.js';
import { runInProcess } from '../../helpers/root.js';

const ISSUER = 'https://idp.example.com';
// No Secret Service on this bus address: `auto` storage must fall back to the file.
const NO_KEYCHAIN = { DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/latchkey-test-bus' };
const SECRET = 'lk_live_0123456789abcdefSECRET';

/** A backend with a whoami endpoint: 200 for `good-token`, 401 with an error text otherwise. */
let backend: Server;
let backendUrl: string;
const seen: string[] = [];

beforeAll(async () => {
  backend = createServer((req, res) => {
    seen.push(`${req.method} ${req.url} ${req.headers.authorization ?? ''}`);
    if (req.url !== '/api/whoami') return void res.writeHead(404).end();
    if (req.headers.authorization === `Bearer ${SECRET}`) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ user: { id: 42, email: 'ci@example.com' } }));
    } else {
      res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'Bad credentials' }));
    }
  });
  await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
  backendUrl = `http://127.0.0.1:${(backend.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => backend.close(() => resolve())));

async function profileDir(storage = 'file', extra: string[] = []): Promise<string> {
  const configDir = tempConfigDir();
  const added = await runInProcess(['profile', 'add', 'ci', '--issuer', ISSUER, '--client-id', 'cli', '--storage', storage, ...extra], {
    configDir,
  });
  expect(added.code, added.stderr).toBe(0);
  return configDir;
}

describe('login --with-token, token, logout', () => {
  it('stores the token from stdin, prints it with `token`, and forgets it on logout (then exit 3)', async () => {
    const configDir = await profileDir();
    const login = await runCli(['login', '--with-token'], { configDir, input: `${SECRET}\n` });
    expect(login.code, login.stderr).toBe(0);
    expect(login.stdout).toBe('');
    expect(login.stderr).toContain('Logged in to ci');

    const token = await runCli(['token'], { configDir });
    expect(token.code).toBe(0);
    expect(token.stdout).toBe(`${SECRET}\n`);

    const logout = await runCli(['logout'], { configDir });
    expect(logout.code, logout.stderr).toBe(0);
    const after = await runCli(['token'], { configDir });
    expect(after.code).toBe(3);
    expect(after.stdout).toBe('');
    expect(after.stderr).toMatch(/not logged in.*latchkey login/is);
    expect(readFileSync(join(configDir, 'credentials.json'), 'utf8')).not.toContain(SECRET);
  });

  it('keeps the secret out of config.json, at 0600 in a 0700 dir', async () => {
    const configDir = await profileDir();
    expect((await runCli(['login', '--with-token'], { configDir, input: SECRET })).code).toBe(0);
    expect(readFileSync(join(configDir, 'config.json'), 'utf8')).not.toContain(SECRET);
    expect(readFileSync(join(configDir, 'credentials.json'), 'utf8')).toContain(SECRET);
    expect(statSync(configDir).mode & 0o777).toBe(0o700);
    expect(statSync(join(configDir, 'credentials.json')).mode & 0o777).toBe(0o600);
    expect(statSync(join(configDir, 'config.json')).mode & 0o777).toBe(0o600);
  });

  it('puts a credentials file found with a looser mode back to 0600, and says so', async () => {
    const configDir = await profileDir();
    expect((await runCli(['login', '--with-token'], { configDir, input: SECRET })).code).toBe(0);
    chmodSync(join(configDir, 'credentials.json'), 0o644);
    const token = await runCli(['token'], { configDir });
    expect(token.code).toBe(0);
    expect(token.stdout).toBe(`${SECRET}\n`);
    expect(token.stderr).toMatch(/credentials\.json was readable by others \(mode 644\); set it back to 600/);
    expect(statSync(join(configDir, 'credentials.json')).mode & 0o777).toBe(0o600);
  });

  it('warns that --token puts the token where other users can see it', async () => {
    const configDir = await profileDir();
    const login = await runCli(['login', '--token', SECRET], { configDir });
    expect(login.code).toBe(0);
    expect(login.stderr).toMatch(/visible to other users/);
    expect((await runCli(['token'], { configDir })).stdout).toBe(`${SECRET}\n`);
  });

  it('refuses an empty token with exit 2 and stores nothing', async () => {
    const configDir = await profileDir();
    const login = await runCli(['login', '--with-token'], { configDir, input: '  \n' });
    expect(login.code).toBe(2);
    expect(login.stderr).toMatch(/no token given/);
    expect((await runCli(['token'], { configDir })).code).toBe(3);
  });

  it('logout --all forgets every profile', async () => {
    const configDir = await profileDir();
    expect(
      (await runInProcess(['profile', 'add', 'other', '--issuer', ISSUER, '--client-id', 'x', '--storage', 'file'], { configDir })).code,
    ).toBe(0);
    expect((await runCli(['login', '--with-token'], { configDir, input: 'one' })).code).toBe(0);
    expect((await runCli(['login', '--with-token', '-p', 'other'], { configDir, input: 'two' })).code).toBe(0);
    expect((await runCli(['logout', '--all'], { configDir })).code).toBe(0);
    expect((await runCli(['token'], { configDir })).code).toBe(3);
    expect((await runCli(['token', '-p', 'other'], { configDir })).code).toBe(3);
  });
});

describe('which credential `token` prints', () => {
  it('LATCHKEY_TOKEN, then the profile tokenEnv, then the stored one; status names the source', async () => {
    const configDir = await profileDir('file', ['--token-env', 'ACME_API_KEY']);
    expect((await runCli(['login', '--with-token'], { configDir, input: 'stored-token' })).code).toBe(0);

    expect((await runCli(['token'], { configDir })).stdout).toBe('stored-token\n');
    expect((await runCli(['token'], { configDir, env: { ACME_API_KEY: 'profile-env' } })).stdout).toBe('profile-env\n');
    expect((await runCli(['token'], { configDir, env: { ACME_API_KEY: 'profile-env', LATCHKEY_TOKEN: 'global-env' } })).stdout).toBe(
      'global-env\n',
    );

    const status = async (env: Record<string, string>) =>
      JSON.parse((await runCli(['status', '--json'], { configDir, env })).stdout).profiles[0].source;
    expect(await status({})).toBe('with-token');
    expect(await status({ ACME_API_KEY: 'x' })).toBe('env:ACME_API_KEY');
    expect(await status({ ACME_API_KEY: 'x', LATCHKEY_TOKEN: 'y' })).toBe('env:LATCHKEY_TOKEN');
  });

  it('an env token works with nothing stored', async () => {
    const configDir = await profileDir();
    const token = await runCli(['token'], { configDir, env: { LATCHKEY_TOKEN: 'from-env' } });
    expect(token.code).toBe(0);
    expect(token.stdout).toBe('from-env\n');
  });
});

describe('status', () => {
  it('--json is pure JSON with the fields of the design', async () => {
    const configDir = await profileDir('file', ['--backend-url', backendUrl, '--whoami-path', '/api/whoami']);
    expect((await runInProcess(['profile', 'add', 'idle', '--issuer', ISSUER, '--client-id', 'x'], { configDir })).code).toBe(0);
    expect((await runCli(['login', '--with-token'], { configDir, input: SECRET })).code).toBe(0);
    const status = await runCli(['status', '--json'], { configDir });
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toEqual({
      profiles: [
        {
          name: 'ci',
          default: true,
          loggedIn: true,
          subject: '42',
          email: 'ci@example.com',
          expiresAt: null,
          storage: 'file',
          source: 'with-token',
        },
        { name: 'idle', default: false, loggedIn: false, subject: null, email: null, expiresAt: null, storage: null, source: null },
      ],
    });
    const human = await runCli(['status'], { configDir });
    expect(human.stdout).toMatch(/ci \*\s+logged in\s+ci@example\.com/);
    expect(human.stdout).toMatch(/idle\s+not logged in/);
  });
});

describe('login --with-token checked with whoamiPath', () => {
  it('a token the backend refuses is exit 4 with its error text, and the previous credential stays', async () => {
    const configDir = await profileDir('file', ['--backend-url', backendUrl, '--whoami-path', '/api/whoami']);
    expect((await runCli(['login', '--with-token'], { configDir, input: SECRET })).code).toBe(0);
    const config = readFileSync(join(configDir, 'config.json'));

    const refused = await runCli(['login', '--with-token'], { configDir, input: 'stale-token' });
    expect(refused.code).toBe(4);
    expect(refused.stderr).toContain('Bad credentials');
    expect(refused.stderr).toContain('nothing was stored');
    expect(refused.stderr.trim().split('\n')[0]).toMatch(/^latchkey: /);
    expect((await runCli(['token'], { configDir })).stdout).toBe(`${SECRET}\n`);
    expect(readFileSync(join(configDir, 'config.json')).equals(config)).toBe(true);
  });

  it('--debug traces the request with the token redacted; no secret reaches stdout, stderr or config', async () => {
    const configDir = await profileDir('file', ['--backend-url', backendUrl, '--whoami-path', '/api/whoami']);
    const login = await runCli(['login', '--with-token', '--debug'], { configDir, input: SECRET });
    expect(login.code, login.stderr).toBe(0);
    expect(login.stderr).toMatch(/GET http:\/\/127\.0\.0\.1:\d+\/api\/whoami/);
    expect(login.stderr).toMatch(/authorization: REDACTED/);
    const status = await runCli(['status', '--debug'], { configDir });
    for (const run of [login, status]) expect(run.stdout + run.stderr).not.toContain(SECRET);
    expect(readFileSync(join(configDir, 'config.json'), 'utf8')).not.toContain(SECRET);
    expect(seen.some((line) => line.endsWith(`Bearer ${SECRET}`))).toBe(true);
  });
});

describe('storage when no keychain is reachable', () => {
  it('auto falls back to the credentials file with one warning', async () => {
    const configDir = await profileDir('auto');
    const login = await runCli(['login', '--with-token'], { configDir, input: SECRET, env: NO_KEYCHAIN });
    expect(login.code, login.stderr).toBe(0);
    expect(login.stderr.match(/keychain/gi)?.length).toBeGreaterThanOrEqual(1);
    expect(login.stderr.split('\n').filter((line) => /warning/i.test(line))).toHaveLength(1);
    expect(existsSync(join(configDir, 'credentials.json'))).toBe(true);
    const status = JSON.parse((await runCli(['status', '--json'], { configDir, env: NO_KEYCHAIN })).stdout);
    expect(status.profiles[0].storage).toBe('file');
    expect((await runCli(['token'], { configDir, env: NO_KEYCHAIN })).stdout).toBe(`${SECRET}\n`);
  });

  it('storage keychain is exit 6 with the ways out, and the previous credential stays', async () => {
    const configDir = await profileDir('file');
    expect((await runCli(['login', '--with-token'], { configDir, input: SECRET })).code).toBe(0);
    const config = readFileSync(join(configDir, 'config.json'));

    const login = await runCli(['login', '--with-token'], {
      configDir,
      input: 'new-token',
      env: { ...NO_KEYCHAIN, LATCHKEY_STORAGE: 'keychain', LATCHKEY_KEYCHAIN_TIMEOUT: '2' },
    });
    expect(login.code).toBe(6);
    expect(login.stderr).toMatch(/keychain/i);
    expect(login.stderr).toMatch(/LATCHKEY_STORAGE=file|storage file/);
    expect(login.stderr).not.toMatch(/\n\s+at /);
    expect(readFileSync(join(configDir, 'config.json')).equals(config)).toBe(true);
    expect((await runCli(['token'], { configDir })).stdout).toBe(`${SECRET}\n`);
  });
});
