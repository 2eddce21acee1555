import type { Profile } from '../store/profile-keys.js';

/** What makes the CLI "latchkey" or an embedding product's own (`acmectl`). */
export interface Brand {
  /** Program name in help, messages and completions. */
  name: string;
  /** Prefix of the environment variables: `LATCHKEY` → LATCHKEY_TOKEN, LATCHKEY_PROFILE… */
  envPrefix: string;
  /** Keychain service name. */
  keychainService: string;
  /** Directory name under the platform config dir. */
  configDirName: string;
  version: string;
  /** Profiles that exist without `profile add` (a product's `prod`/`stage`). */
  builtinProfiles?: Record<string, Profile>;
  /** Values every profile added with `profile add` starts from (a product's issuer, client id…). */
  defaults?: Partial<Profile>;
  /** One line under the usage in `--help`. */
  description?: string;
}

export const LATCHKEY_BRAND: Brand = {
  name: 'latchkey',
  envPrefix: 'LATCHKEY',
  keychainService: 'latchkey',
  configDirName: 'latchkey',
  version: '0.1.0',
};
