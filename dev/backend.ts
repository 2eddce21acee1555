import { randomUUID } from 'node:crypto';
import { generateKeyPair, SignJWT } from 'jose';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createCliAuthHandler, createIdTokenVerifier } from '../src/backend/index.js';

/**
 * The team's backend, as far as latchkey sees it: `POST /api/cli-auth` from the reference
 * handler (latchkey/backend), sessions kept in memory, and `GET /api/whoami` for them.
 */
export interface DevBackendOptions {
  issuer: string;
  /** Client ids whose id_tokens it trusts. */
  allowedClientIds: string[];
  /** Subjects it knows; default: everybody. */
  knownSubjects?: string[];
  sessionTtlSec?: number;
}

export interface DevBackend {
  url: string;
  /** The `aud` of the session JWTs it mints. */
  audience: string;
  /** Why logins were refused (what the backend logs, never returns). */
  refusals: string[];
  sessions: Map<string, { sub: string; email: string | null }>;
  close(): Promise<void>;
}

export async function startDevBackend(options: DevBackendOptions): Promise<DevBackend> {
  const sessions = new Map<string, { sub: string; email: string | null }>();
  const refusals: string[] = [];
  // Sessions are JWTs signed by the backend's own key (as many backends do), so `token inspect`
  // has something to show; they are also remembered, which is what /api/whoami checks.
  const { privateKey } = await generateKeyPair('ES256');
  const audience = 'latchkey-demo-api';
  let url = '';
  const cliAuth = createCliAuthHandler({
    verifier: createIdTokenVerifier({ issuer: options.issuer, allowedClientIds: options.allowedClientIds }),
    findUser: (claims) => {
      const sub = String(claims.sub);
      if (options.knownSubjects && !options.knownSubjects.includes(sub)) return null;
      return { sub, email: typeof claims.email === 'string' ? claims.email : null };
    },
    mintSession: async (user) => {
      const exp = Math.floor(Date.now() / 1000) + (options.sessionTtlSec ?? 8 * 3600);
      const token = await new SignJWT({ email: user.email })
        .setProtectedHeader({ alg: 'ES256', kid: 'dev-backend-1', typ: 'JWT' })
        .setIssuer(url)
        .setAudience(audience)
        .setSubject(user.sub)
        .setIssuedAt()
        .setExpirationTime(exp)
        .setJti(randomUUID())
        .sign(privateKey);
      sessions.set(token, user);
      return { token, expiresAt: exp };
    },
    describeUser: (user) => user,
    onRefused: (reason, message) => refusals.push(`${reason}: ${message}`),
  });
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path === '/api/cli-auth') return cliAuth(req, res);
    if (path === '/api/whoami' && req.method === 'GET') {
      const user = sessions.get((req.headers.authorization ?? '').replace(/^Bearer /, ''));
      res.writeHead(user ? 200 : 401, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify(user ? { user } : { error: 'Bad credentials' }));
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'not found' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    audience,
    refusals,
    sessions,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
