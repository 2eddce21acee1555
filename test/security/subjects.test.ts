import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  clientCredentialsEvidence,
  createAccessTokenVerifier,
  createIdTokenVerifier,
  requireScope,
  subjectOf,
} from '../../src/backend/index.js';

// Who is calling: the client-credentials tokens of each IdP (as docs/subjects.md describes
// them) are never a user; a service only when its client is configured.
const SERVICES = [{ clientId: 'billing-svc', name: 'Billing', scopes: ['account:usage:read'] }];
const access = (claims: JWTPayload) => subjectOf(claims, { serviceClients: SERVICES, kind: 'access_token' });

describe('subjectOf: the client-credentials tokens of real IdPs', () => {
  const shapes: Array<[string, JWTPayload]> = [
    ['oidc-provider / Okta-like: sub is client_id', { sub: 'other-svc', client_id: 'other-svc', scope: 'account:usage:read' }],
    ['Okta: sub is cid', { sub: 'other-svc', cid: 'other-svc', scp: ['account:usage:read'] }],
    ['Auth0: sub <client>@clients, gty', { sub: 'other-svc@clients', azp: 'other-svc', gty: 'client-credentials', scope: 'read' }],
    ['Auth0: gty alone', { sub: 'weird', azp: 'other-svc', gty: 'client-credentials' }],
    ['Entra: idtyp app', { sub: 'a1b2', oid: 'a1b2', azp: 'other-svc', idtyp: 'app', tid: 't' }],
    ['Entra: roles without scp', { sub: 'a1b2', oid: 'a1b2', azp: 'other-svc', roles: ['Usage.Read'], tid: 't' }],
    ['Entra v1: appid', { sub: 'a1b2', appid: 'other-svc', idtyp: 'app', tid: 't' }],
    ['Keycloak: a service-account- user', { sub: 'f81d4fae', azp: 'other-svc', preferred_username: 'service-account-other-svc' }],
    ['Google: sub is azp', { sub: '1122334455', azp: '1122334455', email: 'svc@proj.iam.gserviceaccount.com' }],
    ['no sub at all', { client_id: 'other-svc', scope: 'x' }],
  ];
  for (const [name, claims] of shapes)
    it(`${name}: refused (service_client_not_allowed), never a user`, () => {
      expect(clientCredentialsEvidence(claims).length).toBeGreaterThan(0);
      expect(access(claims)).toMatchObject({ ok: false, reason: 'service_client_not_allowed' });
    });

  it('a configured client is a service with its token scopes limited to those configured', () => {
    expect(access({ sub: 'billing-svc', client_id: 'billing-svc', scope: 'account:usage:read account:usage:write' })).toMatchObject({
      ok: true,
      subject: { kind: 'service', clientId: 'billing-svc', name: 'Billing', scopes: ['account:usage:read'] },
    });
    // Entra writes an app's permissions as roles.
    expect(access({ sub: 'oid-1', azp: 'billing-svc', roles: ['account:usage:read'], tid: 't' })).toMatchObject({
      ok: true,
      subject: { kind: 'service', scopes: ['account:usage:read'] },
    });
  });

  it('a token naming no user and no client is refused (subject_missing)', () => {
    expect(access({ scope: 'x' })).toMatchObject({ ok: false, reason: 'subject_missing' });
  });

  it("users' tokens of the same IdPs are users", () => {
    for (const claims of [
      { sub: 'auth0|123', azp: 'cli', gty: 'password', scope: 'openid' },
      { sub: 'u-oid', azp: 'cli', scp: 'User.Read', roles: ['Admin'], tid: 't' },
      { sub: 'f81d', azp: 'cli', preferred_username: 'ada' },
      { sub: 'ada', client_id: 'cli', scope: 'account:usage:read' },
    ] as JWTPayload[])
      expect(access(claims)).toMatchObject({ ok: true, subject: { kind: 'user', sub: claims.sub } });
  });

  it('requireScope checks the subject and answers 403 insufficient_scope', () => {
    const usage = requireScope('account:usage:read');
    expect(usage.check({ scopes: ['account:usage:read'] })).toBeUndefined();
    expect(usage.check({ scopes: [] })).toMatchObject({
      status: 403,
      body: { error: 'insufficient_scope', scope: 'account:usage:read' },
      headers: { 'www-authenticate': 'Bearer error="insufficient_scope", scope="account:usage:read"' },
    });
    expect(() => requireScope('two words')).toThrow(TypeError);
  });
});

describe('every verifier resolves to a subject', () => {
  const NOW = new Date('2026-12-01T12:00:00Z');
  const nowSec = Math.floor(NOW.getTime() / 1000);
  let server: Server;
  let issuer: string;
  let key: CryptoKey;
  beforeAll(async () => {
    const pair = await generateKeyPair('ES256');
    key = pair.privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    server = createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      if (req.url === '/.well-known/openid-configuration') return void res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks` }));
      if (req.url === '/jwks') return void res.end(JSON.stringify({ keys: [jwk] }));
      res.writeHead(404).end('{}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const sign = (claims: JWTPayload, typ = 'JWT') =>
    new SignJWT({ iss: issuer, iat: nowSec - 5, exp: nowSec + 600, ...claims })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1', typ })
      .sign(key);

  it('createIdTokenVerifier: a user; a client-credentials-shaped id_token of an unlisted client is refused', async () => {
    const verify = createIdTokenVerifier({ issuer, allowedClientIds: ['cli'], now: () => NOW });
    expect(await verify(await sign({ aud: 'cli', sub: 'ada', email: 'ada@example.com' }))).toMatchObject({
      ok: true,
      subject: { kind: 'user', sub: 'ada', email: 'ada@example.com', clientId: 'cli' },
    });
    expect(await verify(await sign({ aud: 'cli', sub: 'cli', azp: 'cli' }))).toMatchObject({
      ok: false,
      reason: 'service_client_not_allowed',
    });
  });

  it('createAccessTokenVerifier: a listed service client, and an unlisted one refused', async () => {
    const verify = createAccessTokenVerifier({ issuer, resource: 'https://api.example', now: () => NOW, serviceClients: SERVICES });
    const token = (client: string) =>
      sign({ aud: 'https://api.example', sub: client, client_id: client, scope: 'account:usage:read' }, 'at+jwt');
    expect(await verify(await token('billing-svc'))).toMatchObject({ ok: true, subject: { kind: 'service', name: 'Billing' } });
    expect(await verify(await token('registered-by-anyone'))).toMatchObject({ ok: false, reason: 'service_client_not_allowed' });
  });

  it('a serviceClients mistake throws at start-up', () => {
    expect(() =>
      createAccessTokenVerifier({ issuer, resource: 'https://api.example', serviceClients: [{ clientId: 'x' } as never] }),
    ).toThrow(/has no name/);
  });
});
