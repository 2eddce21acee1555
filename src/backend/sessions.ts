import type { IncomingMessage, ServerResponse } from 'node:http';
import type { JWTPayload } from 'jose';
import {
  createMemorySessionStore,
  SessionStoreUnavailable,
  type EndReason,
  type SessionRecord,
  type SessionStore,
  type StoredSubject,
} from './store.js';
import { subjectKey, type Subject } from './subjects.js';

/**
 * The sessions a backend minted for CLI logins: recorded by the CLI-auth handler, checked at
 * each use, listed and revoked through the session API, ended by the IdP's back-channel logout.
 * Revoking a session (or a logout) also ends the IdP login it came from (its `sid`), so the
 * CLI on the lost laptop cannot refresh its id_token at the IdP and trade it for a new session.
 */

/** What the CLI is told when its session was ended; the CLI shows its own sentence for it. */
export const SESSION_ENDED = 'session_ended';
const ENDED_DESCRIPTION = 'this session was ended (logged out at the IdP, or revoked from another machine)';

export interface SessionsOptions {
  /** Where sessions, ended logins and one-time ids are kept; default: this process's memory. */
  store?: SessionStore;
  now?: () => Date;
  /**
   * How long an ended IdP login stays refused (seconds; default 30 days): at least as long as
   * the IdP's refresh tokens live, since a refreshed id_token keeps the login's `sid`.
   */
  endedLoginTtlSec?: number;
  /** How long an ended session stays in its subject's list (seconds; default one day). */
  keepEndedSec?: number;
  /** A session without an expiry is kept this long (seconds; default 30 days). */
  defaultTtlSec?: number;
}

/** A session's public face: what the session API lists. */
export interface SessionView {
  id: string;
  /** The session the request came with (this machine's). */
  current: boolean;
  machine: string | null;
  user_agent: string | null;
  client_id: string | null;
  created_at: string;
  last_used_at: string;
  expires_at: string | null;
  /** Set once ended: when and why (`revoked`, `logout`, `expired`). */
  ended_at?: string;
  ended_reason?: EndReason;
}

export type SessionCheck =
  | { ok: true; session: SessionRecord }
  | { ok: false; reason: 'session_unknown' | 'session_ended' | 'session_expired'; session?: SessionRecord };

export interface RecordSessionInput {
  token: string;
  subject: Subject;
  claims: JWTPayload;
  expiresAt?: Date | string | number | undefined;
  machine?: string | undefined;
  userAgent?: string | undefined;
}

export interface Sessions {
  readonly store: SessionStore;
  /** Record a session just minted (the handler does). */
  record(input: RecordSessionInput): Promise<SessionRecord>;
  /** A session token's session, when it is live; marks it used. Throws SessionStoreUnavailable. */
  check(token: string): Promise<SessionCheck>;
  /** Whether the IdP login of these verified claims was ended (revoked, logged out): why, or undefined. */
  loginEnded(claims: JWTPayload): Promise<EndReason | undefined>;
  /** The subject's sessions, the caller's marked `current`. */
  list(caller: SessionRecord): Promise<SessionView[]>;
  /** End one of the caller's sessions (and, unless it is the caller's own, its IdP login). */
  revoke(caller: SessionRecord, id: string): Promise<'revoked' | 'not_found'>;
  /** End every session of the caller but the one it came with; answers how many. */
  revokeOthers(caller: SessionRecord): Promise<number>;
  /**
   * End the sessions of an IdP login (`sid`), or of a subject when no `sid` is given (a
   * back-channel logout); answers how many were live.
   */
  endLogin(input: { issuer: string; sid?: string | undefined; sub?: string | undefined }, reason: EndReason): Promise<number>;
  /** One-time use of a token id: true when it was seen before. */
  seen(namespace: string, jti: string, untilSec: number): Promise<boolean>;
}

/**
 * The base64url SHA-256 of a token: what is stored in its place. Web Crypto, so that the package
 * imports nothing but jose (it runs wherever Node's global `crypto` does).
 */
export async function tokenHash(token: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(token));
  return Buffer.from(digest).toString('base64url');
}

const randomId = (): string => Buffer.from(crypto.getRandomValues(new Uint8Array(12))).toString('hex');

