import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadKeyringBinding } from '../../src/store/keychain-helper.js';
import { runCli, tempConfigDir } from '../helpers/cli.js';
import { secretServiceReachable } from '../helpers/secret-service.js';

// The keychain binding is loaded without its package's loader where that is safe (Linux, glibc):
// the same native module, one file less to compile on every keychain read.
const ROOT = resolve(import.meta.dirname, '../..');
const glibcLinux = process.platform === 'linux' && (process.arch === 'x64' || process.arch === 'arm64');
const realService = await secretServiceReachable();

function node(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) =>
    execFile(process.execPath, args, { cwd }, (error, stdout, stderr) =>
      done({ code: typeof error?.code === 'number' ? error.code : 0, stdout, stderr }),
    ),
  );
}

describe('the keychain binding', () => {
  it('is the very module the package loader gives (the same copy, not another)', () => {
    const viaLoader = createRequire(import.meta.url)('@napi-rs/keyring') as typeof import('@napi-rs/keyring');
    const direct = loadKeyringBinding();
    expect(direct.AsyncEntry).toBe(viaLoader.AsyncEntry);
    expect(direct.findCredentialsAsync).toBe(viaLoader.findCredentialsAsync);
  });

  it.skipIf(!glibcLinux)('on Linux with glibc, loads without running the package loader', async () => {
    const script =
      `import { loadKeyringBinding } from './dist/store/keychain-helper.js';` +
      `import { createRequire } from 'node:module';` +
      `const binding = loadKeyringBinding();` +
      `const loaded = Object.keys(createRequire(import.meta.url).cache);` +
      `console.log(JSON.stringify({ entry: typeof binding.AsyncEntry, loader: loaded.some((f) => f.endsWith('/@napi-rs/keyring/index.js')) }));`;
    const result = await node(['--input-type=module', '-e', script], ROOT);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ entry: 'function', loader: false });
  });

  it('an install without the native package: the keychain fails with exit 6, saying it could not be loaded', async () => {
    // A copy of the install whose node_modules has the loader package but no platform package.
    const install = mkdtempSync(join(tmpdir(), 'latchkey-nobinding-'));
    cpSync(join(ROOT, 'bin'), join(install, 'bin'), { recursive: true });
    mkdirSync(join(install, 'dist'));
    cpSync(join(ROOT, 'dist/bin'), join(install, 'dist/bin'), { recursive: true });
    const modules = join(install, 'node_modules');
    mkdirSync(join(modules, '@napi-rs'), { recursive: true });
    for (const name of readdirSync(join(ROOT, 'node_modules')))
      if (name !== '@napi-rs') symlinkSync(join(ROOT, 'node_modules', name), join(modules, name));
    cpSync(join(ROOT, 'node_modules/@napi-rs/keyring'), join(modules, '@napi-rs/keyring'), { recursive: true });

    const configDir = tempConfigDir();
    const env = { LATCHKEY_CONFIG_DIR: configDir };
    const bin = join(install, 'bin/latchkey.js');
    const add = await runCli(
      ['profile', 'add', 'kc', '--issuer', 'https://idp.example.com', '--client-id', 'cli', '--storage', 'keychain'],
      { env },
    );
    expect(add.code).toBe(0);
    const login = await runCli(['login', '--with-token', '-p', 'kc'], { env, input: 'kc-key', bin });
    expect(login.code).toBe(6);
    if (realService) expect(login.stderr).toMatch(/^latchkey: the OS keychain \(.*\) could not be loaded: /m);
    expect(login.stderr).not.toMatch(/\n\s+at /); // no stack trace
    // Nothing was stored, and the same command through the whole install works.
    expect((await runCli(['token', '-p', 'kc'], { env })).code).toBe(3);
  });
});
