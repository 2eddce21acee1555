import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateKeyPair, importJWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempConfigDir } from '../../helpers/cli.js';
import { runInProcess } from '../../helpers/root.js';
import { createTestRoot } from '../../helpers/root.js';
import { loginSetup, startStack, type Stack } from '../../helpers/stack.js';

// In process, through the composition root (no process spawned per command).
const { run: runCli } = createTestRoot();

const now = Math.floor(Date.now() / 1000);
let expired: string;
let fresh: string;

beforeAll(async () => {
  const { privateKey } = await generateKeyPair('ES256');
  const sign = (claims: Record<string, unknown>) => new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'k' }).sign(privateKey);
  expired = await sign({
    iss: 'https://cp.chainloop',
    aud: ['chainloop', 'user-auth.chainloop'],
    sub: 'u',
    iat: now - 7200,
    exp: now - 3600,
  });
  fresh = await sign({ iss: 'https://cp.chainloop', aud: ['chainloop', 'user-auth.chainloop'], sub: 'u', iat: now - 10, exp: now + 3600 });
});

const PRIORITY = ['--audience-priority', 'api-token-auth.chainloop,user-auth.chainloop,chainloop'];

describe('latchkey token inspect', () => {
  it('reads stdin with a Bearer prefix; --json is exactly the documented object', async () => {
    const result = await runCli(['token', 'inspect', '-', '--json', ...PRIORITY], {
      input: `Bearer ${fresh}\n`,
      configDir: tempConfigDir(),
    });
    expect(result.code, result.stderr).toBe(0);
    const json = JSON.parse(result.stdout);
    expect(Object.keys(json)).toEqual([
      'header',
      'claims',
      'kind',
      'audience',
      'diagnostics',
      'signature',
      'issuer',
      'evidence',
      'identity',
    ]);
    expect(json).toMatchObject({
      kind: 'user-auth.chainloop',
      audience: { chosen: 'user-auth.chainloop', all: ['chainloop', 'user-auth.chainloop'] },
      diagnostics: [],
      signature: { checked: false },
    });
  });

  it('exit 0 for an expired token, exit 4 with --check, and the diagnosis either way', async () => {
    const configDir = tempConfigDir();
    const plain = await runCli(['token', 'inspect', expired], { configDir });
    expect(plain.code).toBe(0);
    expect(plain.stdout).toMatch(/error\s+expired: the token expired 1 h ago/);
    const checked = await runCli(['token', 'inspect', expired, '--check'], { configDir });
    expect(checked.code).toBe(4);
    expect(checked.stderr).toContain('1 error-level problem(s)');
  });

  it('exit 2 with one line for input that is not a JWT, and for a 200 kB input without hanging', async () => {
    const configDir = tempConfigDir();
    const bad = await runCli(['token', 'inspect', 'hello'], { configDir });
    expect(bad.code).toBe(2);
    expect(bad.stderr.split('\n')[0]).toBe('latchkey: not a JWT: expected 3 dot-separated parts (or 5 for an encrypted JWT), got 1');
    const started = Date.now();
    const huge = await runCli(['token', 'inspect', '-'], { configDir, input: 'a'.repeat(200_000) });
    expect(huge.code).toBe(2);
    expect(huge.stderr).toMatch(/not a JWT: the input is (200000 characters long|larger than)/);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(huge.stderr).not.toMatch(/\n\s+at /);
  });

  it('compares with the profile: issuer and client id', async () => {
    const configDir = tempConfigDir();
    expect(
      (await runInProcess(['profile', 'add', 'cl', '--issuer', 'https://cp.chainloop/', '--client-id', 'cli'], { configDir })).code,
    ).toBe(0);
    const json = JSON.parse((await runCli(['token', 'inspect', fresh, '--json'], { configDir })).stdout);
    expect(json.diagnostics.map((d: { code: string }) => d.code)).toEqual(['issuer_mismatch', 'audience_mismatch']);
  });

  it('makes no network request without --verify (an unreachable issuer does not matter)', async () => {
    const result = await runCli(['token', 'inspect', fresh, '--debug'], { configDir: tempConfigDir() });
    expect(result.code).toBe(0);
    expect(result.stderr).not.toContain('→');
  });
});

