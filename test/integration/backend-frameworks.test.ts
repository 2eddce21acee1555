import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import express from 'express';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCliAuthHandler, createIdTokenVerifier, type RefusalReason } from '../../src/backend/index.js';
import { loginSetup, startStack, type Stack } from '../helpers/stack.js';

// The reference handler where backend teams mount it: Express with its body parsers, Fastify,
// and plain node:http; what the CLI says when the backend is the one that cannot verify.
// The examples are plain JavaScript, as a backend team would write them.
interface Example<App> {
  createApp: (options: { issuer: string; clientIds: string[]; log: ReturnType<typeof quietLog> }) => Promise<App>;
}
const example = <App>(name: string) => import(join('../../examples', name, 'server.js')) as Promise<Example<App>>;
const { createApp: createExpressApp } = await example<express.Express>('express-backend');
const { createApp: createFastifyApp } = await example<import('fastify').FastifyInstance>('fastify-backend');

let stack: Stack;
const servers: Array<{ close(): unknown }> = [];
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  for (const server of servers) await server.close();
  await stack.close();
});

const quietLog = () => {
  const lines: string[] = [];
  return {
    lines,
    warn: (line: string) => lines.push(line),
    error: (line: string, error?: unknown) => lines.push(`${line}: ${String(error)}`),
  };
};

async function listen(server: Server): Promise<string> {
  servers.push({ close: () => new Promise((done) => server.close(done)) });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Log in through a backend at `url`, with the exchange sent as a form or as JSON; then ask whoami. */
async function loginThrough(url: string, encoding: 'form' | 'json') {
  const setup = await loginSetup(stack, ['--backend-url', url, '--exchange-encoding', encoding], { backend: false });
  const login = await setup.run(['login']);
  const token = (await setup.run(['token'])).stdout.trim();
  const whoami = token ? await fetch(`${url}/api/whoami`, { headers: { authorization: `Bearer ${token}` } }) : undefined;
  return { login, whoami: whoami ? ((await whoami.json()) as { sub?: string }) : undefined };
}

it('each example is under 60 lines', () => {
  for (const name of ['express-backend', 'fastify-backend'])
    expect(
      readFileSync(join(import.meta.dirname, '../../examples', name, 'server.js'), 'utf8')
        .trimEnd()
        .split('\n').length,
    ).toBeLessThan(60);
});

describe('examples/express-backend (express.json and express.urlencoded mounted)', () => {
  it('logs in with a form and with JSON, and the session works', async () => {
    const app = await createExpressApp({ issuer: stack.idp.issuer, clientIds: [stack.idp.clientId], log: quietLog() });
    const url = await listen(createServer(app));
    for (const encoding of ['form', 'json'] as const) {
      const { login, whoami } = await loginThrough(url, encoding);
      expect(login.code, login.stderr).toBe(0);
      expect(whoami?.sub).toBe('ada');
    }
  });

  it('a body another middleware read without leaving a token is a 400 saying so, at once (never a wait)', async () => {
    const handler = createCliAuthHandler({
      verifier: createIdTokenVerifier({ issuer: stack.idp.issuer, allowedClientIds: [stack.idp.clientId] }),
      findUser: () => ({}),
      mintSession: () => ({ token: 's' }),
    });
    const app = express();
    app.use((req, _res, next) => {
      req.on('data', () => undefined);
      req.on('end', () => next());
    });
    app.post('/api/cli-auth', handler);
    const url = await listen(createServer(app));
    const started = Date.now();
    const response = await fetch(`${url}/api/cli-auth`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'token=x',
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ error: 'the request body was already read by a body parser that left no token field' });
    expect(Date.now() - started).toBeLessThan(2000);
  });
});

describe('examples/fastify-backend', () => {
  it('logs in with a form and with JSON, and the session works', async () => {
    const app = await createFastifyApp({ issuer: stack.idp.issuer, clientIds: [stack.idp.clientId], log: quietLog() });
    await app.listen({ port: 0, host: '127.0.0.1' });
    servers.push(app);
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    for (const encoding of ['form', 'json'] as const) {
      const { login, whoami } = await loginThrough(url, encoding);
      expect(login.code, login.stderr).toBe(0);
      expect(whoami?.sub).toBe('ada');
    }
  });
});

