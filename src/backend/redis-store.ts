import { SessionStoreUnavailable, type EndMark, type SessionRecord, type SessionStore } from './store.js';

/**
 * The session store on Redis, for a backend that runs as several instances: a session minted by
 * one is checked by the others, a logout delivered to one ends it for all, an id_token used at
 * one is refused at another. The client is the `redis` package (node-redis), an optional peer
 * dependency loaded on first use: a backend that keeps sessions in memory never loads it.
 *
 * Keys (under `prefix`, default `latchkey:`): `s:<id>` a hash (the record's JSON, last used,
 * ended), `h:<token hash>` → id, `u:<subject>` and `l:<login>` sets of ids, `m:<key>` an end
 * mark, `j:<key>` a one-time id. Every key expires with what it is about.
 */

export interface RedisSessionStoreOptions {
  /** `redis://[user:password@]host:port[/db]` (or `rediss://`). */
  url: string;
  /** Key prefix, so one Redis can serve several backends; default `latchkey:`. */
  prefix?: string;
  /** A command (or the first connection) that takes longer fails (milliseconds; default 2000). */
  timeoutMs?: number;
  /** Told of connection errors (node-redis reconnects by itself meanwhile). */
  onError?(error: unknown): void;
}

/** The part of a node-redis client this store uses (v4 to v6 alike). */
interface RedisClient {
  connect(): Promise<unknown>;
  sendCommand(args: string[]): Promise<unknown>;
  on(event: 'error' | 'ready', listener: (arg?: unknown) => void): unknown;
  readonly isReady: boolean;
  close?(): Promise<unknown>;
  quit?(): Promise<unknown>;
  destroy?(): void;
  disconnect?(): Promise<unknown>;
}

// Atomic steps, one round trip each.
const ADD = `
local ttl = 0
redis.call('HSET', KEYS[1], 'data', ARGV[1], 'lastUsedAt', ARGV[2])
redis.call('EXPIREAT', KEYS[1], ARGV[3])
redis.call('SET', KEYS[2], ARGV[4], 'EXAT', ARGV[3])
for i = 3, #KEYS do
  redis.call('SADD', KEYS[i], ARGV[4])
  ttl = redis.call('TTL', KEYS[i])
  if ttl < 0 or ttl < tonumber(ARGV[3]) - tonumber(ARGV[5]) then redis.call('EXPIREAT', KEYS[i], ARGV[3]) end
end
return 1`;
const BY_HASH = `
local id = redis.call('GET', KEYS[1])
if not id then return false end
local fields = redis.call('HGETALL', ARGV[1] .. id)
if #fields == 0 then return false end
return fields`;
const TOUCH = `if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'lastUsedAt', ARGV[1]) end return 1`;
const END = `
local n = 0
for i = 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 and redis.call('HSETNX', KEYS[i], 'endedAt', ARGV[1]) == 1 then
    redis.call('HSET', KEYS[i], 'endedReason', ARGV[2])
    n = n + 1
  end
end
return n`;
const MARK = `
local old = redis.call('GET', KEYS[1])
if old then
  local at = tonumber(cjson.decode(old).at)
  if at > tonumber(ARGV[3]) then ARGV[1] = old end
  local ttl = redis.call('TTL', KEYS[1])
  if ttl > tonumber(ARGV[2]) - tonumber(ARGV[4]) then redis.call('SET', KEYS[1], ARGV[1], 'KEEPTTL') return 1 end
end
redis.call('SET', KEYS[1], ARGV[1], 'EXAT', ARGV[2])
return 1`;

/**
 * Sessions, ended logins and one-time ids in Redis. A Redis that cannot be reached makes every
 * call throw `SessionStoreUnavailable` within `timeoutMs` (the handlers answer 503), never wait
 * in a queue: node-redis's offline queue is off.
 */
