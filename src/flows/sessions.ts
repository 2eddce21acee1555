import { backendUnavailable, FailureError, NotLoggedInError, RejectedError, sessionEnded } from '../errors.js';
import { protectedResourceMetadataUrl } from '../discovery.js';
import type { Http } from '../http.js';
import { safeLine } from '../io/text.js';
import type { Profile } from '../model.js';

/**
 * `sessions`: the profile's sessions at its backend (one per machine that logged in), from the
 * backend's session API (latchkey/backend's `createSessionApiHandler`): list them, end one (a
 * lost laptop), or end all the others. The API is the profile's `sessionsPath`, else the
 * `sessions_endpoint` of the backend's RFC 9728 resource metadata. It authenticates with the
 * profile's own session, so a machine whose session was ended is told so here too.
 */

export interface BackendSession {
  id: string;
  current: boolean;
  machine: string | null;
  userAgent: string | null;
  clientId: string | null;
  createdAt: string;
  lastUsedAt: string;
  expiresAt: string | null;
  endedAt?: string;
  endedReason?: string;
}

export interface SessionsInput {
  profileName: string;
  profile: Profile;
  cliName: string;
}

export interface SessionsDeps {
  http: Http;
  /** The profile's credential; `true` renews it first (after a 401). */
  token(forceRenew: boolean): Promise<string>;
}

/** Where the session API is: the profile's `sessionsPath`, else what the backend advertises. */
export async function sessionsEndpoint(input: SessionsInput, http: Http): Promise<URL> {
  const backend = requireBackend(input);
  const origin = new URL(backend).origin;
  if (input.profile.sessionsPath) return new URL(backend.replace(/\/+$/, '') + input.profile.sessionsPath);
  const metadataUrl = protectedResourceMetadataUrl(backend);
  const unsupported = (why: string) =>
    new FailureError(`the backend at ${origin} has no session API that latchkey can find (${why})`, {
      hint: `If it has one, set its path: ${input.cliName} profile set ${input.profileName} sessions-path /api/sessions`,
      code: 'sessions_unsupported',
    });
  const response = await http.fetch(metadataUrl, { headers: { accept: 'application/json' }, redirect: 'manual' });
  if (response.status === 404) {
    await response.body?.cancel();
    throw unsupported('it publishes no resource metadata');
  }
  if (!response.ok) {
    await response.body?.cancel();
    if (response.status === 503) throw backendUnavailable(new URL(metadataUrl).host + new URL(metadataUrl).pathname, '');
    throw unsupported(`its resource metadata answered ${response.status}`);
  }
  let advertised: unknown;
  try {
    advertised = ((await response.json()) as { sessions_endpoint?: unknown } | null)?.sessions_endpoint;
  } catch {
    throw unsupported('its resource metadata is not JSON');
  }
  if (typeof advertised !== 'string' || !URL.canParse(advertised, backend))
    throw unsupported('its resource metadata names no sessions_endpoint');
  const url = new URL(advertised, backend);
  // The credential goes to the profile's backend only.
  if (url.origin !== origin) throw unsupported(`its sessions_endpoint ${safeLine(url.origin, 100)} is on another origin`);
  return url;
}

function requireBackend(input: SessionsInput): string {
  if (!input.profile.backendUrl)
    throw new FailureError(`profile "${input.profileName}" has no backend, so it has no backend sessions`, {
      hint: `Set one: ${input.cliName} profile set ${input.profileName} backend-url https://api.example.com`,
      code: 'sessions_unsupported',
    });
  return input.profile.backendUrl;
}

