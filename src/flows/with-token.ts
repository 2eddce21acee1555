import { RejectedError, UsageError, NetworkError } from '../errors.js';
import type { Clock } from '../io/clock.js';
import type { Http } from '../http.js';
import type { Credentials } from '../store/credentials.js';
import type { Profile } from '../store/profile-keys.js';
import type { LoginResult, LoginState } from '../model.js';

export type { LoginResult };
import type { CredentialRecord } from '../store/secrets.js';
import { relativeTime } from '../io/format.js';
import { normalizeTokenInput, pastedTokenProblem, peekClaims } from '../token/decode.js';

export interface WithTokenInput {
  profileName: string;
  profile: Profile;
  token: string;
  /** `with-token` (stdin) or `token-arg` (argv). */
  via: 'with-token' | 'token-arg';
  /** The command's name, for hints. */
  cliName?: string;
}

export interface WithTokenDeps {
  credentials: Credentials;
  clock: Clock;
  /** Only called when the profile has a `whoamiPath` to check the token with. */
  http: () => Promise<Http>;
}

/**
 * Store an API key or session token given by CI. When the profile names a `whoamiPath`, the
 * backend is asked first, and a token it refuses is not stored.
 */
export async function loginWithToken(input: WithTokenInput, deps: WithTokenDeps): Promise<LoginResult> {
  const token = normalizeTokenInput(input.token);
  const pipe = `echo "$TOKEN" | ${input.cliName ?? 'latchkey'} login --with-token -p ${input.profileName}`;
  if (!token) throw new UsageError('no token given', { hint: `Pipe it on stdin: ${pipe}` });
  const problem = pastedTokenProblem(token);
  if (problem) throw new UsageError(problem, { hint: `Then pipe it again: ${pipe}` });

  const record: CredentialRecord = { kind: 'api_key', token, obtainedAt: deps.clock.now().toISOString(), via: input.via };
  const claims = peekClaims(token);
  const exp = claims && typeof claims.exp === 'number' && Number.isFinite(claims.exp) ? claims.exp : undefined;
  if (exp !== undefined && exp * 1000 <= deps.clock.now().getTime()) {
    // Stored, it would only make `token` fail later, far from where the mistake was made.
    const at = new Date(exp * 1000);
    throw new RejectedError(
      `the token expired at ${Number.isNaN(at.getTime()) ? exp : `${at.toISOString()} (${relativeTime(at, deps.clock.now())})`};` +
        ' nothing was stored',
      {
        hint: `Pipe a current one: echo "$TOKEN" | ${input.cliName ?? 'latchkey'} login --with-token -p ${input.profileName}`,
        code: 'token_expired',
      },
    );
  }
  if (claims) {
    // Read, not verified: anyone can write any claim into a JWT. Shown labelled as such.
    if (typeof claims.sub === 'string') record.subject = claims.sub;
    if (typeof claims.email === 'string') record.email = claims.email;
    if (record.subject !== undefined || record.email !== undefined) record.identityVerified = false;
    if (typeof claims.exp === 'number' && Number.isFinite(claims.exp)) record.expiresAt = new Date(claims.exp * 1000).toISOString();
  }

  if (input.profile.whoamiPath) {
    if (!input.profile.backendUrl) throw new UsageError(`profile "${input.profileName}" has a whoamiPath but no backendUrl`);
    const who = await checkWithBackend(input.profile.backendUrl + input.profile.whoamiPath, token, await deps.http());
    if (who.subject || who.email) {
      // The backend vouched for who this is: its answer replaces the token's claims.
      delete record.subject;
      delete record.email;
      delete record.identityVerified;
    }
    if (who.subject) record.subject = who.subject;
    if (who.email) record.email = who.email;
  }

  const state = await deps.credentials.save(input.profileName, input.profile, record);
  return resultOf(input.profileName, state);
}

export function resultOf(profile: string, state: LoginState): LoginResult {
  return {
    profile,
    subject: state.subject ?? null,
    email: state.email ?? null,
    identityVerified: state.identityVerified !== false,
    expiresAt: state.expiresAt ?? null,
    storage: state.storage,
  };
}

async function checkWithBackend(url: string, token: string, http: Http): Promise<{ subject?: string; email?: string }> {
  const response = await http.fetch(url, { headers: { authorization: `Bearer ${token}`, accept: 'application/json' }, redirect: 'manual' });
  const body = await response.text().catch(() => '');
  if (response.status === 401 || response.status === 403) {
    let reason = '';
    try {
      const error = (JSON.parse(body) as { error?: unknown }).error;
      if (typeof error === 'string') reason = `: ${error.slice(0, 200)}`;
    } catch {
      // not JSON: status only
    }
    throw new RejectedError(`the backend refused the token (${response.status}${reason}); nothing was stored`, {
      hint: 'Check that the token is current and meant for this backend.',
      code: 'backend_rejected',
    });
  }
  if (!response.ok)
    throw new NetworkError(`the backend's ${new URL(url).pathname} answered ${response.status}; nothing was stored`, {
      hint: 'Try again later.',
    });
  try {
    const who = JSON.parse(body) as Record<string, unknown>;
    const user = (typeof who.user === 'object' && who.user !== null ? who.user : who) as Record<string, unknown>;
    const subject = [user.sub, user.id, user.login, user.username].find((v) => typeof v === 'string' || typeof v === 'number');
    return {
      ...(subject !== undefined ? { subject: String(subject) } : {}),
      ...(typeof user.email === 'string' ? { email: user.email } : {}),
    };
  } catch {
    return {};
  }
}
