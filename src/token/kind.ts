import { audiences, type JsonObject } from './decode.js';

/**
 * What kind of token this is, from the claims each IdP family documents, and the claims that
 * decided it (the evidence shown beside the kind). Pure: header and claims only. The order is
 * the argument: what a token names explicitly (its `typ`, Keycloak's `typ` claim, Cognito's
 * `token_use`) wins over what its shape suggests (`scope`, `nonce`).
 */

export type TokenKind =
  | 'id_token'
  | 'access_token'
  | 'refresh_token'
  | 'logout_token'
  | 'client_assertion'
  | 'service_token'
  | 'request_object'
  | 'dpop_proof'
  | 'github_actions'
  | 'gitlab_ci'
  | 'kubernetes_sa'
  | 'spiffe_svid'
  | 'unknown'
  | (string & {});

/** What a workload token identifies (repository, workflow and ref; namespace and service account; SPIFFE ID). */
export type WorkloadIdentity = Record<string, string>;

export interface Classification {
  kind: TokenKind;
  /** The claims that decided the kind, as shown: `nonce`, `typ: Bearer`, `token_use: access`. */
  evidence: string[];
  /** For a workload token, what it identifies; otherwise null. */
  identity: WorkloadIdentity | null;
}

export interface ClassifyOptions {
  clientId?: string;
  expectedIssuer?: string;
  audiencePriority?: readonly string[];
}

export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

// Keycloak's own `typ` claim (TokenUtil: Bearer, ID, Refresh, Offline, Logout).
const KEYCLOAK_TYP: Record<string, TokenKind> = {
  Bearer: 'access_token',
  ID: 'id_token',
  Refresh: 'refresh_token',
  Offline: 'refresh_token',
  Logout: 'logout_token',
};

/** Issuers whose JWTs are only ever id_tokens (their access tokens are opaque), by their docs. */
const ID_TOKEN_ONLY_ISSUERS =
  /^https:\/\/(accounts\.google\.com|appleid\.apple\.com|cloud\.google\.com\/iap|securetoken\.google\.com\/)|^accounts\.google\.com$/;

const ENTRA_ISSUER =
  /^https:\/\/(sts\.windows(-ppe)?\.net|login\.(microsoftonline\.(com|us)|windows(-ppe)?\.net|chinacloudapi\.cn|partner\.microsoftonline\.cn)|[^/]+\.(b2clogin|ciamlogin)\.com)\//i;

// The claims OpenID Connect Core §5.1 defines for a person: an id_token's content, not an API's.
const PROFILE_CLAIMS = ['email', 'email_verified', 'name', 'preferred_username', 'given_name', 'family_name', 'picture', 'phone_number'];

