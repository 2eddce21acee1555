import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { KoaContext } from '../../dev/idp.js';
import { INTROSPECTOR_CLIENT, isActive, loginSetup, startStack, type Stack } from '../helpers/stack.js';

// What a second, independent IdP (Glewlwyd) showed: RFC 9068 JWT access tokens whose `aud` names
// the API, error responses without a body, revocation that needs client authentication. The dev
// IdP is configured to answer the same way.
const API = 'https://api.example.com';
const SECRET = 'svc-secret-0123456789-abcdefghij-0123456789';
const service = { grant_types: ['client_credentials'], response_types: [], redirect_uris: [], scope: 'account:usage:read' };
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    idp: {
      jwtAccessTokensFor: API,
      accessTokenTtl: 30,
      clients: [
        { ...service, client_id: 'svc-basic', client_secret: SECRET, token_endpoint_auth_method: 'client_secret_basic' },
        { ...service, client_id: 'svc.post~id', client_secret: SECRET, token_endpoint_auth_method: 'client_secret_post' },
        INTROSPECTOR_CLIENT,
      ],
    },
  });
});
afterAll(() => stack.close());
afterEach(() => {
  stack.idp.hooks = {};
});

const stored = (configDir: string) => JSON.parse(JSON.parse(readFileSync(join(configDir, 'credentials.json'), 'utf8')).latchkey.demo);

async function serviceLogin(clientId = 'svc-basic', extra: string[] = []) {
  const setup = await loginSetup(stack, ['--client-id', clientId, '--scopes', 'account:usage:read', ...extra], { backend: false });
  const login = await setup.run(['login', '--client-credentials'], { env: { LATCHKEY_CLIENT_SECRET: SECRET } });
  return { setup, login };
}

/** Answer token requests with `status` and no body at all, as Glewlwyd does. */
function bodyless(status: number, path = '/token'): void {
  stack.idp.hooks.before = (ctx: KoaContext) => {
    if (ctx.path !== path) return false;
    ctx.status = status;
    ctx.body = '';
    return true;
  };
}

describe("token inspect on the profile's own RFC 9068 access tokens", () => {
  it('a fresh access token whose aud names the API: --verify and --check exit 0, the aud is only info, shown as one audience', async () => {
    const setup = await loginSetup(stack, [], { backend: false });
    expect((await setup.run(['login'])).code).toBe(0);
    const { token } = stored(setup.configDir);
    expect(JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString())).toMatchObject({ aud: API, client_id: 'latchkey-cli' });

    const verify = await setup.run(['token', 'inspect', '--verify', '--check']);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect(verify.stdout).toMatch(/Kind\s+access_token/);
    expect(verify.stdout).toMatch(/Signature\s+valid/);
    expect(verify.stdout).toMatch(new RegExp(`Audience\\s+${API.replace(/\./g, '\\.')}\\n`));
    expect(verify.stdout).not.toContain('(all:');
    const json = JSON.parse((await setup.run(['token', 'inspect', '--json'])).stdout);
    expect(json.diagnostics).toEqual([
      expect.objectContaining({
        level: 'info',
        code: 'audience_mismatch',
        message: expect.stringContaining("its client is this profile's"),
      }),
    ]);
  });

  it('a stored client-credentials token gets the same verdict as the same token passed as an argument', async () => {
    const { setup, login } = await serviceLogin();
    expect(login.code, login.stderr).toBe(0);
    const token = stored(setup.configDir).token as string;
    const fromStore = JSON.parse((await setup.run(['token', 'inspect', '--json'])).stdout);
    const asArgument = JSON.parse((await setup.run(['token', 'inspect', '--json', token])).stdout);
    expect(fromStore).toEqual(asArgument);
    expect(fromStore.kind).toBe('service_token');
    expect((await setup.run(['token', 'inspect', '--check', '--verify'])).code).toBe(0);
    // Both are held to the profile's issuer: a profile pointing elsewhere flags both alike.
    expect((await setup.run(['profile', 'set', 'demo', 'issuer', 'http://127.0.0.1:9/'])).code).toBe(0);
    const codes = async (args: string[]) =>
      JSON.parse((await setup.run(['token', 'inspect', '--json', ...args])).stdout).diagnostics.map((d: { code: string }) => d.code);
    expect(await codes([])).toContain('issuer_mismatch');
    expect(await codes([token])).toContain('issuer_mismatch');
  });
});

