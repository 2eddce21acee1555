import { chmodSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, UsageError } from '../errors.js';
import { withLock } from './lock.js';
import { configDirError, makeDirs } from './paths.js';
import type { LoginState, Profile, StorageKind } from '../model.js';
import { safeJson, safeLine } from '../io/text.js';
import { PROFILE_KEYS, PROFILE_NAME, profileProblems } from './profile-keys.js';

export type { LoginState, StorageKind };

export interface ConfigFile {
  defaultProfile?: string;
  profiles: Record<string, Profile>;
  logins: Record<string, LoginState>;
}

export interface ProfileStoreOptions {
  /** The config directory (created 0700 on first write). */
  dir: string;
  /** Program name, used in messages. */
  name?: string;
  /** Profiles that exist without `profile add` (an embedding product's `prod`); the first is the default until one is chosen. */
  builtins?: Record<string, Profile>;
}

/**
 * Profiles and login facts in one JSON file, `config.json` in the config dir.
 *
 * Reads are plain (no schema library on the `token` path); every write takes a lock, re-reads the
 * file inside it and writes through `conf` (atomic replace, schema-validated), so concurrent
 * writers never lose an update. A file that does not parse is never rewritten: the user's data
 * stays as it is, and the error says which file and what to do.
 */
export class ProfileStore {
  readonly dir: string;
  readonly path: string;
  readonly #name: string;
  readonly #builtins: Record<string, Profile>;

  constructor(options: ProfileStoreOptions) {
    this.dir = options.dir;
    this.path = join(options.dir, 'config.json');
    this.#name = options.name ?? 'latchkey';
    this.#builtins = dictionary(options.builtins);
  }