const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
const has = (claims: JsonObject, name: string): boolean => claims[name] !== undefined && claims[name] !== null;
const isObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The kind of a token, the evidence for it, and what a workload token identifies. */
export function classifyToken(header: JsonObject, claims: JsonObject | null, options: ClassifyOptions = {}): Classification {
  const result = (kind: TokenKind, evidence: string[], identity: WorkloadIdentity | null = null): Classification => ({
    kind,
    evidence,
    identity,
  });
  if (!claims) return result('unknown', []);
  const typ = (str(header.typ) ?? '').toLowerCase().replace(/^application\//, '');
  const aud = audiences(claims);
  const iss = str(claims.iss) ?? '';
  const sub = str(claims.sub);

  // What the header says the token is (RFC 9449 §4.2, OIDC Back-Channel Logout §2.4, RFC 9101 §10.8, RFC 9068 §2.1).
  if (typ === 'dpop+jwt') return result('dpop_proof', ['typ: dpop+jwt', ...present(claims, ['htm', 'htu', 'ath'])]);
  const events = claims.events;
  if (typ === 'logout+jwt' || (isObject(events) && BACKCHANNEL_LOGOUT_EVENT in events))
    return result('logout_token', typ === 'logout+jwt' ? ['typ: logout+jwt'] : ['events: back-channel logout']);
  if (typ === 'oauth-authz-req+jwt') return result('request_object', ['typ: oauth-authz-req+jwt']);
  // A request object carries authorization request parameters, which no issued token does.
  if (typeof claims.response_type === 'string' && (has(claims, 'client_id') || has(claims, 'redirect_uri')))
    return result('request_object', present(claims, ['response_type', 'client_id', 'redirect_uri', 'scope']));
  // A DPoP proof without its typ still names the request it proves.
  if (typeof claims.htm === 'string' && typeof claims.htu === 'string' && !has(claims, 'iss')) return result('dpop_proof', ['htm', 'htu']);
  if (typ === 'at+jwt') {
    // RFC 9068 §2.2: without a resource owner (client credentials), `sub` is the client itself.
    if (sub !== undefined && sub === str(claims.client_id)) return result('service_token', [`typ: ${str(header.typ)}`, 'sub = client_id']);
    return result('access_token', [`typ: ${str(header.typ)}`, ...present(claims, ['client_id', 'scope'])]);
  }

  // Keycloak says what each of its tokens is in its own `typ` claim.
  const keycloakTyp = str(claims.typ);
  if (keycloakTyp !== undefined && keycloakTyp in KEYCLOAK_TYP) {
    const kind = KEYCLOAK_TYP[keycloakTyp]!;
    // A client-credentials token is a Bearer token of the client's service account.
    if (kind === 'access_token' && (str(claims.preferred_username) ?? '').startsWith('service-account-'))
      return result('service_token', [`typ: ${keycloakTyp}`, 'preferred_username: service-account-…']);
    return result(kind, [`typ: ${keycloakTyp}`]);
  }
  // Cognito says it in `token_use`.
  const tokenUse = str(claims.token_use);
  if (tokenUse === 'id') return result('id_token', ['token_use: id']);
  if (tokenUse === 'access') {
    if (sub !== undefined && sub === str(claims.client_id)) return result('service_token', ['token_use: access', 'sub = client_id']);
    return result('access_token', ['token_use: access', ...present(claims, ['scope'])]);
  }

  const workload = workloadIdentity(claims, iss, sub);
  if (workload) return workload;

  if (iss !== '' && iss === sub && aud.length > 0 && aud.every((a) => looksLikeTokenEndpoint(a) || a === options.expectedIssuer))
    return result('client_assertion', ['iss = sub', 'aud: token endpoint']);
  if (ID_TOKEN_ONLY_ISSUERS.test(iss)) return result('id_token', [`iss: ${hostOf(iss)} issues only id_tokens as JWTs`, ...idMarks(claims)]);

  const clientId = str(claims.client_id) ?? str(claims.cid) ?? str(claims.azp);
  if (claims.gty === 'client-credentials') return result('service_token', ['gty: client-credentials']);
  if (sub?.endsWith('@clients')) return result('service_token', ['sub: …@clients']);
  if (claims.idtyp === 'app') return result('service_token', ['idtyp: app']);
  if (sub !== undefined && clientId !== undefined && sub === clientId)
    return result('service_token', [`sub = ${has(claims, 'client_id') ? 'client_id' : has(claims, 'cid') ? 'cid' : 'azp'}`]);

  const accessMarks = present(claims, ['scp', 'scope', 'client_id', 'cid', 'appid']);
  if (ENTRA_ISSUER.test(iss)) {
    // Entra access tokens always name their client (v1 `appid`, v2 `azp`); its id_tokens never do.
    const entraAccess = present(claims, ['scp', 'roles', 'appid', 'azp']);
    if (entraAccess.length > 0) return result('access_token', [...entraAccess, ...(claims.idtyp === 'user' ? ['idtyp: user'] : [])]);
    return result('id_token', ['Entra ID: no scp, roles, appid or azp', ...idMarks(claims)]);
  }
  const strongId = present(claims, ['nonce', 'at_hash', 'c_hash', 's_hash']);
  if (strongId.length > 0 && accessMarks.length === 0) return result('id_token', idMarks(claims));
  if (accessMarks.length > 0) return result('access_token', accessMarks);
  if (options.clientId !== undefined && aud.includes(options.clientId)) return result('id_token', ['aud: this client', ...idMarks(claims)]);
  // An assertion about a person, for one audience, granting nothing: what an id_token is.
  const profile = present(claims, PROFILE_CLAIMS);
  if (profile.length > 0 && aud.length === 1 && has(claims, 'sub')) return result('id_token', [...profile.slice(0, 3), 'no scope']);
  const priority = options.audiencePriority ?? [];
  const chosen = priority.find((candidate) => aud.includes(candidate));
  return chosen !== undefined ? result(chosen, [`aud: ${chosen}`]) : result('unknown', []);
}

/** GitHub Actions, GitLab CI, Kubernetes service accounts and SPIFFE: what each documents its tokens to carry. */
function workloadIdentity(claims: JsonObject, iss: string, sub: string | undefined): Classification | null {
  const pick = (names: Record<string, string>): WorkloadIdentity => {
    const out: WorkloadIdentity = {};
    for (const [label, claim] of Object.entries(names)) {
      const value = claims[claim];
      if (typeof value === 'string' && value !== '') out[label] = value;
    }
    return out;
  };
  // docs.github.com, "About security hardening with OpenID Connect": repository, workflow_ref, ref.
  const github = /^https:\/\/token\.actions\.githubusercontent\.com(\/|$)/.test(iss);
  if (github || (has(claims, 'repository') && (has(claims, 'job_workflow_ref') || has(claims, 'workflow_ref')) && has(claims, 'run_id'))) {
    const identity = pick({ repository: 'repository', workflow: 'workflow_ref', ref: 'ref', environment: 'environment', actor: 'actor' });
    if (identity.workflow === undefined && typeof claims.workflow === 'string') identity.workflow = claims.workflow;
    const job = str(claims.job_workflow_ref);
    if (job !== undefined && job !== identity.workflow) identity.reusableWorkflow = job;
    return {
      kind: 'github_actions',
      evidence: github ? ['iss: token.actions.githubusercontent.com'] : present(claims, ['repository', 'job_workflow_ref', 'run_id']),
      identity,
    };
  }
  // docs.gitlab.com, "OpenID Connect (OIDC) Authentication Using ID Tokens": project_path, pipeline_id, ref.
  if (has(claims, 'project_path') && has(claims, 'namespace_path') && (has(claims, 'pipeline_id') || has(claims, 'ci_config_ref_uri'))) {
    return {
      kind: 'gitlab_ci',
      evidence: present(claims, ['project_path', 'pipeline_id', 'ci_config_ref_uri']),
      identity: pick({
        project: 'project_path',
        ref: 'ref',
        refType: 'ref_type',
        pipeline: 'pipeline_id',
        environment: 'environment',
        user: 'user_login',
      }),
    };
  }
  // Kubernetes: projected tokens carry `kubernetes.io`; legacy secret-based ones `kubernetes.io/serviceaccount/…`.
  const k8s = claims['kubernetes.io'];
  const legacyNamespace = str(claims['kubernetes.io/serviceaccount/namespace']);
  if (isObject(k8s) || legacyNamespace !== undefined || sub?.startsWith('system:serviceaccount:')) {
    const fromSub = sub?.startsWith('system:serviceaccount:') ? sub.split(':') : [];
    const identity: WorkloadIdentity = {};
    const set = (label: string, value: unknown) => {
      if (typeof value === 'string' && value !== '') identity[label] = value;
    };
    if (isObject(k8s)) {
      set('namespace', k8s.namespace);
      set('serviceAccount', isObject(k8s.serviceaccount) ? k8s.serviceaccount.name : undefined);
      set('pod', isObject(k8s.pod) ? k8s.pod.name : undefined);
      identity.token = 'projected (bound to an audience and an expiry)';
    } else if (legacyNamespace !== undefined) {
      set('namespace', legacyNamespace);
      set('serviceAccount', claims['kubernetes.io/serviceaccount/service-account.name']);
      set('secret', claims['kubernetes.io/serviceaccount/secret.name']);
      identity.token = 'legacy (a Secret-based token that never expires)';
    }
    if (identity.namespace === undefined) set('namespace', fromSub[2]);
    if (identity.serviceAccount === undefined) set('serviceAccount', fromSub[3]);
    const evidence = isObject(k8s) ? ['kubernetes.io'] : legacyNamespace !== undefined ? ['kubernetes.io/serviceaccount/namespace'] : [];
    if (sub?.startsWith('system:serviceaccount:')) evidence.push('sub: system:serviceaccount:…');
    return { kind: 'kubernetes_sa', evidence, identity };
  }
  // SPIFFE JWT-SVID: `sub` is the workload's SPIFFE ID (JWT-SVID spec §3).
  if (sub?.startsWith('spiffe://')) {
    const trustDomain = sub.slice('spiffe://'.length).split('/')[0] ?? '';
    return { kind: 'spiffe_svid', evidence: ['sub: spiffe://…'], identity: { spiffeId: sub, trustDomain } };
  }
  return null;
}

/** The id_token claims present, for the evidence line. */
function idMarks(claims: JsonObject): string[] {
  return present(claims, ['nonce', 'at_hash', 'c_hash', 'auth_time']);
}

function present(claims: JsonObject, names: readonly string[]): string[] {
  return names.filter((name) => has(claims, name));
}

function hostOf(url: string): string {
  return url.replace(/^https:\/\//, '').replace(/\/.*$/, '');
}

function looksLikeTokenEndpoint(aud: string): boolean {
  try {
    return /token\/?$/i.test(new URL(aud).pathname);
  } catch {
    return false;
  }
}