describe('the hooks', () => {
  it('a findUser that throws: onError is told, the client gets a 500, the CLI stores nothing', async () => {
    const errors: unknown[] = [];
    const handler = createCliAuthHandler({
      verifier: createIdTokenVerifier({ issuer: stack.idp.issuer, allowedClientIds: [stack.idp.clientId] }),
      findUser: () => {
        throw new Error('the users database is down');
      },
      mintSession: () => ({ token: 's' }),
      onError: (error, context) => errors.push([(error as Error).message, context.claims?.sub]),
    });
    const url = await listen(createServer((req, res) => handler(req, res)));
    const setup = await loginSetup(stack, ['--backend-url', url], { backend: false });
    const login = await setup.run(['login']);
    expect(login.code).not.toBe(0);
    expect(login.stderr).toContain('answered 500; nothing was stored');
    expect(errors).toEqual([['the users database is down', 'ada']]);
    expect((await setup.run(['token'])).code).toBe(3);
  });

  it('onRefused gets the request and the claims; seenTokenId refuses an id_token used twice', async () => {
    const setup = await loginSetup(stack, [], { backend: false });
    expect((await setup.run(['login'])).code).toBe(0);
    const credentials = JSON.parse(readFileSync(join(setup.configDir, 'credentials.json'), 'utf8')) as Record<
      string,
      Record<string, string>
    >;
    const idToken = (JSON.parse(credentials.latchkey!.demo!) as { idToken: string }).idToken;
    const jti = decodeJwt(idToken).jti;
    const refusals: Array<[RefusalReason, string | undefined]> = [];
    const seen = new Set<string>();
    const cliAuth = createCliAuthHandler({
      verifier: createIdTokenVerifier({ issuer: stack.idp.issuer, allowedClientIds: [stack.idp.clientId] }),
      findUser: (claims) => ({ sub: claims.sub }),
      mintSession: () => ({ token: 'session' }),
      seenTokenId: (id) => seen.has(id) || (seen.add(id), false),
      onRefused: (reason, _message, context) => refusals.push([reason, context.claims?.sub]),
    });
    if (typeof jti === 'string') {
      expect((await cliAuth.exchange(idToken)).status).toBe(200);
      expect(await cliAuth.exchange(idToken)).toMatchObject({ status: 403, body: { error: 'Bad credentials' } });
      expect(refusals).toEqual([['token_reused', 'ada']]);
    } else {
      // An IdP whose id_tokens carry no jti cannot offer one-time use: refused, and said why.
      expect((await cliAuth.exchange(idToken)).status).toBe(403);
      expect(refusals).toEqual([['jti_missing', 'ada']]);
    }
    expect((await cliAuth.exchange('not-a-jwt', {})).status).toBe(403);
    expect(refusals.at(-1)).toEqual(['malformed', undefined]);
  });
});

describe('a verifier that cannot verify', () => {
  it('is refused when made with no client id or a non-https issuer', () => {
    expect(() => createIdTokenVerifier({ issuer: stack.idp.issuer, allowedClientIds: [] })).toThrow(/allowedClientIds/);
    expect(() => createIdTokenVerifier({ issuer: 'http://idp.example.com', allowedClientIds: ['cli'] })).toThrow(/https/);
    expect(() => createIdTokenVerifier({ issuer: 'idp.example.com', allowedClientIds: ['cli'] })).toThrow(/issuer URL/);
  });

  it('an issuer off by a trailing slash: ready() says so; logins get 503 and the CLI says the backend cannot verify', async () => {
    const verifier = createIdTokenVerifier({ issuer: `${stack.idp.issuer}/`, allowedClientIds: [stack.idp.clientId] });
    await expect(verifier.ready()).rejects.toThrow(/names the issuer .* not .*\/"/);
    const reasons: string[] = [];
    const handler = createCliAuthHandler({
      verifier,
      findUser: () => ({}),
      mintSession: () => ({ token: 's' }),
      onRefused: (r) => reasons.push(r),
    });
    const url = await listen(createServer((req, res) => handler(req, res)));
    const setup = await loginSetup(stack, ['--backend-url', url], { backend: false });
    const login = await setup.run(['login']);
    expect(login.code).toBe(5);
    expect(login.stderr).toContain('the backend cannot verify tokens right now');
    expect(login.stderr).toContain('not your login or client id');
    expect(login.stderr).not.toMatch(/trust tokens issued to client/);
    expect(reasons).toEqual(['discovery_issuer_mismatch']);
  });

  it('an IdP that does not answer: ready() names the host and gives up after the fetch timeout', async () => {
    const silent = createServer(() => undefined);
    const url = await listen(silent);
    const verifier = createIdTokenVerifier({ issuer: url, allowedClientIds: ['cli'], fetchTimeoutMs: 300 });
    const started = Date.now();
    await expect(verifier.ready()).rejects.toThrow(`from ${new URL(url).host}: no answer within 0.3 s`);
    expect(Date.now() - started).toBeLessThan(3000);
  });
});
