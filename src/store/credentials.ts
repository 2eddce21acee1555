import { join } from 'node:path';
import { KeychainUnavailableError } from '../errors.js';
import type { Output } from '../io/output.js';
import { effective, type Profile, type StorageSetting } from './profile-keys.js';
import { withLock } from './lock.js';
import { configDirError } from './paths.js';
import { ensurePrivateDir, type LoginState, type ProfileStore, type StorageKind } from './profiles.js';
import { loginStateOf } from '../model.js';
import { parseRecord, serializeRecord, type CredentialRecord, type SecretStore } from './secrets.js';

export interface CredentialsOptions {
  profiles: ProfileStore;
  keychain: SecretStore;
  file: SecretStore;
  out: Output;
  /** `LATCHKEY_STORAGE`: overrides every profile's `storage` for this run. */
  storageOverride?: StorageSetting;
  /** The CLI's name and env prefix, for hints (`latchkey`, `LATCHKEY`; or an embedding CLI's). */
  cliName?: string;
  envPrefix?: string;
}

/**
 * A profile's credential: the secret in the keychain (or the file fallback), its non-secret
 * facts in the config. Saving writes the secret first and the config second, so a failure leaves
 * the previous credential in force; reading goes to the store the config says was used, so an
 * unreachable keychain is an error (exit 6), never a silent "not logged in".
 */
export class Credentials {
  readonly #o: CredentialsOptions;
  #warnedFallback = false;

  constructor(options: CredentialsOptions) {
    this.#o = options;
  }

