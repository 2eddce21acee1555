import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loginSetup, startStack, until, type Stack } from '../../helpers/stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack.close());

const stored = (configDir: string) =>
  existsSync(join(configDir, 'credentials.json')) ? readFileSync(join(configDir, 'credentials.json'), 'utf8') : '';

function portIsClosed(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

describe('latchkey login (browser, against oidc-provider and the reference backend)', () => {
  it('signs in, exchanges the id_token for a backend session, stores it, and `token` prints it', async () => {
    const setup = await loginSetup(stack);
    const tokenRequests = () => stack.idp.requests.filter((r) => r === 'POST /token').length;
    const before = tokenRequests();
    const login = await setup.run(['login']);
    expect(login.code, login.stderr).toBe(0);
    expect(login.stdout).toBe('');
    expect(login.stderr).toContain('Logged in to demo as ada@example.com');
    // The (start) URL is always printed for SSH users, and the browser page says it worked without caching.
    expect(login.stderr).toMatch(/visit:\s+http:\/\/127\.0\.0\.1:\d+\/start\/[\w-]+\n/);
    expect((await setup.uaDone()).at(-1)).toEqual({ step: 'callback', status: 200, title: 'Signed in', cacheControl: 'no-store' });
    expect(tokenRequests() - before).toBe(1);

    const token = await setup.run(['token']);
    expect(token.code).toBe(0);
    const session = token.stdout.trim();
    expect(stack.backend.sessions.get(session)).toEqual({ sub: 'ada', email: 'ada@example.com' });

    const status = JSON.parse((await setup.run(['status', '--json'])).stdout).profiles[0];
    expect(status).toMatchObject({
      name: 'demo',
      loggedIn: true,
      subject: 'ada',
      email: 'ada@example.com',
      storage: 'file',
      source: 'browser',
    });
    expect(Date.parse(status.expiresAt)).toBeGreaterThan(Date.now());
    expect(readFileSync(join(setup.configDir, 'config.json'), 'utf8')).not.toContain(session);
  });

  it('`oauth` is the same login; --json prints the result object on stdout only', async () => {
    const setup = await loginSetup(stack, ['--exchange-encoding', 'json']);
    const login = await setup.run(['oauth', '--json']);
    expect(login.code, login.stderr).toBe(0);
    expect(JSON.parse(login.stdout)).toMatchObject({ profile: 'demo', subject: 'ada', email: 'ada@example.com', storage: 'file' });
  });

  it('a backend that refuses the user: exit 4 with "Bad credentials", the diagnosis, the workaround, nothing stored', async () => {
    const refusing = await startStack({ backend: { knownSubjects: ['somebody-else'] } });
    try {
      const setup = await loginSetup(refusing);
      const login = await setup.run(['login']);
      expect(login.code).toBe(4);
      expect(login.stderr).toMatch(
        /the backend refused the login at 127\.0\.0\.1:\d+\/api\/cli-auth \(403 Bad credentials\); nothing was stored/,
      );
      expect(login.stderr).toContain(`iss ${refusing.idp.issuer}, aud ["latchkey-cli"]`);
      expect(login.stderr).toContain('must trust id_tokens issued to client latchkey-cli');
      expect(login.stderr).toContain('latchkey login --with-token -p demo');
      expect(login.stderr).not.toMatch(/\n\s+at /);
      expect(refusing.backend.refusals).toEqual(['unknown_user: no user for sub ada']);
      expect((await setup.uaDone()).at(-1)).toMatchObject({ step: 'callback', status: 400, title: 'Sign-in did not complete' });
      expect((await setup.run(['token'])).code).toBe(3);
      expect(stored(setup.configDir)).toBe('');
    } finally {
      await refusing.close();
    }
  });

  it('a backend that does not trust the CLI client id: exit 4 naming the client id', async () => {
    const webOnly = await startStack({ backend: { allowedClientIds: ['acme-web-app'] } });
    try {
      const setup = await loginSetup(webOnly);
      const login = await setup.run(['login']);
      expect(login.code).toBe(4);
      expect(login.stderr).toContain('Bad credentials');
      expect(login.stderr).toContain('client latchkey-cli');
      expect(webOnly.backend.refusals[0]).toMatch(/^audience_not_allowed/);
      expect((await setup.run(['token'])).code).toBe(3);
    } finally {
      await webOnly.close();
    }
  });

  it('access_denied at the IdP: exit 4 with the IdP description, nothing stored', async () => {
    const setup = await loginSetup(stack);
    const login = await setup.run(['login'], { ua: 'deny' });
    expect(login.code).toBe(4);
    expect(login.stderr).toContain('the IdP refused the sign-in (access_denied: End-User aborted interaction)');
    expect((await setup.uaDone()).at(-1)).toMatchObject({ step: 'callback', status: 400 });
    expect((await setup.run(['token'])).code).toBe(3);
  });

  it('forged and malformed requests to the listener are refused and the real login still succeeds', async () => {
    const setup = await loginSetup(stack);
    const login = await setup.run(['login']);
    expect(login.code).toBe(0);
    const attack = await loginSetup(stack);
    const attacked = await attack.run(['login'], { ua: 'attack' });
    expect(attacked.code, attacked.stderr).toBe(0);
    const statuses = Object.fromEntries((await attack.uaDone()).map((e) => [e.step, e.status]));
    expect(statuses).toMatchObject({ 'forged-state': 400, 'no-state': 400, favicon: 404, 'wrong-host': 404, post: 405 });
    expect([414, 431]).toContain(statuses.huge);
    expect(statuses.callback).toBe(200);
    expect((await attack.run(['token'])).code).toBe(0);
  });

  it('a fixed port that is taken: a clear error naming the port, at once; a free fallback port is used', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as AddressInfo).port;
    try {
      const setup = await loginSetup(stack, ['--redirect-uri', `http://127.0.0.1:${port}/callback`]);
      const started = Date.now();
      const login = await setup.run(['login']);
      expect(login.code).toBe(1);
      expect(login.stderr).toContain(`port ${port} on 127.0.0.1 is already in use`);
      // The hint names the real profile, not a placeholder.
      expect(login.stderr).toContain('fallback ports: latchkey profile set demo redirect-ports');
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(setup.uaLog()).toEqual([]);

      const free = await new Promise<number>((resolve) => {
        const probe = createServer().listen(0, '127.0.0.1', () => {
          const p = (probe.address() as AddressInfo).port;
          probe.close(() => resolve(p));
        });
      });
      const fallback = await loginSetup(stack, ['--redirect-uri', `http://127.0.0.1:${port}/callback`, '--redirect-ports', String(free)]);
      const ok = await fallback.run(['login']);
      expect(ok.code, ok.stderr).toBe(0);
      expect(fallback.uaLog().find((entry) => entry.step === 'open')).toMatchObject({ redirect_uri: `http://127.0.0.1:${free}/callback` });
    } finally {
      blocker.close();
    }
  });

  it('--timeout 2 with nobody signing in: exit 5, nothing stored', async () => {
    const setup = await loginSetup(stack);
    const started = Date.now();
    const login = await setup.run(['login', '--timeout', '2'], { ua: 'none' });
    expect(login.code).toBe(5);
    expect(login.stderr).toContain('no sign-in arrived within 2 s; nothing was stored');
    expect(Date.now() - started).toBeLessThan(8000);
    expect((await setup.run(['token'])).code).toBe(3);
  });

  it('--no-browser prints the URL and waits without starting a browser', async () => {
    const setup = await loginSetup(stack);
    const login = await setup.run(['login', '--no-browser', '--timeout', '1']);
    expect(login.code).toBe(5);
    expect(login.stderr).toMatch(/visit:\s+http:\/\/127\.0\.0\.1:\d+\/auth\?/);
    expect(setup.uaLog()).toEqual([]);
  });

  it('Ctrl-C while waiting: exit 130, the port closed, nothing stored', async () => {
    const setup = await loginSetup(stack);
    let child: import('node:child_process').ChildProcess | undefined;
    const running = setup.run(['login'], { ua: 'none', onSpawn: (c) => (child = c) });
    await until(() => setup.uaLog().length > 0);
    const port = Number(new URL(String(setup.uaLog()[0]!.url)).port);
    expect(await portIsClosed(port)).toBe(false);
    child!.kill('SIGINT');
    const login = await running;
    expect(login.code).toBe(130);
    expect(login.stderr).toContain('login cancelled; nothing was stored');
    expect(await portIsClosed(port)).toBe(true);
    expect((await setup.run(['token'])).code).toBe(3);
  });

  it('a discovery document for another issuer is refused (exit 2)', async () => {
    const setup = await loginSetup(stack);
    // The same server under another name: its document says 127.0.0.1, not localhost.
    expect((await setup.run(['profile', 'set', 'demo', 'issuer', stack.idp.issuer.replace('127.0.0.1', 'localhost')])).code).toBe(0);
    const login = await setup.run(['login']);
    expect(login.code).toBe(2);
    // Both issuers are named, as doctor does: the one configured and the one the document gives.
    const local = stack.idp.issuer.replace('127.0.0.1', 'localhost');
    expect(login.stderr).toContain(`the discovery document of ${local} names the issuer "${stack.idp.issuer}", not "${local}"`);
  });
});

