import { credentialProblem } from '../model.js';
import { backendUnavailable, FailureError, latchkeyErrorIn, NetworkError, RejectedError, sessionEnded } from '../errors.js';
import type { Clock } from '../io/clock.js';
import type { Http } from '../http.js';
import { safeLine } from '../io/text.js';
import { audiences, peekClaims } from '../token/decode.js';

export interface ExchangeInput {
  profileName: string;
  backendUrl: string;
  exchangePath: string;
  encoding: 'form' | 'json';
  /** The CLI's Native client id: named in the diagnosis when the backend refuses. */
  clientId: string;
  idToken: string;
  /** The command users run instead (`latchkey`, or an embedding CLI's name). */
  cliName: string;
  /** This machine's name (its host name), sent as `machine` for the backend's session list. */
  machine?: string;
  /** The token is a CI platform's (`login --workload`), not an id_token of the CLI's client: refusals say so. */
  workload?: boolean;
}

export interface ExchangedCredential {
  token: string;
  expiresAt?: string;
  subject?: string;
  email?: string;
}

/** The keys a backend may put the credential under, in the order they are looked for. */
export const CREDENTIAL_KEYS = ['token', 'session_token', 'access_token', 'api_key', 'key'] as const;

/**
 * Trade the id_token for the backend's own credential: `POST backendUrl + exchangePath`.
 * A refusal (401/403) is explained from the id_token itself, because the usual cause is a
 * backend that does not trust tokens issued to the CLI's client id.
 */
export async function exchangeIdToken(input: ExchangeInput, http: Http, clock: Clock): Promise<ExchangedCredential> {
  const url = input.backendUrl.replace(/\/+$/, '') + input.exchangePath;
  const fields: Record<string, string> = { token: input.idToken, ...(input.machine ? { machine: input.machine } : {}) };
  const body = input.encoding === 'json' ? JSON.stringify(fields) : new URLSearchParams(fields).toString();
  const response = await http.fetch(url, {
    method: 'POST',
    headers: {
      'content-type': input.encoding === 'json' ? 'application/json' : 'application/x-www-form-urlencoded',
      accept: 'application/json',
    },
    body,
    redirect: 'manual',
  });
  const text = await response.text().catch((error: unknown) => {
    // A body over the size limit is the one reading failure worth its own message.
    const ours = latchkeyErrorIn(error);
    if (ours) throw ours;
    return '';
  });
  const where = `${new URL(url).host}${input.exchangePath}`;

  // The IdP login this id_token belongs to was ended at the backend (a revocation, a logout).
  if (response.status === 401 && errorCode(text) === 'session_ended') throw sessionEnded(input);
  if (response.status === 403 && errorCode(text) === 'workload_refused') throw workloadRefused(input, text, where);
  if (response.status === 401 || response.status === 403) throw refused(input, response.status, errorText(text), where);
  if (response.status === 404) {
    throw new FailureError(`the backend has no CLI-auth endpoint at ${where} (404); nothing was stored`, {
      hint:
        `Check the profile's exchangePath (${input.cliName} profile set ${input.profileName} exchange-path /your/path),` +
        ` or ask the backend team for the endpoint. Meanwhile: ${input.cliName} login --with-token`,
      code: 'exchange_not_found',
    });
  }
  if (response.status === 503 && /cannot verify/i.test(errorText(text)))
    throw new NetworkError(`the backend cannot verify tokens right now (${where} answered 503); nothing was stored`, {
      hint:
        'This is on the backend side (its IdP settings, or the IdP out of its reach), not your login or client id:' +
        ' try again later, or tell the backend team.',
      code: 'backend_cannot_verify',
    });
  if (response.status === 503 && errorCode(text) === 'session_store_unavailable') throw backendUnavailable(where);
  if (response.status >= 500)
    throw new NetworkError(`the backend's ${where} answered ${response.status}; nothing was stored`, { hint: 'Try again later.' });
  if (response.status < 200 || response.status >= 300) {
    const reason = errorText(text);
    throw new FailureError(`the backend's ${where} answered ${response.status}${reason ? ` (${reason})` : ''}; nothing was stored`, {
      code: 'exchange_failed',
    });
  }

  let answer: Record<string, unknown>;
  try {
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
    answer = parsed as Record<string, unknown>;
  } catch {
    throw new FailureError(`the backend's ${where} answered ${response.status} without a JSON object; nothing was stored`, {
      hint:
        `Is ${where} the CLI-auth endpoint? It must answer JSON with the credential ({"token": …}).` +
        ` Check the profile's exchangePath (${input.cliName} profile set ${input.profileName} exchange-path /your/path),` +
        ` or ask the backend team.`,
      code: 'exchange_bad_response',
    });
  }
  const key = CREDENTIAL_KEYS.find((k) => typeof answer[k] === 'string' && answer[k] !== '');
  if (!key) {
    const keys =
      Object.keys(answer)
        .slice(0, 20)
        .map((k) => safeLine(k, 40))
        .join(', ') || 'none';
    throw new FailureError(
      `the backend's answer has no credential (looked for ${CREDENTIAL_KEYS.join(', ')}; it had: ${keys}); nothing was stored`,
      {
        hint: 'Ask the backend team to return the credential under one of those keys.',
        code: 'exchange_no_credential',
      },
    );
  }
  const problem = credentialProblem(answer[key] as string);
  if (problem) {
    throw new FailureError(`the credential in the backend's answer (${key}) ${problem}, so no request could carry it; nothing was stored`, {
      hint: 'Ask the backend team: its CLI-auth endpoint answered with a credential that is not a valid HTTP header value.',
      code: 'exchange_bad_response',
    });
  }
  const result: ExchangedCredential = { token: answer[key] as string };
  const expiresAt = expiryOf(answer, clock);
  if (expiresAt) result.expiresAt = expiresAt;
  const user = typeof answer.user === 'object' && answer.user !== null ? (answer.user as Record<string, unknown>) : {};
  const claims = peekClaims(input.idToken) ?? {};
  const subject = [user.sub, user.id, user.login, claims.sub].find((v) => typeof v === 'string' || typeof v === 'number');
  if (subject !== undefined) result.subject = String(subject);
  const email = [user.email, claims.email].find((v) => typeof v === 'string');
  if (typeof email === 'string') result.email = email;
  return result;
}