describe('latchkey token inspect on hostile tokens', () => {
  const part = (text: string) => Buffer.from(text).toString('base64url');

  it('an array nested 5,000 deep (13 kB) is exit 2 with one clear line, in text and --json, never a crash', async () => {
    const deep = `${part('{"alg":"RS256"}')}.${part(`{"sub":"x","deep":${'['.repeat(5000)}1${']'.repeat(5000)}}`)}.c2ln`;
    for (const args of [[], ['--json']]) {
      const result = await runCli(['token', 'inspect', deep, ...args], { configDir: tempConfigDir() });
      expect(result.code).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.stderr.split('\n')[0]).toBe(
        'latchkey: not a JWT: the payload nests arrays or objects deeper than 32 levels, which no real token does',
      );
    }
  });

  it('a 60 kB claim is shown cut short on one line (--json has all of it)', async () => {
    const long = `${part('{"alg":"RS256"}')}.${part(JSON.stringify({ sub: 'x', note: 'n'.repeat(45_000) }))}.c2ln`;
    const text = await runCli(['token', 'inspect', long], { configDir: tempConfigDir() });
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`${'n'.repeat(1000)}… (44000 more characters; --json shows all)`);
    const json = await runCli(['token', 'inspect', long, '--json'], { configDir: tempConfigDir() });
    expect(JSON.parse(json.stdout).claims.note).toHaveLength(45_000);
    // A diagnostic that quotes a long claim (the issuer) is cut the same way.
    const longIss = `${part('{"alg":"RS256"}')}.${part(JSON.stringify({ sub: 'x', iss: `https://x/${'i'.repeat(30_000)}` }))}.c2ln`;
    const mismatch = await runCli(['token', 'inspect', longIss, '--issuer', 'https://idp.example'], { configDir: tempConfigDir() });
    expect(mismatch.stdout).toMatch(/issuer_mismatch: the token has "https:\/\/x\/i+… \(\d+ more characters; --json shows all\)/);
    expect(Math.max(...mismatch.stdout.split('\n').map((line) => line.length))).toBeLessThan(1200);
  });
});

