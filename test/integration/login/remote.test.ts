import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN } from '../../helpers/cli.js';
import { loginSetup, startStack, until, USER_AGENT, type Stack } from '../../helpers/stack.js';

// `login --remote`: the browser runs on another machine (SSH, a container, a remote IDE) and
// cannot reach this one's listener. The CLI prints the authorization URL; the scripted user agent
// plays the other machine's browser, signs in, and stops at the redirect it cannot load; the
// address it was sent to is pasted back on stdin. Every hostile paste is one clear line, nothing stored.

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ idp: { deviceFlow: false } });
});
afterAll(() => stack.close());

interface Remote {
  child: ChildProcess;
  /** The authorization URL the CLI printed, once it has. */
  url: Promise<string>;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string; stdout: string }>;
}

function startRemote(configDir: string, args: string[] = ['login', '--remote', '--timeout', '30']): Remote {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      NO_COLOR: '1',
      LATCHKEY_CONFIG_DIR: configDir,
      LATCHKEY_STORAGE: 'file',
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  // A CLI that has already refused the paste closes its end: what is still being written is dropped.
  child.stdin.on('error', () => undefined);
  let stderr = '';
  let stdout = '';
  let found: (url: string) => void;
  const url = new Promise<string>((resolve) => (found = resolve));
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    const match = /(http:\/\/127\.0\.0\.1:\d+\/auth\?\S+)\s/.exec(stderr);
    if (match) found(match[1]!);
  });
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string; stdout: string }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stderr, stdout })),
  );
  return { child, url, done };
}

/** The other machine's browser: signs in and stops at the redirect, which it cannot load. */
async function signInElsewhere(url: string, log: string): Promise<string> {
  await new Promise<void>((resolve, reject) =>
    spawn(process.execPath, [USER_AGENT, url], {
      env: { ...process.env, LATCHKEY_DEV_UA_ACTION: 'remote', LATCHKEY_DEV_UA_LOG: log },
      stdio: 'ignore',
    }).on('close', (code) => (code === 0 ? resolve() : reject(new Error(`user agent exited ${code}`)))),
  );
  const entry = readFileSync(log, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { step: string; url?: string })
    .find((e) => e.step === 'redirected');
  return entry!.url!;
}

const stored = (configDir: string) =>
  existsSync(join(configDir, 'credentials.json')) && readFileSync(join(configDir, 'credentials.json'), 'utf8').includes('demo');

