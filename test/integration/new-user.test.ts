import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, runCli, tempConfigDir } from '../helpers/cli.js';
import { createTestRoot, runInProcess } from '../helpers/root.js';
import { loginSetup, startStack, until, type Stack } from '../helpers/stack.js';

// What a new user trips over, tried as they would: the CLI spawned, against the dev IdP and
// backends that answer badly.
const NO_BUS = { DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/latchkey-test-bus' };
const KEY = new TextEncoder().encode('a-secret-of-thirty-two-bytes-ok!');
const jwt = (claims: Record<string, unknown>) => new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(KEY);
const now = () => Math.floor(Date.now() / 1000);

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack.close());

/** Device flow answers that poll every second (the tests do not wait 5 s a poll). */
function fastPolling(): void {
  stack.idp.hooks.after = (ctx) => {
    const body = ctx.body as { device_code?: string; interval?: number } | undefined;
    if (ctx.path === '/device/auth' && body?.device_code) body.interval = 1;
  };
}

describe('1. --timeout bounds the whole login, whatever the grant; CI fails fast', () => {
  it('login --device --timeout 3 ends after 3 s (exit 5), not when the code expires', async () => {
    fastPolling();
    try {
      const setup = await loginSetup(stack);
      const started = Date.now();
      const login = await setup.run(['login', '--device', '--timeout', '3'], { ua: 'none' });
      expect(login.code).toBe(5);
      expect(login.stderr).toContain('no sign-in arrived within 3 s; nothing was stored');
      expect(Date.now() - started).toBeLessThan(9000);
    } finally {
      stack.idp.hooks = {};
    }
  });

  it('over SSH the fallback to the device flow says so, and --timeout still ends it', async () => {
    fastPolling();
    try {
      const setup = await loginSetup(stack);
      const started = Date.now();
      const login = await setup.run(['login', '--timeout', '3'], {
        env: { BROWSER: undefined, SSH_CONNECTION: '10.0.0.1 5000 10.0.0.2 22' },
      });
      expect(login.code).toBe(5);
      expect(login.stderr).toContain(
        'No browser can be opened here (an SSH session); using the device flow instead, for at most 3 s (--timeout)',
      );
      expect(Date.now() - started).toBeLessThan(9000);
    } finally {
      stack.idp.hooks = {};
    }
  });

  it('in CI without a terminal or a browser, login fails at once with the reason and the ways CI logs in', async () => {
    const setup = await loginSetup(stack);
    const started = Date.now();
    const login = await setup.run(['login'], { env: { BROWSER: undefined, CI: 'true' } });
    expect(login.code).toBe(2);
    expect(login.stderr).toContain('this is CI (CI is set, no terminal): nobody can sign in interactively; nothing was stored');
    expect(login.stderr).toContain('login --with-token');
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('Ctrl-C during the device flow: "login cancelled; nothing was stored", exit 130, at once', async () => {
    // The IdP's own 5 s interval: the poll would only notice Ctrl-C at its next round.
    try {
      const setup = await loginSetup(stack);
      let child: import('node:child_process').ChildProcess | undefined;
      let err = '';
      const running = setup.run(['login', '--device'], {
        ua: 'none',
        onSpawn: (c) => ((child = c), c.stderr!.on('data', (d: Buffer) => (err += d.toString()))),
      });
      await until(() => err.includes('enter the code'));
      const sent = Date.now();
      child!.kill('SIGINT');
      const login = await running;
      expect(login.code).toBe(130);
      expect(login.stderr).toContain('login cancelled; nothing was stored');
      expect(Date.now() - sent).toBeLessThan(2500);
      expect((await setup.run(['token'])).code).toBe(3);
    } finally {
      stack.idp.hooks = {};
    }
  });
});

describe('2-4. LATCHKEY_TOKEN alone, status a script can gate on, expired tokens at the door', () => {
  it('LATCHKEY_TOKEN works with no profile at all: token prints it, status says it is in force (exit 0)', async () => {
    const configDir = tempConfigDir();
    const env = { LATCHKEY_TOKEN: 'abc' };
    const token = await runCli(['token'], { configDir, env });
    expect(token.code, token.stderr).toBe(0);
    expect(token.stdout).toBe('abc\n');
    const status = await runCli(['status'], { configDir, env });
    expect(status.code).toBe(0);
    expect(status.stderr).toContain('LATCHKEY_TOKEN is set: it is the credential in force');
    expect(JSON.parse((await runCli(['status', '--json'], { configDir, env })).stdout)).toEqual({
      profiles: [],
      envCredential: 'LATCHKEY_TOKEN',
    });
    const inspect = await runCli(['token', 'inspect', '--json'], {
      configDir,
      env: { LATCHKEY_TOKEN: await jwt({ sub: 'ci', exp: now() + 60 }) },
    });
    expect(inspect.code, inspect.stderr).toBe(0);
    expect(JSON.parse(inspect.stdout).claims.sub).toBe('ci');
  });

  it('status exits 3 when the profile asked about (or the default) is not usable, 0 when it is; --json unchanged', async () => {
    const configDir = tempConfigDir();
    const none = await runCli(['status'], { configDir });
    expect(none.code).toBe(3);
    expect(none.stderr).toContain('no profile is configured');
    expect(
      (await runInProcess(['profile', 'add', 'prod', '--issuer', 'https://idp.example', '--client-id', 'c'], { configDir })).code,
    ).toBe(0);
    expect((await runInProcess(['profile', 'add', 'ci', '--issuer', 'https://idp.example', '--client-id', 'c'], { configDir })).code).toBe(
      0,
    );
    const out = await runCli(['status'], { configDir });
    expect(out.code).toBe(3);
    expect(out.stderr).toContain('profile "prod" is not logged in');
    const json = await runCli(['status', '--json'], { configDir });
    expect(json.code).toBe(3);
    expect(Object.keys(JSON.parse(json.stdout))).toEqual(['profiles']);
    expect(
      (await runCli(['login', '--with-token', '-p', 'ci'], { configDir, input: 'key-123', env: { LATCHKEY_STORAGE: 'file' } })).code,
    ).toBe(0);
    expect((await runCli(['status', '-p', 'ci'], { configDir })).code).toBe(0);
    expect((await runCli(['status', '-p', 'prod'], { configDir })).code).toBe(3);
  });

  it('login --with-token refuses an expired JWT (exit 4, its expiry); a with-token profile is told to pipe a new one', async () => {
    const configDir = tempConfigDir();
    expect((await runInProcess(['profile', 'add', 'ci', '--issuer', 'https://idp.example', '--client-id', 'c'], { configDir })).code).toBe(
      0,
    );
    const env = { LATCHKEY_STORAGE: 'file' };
    const old = await runCli(['login', '--with-token'], { configDir, env, input: await jwt({ sub: 'ci', exp: now() - 3 * 3600 }) });
    expect(old.code).toBe(4);
    expect(old.stderr).toMatch(/the token expired at \d{4}-\d\d-\d\dT[\d:.]+Z \(3 h ago\); nothing was stored/);
    expect(old.stderr).toContain('echo "$TOKEN" | latchkey login --with-token -p ci');
    expect((await runCli(['token'], { configDir })).code).toBe(3);

    // In process, with a clock the test moves: an hour later, the token it took has expired.
    const root = createTestRoot({ env });
    expect((await root.run(['login', '--with-token'], { configDir, input: await jwt({ sub: 'ci', exp: now() + 3600 }) })).code).toBe(0);
    root.clock.advance(3600);
    const expired = await root.run(['token'], { configDir });
    expect(expired.code).toBe(3);
    expect(expired.stderr).toContain('Pipe a current token: echo "$TOKEN" | latchkey login --with-token -p ci');
    expect(expired.stderr).not.toContain('Run: latchkey login -p ci');
    const status = await root.run(['status'], { configDir });
    expect(status.code).toBe(3);
    expect(status.stderr).toContain('Pipe a current token');
  });
});

describe('5. doctor agrees with login', () => {
  it('a trailing-slash issuer that login accepts passes doctor too; LATCHKEY_STORAGE counts; no profile still checks the machine', async () => {
    const setup = await loginSetup(stack, [], { backend: false });
    expect((await setup.run(['profile', 'set', 'demo', 'issuer', `${stack.idp.issuer}/`])).code).toBe(0);
    expect((await setup.run(['login'])).code).toBe(0);
    const doctor = JSON.parse((await setup.run(['doctor', '--json'], { env: { ...NO_BUS, LATCHKEY_STORAGE: 'file' } })).stdout);
    const check = (name: string) => doctor.checks.find((c: { name: string }) => c.name === name);
    expect(check('discovery').status).toBe('ok');
    expect(check('keychain')).toMatchObject({ status: 'ok', detail: expect.stringContaining('not used: LATCHKEY_STORAGE=file') });

    const empty = await runCli(['doctor', '--json'], { configDir: tempConfigDir(), env: NO_BUS });
    expect(empty.code).toBe(0);
    const checks = JSON.parse(empty.stdout).checks.map((c: { name: string; status: string }) => `${c.name}:${c.status}`);
    expect(checks).toEqual([expect.stringMatching(/^environment:(ok|warn)$/), 'proxy:ok', 'profile:skip', 'keychain:warn', 'port:ok']);
  });
});

describe('6. filesystem errors name the place and what to do', () => {
  it('a config dir that cannot be written, or a file where it should be: exit 2, the path, the fix', async () => {
    const denied = await runInProcess(['profile', 'add', 'p', '--issuer', 'https://idp.example', '--client-id', 'c'], {
      configDir: '/sys/kernel/latchkey-test',
    });
    expect(denied.code).toBe(2);
    expect(denied.stderr).toMatch(
      /cannot write the config dir \/sys\/kernel\/latchkey-test: (permission denied \(EPERM\)|permission denied \(EACCES\)|the file system is read-only \(EROFS\))/,
    );
    expect(denied.stderr).toContain('--config-dir <dir>');
    expect(denied.stderr).not.toContain('unexpected error');

    const file = join(mkdtempSync(join(tmpdir(), 'latchkey-file-')), 'not-a-dir');
    writeFileSync(file, 'x');
    const blocked = await runCli(['login', '--with-token'], { configDir: join(file, 'config'), input: 'abc' });
    expect(blocked.code).toBe(2);
    expect(blocked.stderr).toContain(`cannot read ${file}: a file is where a directory should be (ENOTDIR)`);
    expect(blocked.stderr).toContain(`Move ${file} aside`);
  });

  it.skipIf(process.platform !== 'linux')(
    'a config dir or cache dir where mkdir answers ENOENT under an existing directory (/proc): one line, not a hang',
    async () => {
      // Node's mkdirSync({ recursive }) loops forever there: this was a hang at 100% CPU.
      const started = Date.now();
      const refused = await runCli(['profile', 'add', 'p', '--issuer', 'https://idp.example', '--client-id', 'c'], {
        configDir: '/proc/latchkey-test/config',
        timeoutMs: 10_000,
      });
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain('cannot write /proc/latchkey-test: it cannot be created there (ENOENT)');
      expect(refused.stderr).toContain('Use a config dir on a writable file system: --config-dir <dir>.');
      // The code cache (Node 20) is written at exit: a cache dir there is skipped, and the command's result stands.
      const jwt = `${Buffer.from('{"alg":"RS256"}').toString('base64url')}.${Buffer.from('{"sub":"u"}').toString('base64url')}.c2ln`;
      const inspected = await runCli(['token', 'inspect', jwt], { env: { XDG_CACHE_HOME: '/proc/latchkey-test' }, timeoutMs: 10_000 });
      expect(inspected.code).toBe(0);
      expect(Date.now() - started).toBeLessThan(8000);
    },
  );

  it('an empty config.json is corrupt like a truncated one (exit 2), and is never rewritten', async () => {
    const configDir = tempConfigDir();
    expect((await runInProcess(['profile', 'add', 'p', '--issuer', 'https://idp.example', '--client-id', 'c'], { configDir })).code).toBe(
      0,
    );
    writeFileSync(join(configDir, 'config.json'), '');
    const status = await runCli(['status'], { configDir });
    expect(status.code).toBe(2);
    expect(status.stderr).toContain('config.json is empty');
    expect(readFileSync(join(configDir, 'config.json'), 'utf8')).toBe('');
  });
});

describe('7. discovery failures say the status and the URL', () => {
  let server: Server;
  let base: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url?.startsWith('/down/')) return void res.writeHead(503).end();
      if (req.url?.startsWith('/app/')) return void res.writeHead(200, { 'content-type': 'text/html' }).end('<html>the web app</html>');
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it.each([
    [
      'a 404',
      '/missing',
      2,
      /could not discover the issuer .*\/missing: .*\/missing\/\.well-known\/openid-configuration: it answered HTTP 404/,
    ],
    ['a 503', '/down', 5, /the IdP answered HTTP 503 to .*\/down\/\.well-known\/openid-configuration/],
    ['an HTML page', '/app', 2, /it answered HTTP 200 \(text\/html\), not a discovery document/],
  ])('%s', async (_name, path, code, message) => {
    const configDir = tempConfigDir();
    expect((await runInProcess(['profile', 'add', 'p', '--issuer', `${base}${path}`, '--client-id', 'c'], { configDir })).code).toBe(0);
    const login = await runCli(['login', '--device'], { configDir });
    expect(login.code).toBe(code);
    expect(login.stderr).toMatch(message);
  });
});

describe('8-10. token inspect: the decode always stands; the profile audience; pasted tokens', () => {
  it('--verify on a backend session prints the decode and says why it is not verifiable (exit 0)', async () => {
    const setup = await loginSetup(stack);
    expect((await setup.run(['login'])).code).toBe(0);
    const result = await setup.run(['token', 'inspect', '--verify']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/Claims/);
    expect(result.stdout).toMatch(/Signature\s+not verifiable: this is the backend's own session or API key/);
  });

  it('--verify with an unreachable issuer: the decode, the diagnostics, then the network failure (exit 5)', async () => {
    const configDir = tempConfigDir();
    expect((await runInProcess(['profile', 'add', 'p', '--issuer', 'http://127.0.0.1:9/', '--client-id', 'c'], { configDir })).code).toBe(
      0,
    );
    const token = `${Buffer.from('{"alg":"RS256","kid":"k"}').toString('base64url')}.${Buffer.from(JSON.stringify({ iss: 'https://other.example', sub: 'x', aud: 'c' })).toString('base64url')}.c2ln`;
    const result = await runCli(['token', 'inspect', '--verify', token], { configDir });
    expect(result.code).toBe(5);
    expect(result.stdout).toMatch(/issuer_mismatch/);
    expect(result.stdout).toMatch(/Signature\s+could not be checked: cannot reach 127\.0\.0\.1:9/);
    expect(result.stderr).toContain(
      'Checking the signature with the keys of http://127.0.0.1:9/; the token names another issuer (https://other.example).',
    );
  });

  it("the profile's audience, when in aud, is the chosen audience without any audiencePriority", async () => {
    const configDir = tempConfigDir();
    expect(
      (
        await runInProcess(['profile', 'add', 'p', '--issuer', 'https://idp.example', '--client-id', 'c', '--audience', 'api://orders'], {
          configDir,
        })
      ).code,
    ).toBe(0);
    const token = await jwt({ iss: 'https://idp.example', aud: ['other', 'api://orders'], scope: 'read', exp: now() + 60 });
    const json = JSON.parse((await runCli(['token', 'inspect', '--json', token], { configDir })).stdout);
    expect(json.audience).toEqual({ chosen: 'api://orders', all: ['other', 'api://orders'] });
  });

  it('pasted tokens: quotes, a line-wrapped JWT and "Authorization: Bearer" are taken off everywhere; whitespace inside is refused with what to strip', async () => {
    const configDir = tempConfigDir();
    expect((await runInProcess(['profile', 'add', 'p', '--issuer', 'https://idp.example', '--client-id', 'c'], { configDir })).code).toBe(
      0,
    );
    const token = await jwt({ sub: 'pasted', exp: now() + 3600 });
    const wrapped = `'Authorization: Bearer ${token.slice(0, 20)}\n  ${token.slice(20, 50)}\n${token.slice(50)}'`;
    const inspect = await runCli(['token', 'inspect', '-', '--json'], { configDir, input: wrapped });
    expect(inspect.code, inspect.stderr).toBe(0);
    expect(JSON.parse(inspect.stdout).claims.sub).toBe('pasted');
    const login = await runCli(['login', '--with-token'], { configDir, input: `"${token}"\n`, env: { LATCHKEY_STORAGE: 'file' } });
    expect(login.code, login.stderr).toBe(0);
    expect((await runCli(['token'], { configDir })).stdout).toBe(`${token}\n`);
    const spaced = await runCli(['login', '--with-token'], { configDir, input: 'api key 123', env: { LATCHKEY_STORAGE: 'file' } });
    expect(spaced.code).toBe(2);
    expect(spaced.stderr).toContain(
      'the token contains whitespace (character 4); give exactly one token: strip spaces and line breaks, quotes and any "Authorization: Bearer" prefix',
    );
  });
});

describe('12-13. every failure says what to do; the smaller things', () => {
  it('access_denied says what to do next', async () => {
    const setup = await loginSetup(stack);
    const login = await setup.run(['login'], { ua: 'deny' });
    expect(login.code).toBe(4);
    expect(login.stderr).toContain(
      "You cancelled, or the IdP did not let you in: run the login again, or ask the IdP's admin to assign you to the application.",
    );
  });

  it('a backend that answers 200 without JSON: the reason and where to look', async () => {
    const html = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>login</html>'));
    await new Promise<void>((r) => html.listen(0, '127.0.0.1', r));
    try {
      const setup = await loginSetup(stack, ['--backend-url', `http://127.0.0.1:${(html.address() as AddressInfo).port}`]);
      const login = await setup.run(['login']);
      expect(login.code).toBe(1);
      expect(login.stderr).toMatch(/answered 200 without a JSON object; nothing was stored\n\s+Is .* the CLI-auth endpoint\?/);
    } finally {
      html.close();
    }
  });

  it('--verify on alg none says "refused", iat of a fresh token reads "now", the keychain fallback in plain words, the exit-6 hint names LATCHKEY_STORAGE', async () => {
    const configDir = tempConfigDir();
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: 'x', iat: now() })).toString('base64url')}.`;
    const inspect = await runCli(['token', 'inspect', '--verify', '--issuer', 'https://idp.example', none], { configDir });
    expect(inspect.code).toBe(4);
    expect(inspect.stdout).toMatch(/Signature\s+refused: alg none/);
    // A token issued this second: "now", never "in 0 s" (a slow machine may already say "1 s ago").
    expect(inspect.stdout).toMatch(/iat\s+\d+\s+\S+ \((now|[12] s ago)\)/);
    expect(inspect.stdout).not.toContain('in 0 s');

    expect((await runInProcess(['profile', 'add', 'p', '--issuer', 'https://idp.example', '--client-id', 'c'], { configDir })).code).toBe(
      0,
    );
    const fallback = await runCli(['login', '--with-token'], { configDir, input: 'k1', env: NO_BUS });
    expect(fallback.code).toBe(0);
    expect(fallback.stderr).toContain('the OS keychain is not reachable (no Secret Service on this session)');
    const strict = await runCli(['login', '--with-token'], { configDir, input: 'k2', env: { ...NO_BUS, LATCHKEY_STORAGE: 'keychain' } });
    expect(strict.code).toBe(6);
    expect(strict.stderr).toContain('LATCHKEY_STORAGE=keychain requires the keychain for this run');
    expect(strict.stderr).toContain('unset LATCHKEY_STORAGE');
  });
});

describe("14. help and install, gh's conventions", () => {
  it("every subcommand's help shows the global options; help environment lists every variable; version", async () => {
    const help = await runCli(['login', '--help']);
    expect(help.stdout).toContain('Global Options:');
    expect(help.stdout).toMatch(/--config-dir <dir>/);
    const env = await runCli(['help', 'environment']);
    expect(env.code).toBe(0);
    // Every LATCHKEY_* variable the code reads is in the topic.
    const source = readdirSync(resolve(import.meta.dirname, '../../src'), { recursive: true })
      .filter((f) => String(f).endsWith('.ts'))
      .map((f) => readFileSync(resolve(import.meta.dirname, '../../src', String(f)), 'utf8'))
      .join('\n');
    const read = new Set([...source.matchAll(/\b(?:env|envName)\('([A-Z_]+)'\)/g)].map((m) => `LATCHKEY_${m[1]}`));
    expect(read.size).toBeGreaterThan(4);
    for (const variable of read) expect(env.stdout, variable).toContain(variable);
    for (const other of ['BROWSER', 'HTTPS_PROXY', 'NO_COLOR', 'NODE_EXTRA_CA_CERTS']) expect(env.stdout).toContain(other);
    expect((await runCli(['help', 'profile', 'add'])).stdout).toContain('Usage: latchkey profile add');
    expect((await runCli(['help', 'nonsense'])).code).toBe(2);
    expect((await runCli(['version'])).stdout).toBe('latchkey 0.1.0\n');
    expect(JSON.parse((await runCli(['version', '--json'])).stdout)).toMatchObject({
      name: 'latchkey',
      version: '0.1.0',
      node: process.version,
    });
  });

  it('help is wrapped to the terminal it is shown on', async () => {
    // (Commander keeps a description column of 40 at least: narrower terminals are not wrapped.)
    const narrow = await createTestRoot({ terminalColumns: 80 }).run(['login', '--help']);
    expect(narrow.stdout.split('\n').filter((line) => line.length > 80)).toEqual([]);
    const wide = await createTestRoot({ terminalColumns: 200 }).run(['login', '--help']);
    expect(Math.max(...wide.stdout.split('\n').map((line) => line.length))).toBeGreaterThan(80);
  });

  it('the man pages are generated from the command tree, listed in package.json, and render cleanly', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-man-'));
    expect((await runCli(['__man', dir])).code).toBe(0);
    const committed = resolve(import.meta.dirname, '../../man');
    const files = readdirSync(dir).sort();
    expect(readdirSync(committed).sort()).toEqual(files);
    for (const file of files)
      expect(readFileSync(join(committed, file), 'utf8'), `${file}: run npm run man`).toBe(readFileSync(join(dir, file), 'utf8'));
    const pkg = JSON.parse(readFileSync(resolve(import.meta.dirname, '../../package.json'), 'utf8'));
    expect(pkg.man).toEqual(files.map((f) => `./man/${f}`));
    expect(files).toEqual(expect.arrayContaining(['latchkey.1', 'latchkey-login.1', 'latchkey-token.1', 'latchkey-profile.1']));
    const page = await new Promise<{ out: string; err: string }>((r) =>
      execFile(
        'man',
        ['-l', '--warnings', join(dir, 'latchkey.1')],
        { env: { ...process.env, MANPAGER: 'cat', MANWIDTH: '80' } },
        (_e, out, err) => r({ out, err }),
      ),
    );
    if (page.out || page.err) {
      expect(page.err).toBe('');
      expect(page.out).toContain('EXIT STATUS');
      expect(page.out).toContain('LATCHKEY_TOKEN');
    }
  });

  it('the LICENSE is the one package.json names', () => {
    const pkg = JSON.parse(readFileSync(resolve(import.meta.dirname, '../../package.json'), 'utf8'));
    expect(pkg.license).toBe('MIT');
    expect(readFileSync(resolve(import.meta.dirname, '../../LICENSE'), 'utf8')).toMatch(/^MIT License\n/);
  });

  it('npm pack, then npm install -g of the tarball: installed with no warning, man pages included', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-pack-'));
    const npm = (args: string[]) =>
      new Promise<{ code: number; out: string; err: string }>((r) =>
        execFile(
          'npm',
          args,
          {
            cwd: dir,
            timeout: 240_000,
            env: { ...process.env, npm_config_fund: 'false', npm_config_audit: 'false', npm_config_update_notifier: 'false' },
          },
          (e, out, err) => r({ code: e ? Number((e as { code?: number }).code ?? 1) : 0, out, err }),
        ),
      );
    // --ignore-scripts: prepack would rebuild dist/ under the feet of the tests running beside
    // this one; npm test has just built it.
    const packed = await npm(['pack', '--ignore-scripts', resolve(import.meta.dirname, '../..')]);
    expect(packed.code, packed.err).toBe(0);
    const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'))!;
    const installed = await npm(['install', '-g', '--prefer-offline', '--prefix', join(dir, 'global'), `./${tarball}`]);
    expect(installed.code, installed.err).toBe(0);
    expect(installed.err).not.toMatch(/warn/i);
    expect(readdirSync(join(dir, 'global', 'share', 'man', 'man1'))).toContain('latchkey.1');
    const version = await runCli(['version'], { bin: join(dir, 'global', 'lib', 'node_modules', 'latchkey', 'bin', 'latchkey.js') });
    expect(version.stdout).toBe('latchkey 0.1.0\n');
    void BIN;
  }, 300_000);
});
