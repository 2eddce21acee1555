import type { IncomingMessage, ServerResponse } from 'node:http';
import type { JWTPayload } from 'jose';
import { protectedResourceMetadataUrl } from '../discovery.js';
import { requireWebUrl } from '../io/urls.js';
import { checkAccessToken } from '../token/access-token.js';
import { checkIssuerSettings, issuerKeys, keysVerdict, type IssuerKeysOptions } from './keys.js';
import { checkServiceClients, withSubject, type Subject, type SubjectOptions, type SubjectResult } from './subjects.js';
import { UNAVAILABLE_REASONS, type VerifyFailureReason } from './verifier.js';

/**
 * The resource-server half (RFC 9728, RFC 9068): a backend that takes the IdP's access tokens
 * for itself, says where to get them, and answers a request without one with the challenge that
 * leads a client there. `latchkey profile add --backend-url` needs nothing else to set itself up.
 */

export interface AccessTokenVerifierOptions extends IssuerKeysOptions, SubjectOptions {
  /** This backend's resource identifier (RFC 8707): the `aud` its access tokens carry. */
  resource: string;
  clockToleranceSec?: number;
}

/** Verify one access token; `ready()` fetches the issuer's metadata and keys once (a start-up check). */
export interface AccessTokenVerifier {
  (token: string): Promise<SubjectResult>;
  ready(): Promise<void>;
}

/**
 * Verify the IdP's JWT access tokens for this resource (RFC 9068 §4): `typ` at+jwt (or JWT),
 * an asymmetric `alg`, the signature against the issuer's JWKS (the same cache rules as
 * `createIdTokenVerifier`), `iss`, `exp`/`nbf`/`iat` with tolerance, and `aud` naming the
 * resource; then the subject: a user, or one of `serviceClients` (any other client's
 * client-credentials token is refused, `service_client_not_allowed`). A configuration that
 * cannot work throws here, at start-up.
 */
export function createAccessTokenVerifier(options: AccessTokenVerifierOptions): AccessTokenVerifier {
  const where = 'createAccessTokenVerifier';
  checkIssuerSettings(where, options);
  if (typeof options.resource !== 'string' || !URL.canParse(options.resource))
    throw new TypeError(
      `${where}: resource must be this backend's resource identifier (an absolute URL), got ${JSON.stringify(options.resource)}`,
    );
  const now = options.now ?? (() => new Date());
  const tolerance = options.clockToleranceSec ?? 60;
  checkServiceClients(where, options.serviceClients);
  const { keys, ready } = issuerKeys(options);
  const subjects = { serviceClients: options.serviceClients ?? [], kind: 'access_token' as const };
  const verify = async (token: string): Promise<SubjectResult> =>
    withSubject(
      keysVerdict(
        await checkAccessToken(token, keys, { issuer: options.issuer, resource: options.resource, now: now(), toleranceSec: tolerance }),
      ),
      subjects,
    );
  return Object.assign(verify, { ready });
}

export interface ResourceMetadataOptions {
  /** This backend's resource identifier: its base URL, as clients are configured with it. */
  resource: string;
  /** The issuers whose access tokens it takes (the first is the one clients use). */
  authorizationServers: readonly string[];
  /** The scopes a client may ask for this resource. */
  scopesSupported?: readonly string[];
  /** A name people recognise, shown by clients. */
  resourceName?: string;
  /**
   * This backend's session API (`createSessionApiHandler`), a path or a URL on the resource's
   * origin: published as `sessions_endpoint`, where `latchkey sessions` finds it.
   */
  sessionsEndpoint?: string;
}

/** The RFC 9728 document, where it is served, and a `node:http` handler that serves it. */
export interface ResourceMetadataHandler {
  (req: IncomingMessage, res: ServerResponse): void;
  /** The path to mount it on: `/.well-known/oauth-protected-resource` (+ the resource's path). */
  readonly path: string;
  /** Its absolute URL: the `resource_metadata` of the 401 challenge. */
  readonly url: string;
  readonly document: Readonly<Record<string, unknown>>;
}

/**
 * Serve this backend's protected-resource metadata (RFC 9728 §3): `GET` answers the document,
 * with the `resource` exactly as configured (a client refuses a document naming another one).
 */
