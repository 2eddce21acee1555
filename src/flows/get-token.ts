import { NotLoggedInError, RejectedError, UsageError } from '../errors.js';
import type { Clock } from '../io/clock.js';
import type { Credentials } from '../store/credentials.js';
import type { Profile } from '../store/profile-keys.js';
import type { Http } from '../http.js';
import { relativeTime } from '../io/format.js';
import { credentialProblem, liveness, loginStateOf, use, type Lazy } from '../model.js';
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
  /**
   * `--min-validity`: `marginSeconds` is what the caller needs, not a default margin; a credential
   * that cannot last that long even renewed is exit 3, saying until when it lasts.
   */
  strictMargin?: boolean;
}

export interface GetTokenDeps {
  /** Where the token variables are read; default: this process's environment. */
  env?: NodeJS.ProcessEnv;
  clock: Clock;
  credentials: Lazy<Credentials>;
  /** The HTTP client renewal uses (a function: built only then); absent: an expired credential is final. */
  http?: Lazy<Http>;
}

/** The env var overriding the stored credential, if one is set: `<PREFIX>_TOKEN`, then the profile's `tokenEnv`. */
export function envOverride(
  input: { profile?: Profile | undefined; globalTokenEnv: string },
  env: NodeJS.ProcessEnv,
): { variable: string; token: string } | undefined {
  for (const variable of [input.globalTokenEnv, input.profile?.tokenEnv]) {
    const token = variable ? env[variable]?.trim() : undefined;
    if (variable && token) return { variable, token };
  }
  return undefined;
}

/** How to get a new credential: the way this one came (a CI token is piped again, not a browser login). */
export function loginAgainHint(
  record: Pick<CredentialRecord, 'via'>,
  input: { profileName: string; program?: string | undefined },
): string {
  const program = input.program ?? 'latchkey';
  if (record.via === 'with-token' || record.via === 'token-arg')
    return `Pipe a current token: echo "$TOKEN" | ${program} login --with-token -p ${input.profileName}`;
  if (record.via === 'client-credentials') return `Run: ${program} login --client-credentials -p ${input.profileName}`;
  if (record.via === 'workload') return `Run: ${program} login --workload -p ${input.profileName} (inside the CI job)`;
  return `Run: ${program} login -p ${input.profileName}`;
}

/**
 * The credential `latchkey token` prints: `<PREFIX>_TOKEN`, then the profile's `tokenEnv`, then
 * the stored one, renewed first when it has expired (or is about to).
 */
/** The credential in force, where it came from, and (stored ones) when it ends. */
export interface TokenResult {
  token: string;
  source: TokenSource;
  expiresAt?: string;
}

export async function getToken(input: GetTokenInput, deps: GetTokenDeps): Promise<TokenResult> {
  const override = envOverride(input, deps.env ?? process.env);
  if (override) {
    const problem = credentialProblem(override.token);
    if (problem)
      throw new UsageError(`${override.variable} ${problem}, so it cannot be used`, {
        hint: `Set ${override.variable} to the token alone.`,
      });
    return { token: override.token, source: { type: 'env', variable: override.variable } };
  }

  const credentials = await use(deps.credentials);
  const stored = await credentials.load(input.profileName);
  if (!stored) {
    throw new NotLoggedInError(`profile "${input.profileName}" is not logged in`, {
      hint: `Run: ${input.program ?? 'latchkey'} login -p ${input.profileName}`,
    });
  }
  const { record } = stored;
  const problem = credentialProblem(record.token);
  if (problem) {
    throw new RejectedError(
      `the stored credential of profile "${input.profileName}" ${problem}, so no request can carry it; it was not used`,
      {
        hint: loginAgainHint(record, input),
        code: 'credential_unusable',
      },
    );
  }
  const facts = loginStateOf(record, stored.state.storage);
  const state = liveness(facts, deps.clock.now(), input.marginSeconds);
  if (state === 'live' && !input.forceRenew)
    return withEnd({ token: record.token, source: { type: 'stored', via: record.via } }, record.expiresAt);
  const http = deps.http;
  if (!facts.renewable || !http) {
    const what =
      state === 'live'
        ? 'cannot be renewed (it has no refresh token)'
        : input.strictMargin
          ? tooShort(record.expiresAt, input.marginSeconds ?? 0, deps.clock.now(), 'and cannot be renewed')
          : endOf(record.expiresAt, deps.clock.now());
    throw new NotLoggedInError(`the credential of profile "${input.profileName}" ${what}`, { hint: loginAgainHint(record, input) });
  }
  const { renewCredential } = await import('./renew.js');
  const renewed = await renewCredential(
    { profileName: input.profileName, profile: input.profile, record, cliName: input.program ?? 'latchkey' },
    { credentials, clock: deps.clock, http: () => use(http), ...(deps.env ? { env: deps.env } : {}) },
  );
  if (input.strictMargin && liveness(loginStateOf(renewed, stored.state.storage), deps.clock.now(), input.marginSeconds) !== 'live') {
    // Renewed, and still too short: the IdP or the backend issues shorter credentials than asked.
    throw new NotLoggedInError(
      `the credential of profile "${input.profileName}" ${tooShort(renewed.expiresAt, input.marginSeconds ?? 0, deps.clock.now(), 'even renewed')}`,
      { hint: 'Ask for less (--min-validity), or have the IdP or the backend issue longer-lived credentials.', code: 'token_expired' },
    );
  }
  return withEnd({ token: renewed.token, source: { type: 'stored', via: renewed.via } }, renewed.expiresAt);
}

/** "lasts until T (in 5 min), less than the 3600 s asked for, even renewed". */
function tooShort(expiresAt: string | undefined, seconds: number, now: Date, how: string): string {
  const at = expiresAt === undefined ? Number.NaN : Date.parse(expiresAt);
  const until = Number.isNaN(at) ? 'an unknown time' : `${expiresAt} (${relativeTime(new Date(at), now)})`;
  return `lasts until ${until}, less than the ${seconds} s asked for (--min-validity), ${how}`;
}

/**
 * How a credential that cannot be used ends: "expired at T", or, still inside its renewal margin,
 * "expires in 58 s (at T), too soon to be used, and cannot be renewed" (never "expired" at a
 * time still to come).
 */
export function endOf(expiresAt: string | undefined, now: Date): string {
  const at = expiresAt === undefined ? Number.NaN : Date.parse(expiresAt);
  if (Number.isNaN(at) || at <= now.getTime()) return `expired at ${expiresAt}`;
  return `expires ${relativeTime(new Date(at), now)} (at ${expiresAt}), too soon to be used, and cannot be renewed`;
}

function withEnd(result: TokenResult, expiresAt: string | undefined): TokenResult {
  return expiresAt === undefined ? result : { ...result, expiresAt };
}
