import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccessTokenVerifier, createBearerAuth, createResourceMetadataHandler } from '../../src/backend/index.js';

// The resource-server half: RFC 9068 access tokens for one resource, the RFC 9728 document and
// the 401 challenge. A real HTTP server publishes an OAuth-only authorization server (RFC 8414
// metadata, no OpenID discovery) and its keys; the protected backend is a real server too.
const NOW = new Date('2026-11-25T12:00:00Z');
const nowSec = Math.floor(NOW.getTime() / 1000);
const RESOURCE = 'https://api.acme.example';
let as: Server;
let api: Server;
let issuer: string;
let apiUrl: string;
let key: CryptoKey;
let jwksFetches = 0;

beforeAll(async () => {
  const pair = await generateKeyPair('ES256');
  key = pair.privateKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
  as = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url === '/.well-known/oauth-authorization-server') return void res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks` }));
    if (req.url === '/jwks') {
      jwksFetches += 1;
      return void res.end(JSON.stringify({ keys: [jwk] }));
    }
    res.writeHead(404).end('{}');
  });
  await new Promise<void>((resolve) => as.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(as.address() as AddressInfo).port}`;

  const metadata = createResourceMetadataHandler({ resource: RESOURCE, authorizationServers: [issuer], scopesSupported: ['read'] });
  const auth = createBearerAuth({ verifier: verifier(), resourceMetadataUrl: metadata.url });
  api = createServer((req, res) => {
    if (req.url === metadata.path) return metadata(req, res);
    void auth(req, res).then((subject) => subject && res.writeHead(200).end(JSON.stringify({ sub: subject.claims.sub })));
  });
  await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
  apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await Promise.all([as, api].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
});

const verifier = (resource = RESOURCE) => createAccessTokenVerifier({ issuer, resource, now: () => NOW });

function sign(claims: JWTPayload = {}, header: Record<string, unknown> = {}, signWith: CryptoKey | Uint8Array = key): Promise<string> {
  return new SignJWT({
    iss: issuer,
    aud: RESOURCE,
    sub: 'u1',
    client_id: 'c1',
    scope: 'read',
    iat: nowSec - 10,
    exp: nowSec + 600,
    ...claims,
  })
    .setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'at+jwt', ...header })
    .sign(signWith);
}

describe('createAccessTokenVerifier', () => {
  it('accepts an at+jwt for the resource, with the keys of an OAuth-only server (RFC 8414 metadata)', async () => {
    const result = await verifier()(await sign());
    expect(result).toMatchObject({ ok: true, claims: { sub: 'u1', client_id: 'c1' } });
    expect(await verifier()(await sign({ aud: ['other', RESOURCE] }, { typ: 'JWT' }))).toMatchObject({ ok: true });
  });

  it.each([
    ['an id_token (aud = a client id)', { aud: 'cli' }, {}, 'audience_not_allowed'],
    ['a token for another resource', { aud: 'https://other.example' }, {}, 'audience_not_allowed'],
    ['a token of another issuer', { iss: 'https://evil.example' }, {}, 'issuer_mismatch'],
    ['an expired token', { exp: nowSec - 3600, iat: nowSec - 7200 }, {}, 'expired'],
    ['a token without exp', { exp: undefined }, {}, 'malformed'],
    ['a logout token (typ logout+jwt)', {}, { typ: 'logout+jwt' }, 'not_an_access_token'],
    ['a token without typ', {}, { typ: undefined }, 'not_an_access_token'],
  ])('refuses %s', async (_what, claims, header, reason) => {
    const result = await verifier()(await sign(claims, header));
    expect(result).toMatchObject({ ok: false, reason });
  });

  it('refuses a symmetric algorithm before any key is looked up', async () => {
    const token = await new SignJWT({ iss: issuer, aud: RESOURCE, exp: nowSec + 60, iat: nowSec })
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' })
      .sign(new Uint8Array(32));
    expect(await verifier()(token)).toMatchObject({ ok: false, reason: 'alg_not_allowed' });
  });

  it('refuses a configuration that cannot work, when it is made', () => {
    expect(() => createAccessTokenVerifier({ issuer, resource: 'not a url' })).toThrow(
      /resource must be this backend's resource identifier/,
    );
    expect(() => createAccessTokenVerifier({ issuer: 'http://idp.example.com', resource: RESOURCE })).toThrow(/is not https/);
  });

  it('fetches the keys once for many concurrent verifications', async () => {
    const before = jwksFetches;
    const fresh = verifier();
    const token = await sign();
    const results = await Promise.all(Array.from({ length: 50 }, () => fresh(token)));
    expect(results.every((r) => r.ok)).toBe(true);
    expect(jwksFetches - before).toBe(1);
  });
});

describe('createResourceMetadataHandler and createBearerAuth', () => {
  it('serves the RFC 9728 document at the well-known path of the resource', async () => {
    const response = await fetch(`${apiUrl}/.well-known/oauth-protected-resource`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      resource: RESOURCE,
      authorization_servers: [issuer],
      bearer_methods_supported: ['header'],
      scopes_supported: ['read'],
    });
    const withPath = createResourceMetadataHandler({ resource: 'https://api.example/v1/', authorizationServers: [issuer] });
    expect([withPath.path, withPath.url]).toEqual([
      '/.well-known/oauth-protected-resource/v1',
      'https://api.example/.well-known/oauth-protected-resource/v1',
    ]);
  });

  it('answers a request without a token with 401 and the challenge naming the metadata', async () => {
    const response = await fetch(`${apiUrl}/things`);
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe(
      `Bearer resource_metadata="https://api.acme.example/.well-known/oauth-protected-resource"`,
    );
  });

  it('answers a bad token with invalid_token, and a good one reaches the route', async () => {
    const bad = await fetch(`${apiUrl}/things`, { headers: { authorization: `Bearer ${await sign({ aud: 'other' })}` } });
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toContain('error="invalid_token"');
    const good = await fetch(`${apiUrl}/things`, { headers: { authorization: `Bearer ${await sign()}` } });
    expect(good.status).toBe(200);
    expect(await good.json()).toEqual({ sub: 'u1' });
  });

  it('answers 503, not 401, when the issuer cannot be reached (the token is not to blame)', async () => {
    const auth = createBearerAuth({
      verifier: createAccessTokenVerifier({ issuer: 'http://127.0.0.1:9', resource: RESOURCE, now: () => NOW, fetchTimeoutMs: 500 }),
      resourceMetadataUrl: `${RESOURCE}/.well-known/oauth-protected-resource`,
    });
    const result = await auth.check(`Bearer ${await sign()}`);
    expect(result).toMatchObject({ ok: false, answer: { status: 503, body: { error: 'temporarily_unavailable' } } });
  });
});
