import { mkdtempSync } from 'node:fs';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { proxyFor } from '../../src/flows/doctor.js';
import { detectEnvironment } from '../../src/io/environment.js';
import { runCli, tempConfigDir } from '../helpers/cli.js';
import { runInProcess } from '../helpers/root.js';
import { secretServiceReachable } from '../helpers/secret-service.js';
import { loginSetup, startStack, type Stack } from '../helpers/stack.js';
import { makeTestCa } from '../helpers/tls.js';

const KEYCHAIN = await secretServiceReachable();
const NO_BUS = { DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/latchkey-test-bus' };

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack.close());

interface CheckJson {
  name: string;
  status: string;
  detail: string;
  next?: string;
}
async function doctor(configDir: string, env: Record<string, string | undefined> = {}, args: string[] = []) {
  const result = await runCli(['doctor', '--json', ...args], { configDir, env });
  const parsed = JSON.parse(result.stdout) as { ok: boolean; checks: CheckJson[] };
  return { code: result.code, stderr: result.stderr, ok: parsed.ok, check: (name: string) => parsed.checks.find((c) => c.name === name)! };
}

describe('latchkey doctor', () => {
  it('against a reachable IdP: discovery and JWKS with timings, the clock in step, a free port', async () => {
    const setup = await loginSetup(stack);
    const result = await doctor(setup.configDir, NO_BUS);
    expect(result.check('discovery')).toMatchObject({
      status: 'ok',
      detail: expect.stringMatching(/openid-configuration \(\d+ ms\), device flow offered/),
    });
    expect(result.check('jwks')).toMatchObject({ status: 'ok', detail: expect.stringMatching(/^1 key \(\d+ ms\)/) });
    expect(result.check('clock')).toMatchObject({ status: 'ok', detail: "this machine's clock is in step with the IdP" });
    expect(result.check('port')).toMatchObject({ status: 'ok' });
    // No Secret Service on this bus: a warning for storage auto, not a failure.
    expect(result.check('keychain')).toMatchObject({ status: 'warn', next: expect.stringContaining('credentials file') });
    expect(result.code).toBe(0);
    expect(result.ok).toBe(true);
    const human = await runCli(['doctor'], { configDir: setup.configDir, env: NO_BUS });
    expect(human.stdout).toMatch(/^ok\s+discovery\s+http:\/\/127\.0\.0\.1/m);
  });

  it('an IdP that is not listening: discovery fails with why, exit 1', async () => {
    const closed = await new Promise<number>((resolve) => {
      const probe = createNetServer().listen(0, '127.0.0.1', () => {
        const port = (probe.address() as { port: number }).port;
        probe.close(() => resolve(port));
      });
    });
    const configDir = tempConfigDir();
    expect(
      (await runInProcess(['profile', 'add', 'down', '--issuer', `http://127.0.0.1:${closed}`, '--client-id', 'cli'], { configDir })).code,
    ).toBe(0);
    const result = await doctor(configDir, NO_BUS);
    expect(result.check('discovery')).toMatchObject({ status: 'fail', detail: `cannot reach 127.0.0.1:${closed}: connection refused` });
    expect(result.check('jwks').status).toBe('skip');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('1 check failed');
  });

  it('an https IdP whose CA is not trusted: a certificate failure; with the profile caFile: ok', async () => {
    const ca = await makeTestCa();
    const tls = await startStack({ idp: { tls: { key: ca.key, cert: ca.cert } } });
    try {
      const setup = await loginSetup(tls, [], { backend: false });
      const untrusted = await doctor(setup.configDir, NO_BUS);
      expect(untrusted.check('discovery')).toMatchObject({
        status: 'fail',
        detail: expect.stringContaining('TLS certificate problem'),
        next: expect.stringContaining('caFile'),
      });
      expect((await setup.run(['profile', 'set', 'demo', 'ca-file', ca.caFile])).code).toBe(0);
      expect((await doctor(setup.configDir, NO_BUS)).check('discovery').status).toBe('ok');
    } finally {
      await tls.close();
    }
  });

  it("a server clock 10 minutes away from this machine's is a clock failure", async () => {
    stack.idp.hooks.after = (ctx) => {
      if (ctx.path === '/.well-known/openid-configuration') ctx.set('date', new Date(Date.now() - 600_000).toUTCString());
    };
    try {
      const setup = await loginSetup(stack);
      const result = await doctor(setup.configDir, NO_BUS);
      expect(result.check('clock')).toMatchObject({
        status: 'fail',
        detail: expect.stringMatching(/clock is (599|600|601) s ahead of the IdP/),
        next: expect.stringContaining('timedatectl'),
      });
      expect(result.code).toBe(1);
    } finally {
      stack.idp.hooks = {};
    }
  });

  it('storage keychain with no Secret Service: the keychain check fails with the way out', async () => {
    const setup = await loginSetup(stack, ['--storage', 'keychain']);
    const result = await doctor(setup.configDir, NO_BUS);
    expect(result.check('keychain')).toMatchObject({ status: 'fail', next: expect.stringContaining('storage auto') });
  });

  it.runIf(KEYCHAIN)('with a Secret Service: the probe writes, reads and deletes an entry', async () => {
    const setup = await loginSetup(stack);
    const result = await doctor(setup.configDir, { DBUS_SESSION_BUS_ADDRESS: process.env.DBUS_SESSION_BUS_ADDRESS });
    expect(result.check('keychain')).toMatchObject({
      status: 'ok',
      detail: expect.stringMatching(/Secret Service: write, read and delete work/),
    });
  });

  it('a fixed redirect port that is taken fails the port check', async () => {
    const holder: NetServer = createNetServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const port = (holder.address() as { port: number }).port;
    try {
      const setup = await loginSetup(stack, ['--redirect-uri', `http://127.0.0.1:${port}/callback`]);
      expect((await doctor(setup.configDir, NO_BUS)).check('port')).toMatchObject({
        status: 'fail',
        detail: expect.stringContaining(`port ${port}`),
      });
    } finally {
      holder.close();
    }
  });

  it('names the proxy variable in force for the issuer, and NO_PROXY bypasses', async () => {
    const setup = await loginSetup(stack);
    // A loopback issuer is never proxied, whatever the variables say.
    const local = await doctor(setup.configDir, { ...NO_BUS, HTTP_PROXY: 'http://user:secret@proxy.example:3128' });
    expect(local.check('proxy').detail).toBe('the issuer is reached directly: a loopback host, never proxied');
    expect(
      (
        await runInProcess(['profile', 'add', 'remote', '--issuer', 'https://idp.example', '--client-id', 'x'], {
          configDir: setup.configDir,
        })
      ).code,
    ).toBe(0);
    const via = await doctor(setup.configDir, { ...NO_BUS, HTTP_PROXY: 'http://user:secret@proxy.example:3128' }, ['-p', 'remote']);
    expect(via.check('proxy').detail).toBe('the issuer is reached through HTTP_PROXY=http://user:REDACTED@proxy.example:3128/');
    expect(proxyFor('http://127.0.0.2:8080/', { HTTP_PROXY: 'http://p:1' })).toEqual({ bypassedBy: 'a loopback host, never proxied' });
    expect(proxyFor('https://idp.example.com/', { HTTPS_PROXY: 'http://p:1', NO_PROXY: 'localhost,.example.com' })).toEqual({
      bypassedBy: 'NO_PROXY (.example.com)',
    });
    expect(proxyFor('https://idp.example.com/', { HTTP_PROXY: 'http://p:1' })).toEqual({ variable: 'HTTP_PROXY', proxy: 'http://p:1' });
    expect(proxyFor('http://idp.example.com/', { HTTPS_PROXY: 'http://p:1' })).toBeUndefined();
  });
});