/** The backend's workload policy refused the token: its reason, and who the token says the job is. */
function workloadRefused(input: ExchangeInput, text: string, where: string): RejectedError {
  let reason = '';
  try {
    const value = (JSON.parse(text) as { reason?: unknown }).reason;
    if (typeof value === 'string') reason = safeLine(value, 300);
  } catch {
    // errorCode parsed it: not reached
  }
  return new RejectedError(`the backend's policy refused this workload at ${where}${reason ? `: ${reason}` : ''}; nothing was stored`, {
    details: [workloadIdentity(input.idToken)],
    hint: "Run it from a repository, ref and environment the backend's workload policy admits, or ask the backend team to admit this one.",
    code: 'workload_refused',
  });
}

/** Who a platform token says the job is: issuer, audience, subject (read, not verified). */
function workloadIdentity(token: string): string {
  const claims = peekClaims(token) ?? {};
  const text = (name: string) => (typeof claims[name] === 'string' ? safeLine(claims[name], 200) : '?');
  return `The workload token: iss ${text('iss')}, aud ${safeLine(JSON.stringify(audiences(claims)), 200)}, sub ${text('sub')}.`;
}

function refused(input: ExchangeInput, status: number, reason: string, where: string): RejectedError {
  if (input.workload)
    return new RejectedError(
      `the backend refused the workload login at ${where} (${status}${reason ? ` ${reason}` : ''}); nothing was stored`,
      {
        details: [
          workloadIdentity(input.idToken),
          "The backend must verify this platform's tokens (createWorkloadVerifier with its issuer, and the audience asked for).",
        ],
        hint: 'Check the token is current and for the backend audience (profile key workloadAudience), or ask the backend team.',
        code: 'backend_rejected',
      },
    );
  const claims = peekClaims(input.idToken) ?? {};
  const aud = audiences(claims);
  const details = [
    `The id_token it was given: iss ${typeof claims.iss === 'string' ? claims.iss : '?'}, aud ${JSON.stringify(aud)},` +
      ` azp ${typeof claims.azp === 'string' ? claims.azp : '(none)'}.`,
    `The backend must trust id_tokens issued to client ${input.clientId}:` +
      ` its CLI-auth endpoint has to verify them against the IdP's keys and accept that client id as an audience.`,
  ];
  return new RejectedError(`the backend refused the login at ${where} (${status}${reason ? ` ${reason}` : ''}); nothing was stored`, {
    details,
    hint: `Workaround: create an API key in the web app and run: ${input.cliName} login --with-token -p ${input.profileName}`,
    code: 'backend_rejected',
  });
}

/** The backend's `error` (or `message`) text, short and on one line; never the whole body. */
function errorText(text: string): string {
  try {
    const parsed = JSON.parse(text) as Record<string, unknown>;
    const value = [parsed.error_description, parsed.error, parsed.message].find((v) => typeof v === 'string');
    return typeof value === 'string' ? safeLine(value, 200) : '';
  } catch {
    return '';
  }
}

/** The backend's machine-readable `error` or `code` (`session_ended`, `session_store_unavailable`). */
export function errorCode(text: string): string | undefined {
  try {
    const parsed = JSON.parse(text) as Record<string, unknown>;
    if (parsed.error === 'session_ended') return 'session_ended';
    return typeof parsed.code === 'string' ? parsed.code : typeof parsed.error === 'string' ? parsed.error : undefined;
  } catch {
    return undefined;
  }
}

function expiryOf(answer: Record<string, unknown>, clock: Clock): string | undefined {
  // A date no Date can hold (1e300 s) is no expiry at all, not a crash.
  const iso = (ms: number) => (Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : undefined);
  const at = answer.expires_at;
  if (typeof at === 'string' && !Number.isNaN(Date.parse(at))) return iso(Date.parse(at));
  if (typeof at === 'number' && Number.isFinite(at)) return iso(at * 1000);
  const ttl = answer.expires_in;
  if (typeof ttl === 'number' && Number.isFinite(ttl) && ttl > 0) return iso(clock.now().getTime() + ttl * 1000);
  return undefined;
}
