import { execFile, spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { secretServiceReachable } from '../helpers/secret-service.js';
import { startStack, USER_AGENT, type Stack } from '../helpers/stack.js';

// The product as it is installed and used over days: `npm pack`, the tarball installed into a
// prefix of its own, and one HOME per Node version that persists across every command (config,
// compile cache, git's config; the keychain is the session's Secret Service). Each command runs
// at least twice, so later runs start with whatever earlier runs left behind; then the installed
// bundles change (an upgrade) and the day goes on. Nothing may print a Node warning.
const ROOT = resolve(import.meta.dirname, '../..');
const run = promisify(execFile);
if (!(await secretServiceReachable())) throw new Error('the e2e suite needs a Secret Service: run it with npm run test:e2e');

// Access tokens and backend sessions live 65 s: with the 60 s renewal margin they are due 5 s on.
const TTL = 65;
const DUE_AFTER_MS = 5_500;
let stack: Stack;
let installed: string;
const nodes: Array<[string, string]> = [];

beforeAll(async () => {
  stack = await startStack({ idp: { accessTokenTtl: TTL }, backend: { sessionTtlSec: TTL } });
  const work = mkdtempSync(join(tmpdir(), 'latchkey-day-two-'));
  // The build is npm test's (test:e2e runs it first); pack what a user downloads.
  const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', work], { cwd: ROOT });
  const tarball = join(work, stdout.trim().split('\n').pop()!);
  const prefix = join(work, 'prefix');
  await run('npm', ['install', '--prefix', prefix, '--no-audit', '--no-fund', '--prefer-offline', tarball], { cwd: work });
  installed = join(prefix, 'node_modules', 'latchkey');
  nodes.push(['Node 20', process.execPath]);
  const node24 = (await run(join(ROOT, 'scripts/node24.sh'), [])).stdout.trim();
  nodes.push(['Node 24', join(node24, 'node')]);
}, 240_000);
afterAll(() => stack?.close());

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A person's shell: the installed `latchkey` first on PATH, run by `node`, with a persistent HOME. */
function shell(node: string, home: string) {
  const bin = join(installed, '..', '.bin');
  const env: Record<string, string> = {
    PATH: `${join(node, '..')}:${bin}:${process.env.PATH ?? ''}`,
    HOME: home,
    DBUS_SESSION_BUS_ADDRESS: process.env.DBUS_SESSION_BUS_ADDRESS ?? '',
    BROWSER: `"${process.execPath}" "${USER_AGENT}"`,
    LATCHKEY_DEV_UA_LOG: join(home, 'browser.log'),
  };
  const commands: string[] = [];
  const exec = (file: string, args: string[], input = ''): Promise<Result> =>
    new Promise((done, fail) => {
      const child = spawn(file, args, { env, cwd: home });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.on('error', fail);
      child.on('close', (code) => {
        clearTimeout(timer);
        commands.push(`${[file, ...args].join(' ')} -> ${code}`);
        // No run, first or later, prints a Node warning where scripts and kubectl show it.
        expect(stderr, `${args.join(' ')}: ${stderr}`).not.toMatch(/Warning|\(node:\d+\)|dynamic import/);
        done({ code, stdout, stderr });
      });
      child.stdin.end(input);
    });
  const latchkey = async (args: string[], input?: string): Promise<Result> => {
    const result = await exec('latchkey', args, input);
    expect(result.code, `latchkey ${args.join(' ')}: ${result.stderr}`).toBe(0);
    return result;
  };
  return { latchkey, exec, commands };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('day two, as installed', () => {
  it.each(['Node 20', 'Node 24'])('a person on %s: log in, use, let it expire, renew, the helpers, upgrade, log out', async (label) => {
    const [, node] = nodes.find(([name]) => name === label)!;
    const home = mkdtempSync(join(tmpdir(), 'latchkey-home-'));
    const { latchkey, exec } = shell(node, home);
    const tag = Math.random().toString(36).slice(2, 8);
    const idp = `idp-${tag}`;
    const app = `app-${tag}`;
    const idpArgs = ['--issuer', stack.idp.issuer, '--client-id', stack.idp.clientId, '--prompt', 'consent'];
    expect((await latchkey(['--version'])).stdout.trim()).toBe('0.1.0');

    // Day one: two profiles, one whose credential is the IdP's tokens, one with the backend's session.
    await latchkey(['profile', 'add', idp, ...idpArgs]);
    await latchkey(['profile', 'add', app, ...idpArgs, '--backend-url', stack.backend.url]);
    for (let i = 0; i < 2; i += 1) await latchkey(['profile', 'show', app]);
    for (const name of [idp, app]) for (let i = 0; i < 2; i += 1) await latchkey(['login', '-p', name, '--timeout', '30']);

    const first = { idp: '', app: '' };
    for (const name of [idp, app] as const) {
      const tokens = [];
      for (let i = 0; i < 3; i += 1) tokens.push((await latchkey(['token', '-p', name])).stdout.trim());
      expect(new Set(tokens).size).toBe(1);
      first[name === idp ? 'idp' : 'app'] = tokens[0]!;
    }
    expect(stack.backend.sessions.has(first.app)).toBe(true);
    for (let i = 0; i < 2; i += 1) await latchkey(['token', 'inspect', '-p', idp]);
    // Node >= 22.1 keeps compiled code in the user's own cache dir (0700); Node 20 keeps none.
    const cache = join(home, '.cache', 'latchkey');
    if (label === 'Node 24') {
      expect(statSync(cache).mode & 0o777).toBe(0o700);
      expect(readdirSync(join(cache, 'compile')).length).toBeGreaterThan(0);
    }

    // The access token and the backend session expire: `token` renews (refresh at the IdP; the
    // session through the IdP and the backend), then prints the renewed one again.
    await sleep(DUE_AFTER_MS);
    const renewed = { idp: '', app: '' };
    for (const [name, key] of [
      [idp, 'idp'],
      [app, 'app'],
    ] as const) {
      const once = (await latchkey(['token', '-p', name])).stdout.trim();
      expect(once).not.toBe(first[key]);
      expect((await latchkey(['token', '-p', name])).stdout.trim()).toBe(once);
      renewed[key] = once;
    }
    expect(stack.backend.sessions.has(renewed.app)).toBe(true);
    for (let i = 0; i < 2; i += 1) {
      const status = JSON.parse((await latchkey(['status', '--json'])).stdout) as { profiles: Array<{ name: string; loggedIn: boolean }> };
      expect(status.profiles.filter((p) => p.loggedIn).map((p) => p.name)).toEqual(expect.arrayContaining([idp, app]));
    }

    // Expired again: kubectl's exec plugin and git's credential helper renew on their own.
    await sleep(DUE_AFTER_MS);
    const credentials = [];
    for (let i = 0; i < 2; i += 1) {
      const exec = JSON.parse((await latchkey(['token', '-p', app, '--output', 'exec-credential'])).stdout) as {
        status: { token: string };
      };
      credentials.push(exec.status.token);
    }
    expect(credentials[0]).not.toBe(renewed.app);
    expect(credentials[1]).toBe(credentials[0]);
    await latchkey(['setup', 'git', '-p', app, '--host', stack.backend.url]);
    const backend = new URL(stack.backend.url);
    await sleep(DUE_AFTER_MS);
    const passwords = [];
    for (let i = 0; i < 2; i += 1) {
      // git itself asks the helper it was set up with (`latchkey` on PATH, as installed).
      const fill = await exec('git', ['credential', 'fill'], `protocol=http\nhost=${backend.host}\n\n`);
      expect(fill.code, fill.stderr).toBe(0);
      passwords.push(/^password=(.*)$/m.exec(fill.stdout)?.[1]);
    }
    expect(passwords[0]).toBeTruthy();
    expect(passwords[0]).not.toBe(credentials[0]);
    expect(passwords[1]).toBe(passwords[0]);
    expect(stack.backend.sessions.has(passwords[0]!)).toBe(true);

    // An upgrade: the installed bundles change under the cache. A stale cache is never an error.
    for (const bundle of ['latchkey.cjs', 'cli.cjs']) appendFileSync(join(installed, 'dist', 'bin', bundle), `\n// upgraded ${tag}\n`);
    await sleep(DUE_AFTER_MS);
    const upgraded = (await latchkey(['token', '-p', idp])).stdout.trim();
    expect(upgraded).not.toBe(renewed.idp);
    expect((await latchkey(['token', '-p', idp])).stdout.trim()).toBe(upgraded);
    for (let i = 0; i < 2; i += 1) await latchkey(['status']);
    for (let i = 0; i < 2; i += 1) await latchkey(['token', 'inspect', '-p', app]);
    for (let i = 0; i < 2; i += 1) await latchkey(['--help']);

    for (const name of [idp, app]) for (let i = 0; i < 2; i += 1) await latchkey(['logout', '-p', name]);
    const after = await exec('latchkey', ['token', '-p', app]);
    expect(after.code).toBe(3);
    // The config kept no secret on any day.
    const config = readFileSync(join(home, '.config', 'latchkey', 'config.json'), 'utf8');
    for (const secret of [first.app, renewed.app, renewed.idp, upgraded]) expect(config).not.toContain(secret);
  });
});
