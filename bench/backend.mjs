// `npm run bench:backend`: the server half under load, measured in one run. Not a test.
// 1. Verifications per second of the reference verifier (createIdTokenVerifier) on a warm key set,
//    against bare jose.jwtVerify with the same key and token (target >= 0.9x).
// 2. The reference handler (createCliAuthHandler) in its own process, 50 concurrent keep-alive
//    connections for 10 s: requests per second, p99 latency, and how many times it fetched the
//    JWKS (exactly once). Results go to bench/results-backend.json, one entry per Node major.
// 3. Sessions: the handler recording each session it mints (createSessions: the ended-login check,
//    the one-time id_token check, the record) and a session check (sessions.check, the call every
//    request with a session makes), 50 connections for 10 s each, on the memory store and on a
//    real redis-server started here (skipped, saying so, without one): req/s and p99 side by side.
import { fork, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { Agent, request } from 'node:http';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { exportJWK, generateKeyPair, jwtVerify, SignJWT } from 'jose';

const ROOT = resolve(import.meta.dirname, '..');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = 50;

if (process.argv[2] === '--sessions-server') {
  // The child of part 3: the handler with sessions on the given store, and GET /check.
  const backend = await import(join(ROOT, 'dist/backend/index.js'));
  const { createServer } = await import('node:http');
  const jwks = JSON.parse(process.argv[3]);
  const storeUrl = process.argv[4];
  const store = storeUrl === 'memory' ? backend.createMemorySessionStore() : backend.createRedisSessionStore({ url: storeUrl });
  const sessions = backend.createSessions({ store });
  let issuer = '';
  let minted = 0;
  let handler;
  const server = createServer((req, res) => {
    if (req.url === '/.well-known/openid-configuration') return res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks` }));
    if (req.url === '/jwks') return res.end(JSON.stringify(jwks));
    if (req.url === '/check') {
      sessions.check((req.headers.authorization ?? '').slice(7)).then(
        (checked) => res.writeHead(checked.ok ? 200 : 401).end(),
        () => res.writeHead(503).end(),
      );
      return;
    }
    return handler(req, res);
  });
  server.keepAliveTimeout = 30_000;
  server.listen(0, '127.0.0.1', () => {
    issuer = `http://127.0.0.1:${server.address().port}`;
    handler = backend.createCliAuthHandler({
      verifier: backend.createIdTokenVerifier({ issuer, allowedClientIds: ['cli'] }),
      sessions,
      findUser: (claims) => ({ sub: claims.sub }),
      mintSession: () => ({ token: `session-${process.pid}-${(minted += 1)}`, expiresAt: Math.floor(Date.now() / 1000) + 3600 }),
    });
    process.send({ issuer });
  });
} else if (process.argv[2] === '--server') {
  // The child: a JWKS endpoint (counting fetches) and the reference handler on one server.
  const { createCliAuthHandler, createIdTokenVerifier } = await import(join(ROOT, 'dist/backend/index.js'));
  const { createServer } = await import('node:http');
  const jwks = JSON.parse(process.argv[3]);
  let jwksFetches = 0;
  let issuer = '';
  let sessions = 0;
  let handler;
  const server = createServer((req, res) => {
    if (req.url === '/.well-known/openid-configuration') {
      res.setHeader('content-type', 'application/json');
      return res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks` }));
    }
    if (req.url === '/jwks') {
      jwksFetches += 1;
      res.setHeader('content-type', 'application/json');
      return res.end(JSON.stringify(jwks));
    }
    if (req.url === '/stats') return res.end(JSON.stringify({ jwksFetches, sessions }));
    return handler(req, res);
  });
  server.keepAliveTimeout = 30_000;
  server.listen(0, '127.0.0.1', () => {
    issuer = `http://127.0.0.1:${server.address().port}`;
    handler = createCliAuthHandler({
      verifier: createIdTokenVerifier({ issuer, allowedClientIds: ['cli'] }),
      findUser: (claims) => ({ sub: claims.sub }),
      mintSession: () => ({ token: `session-${(sessions += 1)}`, expiresAt: Math.floor(Date.now() / 1000) + 3600 }),
    });
    process.send({ issuer });
  });
} else {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
  const sign = (iss) =>
    new SignJWT({ sub: 'ada' })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'JWT' })
      .setIssuer(iss)
      .setAudience('cli')
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(privateKey);
  const results = {};

  // 1. Verifier throughput, alternating rounds of ~1 s each.
  {
    const { createIdTokenVerifier } = await import(join(ROOT, 'dist/backend/index.js'));
    const issuer = 'https://idp.example.com';
    const token = await sign(issuer);
    const verifier = createIdTokenVerifier({
      issuer,
      allowedClientIds: ['cli'],
      fetch: async (url) => Response.json(url.endsWith('/jwks') ? { keys: [jwk] } : { issuer, jwks_uri: `${issuer}/jwks` }),
    });
    if (!(await verifier(token)).ok) throw new Error('the verifier refused the bench token');
    // Short alternating rounds, many of them: the machine's speed drifts by more than the
    // difference measured, so each of ours is compared with the bare round next to it.
    const rate = async (fn) => {
      const until = performance.now() + 500;
      let n = 0;
      while (performance.now() < until) {
        for (let i = 0; i < 50; i += 1) await fn();
        n += 50;
      }
      return n;
    };
    const ours = [];
    const bare = [];
    for (let round = 0; round < 15; round += 1) {
      bare.push(await rate(() => jwtVerify(token, publicKey, { issuer, audience: 'cli', algorithms: ['ES256'] })));
      ours.push(await rate(() => verifier(token)));
    }
    const median = (values) => [...values].sort((a, b) => a - b)[values.length >> 1];
    results.verifier = {
      perSecond: median(ours) * 2,
      bareJosePerSecond: median(bare) * 2,
      ratio: +median(ours.map((n, i) => n / bare[i])).toFixed(2),
      target: 0.9,
    };
    results.verifier.met = results.verifier.ratio >= 0.9;
    process.stderr.write(
      `  verifier: ${results.verifier.perSecond}/s vs bare jose.jwtVerify ${results.verifier.bareJosePerSecond}/s = ${results.verifier.ratio}x (target >= 0.9x)\n`,
    );
  }

  // 2. The handler under load, in its own process.
  {
    const child = fork(import.meta.filename, ['--server', JSON.stringify({ keys: [jwk] })], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const { issuer } = await new Promise((done) => child.once('message', done));
    const { port } = new URL(issuer);
    const body = `token=${await sign(issuer)}`;
    const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
    const post = () =>
      new Promise((done, fail) => {
        const started = performance.now();
        const req = request(
          {
            host: '127.0.0.1',
            port,
            path: '/api/cli-auth',
            method: 'POST',
            agent,
            headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) },
          },
          (res) => {
            res.resume();
            res.on('end', () => (res.statusCode === 200 ? done(performance.now() - started) : fail(new Error(`status ${res.statusCode}`))));
          },
        );
        req.on('error', fail);
        req.end(body);
      });
    const latencies = [];
    const until = performance.now() + SECONDS * 1000;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: CONNECTIONS }, async () => {
        while (performance.now() < until) latencies.push(await post());
      }),
    );
    const elapsed = (performance.now() - started) / 1000;
    const stats = await new Promise((done) =>
      request({ host: '127.0.0.1', port, path: '/stats', agent }, (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => done(JSON.parse(text)));
      }).end(),
    );
    agent.destroy();
    child.kill();
    latencies.sort((a, b) => a - b);
    results.handler = {
      connections: CONNECTIONS,
      seconds: SECONDS,
      requests: latencies.length,
      perSecond: Math.round(latencies.length / elapsed),
      p50Ms: +latencies[Math.floor(latencies.length * 0.5)].toFixed(1),
      p99Ms: +latencies[Math.floor(latencies.length * 0.99)].toFixed(1),
      jwksFetches: stats.jwksFetches,
      sessions: stats.sessions,
    };
    results.handler.met = results.handler.jwksFetches === 1 && results.handler.sessions === latencies.length;
    process.stderr.write(
      `  handler: ${results.handler.perSecond} req/s, p50 ${results.handler.p50Ms} ms, p99 ${results.handler.p99Ms} ms,` +
        ` ${results.handler.requests} requests, ${results.handler.jwksFetches} JWKS fetch(es)\n`,
    );
  }

  // 3. Sessions, in memory and on Redis, in one run.
  {
    const { tokens, jwks } = await sessionTokens(privateKey, jwk);
    const redis = await startRedis();
    const stores = [['memory', 'memory'], ...(redis ? [['redis', redis.url]] : [])];
    results.sessions = { connections: CONNECTIONS, seconds: SECONDS };
    try {
      for (const [name, url] of stores) {
        const child = fork(import.meta.filename, ['--sessions-server', JSON.stringify(jwks), url], {
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        });
        const { issuer } = await new Promise((done) => child.once('message', done));
        const { port } = new URL(issuer);
        const signed = await tokens(issuer);
        const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
        const minted = [];
        let next = 0;
        const handler = await load(() => {
          const token = signed[next++];
          if (token === undefined) return undefined;
          const body = `token=${token}&machine=bench`;
          return {
            options: {
              port,
              path: '/api/cli-auth',
              method: 'POST',
              agent,
              headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) },
            },
            body,
            collect: (text) => minted.length < 5000 && minted.push(JSON.parse(text).token),
          };
        });
        let turn = 0;
        const check = await load(() => ({
          options: { port, path: '/check', agent, headers: { authorization: `Bearer ${minted[turn++ % minted.length]}` } },
        }));
        agent.destroy();
        child.kill();
        results.sessions[name] = { handler, check };
      }
    } finally {
      await redis?.stop();
    }
    if (!redis) results.sessions.redis = { skipped: 'redis-server is not installed (scripts/setup-e2e.sh installs it)' };
    const row = (label, r) =>
      r
        ? `${label.padEnd(16)}${String(r.perSecond).padStart(8)} req/s  p99 ${String(r.p99Ms).padStart(6)} ms`
        : `${label.padEnd(16)}skipped`;
    process.stderr.write('  sessions (50 connections, 10 s each):   memory                       redis\n');
    for (const part of ['handler', 'check'])
      process.stderr.write(
        `  ${row(part, results.sessions.memory[part])}    ${results.sessions.redis[part] ? row('', results.sessions.redis[part]).trim() : 'skipped'}\n`,
      );
  }

  const machine = { node: process.version, cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, date: new Date().toISOString() };
  const file = join(ROOT, 'bench/results-backend.json');
  let stored = {};
  try {
    stored = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    stored = {};
  }
  stored[`node${process.versions.node.split('.')[0]}`] = { machine, results };
  writeFileSync(file, `${JSON.stringify(stored, null, 2)}\n`);
  console.log(JSON.stringify({ machine, results }, null, 2));
}

