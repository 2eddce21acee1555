import type { Deps } from '../deps.js';
import { ConfigError } from '../errors.js';
import type { TokenResult } from '../flows/get-token.js';
import type { LoginDeps } from '../flows/login-deps.js';
import type { Http } from '../http.js';
import type { Output } from '../io/output.js';
import { safeJson } from '../io/text.js';
import type { Profile, StorageSetting } from '../model.js';
import { createServices, type Services } from '../services.js';
import type { Credentials } from '../store/credentials.js';
import type { KeychainSecretStore } from '../store/keychain-secrets.js';
import type { ProfileStore } from '../store/profiles.js';
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
 * What a command needs: the services of the composition root (src/services.ts), the global
 * options, and the CLI's own reading of them: which profile a run is about, `--json`.
 */
export class Context {
  readonly services: Services;
  readonly options: GlobalOptions;

  constructor(brand: Brand, deps: Deps, options: GlobalOptions, signal: AbortSignal) {
    this.options = options;
    this.services = createServices({
      brand,
      deps,
      configDir: options.configDir,
      debug: options.debug,
      color: options.color,
      storage: options.storage,
      signal,
    });
  }

  get brand(): Brand {
    return this.services.brand;
  }
  get deps(): Deps {
    return this.services.deps;
  }
  get out(): Output {
    return this.services.out;
  }
  get profiles(): ProfileStore {
    return this.services.profiles;
  }
  get configDir(): string {
    return this.services.configDir;
  }
  /** Aborted on Ctrl-C. */
  get signal(): AbortSignal {
    return this.services.signal;
  }
  env(name: string): string | undefined {
    return this.services.env(name);
  }
  envName(name: string): string {
    return this.services.envName(name);
  }
  storageOverride(): StorageSetting | undefined {
    return this.services.storageOverride();
  }
  credentials(): Promise<Credentials> {
    return this.services.credentials();
  }
  keychain(): Promise<KeychainSecretStore> {
    return this.services.keychain();
  }
  http(profile?: Profile): Promise<Http> {
    return this.services.http(profile);
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

  /**
   * The credential in force for the profile, as `token` prints it: the env overrides, else the
   * stored one, renewed first when it is due. For `extraCommands` of an embedding CLI too.
   */
  async token(
    options: {
      profileName?: string;
      forceRenew?: boolean;
      /** Seconds the credential must still be valid for; renewed first otherwise (default: 60, 30 for a service token). */
      minValidity?: number;
    } = {},
  ): Promise<TokenResult> {
    const { name, profile } = this.requireProfile(options.profileName);
    const { getToken } = await import('../flows/get-token.js');
    return getToken(
      {
        profileName: name,
        profile,
        globalTokenEnv: this.envName('TOKEN'),
        program: this.brand.name,
        forceRenew: options.forceRenew === true,
        ...(options.minValidity !== undefined ? { marginSeconds: options.minValidity, strictMargin: true } : {}),
      },
      { env: this.deps.env, clock: this.deps.clock, credentials: () => this.credentials(), http: () => this.http(profile) },
    );
  }

  /** The side effects of an interactive login of `profile` (browser or device flow). */
  async loginDeps(profile: Profile): Promise<LoginDeps> {
    return {
      http: await this.http(profile),
      credentials: await this.credentials(),
      clock: this.deps.clock,
      out: this.out,
      openBrowser: this.deps.openBrowser,
      signal: this.signal,
      stdin: this.deps.streams.stdin,
    };
  }

  /** Print `value` as JSON on stdout when `--json` is set; returns whether it did. */
  json(value: unknown): boolean {
    if (!this.options.json) return false;
    this.out.data(safeJson(value));
    return true;
  }
}
