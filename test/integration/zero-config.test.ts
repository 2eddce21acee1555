import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevBackend, type DevBackend, type DevBackendOptions } from '../../dev/backend.js';
import { startDevIdp, type DevIdp } from '../../dev/idp.js';
import { systemClock } from '../../src/io/clock.js';
import { runCli, tempConfigDir } from '../helpers/cli.js';
import { createTestRoot } from '../helpers/root.js';
import { USER_AGENT } from '../helpers/stack.js';

// `profile add NAME --backend-url URL` and nothing else: the backend says where to log in
// (RFC 9728), the IdP lets the CLI register itself (RFC 7591), and the credential is the IdP's
// access token for the backend (RFC 8707, RFC 9068). The IdP is oidc-provider with registration
// and resource indicators; the backend is the reference one with its metadata and bearer check.

let idp: DevIdp;
const backends: DevBackend[] = [];

beforeAll(async () => {
  idp = await startDevIdp({ registration: true });
});
afterAll(async () => {
  await Promise.all([idp.close(), ...backends.map((b) => b.close())]);
});

async function backendFor(options: Partial<DevBackendOptions> = {}, of: DevIdp = idp): Promise<DevBackend> {
  const backend = await startDevBackend({ issuer: of.issuer, allowedClientIds: [of.clientId], ...options });
  of.resourceServers.add(backend.url);
  backends.push(backend);
  return backend;
}

/** A fresh config dir and the CLI in process on it (real clock; the keychain in memory). */
function setup() {
  const configDir = tempConfigDir();
  const root = createTestRoot({ clock: systemClock });
  const run = (args: string[], env: Record<string, string> = {}) =>
    root.run(args, {
      configDir,
      env: { BROWSER: `"${process.execPath}" "${USER_AGENT}"`, LATCHKEY_DEV_UA_USER: 'ada', ...env },
    });
  const config = () => {
    try {
      return JSON.parse(readFileSync(join(configDir, 'config.json'), 'utf8')) as { profiles?: Record<string, Record<string, unknown>> };
    } catch {
      return {};
    }
  };
  const secrets = () => [...root.keychain.entries.keys()].map((key) => key.split('\u0000')[1]);
  return { configDir, root, run, config, secrets };
}

const registrations = (of: DevIdp = idp) => of.requests.filter((r) => r === 'POST /reg').length;