export function createResourceMetadataHandler(options: ResourceMetadataOptions): ResourceMetadataHandler {
  const where = 'createResourceMetadataHandler';
  try {
    requireWebUrl(options.resource);
    if (!Array.isArray(options.authorizationServers) || options.authorizationServers.length === 0)
      throw new Error('authorizationServers must name at least one issuer');
    for (const issuer of options.authorizationServers) requireWebUrl(issuer);
    if (
      options.sessionsEndpoint !== undefined &&
      new URL(options.sessionsEndpoint, options.resource).origin !== new URL(options.resource).origin
    )
      throw new Error("sessionsEndpoint must be on the resource's own origin");
  } catch (error) {
    throw new TypeError(`${where}: ${(error as Error).message}`);
  }
  const document: Record<string, unknown> = {
    resource: options.resource,
    authorization_servers: [...(options.authorizationServers as string[])],
    bearer_methods_supported: ['header'],
    ...(options.scopesSupported ? { scopes_supported: [...options.scopesSupported] } : {}),
    ...(options.resourceName ? { resource_name: options.resourceName } : {}),
    ...(options.sessionsEndpoint ? { sessions_endpoint: new URL(options.sessionsEndpoint, options.resource).href } : {}),
  };
  const url = protectedResourceMetadataUrl(options.resource);
  const body = JSON.stringify(document);
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'application/json' }).end('{"error":"method not allowed"}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=300' });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
  return Object.assign(handler, { path: new URL(url).pathname, url, document: Object.freeze(document) });
}

/** Why a request was refused: the verifier's reasons, or no token at all. */
export type BearerRefusalReason = VerifyFailureReason | 'token_missing';

export interface BearerAuthOptions {
  verifier: AccessTokenVerifier;
  /** The metadata's URL (`ResourceMetadataHandler.url`), named in every 401 challenge. */
  resourceMetadataUrl: string;
  /** Told why a request was refused (for the log); the reason is never sent to the client. */
  onRefused?(reason: BearerRefusalReason, message: string, request?: IncomingMessage): void;
}

/** An answer to a refused request: status, JSON body, headers (the challenge among them). */
export interface BearerRefusal {
  status: number;
  body: Record<string, unknown>;
  headers: Record<string, string>;
}

export interface BearerAuth {
  /**
   * The subject of a request's valid access token (a user, or a configured service; its claims
   * in `subject.claims`); otherwise writes the 401 (with the challenge) or 503 and resolves to
   * undefined: `const subject = await auth(req, res); if (!subject) return;`
   */
  (req: IncomingMessage, res: ServerResponse): Promise<Subject | undefined>;
  /** The same for any framework: the `Authorization` header's value in, the subject or the answer out. */
  check(
    authorization: string | undefined,
    request?: IncomingMessage,
  ): Promise<{ ok: true; claims: JWTPayload; subject: Subject } | { ok: false; answer: BearerRefusal }>;
}

/**
 * Require the IdP's access token for this resource on a request (RFC 6750 §3): no token is a 401
 * with `WWW-Authenticate: Bearer resource_metadata="…"` (RFC 9728 §5.1), a bad one the same with
 * `error="invalid_token"`; a verifier that cannot work right now (its issuer, the IdP out of
 * reach) is a 503, so the client does not blame its token.
 */
export function createBearerAuth(options: BearerAuthOptions): BearerAuth {
  requireWebUrl(options.resourceMetadataUrl);
  const metadata = options.resourceMetadataUrl.replaceAll('"', '%22');
  const refuse = (status: number, error?: string): BearerRefusal => ({
    status,
    body: { error: error ?? 'unauthorized' },
    headers: {
      'cache-control': 'no-store',
      ...(status === 401
        ? { 'www-authenticate': `Bearer resource_metadata="${metadata}"${error ? `, error="${error}"` : ''}` }
        : { 'retry-after': '30' }),
    },
  });
  const check: BearerAuth['check'] = async (authorization, request) => {
    const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i.exec(authorization?.trim() ?? '');
    if (!match) {
      options.onRefused?.('token_missing', 'no bearer token in the Authorization header', request);
      return { ok: false, answer: refuse(401) };
    }
    const verified = await options.verifier(match[1]!);
    if (verified.ok) return { ok: true, claims: verified.claims, subject: verified.subject };
    options.onRefused?.(verified.reason, verified.message, request);
    return {
      ok: false,
      answer: UNAVAILABLE_REASONS.has(verified.reason) ? refuse(503, 'temporarily_unavailable') : refuse(401, 'invalid_token'),
    };
  };
  const auth = async (req: IncomingMessage, res: ServerResponse) => {
    const result = await check(req.headers.authorization, req);
    if (result.ok) return result.subject;
    res.writeHead(result.answer.status, { 'content-type': 'application/json', ...result.answer.headers });
    res.end(JSON.stringify(result.answer.body));
    return undefined;
  };
  return Object.assign(auth, { check });
}
