import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { importJWK, SignJWT } from 'jose';
import { createProxy } from 'proxy';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, runCli, tempConfigDir } from '../helpers/cli.js';
import { loginSetup, startStack, type Stack } from '../helpers/stack.js';
import { makeTestCa } from '../helpers/tls.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack.close());

describe('--debug', () => {
  it('traces every HTTP exchange, and no token, code, secret or verifier appears anywhere in the output', async () => {
    const secrets: string[] = [];
    stack.idp.hooks.after = (ctx) => {
      if (ctx.path !== '/token') return;
      const params = (ctx as unknown as { oidc?: { params?: Record<string, unknown> } }).oidc?.params ?? {};
      for (const key of ['code', 'code_verifier', 'refresh_token']) if (typeof params[key] === 'string') secrets.push(params[key]);
      const body = ctx.body as Record<string, unknown> | undefined;
      for (const key of ['access_token', 'id_token', 'refresh_token']) if (typeof body?.[key] === 'string') secrets.push(body[key]);
    };
    try {
      const setup = await loginSetup(stack);
      const login = await setup.run(['login', '--debug']);
      expect(login.code, login.stderr).toBe(0);
      const token = await setup.run(['token', '--debug']);
      const session = token.stdout.trim();
      const status = await setup.run(['status', '--debug', '--json']);
      const logout = await setup.run(['logout', '--debug']);
      expect(secrets.length).toBeGreaterThanOrEqual(3);
      // The trace is there: discovery, token request, JWKS, backend exchange, each with status and timing.
      expect(login.stderr).toMatch(/\[debug\] → GET http:\/\/127\.0\.0\.1:\d+\/\.well-known\/openid-configuration/);
      expect(login.stderr).toMatch(/\[debug\] ← 200 POST http:\/\/127\.0\.0\.1:\d+\/token \(\d+ ms\)/);
      expect(login.stderr).toMatch(/\[debug\] ← 200 POST http:\/\/127\.0\.0\.1:\d+\/api\/cli-auth/);
      for (const run of [login, status, logout]) {
        const output = run.stdout + run.stderr;
        for (const secret of [...secrets, session]) expect(output).not.toContain(secret);
      }
      expect(token.stderr).not.toContain(session);
    } finally {
      stack.idp.hooks = {};
    }
  });
});

