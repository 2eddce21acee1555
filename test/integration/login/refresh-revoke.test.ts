import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INTROSPECTOR_CLIENT, isActive, loginSetup, startStack, until, type Stack } from '../../helpers/stack.js';

// Refresh with rotation and revocation at logout, against oidc-provider (access tokens of 30 s:
// inside `token`'s 60 s margin, so `token` always refreshes first).
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    idp: {
      accessTokenTtl: 30,
      clients: [INTROSPECTOR_CLIENT],
    },
  });
});
afterAll(() => stack.close());

const record = (configDir: string) => JSON.parse(JSON.parse(readFileSync(join(configDir, 'credentials.json'), 'utf8')).latchkey.demo);
const refreshes = () => stack.idp.requests.filter((r) => r === 'POST /token').length;

async function loggedIn() {
  const setup = await loginSetup(stack, [], { backend: false });
  const login = await setup.run(['login']);
  if (login.code !== 0) throw new Error(login.stderr);
  return setup;
}

describe('refresh with a rotating refresh token', () => {
  it('two `token` started together both succeed with one refresh request; the new refresh token replaced the old', async () => {
    const setup = await loggedIn();
    const before = record(setup.configDir);
    const count = refreshes();
    const [a, b] = await Promise.all([setup.run(['token']), setup.run(['token'])]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    expect(refreshes()).toBe(count + 1);
    const after = record(setup.configDir);
    expect(after.token).toBe(a.stdout.trim());
    expect(after.refreshToken).not.toBe(before.refreshToken);
    expect(await isActive(stack, before.refreshToken)).toBe(false);
    expect(await isActive(stack, after.refreshToken)).toBe(true);
  });

  it('logout during a refresh waits for it, then revokes and deletes what it stored: nothing is written back after "Logged out"', async () => {
    const setup = await loggedIn();
    let refreshed = false;
    // The IdP has rotated the tokens, but its answer is slow to arrive: logout starts meanwhile.
    stack.idp.hooks.after = async (ctx) => {
      if (ctx.path === '/token') {
        // Installed after the login: the next token request is the refresh.
        refreshed = true;
        await new Promise((resolve) => setTimeout(resolve, 1500));
      }
    };
    try {
      const token = setup.run(['token']);
      await until(() => refreshed);
      const logout = await setup.run(['logout']);
      const printed = await token;
      expect(logout.code, logout.stderr).toBe(0);
      expect(logout.stderr).toContain('Logged out of demo.');
      expect(printed.code, printed.stderr).toBe(0);
      // The refreshed credential was what logout found: revoked at the IdP, gone locally.
      expect(await isActive(stack, printed.stdout.trim())).toBe(false);
      expect(JSON.parse((await setup.run(['status', '--json'])).stdout).profiles[0]).toMatchObject({ loggedIn: false });
      expect(JSON.parse(readFileSync(join(setup.configDir, 'credentials.json'), 'utf8')).latchkey).toEqual({});
      expect((await setup.run(['token'])).code).toBe(3);
    } finally {
      stack.idp.hooks = {};
    }
  });

  it('token --refresh renews a credential that has not expired (plain `token` does not)', async () => {
    const hourly = await startStack();
    try {
      const setup = await loginSetup(hourly, [], { backend: false });
      expect((await setup.run(['login'])).code).toBe(0);
      const first = record(setup.configDir).token;
      const tokenRequests = () => hourly.idp.requests.filter((r) => r === 'POST /token').length;
      const count = tokenRequests();
      expect((await setup.run(['token'])).stdout.trim()).toBe(first);
      expect(tokenRequests()).toBe(count);
      const renewed = await setup.run(['token', '--refresh']);
      expect(renewed.code).toBe(0);
      expect(renewed.stdout.trim()).not.toBe(first);
      expect(tokenRequests()).toBe(count + 1);
    } finally {
      await hourly.close();
    }
  });

  it('token --refresh on a credential that cannot be renewed is exit 3', async () => {
    const setup = await loginSetup(stack, [], { backend: false });
    expect((await setup.run(['login', '--with-token'], { input: 'an-api-key' })).code).toBe(0);
    const result = await setup.run(['token', '--refresh']);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('cannot be renewed');
  });
});

describe('logout revokes at the IdP (RFC 7009)', () => {
  it('the refresh and access tokens are inactive afterwards, and the local credential is gone', async () => {
    const setup = await loggedIn();
    const { refreshToken, token } = record(setup.configDir);
    expect(await isActive(stack, refreshToken)).toBe(true);
    const logout = await setup.run(['logout']);
    expect(logout.code, logout.stderr).toBe(0);
    expect(await isActive(stack, refreshToken)).toBe(false);
    expect(await isActive(stack, token)).toBe(false);
    expect((await setup.run(['token'])).code).toBe(3);
  });

  it('--no-revoke leaves them active at the IdP', async () => {
    const setup = await loggedIn();
    const { refreshToken } = record(setup.configDir);
    expect((await setup.run(['logout', '--no-revoke'])).code).toBe(0);
    expect(await isActive(stack, refreshToken)).toBe(true);
    expect((await setup.run(['token'])).code).toBe(3);
  });

  it('a 503 with Retry-After is waited out', async () => {
    const setup = await loggedIn();
    const { refreshToken } = record(setup.configDir);
    let refused = 0;
    stack.idp.hooks.before = (ctx) => {
      if (ctx.path !== '/token/revocation' || refused > 0) return false;
      refused += 1;
      ctx.status = 503;
      ctx.set('retry-after', '1');
      ctx.body = '';
      return true;
    };
    try {
      const logout = await setup.run(['logout']);
      expect(logout.code).toBe(0);
      expect(logout.stderr).not.toMatch(/warning/);
      expect(refused).toBe(1);
      expect(await isActive(stack, refreshToken)).toBe(false);
    } finally {
      stack.idp.hooks = {};
    }
  });

  it('a failed revocation warns, and the local credential is removed anyway', async () => {
    const setup = await loggedIn();
    stack.idp.hooks.before = (ctx) => {
      if (ctx.path !== '/token/revocation') return false;
      ctx.status = 500;
      ctx.body = { error: 'server_error', error_description: 'revocation is down' };
      return true;
    };
    try {
      const logout = await setup.run(['logout']);
      expect(logout.code).toBe(0);
      expect(logout.stderr).toMatch(/warning: could not revoke the tokens of "demo" at the IdP .*the local credential is removed anyway/);
      expect((await setup.run(['token'])).code).toBe(3);
    } finally {
      stack.idp.hooks = {};
    }
  });
});