const loginKeyOf = (claims: JWTPayload): string | null => {
  if (typeof claims.iss !== 'string') return null;
  if (typeof claims.sid === 'string' && claims.sid !== '') return `sid:${claims.iss} ${claims.sid}`;
  // No sid: a refreshed id_token still carries the original authentication's auth_time (and,
  // at several IdPs, its nonce, which tells apart two logins of the same second).
  if (typeof claims.sub === 'string' && typeof claims.auth_time === 'number')
    return `auth:${claims.iss} ${claims.sub} ${claims.auth_time}${typeof claims.nonce === 'string' ? ` ${claims.nonce}` : ''}`;
  return null;
};
const subjectMarkKey = (issuer: string, sub: string) => `sub:${issuer} ${sub}`;

function toSeconds(value: RecordSessionInput['expiresAt']): number | undefined {
  if (value === undefined) return undefined;
  const ms = typeof value === 'number' ? value * 1000 : new Date(value).getTime();
  return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
}

/** A machine name as the CLI sent it: one short line of printable text, or null. */
export function machineName(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  // eslint-disable-next-line no-control-regex
  const clean = value.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, '').trim();
  return clean === '' ? null : clean.slice(0, 100);
}

export function createSessions(options: SessionsOptions = {}): Sessions {
  const store = options.store ?? createMemorySessionStore(options.now ? { now: options.now } : {});
  const now = options.now ?? (() => new Date());
  const endedLoginTtl = options.endedLoginTtlSec ?? 30 * 86_400;
  const keepEnded = options.keepEndedSec ?? 86_400;
  const defaultTtl = options.defaultTtlSec ?? 30 * 86_400;
  const nowSec = () => Math.floor(now().getTime() / 1000);

  const endLoginOf = async (session: SessionRecord, reason: EndReason) => {
    if (session.loginKey === null) return 0;
    await store.markEnded(session.loginKey, { reason, at: nowSec() }, nowSec() + endedLoginTtl);
    return store.end(await store.idsOfLogin(session.loginKey), reason, now().toISOString());
  };

  const view = (record: SessionRecord, caller: SessionRecord): SessionView => ({
    id: record.id,
    current: record.id === caller.id,
    machine: record.machine,
    user_agent: record.userAgent,
    client_id: record.clientId,
    created_at: record.createdAt,
    last_used_at: record.lastUsedAt,
    expires_at: record.expiresAt,
    ...(record.endedAt ? { ended_at: record.endedAt, ended_reason: record.endedReason! } : {}),
  });

  return {
    store,
    async record(input) {
      const at = now();
      const expires = toSeconds(input.expiresAt);
      const subject: StoredSubject =
        input.subject.kind === 'user'
          ? { kind: 'user', sub: input.subject.sub, ...(input.subject.email ? { email: input.subject.email } : {}) }
          : { kind: 'service', clientId: input.subject.clientId, name: input.subject.name };
      const record: SessionRecord = {
        // Hex: an id is typed on command lines, where a leading "-" would read as an option.
        id: randomId(),
        tokenHash: await tokenHash(input.token),
        subject,
        subjectKey: subjectKey(input.subject),
        clientId: input.subject.kind === 'user' ? (input.subject.clientId ?? null) : input.subject.clientId,
        sid: typeof input.claims.sid === 'string' ? input.claims.sid : null,
        loginKey: loginKeyOf(input.claims),
        createdAt: at.toISOString(),
        lastUsedAt: at.toISOString(),
        expiresAt: expires === undefined ? null : new Date(expires * 1000).toISOString(),
        machine: machineName(input.machine),
        userAgent: machineName(input.userAgent),
      };
      await store.add(record, (expires ?? nowSec() + defaultTtl) + keepEnded);
      return record;
    },
    async check(token) {
      const session = await store.byTokenHash(await tokenHash(token));
      if (!session) return { ok: false, reason: 'session_unknown' };
      if (session.endedAt) return { ok: false, reason: 'session_ended', session };
      if (session.expiresAt !== null && Date.parse(session.expiresAt) <= now().getTime())
        return { ok: false, reason: 'session_expired', session };
      // A use refreshes "last used" at most once a minute: a busy CLI costs no write per request.
      const at = now();
      if (at.getTime() - Date.parse(session.lastUsedAt) >= 60_000) {
        session.lastUsedAt = at.toISOString();
        await store.touch(session.id, session.lastUsedAt);
      }
      return { ok: true, session };
    },
    async loginEnded(claims) {
      const key = loginKeyOf(claims);
      const login = key === null ? undefined : await store.endedMark(key);
      if (login) return login.reason;
      // A logout of the whole subject (a logout token without sid) ends the logins made before it.
      if (typeof claims.iss !== 'string' || typeof claims.sub !== 'string') return undefined;
      const subject = await store.endedMark(subjectMarkKey(claims.iss, claims.sub));
      const authenticatedAt = typeof claims.auth_time === 'number' ? claims.auth_time : claims.iat;
      return subject && typeof authenticatedAt === 'number' && authenticatedAt < subject.at ? subject.reason : undefined;
    },
    async list(caller) {
      const records = await store.list(caller.subjectKey);
      return records
        .sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1))
        .map((record) => {
          if (!record.endedAt && record.expiresAt !== null && Date.parse(record.expiresAt) <= now().getTime())
            return view({ ...record, endedAt: record.expiresAt, endedReason: 'expired' }, caller);
          return view(record, caller);
        });
    },
    async revoke(caller, id) {
      const target = await store.get(id);
      if (!target || target.subjectKey !== caller.subjectKey) return 'not_found';
      // The caller's own session is a logout of this machine: the IdP login in the user's own
      // browser stays good for the next `latchkey login`. Another machine's is ended for good.
      if (target.id === caller.id || target.loginKey === null || target.loginKey === caller.loginKey)
        await store.end([target.id], 'revoked', now().toISOString());
      else await endLoginOf(target, 'revoked');
      return 'revoked';
    },
    async revokeOthers(caller) {
      const others = (await store.list(caller.subjectKey)).filter((r) => r.id !== caller.id && !r.endedAt);
      let ended = 0;
      for (const other of others) {
        if (other.loginKey === null || other.loginKey === caller.loginKey)
          ended += await store.end([other.id], 'revoked', now().toISOString());
        else ended += await endLoginOf(other, 'revoked');
      }
      return ended;
    },
    async endLogin(input, reason) {
      if (input.sid) {
        const key = `sid:${input.issuer} ${input.sid}`;
        await store.markEnded(key, { reason, at: nowSec() }, nowSec() + endedLoginTtl);
        return store.end(await store.idsOfLogin(key), reason, now().toISOString());
      }
      if (!input.sub) return 0;
      await store.markEnded(subjectMarkKey(input.issuer, input.sub), { reason, at: nowSec() }, nowSec() + endedLoginTtl);
      const records = await store.list(subjectKey({ kind: 'user', sub: input.sub }));
      return store.end(
        records.map((r) => r.id),
        reason,
        now().toISOString(),
      );
    },
    seen: (namespace, jti, untilSec) => store.seen(`jti:${namespace} ${jti}`, untilSec),
  };
}

