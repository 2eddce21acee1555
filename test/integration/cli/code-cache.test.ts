import { spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, runCli } from '../../helpers/cli.js';

// Compiled code is code: whoever can write a cache file runs code as latchkey. bin/compile-cache.js
// keeps Node's compile cache (Node >= 22.1) only in a directory that is the user's alone, and
// Node 20 gets none (its V8 code cache broke import() from the second run on).
const builtInCache = 'enableCompileCache' in (await import('node:module'));
const JWT = 'eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlLmNvbSIsInN1YiI6InUifQ.c2ln';
const asRoot = process.getuid?.() === 0;

/** The CLI with Node's own trace of its compile cache: which files it read and wrote. */
function traced(args: string[], cacheHome: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { PATH: process.env.PATH ?? '', HOME: cacheHome, XDG_CACHE_HOME: cacheHome, NO_COLOR: '1', NODE_DEBUG_NATIVE: 'COMPILE_CACHE' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

/** A cache home whose latchkey dir holds a file planted where Node would look for the bundle's cache. */
function plantedCacheHome(): { cacheHome: string; dir: string } {
  const cacheHome = mkdtempSync(join(tmpdir(), 'latchkey-cache-'));
  const dir = join(cacheHome, 'latchkey');
  mkdirSync(join(dir, 'compile', 'planted'), { recursive: true, mode: 0o700 });
  writeFileSync(join(dir, 'compile', 'planted', 'entry'), Buffer.alloc(4096, 0xa5));
  return { cacheHome, dir };
}

describe('the compile cache of the bundles', () => {
  it.skipIf(!builtInCache)('Node >= 22.1: kept in the user cache dir (0700), read on the next run, output unchanged', async () => {
    const cacheHome = mkdtempSync(join(tmpdir(), 'latchkey-cache-'));
    const first = await runCli(['token', 'inspect', JWT], { env: { XDG_CACHE_HOME: cacheHome } });
    expect(first.code).toBe(0);
    const dir = join(cacheHome, 'latchkey', 'compile');
    expect(statSync(join(cacheHome, 'latchkey')).mode & 0o777).toBe(0o700);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(readdirSync(dir).length).toBeGreaterThan(0);
    const second = await traced(['token', 'inspect', JWT], cacheHome);
    expect(second.stderr).toMatch(/reading cache from .*latchkey\/compile.* for CommonJS .*latchkey\.cjs\.\.\..*success/);
    expect(second.stdout).toBe(first.stdout);
  });

  it('Node 20: no code cache at all, and old cache files are never read', async () => {
    const cacheHome = mkdtempSync(join(tmpdir(), 'latchkey-cache-'));
    const dir = join(cacheHome, 'latchkey');
    mkdirSync(dir, { mode: 0o700 });
    writeFileSync(join(dir, 'latchkey.cjs-0123abcd-v20.20.2-1-1-token.v8'), Buffer.alloc(4096, 0xa5), { mode: 0o600 });
    const debug = await runCli(['token', 'inspect', JWT, '--debug'], { env: { XDG_CACHE_HOME: cacheHome } });
    expect(debug.code).toBe(0);
    if (!builtInCache) {
      expect(debug.stderr).toContain('[debug] compile cache: off: this Node.js has no compile cache');
      expect(readdirSync(dir)).toEqual(['latchkey.cjs-0123abcd-v20.20.2-1-1-token.v8']);
    } else {
      // The first cache made there takes the old files along.
      expect(readdirSync(dir)).toEqual(['compile']);
    }
  });

  const unsafe: Array<[string, (dir: string) => void, RegExp]> = [
    ['writable by group and others', (dir) => chmodSync(dir, 0o777), /its mode is 777, not 700/],
    ['writable by its group', (dir) => chmodSync(dir, 0o770), /its mode is 770, not 700/],
    ['readable by others', (dir) => chmodSync(dir, 0o755), /its mode is 755, not 700/],
  ];
  if (asRoot) unsafe.push(['of another user', (dir) => chownSync(dir, 4242, 4242), /it belongs to user 4242, not to you/]);
  for (const [what, spoil, reason] of unsafe) {
    it(`a cache dir ${what} is not used: a file planted there is never read`, async () => {
      const { cacheHome, dir } = plantedCacheHome();
      spoil(dir);
      const debug = await runCli(['token', 'inspect', JWT, '--debug'], { env: { XDG_CACHE_HOME: cacheHome } });
      expect(debug.code).toBe(0);
      if (builtInCache) expect(debug.stderr).toMatch(new RegExp(`\\[debug\\] compile cache: off: ".*latchkey": ${reason.source}`));
      const run = await traced(['token', 'inspect', JWT], cacheHome);
      expect(run.code).toBe(0);
      expect(run.stdout).toBe(debug.stdout);
      expect(run.stderr).not.toContain(dir);
      expect(readdirSync(join(dir, 'compile'))).toEqual(['planted']);
    });
  }

  it('a symlinked cache dir, or one in a directory others may write, is not used', async () => {
    const { cacheHome: elsewhere, dir: target } = plantedCacheHome();
    const cacheHome = mkdtempSync(join(tmpdir(), 'latchkey-cache-'));
    symlinkSync(target, join(cacheHome, 'latchkey'));
    const linked = await runCli(['token', 'inspect', JWT, '--debug'], { env: { XDG_CACHE_HOME: cacheHome } });
    expect(linked.code).toBe(0);
    if (builtInCache) expect(linked.stderr).toMatch(/\[debug\] compile cache: off: ".*latchkey": it is a symbolic link/);
    expect((await traced(['token', 'inspect', JWT], cacheHome)).stderr).not.toContain(elsewhere);

    // A shared parent (not sticky): anyone could rename the user's dir away and put theirs there.
    const shared = mkdtempSync(join(tmpdir(), 'latchkey-cache-'));
    chmodSync(shared, 0o777);
    const inShared = await runCli(['token', 'inspect', JWT, '--debug'], { env: { XDG_CACHE_HOME: shared } });
    expect(inShared.code).toBe(0);
    if (builtInCache) {
      expect(inShared.stderr).toContain('the directory it is in is writable by others');
      expect(readdirSync(join(shared, 'latchkey'))).toEqual([]);
    }
    // The compile dir inside a good latchkey dir is checked too.
    const { cacheHome: inner, dir } = plantedCacheHome();
    chmodSync(join(dir, 'compile'), 0o777);
    const innerRun = await runCli(['token', 'inspect', JWT, '--debug'], { env: { XDG_CACHE_HOME: inner } });
    expect(innerRun.code).toBe(0);
    if (builtInCache) expect(innerRun.stderr).toMatch(/compile cache: off: ".*latchkey\/compile": its mode is 777/);
    expect(existsSync(join(dir, 'compile', 'planted', 'entry'))).toBe(true);
  });
});
