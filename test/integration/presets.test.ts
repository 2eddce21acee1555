import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevIdp, type DevIdp, type KoaContext } from '../../dev/idp.js';
import { runCli } from '../helpers/cli.js';
import { runInProcess } from '../helpers/root.js';
import { loginSetup, startStack, type Stack } from '../helpers/stack.js';
import { makeTestCa } from '../helpers/tls.js';

// Each preset against the dev IdP configured the way that IdP behaves (per its public
// documentation), and the failure without the preset where the IdP's quirk breaks a naive client.
const stored = (configDir: string) => JSON.parse(JSON.parse(readFileSync(join(configDir, 'credentials.json'), 'utf8')).latchkey.demo);

describe('Auth0 and Okta: callback URLs match exactly, port included', () => {
  let stack: Stack;
  const authQueries: Array<Record<string, unknown>> = [];
  beforeAll(async () => {
    stack = await startStack({
      idp: {
        // A client with exact redirect URIs (oidc-provider lets native clients use any loopback port).
        clients: [
          {
            client_id: 'exact-cli',
            application_type: 'web',
            token_endpoint_auth_method: 'none',
            redirect_uris: ['http://127.0.0.1:8484/callback', 'http://127.0.0.1:8485/callback', 'http://127.0.0.1:8486/callback'],
            grant_types: ['authorization_code', 'refresh_token'],
            response_types: ['code'],
          },
        ],
      },
    });
    stack.idp.hooks.before = (ctx: KoaContext) => {
      if (ctx.path === '/auth') authQueries.push({ ...ctx.query });
      return false;
    };
  });
  afterAll(() => stack.close());

  it('without the preset (any free port) the IdP refuses the redirect: the timeout names that cause and the fix; doctor sees it', async () => {
    const setup = await loginSetup(stack, ['--client-id', 'exact-cli'], { backend: false });
    const login = await setup.run(['login', '--timeout', '3']);
    expect(login.code).toBe(5);
    expect(login.stderr).toMatch(
      /it does not accept the redirect URI http:\/\/127\.0\.0\.1:\d+\/callback \(many IdPs need the exact one registered/,
    );
    expect(login.stderr).toContain(
      'Fix: register it at the IdP, or use the one registered: latchkey profile set demo redirect-uri http://127.0.0.1:PORT/callback',
    );
    expect((await setup.uaDone()).at(-1)).toMatchObject({ step: 'stuck', status: 400 });
    const doctor = JSON.parse((await setup.run(['doctor', '--json'])).stdout);
    expect(doctor.checks.find((c: { name: string }) => c.name === 'redirect')).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining('it does not accept that redirect URI'),
    });
  });

  it('--preset auth0: says what it set and why, fixed ports log in, audience advice; --auth-param organization reaches the IdP', async () => {
    const setup = await loginSetup(
      stack,
      ['--client-id', 'exact-cli', '--preset', 'auth0', '--auth-param', 'organization=org_123', '--auth-param', 'ui_locales=fr%20en'],
      { backend: false },
    );
    const show = JSON.parse((await setup.run(['profile', 'show', 'demo', '--json'])).stdout);
    expect(show.profile).toMatchObject({
      preset: 'auth0',
      redirectUri: 'http://127.0.0.1:8484/callback',
      redirectPorts: [8485, 8486],
      authParams: ['organization=org_123', 'ui_locales=fr%20en'],
    });
    const login = await setup.run(['login']);
    expect(login.code, login.stderr).toBe(0);
    expect(authQueries.at(-1)).toMatchObject({
      organization: 'org_123',
      ui_locales: 'fr en',
      redirect_uri: 'http://127.0.0.1:8484/callback',
    });
    const doctor = JSON.parse((await setup.run(['doctor', '--json'])).stdout);
    expect(doctor.checks.find((c: { name: string }) => c.name === 'redirect')).toMatchObject({ status: 'ok' });

    const added = await runInProcess(['profile', 'add', 'a0', '--issuer', 'https://acme.eu.auth0.com/', '--client-id', 'x'], {
      configDir: setup.configDir,
    });
    expect(added.stderr).toContain(
      'Applied the Auth0 preset: redirectUri http://127.0.0.1:8484/callback (callback URLs must match exactly, port included); redirectPorts 8485,8486',
    );
    expect(added.stderr).toContain('Without --audience');
    expect(added.stderr).toContain('opaque access token');
    // Overridable key by key, and a given key is never replaced.
    const given = await runCli(
      [
        'profile',
        'add',
        'a1',
        '--issuer',
        'https://acme.eu.auth0.com/',
        '--client-id',
        'x',
        '--redirect-uri',
        'http://127.0.0.1:9000/callback',
        '--audience',
        'https://api',
      ],
      { configDir: setup.configDir },
    );
    expect(given.stderr).toContain('redirectPorts 8485,8486');
    expect(given.stderr).not.toContain('redirectUri http://127.0.0.1:8484');
    expect(given.stderr).not.toContain('Without --audience');
    expect((await runInProcess(['profile', 'set', 'a1', 'redirect-ports', ''], { configDir: setup.configDir })).code).toBe(0);
  });

  it('--preset okta logs in the same way; an Okta org authorization server is called out at profile add', async () => {
    const setup = await loginSetup(stack, ['--client-id', 'exact-cli', '--preset', 'okta'], { backend: false });
    expect((await setup.run(['login'])).code).toBe(0);
    const org = await runInProcess(['profile', 'add', 'okta', '--issuer', 'https://acme.okta.com', '--client-id', 'x'], {
      configDir: setup.configDir,
    });
    expect(org.stderr).toContain('Applied the Okta preset');
    expect(org.stderr).toContain('https://acme.okta.com is the org authorization server');
    const custom = await runInProcess(['profile', 'add', 'okta2', '--issuer', 'https://acme.okta.com/oauth2/default', '--client-id', 'x'], {
      configDir: setup.configDir,
    });
    expect(custom.stderr).not.toContain('org authorization server');
  });
});

