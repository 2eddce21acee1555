import { statSync } from 'node:fs';
import type { Deps } from './deps.js';
import { ConfigError, UsageError } from './errors.js';
import type { Http } from './http.js';
import { createOutput, type Output } from './io/output.js';
import type { Brand, Profile, StorageSetting } from './model.js';
import type { Credentials } from './store/credentials.js';
import type { KeychainSecretStore } from './store/keychain-secrets.js';
import { platformConfigDir } from './store/paths.js';
import { ProfileStore } from './store/profiles.js';

export interface ServicesOptions {
  brand: Brand;
  deps: Deps;
  /** --config-dir; else `<PREFIX>_CONFIG_DIR`, else the platform's config dir. */
  configDir?: string | undefined;
  debug?: boolean | undefined;
  /** False with --no-color. */
  color?: boolean | undefined;
  /** Storage for this run (a library caller's choice); else `<PREFIX>_STORAGE`. */
  storage?: StorageSetting | undefined;
  /** Aborted on Ctrl-C. */
  signal?: AbortSignal | undefined;
}

/**
 * The one composition root (gh's `cmd/factory`): every side effect a command, the library or a
 * test uses, each built when first asked for (the keychain binding, undici and conf load only
 * when a command needs them). It holds no rules: flows and stores do.
 */
export interface Services {
  readonly brand: Brand;
  readonly deps: Deps;
  readonly out: Output;
  readonly configDir: string;
  readonly profiles: ProfileStore;
  readonly signal: AbortSignal;
  /** `<PREFIX>_<name>` from the environment (empty counts as unset). */
  env(name: string): string | undefined;
  envName(name: string): string;
  /** `<PREFIX>_STORAGE` (or the library caller's choice) for this run. */
  storageOverride(): StorageSetting | undefined;
  credentials(): Promise<Credentials>;
  keychain(): Promise<KeychainSecretStore>;
  /** The HTTP client, trusting the profile's `caFile` too when it has one. */
  http(profile?: Profile): Promise<Http>;
}

export function createServices(options: ServicesOptions): Services {
  const { brand, deps } = options;
  const envName = (name: string) => `${brand.envPrefix}_${name}`;
  const env = (name: string) => {
    const value = deps.env[envName(name)];
    return value === '' ? undefined : value;
  };
  const color = () => options.color !== false && !deps.env.NO_COLOR && deps.streams.stderr.isTTY === true;
  const out = createOutput(deps.streams, { debug: options.debug === true, color, name: brand.name });
  const configDir = options.configDir || env('CONFIG_DIR') || platformConfigDir(brand.configDirName, deps.env);
  warnIfWorldWritable(configDir, out);
  const profiles = new ProfileStore({
    dir: configDir,
    name: brand.name,
    ...(brand.builtinProfiles ? { builtins: brand.builtinProfiles } : {}),
  });

  const storageOverride = (): StorageSetting | undefined => {
    if (options.storage) return options.storage;
    const value = env('STORAGE');
    if (value === undefined) return undefined;
    if (value !== 'auto' && value !== 'keychain' && value !== 'file')
      throw new UsageError(`${envName('STORAGE')} must be auto, keychain or file, got "${value}"`);
    return value;
  };
  const keychain = async () => {
    const { KeychainSecretStore } = await import('./store/keychain-secrets.js');
    const seconds = Number(env('KEYCHAIN_TIMEOUT') ?? 5);
    return new KeychainSecretStore({
      service: brand.keychainService,
      timeoutMs: (Number.isFinite(seconds) && seconds > 0 ? seconds : 5) * 1000,
      storageEnv: envName('STORAGE'),
      ...(deps.keychain ? { helper: deps.keychain } : { env: deps.env }),
    });
  };
  let credentials: Promise<Credentials> | undefined;

  return {
    brand,
    deps,
    out,
    configDir,
    profiles,
    signal: options.signal ?? new AbortController().signal,
    env,
    envName,
    storageOverride,
    keychain,
    credentials() {
      credentials ??= (async () => {
        const [{ Credentials }, { FileSecretStore }, { keychainLocation, lazySecretStore }] = await Promise.all([
          import('./store/credentials.js'),
          import('./store/file-secrets.js'),
          import('./store/secrets.js'),
        ]);
        const override = storageOverride();
        return new Credentials({
          profiles,
          keychain: lazySecretStore('keychain', keychainLocation(), keychain),
          file: new FileSecretStore({ dir: configDir, service: brand.keychainService, warn: (m) => out.warn(m) }),
          out,
          cliName: brand.name,
          envPrefix: brand.envPrefix,
          ...(override ? { storageOverride: override } : {}),
        });
      })();
      return credentials;
    },
    async http(profile) {
      const { createHttp } = await import('./http.js');
      let extraCa: string | undefined;
      if (profile?.caFile) {
        const { readFile } = await import('node:fs/promises');
        extraCa = await readFile(profile.caFile, 'utf8').catch((error: NodeJS.ErrnoException) => {
          throw new ConfigError(`cannot read the profile's caFile ${profile.caFile}: ${error.code ?? error.message}`, {
            hint: 'Fix the path: profile set <name> ca-file <pem>.',
          });
        });
        if (!extraCa.includes('-----BEGIN CERTIFICATE-----'))
          throw new ConfigError(`the profile's caFile ${profile.caFile} holds no PEM certificate`);
      }
      const timeout = env('HTTP_TIMEOUT');
      const seconds = timeout === undefined ? undefined : Number(timeout);
      if (seconds !== undefined && (!Number.isFinite(seconds) || seconds <= 0))
        throw new UsageError(`${envName('HTTP_TIMEOUT')} must be a number of seconds, got "${timeout}"`);
      return createHttp(
        {
          out,
          userAgent: `${brand.name}/${brand.version} (node ${process.version}; ${process.platform})`,
          ...(extraCa !== undefined ? { extraCa } : {}),
          ...(seconds !== undefined ? { responseTimeoutMs: seconds * 1000 } : {}),
        },
        deps.env,
      );
    },
  };
}

/** A config dir anyone can write to lets them swap the config (the issuer!) under the user. */
function warnIfWorldWritable(dir: string, out: Output): void {
  try {
    const mode = statSync(dir).mode & 0o777;
    if (mode & 0o002)
      out.warn(`${dir} is writable by every user (mode ${mode.toString(8)}): anyone could change your profiles; run: chmod 700 ${dir}`);
  } catch {
    // not created yet
  }
}
