import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loginSetup, startStack, type Stack } from '../helpers/stack.js';

// The network lies, fails or hangs: the IdP's token endpoint and the backend's CLI-auth endpoint
// answer badly. Each ends in a clear error and leaves the previous credential in place.
let stack: Stack;
let bad: Server;
let badUrl: string;
const refererHits: string[] = [];

beforeAll(async () => {
  stack = await startStack();
  // A backend that misbehaves in the way its path says.
  bad = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path === '/elsewhere') {
      refererHits.push(req.headers.authorization ?? 'no authorization');
      return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"token":"stolen"}');
    }
    req.resume();
    req.on('end', () => {
      switch (path) {
        case '/500':
          return void res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"internal"}');
        case '/502':
          return void res
            .writeHead(502, { 'content-type': 'text/html' })
            .end('<html><body><h1>502 Bad Gateway</h1><script>alert(1)</script></body></html>');
        case '/big':
          res.writeHead(200, { 'content-type': 'application/json' });
          res.write('{"token":"');
          res.end(`${'x'.repeat(5 * 1024 * 1024)}"}`);
          return;
        case '/reset':
          return void req.socket.destroy();
        case '/redirect':
          return void res.writeHead(307, { location: `${badUrl}/elsewhere` }).end();
        default:
          return void res.writeHead(404).end();
      }
    });
  });
  await new Promise<void>((resolve) => bad.listen(0, '127.0.0.1', resolve));
  badUrl = `http://127.0.0.1:${(bad.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await stack.close();
  bad.close();
  bad.closeAllConnections();
});

/** A profile logged in once for real, so each failure can be checked to keep that credential. */
async function loggedIn() {
  const setup = await loginSetup(stack);
  expect((await setup.run(['login'])).code).toBe(0);
  const before = (await setup.run(['token'])).stdout;
  expect(before).not.toBe('');
  return { setup, before };
}

describe('the backend CLI-auth endpoint misbehaves', () => {
  it.each([
    ['/500', 5, /answered 500; nothing was stored/],
    ['/502', 5, /answered 502; nothing was stored/],
    ['/big', 1, /answered with more than 1024 KiB/],
    ['/reset', 5, /cannot reach 127\.0\.0\.1:\d+: (connection reset|other side closed|socket hang up|fetch failed)/i],
    ['/redirect', 1, /answered 307; nothing was stored/],
  ])('%s: a clear error, and the previous credential stays', async (path, code, message) => {
    const { setup, before } = await loggedIn();
    expect((await setup.run(['profile', 'set', 'demo', 'backend-url', badUrl])).code).toBe(0);
    expect((await setup.run(['profile', 'set', 'demo', 'exchange-path', path])).code).toBe(0);
    const login = await setup.run(['login']);
    expect(login.code, login.stderr).toBe(code);
    expect(login.stderr).toMatch(message);
    expect(login.stderr).not.toContain('<script>');
    expect(login.stderr).not.toMatch(/\n\s+at /);
    expect((await setup.run(['token'])).stdout).toBe(before);
  });

  it('a redirect is not followed with the token', () => {
    expect(refererHits).toEqual([]);
  });
});

describe('the IdP token endpoint misbehaves', () => {
  const answer =
    (status: number, body: string, type = 'application/json') =>
    (ctx: Parameters<NonNullable<Stack['idp']['hooks']['before']>>[0]) => {
      if (ctx.path !== '/token') return false;
      ctx.status = status;
      ctx.type = type;
      ctx.body = body;
      return true;
    };

  it.each([
    [
      'an OAuth error body',
      answer(400, '{"error":"invalid_grant","error_description":"code already used"}'),
      4,
      /the IdP refused the token request \(invalid_grant: code already used\)/,
    ],
    ['a body that is not JSON', answer(200, '<html>maintenance</html>', 'text/html'), 1, /token step failed|JSON/i],
    ['a 10 MB body', answer(200, `{"access_token":"${'a'.repeat(10 * 1024 * 1024)}"}`), 1, /answered with more than 1024 KiB/],
  ])('%s: a clear error, nothing stored', async (_name, hook, code, message) => {
    const { setup, before } = await loggedIn();
    stack.idp.hooks.before = hook;
    try {
      const login = await setup.run(['login']);
      expect(login.code, login.stderr).toBe(code);
      expect(login.stderr).toMatch(message);
      expect((await setup.run(['token'])).stdout).toBe(before);
    } finally {
      stack.idp.hooks = {};
    }
  });

  it('no answer at all: a timeout (exit 5) naming the host, nothing stored', async () => {
    const { setup, before } = await loggedIn();
    stack.idp.hooks.before = (ctx) => (ctx.path === '/token' ? new Promise<boolean>(() => undefined) : false);
    try {
      const started = Date.now();
      const login = await setup.run(['login'], { env: { LATCHKEY_HTTP_TIMEOUT: '2' } });
      expect(login.code, login.stderr).toBe(5);
      expect(login.stderr).toMatch(/127\.0\.0\.1:\d+ did not answer in time/);
      expect(Date.now() - started).toBeLessThan(15_000);
      expect((await setup.run(['token'])).stdout).toBe(before);
    } finally {
      stack.idp.hooks = {};
    }
  });
});
