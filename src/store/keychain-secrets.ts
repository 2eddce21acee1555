import { KeychainUnavailableError } from '../errors.js';
import { defaultKeychainBackend, KeychainBindingMissing, type KeychainBackend, type KeychainRequest } from './keychain-helper.js';
import { keychainLocation, type SecretStore } from './secrets.js';

export interface KeychainSecretStoreOptions {
  /** Keychain service name (`latchkey`, or an embedding CLI's own). */
  service: string;
  /** Each keychain call is abandoned after this long (LATCHKEY_KEYCHAIN_TIMEOUT). */
  timeoutMs?: number;
  /**
   * Largest value one entry may hold. Windows Credential Manager caps a blob at 2560 bytes
   * (1280 UTF-16 characters): an id_token plus a refresh token can exceed it, so larger values
   * are split into numbered entries behind a small manifest.
   */
  maxEntryLength?: number;
  /** The variable that chooses the store for one run, named in hints (LATCHKEY_STORAGE). */
  storageEnv?: string;
  /** What runs the keychain calls; default: `defaultKeychainBackend` (see keychain-helper.ts). */
  helper?: KeychainBackend;
  /** The environment the default helper runs in (its session bus); default: this process's. */
  env?: NodeJS.ProcessEnv;
}

const MANIFEST = 'latchkey-chunked:v1:';
const DEFAULT_MAX_ENTRY = process.platform === 'win32' ? 1200 : Number.POSITIVE_INFINITY;

interface Manifest {
  generation: string;
  count: number;
  sha256: string;
}

/**
 * The OS keychain through `@napi-rs/keyring` (macOS Keychain, Windows Credential Manager,
 * Secret Service on Linux), as a `SecretStore`: this module is the entry format (values too large
 * for one entry split into parts behind a manifest written last); the calls themselves run in
 * the helper of keychain-helper.ts.
 */
export class KeychainSecretStore implements SecretStore {
  readonly kind = 'keychain' as const;
  readonly location: string;
  readonly #service: string;
  readonly #timeoutMs: number;
  readonly #maxEntry: number;
  readonly #storageEnv: string;
  readonly #helper: KeychainBackend;

  constructor(options: KeychainSecretStoreOptions) {
    this.#service = options.service;
    this.#timeoutMs = options.timeoutMs ?? 5000;
    this.#maxEntry = options.maxEntryLength ?? DEFAULT_MAX_ENTRY;
    this.#storageEnv = options.storageEnv ?? 'LATCHKEY_STORAGE';
    this.#helper = options.helper ?? defaultKeychainBackend({ timeoutMs: this.#timeoutMs, ...(options.env ? { env: options.env } : {}) });
    this.location = keychainLocation();
  }

  async get(account: string): Promise<string | null> {
    const head = await this.#call<string | null>('read', account, 'get');
    const manifest = head === null ? undefined : parseManifest(head);
    if (!manifest) return head;
    const parts: string[] = [];
    for (let i = 0; i < manifest.count; i += 1) {
      const part = await this.#call<string | null>('read', chunkAccount(account, manifest.generation, i), 'get');
      if (part === null) throw this.#unavailable('read', new Error(`part ${i + 1} of ${manifest.count} of the entry is missing`));
      parts.push(part);
    }
    const value = parts.join('');
    if ((await sha256(value)) !== manifest.sha256)
      throw this.#unavailable('read', new Error('the parts of the entry do not add up (checksum differs)'));
    return value;
  }

  async set(account: string, secret: string): Promise<void> {
    const previous = await this.#manifestOf(account);
    if (secret.length <= this.#maxEntry && !secret.startsWith(MANIFEST)) {
      await this.#call('write', account, 'set', secret);
    } else {
      // New parts under a fresh generation first; the manifest that points at them is written
      // last, so a failure part-way leaves the previous value readable and no stray parts.
      const { randomBytes } = await import('node:crypto');
      const generation = randomBytes(4).toString('hex');
      const size = Math.max(1, Math.min(this.#maxEntry, 4096));
      const parts: string[] = [];
      for (let i = 0; i < secret.length; i += size) parts.push(secret.slice(i, i + size));
      const written: string[] = [];
      try {
        for (const [i, part] of parts.entries()) {
          const name = chunkAccount(account, generation, i);
          await this.#call('write', name, 'set', part);
          written.push(name);
        }
        const manifest = `${MANIFEST}${JSON.stringify({ generation, count: parts.length, sha256: await sha256(secret) })}`;
        await this.#call('write', account, 'set', manifest);
      } catch (error) {
        for (const name of written) await this.#call('delete', name, 'delete').catch(() => undefined);
        throw error;
      }
    }
    if (previous) await this.#deleteParts(account, previous).catch(() => undefined);
  }

  async delete(account: string): Promise<boolean> {
    const manifest = await this.#manifestOf(account);
    const deleted = await this.#call<boolean>('delete', account, 'delete');
    if (manifest) await this.#deleteParts(account, manifest);
    return deleted;
  }

  async list(): Promise<string[]> {
    const found = (await this.#worker('list', { op: 'list', service: this.#service })) as string[];
    return found.filter((a) => !a.includes('#'));
  }

  async #manifestOf(account: string): Promise<Manifest | undefined> {
    const head = await this.#call<string | null>('read', account, 'get');
    return head === null ? undefined : parseManifest(head);
  }

  async #deleteParts(account: string, manifest: Manifest): Promise<void> {
    for (let i = 0; i < manifest.count; i += 1) {
      await this.#call('delete', chunkAccount(account, manifest.generation, i), 'delete');
    }
  }

  /** One operation through the helper; any failure is the keychain being unavailable (exit 6). */
  async #worker(action: string, request: KeychainRequest): Promise<unknown> {
    try {
      return await this.#helper.call(request);
    } catch (error) {
      throw this.#unavailable(error instanceof KeychainBindingMissing ? 'load' : action, error);
    }
  }

  async #call<T>(action: string, account: string, op: 'get' | 'set' | 'delete', secret?: string): Promise<T> {
    return (await this.#worker(action, { op, service: this.#service, account, ...(secret !== undefined ? { secret } : {}) })) as T;
  }

  #unavailable(action: string, cause: unknown): KeychainUnavailableError {
    const reason = cause instanceof Error ? cause.message : String(cause);
    return new KeychainUnavailableError(
      `the OS keychain (${this.location}) could not ${action === 'load' ? 'be loaded' : action}: ${reason}`,
      {
        hint:
          `Unlock or start your keychain (on Linux:` +
          ` a Secret Service such as gnome-keyring on the D-Bus session bus),` +
          ` or use the file store: --storage file, or ${this.#storageEnv}=file.`,
        cause,
      },
    );
  }
}

function chunkAccount(account: string, generation: string, index: number): string {
  // Profile names cannot contain "#", so parts never collide with a profile's own entry.
  return `${account}#${generation}.${index}`;
}

function parseManifest(head: string): Manifest | undefined {
  if (!head.startsWith(MANIFEST)) return undefined;
  try {
    const manifest = JSON.parse(head.slice(MANIFEST.length)) as Manifest;
    if (typeof manifest.generation === 'string' && Number.isInteger(manifest.count) && typeof manifest.sha256 === 'string') return manifest;
  } catch {
    // fall through: a value that only looks like a manifest
  }
  return undefined;
}

/** node:crypto is loaded only for chunked entries (Windows), off the start-up path of the rest. */
async function sha256(text: string): Promise<string> {
  const { createHash } = await import('node:crypto');
  return createHash('sha256').update(text).digest('hex');
}
