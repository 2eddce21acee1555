import type { IncomingMessage, ServerResponse } from 'node:http';
import type { JWTPayload } from 'jose';
import { SESSION_ENDED, tokenHash, type Sessions } from './sessions.js';
import { SessionStoreUnavailable } from './store.js';
import type { Subject } from './subjects.js';
import { UNAVAILABLE_REASONS, type IdTokenVerifier, type VerifyFailureReason } from './verifier.js';
import type { WorkloadVerifier } from './workload.js';

export interface MintedSession {
  token: string;
  /** When the session ends: a Date, an ISO string or epoch seconds. */
  expiresAt?: Date | string | number;
}

/** Why a login was refused: the verifier's reasons, or the handler's own. */
export type RefusalReason = VerifyFailureReason | 'unknown_user' | 'token_reused' | 'jti_missing' | 'session_ended';

/** What the hooks are told about the request being answered. */
export interface ExchangeContext {
  /** The HTTP request, when the exchange came through the handler. */
  request?: IncomingMessage;
  /** The verified claims, once the token was verified. */
  claims?: JWTPayload;
  /** Who they name, once verified. */
  subject?: Subject;
  /** The machine name the CLI sent (its `machine` field), recorded with the session. */
  machine?: string;
  /** The client's User-Agent (the handler reads it from the request). */
  userAgent?: string;
}

export interface CliAuthHandlerOptions<User> {
  verifier: IdTokenVerifier;
  /**
   * Platforms whose workload tokens (CI jobs, pods) are taken beside the id_tokens
   * (`createWorkloadVerifier`): a token whose `iss` is one of theirs is verified by it alone, and
   * becomes the `service` subject its policy names. A policy's refusal answers
   * `403 {"error":"workload_refused","reason":…}`: the job's owner needs the reason, and it names
   * only what the token itself says.
   */
  workloadVerifiers?: readonly WorkloadVerifier[];
  /**
   * Map the verified claims (`sub`, `email`, …) and their subject (a `user`, or one of the
   * verifier's `serviceClients`) to one of your users; null refuses the login.
   */
  findUser(claims: JWTPayload, subject: Subject): Promise<User | null> | User | null;
  mintSession(user: User, claims: JWTPayload): Promise<MintedSession> | MintedSession;
  /** How the user is shown in the answer (default: `{ sub, email }` from the claims). */
  describeUser?(user: User, claims: JWTPayload): unknown;
  /** Told why a login was refused (for the log); the reason is never sent to the client. */
  onRefused?(reason: RefusalReason, message: string, context: ExchangeContext): void;
  /** Told of an error thrown by findUser, mintSession or describeUser; the client gets a 500. */
  onError?(error: unknown, context: ExchangeContext): void;
  /**
   * One-time use of id_tokens: called with each verified token's `jti`; answer true when it was
   * seen before (the login is refused). With this hook, a token without `jti` is refused.
   */
  seenTokenId?(jti: string, claims: JWTPayload): Promise<boolean> | boolean;
  /** Largest request body accepted (bytes); default 16 KiB. */
  maxBodyBytes?: number;
  /**
   * Record every session minted here (`createSessions()`), so that it can be listed, revoked,
   * and ended by the IdP's back-channel logout. With it, an id_token of an IdP login that was
   * ended is refused (`session_ended`), and an id_token is used once (its `jti`, else its hash)
   * across every instance sharing the store, unless `seenTokenId` decides that.
   */
  sessions?: Sessions;
  /** The session API's path (or URL) on this backend, sent as `sessions_endpoint` in the answer. */
  sessionsEndpoint?: string;
}

/** An answer to send: status, JSON body, extra headers. Frameworks send it their own way. */
export interface ExchangeResult {
  status: number;
  body: Record<string, unknown>;
  headers: Record<string, string>;
}

/** The plain `node:http` handler, with the exchange itself for any other framework. */
export interface CliAuthHandler {
  (req: IncomingMessage, res: ServerResponse): void;
  /**
   * Trade a token (the `token` field a client sent) for a session: the answer to send. For
   * Fastify, Koa, Hono or a handler of your own:
   * `const { status, headers, body } = await cliAuth.exchange(request.body?.token)`.
   */
  exchange(token: unknown, context?: ExchangeContext): Promise<ExchangeResult>;
}

