import { NotLoggedInError } from '../errors.js';
import type { Clock } from '../io/clock.js';
import type { Credentials } from '../store/credentials.js';
import type { Profile } from '../store/profile-keys.js';
import type { LoginState } from '../store/profiles.js';
import type { CredentialRecord } from '../store/secrets.js';

/** Where the credential in force comes from, as `status` and `token` report it. */
export type TokenSource = { type: 'env'; variable: string } | { type: 'stored'; via: string };

export interface GetTokenInput {
  profileName: string;
  profile: Profile;
  /** The `<PREFIX>_TOKEN` variable name, e.g. LATCHKEY_TOKEN. */
  globalTokenEnv: string;
  /** Program name for hints (`latchkey`, or an embedding CLI's). */
  program?: string;
  /** Renew a credential that expires within this many seconds. */
  marginSeconds?: number;
  /** Renew even when it has not expired (`token --refresh`). */
  forceRenew?: boolean;
}

export interface GetTokenDeps {
  env: NodeJS.ProcessEnv;
  clock: Clock;
  credentials: () => Promise<Credentials>;
  /** Renew an expired record (refresh or re-mint) and store it; absent: expired is final. */
  renew?: (stored: { record: CredentialRecord; state: LoginState }) => Promise<CredentialRecord>;
}

/** The env var overriding the stored credential, if one is set: `<PREFIX>_TOKEN`, then the profile's `tokenEnv`. */
export function envOverride(input: { profile?: Profile | undefined; globalTokenEnv: string }, env: NodeJS.ProcessEnv): { variable: string; token: string } | undefined {
  for (const variable of [input.globalTokenEnv, input.profile?.tokenEnv]) {
    const token = variable ? env[variable]?.trim() : undefined;
    if (variable && token) return { variable, token };
  }
  return undefined;
}

/** How to get a new credential: the way this one came (a CI token is piped again, not a browser login). */
export function loginAgainHint(record: Pick<CredentialRecord, 'via'>, input: { profileName: string; program?: string | undefined }): string {
  const program = input.program ?? 'latchkey';
  if (record.via === 'with-token' || record.via === 'token-arg') return `Pipe a current token: echo "$TOKEN" | ${program} login --with-token -p ${input.profileName}`;
  if (record.via === 'client-credentials') return `Run: ${program} login --client-credentials -p ${input.profileName}`;
  return `Run: ${program} login -p ${input.profileName}`;
}

/**
 * The credential `latchkey token` prints: `<PREFIX>_TOKEN`, then the profile's `tokenEnv`, then
 * the stored one, renewed first when it has expired (or is about to).
 */
export async function getToken(input: GetTokenInput, deps: GetTokenDeps): Promise<{ token: string; source: TokenSource }> {
  const override = envOverride(input, deps.env);
  if (override) return { token: override.token, source: { type: 'env', variable: override.variable } };

  const credentials = await deps.credentials();
  const stored = await credentials.load(input.profileName);
  if (!stored) {
    throw new NotLoggedInError(`profile "${input.profileName}" is not logged in`, { hint: `Run: ${input.program ?? 'latchkey'} login -p ${input.profileName}` });
  }
  const { record } = stored;
  // A service token is re-minted at will, so it is used until 30 s before it ends; a user's is renewed a minute early.
  const margin = (input.marginSeconds ?? (record.kind === 'service' ? 30 : 60)) * 1000;
  const expired = record.expiresAt !== undefined && Date.parse(record.expiresAt) - margin <= deps.clock.now().getTime();
  if (expired || input.forceRenew) {
    const renewable = record.refreshToken !== undefined || record.kind === 'service';
    if (!renewable || !deps.renew) {
      const what = expired ? `expired at ${record.expiresAt}` : 'cannot be renewed (it has no refresh token)';
      throw new NotLoggedInError(`the credential of profile "${input.profileName}" ${what}`, { hint: loginAgainHint(record, input) });
    }
    const renewed = await deps.renew(stored);
    return { token: renewed.token, source: { type: 'stored', via: renewed.via } };
  }
  return { token: record.token, source: { type: 'stored', via: record.via } };
}
