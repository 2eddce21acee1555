import { NotLoggedInError } from '../errors.js';
import type { CredentialRecord } from '../model.js';

export type { CredentialRecord };

/**
 * Secrets behind one small interface, so the OS keychain and the file fallback (and any other
 * backend) are interchangeable. Values are opaque strings; the credential record is JSON on top.
 */
export interface SecretStore {
  /** `keychain` or `file`: what `status` reports. */
  readonly kind: 'keychain' | 'file';
  /** A human name of where secrets go (the file path, or the keychain's name). */
  readonly location: string;
  get(account: string): Promise<string | null>;
  /** Replace the secret atomically: on failure the previous one is still there. */
  set(account: string, secret: string): Promise<void>;
  /** True when something was deleted. */
  delete(account: string): Promise<boolean>;
  list(): Promise<string[]>;
}

/** What the OS keychain is called here. */
export function keychainLocation(platform = process.platform): string {
  return platform === 'darwin' ? 'macOS Keychain' : platform === 'win32' ? 'Windows Credential Manager' : 'Secret Service';
}

/**
 * A store whose module and backend load on its first call: the keychain of a run that only reads
 * the credentials file is never loaded.
 */
export function lazySecretStore(kind: SecretStore['kind'], location: string, load: () => Promise<SecretStore>): SecretStore {
  let store: Promise<SecretStore> | undefined;
  const loaded = () => (store ??= load());
  return {
    kind,
    location,
    get: async (account) => (await loaded()).get(account),
    set: async (account, secret) => (await loaded()).set(account, secret),
    delete: async (account) => (await loaded()).delete(account),
    list: async () => (await loaded()).list(),
  };
}

export function serializeRecord(record: CredentialRecord): string {
  return JSON.stringify(record);
}

/**
 * The stored record, or a table error (exit 3) that says where it is and what to do: a record
 * that does not parse is as good as none, and logging in again replaces it.
 */
export function parseRecord(text: string, where: string, relogin: string): CredentialRecord {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new NotLoggedInError(`the credential stored in ${where} is not valid JSON`, { hint: relogin, code: 'credential_corrupt' });
  }
  const record = value as Partial<CredentialRecord>;
  if (typeof record !== 'object' || record === null || typeof record.token !== 'string' || typeof record.kind !== 'string') {
    throw new NotLoggedInError(`the credential stored in ${where} is not a credential record`, {
      hint: relogin,
      code: 'credential_corrupt',
    });
  }
  return record as CredentialRecord;
}
