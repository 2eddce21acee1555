import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createMemorySessionStore,
  createRedisSessionStore,
  createSessions,
  SessionStoreUnavailable,
  type SessionRecord,
  type SessionStore,
} from '../../src/backend/index.js';
import { freePort } from '../helpers/idp-browser.js';
import { redisAvailable, removeRedis, startRedis, type RedisServer } from '../helpers/redis.js';

// One contract, two stores: what the sessions, the logout handler and the CLI-auth handler rely
// on holds in memory and on a real redis-server alike.
const nowSec = () => Math.floor(Date.now() / 1000);
function record(overrides: Partial<SessionRecord> = {}): SessionRecord {
  const id = randomBytes(6).toString('hex');
  const at = new Date().toISOString();
  return {
    id,
    tokenHash: `hash-${id}`,
    subject: { kind: 'user', sub: 'ada', email: 'ada@example.com' },
    subjectKey: 'user:ada',
    clientId: 'cli',
    sid: `sid-${id}`,
    loginKey: `sid:iss sid-${id}`,
    createdAt: at,
    lastUsedAt: at,
    expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
    machine: 'laptop',
    userAgent: 'latchkey/0.1.0',
    ...overrides,
  };
}

function contract(name: string, make: () => SessionStore | Promise<SessionStore>) {
  describe(`the session store contract: ${name}`, () => {
    let store: SessionStore;
    beforeAll(async () => {
      store = await make();
    });
    afterAll(() => store.close());
    const subject = () => `user:${randomBytes(4).toString('hex')}`;

    it('add, get, byTokenHash, list: the record as it was added, no token anywhere', async () => {
      const who = subject();
      const one = record({ subjectKey: who });
      const two = record({ subjectKey: who, loginKey: null, sid: null });
      await store.add(one, nowSec() + 60);
      await store.add(two, nowSec() + 60);
      expect(await store.get(one.id)).toEqual(one);
      expect(await store.byTokenHash(one.tokenHash)).toEqual(one);
      expect(await store.byTokenHash('no-such-hash')).toBeUndefined();
      expect(await store.get('no-such-id')).toBeUndefined();
      expect((await store.list(who)).map((r) => r.id).sort()).toEqual([one.id, two.id].sort());
      expect(await store.list(subject())).toEqual([]);
      expect(await store.idsOfLogin(one.loginKey!)).toEqual([one.id]);
    });

    it('touch and end: end counts only sessions it ended, once', async () => {
      const who = subject();
      const one = record({ subjectKey: who });
      const two = record({ subjectKey: who });
      await store.add(one, nowSec() + 60);
      await store.add(two, nowSec() + 60);
      await store.touch(one.id, '2030-01-01T00:00:00.000Z');
      expect((await store.get(one.id))!.lastUsedAt).toBe('2030-01-01T00:00:00.000Z');
      await store.touch('no-such-id', '2030-01-01T00:00:00.000Z');
      expect(await store.get('no-such-id')).toBeUndefined();
      expect(await store.end([one.id, two.id, 'no-such-id'], 'logout', '2030-01-02T00:00:00.000Z')).toBe(2);
      expect(await store.end([one.id], 'revoked', '2030-01-03T00:00:00.000Z')).toBe(0);
      expect(await store.get(one.id)).toMatchObject({ endedAt: '2030-01-02T00:00:00.000Z', endedReason: 'logout' });
      expect(await store.byTokenHash(two.tokenHash)).toMatchObject({ endedReason: 'logout' });
      expect(await store.end([], 'logout', 'x')).toBe(0);
    });

    it('markEnded and endedMark: the earlier mark is kept', async () => {
      const key = `sid:iss ${randomBytes(4).toString('hex')}`;
      expect(await store.endedMark(key)).toBeUndefined();
      await store.markEnded(key, { reason: 'logout', at: 1000 }, nowSec() + 60);
      await store.markEnded(key, { reason: 'revoked', at: 900 }, nowSec() + 60);
      expect(await store.endedMark(key)).toEqual({ reason: 'logout', at: 1000 });
    });

    it('seen: the first call is false, every later one true', async () => {
      const key = `jti:${randomBytes(4).toString('hex')}`;
      const answers = await Promise.all([1, 2, 3, 4].map(() => store.seen(key, nowSec() + 60)));
      expect(answers.filter((a) => !a)).toHaveLength(1);
      expect(await store.seen(key, nowSec() + 60)).toBe(true);
    });

    it('entries go once past their time', async () => {
      const one = record({ subjectKey: subject() });
      const key = `mark-${one.id}`;
      const once = `jti-${one.id}`;
      await store.add(one, nowSec() + 1);
      await store.markEnded(key, { reason: 'logout', at: 1 }, nowSec() + 1);
      await store.seen(once, nowSec() + 1);
      await new Promise((r) => setTimeout(r, 2100));
      expect(await store.get(one.id)).toBeUndefined();
      expect(await store.byTokenHash(one.tokenHash)).toBeUndefined();
      expect(await store.list(one.subjectKey)).toEqual([]);
      expect(await store.endedMark(key)).toBeUndefined();
      expect(await store.seen(once, nowSec() + 60)).toBe(false);
    });

    it('sessions on it: revoking another machine ends its IdP login; a refreshed id_token of it is refused', async () => {
      const sessions = createSessions({ store });
      const iss = 'https://idp.example';
      const sub = `u-${randomBytes(4).toString('hex')}`;
      const user = { kind: 'user' as const, sub, scopes: [], claims: {} };
      const laptop = await sessions.record({
        token: 'laptop-token',
        subject: user,
        claims: { iss, sub, sid: 'sid-laptop' },
        machine: 'laptop',
      });
      const desk = await sessions.record({ token: 'desk-token', subject: user, claims: { iss, sub, sid: 'sid-desk' }, machine: 'desk' });
      const listed = await sessions.list(desk);
      expect(listed.map((s) => [s.machine, s.current])).toEqual(
        expect.arrayContaining([
          ['laptop', false],
          ['desk', true],
        ]),
      );
      expect(JSON.stringify(listed)).not.toContain('token');
      expect(await sessions.revoke(desk, laptop.id)).toBe('revoked');
      expect(await sessions.check('laptop-token')).toMatchObject({ ok: false, reason: 'session_ended' });
      expect(await sessions.loginEnded({ iss, sub, sid: 'sid-laptop' })).toBe('revoked');
      expect(await sessions.loginEnded({ iss, sub, sid: 'sid-desk' })).toBeUndefined();
      expect(await sessions.check('desk-token')).toMatchObject({ ok: true });
      expect(await sessions.revoke({ ...desk, subjectKey: 'user:someone-else' }, desk.id)).toBe('not_found');
    });
  });
}

