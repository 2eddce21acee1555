import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCliAuthHandler, createIdTokenVerifier, type IdTokenVerifier } from '../../src/backend/index.js';

// A real HTTP server publishing the issuer's discovery document and JWKS (whose keys the test
// rotates), and a fixed clock the verifier is handed.
const NOW = new Date('2026-11-22T12:00:00Z');
const nowSec = Math.floor(NOW.getTime() / 1000);
let server: Server;
let issuer: string;
let published: JWK[] = [];
let jwksFetches = 0;
let signingKey: CryptoKey;

beforeAll(async () => {
  const pair = await generateKeyPair('ES256');
  signingKey = pair.privateKey;
  published = [{ ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }];
  server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url === '/.well-known/openid-configuration') return void res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks` }));
    if (req.url === '/jwks') {
      jwksFetches += 1;
      return void res.end(JSON.stringify({ keys: published }));
    }
    res.writeHead(404).end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

function sign(
  claims: JWTPayload,
  { kid = 'k1', key = signingKey, alg = 'ES256' }: { kid?: string; key?: CryptoKey | Uint8Array; alg?: string } = {},
): Promise<string> {
  return new SignJWT({ iss: issuer, aud: 'cli', sub: 'u1', iat: nowSec - 10, exp: nowSec + 600, ...claims })
    .setProtectedHeader({ alg, kid })
    .sign(key);
}

let clock = NOW;
const verifier = (extra: Partial<Parameters<typeof createIdTokenVerifier>[0]> = {}): IdTokenVerifier =>
  createIdTokenVerifier({ issuer, allowedClientIds: ['cli', 'cli-2'], clockToleranceSec: 30, now: () => clock, ...extra });

describe('createIdTokenVerifier', () => {
  it('accepts a token whose aud is an allowed client id, and returns its claims', async () => {
    const result = await verifier()(await sign({ email: 'u1@example.com' }));
    expect(result).toEqual({
      ok: true,
      claims: expect.objectContaining({ sub: 'u1', email: 'u1@example.com' }),
      subject: expect.objectContaining({ kind: 'user', sub: 'u1', email: 'u1@example.com', clientId: 'cli' }),
    });
  });

  it.each([
    ['an aud that is not allowed', { aud: 'web-app' }, 'audience_not_allowed'],
    ['a multi-aud token without azp', { aud: ['cli', 'other'] }, 'azp_missing'],
    ['an azp that is not allowed', { aud: ['cli', 'other'], azp: 'other' }, 'azp_not_allowed'],
    ['another issuer', { iss: 'https://evil.example' }, 'issuer_mismatch'],
    ['an expired token', { iat: nowSec - 7200, exp: nowSec - 3600 }, 'expired'],
    ['a token not valid yet', { nbf: nowSec + 3600 }, 'not_yet_valid'],
    ['a token issued in the future', { iat: nowSec + 3600, exp: nowSec + 7200 }, 'issued_in_future'],
  ])('refuses %s', async (_name, claims, reason) => {
    expect(await verifier()(await sign(claims))).toMatchObject({ ok: false, reason });
  });

  it('accepts a multi-aud token whose azp is allowed', async () => {
    expect(await verifier()(await sign({ aud: ['cli', 'api'], azp: 'cli' }))).toMatchObject({ ok: true });
  });

  it('refuses alg none and HS256 before looking at any key', async () => {
    const fetchesBefore = jwksFetches;
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ iss: issuer, aud: 'cli', exp: nowSec + 60 })).toString('base64url')}.`;
    expect(await verifier()(none)).toMatchObject({ ok: false, reason: 'alg_not_allowed' });
    const hs = await sign({}, { alg: 'HS256', key: new TextEncoder().encode('a-shared-secret-of-32-bytes-long!') });
    expect(await verifier()(hs)).toMatchObject({ ok: false, reason: 'alg_not_allowed' });
    expect(jwksFetches).toBe(fetchesBefore);
  });

  it('an unknown kid refetches the JWKS once (after the cooldown), then fails; a rotated key then works', async () => {
    clock = NOW;
    const verify = verifier({ jwksRefreshCooldownSec: 30 });
    expect(await verify(await sign({}))).toMatchObject({ ok: true });
    const start = jwksFetches;

    const rotated = await generateKeyPair('ES256');
    const unknown = await sign({}, { kid: 'k2', key: rotated.privateKey });
    // Within the cooldown: no refetch, the kid is unknown.
    expect(await verify(unknown)).toMatchObject({ ok: false, reason: 'kid_unknown' });
    expect(jwksFetches).toBe(start);
    // After it: exactly one refetch, still unknown.
    clock = new Date(NOW.getTime() + 31_000);
    expect(await verify(unknown)).toMatchObject({ ok: false, reason: 'kid_unknown' });
    expect(jwksFetches).toBe(start + 1);

    // The IdP publishes the new key: one more refetch finds it.
    published = [...published, { ...(await exportJWK(rotated.publicKey)), kid: 'k2', alg: 'ES256', use: 'sig' }];
    clock = new Date(NOW.getTime() + 62_000);
    expect(await verify(unknown)).toMatchObject({ ok: true });
    expect(jwksFetches).toBe(start + 2);
    clock = NOW;
  });

  it('a bad signature under a known kid', async () => {
    const other = await generateKeyPair('ES256');
    expect(await verifier()(await sign({}, { key: other.privateKey }))).toMatchObject({ ok: false, reason: 'bad_signature' });
  });

  it('garbage is malformed, not a crash', async () => {
    for (const input of ['', 'abc', 'a.b.c', '....', '\u0000'.repeat(100)]) {
      expect(await verifier()(input)).toMatchObject({ ok: false });
    }
  });
});

