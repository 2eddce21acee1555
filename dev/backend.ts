import { randomUUID } from 'node:crypto';
import { generateKeyPair, SignJWT } from 'jose';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  createAccessTokenVerifier,
  createBearerAuth,
  createCliAuthHandler,
  createIdTokenVerifier,
  createResourceMetadataHandler,
} from '../src/backend/index.js';

/**
 * The team's backend, as far as latchkey sees it: `POST /api/cli-auth` from the reference
 * handler (latchkey/backend), sessions kept in memory, and `GET /api/whoami` for them. It is
 * also an OAuth protected resource (RFC 9728): its metadata names the IdP, `/api/whoami` takes
 * the IdP's access tokens for it, and any other request without one gets the 401 challenge.
 */
export interface DevBackendOptions {
  issuer: string;
  /** Client ids whose id_tokens it trusts. */
  allowedClientIds: string[];
  /** Subjects it knows; default: everybody. */
  knownSubjects?: string[];
  sessionTtlSec?: number;
  /**
   * Where its protected-resource metadata is: at the well-known URI (default), only behind the
   * 401 challenge (`challenge`), or nowhere (`none`: a backend that knows nothing of RFC 9728).
   */
  resourceMetadata?: 'well-known' | 'challenge' | 'none';
  /** The `resource` its metadata claims, when it is not the backend's own URL (a hostile or misconfigured one). */
  advertisedResource?: string;
  /** The authorization server its metadata names; default: `issuer`. */
  advertisedIssuer?: string;
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
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const where = options.resourceMetadata ?? 'well-known';
  const metadata = createResourceMetadataHandler({
    resource: url,
    authorizationServers: [options.issuer],
    scopesSupported: ['account:usage:read'],
    resourceName: 'latchkey demo API',
  });
  // A backend that publishes what the reference handler would refuse to (a test's hostile one).
  const served =
    options.advertisedResource || options.advertisedIssuer
      ? (_req: unknown, res: import('node:http').ServerResponse) =>
          res.writeHead(200, { 'content-type': 'application/json' }).end(
            JSON.stringify({
              ...metadata.document,
              resource: options.advertisedResource ?? url,
              authorization_servers: [options.advertisedIssuer ?? options.issuer],
            }),
          )
      : metadata;
  const metadataPath = where === 'challenge' ? '/api/resource-metadata' : metadata.path;
  const bearer = createBearerAuth({
    verifier: createAccessTokenVerifier({ issuer: options.issuer, resource: url }),
    resourceMetadataUrl: url + metadataPath,
    onRefused: (reason, message) => refusals.push(`${reason}: ${message}`),
  });
  server.on('request', (req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path === '/api/cli-auth') return cliAuth(req, res);
    if (where !== 'none' && path === metadataPath) return served(req, res);
    if (path === '/api/whoami' && req.method === 'GET') {
      const user = sessions.get((req.headers.authorization ?? '').replace(/^Bearer /, ''));
      if (user || where === 'none') {
        res.writeHead(user ? 200 : 401, { 'content-type': 'application/json' });
        return void res.end(JSON.stringify(user ? { user } : { error: 'Bad credentials' }));
      }
      // Not one of its sessions: the IdP's access token for this API, or the challenge (with the
      // body its sessions' refusal always had).
      void bearer.check(req.headers.authorization, req).then((checked) => {
        if (!checked.ok) {
          res.writeHead(checked.answer.status, { 'content-type': 'application/json', ...checked.answer.headers });
          return void res.end(JSON.stringify({ error: checked.answer.status === 401 ? 'Bad credentials' : checked.answer.body.error }));
        }
        const { claims } = checked;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ user: { sub: claims.sub, email: typeof claims.email === 'string' ? claims.email : null } }));
      });
      return;
    }
    // A request without any token gets the challenge that says where to get one.
    if (where !== 'none' && !req.headers.authorization) return void bearer(req, res);
    res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'not found' }));
  });
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
