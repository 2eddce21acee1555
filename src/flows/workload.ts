import { boundedText } from '../io/body.js';
import { readFile, stat } from 'node:fs/promises';
import { FailureError, NetworkError, RejectedError, UsageError } from '../errors.js';
import type { Clock } from '../io/clock.js';
import { safeLine } from '../io/text.js';
import { requireWebUrl } from '../io/urls.js';
import type { Http } from '../http.js';
import type { Credentials } from '../store/credentials.js';
import type { Profile } from '../store/profile-keys.js';
import type { CredentialRecord } from '../store/secrets.js';
import { audiences, peekClaims } from '../token/decode.js';
import { resultOf, type LoginResult } from './with-token.js';

/**
 * `login --workload` (DESIGN, "Workload identity"): the CI platform's own OIDC token for the
 * backend's audience, exchanged at the backend's CLI-auth endpoint like an id_token. The record
 * keeps where the token came from, never the token: `token` fetches a new one when the session is
 * due (platform tokens live minutes), so nothing long-lived is stored.
 */

/** Where a platform token comes from, as `--workload` takes it. */
export type WorkloadSource = 'github' | 'gitlab' | 'kubernetes' | `file:${string}` | `env:${string}`;

/** Where Kubernetes projects a service-account token by default (a `serviceAccountToken` volume at /var/run/secrets/tokens). */
export const KUBERNETES_TOKEN_PATH = '/var/run/secrets/tokens/latchkey';

/** A platform token is a few kB; an endpoint that sends more is refused as it reads. */
const MAX_TOKEN_ANSWER_BYTES = 64 * 1024;

/** `--workload`'s value: one of the platforms, `auto`, `file:PATH` or `env:NAME`. */
export function parseWorkloadSource(raw: string): WorkloadSource | 'auto' {
  const value = raw.trim();
  if (value === 'auto' || value === 'github' || value === 'gitlab' || value === 'kubernetes') return value;
  if (value.startsWith('file:') && value.length > 'file:'.length) return value as `file:${string}`;
  if (/^env:[A-Za-z_][A-Za-z0-9_]*$/.test(value)) return value as `env:${string}`;
  throw new UsageError(`--workload takes auto, github, gitlab, kubernetes, file:PATH or env:NAME, got "${safeLine(value, 80)}"`);
}

/** The platform this process runs on, from the variables each one sets. */
export function detectWorkloadSource(env: NodeJS.ProcessEnv, profile: Profile): WorkloadSource {
  if (env.GITHUB_ACTIONS === 'true' || env.ACTIONS_ID_TOKEN_REQUEST_URL) return 'github';
  if (env.GITLAB_CI === 'true' || (profile.workloadTokenEnv && env[profile.workloadTokenEnv])) return 'gitlab';
  if (env.KUBERNETES_SERVICE_HOST) return 'kubernetes';
  throw new UsageError('login --workload found no CI platform identity here (not GitHub Actions, GitLab CI or Kubernetes)', {
    hint: 'Name the token: --workload file:PATH or --workload env:NAME; without a platform identity use login --with-token.',
  });
}

/** The audience asked for: the profile's `workloadAudience`, else the origin of its backend. */
export function workloadAudience(profile: Profile): string {
  if (profile.workloadAudience) return profile.workloadAudience;
  if (!profile.backendUrl) throw new UsageError('login --workload needs a profile with a backendUrl (the backend verifies the token)');
  return new URL(profile.backendUrl).origin;
}

export interface WorkloadTokenDeps {
  http: Http;
  /** The job's environment (the platform's variables). */
  env: NodeJS.ProcessEnv;
}

