import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt, decodeProtectedHeader, exportJWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loginSetup, startStack, type Stack } from '../../helpers/stack.js';

// Client credentials against oidc-provider: confidential clients with a secret (basic and post)
// and with private_key_jwt, whose public keys the IdP holds.
const SECRET = 'svc-secret-0123456789-abcdefghij-0123456789';
const keysDir = mkdtempSync(join(tmpdir(), 'latchkey-keys-'));
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ed = generateKeyPairSync('ed25519');
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const pem = (name: string, key: import('node:crypto').KeyObject) => {
  const path = join(keysDir, name);
  writeFileSync(path, key.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  return path;
};
const EC_KEY = pem('ec.pem', ec.privateKey);
const ED_KEY = pem('ed.pem', ed.privateKey);
const RSA_KEY = pem('rsa.pem', rsa.privateKey);

let stack: Stack;
const assertions: string[] = [];
const authHeaders: Array<string | undefined> = [];

beforeAll(async () => {
  const publicJwk = async (key: import('node:crypto').KeyObject, kid: string) => ({ ...(await exportJWK(key)), kid });
  const service = { grant_types: ['client_credentials'], response_types: [], redirect_uris: [], scope: 'account:usage:read' };
  stack = await startStack({
    idp: {
      clientCredentialsTtl: 20,
      clients: [
        { ...service, client_id: 'svc-basic', client_secret: SECRET, token_endpoint_auth_method: 'client_secret_basic' },
        { ...service, client_id: 'svc-post', client_secret: SECRET, token_endpoint_auth_method: 'client_secret_post' },
        {
          ...service,
          client_id: 'svc-jwt',
          token_endpoint_auth_method: 'private_key_jwt',
          jwks: {
            keys: [await publicJwk(ec.publicKey, 'ec-1'), await publicJwk(ed.publicKey, 'ed-1'), await publicJwk(rsa.publicKey, 'rsa-1')],
          },
        },
      ],
    },
  });
  stack.idp.hooks.after = (ctx) => {
    if (ctx.path !== '/token') return;
    authHeaders.push(ctx.get('authorization') || undefined);
    const assertion = (ctx as unknown as { oidc?: { params?: { client_assertion?: string } } }).oidc?.params?.client_assertion;
    if (assertion) assertions.push(assertion);
  };
});
afterAll(() => stack.close());

const stored = (configDir: string) => JSON.parse(JSON.parse(readFileSync(join(configDir, 'credentials.json'), 'utf8')).latchkey.demo);

describe('latchkey login --client-credentials', () => {
  it('with a secret from stdin (client_secret_basic): a service token, the secret kept with it, not in the config', async () => {
    const setup = await loginSetup(stack, ['--client-id', 'svc-basic', '--scopes', 'account:usage:read'], { backend: false });
    const before = authHeaders.length;
    const login = await setup.run(['login', '--client-credentials', '--client-secret-stdin'], { input: `${SECRET}\n` });
    expect(login.code, login.stderr).toBe(0);
    expect(authHeaders[before]).toMatch(/^Basic /);
    const record = stored(setup.configDir);
    expect(record).toMatchObject({ kind: 'service', via: 'client-credentials', clientSecret: SECRET, subject: 'svc-basic' });
    expect(readFileSync(join(setup.configDir, 'config.json'), 'utf8')).not.toContain(SECRET);
    // The IdP's 20 s tokens are inside the 30 s margin, so `token` has re-minted with the stored secret.
    const token = await setup.run(['token']);
    expect(token.code, token.stderr).toBe(0);
    expect(token.stdout.trim()).toBe(stored(setup.configDir).token);
  });

  it('with the secret in LATCHKEY_CLIENT_SECRET, sent in the body when the client is registered for client_secret_post', async () => {
    const postOnly = await startStack({
      idp: {
        clientAuthMethods: ['client_secret_post', 'none'],
        clients: [
          {
            client_id: 'svc-post',
            client_secret: SECRET,
            token_endpoint_auth_method: 'client_secret_post',
            grant_types: ['client_credentials'],
            response_types: [],
            redirect_uris: [],
          },
        ],
      },
    });
    try {
      let authorization: string | undefined = 'unset';
      postOnly.idp.hooks.after = (ctx) => {
        if (ctx.path === '/token') authorization = ctx.get('authorization');
      };
      const setup = await loginSetup(postOnly, ['--client-id', 'svc-post'], { backend: false });
      const login = await setup.run(['login', '--client-credentials'], { env: { LATCHKEY_CLIENT_SECRET: SECRET } });
      expect(login.code, login.stderr).toBe(0);
      expect(authorization).toBe('');
    } finally {
      await postOnly.close();
    }
  });

  it('a wrong secret is exit 4 with the IdP error, nothing stored', async () => {
    const setup = await loginSetup(stack, ['--client-id', 'svc-basic'], { backend: false });
    const login = await setup.run(['login', '--client-credentials', '--client-secret-stdin'], { input: 'wrong-secret' });
    expect(login.code, login.stderr).toBe(4);
    expect(login.stderr).toContain('invalid_client');
    expect((await setup.run(['token'])).code).toBe(3);
  });

  it.each([
    ['ES256', EC_KEY, 'ec-1', 'issuer'],
    ['EdDSA', ED_KEY, 'ed-1', 'token-endpoint'],
    ['RS256', RSA_KEY, 'rsa-1', 'issuer'],
  ])('private_key_jwt with an %s key (%s, kid %s), aud = the %s', async (alg, key, kid, audience) => {
    const setup = await loginSetup(stack, ['--client-id', 'svc-jwt', '--assertion-audience', audience], { backend: false });
    const before = assertions.length;
    const login = await setup.run(['login', '--client-credentials', '--private-key', key, '--key-id', kid]);
    expect(login.code, login.stderr).toBe(0);
    const assertion = assertions[before]!;
    expect(decodeProtectedHeader(assertion)).toMatchObject({ alg, kid });
    const claims = decodeJwt(assertion);
    expect(claims.iss).toBe('svc-jwt');
    expect(claims.sub).toBe('svc-jwt');
    expect(claims.aud).toBe(audience === 'issuer' ? stack.idp.issuer : `${stack.idp.issuer}/token`);
    expect(claims.jti).toEqual(expect.any(String));
    expect(claims.exp! - claims.iat!).toBeGreaterThan(0);
    expect(claims.exp! - claims.iat!).toBeLessThanOrEqual(300);
    expect(stored(setup.configDir)).toMatchObject({ kind: 'service', privateKeyPath: key, keyId: kid });
    expect(JSON.stringify(stored(setup.configDir))).not.toContain('PRIVATE KEY');
  });

  it('every assertion has a fresh jti', () => {
    const jtis = assertions.map((a) => decodeJwt(a).jti);
    expect(new Set(jtis).size).toBe(jtis.length);
  });

  it('`token` re-mints a service token that is within 30 s of its end', async () => {
    // The IdP issues 20 s tokens: each `token` re-mints one.
    const setup = await loginSetup(stack, ['--client-id', 'svc-jwt'], { backend: false });
    expect((await setup.run(['login', '--client-credentials', '--private-key', EC_KEY, '--key-id', 'ec-1'])).code).toBe(0);
    const first = stored(setup.configDir).token;
    const before = assertions.length;
    const token = await setup.run(['token']);
    expect(token.code, token.stderr).toBe(0);
    expect(token.stdout.trim()).not.toBe(first);
    expect(assertions.length).toBe(before + 1);
    expect(stored(setup.configDir).token).toBe(token.stdout.trim());
  });

  it.each([
    [
      'a public key',
      () => {
        const path = join(keysDir, 'public.pem');
        writeFileSync(path, ec.publicKey.export({ type: 'spki', format: 'pem' }));
        return path;
      },
      /holds a public key or certificate, not a private key/,
    ],
    [
      'garbage',
      () => {
        const path = join(keysDir, 'garbage.pem');
        writeFileSync(path, 'not a key');
        return path;
      },
      /is not a usable private key/,
    ],
    ['a missing file', () => join(keysDir, 'missing.pem'), /cannot read the private key .*ENOENT/],
  ])('%s as --private-key is exit 2 with why', async (_name, make, message) => {
    const setup = await loginSetup(stack, ['--client-id', 'svc-jwt'], { backend: false });
    const login = await setup.run(['login', '--client-credentials', '--private-key', make()]);
    expect(login.code).toBe(2);
    expect(login.stderr).toMatch(message);
  });

  it('no secret and no key is exit 2 naming the ways to give one', async () => {
    const setup = await loginSetup(stack, ['--client-id', 'svc-basic'], { backend: false });
    const login = await setup.run(['login', '--client-credentials']);
    expect(login.code).toBe(2);
    expect(login.stderr).toContain('--client-secret-stdin, set LATCHKEY_CLIENT_SECRET, or give --private-key');
  });
});