describe('Google: no offline_access scope, refresh tokens for access_type=offline with consent, a Desktop client secret', () => {
  let stack: Stack;
  const SECRET = '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ial';
  const offline = new Set<string>();
  beforeAll(async () => {
    stack = await startStack({
      idp: {
        clients: [
          {
            client_id: 'desktop.apps.googleusercontent.com',
            client_secret: SECRET,
            application_type: 'native',
            token_endpoint_auth_method: 'client_secret_post',
            redirect_uris: ['http://127.0.0.1/callback'],
            grant_types: ['authorization_code', 'refresh_token'],
            response_types: ['code'],
          },
        ],
        refreshTokenFor: (challenge) => challenge !== undefined && offline.has(challenge),
      },
    });
    stack.idp.hooks.before = (ctx: KoaContext) => {
      if (ctx.path !== '/auth') return false;
      const q = ctx.query as Record<string, string>;
      if (q.scope?.split(' ').includes('offline_access')) {
        // Google: "Some requested scopes were invalid" — sent back to the client's redirect URI.
        const back = new URL(q.redirect_uri!);
        for (const [k, v] of Object.entries({
          error: 'invalid_scope',
          error_description: 'Some requested scopes were invalid. {invalid=[offline_access]}',
          state: q.state!,
          iss: stack.idp.issuer,
        }))
          back.searchParams.set(k, v);
        ctx.redirect(back.href);
        return true;
      }
      if (q.access_type === 'offline' && q.prompt === 'consent' && q.code_challenge) offline.add(q.code_challenge);
      return false;
    };
  });
  afterAll(() => stack.close());

  it('without the preset: offline_access is refused (exit 4, the IdP says why), nothing stored', async () => {
    const setup = await loginSetup(stack, ['--client-id', 'desktop.apps.googleusercontent.com'], { backend: false });
    const login = await setup.run(['login']);
    expect(login.code).toBe(4);
    expect(login.stderr).toContain(
      'the IdP refused the sign-in (invalid_scope: Some requested scopes were invalid. {invalid=[offline_access]})',
    );
    expect((await setup.run(['token'])).code).toBe(3);
  });

  it('with the preset: the secret is required, sent, kept in the credential store (not the config), and refresh works', async () => {
    const setup = await loginSetup(stack, ['--client-id', 'desktop.apps.googleusercontent.com', '--preset', 'google'], { backend: false });
    const missing = await setup.run(['login']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(
      'authenticates its client with a secret (tokenEndpointAuthMethod client_secret_post), and none was given',
    );
    const login = await setup.run(['login'], { env: { LATCHKEY_CLIENT_SECRET: SECRET } });
    expect(login.code, login.stderr).toBe(0);
    const record = stored(setup.configDir);
    expect(record.refreshToken).toEqual(expect.any(String));
    expect(record.clientSecret).toBe(SECRET);
    expect(readFileSync(join(setup.configDir, 'config.json'), 'utf8')).not.toContain(SECRET);
    const renewed = await setup.run(['token', '--refresh']);
    expect(renewed.code, renewed.stderr).toBe(0);
    expect(renewed.stdout.trim()).not.toBe(record.token);
    // The opaque access token: token inspect looks at the id_token instead.
    const inspect = await setup.run(['token', 'inspect', '--check']);
    expect(inspect.code, inspect.stdout).toBe(0);
    expect(inspect.stderr).toContain('is opaque (not a JWT); inspecting its id_token');
  });
});

describe('Keycloak: a realm issuer, access tokens for "account"', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      idp: { issuerPath: '/realms/demo', jwtAccessTokensFor: 'https://kc.example/realms/demo/account', accessTokenAudience: 'account' },
    });
  });
  afterAll(() => stack.close());

  it('the preset is detected from /realms/; the login works; the access token passes --verify --check', async () => {
    const setup = await loginSetup(stack, [], { backend: false });
    expect(JSON.parse((await setup.run(['profile', 'show', 'demo', '--json'])).stdout).profile.preset).toBe('keycloak');
    const login = await setup.run(['login']);
    expect(login.code, login.stderr).toBe(0);
    const inspect = await setup.run(['token', 'inspect', '--verify', '--check']);
    expect(inspect.code, inspect.stdout + inspect.stderr).toBe(0);
    expect(inspect.stdout).toMatch(/Audience\s+account\n/);
  });
});

