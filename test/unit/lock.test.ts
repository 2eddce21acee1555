import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { withLock } from '../../src/store/lock.js';

const tempDir = () => mkdtempSync(join(tmpdir(), 'latchkey-lock-'));

describe('withLock', () => {
  it('runs critical sections one at a time, so no update is lost', async () => {
    const lock = join(tempDir(), 'x.lock');
    let counter = 0;
    let inside = 0;
    let maxInside = 0;
    await Promise.all(
      Array.from({ length: 20 }, () =>
        withLock(lock, async () => {
          inside += 1;
          maxInside = Math.max(maxInside, inside);
          const read = counter;
          await new Promise((resolve) => setTimeout(resolve, 2));
          counter = read + 1;
          inside -= 1;
        }),
      ),
    );
    expect(counter).toBe(20);
    expect(maxInside).toBe(1);
    expect(existsSync(lock)).toBe(false);
  });

  it('takes over a lock left by a process that died', async () => {
    const lock = join(tempDir(), 'x.lock');
    const child = spawn(process.execPath, ['-e', '']);
    const deadPid = await new Promise<number>((resolve) => child.on('exit', () => resolve(child.pid!)));
    writeFileSync(lock, String(deadPid));
    await expect(withLock(lock, () => 'done', { timeoutMs: 2000 })).resolves.toBe('done');
  });

  it('takes over an empty lock left by a process killed as it created it (older than 5 s)', async () => {
    const lock = join(tempDir(), 'x.lock');
    writeFileSync(lock, '');
    const old = new Date(Date.now() - 10_000);
    utimesSync(lock, old, old);
    await expect(withLock(lock, () => 'done', { timeoutMs: 2000 })).resolves.toBe('done');
  });

  it('waits for a live owner and gives up with a message naming the lock', async () => {
    const lock = join(tempDir(), 'x.lock');
    writeFileSync(lock, String(process.ppid));
    await expect(withLock(lock, () => 'never', { timeoutMs: 200 })).rejects.toThrow(/timed out waiting for the lock .*x\.lock/);
    expect(existsSync(lock)).toBe(true);
  });

  it('releases the lock when the section throws', async () => {
    const lock = join(tempDir(), 'x.lock');
    await expect(withLock(lock, () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(existsSync(lock)).toBe(false);
  });
});
