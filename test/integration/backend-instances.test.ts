import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_BACKEND_PATHS, startDevBackend, type DevBackend } from '../../dev/backend.js';
import { startDevIdp, type DevIdp } from '../../dev/idp.js';
import { createRedisSessionStore } from '../../src/backend/index.js';
import { freePort, IdpBrowser } from '../helpers/idp-browser.js';
import { redisAvailable, removeRedis, startRedis, type RedisServer } from '../helpers/redis.js';
import { loginSetup, type Stack } from '../helpers/stack.js';

// Three instances of the reference backend on one machine, behind a round-robin front, sharing
// a real redis-server: what one learns (a session, a used id_token, a logout) the others know.
describe.skipIf(!redisAvailable())('three backend instances on Redis', () => {
  let redis: RedisServer;
  let idp: DevIdp;
  const ports: number[] = [];
  let instances: DevBackend[] = [];
  let front: Server;
  let frontUrl: string;
  let turn = 0;

  const startInstance = (port: number) =>
    startDevBackend({ issuer: idp.issuer, allowedClientIds: [idp.clientId], port, store: createRedisSessionStore({ url: redis.url }) });

  beforeAll(async () => {
    redis = await startRedis();
    for (let i = 0; i < 3; i += 1) ports.push(await freePort());
    // The IdP delivers its logout tokens to the first instance only.
    idp = await startDevIdp({ backchannelLogoutUri: `http://127.0.0.1:${ports[0]}${DEV_BACKEND_PATHS.backchannelLogout}` });
    instances = await Promise.all(ports.map(startInstance));
    front = createServer((req, res) => {
      const port = ports[turn++ % ports.length]!;
      const forwarded = request({ host: '127.0.0.1', port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      forwarded.on('error', () => res.writeHead(502).end());
      req.pipe(forwarded);
    });
    await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
    frontUrl = `http://127.0.0.1:${(front.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => front.close(() => resolve()));
    await Promise.all([idp.close(), ...instances.map((b) => b.close())]);
    await Promise.all(instances.map((b) => b.recorded.store.close()));
    await removeRedis(redis);
  });

  const exchange = async (base: string, idToken: string) => {
    const response = await fetch(`${base}/api/cli-auth`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: idToken, machine: 'laptop' }).toString(),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  const whoami = async (base: string, session: string) => {
    const response = await fetch(`${base}/api/whoami`, { headers: { authorization: `Bearer ${session}` } });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  it('a login at one is seen at the others; a replayed id_token is refused at another; a restart loses nothing; a logout at one is refused at the other two within a second', async () => {
    const browser = new IdpBrowser(idp);
    const tokens = await browser.login();
    const minted = await exchange(frontUrl, tokens.id_token);
    expect(minted.status).toBe(200);
    const session = String(minted.body.token);
    for (const instance of instances)
      expect(await whoami(instance.url, session)).toMatchObject({ status: 200, body: { user: { sub: 'ada' } } });

    // The same id_token again, through the front: another instance, refused (its jti or hash is known).
    expect(await exchange(frontUrl, tokens.id_token)).toMatchObject({ status: 403, body: { error: 'Bad credentials' } });
    expect(instances.flatMap((b) => b.refusals).filter((r) => r.startsWith('token_reused'))).toHaveLength(1);

    // An instance restarts (a new process would have nothing but Redis): the session is still known.
    await instances[1]!.close();
    await instances[1]!.recorded.store.close();
    instances[1] = await startInstance(ports[1]!);
    expect((await whoami(instances[1].url, session)).status).toBe(200);
    const listed = await fetch(`${instances[1].url}${DEV_BACKEND_PATHS.sessions}`, { headers: { authorization: `Bearer ${session}` } });
    expect(((await listed.json()) as { sessions: unknown[] }).sessions).toEqual([
      expect.objectContaining({ current: true, machine: 'laptop' }),
    ]);

    // The IdP logs the user out: its logout token goes to the first instance; the others refuse within a second.
    await browser.logout();
    expect(instances[0]!.logouts.at(-1)).toMatchObject({ ended: 1 });
    const ended = Date.now();
    for (const instance of instances.slice(1)) {
      let refused = false;
      while (!refused && Date.now() - ended < 1000) refused = (await whoami(instance.url, session)).status === 401;
      expect(refused).toBe(true);
      expect(await whoami(instance.url, session)).toMatchObject({ status: 401, body: { error: 'session_ended' } });
    }
    expect(Date.now() - ended).toBeLessThan(1000);
    // A refreshed id_token of that IdP session cannot mint a new one at any instance.
    const refreshed = await browser.refresh(tokens.refresh_token!);
    for (const instance of instances)
      expect(await exchange(instance.url, refreshed.id_token)).toMatchObject({ status: 401, body: { error: 'session_ended' } });
  });
});

describe.skipIf(!redisAvailable())('a backend whose Redis cannot be reached', () => {
  let idp: DevIdp;
  let backend: DevBackend;
  beforeAll(async () => {
    idp = await startDevIdp();
    const closed = await freePort();
    backend = await startDevBackend({
      issuer: idp.issuer,
      allowedClientIds: [idp.clientId],
      store: createRedisSessionStore({ url: `redis://127.0.0.1:${closed}`, timeoutMs: 300 }),
    });
  });
  afterAll(async () => {
    await Promise.all([idp.close(), backend.close()]);
    await backend.recorded.store.close();
  });

  it('answers 503 (not 500, not a refused login), and the CLI says the backend is unavailable (exit 5), storing nothing', async () => {
    const stack: Stack = { idp, backend, close: () => Promise.resolve() };
    const setup = await loginSetup(stack);
    const login = await setup.run(['login']);
    expect(login.code, login.stderr).toBe(5);
    expect(login.stderr).toContain(
      `latchkey: the backend is unavailable (${new URL(backend.url).host}/api/cli-auth answered 503); nothing was stored`,
    );
    expect(login.stderr).not.toContain('refused the login');
    expect(backend.refusals.some((r) => r.startsWith('error: the session store (Redis at 127.0.0.1:'))).toBe(true);
    expect((await setup.run(['status', '--json'])).stdout).toContain('"loggedIn": false');
    const session = await fetch(`${backend.url}/api/whoami`, { headers: { authorization: 'Bearer some-session' } });
    expect(session.status).toBe(503);
  });
});
