import { createHash, randomBytes } from 'node:crypto';
import { KeychainUnavailableError } from '../errors.js';
import type { SecretStore } from './secrets.js';

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
}

const MANIFEST = 'latchkey-chunked:v1:';
const DEFAULT_MAX_ENTRY = process.platform === 'win32' ? 1200 : Number.POSITIVE_INFINITY;

interface Manifest {
  generation: string;
  count: number;
  sha256: string;
}

interface KeychainRequest {
  op: 'get' | 'set' | 'delete' | 'list';
  service: string;
  account?: string;
  secret?: string;
}

/**
 * The helper process: the synchronous binding (blocking is harmless there), one JSON request per
 * line on stdin, one answer per line on stdout. Pinned to the Secret Service on Linux (the binding
 * would otherwise fall back silently to the kernel keyring, which forgets everything at reboot).
 */
const HELPER_SOURCE = `
const keyring = require(process.env.LATCHKEY_KEYRING_BINDING);
const options = { linux: { store: 'secret-service' } };
let buffer = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  buffer += chunk;
  for (let i = buffer.indexOf('\\n'); i >= 0; i = buffer.indexOf('\\n')) {
    const m = JSON.parse(buffer.slice(0, i));
    buffer = buffer.slice(i + 1);
    let answer;
    try {
      let value;
      if (m.op === 'list') value = keyring.findCredentials(m.service).map((c) => c.account);
      else {
        const entry = new keyring.Entry(m.service, m.account, options);
        if (m.op === 'get') value = entry.getPassword() ?? null;
        else if (m.op === 'set') value = entry.setPassword(m.secret);
        else value = entry.deleteCredential();
      }
      answer = { id: m.id, ok: true, value };
    } catch (error) {
      answer = { id: m.id, ok: false, error: String((error && error.message) || error) };
    }
    process.stdout.write(JSON.stringify(answer) + '\\n');
  }
});
process.stdin.on('end', () => process.exit(0));
`;

/**
 * The OS keychain through `@napi-rs/keyring` (macOS Keychain, Windows Credential Manager,
 * Secret Service on Linux). On Linux the entry is pinned to the Secret Service: the binding
 * would otherwise fall back silently to the kernel keyring, which forgets everything at reboot.
 */
export class KeychainSecretStore implements SecretStore {
  readonly kind = 'keychain' as const;
  readonly location: string;
  readonly #service: string;
  readonly #timeoutMs: number;
  readonly #maxEntry: number;
  readonly #storageEnv: string;
  #helper: import('node:child_process').ChildProcess | undefined;
  readonly #pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: unknown) => void }>();
  #nextId = 0;

  constructor(options: KeychainSecretStoreOptions) {
    this.#service = options.service;
    this.#timeoutMs = options.timeoutMs ?? 5000;
    this.#maxEntry = options.maxEntryLength ?? DEFAULT_MAX_ENTRY;
    this.#storageEnv = options.storageEnv ?? 'LATCHKEY_STORAGE';
    this.location = process.platform === 'darwin' ? 'macOS Keychain' : process.platform === 'win32' ? 'Windows Credential Manager' : 'Secret Service';
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
    if (sha256(value) !== manifest.sha256) throw this.#unavailable('read', new Error('the parts of the entry do not add up (checksum differs)'));
    return value;
  }

