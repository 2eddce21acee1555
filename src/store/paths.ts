import { homedir } from 'node:os';
import { mkdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ConfigError } from '../errors.js';

/**
 * The platform's config directory for `name`: `$XDG_CONFIG_HOME/name` or `~/.config/name` on
 * Linux and other Unixes, `~/Library/Application Support/name` on macOS, `%APPDATA%\name` on
 * Windows.
 */
export function platformConfigDir(name: string, env: NodeJS.ProcessEnv = process.env, platform = process.platform): string {
  if (platform === 'win32') return join(env.APPDATA ?? join(homedir(), 'AppData', 'Roaming'), name);
  if (platform === 'darwin') return join(homedir(), 'Library', 'Application Support', name);
  return join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), name);
}

const FS_REASONS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  ENOSPC: 'the disk is full',
  EDQUOT: 'the disk quota is used up',
  EROFS: 'the file system is read-only',
  ENOTDIR: 'a file is where a directory should be',
  EEXIST: 'a file is where a directory should be',
  EISDIR: 'a directory is where a file should be',
  ENOENT: 'it cannot be created there',
};

/**
 * Create `dir` and its missing parents, each with `mode`, one `mkdir` per level. Not
 * `mkdirSync(recursive)`: Node's loops forever where mkdir answers ENOENT under a directory that
 * exists (/proc, some FUSE mounts), which turned `LATCHKEY_CONFIG_DIR=/proc/x` into a hang at
 * 100% CPU. Here such a directory is an ENOENT error, said once.
 */
export function makeDirs(dir: string, mode: number): void {
  const missing: string[] = [];
  for (let path = resolve(dir); ; path = dirname(path)) {
    try {
      statSync(path);
      break; // there (a file in the way is mkdir's ENOTDIR or EEXIST below)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    missing.push(path);
    if (dirname(path) === path) break;
  }
  for (const path of missing.reverse()) {
    try {
      mkdirSync(path, { mode });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
}

/**
 * A file system failure we can foresee, in the config dir, as one line that names the place and
 * what to do (exit 2), instead of "unexpected error: EACCES". Undefined for anything else.
 */
export function configDirError(error: unknown, dir: string, action: 'read' | 'write'): ConfigError | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const reason = code === undefined ? undefined : FS_REASONS[code];
  if (reason === undefined) return undefined;
  // ENOTDIR names the path asked for; the culprit is the file somewhere above it.
  const where = code === 'ENOTDIR' ? (fileAbove(dir) ?? dir) : ((error as NodeJS.ErrnoException).path ?? dir);
  const fix =
    code === 'ENOSPC' || code === 'EDQUOT'
      ? 'Free some space and run it again; nothing was changed.'
      : code === 'ENOTDIR' || code === 'EEXIST' || code === 'EISDIR'
        ? `Move ${where} aside, or use another config dir: --config-dir <dir>.`
        : code === 'EROFS' || code === 'ENOENT'
          ? 'Use a config dir on a writable file system: --config-dir <dir>.'
          : `Make ${dir} yours and writable (chmod u+rwx ${dir}), or use another config dir: --config-dir <dir>.`;
  const what = where === dir ? `the config dir ${dir}` : where;
  return new ConfigError(`cannot ${action} ${what}: ${reason} (${code})`, { hint: fix, code: 'config_dir_unusable', cause: error });
}

/** The nearest existing path at or above `dir` that is not a directory. */
function fileAbove(dir: string): string | undefined {
  for (let path = dir; ; path = dirname(path)) {
    try {
      if (!statSync(path).isDirectory()) return path;
    } catch {
      // not there: look higher
    }
    if (dirname(path) === path) return undefined;
  }
}