/** A fresh platform token from the source, for the audience. */
export async function fetchWorkloadToken(
  source: WorkloadSource,
  input: { profile: Profile; profileName: string; audience: string },
  deps: WorkloadTokenDeps,
): Promise<string> {
  const { env } = deps;
  let token: string;
  if (source === 'github') token = await githubToken(input.audience, deps);
  else if (source === 'gitlab') {
    const name = input.profile.workloadTokenEnv;
    if (!name)
      throw new UsageError(`profile "${input.profileName}" names no variable for GitLab's token (workloadTokenEnv)`, {
        hint:
          'Give the job an id_tokens: entry (e.g. LATCHKEY_ID_TOKEN: { aud: <backend origin> }) and run:' +
          ` latchkey profile set ${input.profileName} workload-token-env LATCHKEY_ID_TOKEN`,
      });
    token = fromVariable(name, env, 'the job needs an id_tokens: entry of that name, with aud the backend');
  } else if (source.startsWith('env:')) token = fromVariable(source.slice(4), env, 'set it to the platform token');
  else token = await fromFile(source === 'kubernetes' ? KUBERNETES_TOKEN_PATH : source.slice(5));
  checkTokenShape(token, input.audience, source);
  return token;
}

/**
 * GitHub Actions: `GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=…` with the request token, answer
 * `{"value": jwt}` (what @actions/core's getIDToken does). The two variables exist only in a job
 * whose workflow grants `permissions: id-token: write`.
 */
async function githubToken(audience: string, { http, env }: WorkloadTokenDeps): Promise<string> {
  const url = env.ACTIONS_ID_TOKEN_REQUEST_URL;
  const bearer = env.ACTIONS_ID_TOKEN_REQUEST_TOKEN;
  if (!url || !bearer)
    throw new UsageError('GitHub Actions gives this job no OIDC token (ACTIONS_ID_TOKEN_REQUEST_URL/_TOKEN are not set)', {
      hint: 'The workflow (or the job) needs: permissions: { id-token: write } (a pull request from a fork never gets it).',
      code: 'workload_no_identity',
    });
  let target: URL;
  try {
    target = requireWebUrl(url);
  } catch (error) {
    throw new FailureError(`ACTIONS_ID_TOKEN_REQUEST_URL is refused: ${(error as Error).message}`, { code: 'workload_token_endpoint' });
  }
  target.searchParams.set('audience', audience);
  const host = target.host;
  const response = await http.fetch(target.href, {
    headers: { authorization: `Bearer ${bearer}`, accept: 'application/json' },
    redirect: 'manual',
  });
  const text = await boundedText(
    response,
    MAX_TOKEN_ANSWER_BYTES,
    () => new Error(`answered more than ${MAX_TOKEN_ANSWER_BYTES / 1024} KiB, which no token needs`),
  ).catch((error: Error) => {
    throw new FailureError(`GitHub's OIDC token endpoint (${host}) ${error.message}; nothing was stored`, {
      code: 'workload_token_endpoint',
    });
  });
  if (response.status === 401 || response.status === 403)
    throw new RejectedError(
      `GitHub's OIDC token endpoint (${host}) refused the job's request token (${response.status}); nothing was stored`,
      {
        hint: 'The request token lives as long as the job: run login --workload inside the job that needs it.',
        code: 'workload_token_endpoint',
      },
    );
  if (!response.ok)
    throw new NetworkError(`GitHub's OIDC token endpoint (${host}) answered ${response.status}; nothing was stored`, {
      hint: 'Try again.',
    });
  let value: unknown;
  try {
    value = (JSON.parse(text) as { value?: unknown } | null)?.value;
  } catch {
    throw new FailureError(`GitHub's OIDC token endpoint (${host}) did not answer JSON; nothing was stored`, {
      code: 'workload_token_endpoint',
    });
  }
  if (typeof value !== 'string' || value === '')
    throw new FailureError(`GitHub's OIDC token endpoint (${host}) answered without a token ("value"); nothing was stored`, {
      code: 'workload_token_endpoint',
    });
  return value;
}

function fromVariable(name: string, env: NodeJS.ProcessEnv, hint: string): string {
  const value = env[name]?.trim();
  if (!value) throw new UsageError(`the variable ${name} holds no workload token`, { hint, code: 'workload_no_identity' });
  return value;
}