/** An answer to send: status, JSON body, headers (the same shape as the exchange's). */
export interface SessionApiResult {
  status: number;
  body: Record<string, unknown>;
  headers: Record<string, string>;
}

const reply = (status: number, body: Record<string, unknown>, headers: Record<string, string> = {}): SessionApiResult => ({
  status,
  body,
  headers: { 'cache-control': 'no-store', ...headers },
});

/** The 401 of a session that cannot be used: `session_ended` for ended or expired ones (the CLI says so). */
export function sessionRefusal(check: Exclude<SessionCheck, { ok: true }>): SessionApiResult {
  const ended = check.reason !== 'session_unknown';
  return reply(
    401,
    ended
      ? { error: SESSION_ENDED, error_description: check.reason === 'session_expired' ? 'this session has expired' : ENDED_DESCRIPTION }
      : { error: 'invalid_token' },
    { 'www-authenticate': `Bearer error="invalid_token"${ended ? ', error_description="session ended"' : ''}` },
  );
}

/** The 503 of a store that cannot answer: the backend is unavailable, the credential is not at fault. */
export const STORE_UNAVAILABLE = (): SessionApiResult =>
  reply(503, { error: 'temporarily_unavailable', code: 'session_store_unavailable' }, { 'retry-after': '5' });

export interface SessionApiOptions {
  sessions: Sessions;
  /** Where the API is mounted (default `/api/sessions`): `GET` it, `DELETE` `/<id>`, `POST` `/revoke-others`. */
  path?: string;
  onError?(error: unknown): void;
}

