import { createHash } from 'node:crypto';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { TimeoutError } from '../errors.js';
import { withLock } from './lock.js';
import { ensurePrivateDir } from './profiles.js';

/**
 * Where the lock of an interactive login lives: one per user and per credential, as the keychain
 * names it (service and account), so that every command about to open a browser for the same
 * credential shares it, whichever config directory it was started with. The user's own runtime
 * directory ($XDG_RUNTIME_DIR, 0700), else their cache directory: never a shared /tmp, where
 * another user could hold the lock.
 */
export function loginLockPath(service: string, account: string, env: NodeJS.ProcessEnv = process.env): string {
  const runtime = env.XDG_RUNTIME_DIR && isAbsolute(env.XDG_RUNTIME_DIR) ? env.XDG_RUNTIME_DIR : undefined;
  const cache = env.XDG_CACHE_HOME && isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : join(homedir(), '.cache');
  const dir = runtime ? join(runtime, 'latchkey', 'logins') : join(cache, 'latchkey', 'logins');
  const name = createHash('sha256').update(`${service}\u0000${account}`).digest('hex').slice(0, 32);
  return join(dir, `${name}.lock`);
}

/**
 * Run one interactive login for a credential at a time: the first caller signs in, the others
 * wait (saying so, each with its own timeout) and then find what it stored. `fn` runs under the
 * lock; `waited` says whether this caller had to wait (so the caller checks for a fresh credential).
 */
export async function withLoginLock<T>(
  path: string,
  timeoutMs: number,
  fn: (waited: boolean) => Promise<T>,
  onWait: (holder: number | undefined) => void,
): Promise<T> {
  ensurePrivateDir(join(path, '..'));
  let waited = false;
  try {
    return await withLock(path, () => fn(waited), {
      timeoutMs,
      // A login may take minutes; a holder whose pid is gone is taken over at once all the same.
      staleMs: timeoutMs + 60_000,
      onWait: (holder) => {
        waited = true;
        onWait(holder);
      },
    });
  } catch (error) {
    if ((error as { code?: string }).code === 'lock_timeout')
      throw new TimeoutError(
        `the login in progress for this credential did not finish within ${Math.round(timeoutMs / 1000)} s; nothing was stored`,
        {
          hint: 'Finish the sign-in in the browser the other command opened, or stop it, then try again (--timeout <seconds> to wait longer).',
          code: 'timeout',
        },
      );
    throw error;
  }
}
