import { chmodSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../errors.js';
import { withLock } from './lock.js';
import { configDirError } from './paths.js';
import { dictionary, ensurePrivateDir } from './profiles.js';
import type { SecretStore } from './secrets.js';

type FileContents = Record<string, Record<string, string>>;

export interface FileSecretStoreOptions {
  dir: string;
  /** Secrets are grouped by service, as in the keychain. */
  service: string;
  /** Told once when the file had a looser mode and was set back to 0600. */
  warn?: (message: string) => void;
}

/**
 * The fallback store: `credentials.json` in the config dir, dir 0700, file 0600. Every write is
 * a locked read-modify-write to a new temp file (0600 from creation), fsync, then rename over
 * the old one, so a crash leaves either the old or the new file, never half of one.
 */
export class FileSecretStore implements SecretStore {
  readonly kind = 'file' as const;
  readonly location: string;
  readonly #dir: string;
  readonly #service: string;
  readonly #warn: (message: string) => void;

  constructor(options: FileSecretStoreOptions) {
    this.#dir = options.dir;
    this.#service = options.service;
    this.location = join(options.dir, 'credentials.json');
    this.#warn = options.warn ?? (() => undefined);
  }

  get(account: string): Promise<string | null> {
    return Promise.resolve().then(() => this.#read()[this.#service]?.[account] ?? null);
  }

  async set(account: string, secret: string): Promise<void> {
    await this.#update((contents) => {
      (contents[this.#service] ??= {})[account] = secret;
      return true;
    });
  }

  async delete(account: string): Promise<boolean> {
    return this.#update((contents) => {
      const entries = contents[this.#service];
      if (!entries || !(account in entries)) return false;
      delete entries[account];
      return true;
    });
  }

  list(): Promise<string[]> {
    return Promise.resolve().then(() => Object.keys(this.#read()[this.#service] ?? {}));
  }

  #read(): FileContents {
    let text: string;
    try {
      // Read synchronously: a small file, and node:fs/promises stays off the `token` path.
      this.#tightenMode();
      text = readFileSync(this.location, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return dictionary();
      throw configDirError(error, this.#dir, 'read') ?? error;
    }
    try {
      const value = JSON.parse(text) as unknown;
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not an object');
      // Account names are profile names: looked up as own keys only (`toString` is a name too).
      const contents = dictionary<Record<string, string>>();
      for (const [service, entries] of Object.entries(value as FileContents)) contents[service] = dictionary(entries);
      return contents;
    } catch (error) {
      throw new ConfigError(`the credentials file ${this.location} is not valid JSON`, {
        hint: `It was left untouched. Move it aside (mv ${this.location} ${this.location}.bak) and log in again.`,
        cause: error,
      });
    }
  }

  #tightenMode(): void {
    if (process.platform === 'win32') return;
    const mode = statSync(this.location).mode & 0o777;
    if ((mode & 0o077) !== 0) {
      chmodSync(this.location, 0o600);
      this.#warn(`${this.location} was readable by others (mode ${mode.toString(8)}); set it back to 600`);
    }
  }

  async #update<T>(change: (contents: FileContents) => T): Promise<T> {
    try {
      ensurePrivateDir(this.#dir);
      return await withLock(`${this.location}.lock`, async () => {
        const contents = this.#read();
        const result = change(contents);
        await writeFileAtomic(this.location, `${JSON.stringify(contents, null, 2)}\n`);
        return result;
      });
    } catch (error) {
      throw configDirError(error, this.#dir, 'write') ?? error;
    }
  }
}

/** Write `data` to `path` through a 0600 temp file, fsync and rename (and fsync the dir). */
export async function writeFileAtomic(path: string, data: string): Promise<void> {
  const [{ randomBytes }, { open, rename, rm }] = await Promise.all([import('node:crypto'), import('node:fs/promises')]);
  const temp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await open(temp, 'wx', 0o600);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(temp, { force: true });
    throw error;
  }
  await handle.close();
  try {
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  if (process.platform !== 'win32') {
    const dir = await open(join(path, '..'), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }
}
