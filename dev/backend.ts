import { createHash, randomUUID } from 'node:crypto';
import { generateKeyPair, SignJWT } from 'jose';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  createAccessTokenVerifier,
  createBackChannelLogoutHandler,
  createBearerAuth,
  createCliAuthHandler,
  createIdTokenVerifier,
  createMemorySessionStore,
  createResourceMetadataHandler,
  createSessionApiHandler,
  createSessions,
  createWorkloadVerifier,
  requireScope,
  sessionRefusal,
  SessionStoreUnavailable,
  type ServiceClient,
  type SessionStore,
  type Sessions,
  type WorkloadPolicy,
} from '../src/backend/index.js';

/**
 * The team's backend, as far as latchkey sees it: `POST /api/cli-auth` from the reference
 * handler (latchkey/backend), sessions kept in memory, and `GET /api/whoami` for them. It is
 * also an OAuth protected resource (RFC 9728): its metadata names the IdP, `/api/whoami` takes
 * the IdP's access tokens for it, and any other request without one gets the 401 challenge.
 * Every session it mints is recorded in its session store (memory, or a Redis several instances
 * share): `/api/sessions` lists and revokes them, `/api/backchannel-logout` takes the IdP's
 * logout tokens, and `/api/usage` wants the scope account:usage:read (a user's, or a service's).
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
  /** Where its sessions are kept: default, its own memory; a Redis store to run several instances. */
  store?: SessionStore;
  /** The port to listen on (127.0.0.1); default any (an IdP configured before it starts needs it known). */
  port?: number;
  /** Client-credentials clients it accepts as `service` subjects. */
  serviceClients?: ServiceClient[];
  /** Serve no session API (a backend that has none). */
  noSessionApi?: boolean;
  /** CI platforms whose workload tokens it takes (`login --workload`); audience default: its own origin. */
  workload?: Array<{ issuer: string; policy: WorkloadPolicy; audience?: string }>;
}

export interface DevBackend {
  url: string;
  /** The `aud` of the session JWTs it mints. */
  audience: string;
  /** Why logins were refused (what the backend logs, never returns). */
  refusals: string[];
  /** The sessions this instance minted, by token; deleting one ends it in the store too. */
  sessions: Map<string, { sub: string; email: string | null }>;
  /** The recorded sessions (the store behind them, shared by every instance using it). */
  recorded: Sessions;
  /** Logouts it did (the `sid`/`sub`, how many sessions ended). */
  logouts: Array<{ sid?: string; sub?: string; ended: number }>;
  /** Every logout token it was sent, as sent (tests replay and alter real ones). */
  logoutTokens: string[];
  close(): Promise<void>;
}

/** Paths of the dev backend. */
export const DEV_BACKEND_PATHS = { sessions: '/api/sessions', backchannelLogout: '/api/backchannel-logout' } as const;