/** An RS256-shaped token from idp.example: --verify must fetch that issuer's keys. */
function unsignedToken(): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'RS256', kid: 'k1' })}.${part({ iss: 'https://idp.example', sub: 'x', exp: 4102444800 })}.c2ln`;
}

describe('proxies', () => {
  let proxy: Server;
  let proxyUrl: string;
  const proxied: string[] = [];
  beforeAll(async () => {
    proxy = createProxy(createServer());
    proxy.on('request', (req) => proxied.push(`${req.method} ${req.url}`));
    proxy.on('connect', (req) => proxied.push(`CONNECT ${req.url}`));
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => proxy.close(() => resolve())));

  it('HTTPS_PROXY carries requests to other hosts, and NO_PROXY covering the host bypasses it', async () => {
    // The proxy cannot resolve idp.example (no network here): what matters is that it was asked.
    const args = ['token', 'inspect', '--verify', '--issuer', 'https://idp.example', unsignedToken()];
    const via = await runCli(args, { env: { HTTPS_PROXY: proxyUrl } });
    expect(via.code).toBe(5);
    expect(proxied).toContain('CONNECT idp.example:443');
    proxied.length = 0;
    const direct = await runCli(args, { env: { HTTPS_PROXY: proxyUrl, NO_PROXY: 'idp.example' } });
    expect(direct.code).toBe(5);
    expect(proxied).toEqual([]);
  });

  it('loopback is never proxied, whatever NO_PROXY says: the code, verifier and tokens never reach the proxy', async () => {
    proxied.length = 0;
    const setup = await loginSetup(stack);
    const login = await setup.run(['login'], {
      env: { HTTP_PROXY: proxyUrl, HTTPS_PROXY: proxyUrl, http_proxy: proxyUrl, NO_PROXY: 'idp.example' },
    });
    expect(login.code, login.stderr).toBe(0);
    expect((await setup.run(['token'], { env: { HTTP_PROXY: proxyUrl } })).code).toBe(0);
    expect((await setup.run(['logout'], { env: { HTTP_PROXY: proxyUrl } })).code).toBe(0);
    expect(proxied).toEqual([]);
  });
});

describe('NODE_TLS_REJECT_UNAUTHORIZED=0', () => {
  it('is said once on stderr by every command that talks to the network, and fails doctor', async () => {
    const setup = await loginSetup(stack);
    const warning = 'latchkey: warning: NODE_TLS_REJECT_UNAUTHORIZED=0 is set: TLS certificates are not checked';
    const env = { NODE_TLS_REJECT_UNAUTHORIZED: '0' };
    const login = await setup.run(['login'], { env });
    expect(login.code, login.stderr).toBe(0);
    expect(login.stderr.split(warning)).toHaveLength(2);
    const inspect = await runCli(['token', 'inspect', '--verify', '--issuer', 'https://idp.example', unsignedToken()], { env });
    expect(inspect.stderr.split(warning)).toHaveLength(2);
    // A command without network use says nothing.
    expect((await setup.run(['status'], { env })).stderr).not.toContain('NODE_TLS_REJECT_UNAUTHORIZED');
    const doctor = await setup.run(['doctor', '--json'], { env: { ...env, DBUS_SESSION_BUS_ADDRESS: undefined } });
    expect(JSON.parse(doctor.stdout).checks).toContainEqual(
      expect.objectContaining({ name: 'tls', status: 'fail', detail: expect.stringContaining('TLS certificates are not checked') }),
    );
    expect(doctor.code).toBe(1);
  });
});

describe('TLS: an IdP on https with its own CA', () => {
  let tlsStack: Stack;
  let ca: Awaited<ReturnType<typeof makeTestCa>>;
  beforeAll(async () => {
    ca = await makeTestCa();
    tlsStack = await startStack({ idp: { tls: { key: ca.key, cert: ca.cert } } });
  });
  afterAll(() => tlsStack.close());

  it('fails with a clear certificate message (exit 5) when the CA is not trusted', async () => {
    const setup = await loginSetup(tlsStack, [], { backend: false });
    const login = await setup.run(['login']);
    expect(login.code).toBe(5);
    expect(login.stderr).toMatch(/cannot reach 127\.0\.0\.1:\d+: TLS certificate problem/);
    expect(login.stderr).toContain('caFile');
  });

  it('signs in with NODE_EXTRA_CA_CERTS', async () => {
    const setup = await loginSetup(tlsStack, [], { backend: false });
    const login = await setup.run(['login'], { env: { NODE_EXTRA_CA_CERTS: ca.caFile } });
    expect(login.code, login.stderr).toBe(0);
  });

  it("trusts the profile's caFile", async () => {
    const setup = await loginSetup(tlsStack, ['--ca-file', ca.caFile], { backend: false });
    const key = await importJWK(tlsStack.idp.signingKey, 'RS256');
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ iss: tlsStack.idp.issuer, aud: tlsStack.idp.clientId, sub: 'x', iat: now, exp: now + 60 })
      .setProtectedHeader({ alg: 'RS256', kid: tlsStack.idp.signingKey.kid })
      .sign(key);
    const verified = await setup.run(['token', 'inspect', token, '--verify', '--json']);
    expect(verified.code, verified.stderr).toBe(0);
    expect(JSON.parse(verified.stdout).signature.valid).toBe(true);
    // The same check from a profile without the caFile fails on the certificate.
    expect((await setup.run(['profile', 'add', 'plain', '--issuer', tlsStack.idp.issuer, '--client-id', tlsStack.idp.clientId])).code).toBe(
      0,
    );
    const without = await setup.run(['token', 'inspect', token, '--verify', '-p', 'plain']);
    expect(without.code).toBe(5);
    expect(without.stderr).toContain('TLS certificate problem');
  });
});

describe('retries', () => {
  it('a discovery GET that gets a 502 is retried once', async () => {
    let failed = 0;
    stack.idp.hooks.before = (ctx) => {
      if (ctx.path !== '/.well-known/openid-configuration' || failed > 0) return false;
      failed += 1;
      ctx.status = 502;
      ctx.body = 'bad gateway';
      return true;
    };
    try {
      const setup = await loginSetup(stack);
      const login = await setup.run(['login']);
      expect(login.code, login.stderr).toBe(0);
      expect(failed).toBe(1);
    } finally {
      stack.idp.hooks = {};
    }
  });

  it('the code exchange (a POST) is never retried', async () => {
    let posts = 0;
    stack.idp.hooks.before = (ctx) => {
      if (ctx.path !== '/token') return false;
      posts += 1;
      ctx.status = 502;
      ctx.body = 'bad gateway';
      return true;
    };
    try {
      const setup = await loginSetup(stack);
      const login = await setup.run(['login']);
      expect(login.code).not.toBe(0);
      expect(posts).toBe(1);
      expect((await setup.run(['token'])).code).toBe(3);
    } finally {
      stack.idp.hooks = {};
    }
  });
});

describe('output for scripts and terminals', () => {
  it('--json is pure JSON on stdout for every command that reports something', async () => {
    const configDir = tempConfigDir();
    const commands = [
      ['profile', 'add', 'a', '--issuer', 'https://idp.example.com', '--client-id', 'c'],
      ['profile', 'set', 'a', 'scopes', 'openid'],
      ['profile', 'use', 'a'],
      ['profile', 'list'],
      ['profile', 'show', 'a'],
      ['login', '--token', 'k'],
      ['status'],
      ['token'],
      ['token', 'inspect', 'e30.e30.x'],
      ['logout'],
      ['profile', 'remove', 'a'],
    ];
    for (const args of commands) {
      const result = await runCli([...args, '--json'], { configDir, env: { LATCHKEY_STORAGE: 'file' } });
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(0);
      expect(() => JSON.parse(result.stdout), args.join(' ')).not.toThrow();
    }
  });

  it('a reader that goes away (| head -1) ends the CLI quietly with exit 0, on the full and the hot paths', async () => {
    const { spawn } = await import('node:child_process');
    for (const args of [['completion', 'fish'], ['--help'], ['token', 'inspect', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.']]) {
      const result = await new Promise<{ code: number | null; stderr: string }>((done) => {
        const child = spawn(process.execPath, [BIN, ...args], {
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { PATH: process.env.PATH ?? '', HOME: tmpdir() },
        });
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.stdout.destroy();
        child.on('close', (code) => done({ code, stderr }));
      });
      expect(result.stderr, args.join(' ')).toBe('');
      expect(result.code, args.join(' ')).toBe(0);
    }
  });

  it('colours only on a terminal, and never with NO_COLOR or --no-color', async () => {
    // `script` gives the CLI a real pseudo-terminal.
    const token = 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.';
    const inTty = (command: string, env: Record<string, string> = {}) =>
      new Promise<string>((resolve) =>
        execFile(
          'script',
          ['-qec', command, '/dev/null'],
          { env: { PATH: process.env.PATH ?? '', HOME: '/tmp', TERM: 'xterm', LATCHKEY_CONFIG_DIR: tempConfigDir(), ...env } },
          (_e, stdout) => resolve(stdout),
        ),
      );
    const cmd = `${process.execPath} ${BIN} token inspect ${token}`;
    expect(await inTty(cmd)).toMatch(/\u001b\[\d+m/);
    expect(await inTty(cmd, { NO_COLOR: '1' })).not.toMatch(/\u001b\[/);
    expect(await inTty(`${cmd} --no-color`)).not.toMatch(/\u001b\[/);
    expect(readFileSync(join(import.meta.dirname, '../../completions/latchkey.bash'), 'utf8')).not.toMatch(/\u001b/);
  });
});
