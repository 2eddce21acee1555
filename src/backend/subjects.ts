import type { ServerResponse } from 'node:http';
import type { JWTPayload } from 'jose';
import type { VerifyFailureReason, VerifyResult } from '../token/id-token.js';

/**
 * Who is calling: every token a verifier accepts resolves to a subject, a `user` (a person the
 * IdP authenticated) or a `service` (a client that authenticated as itself, with client
 * credentials). A service is only ever one of the backend's configured `serviceClients`: on an
 * authorization server with open registration anyone can register a client and get a
 * client-credentials token for this resource, and such a token must not pass for a user, nor
 * for a service nobody configured. docs/subjects.md lists what each IdP puts in those tokens.
 */

/** A client this backend accepts client-credentials tokens from, and what it may do. */
export interface ServiceClient {
  /** The client's id at the IdP: the token's `client_id`, `azp`, `cid` (Okta) or `appid` (Entra v1). */
  clientId: string;
  /** How the service is shown (logs, session lists). */
  name: string;
  /** The scopes it may use here: the subject's scopes are the token's, limited to these. */
  scopes: readonly string[];
}

/** A person the IdP authenticated. */
export interface UserSubject {
  kind: 'user';
  sub: string;
  email?: string;
  /** The client the token was issued to (`azp`, `client_id`, or the id_token's `aud`). */
  clientId?: string;
  /** The token's scopes (`scope` or Entra's `scp`); an id_token has none. */
  scopes: string[];
  claims: JWTPayload;
}

/** A configured service client calling with a client-credentials token. */
export interface ServiceSubject {
  kind: 'service';
  clientId: string;
  name: string;
  /** The token's scopes (or Entra's app `roles`) that the configuration allows it. */
  scopes: string[];
  claims: JWTPayload;
}

export type Subject = UserSubject | ServiceSubject;

/** Why a verified token is no subject of this backend (`workload_refused`: a workload policy said no, src/backend/workload.ts). */
export type SubjectFailureReason = 'service_client_not_allowed' | 'subject_missing' | 'workload_refused';

/** A token's verdict with its subject: what every verifier answers. */
export type SubjectResult =
  | { ok: true; claims: JWTPayload; subject: Subject }
  | { ok: false; reason: VerifyFailureReason | SubjectFailureReason; message: string; cause?: unknown };

/** The subject settings every verifier takes. */
export interface SubjectOptions {
  /** The clients whose client-credentials tokens are accepted, as `service` subjects; default none. */
  serviceClients?: readonly ServiceClient[];
}

const AUTH0_CLIENTS_SUFFIX = '@clients';

/** The client a token was issued to, under each IdP's name for it. */
function clientOf(claims: JWTPayload): string | undefined {
  for (const name of ['client_id', 'azp', 'cid', 'appid'] as const) {
    const value = claims[name];
    if (typeof value === 'string' && value !== '') return value;
  }
  return undefined;
}

/**
 * What makes a token a client-credentials (service) token, each rule named for the IdP that
 * writes it (docs/subjects.md): an empty list is a user's token.
 */
export function clientCredentialsEvidence(claims: JWTPayload): string[] {
  const evidence: string[] = [];
  const sub = claims.sub;
  if (typeof sub !== 'string' || sub === '') evidence.push('no sub');
  const clients = ['client_id', 'azp', 'cid', 'appid'].map((name) => claims[name]).filter((v): v is string => typeof v === 'string');
  // oidc-provider, Okta (`cid`), Google service accounts (`azp`), Keycloak (`azp`): sub is the client.
  if (typeof sub === 'string' && clients.includes(sub)) evidence.push('sub is the client id');
  // Auth0: sub is "<client id>@clients", and `gty` says which grant.
  if (typeof sub === 'string' && sub.endsWith(AUTH0_CLIENTS_SUFFIX) && clients.includes(sub.slice(0, -AUTH0_CLIENTS_SUFFIX.length)))
    evidence.push('sub is <client id>@clients (Auth0)');
  if (claims.gty === 'client-credentials' || (Array.isArray(claims.gty) && claims.gty.includes('client-credentials')))
    evidence.push('gty client-credentials (Auth0)');
  // Entra ID: `idtyp: app` (an optional claim), or application permissions (`roles`) and no delegated `scp`.
  if (claims.idtyp === 'app') evidence.push('idtyp app (Entra ID)');
  if (Array.isArray(claims.roles) && claims.scp === undefined && typeof claims.tid === 'string')
    evidence.push('roles without scp (Entra ID)');
  // Keycloak: the client's service account is a user named service-account-<client id>.
  if (typeof claims.preferred_username === 'string' && claims.preferred_username.startsWith('service-account-'))
    evidence.push('a service-account- user (Keycloak)');
  return evidence;
}

/** The token's scopes: `scope` (space-separated, or an array), or Entra's `scp`. */
function scopesOf(claims: JWTPayload): string[] {
  for (const value of [claims.scope, claims.scp]) {
    if (typeof value === 'string') return value.split(' ').filter(Boolean);
    if (Array.isArray(value)) return value.filter((s): s is string => typeof s === 'string');
  }
  return [];
}

