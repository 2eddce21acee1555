import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, runCli, tempConfigDir } from '../helpers/cli.js';
import { runInProcess } from '../helpers/root.js';
import { loginSetup, startStack, until, USER_AGENT, type Stack } from '../helpers/stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack.close());

function rawGet(port: number, path: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host: `127.0.0.1:${port}`, ...headers }, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the loopback listener under attack (real sockets against the running CLI)', () => {
  it('a 100 kB header is 431, 50 junk connections do not stop the real callback, and nothing else ends the wait', async () => {
    const setup = await loginSetup(stack);
    let child: ChildProcess | undefined;
    const running = setup.run(['login'], { ua: 'none', onSpawn: (c) => (child = c) });
    await until(() => setup.uaLog().length > 0);
    const opened = setup.uaLog()[0]!;
    const port = Number(new URL(String(opened.url)).port);

    // The browser command got the local start URL and nothing else: no state, nonce or PKCE
    // challenge in an argv that other users can read (/proc/PID/cmdline).
    expect(opened.argv).toEqual([opened.url]);
    expect(String(opened.url)).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${port}/start/[\\w-]{20,}$`));

    expect(await rawGet(port, '/callback?state=x', { 'x-junk': 'a'.repeat(100_000) })).toBe(431);
    expect(await rawGet(port, '/callback?code=c')).toBe(400);

    const junk: Socket[] = [];
    for (let i = 0; i < 50; i += 1) {
      const socket = connect({ host: '127.0.0.1', port });
      socket.on('error', () => undefined);
      socket.write(i % 2 ? 'GARBAGE\r\n\r\n' : 'GET /callback?state=guess HTTP/1.1\r\n');
      junk.push(socket);
    }
    // The real browser now signs in, with the junk still connected.
    const ua = spawn(process.execPath, [USER_AGENT, String(opened.url)], {
      env: { ...process.env, LATCHKEY_DEV_UA_LOG: join(setup.configDir, '..', 'ua-real.log') },
      stdio: 'ignore',
    });
    const login = await running;
    for (const socket of junk) socket.destroy();
    ua.kill();
    expect(login.code, login.stderr).toBe(0);
    expect((await setup.run(['token'])).code).toBe(0);
    // After the one good callback the port is closed: a second callback cannot even connect.
    await expect(rawGet(port, '/callback?code=again&state=x')).rejects.toThrow(/ECONNREFUSED/);
    void child;
  });

  it('RFC 9207 mix-up: a callback whose iss is another issuer is refused with exit 4, nothing stored', async () => {
    const setup = await loginSetup(stack);
    const login = await setup.run(['login'], { ua: 'mixup' });
    expect(login.code).toBe(4);
    expect(login.stderr).toContain('unexpected "iss" (issuer) response parameter value');
    expect((await setup.run(['token'])).code).toBe(3);
  });
});

describe('storage under faults', () => {
  it('kill -9 during login --with-token, 50 times: config and credentials always parse, holding the old or the new token', async () => {
    const configDir = tempConfigDir();
    expect(
      (
        await runInProcess(['profile', 'add', 'k', '--issuer', 'https://idp.example.com', '--client-id', 'cli', '--storage', 'file'], {
          configDir,
        })
      ).code,
    ).toBe(0);
    expect((await runCli(['login', '--with-token'], { configDir, input: 'token-0' })).code).toBe(0);
    for (let i = 1; i <= 50; i += 1) {
      await new Promise<void>((resolve) => {
        const child = spawn(process.execPath, [BIN, 'login', '--with-token'], {
          env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', LATCHKEY_CONFIG_DIR: configDir },
          stdio: ['pipe', 'ignore', 'ignore'],
        });
        child.stdin.end(`token-${i}`);
        setTimeout(() => child.kill('SIGKILL'), 40 + ((i * 13) % 300));
        child.on('close', () => resolve());
      });
      const config = JSON.parse(readFileSync(join(configDir, 'config.json'), 'utf8'));
      expect(config.profiles.k.issuer).toBe('https://idp.example.com');
      const stored = JSON.parse(JSON.parse(readFileSync(join(configDir, 'credentials.json'), 'utf8')).latchkey.k).token as string;
      expect(stored).toMatch(/^token-\d+$/);
      expect(Number(stored.slice(6))).toBeLessThanOrEqual(i);
    }
    // The next commands work normally (a lock left by a killed process is taken over).
    expect((await runCli(['token'], { configDir })).code).toBe(0);
    expect((await runCli(['login', '--with-token'], { configDir, input: 'token-final' })).code).toBe(0);
    expect((await runCli(['token'], { configDir })).stdout).toBe('token-final\n');
  }, 60_000);

  it('a world-writable config dir is warned about', async () => {
    const configDir = tempConfigDir();
    expect(
      (await runInProcess(['profile', 'add', 'w', '--issuer', 'https://idp.example.com', '--client-id', 'cli'], { configDir })).code,
    ).toBe(0);
    chmodSync(configDir, 0o777);
    const status = await runCli(['status'], { configDir });
    expect(status.stderr).toContain(`${configDir} is writable by every user (mode 777)`);
    expect(status.stderr).toContain(`chmod 700 ${configDir}`);
    expect(existsSync(join(configDir, 'config.json'))).toBe(true);
  });

  it('secrets never appear in error messages', async () => {
    const configDir = tempConfigDir();
    expect(
      (
        await runCli(
          [
            'profile',
            'add',
            'e',
            '--issuer',
            'https://idp.example.com',
            '--client-id',
            'cli',
            '--backend-url',
            'http://127.0.0.1:9',
            '--whoami-path',
            '/me',
          ],
          { configDir },
        )
      ).code,
    ).toBe(0);
    const secret = 'sk_live_do_not_print_me_0123456789';
    const login = await runCli(['login', '--with-token', '--debug'], { configDir, input: secret });
    expect(login.code).toBe(5);
    expect(login.stdout + login.stderr).not.toContain(secret);
  });
});
