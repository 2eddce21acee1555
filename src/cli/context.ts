import { statSync } from 'node:fs';
import { ConfigError, UsageError } from '../errors.js';
import type { Deps } from '../deps.js';
import { createOutput, type Output } from '../io/output.js';
import { safeJson } from '../io/text.js';
import { platformConfigDir } from '../store/paths.js';
import type { Profile, StorageSetting } from '../store/profile-keys.js';
import { ProfileStore } from '../store/profiles.js';
import type { Credentials } from '../store/credentials.js';
import type { Brand } from './brand.js';

/** The global options every command has. */
export interface GlobalOptions {
  profile?: string;
  json?: boolean;
  debug?: boolean;
  color?: boolean;
  configDir?: string;
  /** Storage for this run, set by library callers (the CLI takes `<PREFIX>_STORAGE`). */
  storage?: StorageSetting;
}

/**
 * What a command needs, built once per run from the global options and the deps: output,
 * the profile store, lazily the credential store (it may load the keychain binding).
 */
export class Context {
  readonly brand: Brand;
  readonly deps: Deps;
  readonly options: GlobalOptions;
  readonly out: Output;
  readonly configDir: string;
  readonly profiles: ProfileStore;
  /** Aborted on Ctrl-C. */
  readonly signal: AbortSignal;
  #credentials: Credentials | undefined;

  constructor(brand: Brand, deps: Deps, options: GlobalOptions, signal: AbortSignal) {
    this.brand = brand;
    this.deps = deps;
    this.options = options;
    this.signal = signal;
    const color = options.color !== false && !deps.env.NO_COLOR && deps.streams.stderr.isTTY === true;
    this.out = createOutput(deps.streams, { debug: options.debug === true, color, name: brand.name });
    this.configDir = options.configDir || this.env('CONFIG_DIR') || platformConfigDir(brand.configDirName, deps.env);
    this.profiles = new ProfileStore({ dir: this.configDir, name: brand.name, ...(brand.builtinProfiles ? { builtins: brand.builtinProfiles } : {}) });
    this.#warnIfWorldWritable();
  }