describe('error responses without a body', () => {
  it('a refused client authentication (401, no body) is exit 4 naming the HTTP status', async () => {
    bodyless(401);
    const { setup, login } = await serviceLogin();
    expect(login.code).toBe(4);
    expect(login.stderr).toContain('the IdP refused the token request (HTTP 401, with no error in the body)');
    expect((await setup.run(['token'])).code).toBe(3);
  });

  it('a refused refresh (400, no body) is exit 3 "log in again", and the stored record is left as it was', async () => {
    const setup = await loginSetup(stack, [], { backend: false });
    expect((await setup.run(['login'])).code).toBe(0);
    const before = readFileSync(join(setup.configDir, 'credentials.json'), 'utf8');
    bodyless(400);
    const token = await setup.run(['token']);
    expect(token.code).toBe(3);
    expect(token.stderr).toContain('the IdP would not renew the credential of profile "demo" (HTTP 400, with no error in the body)');
    expect(token.stderr).toContain('Run latchkey login -p demo again.');
    expect(readFileSync(join(setup.configDir, 'credentials.json'), 'utf8')).toBe(before);
  });

  it('a 503 without a body is the IdP having trouble (exit 5), not a refusal', async () => {
    bodyless(503);
    const { login } = await serviceLogin();
    expect(login.code).toBe(5);
    expect(login.stderr).toContain('the IdP answered the token request with HTTP 503');
  });

  it('a refused revocation (401, no body) warns with the status; the local credential is removed anyway', async () => {
    const setup = await loginSetup(stack, [], { backend: false });
    expect((await setup.run(['login'])).code).toBe(0);
    bodyless(401, '/token/revocation');
    const logout = await setup.run(['logout']);
    expect(logout.code).toBe(0);
    expect(logout.stderr).toContain(
      'could not revoke the tokens of "demo" at the IdP (the IdP refused the revocation request (HTTP 401, with no error in the body))',
    );
    expect((await setup.run(['token'])).code).toBe(3);
  });
});

describe('service tokens are revoked with the client authentication that minted them (RFC 7009 §2.1)', () => {
  it('logout revokes the client-credentials token: inactive at the IdP afterwards, no warning', async () => {
    // Opaque tokens here: the IdP keeps them, so introspection can say whether one is revoked.
    const opaque = await startStack({
      idp: {
        clients: [
          { ...service, client_id: 'svc-basic', client_secret: SECRET, token_endpoint_auth_method: 'client_secret_basic' },
          INTROSPECTOR_CLIENT,
        ],
      },
    });
    try {
      const setup = await loginSetup(opaque, ['--client-id', 'svc-basic', '--scopes', 'account:usage:read'], { backend: false });
      expect((await setup.run(['login', '--client-credentials'], { env: { LATCHKEY_CLIENT_SECRET: SECRET } })).code).toBe(0);
      const token = stored(setup.configDir).token as string;
      expect(await isActive(opaque, token)).toBe(true);
      const logout = await setup.run(['logout']);
      expect(logout.code).toBe(0);
      expect(logout.stderr).not.toContain('warning');
      expect(await isActive(opaque, token)).toBe(false);
    } finally {
      await opaque.close();
    }
  });
});

describe('tokenEndpointAuthMethod', () => {
  it('client_secret_post where discovery would pick basic: a client registered for post logs in, with no Authorization header', async () => {
    // As Glewlwyd does: Basic credentials are not form-decoded (RFC 6749 §2.3.1), so a client id
    // with "." or "~" (sent as %2E, %7E) is unknown there.
    const headers: Array<string | undefined> = [];
    stack.idp.hooks.before = (ctx: KoaContext) => {
      if (ctx.path !== '/token') return false;
      const header = ctx.get('authorization') || undefined;
      headers.push(header);
      if (!header?.startsWith('Basic ') || !Buffer.from(header.slice(6), 'base64').toString().split(':')[0]!.includes('%')) return false;
      ctx.status = 401;
      ctx.body = { error: 'invalid_client' };
      return true;
    };
    const refused = await serviceLogin('svc.post~id');
    expect(refused.login.code).toBe(4);
    expect(refused.login.stderr).toContain('invalid_client');
    const { setup, login } = await serviceLogin('svc.post~id', ['--token-endpoint-auth-method', 'client_secret_post']);
    expect(login.code, login.stderr).toBe(0);
    expect(headers.at(-1)).toBeUndefined();
    expect((await setup.run(['profile', 'set', 'demo', 'token-endpoint-auth-method', 'basic'])).stderr).toContain(
      'token endpoint auth method must be one of client_secret_basic, client_secret_post, private_key_jwt, none',
    );
  });
});

describe('resource (RFC 8707) and authParams', () => {
  it('are sent in the authorization request, and the resource in the token request too', async () => {
    const seen: Array<{ path: string; resource?: unknown; acr?: unknown }> = [];
    stack.idp.hooks.before = (ctx: KoaContext) => {
      if (ctx.path === '/auth') seen.push({ path: ctx.path, resource: ctx.query.resource, acr: ctx.query.acr_values });
      return false;
    };
    stack.idp.hooks.after = (ctx: KoaContext) => {
      const params = (ctx as unknown as { oidc?: { params?: Record<string, unknown> } }).oidc?.params;
      if (ctx.path === '/token') seen.push({ path: ctx.path, resource: params?.resource });
    };
    const setup = await loginSetup(stack, ['--resource', API, '--auth-param', 'acr_values=urn:mfa'], { backend: false });
    const login = await setup.run(['login']);
    expect(login.code, login.stderr).toBe(0);
    expect(seen.find((s) => s.path === '/auth')).toMatchObject({ resource: API, acr: 'urn:mfa' });
    expect(seen.find((s) => s.path === '/token')).toMatchObject({ resource: API });
    expect(JSON.parse(Buffer.from(stored(setup.configDir).token.split('.')[1], 'base64url').toString()).aud).toBe(API);
    const reserved = await setup.run(['profile', 'set', 'demo', 'authParams', 'state=mine']);
    expect(reserved.code).toBe(2);
    expect(reserved.stderr).toContain('auth param "state" is set by latchkey itself');
  });
});
