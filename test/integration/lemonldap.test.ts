import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { isActive, INTROSPECTOR_CLIENT, loginSetup, startStack, until, type Stack } from '../helpers/stack.js';

// What LemonLDAP::NG 2.16 does that others do too, reproduced with the dev IdP (oidc-provider)
// configured the same way, and what the user now sees: a sign-in page before any check, a 401
// with `WWW-Authenticate: Basic` and the error in the body, only secret-based client auth offered,
// no revocation, an issuer with a trailing "/", and a 500 on every token request.

const SECRET = 'svc-secret-0123456789-abcdefghij-0123456789';
const SIGN_IN_PAGE =
  '<!doctype html><title>LemonLDAP::NG</title><form method="post"><input name="user"><input name="password" type="password"></form>';

describe('LemonLDAP::NG: what it does, and what latchkey says', () => {
  let stack: Stack;
  let signInFirst = false;
  const tokenRequests: string[] = [];
  let tokenAnswer: ((ctx: import('koa').Context) => boolean) | undefined;

  beforeAll(async () => {
    stack = await startStack({
      idp: {
        revocation: false,
        issuerPath: '/',
        clientAuthMethods: ['none', 'client_secret_post', 'client_secret_basic', 'private_key_jwt'],
        clients: [
          INTROSPECTOR_CLIENT,
          {
            client_id: 'svc',
            client_secret: SECRET,
            grant_types: ['client_credentials'],
            response_types: [],
            redirect_uris: [],
            token_endpoint_auth_method: 'client_secret_basic',
          },
        ],
      },
    });
    stack.idp.hooks.before = (ctx) => {
      if (ctx.path === '/token' && ctx.method === 'POST') {
        tokenRequests.push(String(ctx.get('authorization') ? 'basic' : 'post'));
        if (tokenAnswer?.(ctx)) return true;
      }
      // Its portal answers every authorization request with the sign-in page first; the client
      // id and the redirect URI are checked only after the user signed in.
      if (signInFirst && ctx.path === '/auth') {
        ctx.status = 200;
        ctx.type = 'html';
        ctx.body = SIGN_IN_PAGE;
        return true;
      }
      return false;
    };
    // Its discovery lists the secret-based methods only (its public clients use none all the same).
    stack.idp.hooks.after = (ctx) => {
      if (ctx.path === '/.well-known/openid-configuration')
        ctx.body = { ...(ctx.body as object), token_endpoint_auth_methods_supported: ['client_secret_post', 'client_secret_basic'] };
    };
  });
  afterAll(() => stack.close());

  it('doctor: a sign-in page before any check proves nothing: "not known before sign-in", for a wrong client id too', async () => {
    const setup = await loginSetup(stack, [], { backend: false });
    const proven = JSON.parse((await setup.run(['doctor', '--json'])).stdout) as { checks: Array<Record<string, string>> };
    // oidc-provider checks the client and the redirect URI first: there the sign-in page is proof.
    expect(proven.checks.find((c) => c.name === 'redirect')).toMatchObject({
      status: 'ok',
      detail: expect.stringContaining('and refuses an unknown client and an unregistered redirect URI before sign-in'),
    });
    signInFirst = true;
    try {
      for (const clientId of [stack.idp.clientId, 'no-such-client']) {
        expect((await setup.run(['profile', 'set', 'demo', 'clientId', clientId])).code).toBe(0);
        const doctor = await setup.run(['doctor', '--json']);
        const redirect = (JSON.parse(doctor.stdout) as { checks: Array<Record<string, string>> }).checks.find((c) => c.name === 'redirect');
        expect(redirect).toMatchObject({ status: 'warn' });
        expect(redirect!.detail).toContain(
          'not known before sign-in: the IdP answers with its sign-in page before it checks the client id and the redirect URI',
        );
        expect(redirect!.next).toContain(
          `Check at the IdP that client ${clientId} exists and has a loopback redirect URI for any port registered`,
        );
        const text = await setup.run(['doctor']);
        expect(text.stderr + text.stdout).not.toMatch(/ok\s+redirect/);
      }
    } finally {
      signInFirst = false;
    }
  });

  it('a login that never comes back names both causes: an unknown client id, a refused redirect URI', async () => {
    const setup = await loginSetup(stack, ['--client-id', 'no-such-client'], { backend: false });
    const login = await setup.run(['login', '--timeout', '3']);
    expect(login.code).toBe(5);
    expect(login.stderr).toContain('it refused the request, for one of two reasons: it does not accept the redirect URI');
    expect(login.stderr).toContain('or it does not know the client id no-such-client ("This application is not known"');
    expect(login.stderr).toContain('latchkey profile set demo client-id <id>');
  });

  it('a 401 with WWW-Authenticate: Basic and {"error":"invalid_client"} in the body: the error is read, and client_secret_post suggested', async () => {
    tokenAnswer = (ctx) => {
      ctx.status = 401;
      ctx.set('WWW-Authenticate', 'Basic realm="LemonLDAP::NG"');
      ctx.body = { error: 'invalid_client' };
      return true;
    };
    try {
      const setup = await loginSetup(stack, ['--client-id', 'svc'], { backend: false });
      const login = await setup.run(['login', '--client-credentials'], { env: { LATCHKEY_CLIENT_SECRET: SECRET } });
      expect(login.code).toBe(4);
      expect(login.stderr).toContain("the IdP refused the client's credentials sent with client_secret_basic (invalid_client)");
      expect(login.stderr).not.toContain('with no error in the body');
      expect(login.stderr).toContain('try client_secret_post (latchkey profile set demo token-endpoint-auth-method client_secret_post)');
      // And the reverse.
      expect((await setup.run(['profile', 'set', 'demo', 'tokenEndpointAuthMethod', 'client_secret_post'])).code).toBe(0);
      const post = await setup.run(['login', '--client-credentials'], { env: { LATCHKEY_CLIENT_SECRET: SECRET } });
      expect(post.stderr).toContain('sent with client_secret_post (invalid_client)');
      expect(post.stderr).toContain('try client_secret_basic');
    } finally {
      tokenAnswer = undefined;
    }
  });

  it('--private-key where discovery offers only client_secret_post and client_secret_basic: said before anything is sent', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-keys-'));
    const key = join(dir, 'key.pem');
    writeFileSync(key, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
    chmodSync(key, 0o600);
    const setup = await loginSetup(stack, ['--client-id', 'svc'], { backend: false });
    const before = tokenRequests.length;
    const login = await setup.run(['login', '--client-credentials', '--private-key', key]);
    expect(login.code).toBe(2);
    expect(login.stderr).toContain(
      'the IdP does not offer private_key_jwt at its token endpoint: its discovery document lists client_secret_post, client_secret_basic; nothing was sent',
    );
    expect(login.stderr).not.toContain('audience');
    expect(tokenRequests.length).toBe(before);
  });

  it("a 500 on every token request is called what it likely is: the client's setup at the IdP", async () => {
    tokenAnswer = (ctx) => {
      ctx.status = 500;
      ctx.type = 'html';
      ctx.body = '<h1>Internal Server Error</h1>';
      return true;
    };
    try {
      const setup = await loginSetup(stack, [], { backend: false });
      const login = await setup.run(['login', '--timeout', '30']);
      expect(login.code).toBe(5);
      expect(login.stderr).toContain('the IdP answered the token request with HTTP 500; nothing was stored');
      expect(login.stderr).toContain("If it answers so on every try, it is likely not an outage but the client's configuration at the IdP");
      expect(login.stderr).toContain('not HS256/HS512');
    } finally {
      tokenAnswer = undefined;
    }
  });

  it('one issuer rule: an issuer given without the IdP\'s trailing "/" is stored in its form at login, and --verify then agrees', async () => {
    const asTyped = stack.idp.issuer.replace(/\/$/, '');
    expect(stack.idp.issuer.endsWith('/')).toBe(true);
    const setup = await loginSetup(stack, [], { backend: false });
    expect((await setup.run(['profile', 'set', 'demo', 'issuer', asTyped])).code).toBe(0);
    const doctor = JSON.parse((await setup.run(['doctor', '--json'])).stdout) as { checks: Array<Record<string, string>> };
    expect(doctor.checks.find((c) => c.name === 'discovery')).toMatchObject({
      status: 'warn',
      detail: expect.stringContaining(`the IdP writes its issuer as ${stack.idp.issuer}, the profile as ${asTyped}`),
    });
    const login = await setup.run(['login', '--timeout', '30']);
    expect(login.code, login.stderr).toBe(0);
    expect(login.stderr).toContain(`The IdP writes its issuer as ${stack.idp.issuer}: profile "demo" now has that exact form`);
    const config = JSON.parse(readFileSync(join(setup.configDir, 'config.json'), 'utf8')) as {
      profiles: Record<string, { issuer: string }>;
    };
    expect(config.profiles.demo!.issuer).toBe(stack.idp.issuer);
    const verify = await setup.run(['token', 'inspect', '--verify', '--json']);
    expect(verify.code, verify.stdout).toBe(0);
    expect(JSON.stringify(JSON.parse(verify.stdout).diagnostics)).not.toContain('issuer_mismatch');
  });

  it('logout without revocation at the IdP says what stays valid and until when; --idp opens its sign-out page', async () => {
    const setup = await loginSetup(stack, [], { backend: false });
    expect((await setup.run(['login', '--timeout', '30'])).code).toBe(0);
    const record = JSON.parse(JSON.parse(readFileSync(join(setup.configDir, 'credentials.json'), 'utf8')).latchkey.demo) as {
      token: string;
      refreshToken: string;
      idToken: string;
      expiresAt: string;
    };
    const logout = await setup.run(['logout']);
    expect(logout.code).toBe(0);
    expect(logout.stderr).toContain('Still valid: the refresh token of "demo" until the IdP ends it (the IdP offers no token revocation).');
    expect(logout.stderr).toContain(`Still valid: the access token of "demo" until ${record.expiresAt} (in `);
    expect(logout.stderr).toContain('To end them now: latchkey logout --idp signs you out at the IdP');
    expect(logout.stderr).toContain('Logged out of demo.');
    // What it says is true: both still work at the IdP.
    expect(await isActive(stack, record.token)).toBe(true);
    expect(await isActive(stack, record.refreshToken)).toBe(true);

    // RP-Initiated Logout: the browser gets a local start URL that sends it to the IdP's
    // end_session_endpoint with the id_token as a hint (never in the browser's argv).
    expect((await setup.run(['login', '--timeout', '30'])).code).toBe(0);
    const second = JSON.parse(JSON.parse(readFileSync(join(setup.configDir, 'credentials.json'), 'utf8')).latchkey.demo) as {
      idToken: string;
    };
    const seen = join(mkdtempSync(join(tmpdir(), 'latchkey-browser-')), 'seen.json');
    const browser = join(seen, '..', 'browser.mjs');
    writeFileSync(
      browser,
      `import { writeFileSync } from 'node:fs';\nconst url = process.argv.at(-1);\nconst r = await fetch(url, { redirect: 'manual' });\nconst end = await fetch(r.headers.get('location'), { redirect: 'manual' });\nwriteFileSync(${JSON.stringify(seen)}, JSON.stringify({ argv: process.argv.slice(2), location: r.headers.get('location'), endStatus: end.status }));\n`,
    );
    const idp = await setup.run(['logout', '--idp', '--timeout', '20'], { env: { BROWSER: `"${process.execPath}" "${browser}"` } });
    expect(idp.code, idp.stderr).toBe(0);
    expect(idp.stderr).toContain('Opened the IdP\'s sign-out page for "demo"');
    // The browser goes on by itself after the CLI saw it leave for the IdP.
    await until(() => existsSync(seen));
    const opened = JSON.parse(readFileSync(seen, 'utf8')) as { argv: string[]; location: string; endStatus: number };
    expect(opened.argv.join(' ')).not.toContain(second.idToken);
    const location = new URL(opened.location);
    expect(`${location.origin}${location.pathname}`).toBe(`${stack.idp.issuer}session/end`);
    expect(location.searchParams.get('id_token_hint')).toBe(second.idToken);
    expect(location.searchParams.get('client_id')).toBe(stack.idp.clientId);
    expect(opened.endStatus).toBe(200);
    expect(idp.stderr).not.toContain(second.idToken);
  });
});