/** One call to the session API with the profile's session; a 401 renews it once, as `api` does. */
async function call(
  input: SessionsInput,
  deps: SessionsDeps,
  method: 'GET' | 'DELETE' | 'POST',
  url: URL,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const send = async (token: string) => {
    const response = await deps.http.fetch(url.href, {
      method,
      headers: { accept: 'application/json', authorization: `Bearer ${token}` },
      redirect: 'manual',
    });
    const text = await response.text();
    let body: Record<string, unknown> = {};
    try {
      const parsed = JSON.parse(text) as unknown;
      if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
    } catch {
      // not JSON: judged by its status below
    }
    return { status: response.status, body };
  };
  let answer = await send(await deps.token(false));
  if (answer.status === 401 && answer.body.error !== 'session_ended') {
    try {
      answer = await send(await deps.token(true));
    } catch (error) {
      if (!(error instanceof NotLoggedInError)) throw error;
    }
  }
  const where = `${url.host}${url.pathname}`;
  if (answer.status === 401 && answer.body.error === 'session_ended') throw sessionEnded(input);
  if (answer.status === 401)
    throw new RejectedError(`the backend's session API (${where}) refused the credential of profile "${input.profileName}" (401)`, {
      hint: `Log in again: ${input.cliName} login -p ${input.profileName}`,
    });
  if (answer.status === 503) throw backendUnavailable(where, '');
  if (answer.status === 404 && method === 'GET')
    throw new FailureError(`the backend has no session API at ${where} (404)`, {
      hint: `Check the profile's sessionsPath: ${input.cliName} profile set ${input.profileName} sessions-path /api/sessions`,
      code: 'sessions_unsupported',
    });
  return answer;
}

const text = (value: unknown): string | null => (typeof value === 'string' ? value : null);

/** The profile's sessions at its backend, newest first, this machine's marked `current`. */
export async function listSessions(input: SessionsInput, deps: SessionsDeps): Promise<BackendSession[]> {
  const url = await sessionsEndpoint(input, deps.http);
  const { status, body } = await call(input, deps, 'GET', url);
  if (status !== 200 || !Array.isArray(body.sessions))
    throw new FailureError(`the backend's session API (${url.host}${url.pathname}) answered ${status} without a session list`);
  return (body.sessions as Array<Record<string, unknown>>).map((s) => {
    const session: BackendSession = {
      id: String(s.id),
      current: s.current === true,
      machine: text(s.machine),
      userAgent: text(s.user_agent),
      clientId: text(s.client_id),
      createdAt: String(s.created_at),
      lastUsedAt: String(s.last_used_at),
      expiresAt: text(s.expires_at),
    };
    if (typeof s.ended_at === 'string') session.endedAt = s.ended_at;
    if (typeof s.ended_reason === 'string') session.endedReason = s.ended_reason;
    return session;
  });
}

/** End one session (its id from `sessions`). */
export async function revokeSession(input: SessionsInput & { id: string }, deps: SessionsDeps): Promise<{ revoked: string[] }> {
  const base = await sessionsEndpoint(input, deps.http);
  const url = new URL(`${base.pathname.replace(/\/+$/, '')}/${encodeURIComponent(input.id)}`, base);
  const { status } = await call(input, deps, 'DELETE', url);
  if (status === 404)
    throw new FailureError(`no session ${safeLine(input.id, 80)} of profile "${input.profileName}" at the backend`, {
      hint: `List them: ${input.cliName} sessions -p ${input.profileName}`,
      code: 'session_not_found',
    });
  if (status !== 200) throw new FailureError(`the backend's session API answered ${status} to the revocation`);
  return { revoked: [input.id] };
}

/** End every session of the profile's subject but this machine's. */
export async function revokeOtherSessions(input: SessionsInput, deps: SessionsDeps): Promise<{ revokedCount: number }> {
  const base = await sessionsEndpoint(input, deps.http);
  const url = new URL(`${base.pathname.replace(/\/+$/, '')}/revoke-others`, base);
  const { status, body } = await call(input, deps, 'POST', url);
  if (status !== 200) throw new FailureError(`the backend's session API answered ${status} to the revocation`);
  return { revokedCount: typeof body.revoked_count === 'number' ? body.revoked_count : 0 };
}
