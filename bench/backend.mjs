// `npm run bench:backend`: the server half under load, measured in one run. Not a test.
// 1. Verifications per second of the reference verifier (createIdTokenVerifier) on a warm key set,
//    against bare jose.jwtVerify with the same key and token (target >= 0.9x).
// 2. The reference handler (createCliAuthHandler) in its own process, 50 concurrent keep-alive
//    connections for 10 s: requests per second, p99 latency, and how many times it fetched the
//    JWKS (exactly once). Results go to bench/results-backend.json, one entry per Node major.
import { fork } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { exportJWK, generateKeyPair, jwtVerify, SignJWT } from 'jose';

const ROOT = resolve(import.meta.dirname, '..');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = 50;

if (process.argv[2] === '--server') {
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