describe('no backendUrl: the IdP tokens are the credential', () => {
  let shortLived: Stack;
  beforeAll(async () => {
    // Access tokens live 30 s: inside `token`'s 60 s margin, so every `token` renews first.
    shortLived = await startStack({ idp: { accessTokenTtl: 30 } });
  });
  afterAll(() => shortLived.close());

  it('stores the OAuth tokens; `token` renews an expiring access token with the refresh token', async () => {
    const setup = await loginSetup(shortLived, [], { backend: false });
    const login = await setup.run(['login']);
    expect(login.code, login.stderr).toBe(0);
    const first = JSON.parse(stored(setup.configDir)).latchkey.demo;
    const record = JSON.parse(first);
    expect(record).toMatchObject({ kind: 'oauth', via: 'browser', subject: 'ada', email: 'ada@example.com' });
    expect(record.refreshToken).toEqual(expect.any(String));

    const refreshesBefore = shortLived.idp.requests.filter((r) => r === 'POST /token').length;
    const token = await setup.run(['token']);
    expect(token.code, token.stderr).toBe(0);
    expect(token.stdout.trim()).not.toBe(record.token);
    expect(shortLived.idp.requests.filter((r) => r === 'POST /token').length).toBe(refreshesBefore + 1);
    const renewed = JSON.parse(JSON.parse(stored(setup.configDir)).latchkey.demo);
    expect(renewed.token).toBe(token.stdout.trim());
    expect(JSON.parse((await setup.run(['status', '--json'])).stdout).profiles[0].loggedIn).toBe(true);
  });

  it('a refused refresh is exit 3 "log in again", and the stored record is left as it was', async () => {
    const setup = await loginSetup(shortLived, [], { backend: false });
    expect((await setup.run(['login'])).code).toBe(0);
    // Spend the refresh token once (rotation), then put the old record back: its refresh token is now invalid.
    const before = stored(setup.configDir);
    expect((await setup.run(['token'])).code).toBe(0);
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(setup.configDir, 'credentials.json'), before, { mode: 0o600 });
    const refused = await setup.run(['token']);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/would not renew.*invalid_grant/);
    expect(refused.stderr).toContain('latchkey login -p demo again');
    expect(stored(setup.configDir)).toBe(before);
  });
});
