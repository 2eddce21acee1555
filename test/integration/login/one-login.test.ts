import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/cli.js';
import { loginSetup, startStack, USER_AGENT, type Stack } from '../../helpers/stack.js';

// Browser storms: twenty callers find the credential missing at once. One browser, one code
// exchange, twenty successes; the waiting ones say what they wait for.
let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack.close());

describe('one login for many callers', () => {
  it('20 concurrent logins of one profile: one browser, one code exchange, every caller succeeds', async () => {
    const setup = await loginSetup(stack);
    const runtime = mkdtempSync(join(tmpdir(), 'latchkey-runtime-'));
    const log = join(runtime, 'ua.log');
    const exchangesBefore = stack.idp.requests.filter((r) => r === 'POST /token').length;
    const env = {
      BROWSER: `"${process.execPath}" "${USER_AGENT}"`,
      LATCHKEY_DEV_UA_LOG: log,
      LATCHKEY_STORAGE: 'file',
      XDG_RUNTIME_DIR: runtime,
    };
    const results = await Promise.all(
      Array.from({ length: 20 }, () => runCli(['login', '--timeout', '60'], { configDir: setup.configDir, env, timeoutMs: 90_000 })),
    );
    for (const result of results) expect(result.code, result.stderr).toBe(0);
    const opened = (await import('node:fs'))
      .readFileSync(log, 'utf8')
      .split('\n')
      .filter((l) => l.includes('"step":"open"'));
    expect(opened).toHaveLength(1);
    expect(stack.idp.requests.filter((r) => r === 'POST /token').length - exchangesBefore).toBe(1);
    const waited = results.filter((r) => r.stderr.includes('Waiting for the login in progress for profile "demo"'));
    expect(waited.length).toBeGreaterThanOrEqual(1);
    for (const result of waited)
      expect(result.stderr).toContain('The login in progress for profile "demo" finished; using its credential.');
    expect(results.filter((r) => r.stderr.includes('Logged in to demo as ada@example.com'))).toHaveLength(20);
    const token = await runCli(['token'], { configDir: setup.configDir, env });
    expect(stack.backend.sessions.has(token.stdout.trim())).toBe(true);
  }, 120_000);

  it('20 kubectl calls through the interactive exec plugin on a profile that is not logged in: one browser, every call gets its credential', async () => {
    const setup = await loginSetup(stack);
    const runtime = mkdtempSync(join(tmpdir(), 'latchkey-runtime-'));
    const log = join(runtime, 'ua.log');
    const env = {
      BROWSER: `"${process.execPath}" "${USER_AGENT}"`,
      LATCHKEY_DEV_UA_LOG: log,
      LATCHKEY_STORAGE: 'file',
      XDG_RUNTIME_DIR: runtime,
      KUBERNETES_EXEC_INFO: JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1', spec: { interactive: true } }),
    };
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        runCli(['token', '--output', 'exec-credential'], { configDir: setup.configDir, env, timeoutMs: 90_000 }),
      ),
    );
    for (const result of results) expect(result.code, result.stderr).toBe(0);
    const tokens = new Set(results.map((r) => (JSON.parse(r.stdout) as { status: { token: string } }).status.token));
    expect(tokens.size).toBe(1);
    const opened = (await import('node:fs'))
      .readFileSync(log, 'utf8')
      .split('\n')
      .filter((l) => l.includes('"step":"open"'));
    expect(opened).toHaveLength(1);
  }, 120_000);

  it('two config dirs that share the keychain entry share the lock (the lock is per user and credential)', async () => {
    const { loginLockPath } = await import('../../../src/store/login-lock.js');
    const env = { XDG_RUNTIME_DIR: '/run/user/1000' };
    expect(loginLockPath('latchkey', 'prod', env)).toBe(loginLockPath('latchkey', 'prod', env));
    expect(loginLockPath('latchkey', 'prod', env)).not.toBe(loginLockPath('latchkey', 'staging', env));
    expect(loginLockPath('acmectl', 'prod', env)).not.toBe(loginLockPath('latchkey', 'prod', env));
    expect(loginLockPath('latchkey', 'prod', env).startsWith('/run/user/1000/latchkey/logins/')).toBe(true);
    expect(loginLockPath('latchkey', 'prod', { XDG_CACHE_HOME: '/home/u/.cache' }).startsWith('/home/u/.cache/latchkey/logins/')).toBe(
      true,
    );
  });
});