const answer = (status: number, body: Record<string, unknown>, headers: Record<string, string> = {}): ExchangeResult => ({
  status,
  body,
  headers: { 'cache-control': 'no-store', ...headers },
});
const BAD_CREDENTIALS = () => answer(403, { error: 'Bad credentials' });
const LOGIN_ENDED = () =>
  answer(401, {
    error: SESSION_ENDED,
    error_description: 'this login was ended (logged out at the IdP, or revoked from another machine): log in again',
  });
const UNAVAILABLE = () => answer(503, { error: 'temporarily_unavailable', code: 'session_store_unavailable' }, { 'retry-after': '5' });

/**
 * `POST /api/cli-auth`: trades a CLI's id_token (form `token=…` or JSON `{"token": …}`) for a
 * session of this backend. Answers `{token, expires_at, user}`; `403 {"error":"Bad credentials"}`
 * whatever the token's fault, which goes to `onRefused` (the log) and not to the caller; `503`
 * when the backend cannot verify any token (its issuer setting, the IdP out of reach), so the CLI
 * does not blame the user's client. Mounted after Express's `express.json()` or
 * `express.urlencoded()` it reads `req.body`; a body something else already read is a 400
 * saying so, never a wait.
 */
export function createCliAuthHandler<User>(options: CliAuthHandlerOptions<User>): CliAuthHandler {
  const limit = options.maxBodyBytes ?? 16 * 1024;
  const workloads = options.workloadVerifiers ?? [];
  /** The workload verifier of the token's (unverified) `iss`: which check it gets, not whether it passes. */
  const workloadVerifierFor = (token: string): WorkloadVerifier | undefined => {
    if (workloads.length === 0) return undefined;
    let iss: unknown;
    try {
      iss = (JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { iss?: unknown } | null)?.iss;
    } catch {
      return undefined;
    }
    return typeof iss === 'string' ? workloads.find((verifier) => verifier.issuer === iss) : undefined;
  };

  const exchange = async (token: unknown, context: ExchangeContext = {}): Promise<ExchangeResult> => {
    if (typeof token !== 'string' || token === '') return answer(400, { error: 'token required' });
    const verified = await (workloadVerifierFor(token) ?? options.verifier)(token);
    if (!verified.ok) {
      options.onRefused?.(verified.reason, verified.message, context);
      if (verified.reason === 'workload_refused') return answer(403, { error: 'workload_refused', reason: verified.message.slice(0, 500) });
      if (UNAVAILABLE_REASONS.has(verified.reason))
        return answer(503, { error: 'cannot verify tokens right now', code: 'verifier_unavailable' }, { 'retry-after': '30' });
      return BAD_CREDENTIALS();
    }
    const { claims, subject } = verified;
    const withClaims = { ...context, claims, subject };
    try {
      if (options.sessions) {
        if (await options.sessions.loginEnded(claims)) {
          options.onRefused?.('session_ended', `the IdP login of this token (sid ${String(claims.sid)}) was ended`, withClaims);
          return LOGIN_ENDED();
        }
        if (!options.seenTokenId) {
          const once = typeof claims.jti === 'string' && claims.jti !== '' ? claims.jti : await tokenHash(token);
          if (await options.sessions.seen('id_token', once, (typeof claims.exp === 'number' ? claims.exp : 0) + 300)) {
            options.onRefused?.('token_reused', `the token ${once} was used before`, withClaims);
            return BAD_CREDENTIALS();
          }
        }
      }
      if (options.seenTokenId) {
        if (typeof claims.jti !== 'string' || claims.jti === '') {
          options.onRefused?.('jti_missing', 'the token has no jti, and one-time use is required (seenTokenId)', withClaims);
          return BAD_CREDENTIALS();
        }
        if (await options.seenTokenId(claims.jti, claims)) {
          options.onRefused?.('token_reused', `the token ${claims.jti} was used before`, withClaims);
          return BAD_CREDENTIALS();
        }
      }
      const user = await options.findUser(claims, subject);
      if (user === null || user === undefined) {
        options.onRefused?.('unknown_user', `no user for sub ${String(claims.sub)}`, withClaims);
        return BAD_CREDENTIALS();
      }
      const session = await options.mintSession(user, claims);
      const recorded = await options.sessions?.record({
        token: session.token,
        subject,
        claims,
        expiresAt: session.expiresAt,
        machine: context.machine,
        userAgent: context.userAgent ?? headerOf(context.request, 'user-agent'),
      });
      return answer(200, {
        token: session.token,
        expires_at: expiresAtIso(session.expiresAt),
        user: options.describeUser ? options.describeUser(user, claims) : { sub: claims.sub, email: claims.email ?? null },
        ...(recorded ? { session_id: recorded.id } : {}),
        ...(options.sessionsEndpoint ? { sessions_endpoint: options.sessionsEndpoint } : {}),
      });
    } catch (error) {
      options.onError?.(error, withClaims);
      // The store out of reach is the backend unavailable, not a refused login.
      if (error instanceof SessionStoreUnavailable) return UNAVAILABLE();
      return answer(500, { error: 'internal error' });
    }
  };

  const respond = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method !== 'POST') return writeAnswer(res, answer(405, { error: 'method not allowed' }, { allow: 'POST' }));
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/x-www-form-urlencoded' && type !== 'application/json') {
      return writeAnswer(res, answer(415, { error: 'send application/x-www-form-urlencoded or application/json' }));
    }
    const parsed = tokenFromParsedBody((req as { body?: unknown }).body, type);
    let token: unknown = parsed.token;
    let machine: unknown = parsed.machine;
    if (!parsed.found) {
      // Nothing parsed it: read it here; something read it without leaving a token: say so.
      if (req.readableEnded || (req as { _body?: unknown })._body === true) {
        return writeAnswer(res, answer(400, { error: 'the request body was already read by a body parser that left no token field' }));
      }
      const body = await readBody(req, limit);
      if (body === undefined) return writeAnswer(res, answer(413, { error: 'request body too large' }, { connection: 'close' }));
      const read = tokenFromText(body, type);
      if (read.invalid) return writeAnswer(res, answer(400, { error: 'invalid JSON' }));
      token = read.token;
      machine = read.machine;
    }
    writeAnswer(res, await exchange(token, { request: req, ...(typeof machine === 'string' ? { machine } : {}) }));
  };

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    respond(req, res).catch((error: unknown) => {
      options.onError?.(error, { request: req });
      if (!res.headersSent) writeAnswer(res, answer(500, { error: 'internal error' }));
      else res.destroy();
    });
  };
  return Object.assign(handler, { exchange });
}