/** The plain `node:http` session API, with its three operations for any other framework. */
export interface SessionApiHandler {
  (req: IncomingMessage, res: ServerResponse): void;
  readonly path: string;
  /** `GET path`: the caller's sessions (`Authorization: Bearer <session token>`). */
  list(authorization: string | undefined): Promise<SessionApiResult>;
  /** `DELETE path/<id>`: end one of them. */
  revoke(authorization: string | undefined, id: string): Promise<SessionApiResult>;
  /** `POST path/revoke-others`: end all but the caller's. */
  revokeOthers(authorization: string | undefined): Promise<SessionApiResult>;
}

/**
 * The session API: a user sees the CLI sessions of their own subject (one per machine that
 * logged in, this one marked `current`) and ends one, or all the others. It authenticates with
 * the session token itself, so an ended session cannot end others.
 */
export function createSessionApiHandler(options: SessionApiOptions): SessionApiHandler {
  const { sessions } = options;
  const base = (options.path ?? '/api/sessions').replace(/\/+$/, '');

  const withCaller = async (
    authorization: string | undefined,
    then: (caller: SessionRecord) => Promise<SessionApiResult>,
  ): Promise<SessionApiResult> => {
    const token = /^Bearer +(\S+)$/i.exec(authorization?.trim() ?? '')?.[1];
    if (!token) return reply(401, { error: 'invalid_token' }, { 'www-authenticate': 'Bearer' });
    try {
      const checked = await sessions.check(token);
      if (!checked.ok) return sessionRefusal(checked);
      return await then(checked.session);
    } catch (error) {
      options.onError?.(error);
      if (error instanceof SessionStoreUnavailable) return STORE_UNAVAILABLE();
      return reply(500, { error: 'internal error' });
    }
  };

  const list: SessionApiHandler['list'] = (authorization) =>
    withCaller(authorization, async (caller) => reply(200, { sessions: await sessions.list(caller) }));
  const revoke: SessionApiHandler['revoke'] = (authorization, id) =>
    withCaller(authorization, async (caller) =>
      (await sessions.revoke(caller, id)) === 'revoked'
        ? reply(200, { revoked: [id] })
        : reply(404, { error: 'no such session', code: 'session_not_found' }),
    );
  const revokeOthers: SessionApiHandler['revokeOthers'] = (authorization) =>
    withCaller(authorization, async (caller) => reply(200, { revoked_count: await sessions.revokeOthers(caller) }));

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '').split('?')[0]!.replace(/\/+$/, '');
    const send = (result: SessionApiResult) =>
      void res.writeHead(result.status, { 'content-type': 'application/json', ...result.headers }).end(JSON.stringify(result.body));
    const auth = req.headers.authorization;
    let pending: Promise<SessionApiResult>;
    if (path === base)
      pending = req.method === 'GET' ? list(auth) : Promise.resolve(reply(405, { error: 'method not allowed' }, { allow: 'GET' }));
    else if (path === `${base}/revoke-others`)
      pending =
        req.method === 'POST' ? revokeOthers(auth) : Promise.resolve(reply(405, { error: 'method not allowed' }, { allow: 'POST' }));
    else if (path.startsWith(`${base}/`) && !path.slice(base.length + 1).includes('/'))
      pending =
        req.method === 'DELETE'
          ? revoke(auth, safeDecode(path.slice(base.length + 1)))
          : Promise.resolve(reply(405, { error: 'method not allowed' }, { allow: 'DELETE' }));
    else pending = Promise.resolve(reply(404, { error: 'not found' }));
    req.resume();
    pending.then(send, (error: unknown) => {
      options.onError?.(error);
      send(reply(500, { error: 'internal error' }));
    });
  };
  return Object.assign(handler, { path: base, list, revoke, revokeOthers });
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