describe('profile add --backend-url alone', () => {
  it('finds the IdP from the backend, registers a native client, logs in, and the backend takes the access token', async () => {
    const backend = await backendFor();
    const { run, config, secrets, root, configDir } = setup();
    const before = registrations();

    const added = await run(['profile', 'add', 'prod', '--backend-url', backend.url]);
    expect(added.code, added.stderr).toBe(0);
    expect(added.stderr).toContain(`resource metadata (${backend.url}/.well-known/oauth-protected-resource)`);
    expect(added.stderr).toContain(`the authorization server ${idp.issuer}`);
    expect(added.stderr).toMatch(
      /Registered this CLI at http:\/\/127\.0\.0\.1:\d+ as the native public client \S+ \(redirect http:\/\/127\.0\.0\.1\/callback, no secret\)/,
    );
    expect(registrations()).toBe(before + 1);

    // Ordinary profile keys; the registered client is a native public one at the IdP.
    const profile = config().profiles!.prod!;
    expect(profile).toMatchObject({ issuer: idp.issuer, backendUrl: backend.url, resource: backend.url, exchange: 'none' });
    expect(profile.scopes).toBe('openid profile email offline_access account:usage:read');
    const clientId = String(profile.clientId);
    const client = await idp.provider.Client.find(clientId);
    expect(client?.metadata()).toMatchObject({
      application_type: 'native',
      token_endpoint_auth_method: 'none',
      client_name: 'latchkey',
      redirect_uris: ['http://127.0.0.1/callback'],
    });
    expect(client?.metadata().grant_types).toEqual(['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code']);
    // Its registration access token is a secret: in the keychain, never in the config.
    expect(secrets()).toEqual(['prod:registration']);
    const registration = JSON.parse([...root.keychain.entries.values()][0]!) as { clientId: string; registrationAccessToken: string };
    expect(registration.clientId).toBe(clientId);
    expect(registration.registrationAccessToken.length).toBeGreaterThan(20);
    expect(readFileSync(join(configDir, 'config.json'), 'utf8')).not.toContain(registration.registrationAccessToken);

    const login = await run(['login', '--timeout', '30']);
    expect(login.code, login.stderr).toBe(0);
    expect(login.stderr).toContain('Logged in to prod as ada@example.com');

    // The credential is the IdP's access token for the backend: aud = the resource, the registered client.
    const token = await run(['token']);
    expect(token.code, token.stderr).toBe(0);
    const claims = JSON.parse(Buffer.from(token.stdout.trim().split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
    expect(claims).toMatchObject({ aud: backend.url, client_id: clientId, sub: 'ada', iss: idp.issuer });
    const whoami = await run(['api', '/api/whoami']);
    expect(whoami.code, whoami.stderr).toBe(0);
    expect(JSON.parse(whoami.stdout)).toEqual({ user: { sub: 'ada', email: 'ada@example.com' } });
    const inspected = await run(['token', 'inspect', '--json', '--check']);
    expect(inspected.code, inspected.stderr).toBe(0);
    expect(JSON.parse(inspected.stdout)).toMatchObject({ kind: 'access_token', diagnostics: [] });
    // The built CLI, as installed: --verify loads jose while other code requires it (the bundle
    // once raced there: "Cannot require() ES Module … not yet fully loaded").
    const verified = await runCli(['token', 'inspect', token.stdout.trim(), '--verify', '--check', '--issuer', idp.issuer]);
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.stdout).toMatch(/Signature\s+valid \(keys from http:\/\/127\.0\.0\.1:\d+\/jwks\)/);

    // Removing the profile deletes the client it registered (RFC 7592) and its secret.
    const removed = await run(['profile', 'remove', 'prod']);
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stderr).toContain(`Deleted the client ${clientId} this profile had registered at the IdP.`);
    expect(await idp.provider.Client.find(clientId)).toBeUndefined();
    expect(secrets()).toEqual([]);
  }, 60_000);

  it('profile add --force over a registered profile deletes the client it replaces', async () => {
    const backend = await backendFor();
    const { run, config, secrets } = setup();
    expect((await run(['profile', 'add', 'prod', '--backend-url', backend.url])).code).toBe(0);
    const first = String(config().profiles!.prod!.clientId);
    const again = await run(['profile', 'add', 'prod', '--backend-url', backend.url, '--force']);
    expect(again.code, again.stderr).toBe(0);
    const second = String(config().profiles!.prod!.clientId);
    expect(second).not.toBe(first);
    expect(await idp.provider.Client.find(first)).toBeUndefined();
    expect(await idp.provider.Client.find(second)).toBeDefined();
    expect(secrets()).toEqual(['prod:registration']);
  });

  it("follows the resource_metadata of the backend's 401 when the well-known URI has none", async () => {
    const backend = await backendFor({ resourceMetadata: 'challenge' });
    const { run, config } = setup();
    const added = await run(['profile', 'add', 'prod', '--backend-url', backend.url, '--json']);
    expect(added.code, added.stderr).toBe(0);
    expect(JSON.parse(added.stdout)).toMatchObject({
      name: 'prod',
      discovered: {
        metadataUrl: `${backend.url}/api/resource-metadata`,
        foundVia: 'challenge',
        resource: backend.url,
        authorizationServers: [idp.issuer],
        registered: true,
      },
    });
    expect(config().profiles!.prod).toMatchObject({ issuer: idp.issuer, resource: backend.url });
  });

  it('uses a client id given with --client-id, and registers nothing', async () => {
    const backend = await backendFor();
    const { run, config, secrets } = setup();
    const before = registrations();
    const added = await run(['profile', 'add', 'prod', '--backend-url', backend.url, '--client-id', idp.clientId]);
    expect(added.code, added.stderr).toBe(0);
    expect(added.stderr).toContain(`Using the client id ${idp.clientId} at ${idp.issuer}.`);
    expect(registrations()).toBe(before);
    expect(secrets()).toEqual([]);
    expect(config().profiles!.prod).toMatchObject({ clientId: idp.clientId, resource: backend.url, exchange: 'none' });
  });

  it('refuses metadata whose resource is another server (RFC 9728 §3.3), and saves nothing', async () => {
    const backend = await backendFor({ advertisedResource: 'https://api.elsewhere.example' });
    const { run, config, secrets } = setup();
    const before = registrations();
    const added = await run(['profile', 'add', 'prod', '--backend-url', backend.url]);
    expect(added.code).toBe(2);
    expect(added.stderr).toContain(
      `the resource metadata at ${backend.url}/.well-known/oauth-protected-resource is for "https://api.elsewhere.example", not for ${backend.url}; it was refused and nothing was saved`,
    );
    expect(registrations()).toBe(before);
    expect(config().profiles?.prod).toBeUndefined();
    expect(secrets()).toEqual([]);
  });

  it('refuses metadata naming an authorization server over plain http off loopback', async () => {
    const backend = await backendFor({ advertisedIssuer: 'http://idp.example.com' });
    const { run, config } = setup();
    const added = await run(['profile', 'add', 'prod', '--backend-url', backend.url]);
    expect(added.code).toBe(2);
    expect(added.stderr).toContain(
      'names the authorization server "http://idp.example.com", which is refused: its scheme http: is not https',
    );
    expect(config().profiles?.prod).toBeUndefined();
  });

  it('says what to register by hand when the IdP offers no registration, and saves nothing', async () => {
    const plain = await startDevIdp();
    try {
      const backend = await backendFor({}, plain);
      const { run, config } = setup();
      const added = await run(['profile', 'add', 'prod', '--backend-url', backend.url]);
      expect(added.code).toBe(2);
      expect(added.stderr).toContain(
        `the IdP ${plain.issuer} does not let clients register themselves (its metadata has no registration_endpoint); nothing was saved`,
      );
      expect(added.stderr).toContain(
        'Register a Native (public) client there by hand: redirect URI http://127.0.0.1/callback, grant types authorization_code and refresh_token, no client secret (docs/idps.md).' +
          ` Then: latchkey profile add prod --backend-url ${backend.url} --client-id <id>`,
      );
      expect(config().profiles?.prod).toBeUndefined();
    } finally {
      await plain.close();
    }
  });

  it('a registration the IdP refuses is exit 4 with its reason, escaped and cut, and nothing is saved', async () => {
    const backend = await backendFor();
    const { run, config, secrets } = setup();
    idp.hooks.before = (ctx) => {
      if (ctx.method !== 'POST' || ctx.path !== '/reg') return false;
      ctx.status = 400;
      ctx.body = { error: 'invalid_client_metadata', error_description: `\u001b]52;c;owned\u0007${'x'.repeat(5000)}` };
      return true;
    };
    try {
      const added = await run(['profile', 'add', 'prod', '--backend-url', backend.url]);
      expect(added.code).toBe(4);
      expect(added.stderr).toContain(
        'the IdP refused to register this CLI as a client (invalid_client_metadata: \\u001b]52;c;owned\\u0007xxx',
      );
      expect(added.stderr).not.toContain('\u001b');
      expect(added.stderr.length).toBeLessThan(1500);
      expect(added.stderr).toContain('register a Native (public) client by hand');
      expect(config().profiles?.prod).toBeUndefined();
      expect(secrets()).toEqual([]);
    } finally {
      idp.hooks.before = undefined;
    }
  });

  it('says to pass --issuer when the backend publishes no metadata', async () => {
    const backend = await backendFor({ resourceMetadata: 'none' });
    const { run, config } = setup();
    const added = await run(['profile', 'add', 'prod', '--backend-url', backend.url]);
    expect(added.code).toBe(2);
    expect(added.stderr).toContain(
      `the backend ${backend.url} does not say where to log in: ${backend.url}/.well-known/oauth-protected-resource answered 404,` +
        ` and ${backend.url} answered 404 without a resource_metadata challenge`,
    );
    expect(added.stderr).toContain(
      `Give the IdP yourself: latchkey profile add prod --backend-url ${backend.url} --issuer <url> --client-id <id>.`,
    );
    expect(config().profiles?.prod).toBeUndefined();
  });

  it('does not touch the network, nor register, for a name that is taken', async () => {
    const backend = await backendFor();
    const { run } = setup();
    expect((await run(['profile', 'add', 'prod', '--backend-url', backend.url, '--client-id', idp.clientId])).code).toBe(0);
    const before = registrations();
    const again = await run(['profile', 'add', 'prod', '--backend-url', backend.url]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('profile "prod" already exists');
    expect(registrations()).toBe(before);
  });

  it("token inspect flags an access token for another resource than the profile's", async () => {
    const backend = await backendFor();
    const other = await backendFor();
    const { run } = setup();
    expect((await run(['profile', 'add', 'prod', '--backend-url', backend.url, '--client-id', idp.clientId])).code).toBe(0);
    expect((await run(['profile', 'add', 'other', '--backend-url', other.url, '--client-id', idp.clientId])).code).toBe(0);
    expect((await run(['login', '-p', 'other', '--timeout', '30'])).code).toBe(0);
    const otherToken = (await run(['token', '-p', 'other'])).stdout.trim();
    const inspected = await run(['token', 'inspect', '-p', 'prod', '--check', '--json'], { LATCHKEY_PROFILE: 'prod' });
    expect(inspected.code).toBe(3); // prod is not logged in: its own token is not there
    const checked = await run(['token', 'inspect', otherToken, '-p', 'prod', '--check', '--json']);
    expect(checked.code).toBe(4);
    const result = JSON.parse(checked.stdout) as { diagnostics: Array<{ code: string; level: string; message: string }> };
    expect(result.diagnostics).toContainEqual({
      level: 'error',
      code: 'audience_mismatch',
      message: `the access token is for "${other.url}", not for the profile's resource "${backend.url}": the backend refuses it`,
    });
    // And the backend does refuse it, with the challenge that names its metadata.
    const refused = await fetch(`${backend.url}/api/whoami`, { headers: { authorization: `Bearer ${otherToken}` } });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toBe(
      `Bearer resource_metadata="${backend.url}/.well-known/oauth-protected-resource", error="invalid_token"`,
    );
    expect(backend.refusals.at(-1)).toMatch(/^audience_not_allowed: aud \[?"http:\/\/127\.0\.0\.1:\d+"\]? does not name this resource/);
  }, 60_000);

  it('works with an OAuth authorization server that publishes RFC 8414 metadata and no OpenID discovery', async () => {
    // oidc-provider behind a front that moves its metadata to RFC 8414's well-known URI.
    const oauthOnly = await startDevIdp({
      registration: true,
      front: (req) => {
        if (req.url === '/.well-known/openid-configuration') req.url = '/not-published';
        else if (req.url === '/.well-known/oauth-authorization-server') req.url = '/.well-known/openid-configuration';
      },
    });
    try {
      const backend = await backendFor({}, oauthOnly);
      const { run } = setup();
      const added = await run(['profile', 'add', 'prod', '--backend-url', backend.url]);
      expect(added.code, added.stderr).toBe(0);
      expect(oauthOnly.requests).toContain('GET /not-published');
      const login = await run(['login', '--timeout', '30']);
      expect(login.code, login.stderr).toBe(0);
      const whoami = await run(['api', '/api/whoami']);
      expect(JSON.parse(whoami.stdout)).toEqual({ user: { sub: 'ada', email: 'ada@example.com' } });
    } finally {
      await oauthOnly.close();
    }
  }, 60_000);

  it('refuses an authorization server whose metadata names another issuer', async () => {
    const fronted = await startDevIdp({
      registration: true,
      front: (req) => {
        if (req.url === '/other/.well-known/openid-configuration') req.url = '/.well-known/openid-configuration';
      },
    });
    try {
      const backend = await backendFor({ advertisedIssuer: `${fronted.issuer}/other` }, fronted);
      const { run, config } = setup();
      const added = await run(['profile', 'add', 'prod', '--backend-url', backend.url]);
      expect(added.code).toBe(2);
      expect(added.stderr).toContain(`the discovery document of ${fronted.issuer}/other names the issuer "${fronted.issuer}"`);
      expect(fronted.requests).not.toContain('POST /reg');
      expect(config().profiles?.prod).toBeUndefined();
    } finally {
      await fronted.close();
    }
  });

  it('stops reading metadata larger than any backend needs', async () => {
    const huge = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      // Streamed without a length: the bound applies as it reads.
      res.write(`{"resource":"x","pad":"`);
      const chunk = 'a'.repeat(64 * 1024);
      let sent = 0;
      const more = () => {
        while (sent < 40 && res.write(chunk)) sent += 1;
        if (sent >= 40) res.end('"}');
        else res.once('drain', more);
      };
      res.on('error', () => undefined);
      more();
    });
    await new Promise<void>((resolve) => huge.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(huge.address() as AddressInfo).port}`;
      const { run, config } = setup();
      const added = await run(['profile', 'add', 'prod', '--backend-url', url]);
      expect(added.code).toBe(1);
      expect(added.stderr).toContain('answered with more than 1024 KiB, which no login needs');
      expect(config().profiles?.prod).toBeUndefined();
    } finally {
      huge.closeAllConnections();
      await new Promise<void>((resolve) => huge.close(() => resolve()));
    }
  });
});