describe('Entra ID: a multi-tenant issuer whose discovery is a template, http://localhost with any port', () => {
  const TENANT = '9188040d-6c67-4c5b-b112-36a304b66dad';
  let idp: DevIdp;
  let proxy: Server;
  let proxyUrl: string;
  let ca: Awaited<ReturnType<typeof makeTestCa>>;
  const env = () => ({ HTTPS_PROXY: proxyUrl, NODE_EXTRA_CA_CERTS: ca.caFile });
  beforeAll(async () => {
    ca = await makeTestCa(['login.microsoftonline.com']);
    // The real origin, reached through a proxy that leads to the dev IdP (no DNS here): openid-client
    // and latchkey see https://login.microsoftonline.com exactly as users do.
    idp = await startDevIdp({
      tls: { key: ca.key, cert: ca.cert },
      publicOrigin: 'https://login.microsoftonline.com',
      issuerPath: `/${TENANT}/v2.0`,
      accountClaims: { tid: TENANT },
      revocation: false,
      clients: [
        {
          client_id: 'entra-cli',
          application_type: 'native',
          token_endpoint_auth_method: 'none',
          redirect_uris: ['http://localhost/callback'],
          grant_types: ['authorization_code', 'refresh_token'],
          response_types: ['code'],
        },
      ],
      // /common/v2.0 is every tenant: its discovery names the issuer as a template.
      front: (req) => {
        if (req.url === '/common/v2.0/.well-known/openid-configuration') {
          req.url = `/${TENANT}/v2.0/.well-known/openid-configuration`;
          req.headers['x-entra-common'] = '1';
        }
      },
    });
    idp.hooks.after = (ctx: KoaContext) => {
      const body = ctx.body as { issuer?: string; authorization_response_iss_parameter_supported?: boolean } | undefined;
      if (ctx.get('x-entra-common') && body?.issuer) {
        body.issuer = 'https://login.microsoftonline.com/{tenantid}/v2.0';
        // Entra does not send RFC 9207's iss with the authorization response.
        delete body.authorization_response_iss_parameter_supported;
      }
      const location = ctx.response.get('location');
      if (location.startsWith('http://localhost:') && location.includes('iss=')) {
        const back = new URL(location);
        back.searchParams.delete('iss');
        ctx.set('location', back.href);
      }
    };
    proxy = createServer((_req, res) => res.writeHead(405).end());
    proxy.on('connect', (req, socket) => {
      if (req.url !== 'login.microsoftonline.com:443') return void socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      const upstream = connect(idp.port, '127.0.0.1', () => {
        socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.pipe(socket);
        socket.pipe(upstream);
      });
      upstream.on('error', () => socket.destroy());
      socket.on('error', () => upstream.destroy());
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await idp.close();
    await new Promise<void>((resolve) => proxy.close(() => resolve()));
  });

  const add = async (setup: Awaited<ReturnType<typeof loginSetup>>, extra: string[]) =>
    runCli(
      [
        'profile',
        'add',
        'demo',
        '--force',
        '--issuer',
        'https://login.microsoftonline.com/common/v2.0',
        '--client-id',
        'entra-cli',
        ...extra,
      ],
      { configDir: setup.configDir },
    );

  it('without the preset: the 127.0.0.1 redirect is refused (timeout naming the cause)', async () => {
    const setup = await loginSetup(await fakeStack(), [], { backend: false });
    expect((await add(setup, ['--preset', 'none'])).code).toBe(0);
    const login = await setup.run(['login', '--timeout', '3'], { env: env() });
    expect(login.code).toBe(5);
    expect(login.stderr).toContain('it does not accept the redirect URI http://127.0.0.1:');
  });

  it('with the preset (detected): localhost on any port, the template issuer checked against the tid, no revocation to call', async () => {
    const setup = await loginSetup(await fakeStack(), [], { backend: false });
    const added = await add(setup, []);
    expect(added.stderr).toContain('Applied the Entra ID preset: redirectUri http://localhost:0/callback');
    expect(added.stderr).toContain('A multi-tenant issuer');
    const login = await setup.run(['login'], { env: env() });
    expect(login.code, login.stderr).toBe(0);
    const idToken = stored(setup.configDir).idToken as string;
    expect(JSON.parse(Buffer.from(idToken.split('.')[1]!, 'base64url').toString())).toMatchObject({
      iss: `https://login.microsoftonline.com/${TENANT}/v2.0`,
      tid: TENANT,
    });
    const inspect = await setup.run(['token', 'inspect', '--check', '--json'], { env: env() });
    expect(inspect.code, inspect.stdout).toBe(0);
    expect(JSON.parse(inspect.stdout).diagnostics.map((d: { code: string }) => d.code)).not.toContain('issuer_mismatch');
    const logout = await setup.run(['logout'], { env: env() });
    expect(logout.code).toBe(0);
    expect(logout.stderr).not.toContain('warning');
  });
});

/** loginSetup needs a stack for its first profile; the Entra tests replace that profile. */
let placeholder: Stack | undefined;
async function fakeStack(): Promise<Stack> {
  placeholder ??= await startStack();
  return placeholder;
}
afterAll(async () => placeholder?.close());
