import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempConfigDir } from '../../helpers/cli.js';
import { createTestRoot } from '../../helpers/root.js';
import { loginSetup, startStack, type Stack } from '../../helpers/stack.js';

// `latchkey api`: the profile's backend with its credential, as `gh api` calls GitHub's.
let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack.close());

describe('latchkey api', () => {
  it('calls the backend with the session: the body on stdout, exit 0; -i adds the status and headers', async () => {
    const setup = await loginSetup(stack);
    expect((await setup.run(['login'])).code).toBe(0);
    const result = await setup.run(['api', '/api/whoami']);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ user: { sub: 'ada' } });
    const included = await setup.run(['api', '-i', '/api/whoami']);
    expect(included.stdout).toMatch(/^HTTP 200 OK\n/);
    expect(included.stdout).toContain('content-type: application/json\n');
    expect(included.stdout).toMatch(/\n\n\{"user":/);
  });

  it('a 401 renews the credential once (the IdP refresh, the backend exchange again) and retries', async () => {
    const setup = await loginSetup(stack);
    expect((await setup.run(['login'])).code).toBe(0);
    const before = (await setup.run(['token'])).stdout.trim();
    stack.backend.sessions.delete(before); // the backend ended the session early
    const result = await setup.run(['api', '/api/whoami']);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ user: { sub: 'ada' } });
    expect((await setup.run(['token'])).stdout.trim()).not.toBe(before);
  });

  it('a 401 that renewal cannot cure is exit 4; another status is exit 1 with the body; no credential goes to another host', async () => {
    const setup = await loginSetup(stack);
    expect((await setup.run(['login', '--with-token'], { input: 'not-a-session-the-backend-knows' })).code).toBe(0);
    const refused = await setup.run(['api', '/api/whoami']);
    expect(refused.code).toBe(4);
    expect(refused.stdout).toContain('Bad credentials');
    expect(refused.stderr).toContain('the API answered 401');

    const missing = await setup.run(['api', '/api/nothing-here']);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toContain('not found');
    expect(missing.stderr).toContain('the API answered 404');

    // Absolute, protocol-relative and backslash forms all name another host: refused before any request.
    for (const path of ['https://elsewhere.example.com/steal', '//elsewhere.example.com/steal', '/\\elsewhere.example.com/steal']) {
      const elsewhere = await setup.run(['api', path]);
      expect(elsewhere.code, path).toBe(2);
      expect(elsewhere.stderr, path).toContain("is not on the profile's backend");
    }
    expect((await setup.run(['api', '-H', 'Authorization: Bearer mine', '/api/whoami'])).code).toBe(2);
  });

  it('on a terminal, what the backend sends is escaped (JSON and text)', async () => {
    const hostile = createServer((req, res) => {
      const json = req.url === '/json';
      res.writeHead(200, { 'content-type': json ? 'application/json' : 'text/plain' });
      res.end(json ? JSON.stringify({ name: 'ada\u009b2J\u202e' }) : 'hello \u001b]0;pwned\u0007 world');
    });
    await new Promise<void>((resolve) => hostile.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(hostile.address() as AddressInfo).port}`;
      const configDir = tempConfigDir();
      const root = createTestRoot({ terminalColumns: 80, env: { LATCHKEY_STORAGE: 'file' } });
      expect(
        (
          await root.run(['profile', 'add', 'p', '--issuer', 'https://idp.example.com', '--client-id', 'c', '--backend-url', url], {
            configDir,
          })
        ).code,
      ).toBe(0);
      expect((await root.run(['login', '--with-token'], { configDir, input: 'k' })).code).toBe(0);
      for (const path of ['/json', '/text']) {
        const result = await root.run(['api', '-i', path], { configDir });
        expect(result.code, result.stderr).toBe(0);
        expect(result.stdout, path).not.toMatch(/[\u001b\u0007\u009b\u202e]/);
      }
      expect((await root.run(['api', '/text'], { configDir })).stdout).toContain('hello \\u001b]0;pwned\\u0007 world');
    } finally {
      hostile.close();
    }
  });
});
