import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/cli.js';

const ROOT = resolve(import.meta.dirname, '../../..');
const BUNDLE = join(ROOT, 'dist/bin/latchkey.cjs');
const { installPrefix } = createRequire(import.meta.url)('../../../bin/code-cache.js') as { installPrefix: (file: string) => string };

// Node 20 has no module.enableCompileCache: bin/code-cache.js keeps V8's code cache for the
// entry bundle in the user's cache dir. It must never change what the CLI does, whatever it finds.
const builtInCache = 'enableCompileCache' in (await import('node:module'));
const JWT = 'eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlLmNvbSIsInN1YiI6InUifQ.c2ln';

describe('the code cache of the entry bundle', () => {
  it.skipIf(builtInCache)(
    'Node 20: written on the first run (0600 in a 0700 dir), used after, and a corrupt one changes nothing',
    async () => {
      const cacheHome = mkdtempSync(join(tmpdir(), 'latchkey-cache-'));
      const env = { XDG_CACHE_HOME: cacheHome };
      const dir = join(cacheHome, 'latchkey');
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      writeFileSync(join(dir, `${installPrefix(BUNDLE)}v20.0.0-1-1-token.v8`), 'a stale build of this install');
      writeFileSync(join(dir, 'latchkey.cjs-v20.0.0-1-1-token.v8'), 'named before installs were');
      const first = await runCli(['token', 'inspect', JWT], { env });
      expect(first.code).toBe(0);
      const files = readdirSync(dir).filter((f) => f.endsWith('.v8'));
      expect(files).toHaveLength(1); // the stale build, and the file named before installs were, are gone
      expect(files[0]).toMatch(/-inspect\.v8$/);
      expect(files[0]!.startsWith(installPrefix(BUNDLE))).toBe(true);
      expect(statSync(dir).mode & 0o777).toBe(0o700);
      const file = join(dir, files[0]!);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(files[0]).toContain(process.version);

      expect(await runCli(['token', 'inspect', JWT], { env })).toEqual(first);

      // Another kind of command keeps a cache of its own path, beside this one.
      expect((await runCli(['--help'], { env })).code).toBe(0);
      expect(
        readdirSync(dir)
          .filter((f) => f.endsWith('.v8'))
          .sort(),
      ).toEqual([files[0]!, files[0]!.replace(/-inspect\.v8$/, '-other.v8')].sort());
      // The install's record (which bundle its caches are for) is the user's alone too.
      const record = join(dir, `${installPrefix(BUNDLE)}install`);
      expect(readFileSync(record, 'utf8')).toBe(BUNDLE);
      expect(statSync(record).mode & 0o777).toBe(0o600);

      writeFileSync(file, Buffer.alloc(4096, 0xa5));
      expect(await runCli(['token', 'inspect', JWT], { env })).toEqual(first);
      expect(readFileSync(file).equals(Buffer.alloc(4096, 0xa5))).toBe(false);
    },
  );

  it.skipIf(builtInCache)('Node 20: two installs run in turn keep a cache each, until one of them is gone', async () => {
    // A second install: the shim and the bundle copied elsewhere (a global one beside a project's).
    const other = mkdtempSync(join(tmpdir(), 'latchkey-install-'));
    cpSync(join(ROOT, 'bin'), join(other, 'bin'), { recursive: true });
    mkdirSync(join(other, 'dist'));
    cpSync(join(ROOT, 'dist/bin'), join(other, 'dist/bin'), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules'), join(other, 'node_modules'));
    const cacheHome = mkdtempSync(join(tmpdir(), 'latchkey-cache-'));
    const dir = join(cacheHome, 'latchkey');
    const runOther = () =>
      new Promise<number | null>((done) =>
        spawn(process.execPath, [join(other, 'bin/latchkey.js'), 'token', 'inspect', JWT], {
          env: { ...process.env, XDG_CACHE_HOME: cacheHome },
          stdio: 'ignore',
        }).on('close', done),
      );
    const env = { XDG_CACHE_HOME: cacheHome };
    expect((await runCli(['token', 'inspect', JWT], { env })).code).toBe(0);
    expect(await runOther()).toBe(0);
    const files = readdirSync(dir).sort();
    const caches = files.filter((f) => f.endsWith('.v8'));
    expect(caches).toHaveLength(2);
    const written = files.map((f) => statSync(join(dir, f)).mtimeMs);
    // Run in turn again: each reads its own cache and writes nothing.
    expect((await runCli(['token', 'inspect', JWT], { env })).code).toBe(0);
    expect(await runOther()).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(files);
    expect(files.map((f) => statSync(join(dir, f)).mtimeMs)).toEqual(written);

    // The other install is deleted: the next cache this one writes takes the other's files along.
    rmSync(other, { recursive: true, force: true });
    expect((await runCli(['--help'], { env })).code).toBe(0);
    const left = readdirSync(dir);
    expect(left.length).toBeGreaterThan(0);
    expect(left.every((f) => f.startsWith(installPrefix(BUNDLE)))).toBe(true);
    expect(left.filter((f) => f.endsWith('.v8')).sort()).toEqual(
      [
        ...caches.filter((f) => f.startsWith(installPrefix(BUNDLE))),
        `${caches.find((f) => f.startsWith(installPrefix(BUNDLE)))!.replace(/-inspect\.v8$/, '-other.v8')}`,
      ].sort(),
    );
  });

  it.skipIf(!builtInCache)('Node >= 22.1: Node keeps the cache itself, nothing is written to the user cache dir', async () => {
    const cacheHome = mkdtempSync(join(tmpdir(), 'latchkey-cache-'));
    expect((await runCli(['token', 'inspect', JWT], { env: { XDG_CACHE_HOME: cacheHome } })).code).toBe(0);
    expect(readdirSync(cacheHome)).toEqual([]);
  });
});
