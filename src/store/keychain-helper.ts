import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/** One keychain operation, as the helper process takes it (a JSON line). */
export interface KeychainRequest {
  op: 'get' | 'set' | 'delete' | 'list';
  service: string;
  account?: string;
  secret?: string;
}

/** Whatever runs keychain operations: the helper process, or a test's in-memory stand-in. */
export interface KeychainBackend {
  call(request: KeychainRequest): Promise<unknown>;
}

/** The keychain binding is not installed (an optional native package missing for this platform). */
export class KeychainBindingMissing extends Error {}

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
 * Runs keychain operations in a helper process. The binding can block the thread that calls it
 * (connecting to a Secret Service that never answers blocks inside its constructor), and a
 * blocked thread of this process (main, worker or libuv pool) would keep it from exiting. A
 * helper that does not answer in time is killed: the caller gets an error, never a hang.
 */
export class KeychainHelper implements KeychainBackend {
  readonly #timeoutMs: number;
  #helper: import('node:child_process').ChildProcess | undefined;
  readonly #pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  #nextId = 0;

  readonly #env: NodeJS.ProcessEnv;

  /** `env` is the CLI's environment: the session bus (DBUS_SESSION_BUS_ADDRESS) the helper talks to. */
  constructor(options: { timeoutMs: number; env?: NodeJS.ProcessEnv }) {
    this.#timeoutMs = options.timeoutMs;
    this.#env = options.env ?? process.env;
  }

  /** The operation's answer; rejects with the binding's error, or after the timeout. */
  async call(request: KeychainRequest): Promise<unknown> {
    const helper = await this.#ensureHelper();
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
    } finally {
      if (this.#pending.size === 0) this.#helper?.unref();
    }
  }

  async #ensureHelper(): Promise<import('node:child_process').ChildProcess> {
    if (this.#helper) return this.#helper;
    const { spawn } = await import('node:child_process');
    let binding: string;
    try {
      binding = createRequire(import.meta.url).resolve('@napi-rs/keyring');
    } catch (error) {
      throw new KeychainBindingMissing((error as Error).message, { cause: error });
    }
    const helper = spawn(process.execPath, ['-e', HELPER_SOURCE], {
      env: { ...this.#env, LATCHKEY_KEYRING_BINDING: binding },
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    let buffer = '';
    helper.stdout.setEncoding('utf8');
    helper.stdout.on('data', (chunk: string) => {
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
}

type KeyringBinding = typeof import('@napi-rs/keyring');

/** The binding's options: pinned to the Secret Service on Linux (as in the helper). */
const ENTRY_OPTIONS = { linux: { store: 'secret-service' } } as const;

/**
 * Keychain operations in this process, through the binding's asynchronous API (libuv's thread
 * pool): for a keychain known to answer (macOS, Windows, or a Secret Service that answered the
 * probe). A call that still takes longer than the timeout is reported as not answering.
 */
export class InProcessKeychain implements KeychainBackend {
  readonly #timeoutMs: number;
  #binding: KeyringBinding | undefined;

  constructor(options: { timeoutMs: number }) {
    this.#timeoutMs = options.timeoutMs;
  }

  async call(request: KeychainRequest): Promise<unknown> {
    const keyring = this.#load();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${this.#timeoutMs / 1000} s`)), this.#timeoutMs);
    });
    try {
      return await Promise.race([this.#run(keyring, request), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async #run(keyring: KeyringBinding, request: KeychainRequest): Promise<unknown> {
    if (request.op === 'list') return (await keyring.findCredentialsAsync(request.service)).map((c) => c.account);
    const entry = new keyring.AsyncEntry(request.service, request.account ?? '', ENTRY_OPTIONS);
    if (request.op === 'get') return (await entry.getPassword()) ?? null;
    if (request.op === 'set') return entry.setPassword(request.secret ?? '');
    return entry.deleteCredential();
  }

  /**
   * Loads the binding now, ahead of the first call (while the probe's answer is on its way);
   * a binding that cannot be loaded is reported by that call.
   */
  preload(): void {
    try {
      this.#load();
    } catch {
      // the call says why
    }
  }

  #load(): KeyringBinding {
    if (this.#binding) return this.#binding;
    try {
      this.#binding = loadKeyringBinding();
    } catch (error) {
      throw new KeychainBindingMissing((error as Error).message, { cause: error });
    }
    return this.#binding;
  }
}

/**
 * The binding. Its package's loader is 27 kB of platform checks, compiled on every run on Node 20
 * (~1.7 ms of each keychain `token`): on Linux with glibc the platform's package is required directly, from
 * where the loader itself would require it (so the same copy); anywhere else, or when that fails,
 * the loader runs. musl is told as the loader tells it first: by /usr/bin/ldd naming musl.
 */
export function loadKeyringBinding(): KeyringBinding {
  const require = createRequire(import.meta.url);
  const platformPackage = glibcPackage();
  if (platformPackage) {
    try {
      return createRequire(require.resolve('@napi-rs/keyring'))(platformPackage) as KeyringBinding;
    } catch {
      // the loader below finds what there is, or says what is missing
    }
  }
  return require('@napi-rs/keyring') as KeyringBinding;
}

function glibcPackage(): string | undefined {
  if (process.platform !== 'linux' || (process.arch !== 'x64' && process.arch !== 'arm64')) return undefined;
  try {
    if (readFileSync('/usr/bin/ldd', 'latin1').includes('musl')) return undefined;
  } catch {
    return undefined;
  }
  return `@napi-rs/keyring-linux-${process.arch}-gnu`;
}

/**
 * The keychain backend a CLI run uses. macOS and Windows: the binding in process. Linux (and the
 * BSDs): the Secret Service is probed first, in JavaScript with the timeout (secret-service.ts);
 * when it answers, the binding runs in process; when the bus says it is not there, or does not
 * answer, the run fails at once (exit 6 by the caller) without a call to the binding; only when
 * the probe cannot be made does the helper process guard the call.
 */
export function defaultKeychainBackend(options: { timeoutMs: number; env?: NodeJS.ProcessEnv }): KeychainBackend {
  const env = options.env ?? process.env;
  let chosen: Promise<KeychainBackend> | undefined;
  const choose = async (): Promise<KeychainBackend> => {
    if (process.platform === 'darwin' || process.platform === 'win32') return new InProcessKeychain(options);
    const { probeSecretService } = await import('./secret-service.js');
    const probing = probeSecretService(env, options.timeoutMs);
    // The binding loads (~2 ms, synchronously, without a word to the bus) while the probe's
    // answer is on its way: one turn of the event loop first sends the probe's bytes.
    const inProcess = new InProcessKeychain(options);
    await new Promise((resolve) => setImmediate(resolve));
    inProcess.preload();
    const probe = await probing;
    if (probe.kind === 'answers') return inProcess;
    if (probe.kind === 'unknown') return new KeychainHelper({ timeoutMs: options.timeoutMs, env });
    throw new Error(probe.why);
  };
  return { call: async (request) => (await (chosen ??= choose())).call(request) };
}
