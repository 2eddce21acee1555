/**
 * Where the backend half keeps what outlives a request: the sessions it minted, the IdP logins
 * that were ended (so a refreshed id_token of one cannot mint a new session), and the one-time
 * ids (`jti`) already seen. One small interface, so that every instance of a backend can share
 * it: in memory by default (one process), Redis for several (src/backend/redis-store.ts). The
 * contract tests (test/integration/session-store.test.ts) run against both.
 */

/** Why a session ended: revoked from a session list, logged out at the IdP, or past its end. */
export type EndReason = 'revoked' | 'logout' | 'expired';

/** The subject of a session, as stored (no claims). */
export type StoredSubject = { kind: 'user'; sub: string; email?: string } | { kind: 'service'; clientId: string; name: string };

/** One session the CLI-auth handler minted. The token itself is never stored: its SHA-256 is. */
export interface SessionRecord {
  id: string;
  /** base64url SHA-256 of the session token. */
  tokenHash: string;
  subject: StoredSubject;
  /** `user:<sub>` or `service:<client id>`: whose list it is in. */
  subjectKey: string;
  /** The client the id_token was issued to (the CLI's). */
  clientId: string | null;
  /** The IdP's session id (`sid` of the id_token), when it sent one. */
  sid: string | null;
  /** The IdP login it came from (`sid`, else `sub` + `auth_time`): what revoking it bans. */
  loginKey: string | null;
  createdAt: string;
  lastUsedAt: string;
  expiresAt: string | null;
  /** The machine name the CLI sent (its host name), and its User-Agent. */
  machine: string | null;
  userAgent: string | null;
  endedAt?: string;
  endedReason?: EndReason;
}

/** A mark that something ended: why and when. */
export interface EndMark {
  reason: EndReason;
  /** Epoch seconds. */
  at: number;
}

export interface SessionStore {
  /** Record a new session, kept until `keepUntilSec` (epoch seconds). */
  add(session: SessionRecord, keepUntilSec: number): Promise<void>;
  get(id: string): Promise<SessionRecord | undefined>;
  byTokenHash(tokenHash: string): Promise<SessionRecord | undefined>;
  /** The sessions of a subject (`subjectKey`), ended ones included while they are kept. */
  list(subjectKey: string): Promise<SessionRecord[]>;
  /** The ids of the sessions minted from one IdP login (`loginKey`). */
  idsOfLogin(loginKey: string): Promise<string[]>;
  /** Note a use (best effort: a lost update only makes "last used" older). */
  touch(id: string, atIso: string): Promise<void>;
  /** End sessions that are not ended yet; answers how many it ended. */
  end(ids: readonly string[], reason: EndReason, atIso: string): Promise<number>;
  /** Mark a key (an IdP login, a subject) as ended, until `untilSec`. */
  markEnded(key: string, mark: EndMark, untilSec: number): Promise<void>;
  endedMark(key: string): Promise<EndMark | undefined>;
  /** One-time use: records `key` until `untilSec` and answers whether it was there already (atomically). */
  seen(key: string, untilSec: number): Promise<boolean>;
  /** Let go of connections (a Redis client); the memory store has none. */
  close(): Promise<void>;
}

/** The store cannot answer (Redis unreachable): the handlers answer 503, never a refusal. */
export class SessionStoreUnavailable extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SessionStoreUnavailable';
  }
}

export interface MemorySessionStoreOptions {
  /** The current time; default: the system clock. */
  now?: () => Date;
}

/**
 * The default store: one process's memory. Every method changes the maps before its first
 * `await`, so a caller that does not wait still sees the change at once. Entries are dropped
 * once past their time, as the store is used.
 */
/* eslint-disable @typescript-eslint/require-await -- async for the interface; no method awaits, on purpose (above) */
export function createMemorySessionStore(options: MemorySessionStoreOptions = {}): SessionStore {
  const now = options.now ?? (() => new Date());
  const sessions = new Map<string, { record: SessionRecord; until: number }>();
  const byHash = new Map<string, string>();
  const bySubject = new Map<string, Set<string>>();
  const byLogin = new Map<string, Set<string>>();
  const marks = new Map<string, { mark: EndMark; until: number }>();
  const seenKeys = new Map<string, number>();
  const nowSec = () => Math.floor(now().getTime() / 1000);
  let lastSweep = 0;

  const index = (map: Map<string, Set<string>>, key: string, id: string) => {
    let set = map.get(key);
    if (!set) map.set(key, (set = new Set()));
    set.add(id);
  };
  const unindex = (map: Map<string, Set<string>>, key: string | null, id: string) => {
    if (key === null) return;
    const set = map.get(key);
    set?.delete(id);
    if (set?.size === 0) map.delete(key);
  };
  /** Drop what is past its time, at most once a second. */
  const sweep = () => {
    const t = nowSec();
    if (t === lastSweep) return;
    lastSweep = t;
    for (const [id, { record, until }] of sessions)
      if (until <= t) {
        sessions.delete(id);
        byHash.delete(record.tokenHash);
        unindex(bySubject, record.subjectKey, id);
        unindex(byLogin, record.loginKey, id);
      }
    for (const [key, { until }] of marks) if (until <= t) marks.delete(key);
    for (const [key, until] of seenKeys) if (until <= t) seenKeys.delete(key);
  };
  const live = (id: string | undefined) => {
    if (id === undefined) return undefined;
    const entry = sessions.get(id);
    return entry && entry.until > nowSec() ? { ...entry.record } : undefined;
  };

  return {
    add: async (session, keepUntilSec) => {
      sweep();
      sessions.set(session.id, { record: { ...session }, until: keepUntilSec });
      byHash.set(session.tokenHash, session.id);
      index(bySubject, session.subjectKey, session.id);
      if (session.loginKey !== null) index(byLogin, session.loginKey, session.id);
    },
    get: async (id) => live(id),
    byTokenHash: async (hash) => live(byHash.get(hash)),
    list: async (subjectKey) => {
      sweep();
      return [...(bySubject.get(subjectKey) ?? [])].map((id) => live(id)).filter((r): r is SessionRecord => r !== undefined);
    },
    idsOfLogin: async (loginKey) => [...(byLogin.get(loginKey) ?? [])],
    touch: async (id, atIso) => {
      const entry = sessions.get(id);
      if (entry) entry.record.lastUsedAt = atIso;
    },
    end: async (ids, reason, atIso) => {
      let ended = 0;
      for (const id of ids) {
        const entry = sessions.get(id);
        if (!entry || entry.record.endedAt) continue;
        entry.record.endedAt = atIso;
        entry.record.endedReason = reason;
        ended += 1;
      }
      return ended;
    },
    markEnded: async (key, mark, untilSec) => {
      const existing = marks.get(key);
      marks.set(key, {
        mark: existing && existing.mark.at > mark.at ? existing.mark : mark,
        until: Math.max(untilSec, existing?.until ?? 0),
      });
    },
    endedMark: async (key) => {
      const entry = marks.get(key);
      return entry && entry.until > nowSec() ? { ...entry.mark } : undefined;
    },
    seen: async (key, untilSec) => {
      sweep();
      const until = seenKeys.get(key);
      if (until !== undefined && until > nowSec()) return true;
      seenKeys.set(key, untilSec);
      return false;
    },
    close: async () => undefined,
  };
}
/* eslint-enable @typescript-eslint/require-await */