  /** A config dir anyone can write to lets them swap the config (the issuer!) under the user. */
  #warnIfWorldWritable(): void {
    try {
      const mode = statSync(this.configDir).mode & 0o777;
      if (mode & 0o002) this.out.warn(`${this.configDir} is writable by every user (mode ${mode.toString(8)}): anyone could change your profiles; run: chmod 700 ${this.configDir}`);
    } catch {
      // not created yet
    }
  }

  /** `<PREFIX>_<name>` from the environment. */
  env(name: string): string | undefined {
    const value = this.deps.env[`${this.brand.envPrefix}_${name}`];
    return value === '' ? undefined : value;
  }

  envName(name: string): string {
    return `${this.brand.envPrefix}_${name}`;
  }

  /** All profiles: the brand's built-in ones under the user's. */
  allProfiles(): Record<string, Profile> {
    return this.profiles.all();
  }

  /** The default profile's name, if any. */
  defaultProfileName(): string | undefined {
    return this.profiles.defaultName();
  }

  /** The profile this run is about, if any: `-p`, then `<PREFIX>_PROFILE`, then the default. */
  selectedProfileName(): string | undefined {
    return this.options.profile || this.env('PROFILE') || this.defaultProfileName();
  }

  /** The profile this run is about: `-p`, then `<PREFIX>_PROFILE`, then the default. */
  profileName(): string {
    const name = this.selectedProfileName();
    if (!name) {
      throw new ConfigError('no profile is configured', {
        hint: `Add one: ${this.brand.name} profile add <name> --issuer <url> --client-id <id>`,
      });
    }
    return name;
  }

  requireProfile(name = this.profileName()): { name: string; profile: Profile } {
    const profile = this.allProfiles()[name];
    if (!profile) throw this.profiles.missing(name);
    return { name, profile };
  }

  storageOverride(): StorageSetting | undefined {
    if (this.options.storage) return this.options.storage;
    const value = this.env('STORAGE');
    if (value === undefined) return undefined;
    if (value !== 'auto' && value !== 'keychain' && value !== 'file') {
      throw new UsageError(`${this.envName('STORAGE')} must be auto, keychain or file, got "${value}"`);
    }
    return value;
  }

  /** The credential store; loads the keychain binding only when a keychain call is made. */
  async credentials(): Promise<Credentials> {
    if (this.#credentials) return this.#credentials;
    const [{ Credentials }, { FileSecretStore }] = await Promise.all([import('../store/credentials.js'), import('../store/file-secrets.js')]);
    const storageOverride = this.storageOverride();
    this.#credentials = new Credentials({
      profiles: this.profiles,
      keychain: await this.keychain(),
      file: new FileSecretStore({ dir: this.configDir, service: this.brand.keychainService, warn: (m) => this.out.warn(m) }),
      out: this.out,
      cliName: this.brand.name,
      envPrefix: this.brand.envPrefix,
      ...(storageOverride ? { storageOverride } : {}),
    });
    return this.#credentials;
  }

  /** The OS keychain store of this CLI, its calls bounded by `<PREFIX>_KEYCHAIN_TIMEOUT` (seconds, default 5). */
  async keychain(): Promise<import('../store/keychain-secrets.js').KeychainSecretStore> {
    const { KeychainSecretStore } = await import('../store/keychain-secrets.js');
    const seconds = Number(this.env('KEYCHAIN_TIMEOUT') ?? 5);
    return new KeychainSecretStore({
      service: this.brand.keychainService,
      timeoutMs: (Number.isFinite(seconds) && seconds > 0 ? seconds : 5) * 1000,
      storageEnv: this.envName('STORAGE'),
    });
  }

  /** The HTTP client (loads undici), trusting the profile's `caFile` too when it has one. */
  async http(profile?: Profile) {
    const { createHttp } = await import('../http.js');
    let extraCa: string | undefined;
    if (profile?.caFile) {
      const { readFile } = await import('node:fs/promises');
      extraCa = await readFile(profile.caFile, 'utf8').catch((error: NodeJS.ErrnoException) => {
        throw new ConfigError(`cannot read the profile's caFile ${profile.caFile}: ${error.code ?? error.message}`, { hint: 'Fix the path: profile set <name> ca-file <pem>.' });
      });
      if (!extraCa.includes('-----BEGIN CERTIFICATE-----')) throw new ConfigError(`the profile's caFile ${profile.caFile} holds no PEM certificate`);
    }
    return createHttp(
      {
        out: this.out,
        userAgent: `${this.brand.name}/${this.brand.version} (node ${process.version}; ${process.platform})`,
        ...(extraCa !== undefined ? { extraCa } : {}),
        ...(this.httpTimeoutMs() ? { responseTimeoutMs: this.httpTimeoutMs() } : {}),
      },
      this.deps.env,
    );
  }

  /**
   * The credential in force for the profile, as `token` prints it: the env overrides, else the
   * stored one, refreshed or re-minted first when it has (nearly) expired. For `extraCommands`
   * of an embedding CLI too.
   */
  async token(options: { profileName?: string; forceRenew?: boolean } = {}): Promise<{ token: string; source: import('../flows/get-token.js').TokenSource }> {
    const { name, profile } = this.requireProfile(options.profileName);
    const { getToken } = await import('../flows/get-token.js');
    return getToken(
      { profileName: name, profile, globalTokenEnv: this.envName('TOKEN'), program: this.brand.name, forceRenew: options.forceRenew === true },
      {
        env: this.deps.env,
        clock: this.deps.clock,
        credentials: () => this.credentials(),
        http: () => this.http(profile),
      },
    );
  }

  /** `<PREFIX>_HTTP_TIMEOUT` (seconds): how long an IdP or backend may take to answer. */
  httpTimeoutMs(): number | undefined {
    const value = this.env('HTTP_TIMEOUT');
    if (value === undefined) return undefined;
    const seconds = Number(value);
    if (!Number.isFinite(seconds) || seconds <= 0) throw new UsageError(`${this.envName('HTTP_TIMEOUT')} must be a number of seconds, got "${value}"`);
    return seconds * 1000;
  }

  /** Print `value` as JSON on stdout when `--json` is set; returns whether it did. */
  json(value: unknown): boolean {
    if (!this.options.json) return false;
    this.out.data(safeJson(value));
    return true;
  }
}