/** Check the `serviceClients` setting when a verifier is made: a mistake there throws at start-up. */
export function checkServiceClients(where: string, serviceClients: unknown): void {
  if (serviceClients === undefined) return;
  if (!Array.isArray(serviceClients)) throw new TypeError(`${where}: serviceClients must be a list of { clientId, name, scopes }`);
  for (const client of serviceClients as Array<Partial<ServiceClient>>) {
    if (typeof client?.clientId !== 'string' || client.clientId === '')
      throw new TypeError(`${where}: a serviceClients entry has no clientId`);
    if (typeof client.name !== 'string' || client.name === '')
      throw new TypeError(`${where}: serviceClients entry ${client.clientId} has no name`);
    if (!Array.isArray(client.scopes) || client.scopes.some((s) => typeof s !== 'string'))
      throw new TypeError(`${where}: serviceClients entry ${client.clientId} needs scopes (a list of strings, maybe empty)`);
  }
}

/**
 * The subject of verified claims: a service when the token carries any client-credentials
 * evidence (and its client is configured), else a user (when it names one).
 */
export function subjectOf(claims: JWTPayload, options: SubjectOptions & { kind: 'id_token' | 'access_token' }): SubjectResult {
  const evidence = clientCredentialsEvidence(claims);
  if (evidence.length > 0) {
    const clientId = clientOf(claims) ?? (typeof claims.sub === 'string' ? claims.sub.replace(/@clients$/, '') : undefined);
    if (clientId === undefined) return { ok: false, reason: 'subject_missing', message: 'the token names no user and no client' };
    const configured = options.serviceClients?.find((c) => c.clientId === clientId);
    if (!configured) {
      return {
        ok: false,
        reason: 'service_client_not_allowed',
        message: `a client-credentials token (${evidence.join(', ')}) of client ${clientId}, which is not one of serviceClients`,
      };
    }
    const allowed = new Set(configured.scopes);
    // Entra writes an app's permissions as `roles`; everyone else as `scope`.
    const roles: unknown[] = Array.isArray(claims.roles) && claims.scp === undefined ? (claims.roles as unknown[]) : [];
    const granted = [...scopesOf(claims), ...roles];
    const scopes = [...new Set(granted.filter((s): s is string => typeof s === 'string' && allowed.has(s)))];
    return { ok: true, claims, subject: { kind: 'service', clientId, name: configured.name, scopes, claims } };
  }
  const sub = claims.sub as string;
  const aud =
    typeof claims.aud === 'string' ? claims.aud : Array.isArray(claims.aud) && claims.aud.length === 1 ? claims.aud[0] : undefined;
  const clientId = clientOf(claims) ?? (options.kind === 'id_token' ? aud : undefined);
  const subject: UserSubject = { kind: 'user', sub, scopes: scopesOf(claims), claims };
  if (typeof claims.email === 'string') subject.email = claims.email;
  if (clientId !== undefined) subject.clientId = clientId;
  return { ok: true, claims, subject };
}

/** A token check's verdict, with the subject of the claims it accepted. */
export function withSubject(result: VerifyResult, options: SubjectOptions & { kind: 'id_token' | 'access_token' }): SubjectResult {
  return result.ok ? subjectOf(result.claims, options) : result;
}

/** A subject's key in stores and lists: `user:<sub>` or `service:<client id>`. */
export function subjectKey(subject: Pick<UserSubject, 'kind' | 'sub'> | Pick<ServiceSubject, 'kind' | 'clientId'>): string {
  return subject.kind === 'user' ? `user:${subject.sub}` : `service:${subject.clientId}`;
}

/** Whether the subject holds every one of the scopes. */
export function hasScopes(subject: Pick<Subject, 'scopes'>, ...scopes: string[]): boolean {
  return scopes.every((scope) => subject.scopes.includes(scope));
}

/** The answer to a request whose subject lacks a scope (RFC 6750 §3.1 `insufficient_scope`). */
export interface ScopeRefusal {
  status: 403;
  body: { error: 'insufficient_scope'; scope: string };
  headers: Record<string, string>;
}

/**
 * A route's scope check (`requireScope('account:usage:read')`): `check(subject)` answers
 * undefined when the subject holds the scopes, else the 403 to send; called with `(subject, res)`
 * it writes that 403 itself and answers false. A scope names resource and action.
 */
export function requireScope(...scopes: string[]) {
  if (scopes.length === 0 || scopes.some((s) => typeof s !== 'string' || s === '' || /\s/.test(s)))
    throw new TypeError('requireScope: name one or more scopes (no spaces)');
  const scope = scopes.join(' ');
  const check = (subject: Pick<Subject, 'scopes'> | undefined): ScopeRefusal | undefined =>
    subject && hasScopes(subject, ...scopes)
      ? undefined
      : {
          status: 403,
          body: { error: 'insufficient_scope', scope },
          headers: { 'cache-control': 'no-store', 'www-authenticate': `Bearer error="insufficient_scope", scope="${scope}"` },
        };
  const guard = (subject: Pick<Subject, 'scopes'> | undefined, res: ServerResponse): boolean => {
    const refusal = check(subject);
    if (!refusal) return true;
    res.writeHead(refusal.status, { 'content-type': 'application/json', ...refusal.headers }).end(JSON.stringify(refusal.body));
    return false;
  };
  return Object.assign(guard, { check, scopes: [...scopes] });
}