async function fromFile(path: string): Promise<string> {
  try {
    if ((await stat(path)).size > MAX_TOKEN_ANSWER_BYTES) throw new Error(`it is larger than ${MAX_TOKEN_ANSWER_BYTES} bytes`);
    return (await readFile(path, 'utf8')).trim();
  } catch (error) {
    const why = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'it does not exist' : (error as Error).message;
    throw new UsageError(`cannot read the workload token file ${safeLine(path, 200)}: ${why}`, {
      hint: 'Kubernetes: project a serviceAccountToken with the backend as audience there (or give --workload file:PATH).',
      code: 'workload_no_identity',
    });
  }
}

/**
 * The token is a JWT for the audience asked for: a platform that answers with another audience
 * (a token endpoint that ignores the parameter, a file projected for another service) is said
 * here, before the backend refuses it with less to go on.
 */
function checkTokenShape(token: string, audience: string, source: WorkloadSource): void {
  const claims = peekClaims(token);
  if (!claims) throw new FailureError(`the ${sourceName(source)} token is not a JWT; nothing was stored`, { code: 'workload_bad_token' });
  const aud = audiences(claims);
  if (!aud.includes(audience))
    throw new FailureError(
      `the ${sourceName(source)} token is for audience ${safeLine(JSON.stringify(aud), 200)}, not ${audience}; nothing was stored`,
      {
        hint: 'Ask the platform for the backend as audience (GitLab id_tokens: aud, Kubernetes audiences:), or set the profile key workloadAudience.',
        code: 'workload_bad_token',
      },
    );
}

function sourceName(source: WorkloadSource): string {
  if (source === 'github') return 'GitHub Actions';
  if (source === 'gitlab') return 'GitLab CI';
  if (source === 'kubernetes') return 'Kubernetes service-account';
  return source.startsWith('env:') ? `${source.slice(4)} variable's` : `${source.slice(5)} file's`;
}

export interface WorkloadLoginInput {
  profileName: string;
  profile: Profile;
  source: WorkloadSource | 'auto';
  cliName: string;
}

export interface WorkloadLoginDeps {
  http: Http;
  clock: Clock;
  credentials: Credentials;
  env: NodeJS.ProcessEnv;
}

/** Fetch the platform token, exchange it at the backend, store the session and where the token came from. */
export async function loginWithWorkload(input: WorkloadLoginInput, deps: WorkloadLoginDeps): Promise<LoginResult> {
  const source = input.source === 'auto' ? detectWorkloadSource(deps.env, input.profile) : input.source;
  const record = await workloadSession(source, input, deps);
  return resultOf(input.profileName, await deps.credentials.save(input.profileName, input.profile, record));
}

/** A new session for the stored workload login: a fresh platform token, exchanged again (`token`). */
export async function renewWorkloadSession(
  input: { profileName: string; profile: Profile; record: CredentialRecord; cliName: string },
  deps: WorkloadLoginDeps,
): Promise<CredentialRecord> {
  const source = parseWorkloadSource(input.record.workloadSource ?? '');
  if (source === 'auto') throw new UsageError('the stored workload login names no token source');
  const record = await workloadSession(source, input, deps);
  await deps.credentials.save(input.profileName, input.profile, record);
  return record;
}

async function workloadSession(
  source: WorkloadSource,
  input: { profileName: string; profile: Profile; cliName: string },
  deps: WorkloadLoginDeps,
): Promise<CredentialRecord> {
  const { profile } = input;
  const audience = workloadAudience(profile);
  const token = await fetchWorkloadToken(source, { profile, profileName: input.profileName, audience }, deps);
  const { exchangeForSession } = await import('./complete.js');
  const session = await exchangeForSession(
    { profileName: input.profileName, profile, idToken: token, cliName: input.cliName, workload: true },
    deps,
  );
  const record: CredentialRecord = { ...session, obtainedAt: deps.clock.now().toISOString(), via: 'workload', workloadSource: source };
  return record;
}