describe('a keychain that never answers', () => {
  let bus: NetServer;
  let address: string;
  const sockets: Socket[] = [];
  beforeAll(async () => {
    // A D-Bus address whose socket accepts connections and never says a word.
    const path = join(mkdtempSync(join(tmpdir(), 'latchkey-bus-')), 'bus');
    bus = createNetServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => bus.listen(path, resolve));
    address = `unix:path=${path}`;
  });
  afterAll(() => {
    for (const socket of sockets) socket.destroy();
    bus.close();
  });

  it('is a clear exit 6 within the timeout, never a hang or a silent "not logged in"', async () => {
    const configDir = tempConfigDir();
    expect(
      (
        await runInProcess(['profile', 'add', 'kc', '--issuer', 'https://idp.example.com', '--client-id', 'cli', '--storage', 'keychain'], {
          configDir,
        })
      ).code,
    ).toBe(0);
    const started = Date.now();
    const login = await runCli(['login', '--with-token'], {
      configDir,
      input: 'tok',
      env: { DBUS_SESSION_BUS_ADDRESS: address, LATCHKEY_KEYCHAIN_TIMEOUT: '1' },
    });
    expect(login.code).toBe(6);
    expect(login.stderr).toContain('no answer within 1 s');
    expect(Date.now() - started).toBeLessThan(8000);
  });

  it('doctor reports it, within the timeout', async () => {
    const setup = await loginSetup(stack);
    const result = await doctor(setup.configDir, { DBUS_SESSION_BUS_ADDRESS: address, LATCHKEY_KEYCHAIN_TIMEOUT: '1' });
    expect(result.check('keychain')).toMatchObject({ status: 'warn', detail: expect.stringContaining('no answer within 1 s') });
  });
});