describe('createCliAuthHandler', () => {
  let backend: Server;
  let url: string;
  const refusals: string[] = [];
  beforeAll(async () => {
    const handler = createCliAuthHandler({
      verifier: verifier(),
      findUser: (claims) => (claims.sub === 'u1' ? { id: 1, login: 'u1' } : null),
      mintSession: (user) => ({ token: `session-for-${user.login}`, expiresAt: nowSec + 3600 }),
      onRefused: (reason) => refusals.push(reason),
      maxBodyBytes: 4096,
    });
    backend = createServer(handler);
    await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(backend.address() as AddressInfo).port}/api/cli-auth`;
  });
  afterAll(() => new Promise<void>((resolve) => backend.close(() => resolve())));

  const post = (body: string, type = 'application/x-www-form-urlencoded') =>
    fetch(url, { method: 'POST', headers: { 'content-type': type }, body });

  it('trades a good id_token (form or JSON) for a session', async () => {
    const token = await sign({});
    for (const response of [await post(`token=${token}`), await post(JSON.stringify({ token }), 'application/json')]) {
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({
        token: 'session-for-u1',
        expires_at: new Date((nowSec + 3600) * 1000).toISOString(),
        user: { sub: 'u1', email: null },
      });
    }
  });

  it('answers 403 {"error":"Bad credentials"} whatever the reason, and logs the reason', async () => {
    refusals.length = 0;
    for (const token of [await sign({ aud: 'web-app' }), await sign({ sub: 'stranger' })]) {
      const response = await post(`token=${token}`);
      expect(response.status).toBe(403);
      expect(await response.text()).toBe('{"error":"Bad credentials"}');
    }
    expect(refusals).toEqual(['audience_not_allowed', 'unknown_user']);
  });

  it('refuses other methods, other types, missing tokens and large bodies', async () => {
    expect((await fetch(url)).status).toBe(405);
    expect((await post('token=x', 'text/plain')).status).toBe(415);
    expect((await post('nothing=here')).status).toBe(400);
    expect((await post('{not json', 'application/json')).status).toBe(400);
    expect((await post(`token=${'a'.repeat(10_000)}`)).status).toBe(413);
  });
});
