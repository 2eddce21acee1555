import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempConfigDir } from '../../helpers/cli.js';
import { createTestRoot } from '../../helpers/root.js';

// In process, through the composition root (no process spawned per command).
const { run: runCli } = createTestRoot();

const ISSUER = 'https://idp.example.com';

describe('latchkey --help', () => {
  it('lists every command of the design and the exit codes', async () => {
    const { code, stdout } = await runCli(['--help']);
    expect(code).toBe(0);
    for (const command of ['login', 'oauth', 'logout', 'status', 'token', 'profile', 'completion'])
      expect(stdout).toContain(`  ${command}`);
    expect(stdout).toContain('Exit codes:');
    expect(stdout).toMatch(/130\s+interrupted/);
  });

  it('prints the version', async () => {
    const { code, stdout } = await runCli(['--version']);
    expect(code).toBe(0);
    expect(stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('answers an unknown command with exit 2 and one line, no stack trace', async () => {
    const { code, stderr } = await runCli(['logn']);
    expect(code).toBe(2);
    expect(stderr).toContain("unknown command 'logn'");
    expect(stderr).not.toMatch(/\n\s+at /);
  });
});

describe('profile round trip', () => {
  it('adds, shows, lists, sets, uses and removes profiles; the first added is the default', async () => {
    const configDir = tempConfigDir();
    expect(
      (
        await runCli(
          [
            'profile',
            'add',
            'prod',
            '--issuer',
            ISSUER,
            '--client-id',
            'cli',
            '--backend-url',
            'https://api.example.com',
            '--audience-priority',
            'a,b',
          ],
          { configDir },
        )
      ).code,
    ).toBe(0);
    expect(
      (
        await runCli(
          [
            'profile',
            'add',
            'stage',
            '--issuer',
            'http://127.0.0.1:9000',
            '--client-id',
            'cli2',
            '--redirect-uri',
            'http://localhost:8085/cb',
            '--redirect-ports',
            '8086,8087',
          ],
          { configDir },
        )
      ).code,
    ).toBe(0);

    const show = await runCli(['profile', 'show', 'prod', '--json'], { configDir });
    expect(show.code).toBe(0);
    expect(JSON.parse(show.stdout)).toEqual({
      name: 'prod',
      default: true,
      profile: { issuer: ISSUER, clientId: 'cli', backendUrl: 'https://api.example.com', audiencePriority: ['a', 'b'] },
    });
    const stage = JSON.parse((await runCli(['profile', 'show', 'stage', '--json'], { configDir })).stdout);
    expect(stage.profile).toMatchObject({ redirectUri: 'http://localhost:8085/cb', redirectPorts: [8086, 8087] });

    expect((await runCli(['profile', 'set', 'stage', 'exchange-encoding', 'json'], { configDir })).code).toBe(0);
    expect((await runCli(['profile', 'use', 'stage'], { configDir })).code).toBe(0);
    const list = JSON.parse((await runCli(['profile', 'list', '--json'], { configDir })).stdout);
    expect(list.profiles.map((p: { name: string; default: boolean }) => [p.name, p.default])).toEqual([
      ['prod', false],
      ['stage', true],
    ]);
    expect(JSON.parse((await runCli(['profile', 'show', '--json'], { configDir })).stdout).profile.exchangeEncoding).toBe('json');

    expect((await runCli(['profile', 'remove', 'stage'], { configDir })).code).toBe(0);
    const after = JSON.parse((await runCli(['profile', 'list', '--json'], { configDir })).stdout);
    expect(after.profiles).toEqual([{ name: 'prod', default: true, issuer: ISSUER, clientId: 'cli' }]);
  });

  it.each([
    [['--issuer', 'not a url', '--client-id', 'c'], 'is not a URL'],
    [['--issuer', 'http://idp.example.com', '--client-id', 'c'], 'http is only allowed on loopback hosts'],
    [['--issuer', ISSUER], '--client-id is required'],
    [['--issuer', ISSUER, '--client-id', 'c', '--storage', 'cloud'], 'storage must be one of auto, keychain, file'],
    [['--issuer', ISSUER, '--client-id', 'c', '--redirect-uri', 'http://10.0.0.1:80/cb'], 'loopback host'],
    [['--issuer', ISSUER, '--client-id', 'c', '--redirect-ports', '80,99999'], 'is not a port number'],
    [['--issuer', ISSUER, '--client-id', 'c', '--backend-url', 'http://api.example.com'], 'backend URL must use https'],
  ])('refuses profile add %j with exit 2 and writes nothing', async (flags, message) => {
    const configDir = tempConfigDir();
    const { code, stderr } = await runCli(['profile', 'add', 'x', ...flags], { configDir });
    expect(code).toBe(2);
    expect(stderr).toContain(message);
    expect(stderr.trim().split('\n').length).toBeLessThanOrEqual(3);
    const list = JSON.parse((await runCli(['profile', 'list', '--json'], { configDir })).stdout);
    expect(list.profiles).toEqual([]);
  });

  it('refuses an unknown key in profile set', async () => {
    const configDir = tempConfigDir();
    await runCli(['profile', 'add', 'p', '--issuer', ISSUER, '--client-id', 'c'], { configDir });
    const before = readFileSync(join(configDir, 'config.json'), 'utf8');
    const { code, stderr } = await runCli(['profile', 'set', 'p', 'colour', 'blue'], { configDir });
    expect(code).toBe(2);
    expect(stderr).toContain('unknown key "colour"');
    expect(readFileSync(join(configDir, 'config.json'), 'utf8')).toBe(before);
  });

  it('names that are Object.prototype members are names like any other, never inherited lookups', async () => {
    const configDir = tempConfigDir();
    const run = (args: string[], input?: string) =>
      runCli(args, { configDir, env: { LATCHKEY_STORAGE: 'file' }, ...(input !== undefined ? { input } : {}) });
    // Not there yet: each is "does not exist" (exit 2), nothing logged in, nothing stored.
    for (const name of ['toString', 'constructor', 'hasOwnProperty', 'valueOf']) {
      const token = await run(['token', '-p', name]);
      expect(token.code, name).toBe(2);
      expect(token.stderr).toContain(`profile "${name}" does not exist`);
      const login = await run(['login', '--with-token', '-p', name], 'abc');
      expect(login.code, name).toBe(2);
      expect((await run(['profile', 'use', name])).code).toBe(2);
    }
    const added = await run(['profile', 'add', 'constructor', '--issuer', ISSUER, '--client-id', 'cli']);
    expect(added.code, added.stderr).toBe(0);
    expect((await run(['login', '--with-token', '-p', 'constructor'], 'secret-constructor')).code).toBe(0);
    expect((await run(['token', '-p', 'constructor'])).stdout).toBe('secret-constructor\n');
    // The credentials file holds a "constructor" account; "toString" still finds nothing there.
    expect((await run(['profile', 'add', 'toString', '--issuer', ISSUER, '--client-id', 'cli'])).code).toBe(0);
    const none = await run(['token', '-p', 'toString']);
    expect(none.code).toBe(3);
    expect(none.stderr).toContain('profile "toString" is not logged in');
    expect(
      JSON.parse((await run(['status', '--json'])).stdout).profiles.map((p: { name: string; loggedIn: boolean }) => [p.name, p.loggedIn]),
    ).toEqual([
      ['constructor', true],
      ['toString', false],
    ]);
  });

  it('ten parallel profile add all land (no lost update)', async () => {
    const configDir = tempConfigDir();
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => runCli(['profile', 'add', `p${i}`, '--issuer', ISSUER, '--client-id', `c${i}`], { configDir })),
    );
    expect(results.map((r) => r.code)).toEqual(Array(10).fill(0));
    const list = JSON.parse((await runCli(['profile', 'list', '--json'], { configDir })).stdout);
    expect(list.profiles.map((p: { name: string }) => p.name).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `p${i}`).sort());
    expect(list.profiles.filter((p: { default: boolean }) => p.default)).toHaveLength(1);
  });
});