describe('a login that knows where it runs', () => {
  it('detects SSH, WSL and a missing display', () => {
    expect(detectEnvironment({ SSH_CONNECTION: '10.0.0.2 5000 10.0.0.1 22' }, 'linux')).toMatchObject({ ssh: true, browserCommand: false });
    expect(detectEnvironment({ WSL_DISTRO_NAME: 'Ubuntu' }, 'linux')).toMatchObject({ wsl: true, noDisplay: false });
    expect(detectEnvironment({ DISPLAY: ':0' }, 'linux')).toMatchObject({ noDisplay: false });
    expect(detectEnvironment({}, 'darwin')).toMatchObject({ noDisplay: false, ssh: false });
  });

  it('over SSH with no BROWSER, it uses the device flow when the IdP offers one (and says so)', async () => {
    const short = await startStack({ idp: { deviceCodeTtl: 2 } });
    try {
      const setup = await loginSetup(short);
      const login = await setup.run(['login'], { env: { BROWSER: undefined, SSH_CONNECTION: '10.0.0.2 5000 10.0.0.1 22' } });
      expect(login.stderr).toContain('No browser can be opened here (an SSH session); using the device flow instead');
      expect(login.stderr).toMatch(/enter the code\s+[A-Z]{4}-[A-Z]{4}/);
      expect(login.code).toBe(5);
    } finally {
      await short.close();
    }
  });

  it('over SSH with an IdP without device flow, it prints the URL and the ssh -L command for its port', async () => {
    const noDevice = await startStack({ idp: { deviceFlow: false } });
    try {
      const setup = await loginSetup(noDevice);
      const login = await setup.run(['login', '--timeout', '1'], {
        env: { BROWSER: undefined, SSH_CONNECTION: '10.0.0.2 5000 10.0.0.1 22' },
      });
      const port = /redirect_uri=http%3A%2F%2F127\.0\.0\.1%3A(\d+)/.exec(login.stderr)?.[1];
      expect(port).toBeDefined();
      expect(login.stderr).toContain(`ssh -L ${port}:127.0.0.1:${port} <this host>`);
      expect(login.code).toBe(5);
      expect(setup.uaLog()).toEqual([]);
    } finally {
      await noDevice.close();
    }
  });
});
