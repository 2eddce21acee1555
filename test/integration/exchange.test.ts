import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { exchangeIdToken } from '../../src/exchange/cli-auth.js';
import { createHttp } from '../../src/http.js';
import { fixedClock } from '../../src/io/clock.js';
import { createOutput } from '../../src/io/output.js';
import { PassThrough } from 'node:stream';

// Backends answering the CLI-auth request in the ways real ones do; the exchange must read the
// credential or explain, never print a secret.
const answers: Record<string, { status: number; body: unknown }> = {
  '/session': { status: 200, body: { session_token: 'S1', expires_in: 3600, user: { id: 7, email: 'e@x' } } },
  '/apikey': { status: 201, body: { api_key: 'K1', expires_at: 1_800_000_000 } },
  '/odd': { status: 200, body: { jwt: 'secret-value-1', refresh: 'secret-value-2' } },
  '/missing': { status: 404, body: { error: 'not found' } },
  '/down': { status: 503, body: {} },
};
let server: Server;
let base: string;
const bodies: string[] = [];
beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      bodies.push(`${req.headers['content-type']} ${body}`);
      const answer = answers[req.url ?? ''] ?? { status: 500, body: {} };
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const out = createOutput({ stdin: new PassThrough(), stdout: new PassThrough(), stderr: new PassThrough() }, {});
const http = await createHttp({ out, userAgent: 'test' }, {});
const clock = fixedClock('2026-11-22T12:00:00Z');
const exchange = (path: string, encoding: 'form' | 'json' = 'form') =>
  exchangeIdToken(
    {
      profileName: 'p',
      backendUrl: `${base}/`,
      exchangePath: path,
      encoding,
      clientId: 'cli',
      idToken: 'id.token.here',
      cliName: 'latchkey',
    },
    http,
    clock,
  );

describe('the backend exchange', () => {
  it('reads session_token with expires_in, and sends form or JSON', async () => {
    expect(await exchange('/session')).toEqual({ token: 'S1', expiresAt: '2026-11-22T13:00:00.000Z', subject: '7', email: 'e@x' });
    expect(bodies.at(-1)).toBe('application/x-www-form-urlencoded token=id.token.here');
    expect(await exchange('/apikey', 'json')).toMatchObject({ token: 'K1', expiresAt: new Date(1_800_000_000_000).toISOString() });
    expect(bodies.at(-1)).toBe('application/json {"token":"id.token.here"}');
  });

  it('an answer without a credential lists its keys, never their values', async () => {
    const error = (await exchange('/odd').catch((e: unknown) => e)) as Error;
    expect(error.message).toContain('it had: jwt, refresh');
    expect(error.message).not.toContain('secret-value');
  });

  it('404 says the endpoint does not exist on this backend', async () => {
    const error = (await exchange('/missing').catch((e: unknown) => e)) as { message: string; exitCode: number; hint: string };
    expect(error.message).toMatch(/no CLI-auth endpoint at 127\.0\.0\.1:\d+\/missing \(404\)/);
    expect(error.hint).toContain('exchange-path');
    expect(error.exitCode).toBe(ExitCode.failure);
  });

  it('5xx is a network-class failure (exit 5)', async () => {
    const error = (await exchange('/down').catch((e: unknown) => e)) as { exitCode: number };
    expect(error.exitCode).toBe(ExitCode.network);
  });
});
