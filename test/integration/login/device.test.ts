import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loginSetup, startStack, type Stack } from '../../helpers/stack.js';

// The device authorization grant (RFC 8628) against oidc-provider; the scripted user agent opens
// the verification URL and confirms the code, as a person on another machine would.
let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack.close());

/** Make the IdP hand out a 1 s polling interval, so the tests do not wait 5 s per poll. */
function fastPolling(target: Stack): void {
  target.idp.hooks.after = (ctx) => {
    const body = ctx.body as { device_code?: string; interval?: number } | undefined;
    if (ctx.path === '/device/auth' && body?.device_code) body.interval = 1;
  };
}

describe('latchkey login --device', () => {
  it('prints the code and the links, the user confirms elsewhere, and the backend session is stored', async () => {
    fastPolling(stack);
    try {
      const setup = await loginSetup(stack);
      const login = await setup.run(['login', '--device']);
      expect(login.code, login.stderr).toBe(0);
      expect(login.stderr).toMatch(/open http:\/\/127\.0\.0\.1:\d+\/device and enter the code\s+[A-Z]{4}-[A-Z]{4}/);
      expect(login.stderr).toMatch(/\/device\?user_code=[A-Z]{4}-[A-Z]{4}/);
      expect(login.stderr).toContain('Logged in to demo as ada@example.com');
      expect((await setup.uaDone()).map((e) => e.step)).toContain('device-confirm');
      expect((await setup.uaDone()).at(-1)).toMatchObject({ step: 'device-done', title: 'Sign-in Success' });
      const status = JSON.parse((await setup.run(['status', '--json'])).stdout).profiles[0];
      expect(status).toMatchObject({ loggedIn: true, source: 'device', email: 'ada@example.com' });
      expect((await setup.run(['token'])).code).toBe(0);
    } finally {
      stack.idp.hooks = {};
    }
  });

  it('Abort on the confirm page is access_denied: exit 4, nothing stored', async () => {
    fastPolling(stack);
    try {
      const setup = await loginSetup(stack);
      const login = await setup.run(['login', '--device'], { ua: 'deny' });
      expect(login.code).toBe(4);
      expect(login.stderr).toContain('access_denied');
      expect((await setup.run(['token'])).code).toBe(3);
    } finally {
      stack.idp.hooks = {};
    }
  });

  it('slow_down adds 5 s to the interval, and a 503 with Retry-After is waited out', async () => {
    const polls: number[] = [];
    let answered = 0;
    stack.idp.hooks.before = (ctx) => {
      if (ctx.path !== '/token') return false;
      polls.push(Date.now());
      answered += 1;
      if (answered === 1) {
        ctx.status = 400;
        ctx.body = { error: 'slow_down' };
        return true;
      }
      if (answered === 2) {
        ctx.status = 503;
        ctx.set('retry-after', '1');
        ctx.body = '';
        return true;
      }
      return false;
    };
    fastPolling(stack);
    try {
      const setup = await loginSetup(stack);
      const login = await setup.run(['login', '--device'], { timeoutMs: 40_000 });
      expect(login.code, login.stderr).toBe(0);
      expect(polls.length).toBeGreaterThanOrEqual(3);
      // 1 s interval + 5 s after slow_down.
      expect(polls[1]! - polls[0]!).toBeGreaterThanOrEqual(5500);
    } finally {
      stack.idp.hooks = {};
    }
  }, 40_000);

  it('a code that expires before anyone enters it: exit 5, "run login again"', async () => {
    const shortCodes = await startStack({ idp: { deviceCodeTtl: 2 } });
    fastPolling(shortCodes);
    try {
      const setup = await loginSetup(shortCodes);
      const login = await setup.run(['login', '--device', '--no-browser']);
      expect(login.code).toBe(5);
      expect(login.stderr).toContain('the code expired before it was entered; nothing was stored');
      expect(login.stderr).toContain('latchkey login --device again');
    } finally {
      await shortCodes.close();
    }
  });

  it('an IdP without a device endpoint says so (exit 2)', async () => {
    const noDevice = await startStack({ idp: { deviceFlow: false } });
    try {
      const setup = await loginSetup(noDevice);
      const login = await setup.run(['login', '--device']);
      expect(login.code).toBe(2);
      expect(login.stderr).toContain('does not offer the device flow');
    } finally {
      await noDevice.close();
    }
  });

  it('when no browser opens for the browser login, the URL is printed and --device suggested', async () => {
    const setup = await loginSetup(stack);
    const login = await setup.run(['login', '--timeout', '1'], { env: { BROWSER: '/nonexistent/browser' } });
    expect(login.code).toBe(5);
    expect(login.stderr).toMatch(/could not open a browser .*latchkey login --device\):\s+http:\/\/127\.0\.0\.1:\d+\/auth\?/);
  });
});