contract('memory', () => createMemorySessionStore());

describe.skipIf(!redisAvailable())('on a real redis-server', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(() => removeRedis(redis));
  contract('redis', () => createRedisSessionStore({ url: redis.url }));

  it('an unreachable Redis: every call fails within the timeout with SessionStoreUnavailable', async () => {
    const store = createRedisSessionStore({ url: `redis://127.0.0.1:${await freePort()}`, timeoutMs: 300 });
    const started = Date.now();
    await expect(store.get('x')).rejects.toBeInstanceOf(SessionStoreUnavailable);
    await expect(store.seen('x', nowSec() + 10)).rejects.toThrow(/the session store \(Redis at 127\.0\.0\.1:\d+\) cannot be reached/);
    expect(Date.now() - started).toBeLessThan(2000);
    await store.close();
  });

  it('a Redis that goes away and comes back: 503 meanwhile, then it works again', async () => {
    const store = createRedisSessionStore({ url: redis.url, timeoutMs: 300 });
    await store.add(record(), nowSec() + 60);
    await redis.stop();
    await expect(store.get('x')).rejects.toBeInstanceOf(SessionStoreUnavailable);
    await redis.start();
    let ok = false;
    for (let i = 0; i < 40 && !ok; i += 1) {
      ok = await store.get('x').then(
        () => true,
        () => false,
      );
      if (!ok) await new Promise((r) => setTimeout(r, 100));
    }
    expect(ok).toBe(true);
    await store.close();
  });

  it('rejects a URL that is not redis://', () => {
    expect(() => createRedisSessionStore({ url: 'http://127.0.0.1:6379' })).toThrow(TypeError);
  });
});