/**
 * 50 connections, each sending what `make()` gives until SECONDS have passed (or it gives
 * nothing more): requests per second and p50/p99 of the 2xx answers (any other status stops it).
 */
async function load(make) {
  const latencies = [];
  const until = performance.now() + SECONDS * 1000;
  const started = performance.now();
  const one = (next) =>
    new Promise((done, fail) => {
      const begun = performance.now();
      const req = request({ host: '127.0.0.1', ...next.options }, (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => {
          if (res.statusCode !== 200) return fail(new Error(`${next.options.path}: status ${res.statusCode} ${text}`));
          next.collect?.(text);
          done(performance.now() - begun);
        });
      });
      req.on('error', fail);
      req.end(next.body);
    });
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      for (let next = make(); next && performance.now() < until; next = make()) latencies.push(await one(next));
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    perSecond: Math.round(latencies.length / elapsed),
    p50Ms: +latencies[Math.floor(latencies.length * 0.5)].toFixed(1),
    p99Ms: +latencies[Math.floor(latencies.length * 0.99)].toFixed(1),
  };
}

/** Id tokens with a jti each (the handler uses every one once), signed ahead so signing is not measured. */
async function sessionTokens(privateKey, jwk) {
  const POOL = Number(process.env.BENCH_TOKENS ?? 120_000);
  return {
    jwks: { keys: [jwk] },
    tokens: async (iss) => {
      const now = Math.floor(Date.now() / 1000);
      const out = [];
      for (let i = 0; i < POOL; i += 1000)
        out.push(
          ...(await Promise.all(
            Array.from({ length: Math.min(1000, POOL - i) }, (_, j) =>
              new SignJWT({ sub: `user-${(i + j) % 500}`, sid: `sid-${i + j}` })
                .setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'JWT' })
                .setIssuer(iss)
                .setAudience('cli')
                .setIssuedAt(now)
                .setExpirationTime(now + 3600)
                .setJti(`jti-${i + j}`)
                .sign(privateKey),
            ),
          )),
        );
      return out;
    },
  };
}

/** A redis-server of its own (a free loopback port, a temporary directory), or undefined without one. */
async function startRedis() {
  const port = await new Promise((done) => {
    const probe = createNetServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => done(port));
    });
  });
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-bench-redis-'));
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const ready = await new Promise((done) => {
    let output = '';
    child.on('error', () => done(false));
    child.stdout.on('data', (d) => {
      output += d;
      if (/Ready to accept connections/.test(output)) done(true);
    });
    child.on('exit', () => done(false));
  });
  if (!ready) {
    process.stderr.write('  sessions on Redis: skipped, redis-server is not installed (scripts/setup-e2e.sh installs it)\n');
    rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: () =>
      new Promise((done) => {
        child.once('exit', () => {
          rmSync(dir, { recursive: true, force: true });
          done();
        });
        child.kill('SIGTERM');
      }),
  };
}