export async function startDevBackend(options: DevBackendOptions): Promise<DevBackend> {
  const store = options.store ?? createMemorySessionStore();
  const recorded = createSessions({ store });
  const refusals: string[] = [];
  const logouts: DevBackend['logouts'] = [];
  const logoutTokens: string[] = [];
  /** A session deleted here (a test ending it early) is ended in the store as well. */
  class SessionMap extends Map<string, { sub: string; email: string | null }> {
    override delete(token: string): boolean {
      // The same hash as tokenHash(), computed at once: a test's next request must see the end.
      const hash = createHash('sha256').update(token).digest('base64url');
      void store.byTokenHash(hash).then((record) => record && store.end([record.id], 'revoked', new Date().toISOString()));
      return super.delete(token);
    }
  }
  const sessions = new SessionMap();
  // Sessions are JWTs signed by the backend's own key (as many backends do), so `token inspect`
  // has something to show; they are also remembered, which is what /api/whoami checks.
  const { privateKey } = await generateKeyPair('ES256');
  const audience = 'latchkey-demo-api';
  let url = '';
  const sessionApi = createSessionApiHandler({ sessions: recorded, path: DEV_BACKEND_PATHS.sessions });
  const logout = createBackChannelLogoutHandler({
    issuer: options.issuer,
    clientIds: options.allowedClientIds,
    sessions: recorded,
    onRefused: (reason, message) => refusals.push(`logout ${reason}: ${message}`),
    onLogout: (event) => logouts.push(event),
  });
  const usage = requireScope('account:usage:read');
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // Made once the URL is known: a workload token's audience is this backend's origin.
  const cliAuth = createCliAuthHandler({
    verifier: createIdTokenVerifier({
      issuer: options.issuer,
      allowedClientIds: options.allowedClientIds,
      ...(options.serviceClients ? { serviceClients: options.serviceClients } : {}),
    }),
    workloadVerifiers: (options.workload ?? []).map((platform) =>
      createWorkloadVerifier({ issuer: platform.issuer, audience: platform.audience ?? url, policy: platform.policy }),
    ),
    sessions: recorded,
    ...(options.noSessionApi ? {} : { sessionsEndpoint: DEV_BACKEND_PATHS.sessions }),
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
    onError: (error) => refusals.push(`error: ${(error as Error).message}`),
  });
  const where = options.resourceMetadata ?? 'well-known';
  const metadata = createResourceMetadataHandler({
    resource: url,
    authorizationServers: [options.issuer],
    scopesSupported: ['account:usage:read'],
    resourceName: 'latchkey demo API',
    ...(options.noSessionApi ? {} : { sessionsEndpoint: DEV_BACKEND_PATHS.sessions }),
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
    verifier: createAccessTokenVerifier({
      issuer: options.issuer,
      resource: url,
      ...(options.serviceClients ? { serviceClients: options.serviceClients } : {}),
    }),
    resourceMetadataUrl: url + metadataPath,
    onRefused: (reason, message) => refusals.push(`${reason}: ${message}`),
  });
  const json = (res: import('node:http').ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) =>
    void res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));

  /** A request's session of this backend (any instance's, through the store), or why not. */
  async function sessionOf(
    req: import('node:http').IncomingMessage,
    res: import('node:http').ServerResponse,
  ): Promise<'none' | 'answered'> {
    const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
    if (token === '') return 'none';
    let checked;
    try {
      checked = await recorded.check(token);
    } catch (error) {
      if (!(error instanceof SessionStoreUnavailable)) throw error;
      json(res, 503, { error: 'temporarily_unavailable', code: 'session_store_unavailable' }, { 'retry-after': '5' });
      return 'answered';
    }
    if (checked.ok) {
      const subject = checked.session.subject;
      const user = subject.kind === 'user' ? { sub: subject.sub, email: subject.email ?? null } : { client_id: subject.clientId };
      json(res, 200, { user: sessions.get(token) ?? user });
      return 'answered';
    }
    if (checked.reason !== 'session_unknown') {
      const refusal = sessionRefusal(checked);
      json(res, refusal.status, refusal.body, refusal.headers);
      return 'answered';
    }
    return 'none';
  }

  server.on('request', (req, res) => {
    const path = (req.url ?? '').split('?')[0]!;
    if (path === '/api/cli-auth') return cliAuth(req, res);
    if (!options.noSessionApi && (path === DEV_BACKEND_PATHS.sessions || path.startsWith(`${DEV_BACKEND_PATHS.sessions}/`)))
      return sessionApi(req, res);
    if (path === DEV_BACKEND_PATHS.backchannelLogout && req.method === 'POST') {
      // Read here to keep what was sent; the handler's framework-neutral half does the rest.
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const token = new URLSearchParams(Buffer.concat(chunks).toString('utf8')).get('logout_token');
        if (token) logoutTokens.push(token);
        void logout.receive(token).then((answer) => json(res, answer.status, answer.body, answer.headers));
      });
      return;
    }
    if (path === DEV_BACKEND_PATHS.backchannelLogout) return logout(req, res);
    if (where !== 'none' && path === metadataPath) return served(req, res);
    if (path === '/api/usage' && req.method === 'GET') {
      // The IdP's access token, a user's or a configured service's, with the scope for it.
      void bearer(req, res).then((subject) => {
        if (!subject || !usage(subject, res)) return;
        json(res, 200, {
          subject: subject.kind === 'user' ? { kind: 'user', sub: subject.sub } : { kind: 'service', name: subject.name },
          usage: 42,
        });
      });
      return;
    }
    if (path === '/api/whoami' && req.method === 'GET') {
      void sessionOf(req, res).then((answered) => {
        if (answered === 'answered') return;
        if (where === 'none') return json(res, 401, { error: 'Bad credentials' });
        // Not one of its sessions: the IdP's access token for this API, or the challenge (with the
        // body its sessions' refusal always had).
        void bearer.check(req.headers.authorization, req).then((checked) => {
          if (!checked.ok)
            return json(
              res,
              checked.answer.status,
              { error: checked.answer.status === 401 ? 'Bad credentials' : checked.answer.body.error },
              checked.answer.headers,
            );
          const { claims } = checked;
          json(res, 200, { user: { sub: claims.sub, email: typeof claims.email === 'string' ? claims.email : null } });
        });
      });
      return;
    }
    // A request without any token gets the challenge that says where to get one.
    if (where !== 'none' && !req.headers.authorization) return void bearer(req, res);
    json(res, 404, { error: 'not found' });
  });
  return {
    url,
    audience,
    refusals,
    sessions,
    recorded,
    logouts,
    logoutTokens,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
