import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/cli.js';

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
      writeFileSync(join(dir, 'latchkey.cjs-v20.0.0-1-1-token.v8'), 'a stale build');
      const first = await runCli(['token', 'inspect', JWT], { env });
      expect(first.code).toBe(0);
      const files = readdirSync(dir).filter((f) => f.endsWith('.v8'));
      expect(files).toHaveLength(1); // the stale one of another build is gone
      expect(files[0]).toMatch(/-inspect\.v8$/);
      expect(statSync(dir).mode & 0o777).toBe(0o700);
      const file = join(dir, files[0]!);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(files[0]).toContain(process.version);

      expect(await runCli(['token', 'inspect', JWT], { env })).toEqual(first);

      // Another kind of command keeps a cache of its own path, beside this one.
      expect((await runCli(['--help'], { env })).code).toBe(0);
      expect(readdirSync(dir).sort()).toEqual([files[0]!, files[0]!.replace(/-inspect\.v8$/, '-other.v8')].sort());

      writeFileSync(file, Buffer.alloc(4096, 0xa5));
      expect(await runCli(['token', 'inspect', JWT], { env })).toEqual(first);
      expect(readFileSync(file).equals(Buffer.alloc(4096, 0xa5))).toBe(false);
    },
  );

  it.skipIf(!builtInCache)('Node >= 22.1: Node keeps the cache itself, nothing is written to the user cache dir', async () => {
    const cacheHome = mkdtempSync(join(tmpdir(), 'latchkey-cache-'));
    expect((await runCli(['token', 'inspect', JWT], { env: { XDG_CACHE_HOME: cacheHome } })).code).toBe(0);
    expect(readdirSync(cacheHome)).toEqual([]);
  });
});
