import { chmodSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { SignJWT, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import { hotCommand } from '../../../src/cli/hot.js';
import { runCli, tempConfigDir } from '../../helpers/cli.js';
import { createTestRoot } from '../../helpers/root.js';

// `token`, `status` and `token inspect` in their plainest forms run without the command tree
// (src/cli/hot.ts). Whatever a user types, the answer must be the full CLI's, byte for byte.
const ISSUER = 'https://idp.example.com';
const { privateKey } = await generateKeyPair('RS256');
const jwt = (claims: Record<string, unknown>) =>
  new SignJWT({ iss: ISSUER, aud: 'cli', sub: 'ada', ...claims }).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).sign(privateKey);

async function setUp() {
  const root = createTestRoot({ env: { LATCHKEY_STORAGE: 'file' } });
  const configDir = tempConfigDir();
  const now = Math.floor(root.clock.now().getTime() / 1000);
  for (const [name, token] of [
    ['live', await jwt({ exp: now + 3600 })],
    ['soon', await jwt({ exp: now + 30 })],
  ] as const) {
    expect((await root.run(['profile', 'add', name, '--issuer', ISSUER, '--client-id', 'cli'], { configDir })).code).toBe(0);
    expect((await root.run(['login', '--with-token', '-p', name], { configDir, input: token })).code).toBe(0);
  }
  expect((await root.run(['profile', 'add', 'never', '--issuer', ISSUER, '--client-id', 'cli'], { configDir })).code).toBe(0);
  return { root, configDir, token: await jwt({ exp: now + 3600 }) };
}

describe('the hot path', () => {
  it('answers as the full CLI does: output, messages and exit code', async () => {
    const { root, configDir, token } = await setUp();
    const cases: Array<[string[], Record<string, string>?]> = [
      [['token']],
      [['token', '-p', 'live']],
      [['token', '--profile=soon']],
      [['-p', 'never', 'token']],
      [['token', '-p', 'nope']],
      [['token', '--json']],
      [['token'], { LATCHKEY_TOKEN: 'from-env' }],
      [['token'], { LATCHKEY_PROFILE: 'never' }],
      [['status']],
      [['status', '--json']],
      [['status', '-p', 'soon']],
      [['status', '--no-color', '-p', 'never']],
      [['--json', 'status'], { LATCHKEY_TOKEN: 'from-env' }],
      [['token', 'inspect', token]],
      [['token', 'inspect', '--json', token]],
      [['token', 'inspect', 'not-a-jwt']],
      [['token', 'inspect']],
      [['token', 'inspect', '-p', 'live']],
      [['status', '--config-dir', `${configDir}-elsewhere`]],
    ];
    for (const [args, env] of cases) {
      expect(hotCommand(args), args.join(' ')).toBeDefined();
      const full = await root.run(args, { configDir, env });
      const hot = await root.runEntry(args, { configDir, env });
      expect(hot, args.join(' ')).toEqual(full);
    }
    // The same world seen both ways includes failures: not logged in, an unknown profile.
    expect((await root.runEntry(['token', '-p', 'never'], { configDir })).code).toBe(3);
    expect((await root.runEntry(['token', '-p', 'nope'], { configDir })).code).toBe(2);
  });

  it('leaves every other form to the full CLI', () => {
    for (const args of [
      [],
      ['--help'],
      ['token', '--help'],
      ['token', '--refresh'],
      ['token', '--debug'],
      ['token', '-p'],
      ['token', '-p', '--json'],
      ['token', '-pfoo'],
      ['-p', 'a', '-p', 'b', 'token'],
      ['token', '--json=1'],
      ['token', 'extra'],
      ['token', 'inspect', '--verify', 'x'],
      ['token', 'inspect', 'a', 'b'],
      ['status', '--', 'x'],
      ['login'],
      ['Token'],
    ])
      expect(hotCommand(args), args.join(' ')).toBeUndefined();
  });

  it('as a process: a world-writable config dir is still warned about, and the token still printed', async () => {
    const { configDir } = await setUp();
    chmodSync(configDir, 0o777);
    const result = await runCli(['token', '-p', 'live'], { configDir, env: { LATCHKEY_STORAGE: 'file' } });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^ey/);
    expect(result.stderr).toMatch(/writable/);
  });

  it('--help off a terminal is the text commander prints, written at build time (and -h too)', async () => {
    const commander = await createTestRoot().run(['--help']);
    expect(commander.stdout).toContain('Usage: latchkey');
    for (const flag of ['--help', '-h']) {
      const spawned = await runCli([flag]);
      expect(spawned.code).toBe(0);
      expect(spawned.stdout).toBe(commander.stdout);
    }
  });

  it('the entry bundle holds no commander (a value import of it on the hot path would load the whole tree)', () => {
    const entry = readFileSync(resolve(import.meta.dirname, '../../../dist/bin/latchkey.cjs'), 'utf8');
    expect(entry).not.toContain('node_modules/commander/');
    expect(readFileSync(resolve(import.meta.dirname, '../../../dist/bin/cli.cjs'), 'utf8')).toContain('node_modules/commander/');
  });
});