function writeAnswer(res: ServerResponse, { status, body, headers }: ExchangeResult): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

/** The token (and machine name) of a body a framework parsed already (Express's `req.body`): an object or the text. */
function tokenFromParsedBody(body: unknown, type: string): { found: boolean; token?: unknown; machine?: unknown } {
  if (typeof body === 'string') return { found: true, ...tokenFromText(body, type) };
  if (Buffer.isBuffer(body)) return { found: true, ...tokenFromText(body.toString('utf8'), type) };
  if (body !== null && typeof body === 'object' && Object.hasOwn(body, 'token'))
    return { found: true, token: (body as { token: unknown }).token, machine: (body as { machine?: unknown }).machine };
  return { found: false };
}

function tokenFromText(text: string, type: string): { token?: unknown; machine?: unknown; invalid?: boolean } {
  if (type !== 'application/json') {
    const form = new URLSearchParams(text);
    return { token: form.get('token'), machine: form.get('machine') ?? undefined };
  }
  try {
    const parsed = JSON.parse(text) as { token?: unknown; machine?: unknown } | null;
    return { token: parsed?.token, machine: parsed?.machine };
  } catch {
    return { invalid: true };
  }
}

function headerOf(request: IncomingMessage | undefined, name: string): string | undefined {
  const value = request?.headers[name];
  return typeof value === 'string' ? value : undefined;
}

function expiresAtIso(value: MintedSession['expiresAt']): string | null {
  if (value === undefined) return null;
  const date = typeof value === 'number' ? new Date(value * 1000) : new Date(value);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

/** The body as text, or undefined when it is larger than `limit` (the rest is not read). */
function readBody(req: IncomingMessage, limit: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      req.resume();
      return resolve(undefined);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