describe('login --remote', () => {
  it('prints the authorization URL itself; the address pasted back completes the login', async () => {
    const setup = await loginSetup(stack);
    const remote = startRemote(setup.configDir);
    const url = await remote.url;
    const printed = new URL(url);
    expect(printed.searchParams.get('code_challenge_method')).toBe('S256');
    expect(printed.searchParams.get('state')).toBeTruthy();
    expect(printed.searchParams.get('nonce')).toBeTruthy();
    const address = await signInElsewhere(url, join(dirname(setup.configDir), 'remote-ua.log'));
    expect(address).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback\?/);
    remote.child.stdin!.write(`${address}\n`);
    const result = await remote.done;
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain('Copy that whole address from its address bar and paste it here');
    expect(result.stderr).toContain('Logged in to demo as ada@example.com');
    expect(result.stderr).not.toContain('/start/');
    expect(stored(setup.configDir)).toBe(true);
    const token = await setup.run(['token']);
    expect(stack.backend.sessions.has(token.stdout.trim())).toBe(true);
  });

  it('the query alone works too; and with no device flow over SSH, login chooses the remote login and says why', async () => {
    const setup = await loginSetup(stack);
    const child = spawn(process.execPath, [BIN, 'login', '--timeout', '30'], {
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        NO_COLOR: '1',
        LATCHKEY_CONFIG_DIR: setup.configDir,
        LATCHKEY_STORAGE: 'file',
        SSH_CONNECTION: '10.0.0.1 22 10.0.0.2 22',
        SSH_TTY: '/dev/pts/1',
      },
    });
    let stderr = '';
    const url = new Promise<string>((resolve) =>
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        const match = /(http:\/\/127\.0\.0\.1:\d+\/auth\?\S+)\s/.exec(stderr);
        if (match) resolve(match[1]!);
      }),
    );
    const address = await signInElsewhere(await url, join(dirname(setup.configDir), 'ssh-ua.log'));
    child.stdin.write(`${new URL(address).search}\n`);
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code, stderr).toBe(0);
    expect(stderr).toContain(
      'No browser can be opened here (an SSH session) and the IdP offers no device flow: using a remote login (--remote).',
    );
    expect(stderr).toMatch(/Or forward the port instead: ssh -L \d+:127\.0\.0\.1:\d+ <this host>/);
  });

  const hostile: Array<[string, (address: string) => string, RegExp]> = [
    ['a wrong state', (a) => a.replace(/state=[^&]+/, 'state=forged'), /it does not belong to this login \(its state differs\)/],
    [
      'another host',
      (a) => a.replace('127.0.0.1', 'evil.example'),
      /it is for http:\/\/evil\.example:\d+\/callback, not this login's redirect URI/,
    ],
    ['a second code', (a) => `${a}&code=another`, /it has the parameter "code" more than once/],
    ['escape sequences', (a) => `${a}\u001b]52;c;owned\u0007`, /it holds control characters/],
  ];
  for (const [what, spoil, why] of hostile) {
    it(`a paste with ${what}: one clear line, exit 2, nothing stored`, async () => {
      const setup = await loginSetup(stack);
      const remote = startRemote(setup.configDir);
      const address = await signInElsewhere(await remote.url, join(dirname(setup.configDir), 'hostile-ua.log'));
      remote.child.stdin!.write(`${spoil(address)}\n`);
      const result = await remote.done;
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(new RegExp(`latchkey: the pasted address was refused: ${why.source}.*; nothing was stored`));
      expect(result.stderr).not.toContain('\u001b');
      expect(stored(setup.configDir)).toBe(false);
    });
  }

  it('1 MB of text, Ctrl-D and Ctrl-C: each a clear line, nothing stored', async () => {
    const setup = await loginSetup(stack);
    const big = startRemote(setup.configDir);
    await big.url;
    big.child.stdin!.write('a'.repeat(1024 * 1024));
    const bigResult = await big.done;
    expect(bigResult.code).toBe(2);
    expect(bigResult.stderr).toContain('the pasted text is longer than any redirect address (16 KiB); nothing was stored');
    expect(bigResult.stderr.length).toBeLessThan(4000);

    const eof = startRemote(setup.configDir);
    await eof.url;
    eof.child.stdin!.end();
    const eofResult = await eof.done;
    expect(eofResult.code).toBe(2);
    expect(eofResult.stderr).toContain('the input ended before an address was pasted; nothing was stored');

    const interrupted = startRemote(setup.configDir);
    await interrupted.url;
    interrupted.child.kill('SIGINT');
    const intResult = await interrupted.done;
    expect(intResult.code).toBe(130);
    expect(intResult.stderr).toContain('login cancelled; nothing was stored');
    expect(stored(setup.configDir)).toBe(false);
  });

  it('a forwarded port completes the same login, whichever comes first', async () => {
    const setup = await loginSetup(stack);
    const remote = startRemote(setup.configDir);
    const address = await signInElsewhere(await remote.url, join(dirname(setup.configDir), 'forward-ua.log'));
    // The browser reaches the listener through `ssh -L`: the callback arrives, nothing is pasted.
    const callback = await fetch(address);
    expect(callback.status).toBe(200);
    const result = await remote.done;
    expect(result.code, result.stderr).toBe(0);
    await until(() => stored(setup.configDir));
  });

  it('doctor names the login a login will run here, and with a fixed port the ssh -L line', async () => {
    const setup = await loginSetup(stack, ['--redirect-uri', 'http://127.0.0.1:8791/callback']);
    const ssh = { SSH_CONNECTION: '10.0.0.1 22 10.0.0.2 22', BROWSER: '' };
    const doctor = JSON.parse((await setup.run(['doctor', '--json'], { env: ssh })).stdout) as { checks: Array<Record<string, string>> };
    expect(doctor.checks.find((c) => c.name === 'login')).toMatchObject({
      status: 'ok',
      detail: expect.stringContaining('login is a remote login here (an SSH session, and the IdP offers no device flow)'),
      next: 'Or forward the port from your machine: ssh -L 8791:127.0.0.1:8791 <this host>',
    });
    const local = JSON.parse((await setup.run(['doctor', '--json'])).stdout) as { checks: Array<Record<string, string>> };
    expect(local.checks.find((c) => c.name === 'login')?.detail).toBe('login opens a browser here (authorization code + PKCE)');
  });
});
