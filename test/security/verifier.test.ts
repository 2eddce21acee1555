import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCliAuthHandler, createIdTokenVerifier } from '../../src/backend/index.js';

// The reference verifier on hostile tokens: each is refused with a typed reason, nothing fetched
// that the token names, and no session made by the handler.
const NOW = new Date('2026-11-22T12:00:00Z');
const nowSec = Math.floor(NOW.getTime() / 1000);
let server: Server;
let issuer: string;
const hits: string[] = [];
let key: CryptoKey;
let publicJwk: JWK;

beforeAll(async () => {
  const pair = await generateKeyPair('ES256');
  key = pair.privateKey;
  publicJwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
  server = createServer((req, res) => {
    hits.push(req.url ?? '');
    res.setHeader('content-type', 'application/json');
    if (req.url === '/.well-known/openid-configuration') return void res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks` }));
    if (req.url === '/jwks') return void res.end(JSON.stringify({ keys: [publicJwk] }));
    res.writeHead(404).end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

let clock = NOW;
const verifier = () => createIdTokenVerifier({ issuer, allowedClientIds: ['cli'], now: () => clock });
const sign = (claims: JWTPayload = {}, header: Record<string, unknown> = {}) =>
  new SignJWT({ iss: issuer, aud: 'cli', sub: 'u1', iat: nowSec - 10, exp: nowSec + 600, ...claims })
    .setProtectedHeader({ alg: 'ES256', kid: 'k1', ...header })
    .sign(key);

describe('the reference verifier on hostile tokens', () => {
  it('refuses an access token offered as an id_token (typ at+jwt)', async () => {
    expect(await verifier()(await sign({}, { typ: 'at+jwt' }))).toMatchObject({ ok: false, reason: 'not_an_id_token' });
  });

  it('refuses any crit header it does not understand', async () => {
    const token = await new SignJWT({ iss: issuer, aud: 'cli', sub: 'u1', iat: nowSec, exp: nowSec + 60 })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1', crit: ['x-unknown'], 'x-unknown': true })
      .sign(key, { crit: { 'x-unknown': true } });
    expect(await verifier()(token)).toMatchObject({ ok: false });
  });

  it('a key the IdP removed stops being trusted once the keys are older than jwksMaxAgeSec', async () => {
    const saved = publicJwk;
    clock = NOW;
    try {
      const verify = createIdTokenVerifier({ issuer, allowedClientIds: ['cli'], now: () => clock, jwksMaxAgeSec: 600 });
      const token = await sign({ exp: nowSec + 3600 });
      expect(await verify(token)).toMatchObject({ ok: true });
      publicJwk = { ...(await exportJWK((await generateKeyPair('ES256')).publicKey)), kid: 'k2', alg: 'ES256', use: 'sig' };
      clock = new Date(NOW.getTime() + 300_000);
      expect(await verify(token)).toMatchObject({ ok: true }); // still within the maximum age
      clock = new Date(NOW.getTime() + 601_000);
      expect(await verify(token)).toMatchObject({ ok: false, reason: 'kid_unknown' });
    } finally {
      publicJwk = saved;
      clock = NOW;
    }
  });

  it('a discovery document or key set of megabytes is refused as it is read, not buffered', async () => {
    const huge = `{"keys":[${'{"kty":"EC"},'.repeat(100_000)}{}]}`;
    const fetch = (url: string) =>
      Promise.resolve(
        url.endsWith('/jwks')
          ? new Response(new Blob([huge]).stream(), { headers: { 'content-type': 'application/json' } })
          : Response.json({ issuer, jwks_uri: `${issuer}/jwks` }),
      );
    const result = await createIdTokenVerifier({ issuer, allowedClientIds: ['cli'], now: () => clock, fetch })(await sign());
    expect(result).toMatchObject({ ok: false, reason: 'jwks_unavailable', message: expect.stringContaining('larger than') });
  });

  it('refuses a jwks_uri that is not https (or http on loopback) before fetching it', async () => {
    const fetched: string[] = [];
    for (const jwksUri of ['http://keys.example.com/jwks', 'file:///etc/passwd', 'https://user:pw@keys.example.com/jwks']) {
      fetched.length = 0;
      const fetch = (url: string) => {
        fetched.push(url);
        return Promise.resolve(Response.json({ issuer, jwks_uri: jwksUri }));
      };
      const result = await createIdTokenVerifier({ issuer, allowedClientIds: ['cli'], now: () => clock, fetch })(await sign());
      expect(result).toMatchObject({ ok: false, reason: 'discovery_failed', message: expect.stringContaining('jwks_uri is refused') });
      expect(fetched).toEqual([`${issuer}/.well-known/openid-configuration`]);
    }
  });

  it('never fetches what jku, x5u or jwk headers point at, nor trusts an embedded key', async () => {
    hits.length = 0;
    const rogue = await generateKeyPair('ES256');
    const token = await new SignJWT({ iss: issuer, aud: 'cli', sub: 'u1', iat: nowSec, exp: nowSec + 60 })
      .setProtectedHeader({
        alg: 'ES256',
        kid: 'rogue',
        jku: `${issuer}/attacker-jwks`,
        x5u: `${issuer}/attacker-cert`,
        jwk: await exportJWK(rogue.publicKey),
      })
      .sign(rogue.privateKey);
    expect(await verifier()(token)).toMatchObject({ ok: false, reason: 'kid_unknown' });
    expect(hits.filter((h) => h.startsWith('/attacker'))).toEqual([]);
  });

  it.each(['../x', '"quoted"', '/jwks', 'k1\u0000', '${jndi:ldap://x}'])('treats the kid %j as an opaque string', async (kid) => {
    hits.length = 0;
    expect(await verifier()(await sign({}, { kid }))).toMatchObject({ ok: false, reason: 'kid_unknown' });
    expect(hits.every((h) => h === '/jwks' || h === '/.well-known/openid-configuration')).toBe(true);
  });

  it('refuses a token issued a week ago, even if its exp is later', async () => {
    expect(await verifier()(await sign({ iat: nowSec - 7 * 86_400, exp: nowSec + 600 }))).toMatchObject({ ok: false, reason: 'too_old' });
  });

  it('refetches the JWKS at most once a minute on unknown kids', async () => {
    clock = NOW;
    const verify = verifier();
    expect(await verify(await sign())).toMatchObject({ ok: true });
    hits.length = 0;
    for (let i = 0; i < 5; i += 1) expect(await verify(await sign({}, { kid: `unknown-${i}` }))).toMatchObject({ reason: 'kid_unknown' });
    expect(hits.filter((h) => h === '/jwks')).toHaveLength(0);
    clock = new Date(NOW.getTime() + 30_000);
    await verify(await sign({}, { kid: 'unknown-x' }));
    expect(hits.filter((h) => h === '/jwks')).toHaveLength(0);
    clock = new Date(NOW.getTime() + 61_000);
    await verify(await sign({}, { kid: 'unknown-y' }));
    await verify(await sign({}, { kid: 'unknown-z' }));
    expect(hits.filter((h) => h === '/jwks')).toHaveLength(1);
    clock = NOW;
  });

  it('100 concurrent first verifications share one JWKS fetch; 100 concurrent unknown kids after the cooldown make one more', async () => {
    clock = NOW;
    const verify = verifier();
    hits.length = 0;
    const good = await sign();
    const results = await Promise.all(Array.from({ length: 100 }, () => verify(good)));
    expect(results.every((r) => r.ok)).toBe(true);
    expect(hits.filter((h) => h === '/jwks')).toHaveLength(1);

    const unknown = await Promise.all(Array.from({ length: 100 }, (_, i) => sign({}, { kid: `random-${i}` })));
    clock = new Date(NOW.getTime() + 61_000);
    const refused = await Promise.all(unknown.map((token) => verify(token)));
    expect(refused.every((r) => !r.ok && r.reason === 'kid_unknown')).toBe(true);
    expect(hits.filter((h) => h === '/jwks')).toHaveLength(2);
    // The cooldown counts from the start of that fetch: another flood right after fetches nothing.
    await Promise.all(unknown.map((token) => verify(token)));
    expect(hits.filter((h) => h === '/jwks')).toHaveLength(2);
    clock = NOW;
  });

  it('a failing JWKS is fetched once per cooldown, not once per request; then it recovers', async () => {
    let fetches = 0;
    let failing = true;
    const failingServer = createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      if (req.url === '/jwks') {
        fetches += 1;
        if (failing) return void res.writeHead(503).end('{}');
        return void res.end(JSON.stringify({ keys: [publicJwk] }));
      }
      res.writeHead(404).end('{}');
    });
    await new Promise<void>((resolve) => failingServer.listen(0, '127.0.0.1', resolve));
    try {
      clock = NOW;
      const verify = createIdTokenVerifier({
        issuer,
        jwksUri: `http://127.0.0.1:${(failingServer.address() as AddressInfo).port}/jwks`,
        allowedClientIds: ['cli'],
        now: () => clock,
      });
      const token = await sign();
      const concurrent = await Promise.all(Array.from({ length: 50 }, () => verify(token)));
      expect(concurrent.every((r) => !r.ok && r.reason === 'jwks_unavailable')).toBe(true);
      for (let i = 0; i < 50; i += 1) expect(await verify(token)).toMatchObject({ ok: false, reason: 'jwks_unavailable' });
      expect(fetches).toBe(1);
      failing = false;
      clock = new Date(NOW.getTime() + 61_000);
      expect(await verify(token)).toMatchObject({ ok: true });
      expect(fetches).toBe(2);
    } finally {
      clock = NOW;
      failingServer.close();
    }
  });

  it('names an RSA key too weak to trust (512 bits) as such, not as an unavailable JWKS', async () => {
    const { generateKeyPairSync, createSign } = await import('node:crypto');
    const weak = generateKeyPairSync('rsa', { modulusLength: 512 });
    const jwk = { ...(await exportJWK(weak.publicKey)), kid: 'weak', alg: 'RS256', use: 'sig' };
    const weakServer = createServer((_req, res) => res.setHeader('content-type', 'application/json').end(JSON.stringify({ keys: [jwk] })));
    await new Promise<void>((resolve) => weakServer.listen(0, '127.0.0.1', resolve));
    try {
      const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
      const input = `${part({ alg: 'RS256', kid: 'weak' })}.${part({ iss: issuer, aud: 'cli', sub: 'u1', iat: nowSec - 10, exp: nowSec + 600 })}`;
      const token = `${input}.${createSign('sha256').update(input).sign(weak.privateKey).toString('base64url')}`;
      const verify = createIdTokenVerifier({
        issuer,
        jwksUri: `http://127.0.0.1:${(weakServer.address() as AddressInfo).port}/jwks`,
        allowedClientIds: ['cli'],
        now: () => NOW,
      });
      const result = await verify(token);
      expect(result).toMatchObject({ ok: false, reason: 'key_too_weak' });
      expect(result.ok === false && result.message).toContain('2048 bits');
    } finally {
      weakServer.close();
    }
  });

  it('the handler makes no session for an unmapped sub, and says only "Bad credentials"', async () => {
    let minted = 0;
    const handler = createCliAuthHandler({
      verifier: verifier(),
      findUser: () => null,
      mintSession: () => ((minted += 1), { token: 'x' }),
    });
    const backend = createServer(handler);
    await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
    try {
      const response = await fetch(`http://127.0.0.1:${(backend.address() as AddressInfo).port}/api/cli-auth`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: await sign({ sub: 'nobody-we-know' }) }),
      });
      expect(response.status).toBe(403);
      expect(await response.text()).toBe('{"error":"Bad credentials"}');
      expect(minted).toBe(0);
    } finally {
      backend.close();
    }
  });
});