describe('a corrupt config file', () => {
  it.each([
    ['not JSON', '{"profiles": {"prod": '],
    ['a profile with a bad issuer', JSON.stringify({ profiles: { prod: { issuer: 'http://evil.example.com', clientId: 'x' } } })],
    ['an unknown top-level key', JSON.stringify({ profiles: {}, tokens: 'x' })],
  ])('(%s) is exit 2 naming the file, and never rewritten', async (_what, content) => {
    const configDir = tempConfigDir();
    await runCli(['profile', 'add', 'prod', '--issuer', ISSUER, '--client-id', 'c'], { configDir });
    const file = join(configDir, 'config.json');
    writeFileSync(file, content);
    for (const args of [
      ['status'],
      ['profile', 'add', 'other', '--issuer', ISSUER, '--client-id', 'c'],
      ['profile', 'set', 'prod', 'scopes', 'openid'],
      ['login', '--with-token'],
      ['token'],
    ]) {
      const { code, stderr } = await runCli(args, { configDir, input: 'tok\n' });
      expect(code, args.join(' ')).toBe(2);
      expect(stderr).toContain(file);
      expect(stderr).toMatch(/left untouched/);
      expect(stderr).not.toMatch(/\n\s+at /);
      expect(readFileSync(file, 'utf8')).toBe(content);
    }
  });
});