  async set(account: string, secret: string): Promise<void> {
    const previous = await this.#manifestOf(account);
    if (secret.length <= this.#maxEntry && !secret.startsWith(MANIFEST)) {
      await this.#call('write', account, 'set', secret);
    } else {
      // New parts under a fresh generation first; the manifest that points at them is written
      // last, so a failure part-way leaves the previous value readable and no stray parts.
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
        const manifest = `${MANIFEST}${JSON.stringify({ generation, count: parts.length, sha256: sha256(secret) })}`;
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

  /**
   * One keychain operation, in a helper process. The binding can block the thread that calls it
   * (connecting to a Secret Service that never answers blocks inside its constructor), and a
   * blocked thread of this process (main, worker or libuv pool) would keep it from exiting.
   * A helper that does not answer in time is killed, and the command ends with a clear error.
   */
  async #worker(action: string, request: KeychainRequest): Promise<unknown> {
    const helper = await this.#ensureHelper(action);
    const id = ++this.#nextId;
    helper.ref();
    try {
      return await new Promise<unknown>((resolve, reject) => {
        const timer = setTimeout(() => {
          this.#pending.delete(id);
          this.#abandon();
          reject(new Error(`no answer within ${this.#timeoutMs / 1000} s`));
        }, this.#timeoutMs);
        this.#pending.set(id, {
          resolve: (value) => (clearTimeout(timer), resolve(value)),
          reject: (error) => (clearTimeout(timer), reject(error)),
        });
        helper.stdin!.write(`${JSON.stringify({ id, ...request })}\n`);
      });
    } catch (error) {
      throw this.#unavailable(action, error);
    } finally {
      if (this.#pending.size === 0) this.#helper?.unref();
    }
  }

  async #ensureHelper(action: string): Promise<import('node:child_process').ChildProcess> {
    if (this.#helper) return this.#helper;
    const [{ spawn }, { createRequire }] = await Promise.all([import('node:child_process'), import('node:module')]);
    let binding: string;
    try {
      binding = createRequire(import.meta.url).resolve('@napi-rs/keyring');
    } catch (error) {
      throw this.#unavailable(action === 'list' ? 'list' : 'load', error);
    }
    const helper = spawn(process.execPath, ['-e', HELPER_SOURCE], {
      env: { ...process.env, LATCHKEY_KEYRING_BINDING: binding },
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    let buffer = '';
    helper.stdout!.setEncoding('utf8');
    helper.stdout!.on('data', (chunk: string) => {
      buffer += chunk;
      for (let i = buffer.indexOf('\n'); i >= 0; i = buffer.indexOf('\n')) {
        const message = JSON.parse(buffer.slice(0, i)) as { id: number; ok: boolean; value?: unknown; error?: string };
        buffer = buffer.slice(i + 1);
        const pending = this.#pending.get(message.id);
        if (!pending) continue;
        this.#pending.delete(message.id);
        if (message.ok) pending.resolve(message.value);
        else pending.reject(new Error(message.error ?? 'keychain error'));
      }
    });
    const fail = (error: Error) => {
      for (const pending of this.#pending.values()) pending.reject(error);
      this.#pending.clear();
      this.#helper = undefined;
    };
    helper.on('error', fail);
    helper.on('exit', (code, signal) => fail(new Error(`the keychain helper ended (${signal ?? code})`)));
    // Idle, it must not keep the CLI alive; its stdin closing at exit ends it.
    helper.unref();
    (helper.stdin as unknown as { unref?: () => void }).unref?.();
    (helper.stdout as unknown as { unref?: () => void }).unref?.();
    this.#helper = helper;
    return helper;
  }

  #abandon(): void {
    const helper = this.#helper;
    this.#helper = undefined;
    if (helper) {
      helper.unref();
      helper.kill('SIGKILL');
    }
  }

  async #call<T>(action: string, account: string, op: 'get' | 'set' | 'delete', secret?: string): Promise<T> {
    return (await this.#worker(action, { op, service: this.#service, account, ...(secret !== undefined ? { secret } : {}) })) as T;
  }

  #unavailable(action: string, cause: unknown): KeychainUnavailableError {
    const reason = cause instanceof Error ? cause.message : String(cause);
    return new KeychainUnavailableError(`the OS keychain (${this.location}) could not ${action === 'load' ? 'be loaded' : action}: ${reason}`, {
      hint: `Unlock or start your keychain (on Linux: a Secret Service such as gnome-keyring on the D-Bus session bus), or use the file store: --storage file, or ${this.#storageEnv}=file.`,
      cause,
    });
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

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