describe('latchkey token inspect --verify as an SSRF tool (the token chooses the issuer)', () => {
  let server: import('node:http').Server;
  let base: string;
  const hits: string[] = [];
  beforeAll(async () => {
    const { createServer } = await import('node:http');
    server = createServer((req, res) => {
      hits.push(req.url ?? '');
      if (req.url === '/.well-known/openid-configuration')
        return void res.setHeader('content-type', 'application/json').end(JSON.stringify({ issuer: base, jwks_uri: `${base}/jwks` }));
      if (req.url === '/jwks') return void res.writeHead(302, { location: 'http://internal.example/admin' }).end();
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as import('node:net').AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const tokenFrom = (iss: string) =>
    `${Buffer.from('{"alg":"RS256","kid":"k"}').toString('base64url')}.${Buffer.from(JSON.stringify({ iss, sub: 'x' })).toString('base64url')}.c2ln`;

  it('never fetches what the token names for itself: without --issuer (or a profile) nothing is contacted, and the view says why', async () => {
    hits.length = 0;
    const result = await runCli(['token', 'inspect', '--verify', tokenFrom(`${base}/admin/delete?confirm=1&x=`)], {
      configDir: tempConfigDir(),
    });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      /Signature\s+not verified: no issuer to trust\. The token names "http:\/\/127\.0\.0\.1:\d+\/admin\/delete\?confirm=1&x=", which proves nothing by itself; give --issuer <url>/,
    );
    expect(hits).toEqual([]);
  });

  it('an --issuer with a query, a fragment or a user name is refused before any request', async () => {
    for (const iss of [`${base}/admin/delete?confirm=1&x=`, `${base}/#frag`, `http://user:pw@127.0.0.1:${new URL(base).port}`]) {
      hits.length = 0;
      const result = await runCli(['token', 'inspect', '--verify', '--issuer', iss, tokenFrom(iss)], { configDir: tempConfigDir() });
      expect(result.code, iss).toBe(2);
      expect(result.stderr).toMatch(/has a query or fragment|carries a user name or password/);
      // The decode is printed all the same; only the check could not run.
      expect(result.stdout).toMatch(/Signature\s+could not be checked/);
      expect(hits).toEqual([]);
    }
  });

  it('says which URL it fetches before fetching it, and does not follow a JWKS redirect to plain http elsewhere', async () => {
    hits.length = 0;
    const result = await runCli(['token', 'inspect', '--verify', '--issuer', base, tokenFrom(base)], { configDir: tempConfigDir() });
    expect(result.code).toBe(2);
    expect(result.stdout).toMatch(/Kind\s+/);
    expect(result.stderr).toContain(`Fetching ${base}/.well-known/openid-configuration to check the signature…`);
    expect(result.stderr).toContain(`Fetching ${base}/jwks to check the signature…`);
    expect(result.stderr).toContain(
      `the JWKS's redirect to "http://internal.example/admin" cannot be fetched: its scheme http: is not https`,
    );
    expect(result.stderr).not.toContain('Fetching http://internal.example');
    expect(hits).toEqual(['/.well-known/openid-configuration', '/jwks']);
  });
});

describe('latchkey token inspect --verify (against the in-process IdP)', () => {
  let stack: Stack;
  let idToken: string;
  let setup: Awaited<ReturnType<typeof loginSetup>>;
  beforeAll(async () => {
    stack = await startStack();
    setup = await loginSetup(stack, [], { backend: false });
    const login = await setup.run(['login']);
    if (login.code !== 0) throw new Error(login.stderr);
    idToken = JSON.parse(JSON.parse(readFileSync(join(setup.configDir, 'credentials.json'), 'utf8')).latchkey.demo).idToken;
  });
  afterAll(() => stack.close());

  it("the profile's own token (its id_token, the access token being opaque) verifies", async () => {
    const result = await setup.run(['token', 'inspect', '--verify', '--json']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain('inspecting its id_token');
    const json = JSON.parse(result.stdout);
    expect(json).toMatchObject({
      kind: 'id_token',
      diagnostics: [],
      signature: { checked: true, valid: true, jwksUri: `${stack.idp.issuer}/jwks` },
    });
    expect(json.claims.sub).toBe('ada');
  });

  it('a token signed by a key the issuer does not publish: kid_unknown (the stale-token case), exit 4', async () => {
    const { privateKey } = await generateKeyPair('RS256');
    const claims = JSON.parse(Buffer.from(idToken.split('.')[1]!, 'base64url').toString());
    const stale = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'rotated-out' }).sign(privateKey);
    const result = await setup.run(['token', 'inspect', stale, '--verify']);
    expect(result.code).toBe(4);
    expect(result.stdout).toMatch(/error\s+kid_unknown: .*stale token: log in again/);
  });

  it('a tampered payload: bad_signature, exit 4', async () => {
    const [h, p, s] = idToken.split('.');
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString());
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...claims, sub: 'admin' })).toString('base64url')}.${s}`;
    const result = await setup.run(['token', 'inspect', tampered, '--verify', '--json']);
    expect(result.code).toBe(4);
    const json = JSON.parse(result.stdout);
    expect(json.signature).toMatchObject({ checked: true, valid: false });
    expect(json.diagnostics).toContainEqual(expect.objectContaining({ level: 'error', code: 'bad_signature' }));
  });

  it("a token the IdP's own key signed, without kid, while it publishes one key: valid", async () => {
    const key = await importJWK(stack.idp.signingKey, 'RS256');
    const token = await new SignJWT({ iss: stack.idp.issuer, aud: stack.idp.clientId, sub: 'x', iat: now, exp: now + 60 })
      .setProtectedHeader({ alg: 'RS256' })
      .sign(key);
    const json = JSON.parse((await setup.run(['token', 'inspect', token, '--verify', '--json'])).stdout);
    expect(json.signature.valid).toBe(true);
    expect(json.diagnostics).toEqual([]);
  });
});
