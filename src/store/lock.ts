import { FailureError } from '../errors.js';

export interface LockOptions {
  /** Give up after this long (ms). */
  timeoutMs?: number;
  /** A lock older than this whose owner cannot be checked is taken over (ms). */
  staleMs?: number;
  /** Told once, with the holder's pid (when readable), when the lock is found held and the wait begins. */
  onWait?: (holder: number | undefined) => void;
}

/**
 * Run `fn` while holding an exclusive lock file: the owner's pid written to a private file,
 * then hard-linked into place (`link()` fails when the lock exists).
 *
 * Used for every read-modify-write of the config and the credentials file, so two processes
 * (two `profile add`, two `token` refreshes) never lose each other's update. A lock left by a
 * process that died (`kill -9`) is detected by its pid and taken over.
 */
export async function withLock<T>(lockPath: string, fn: () => Promise<T> | T, options: LockOptions = {}): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const staleMs = options.staleMs ?? 120_000;
  const deadline = Date.now() + timeoutMs;
  const { link, rm, writeFile } = await import('node:fs/promises');
  let delay = 5;
  let told = false;
  for (;;) {
    try {
      // The lock appears with the owner's pid already in it (written to a private file, then
      // hard-linked into place), so a process killed at any moment never leaves an empty lock
      // that nobody can judge.
      const mine = `${lockPath}.${process.pid}.${Math.random().toString(36).slice(2)}`;
      await writeFile(mine, String(process.pid), { mode: 0o600 });
      try {
        await link(mine, lockPath);
      } finally {
        await rm(mine, { force: true });
      }
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      if (await isStale(lockPath, staleMs)) {
        await rm(lockPath, { force: true });
        continue;
      }
      if (!told && options.onWait) {
        told = true;
        const { readFile } = await import('node:fs/promises');
        const holder = Number.parseInt(await readFile(lockPath, 'utf8').catch(() => ''), 10);
        options.onWait(Number.isInteger(holder) && holder > 0 ? holder : undefined);
      }
      if (Date.now() > deadline) {
        throw new FailureError(
          `timed out waiting for the lock ${lockPath}: another process has held it for more than ${Math.round(timeoutMs / 1000)} s`,
          {
            hint: 'If no other command of this CLI is running, delete the lock file and try again.',
            code: 'lock_timeout',
          },
        );
      }
      await new Promise((resolve) => setTimeout(resolve, delay + Math.random() * delay));
      delay = Math.min(delay * 2, 100);
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lockPath, { force: true });
  }
}

async function isStale(lockPath: string, staleMs: number): Promise<boolean> {
  const { readFile, stat } = await import('node:fs/promises');
  let pid: number;
  try {
    pid = Number.parseInt(await readFile(lockPath, 'utf8'), 10);
  } catch {
    return false; // vanished or being written: try again
  }
  if (Number.isInteger(pid) && pid > 0) {
    if (pid === process.pid) return false;
    try {
      process.kill(pid, 0);
      return false; // the owner is alive
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ESRCH') return true;
    }
  }
  try {
    // No pid to check (a lock from before locks carried one from birth): judged by age; an
    // empty one is only ever left by a process killed as it created it.
    const age = Date.now() - (await stat(lockPath)).mtimeMs;
    return age > (Number.isInteger(pid) ? staleMs : Math.min(staleMs, 5000));
  } catch {
    return false;
  }
}