  #store(kind: StorageKind): SecretStore {
    return kind === 'keychain' ? this.#o.keychain : this.#o.file;
  }

  /**
   * Run `fn` holding the profile's renewal lock: every refresh or re-mint, and logout, of one
   * profile happen one at a time across processes. A rotated refresh token works only once, so a
   * second `token` waits for the first one's result; and a logout waits for a refresh in flight,
   * then revokes and deletes what it wrote, instead of the refresh writing a credential back
   * after "Logged out".
   */
  async exclusive<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const dir = this.#o.profiles.dir;
    try {
      ensurePrivateDir(dir);
    } catch (error) {
      throw configDirError(error, dir, 'write') ?? error;
    }
    return withLock(join(dir, `${name}.refresh.lock`), fn);
  }

  /**
   * Write `secret` under `account` where the profile's storage setting says: the keychain, or
   * with `storage: auto` the file when no keychain is reachable (said once on stderr). Returns
   * the store that holds it.
   */
  async #put(name: string, profile: Profile, account: string, secret: string): Promise<SecretStore> {
    const setting = this.#o.storageOverride ?? effective(profile).storage;
    if (setting !== 'file') {
      try {
        await this.#o.keychain.set(account, secret);
        return this.#o.keychain;
      } catch (error) {
        if (setting === 'keychain' || !(error instanceof KeychainUnavailableError)) {
          if (error instanceof KeychainUnavailableError) {
            const envName = `${this.#o.envPrefix ?? 'LATCHKEY'}_STORAGE`;
            // The variable, when it is what demands the keychain, is the thing to change.
            const hint =
              this.#o.storageOverride === 'keychain'
                ? `${envName}=keychain requires the keychain for this run. Start or unlock it,` +
                  ` or allow the file fallback: unset ${envName}, or ${envName}=file.`
                : `Profile "${name}" requires the keychain (storage: keychain). Start or unlock it, or allow the file fallback:` +
                  ` ${this.#o.cliName ?? 'latchkey'} profile set ${name} storage auto (or ${envName}=file for one run).`;
            throw new KeychainUnavailableError(error.message, { hint, cause: error });
          }
          throw error;
        }
        if (!this.#warnedFallback) {
          this.#warnedFallback = true;
          // The raw D-Bus or keychain text says little to most users: it goes to --debug.
          this.#o.out.debug(`keychain: ${error.message}`);
          this.#o.out.warn(
            `the OS keychain is not reachable (${keychainProblem(error.message)});` +
              ` storing the credential in ${this.#o.file.location} (mode 600) instead`,
          );
        }
      }
    }
    await this.#o.file.set(account, secret);
    return this.#o.file;
  }

  /** Store `record` for `name` and return the facts `status` shows. */
  async save(name: string, profile: Profile, record: CredentialRecord): Promise<LoginState> {
    const used = await this.#put(name, profile, name, serializeRecord(record));
    const state = loginStateOf(record, used.kind);
    const previous = await this.#o.profiles.update((config) => {
      const before = config.logins[name];
      config.logins[name] = state;
      return before;
    });
    if (previous && previous.storage !== used.kind) {
      await this.#store(previous.storage)
        .delete(name)
        .catch((error: Error) =>
          this.#o.out.warn(`could not remove the previous credential from ${this.#store(previous.storage).location}: ${error.message}`),
        );
    }
    return state;
  }

  /** The stored credential, or `undefined` when the profile is not logged in. */
  async load(name: string): Promise<{ record: CredentialRecord; state: LoginState } | undefined> {
    const state = this.#o.profiles.read().logins[name];
    if (!state) return undefined;
    const store = this.#store(state.storage);
    const text = await store.get(name);
    if (text === null) return undefined;
    return {
      record: parseRecord(text, store.location, `Log in again to replace it: ${this.#o.cliName ?? 'latchkey'} login -p ${name}`),
      state,
    };
  }

  /** Replace the stored record in the same store (refresh); the config facts follow. */
  async replace(name: string, record: CredentialRecord, storage: StorageKind): Promise<LoginState> {
    await this.#store(storage).set(name, serializeRecord(record));
    const state = loginStateOf(record, storage);
    await this.#o.profiles.update((config) => {
      config.logins[name] = state;
    });
    return state;
  }

  /**
   * A dynamically registered client's management secret (RFC 7591's registration access token,
   * with its registration_client_uri): kept beside the profile's credential, under an account no
   * profile name can take, and not touched by logout: it belongs to the profile, not to a login.
   */
  async saveRegistration(name: string, profile: Profile, registration: ClientRegistration): Promise<void> {
    await this.#put(name, profile, registrationAccount(name), JSON.stringify(registration));
  }

  /** The registration secret of a profile, wherever it is; undefined when there is none. */
  async loadRegistration(name: string): Promise<ClientRegistration | undefined> {
    for (const store of [this.#o.keychain, this.#o.file]) {
      const text = await store.get(registrationAccount(name)).catch(() => null);
      if (text === null) continue;
      try {
        const value = JSON.parse(text) as Partial<ClientRegistration>;
        if (typeof value.registrationAccessToken === 'string') return value as ClientRegistration;
      } catch {
        // unreadable: as good as none
      }
    }
    return undefined;
  }

  /** Forget a profile's registration secret (profile remove), in both stores. */
  async removeRegistration(name: string): Promise<void> {
    for (const store of [this.#o.keychain, this.#o.file]) await store.delete(registrationAccount(name)).catch(() => false);
  }

  /** Delete the credential wherever it is and forget its facts. True when one existed. */
  async remove(name: string): Promise<boolean> {
    const state = this.#o.profiles.read().logins[name];
    let removed = false;
    if (state) removed = await this.#store(state.storage).delete(name);
    // Also clear the other store: a credential left behind by an earlier fallback is still a secret.
    const other = state?.storage === 'file' ? this.#o.keychain : this.#o.file;
    removed = (await other.delete(name).catch(() => false)) || removed;
    if (state) {
      await this.#o.profiles.update((config) => {
        delete config.logins[name];
      });
    }
    return removed || state !== undefined;
  }
}

/** What a dynamically registered client keeps to manage its registration (RFC 7591 §3.2.1, RFC 7592). */
export interface ClientRegistration {
  clientId: string;
  registrationAccessToken: string;
  registrationClientUri?: string;
  /**
   * The registration endpoint the client was registered at: the management URL is used only on
   * its origin (absent in records of earlier versions: the issuer's origin stands in).
   */
  registrationEndpoint?: string;
}

/** The secret store account of a profile's registration: ":" is in no profile name. */
function registrationAccount(name: string): string {
  return `${name}:registration`;
}

/** A keychain failure in words a user knows; the raw text is for --debug. */
function keychainProblem(message: string): string {
  if (/dbus|secret.?service|org\.freedesktop|no such interface|service unknown|not provided by any \.service/i.test(message))
    return 'no Secret Service on this session';
  if (/timed? ?out|did not answer/i.test(message)) return 'it did not answer in time';
  if (/locked|unlock|cancel/i.test(message)) return 'it is locked';
  return message.replace(/^.*?: /, '').slice(0, 120);
}

export { loginStateOf };
