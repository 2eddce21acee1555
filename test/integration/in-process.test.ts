import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempConfigDir } from '../helpers/cli.js';
import { createTestRoot, TestClock } from '../helpers/root.js';
import { startStack, USER_AGENT, type Stack } from '../helpers/stack.js';

// Expiry, renewal and re-minting through the composition root, in this process: the clock is
// moved instead of waited for, the keychain is in memory, the IdP is the real in-process one.
const SECRET = 'svc-secret-0123456789-abcdefghij-0123456789';
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    idp: {
      clientCredentialsTtl: 600,
      clients: [
        {
          client_id: 'svc',
          client_secret: SECRET,
          grant_types: ['client_credentials'],
          response_types: [],
          redirect_uris: [],
          token_endpoint_auth_method: 'client_secret_basic',
          scope: 'account:usage:read',
        },
      ],
    },
  });
});
afterAll(() => stack.close());

const tokenRequests = () => stack.idp.requests.filter((r) => r === 'POST /token').length;

describe('in process, with a clock the test moves', () => {
  it('a service token is used until 30 s before its end, then re-minted; the record lives in the keychain only', async () => {
    const root = createTestRoot();
    const configDir = tempConfigDir();
    const add = await root.run(
      ['profile', 'add', 'svc', '--issuer', stack.idp.issuer, '--client-id', 'svc', '--scopes', 'account:usage:read'],
      { configDir },
    );
    expect(add.code, add.stderr).toBe(0);
    const login = await root.run(['login', '--client-credentials'], { configDir, env: { LATCHKEY_CLIENT_SECRET: SECRET } });
    expect(login.code, login.stderr).toBe(0);
    const first = (await root.run(['token'], { configDir })).stdout.trim();
    const before = tokenRequests();

    root.clock.advance(600 - 45);
    expect((await root.run(['token'], { configDir })).stdout.trim()).toBe(first);
    expect(tokenRequests()).toBe(before);

    root.clock.advance(20);
    const second = await root.run(['token'], { configDir });
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout.trim()).not.toBe(first);
    expect(tokenRequests()).toBe(before + 1);

    expect([...root.keychain.entries.keys()]).toEqual(['latchkey\u0000svc']);
    expect(readFileSync(join(configDir, 'config.json'), 'utf8')).not.toContain(second.stdout.trim());
  });

  it('an OAuth login is refreshed a minute before its end, and status says "logged in" while it can be renewed', async () => {
    const root = createTestRoot({ env: { BROWSER: `"${process.execPath}" "${USER_AGENT}"` } });
    const configDir = tempConfigDir();
    expect(
      (
        await root.run(['profile', 'add', 'demo', '--issuer', stack.idp.issuer, '--client-id', stack.idp.clientId, '--prompt', 'consent'], {
          configDir,
        })
      ).code,
    ).toBe(0);
    const login = await root.run(['login'], { configDir });
    expect(login.code, login.stderr).toBe(0);
    const first = (await root.run(['token'], { configDir })).stdout.trim();
    const before = tokenRequests();

    root.clock.advance(3600 - 90);
    expect((await root.run(['token'], { configDir })).stdout.trim()).toBe(first);
    root.clock.advance(45);
    const renewed = await root.run(['token'], { configDir });
    expect(renewed.code, renewed.stderr).toBe(0);
    expect(renewed.stdout.trim()).not.toBe(first);
    expect(tokenRequests()).toBe(before + 1);
    expect((await root.run(['status'], { configDir })).code).toBe(0);
  });

  it('a --with-token JWT: usable until a minute before its exp, then exit 3 for token and status, with the pipe hint', async () => {
    const root = createTestRoot({ clock: new TestClock(new Date('2026-11-25T12:00:00Z')) });
    const configDir = tempConfigDir();
    expect((await root.run(['profile', 'add', 'ci', '--issuer', 'https://idp.example', '--client-id', 'c'], { configDir })).code).toBe(0);
    const exp = Math.floor(Date.parse('2026-11-25T13:00:00Z') / 1000);
    const jwt = await new SignJWT({ sub: 'ci', exp }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode('k'.repeat(32)));
    expect((await root.run(['login', '--with-token'], { configDir, input: jwt })).code).toBe(0);
    root.clock.advance(3600 - 61);
    expect((await root.run(['token'], { configDir })).code).toBe(0);
    expect((await root.run(['status'], { configDir })).code).toBe(0);
    root.clock.advance(2);
    const token = await root.run(['token'], { configDir });
    expect(token.code).toBe(3);
    expect(token.stderr).toContain('Pipe a current token: echo "$TOKEN" | latchkey login --with-token -p ci');
    const status = await root.run(['status'], { configDir });
    expect(status.code).toBe(3);
    expect(status.stdout).toMatch(/ci \*\s+expired/);
  });

  it('a backend session is renewed silently through the IdP refresh token, checked and exchanged again', async () => {
    const short = await startStack({ backend: { sessionTtlSec: 300 } });
    try {
      const root = createTestRoot({ env: { BROWSER: `"${process.execPath}" "${USER_AGENT}"` } });
      const configDir = tempConfigDir();
      const add = ['profile', 'add', 'demo', '--issuer', short.idp.issuer, '--client-id', short.idp.clientId, '--prompt', 'consent'];
      expect((await root.run([...add, '--backend-url', short.backend.url], { configDir })).code).toBe(0);
      const login = await root.run(['login'], { configDir });
      expect(login.code, login.stderr).toBe(0);
      const first = (await root.run(['token'], { configDir })).stdout.trim();
      expect(short.backend.sessions.has(first)).toBe(true);
      expect((await root.run(['status', '--json'], { configDir })).stdout).toContain('"loggedIn": true');

      root.clock.advance(300 - 90);
      expect((await root.run(['token'], { configDir })).stdout.trim()).toBe(first);
      root.clock.advance(45); // 45 s left: inside the one-minute margin
      const renewed = await root.run(['token'], { configDir });
      expect(renewed.code, renewed.stderr).toBe(0);
      const second = renewed.stdout.trim();
      expect(second).not.toBe(first);
      expect(short.backend.sessions.get(second)).toMatchObject({ sub: 'ada' });
      expect(renewed.stderr).toBe('');
      const record = JSON.parse(root.keychain.entries.get('latchkey\u0000demo') ?? '{}') as { kind?: string; refreshToken?: string };
      expect(record).toMatchObject({ kind: 'session', refreshToken: expect.any(String) });
    } finally {
      await short.close();
    }
  });

  it('a session that cannot be renewed, 58 s before its end: "expires in 58 s", not "expired at" a time to come', async () => {
    const noRefresh = await startStack({ idp: { refreshTokenFor: () => false }, backend: { sessionTtlSec: 300 } });
    try {
      const root = createTestRoot({ env: { BROWSER: `"${process.execPath}" "${USER_AGENT}"` } });
      const configDir = tempConfigDir();
      const add = [
        'profile',
        'add',
        'demo',
        '--issuer',
        noRefresh.idp.issuer,
        '--client-id',
        noRefresh.idp.clientId,
        '--prompt',
        'consent',
      ];
      expect((await root.run([...add, '--backend-url', noRefresh.backend.url], { configDir })).code).toBe(0);
      expect((await root.run(['login'], { configDir })).code).toBe(0);
      const expiresAt = Date.parse(
        (JSON.parse((await root.run(['status', '--json'], { configDir })).stdout) as { profiles: Array<{ expiresAt: string }> })
          .profiles[0]!.expiresAt,
      );
      root.clock.advance((expiresAt - root.clock.now().getTime()) / 1000 - 58);
      const token = await root.run(['token'], { configDir });
      expect(token.code).toBe(3);
      expect(token.stderr).toMatch(/expires in 58 s \(at .*\), too soon to be used, and cannot be renewed/);
      expect(token.stderr).not.toContain('expired at');
      const status = await root.run(['status'], { configDir });
      expect(status.code).toBe(3);
      expect(status.stderr).toContain('expires in 58 s');
    } finally {
      await noRefresh.close();
    }
  });
});