export function createRedisSessionStore(options: RedisSessionStoreOptions): SessionStore {
  if (typeof options.url !== 'string' || !/^rediss?:\/\//.test(options.url))
    throw new TypeError(`createRedisSessionStore: url must be a redis:// or rediss:// URL, got ${JSON.stringify(options.url)}`);
  const prefix = options.prefix ?? 'latchkey:';
  const timeoutMs = options.timeoutMs ?? 2000;
  const where = (() => {
    try {
      return new URL(options.url).host;
    } catch {
      return 'Redis';
    }
  })();
  let client: RedisClient | undefined;
  let connecting: Promise<RedisClient> | undefined;
  let closed = false;

  const unavailable = (why: string, cause?: unknown) =>
    new SessionStoreUnavailable(`the session store (Redis at ${where}) ${why}`, { cause });

  async function open(): Promise<RedisClient> {
    let module: { createClient(options: Record<string, unknown>): RedisClient };
    try {
      module = await import('redis');
    } catch (error) {
      throw new TypeError(
        'createRedisSessionStore needs the redis package (node-redis): npm install redis' + ` (${(error as Error).message})`,
      );
    }
    const made = module.createClient({
      url: options.url,
      disableOfflineQueue: true,
      socket: { connectTimeout: timeoutMs, reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 2000) },
    });
    made.on('error', (error) => options.onError?.(error));
    client = made;
    // The first connection is waited for (with the timeout); after it, node-redis reconnects by itself.
    void made.connect().catch((error: unknown) => options.onError?.(error));
    return made;
  }

  let firstReady: Promise<unknown> | undefined;
  async function ready(): Promise<RedisClient> {
    if (closed) throw unavailable('was closed');
    if (client?.isReady) return client;
    connecting ??= open();
    const made = await connecting;
    if (made.isReady) return made;
    // One listener for every caller waiting on the first connection (each with its timeout).
    firstReady ??= new Promise((resolve) => made.on('ready', resolve));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([firstReady, new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
    if (!made.isReady) throw unavailable('cannot be reached');
    return made;
  }

  async function run(args: string[]): Promise<unknown> {
    const redis = await ready();
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        redis.sendCommand(args),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(unavailable(`did not answer within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } catch (error) {
      if (error instanceof SessionStoreUnavailable) throw error;
      throw unavailable(`failed: ${(error as Error).message}`, error);
    } finally {
      clearTimeout(timer);
    }
  }
  const evalScript = (script: string, keys: string[], args: Array<string | number>) =>
    run(['EVAL', script, String(keys.length), ...keys, ...args.map(String)]);

  const key = {
    session: (id: string) => `${prefix}s:${id}`,
    hash: (hash: string) => `${prefix}h:${hash}`,
    subject: (subject: string) => `${prefix}u:${subject}`,
    login: (login: string) => `${prefix}l:${login}`,
    mark: (mark: string) => `${prefix}m:${mark}`,
    once: (once: string) => `${prefix}j:${once}`,
  };

  /** A record from HGETALL: a flat [field, value, …] list (RESP2, and from scripts) or a map (RESP3). */
  function recordOf(fields: unknown): SessionRecord | undefined {
    const map = new Map<string, string>();
    if (Array.isArray(fields)) for (let i = 0; i + 1 < fields.length; i += 2) map.set(String(fields[i]), String(fields[i + 1]));
    else if (fields instanceof Map) for (const [k, v] of fields) map.set(String(k), String(v));
    else if (fields !== null && typeof fields === 'object') for (const [k, v] of Object.entries(fields)) map.set(k, String(v));
    const data = map.get('data');
    if (data === undefined) return undefined;
    const record = JSON.parse(data) as SessionRecord;
    record.lastUsedAt = map.get('lastUsedAt') ?? record.lastUsedAt;
    const endedAt = map.get('endedAt');
    if (endedAt) {
      record.endedAt = endedAt;
      record.endedReason = (map.get('endedReason') ?? 'revoked') as SessionRecord['endedReason'] & string;
    }
    return record;
  }
  const nowSec = () => Math.floor(Date.now() / 1000);

  return {
    async add(session, keepUntilSec) {
      const data: Partial<SessionRecord> = { ...session };
      delete data.endedAt;
      delete data.endedReason;
      const { lastUsedAt } = session;
      const keys = [key.session(session.id), key.hash(session.tokenHash), key.subject(session.subjectKey)];
      if (session.loginKey !== null) keys.push(key.login(session.loginKey));
      await evalScript(ADD, keys, [JSON.stringify(data), lastUsedAt, keepUntilSec, session.id, nowSec()]);
    },
    async get(id) {
      return recordOf(await run(['HGETALL', key.session(id)]));
    },
    async byTokenHash(hash) {
      const fields = await evalScript(BY_HASH, [key.hash(hash)], [`${prefix}s:`]);
      return fields ? recordOf(fields) : undefined;
    },
    async list(subjectKey) {
      const ids = (await run(['SMEMBERS', key.subject(subjectKey)])) as string[];
      const records = await Promise.all(ids.map(async (id) => ({ id, record: recordOf(await run(['HGETALL', key.session(id)])) })));
      const gone = records.filter((r) => !r.record).map((r) => r.id);
      if (gone.length > 0) await run(['SREM', key.subject(subjectKey), ...gone]);
      return records.map((r) => r.record).filter((r): r is SessionRecord => r !== undefined);
    },
    async idsOfLogin(loginKey) {
      return ((await run(['SMEMBERS', key.login(loginKey)])) as string[]).map(String);
    },
    async touch(id, atIso) {
      await evalScript(TOUCH, [key.session(id)], [atIso]);
    },
    async end(ids, reason, atIso) {
      if (ids.length === 0) return 0;
      return Number(await evalScript(END, ids.map(key.session), [atIso, reason]));
    },
    async markEnded(markKey, mark: EndMark, untilSec) {
      await evalScript(MARK, [key.mark(markKey)], [JSON.stringify(mark), untilSec, mark.at, nowSec()]);
    },
    async endedMark(markKey) {
      const value = await run(['GET', key.mark(markKey)]);
      return typeof value === 'string' ? (JSON.parse(value) as EndMark) : undefined;
    },
    async seen(onceKey, untilSec) {
      const set = await run(['SET', key.once(onceKey), '1', 'NX', 'EXAT', String(Math.max(untilSec, nowSec() + 1))]);
      return set === null || set === undefined;
    },
    async close() {
      closed = true;
      const made = client;
      client = undefined;
      if (!made) return;
      try {
        if (made.isReady) await (made.close ?? made.quit)?.call(made);
        else (made.destroy ?? made.disconnect)?.call(made);
      } catch {
        // already gone
      }
    },
  };
}
