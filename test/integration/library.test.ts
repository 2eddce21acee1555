import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { secretServiceReachable, secretTool } from '../helpers/secret-service.js';
import { startDevBackend } from '../../dev/backend.js';
import { startStack, USER_AGENT, type Stack } from '../helpers/stack.js';

const ROOT = resolve(import.meta.dirname, '../..');
const ACMECTL = join(ROOT, 'examples/acmectl/acmectl.js');
const KEYCHAIN = await secretServiceReachable();

describe('the public API', () => {
  it('a consumer using only `latchkey` and `latchkey/backend` type-checks (tsc -p test/types)', async () => {
    const result = await new Promise<{ code: number; output: string }>((done) =>
      execFile(
        process.execPath,
        [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'test/types')],
        { cwd: ROOT, timeout: 60_000 },
        (error, stdout, stderr) => done({ code: error ? 1 : 0, output: stdout + stderr }),
      ),
    );
    expect(result.output).toBe('');
    expect(result.code).toBe(0);
  }, 60_000);
});

describe('examples/acmectl: a product CLI on createCli', () => {
  let stack: Stack;
  let home: string;
  let env: Record<string, string>;
  const acmectl = (args: string[], extra: Record<string, string> = {}, input = '') =>
    runCli(args, { bin: ACMECTL, input, env: { ...env, ...extra } });

  beforeAll(async () => {
    stack = await startStack({ idp: { clientId: 'acmectl' } });
    home = mkdtempSync(join(tmpdir(), 'acmectl-home-'));
    env = {
      HOME: home,
      XDG_CONFIG_HOME: join(home, '.config'),
      ACME_ISSUER: stack.idp.issuer,
      ACME_API: stack.backend.url,
      BROWSER: `"${process.execPath}" "${USER_AGENT}"`,
      LATCHKEY_DEV_UA_LOG: join(home, 'ua.log'),
      // Must be ignored: acmectl reads ACMECTL_*, never latchkey's variables.
      LATCHKEY_TOKEN: 'latchkey-token-must-not-be-used',
      LATCHKEY_PROFILE: 'no-such-profile',
      LATCHKEY_CONFIG_DIR: join(home, 'latchkey-config-must-not-be-used'),
    };
  });
  afterAll(() => stack.close());

  it('is under 60 lines', () => {
    expect(readFileSync(ACMECTL, 'utf8').trimEnd().split('\n').length).toBeLessThan(60);
  });

  it('signs in to its built-in prod profile, and its own command calls the backend with the stored session', async () => {
    const help = await acmectl(['--help']);
    expect(help.stdout).toContain('Usage: acmectl');
    expect(help.stdout).toContain('ACMECTL_PROFILE');
    expect(help.stdout).toContain('whoami');
    expect(help.stdout).not.toMatch(/latchkey/i);

    const list = JSON.parse((await acmectl(['profile', 'list', '--json'])).stdout);
    expect(list.profiles.map((p: { name: string }) => p.name)).toEqual(['prod', 'stage']);

    const login = await acmectl(['login'], { ACMECTL_STORAGE: 'file' });
    expect(login.code, login.stderr).toBe(0);
    expect(login.stderr).toContain('Logged in to prod as ada@example.com');
    expect(login.stderr).not.toMatch(/latchkey/i);

    const whoami = await acmectl(['whoami']);
    expect(whoami.code, whoami.stderr).toBe(0);
    expect(whoami.stdout).toBe('ada@example.com\n');

    // Its own env prefix; latchkey's variables mean nothing to it.
    expect((await acmectl(['token'], { ACMECTL_TOKEN: 'from-acmectl-env' })).stdout).toBe('from-acmectl-env\n');
    expect((await acmectl(['token'])).stdout.trim()).not.toBe('latchkey-token-must-not-be-used');

    // Its own config dir and credentials service, and nothing under latchkey's name.
    const configDir = join(home, '.config', 'acmectl');
    expect(existsSync(join(configDir, 'config.json'))).toBe(true);
    expect(Object.keys(JSON.parse(readFileSync(join(configDir, 'credentials.json'), 'utf8')))).toEqual(['acmectl']);
    expect(readdirSync(join(home, '.config'))).toEqual(['acmectl']);
    expect(existsSync(env.LATCHKEY_CONFIG_DIR!)).toBe(false);

    const completion = await acmectl(['completion', 'bash']);
    expect(completion.stdout).toContain('complete -F _acmectl acmectl');
    expect(completion.stdout).not.toContain('latchkey');
  });

  it('a user-added profile starts from the product defaults', async () => {
    const added = await acmectl(['profile', 'add', 'mine', '--backend-url', stack.backend.url, '--json']);
    expect(added.code, added.stderr).toBe(0);
    expect(JSON.parse(added.stdout).profile).toMatchObject({ issuer: stack.idp.issuer, clientId: 'acmectl', prompt: 'consent' });
  });

  it("shows the brand's examples, hides what it hides, keeps its built-in default, and says its own way out of a refusal", async () => {
    const help = await acmectl(['--help']);
    expect(help.stdout).toContain('  $ acmectl whoami\n');
    expect(help.stdout).not.toContain('--issuer https://idp.example.com');
    expect(help.stdout).not.toMatch(/^\s+oauth\b/m);
    expect((await acmectl(['oauth', '--help'])).code).toBe(0);
    expect((await acmectl(['completion', 'bash'])).stdout).not.toMatch(/\boauth\b/);

    expect((await acmectl(['profile', 'add', 'other', '--backend-url', stack.backend.url])).code).toBe(0);
    const list = JSON.parse((await acmectl(['profile', 'list', '--json'])).stdout) as {
      profiles: Array<{ name: string; default: boolean }>;
    };
    expect(list.profiles.filter((p) => p.default).map((p) => p.name)).toEqual(['prod']);

    const refusing = await startDevBackend({ issuer: stack.idp.issuer, allowedClientIds: ['acmectl'], knownSubjects: [] });
    try {
      const login = await acmectl(['login', '-p', 'stage'], { ACMECTL_STORAGE: 'file', ACME_API: refusing.url });
      expect(login.code).toBe(4);
      expect(login.stderr).toContain('Create an API key at https://acme.example/settings/keys, then: acmectl login --with-token -p stage');
      expect(login.stderr).not.toContain('in the web app');
    } finally {
      await refusing.close();
    }
  });

  it.runIf(KEYCHAIN)('keeps its keychain entries under its own service name', async () => {
    const login = await acmectl(['login', '-p', 'stage'], { ACMECTL_STORAGE: 'keychain' });
    expect(login.code, login.stderr).toBe(0);
    expect(JSON.parse((await secretTool(['lookup', 'service', 'acmectl', 'username', 'stage'])).stdout).kind).toBe('session');
    expect((await secretTool(['lookup', 'service', 'latchkey', 'username', 'stage'])).stdout).toBe('');
    expect((await acmectl(['logout', '-p', 'stage'])).code).toBe(0);
  });
});