  /** Every profile: the built-in ones under the user's. */
  all(config: ConfigFile = this.read()): Record<string, Profile> {
    // (Each read makes fresh maps: without built-in ones, the user's are the answer as they are.)
    if (Object.keys(this.#builtins).length === 0) return config.profiles;
    return dictionary({ ...this.#builtins, ...config.profiles });
  }

  /** The default profile's name: the one chosen, else the first built-in one. */
  defaultName(config: ConfigFile = this.read()): string | undefined {
    return config.defaultProfile ?? Object.keys(this.#builtins)[0];
  }

  /**
   * Add a profile. The first one becomes the default, unless a built-in one already is (a
   * product's `prod` stays the default when the user adds another).
   */
  async add(name: string, profile: Profile, options: { force?: boolean } = {}): Promise<{ madeDefault: boolean }> {
    return this.update((config) => {
      if (!options.force) this.assertNameFree(name, config);
      config.profiles[name] = profile;
      const inForce = this.defaultName(config);
      const madeDefault = inForce === undefined || !this.all(config)[inForce] || inForce === name;
      if (madeDefault) config.defaultProfile = name;
      return { madeDefault };
    });
  }

  /** Refuses a name a user profile has already (`profile add` without --force). */
  assertNameFree(name: string, config: ConfigFile = this.read()): void {
    if (Object.hasOwn(config.profiles, name))
      throw new UsageError(`profile "${name}" already exists`, {
        hint: `Change it with "${this.#name} profile set ${name} <key> <value>", or replace it with --force.`,
      });
  }

  /** Set (or, with `undefined`, remove) one key; a built-in profile gets a user copy. */
  async setKey(name: string, key: keyof Profile, value: unknown): Promise<void> {
    await this.update((config) => {
      const existing = config.profiles[name] ?? (this.#builtins[name] ? { ...this.#builtins[name] } : undefined);
      if (!existing) throw this.missing(name, config);
      const record = existing as unknown as Record<string, unknown>;
      if (value === undefined) delete record[key];
      else record[key] = value;
      config.profiles[name] = existing;
    });
  }

  /** Make `name` the default. */
  async use(name: string): Promise<void> {
    await this.update((config) => {
      if (!this.all(config)[name]) throw this.missing(name, config);
      config.defaultProfile = name;
    });
  }

  /**
   * Remove a user profile. `forgetCredential` runs first, when it is logged in: a profile is never
   * removed while its secret stays behind. The next profile becomes the default.
   */
  async remove(name: string, forgetCredential: () => Promise<unknown>): Promise<void> {
    const before = this.read();
    if (!before.profiles[name]) throw this.missing(name, before, before.profiles);
    if (before.logins[name]) await forgetCredential();
    await this.update((config) => {
      delete config.profiles[name];
      delete config.logins[name];
      if (config.defaultProfile === name) {
        const next = Object.keys(config.profiles)[0];
        if (next) config.defaultProfile = next;
        else delete config.defaultProfile;
      }
    });
  }

  /** "profile X does not exist", with the known ones (or how to add it). */
  missing(name: string, config: ConfigFile = this.read(), among: Record<string, Profile> = this.all(config)): ConfigError {
    const known = Object.keys(among);
    return new ConfigError(`profile "${name}" does not exist`, {
      hint: known.length
        ? `Known profiles: ${known.join(', ')}.`
        : `Add it: ${this.#name} profile add ${name} --issuer <url> --client-id <id>`,
    });
  }

  #checkedText: string | undefined;

  /** The whole config; an empty one when the file does not exist yet. */
  read(): ConfigFile {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return { profiles: dictionary(), logins: dictionary() };
      throw (
        configDirError(error, this.dir, 'read') ??
        new ConfigError(`cannot read the config file ${this.path}: ${code ?? (error as Error).message}`, {
          hint: `Check its permissions (it should be readable by you), or point --config-dir elsewhere.`,
          cause: error,
        })
      );
    }
    // Empty is as corrupt as truncated: something cut the file short. It is never rewritten.
    if (text.trim() === '') throw this.#corrupt('is empty');
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (error) {
      throw this.#corrupt(`is not valid JSON (${(error as Error).message})`, error);
    }
    // One command reads the config several times; the same text is checked once (each read still
    // parses its own copy, so a caller's changes never leak into the next read).
    if (text !== this.#checkedText) {
      const problems = configProblems(data);
      if (problems.length > 0) throw this.#corrupt(`is not a valid ${this.#name} config: ${problems.slice(0, 3).join('; ')}`);
      this.#checkedText = text;
    }
    const config = data as Partial<ConfigFile>;
    return { ...config, profiles: dictionary(config.profiles), logins: dictionary(config.logins) };
  }

  #corrupt(why: string, cause?: unknown): ConfigError {
    return new ConfigError(`the config file ${this.path} ${why}`, {
      hint: `It was left untouched. Fix it by hand, or move it aside (mv ${this.path} ${this.path}.bak) and add your profiles again.`,
      code: 'config_corrupt',
      cause,
    });
  }

  /**
   * Read-modify-write under the config lock. `change` gets a fresh copy of the file as it is on
   * disk now; what it leaves is written atomically. Throwing from `change` writes nothing.
   */
  async update<T>(change: (config: ConfigFile) => T): Promise<T> {
    try {
      ensurePrivateDir(this.dir);
      return await withLock(`${this.path}.lock`, async () => {
        const config = this.read();
        const result = change(config);
        await this.#write(config);
        return result;
      });
    } catch (error) {
      throw configDirError(error, this.dir, 'write') ?? error;
    }
  }

  async #write(config: ConfigFile): Promise<void> {
    const { default: Conf } = await import('conf');
    const conf = new Conf<Record<string, unknown>>({
      cwd: this.dir,
      configName: 'config',
      projectName: this.#name,
      configFileMode: 0o600,
      schema: CONF_SCHEMA,
    });
    const clean: Record<string, unknown> = { profiles: config.profiles, logins: config.logins };
    if (config.defaultProfile !== undefined) clean.defaultProfile = config.defaultProfile;
    conf.store = clean;
  }
}

/**
 * Start loading what writing the config needs (conf, ~100 ms) while something slower happens
 * anyway, such as the user signing in in the browser.
 */
export function preloadConfigWriter(): void {
  import('conf').catch(() => undefined);
}

/**
 * A map keyed by names from outside (profile names, accounts) with no prototype: `toString` or
 * `constructor` is a name like any other, never an inherited member found by a lookup.
 */
export function dictionary<T>(entries?: Record<string, T>): Record<string, T> {
  return Object.assign(Object.create(null) as Record<string, T>, entries);
}

/** Create `dir` (and parents) with mode 0700; tighten it if it exists with a looser mode. */
export function ensurePrivateDir(dir: string): void {
  makeDirs(dir, 0o700);
  if (process.platform !== 'win32') {
    const mode = statSync(dir).mode & 0o777;
    if ((mode & 0o077) !== 0) chmodSync(dir, 0o700);
  }
}

/** A name as a JSON string, every control and invisible character escaped, cut to 80 characters. */
const quotedName = (name: string) => safeJson(name.length > 80 ? `${name.slice(0, 80)}…` : name, 0);

const NAME_RULE = 'letters, digits, ".", "_" and "-" (at most 64 characters), starting with a letter or digit';
const NAME_RULE_BROKEN = `the name breaks the rule for profile names (${NAME_RULE})`;

export function checkProfileName(name: string): string {
  if (!PROFILE_NAME.test(name)) {
    throw new UsageError(`${quotedName(name)} is not a valid profile name`, {
      hint: `Use ${NAME_RULE}.`,
    });
  }
  return name;
}

function configProblems(data: unknown): string[] {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return ['the top level must be an object'];
  const config = data as Record<string, unknown>;
  const problems: string[] = [];
  for (const key of Object.keys(config)) {
    if (!['defaultProfile', 'profiles', 'logins', '__internal__'].includes(key)) problems.push(`unknown key "${key}"`);
  }
  if (config.defaultProfile !== undefined && typeof config.defaultProfile !== 'string') problems.push('"defaultProfile" must be a string');
  for (const section of ['profiles', 'logins'] as const) {
    const value = config[section];
    if (value !== undefined && (typeof value !== 'object' || value === null || Array.isArray(value)))
      problems.push(`"${section}" must be an object`);
  }
  const profiles = (config.profiles ?? {}) as Record<string, unknown>;
  const seen = new Map<string, Map<string, string | null>>();
  for (const [name, profile] of Object.entries(profiles)) {
    // A name goes into the helper line `setup git` writes, kubectl's exec arguments, lock file
    // paths: one that breaks the rule is refused on read as where it is given.
    if (!PROFILE_NAME.test(name)) problems.push(`profile ${quotedName(name)}: ${NAME_RULE_BROKEN}`);
    for (const problem of profileProblems(profile, seen)) problems.push(`profile "${safeLine(name, 80)}": ${problem}`);
  }
  const logins = (config.logins ?? {}) as Record<string, unknown>;
  for (const name of Object.keys(logins))
    if (!PROFILE_NAME.test(name)) problems.push(`the login of ${quotedName(name)}: ${NAME_RULE_BROKEN}`);
  if (typeof config.defaultProfile === 'string' && !PROFILE_NAME.test(config.defaultProfile))
    problems.push(`"defaultProfile" ${quotedName(config.defaultProfile)}: ${NAME_RULE_BROKEN}`);
  return problems;
}

const PROFILE_SCHEMA = {
  type: 'object',
  properties: Object.fromEntries(PROFILE_KEYS.map((spec) => [spec.key, spec.schema])),
  required: PROFILE_KEYS.filter((spec) => spec.required).map((spec) => spec.key),
  additionalProperties: false,
};

const LOGIN_SCHEMA = {
  type: 'object',
  properties: {
    kind: { enum: ['session', 'api_key', 'oauth', 'service'] },
    subject: { type: 'string' },
    email: { type: 'string' },
    identityVerified: { type: 'boolean' },
    expiresAt: { type: 'string' },
    storage: { enum: ['keychain', 'file'] },
    via: { type: 'string' },
    obtainedAt: { type: 'string' },
    renewable: { type: 'boolean' },
  },
  required: ['kind', 'storage', 'via', 'obtainedAt', 'renewable'],
  additionalProperties: false,
};

const CONF_SCHEMA = {
  defaultProfile: { type: 'string' },
  profiles: { type: 'object', additionalProperties: PROFILE_SCHEMA },
  logins: { type: 'object', additionalProperties: LOGIN_SCHEMA },
} as const;
