import { relativeTime } from '../io/format.js';
import { audiences, type DecodedJwt, type JsonObject } from './decode.js';
import { idpDiagnostics, issuerMatches, jweDiagnostics } from './idp-diagnostics.js';
import { namesResource } from '../io/urls.js';

export type DiagnosticLevel = 'error' | 'warning' | 'info';

export type DiagnosticCode =
  | 'expired'
  | 'not_yet_valid'
  | 'issued_in_future'
  | 'issuer_mismatch'
  | 'audience_mismatch'
  | 'alg_none'
  | 'alg_symmetric'
  | 'kid_missing'
  | 'kid_unknown'
  | 'bad_signature'
  | 'azp_missing'
  | 'encrypted'
  | 'logout_token_nonce'
  | 'logout_token_subject_missing'
  // IdP-specific (src/token/idp-diagnostics.ts; the README's table).
  | 'entra_v1_token'
  | 'entra_graph_token'
  | 'auth0_opaque_token'
  | 'okta_org_token'
  | 'keycloak_refresh_token'
  | 'auth_time_invalid';

export interface Diagnostic {
  level: DiagnosticLevel;
  code: DiagnosticCode;
  message: string;
}

export type TokenKind =
  'id_token' | 'access_token' | 'logout_token' | 'client_assertion' | 'service_token' | 'kubernetes_sa' | 'unknown' | (string & {});

export interface SignatureResult {
  checked: boolean;
  /** Why it was not checked (a backend session, no issuer to trust, alg none…), or why it could not be. */
  reason?: string;
  /** With --verify: whether the signature verified against the issuer's keys. */
  valid?: boolean;
  /** Where the keys came from. */
  jwksUri?: string;
}

/** The `token inspect --json` object (README, "token inspect"). */
export interface Inspection {
  header: JsonObject;
  claims: JsonObject | null;
  kind: TokenKind;
  audience: { chosen: string | null; all: string[] };
  diagnostics: Diagnostic[];
  signature: SignatureResult;
}

export interface InspectOptions {
  now: Date;
  /** Seconds of clock difference tolerated before a time claim is a problem (default 60). */
  clockSkewSec?: number;
  /** The issuer the token should come from (the profile's, or --issuer). */
  expectedIssuer?: string;
  /** The CLI's client id (the profile's): an id_token's `aud` must contain it. */
  clientId?: string;
  /** Audiences this token may be for (--audience, the profile's `audience`). */
  knownAudiences?: readonly string[];
  /** Ordered audiences for classification (the profile's `audiencePriority`). */
  audiencePriority?: readonly string[];
  /** The profile's own audiences (`audience`, `resource`): chosen when the priority chooses none. */
  ownAudiences?: readonly string[];
  /** The profile's RFC 8707 resource: an access token's `aud` must name it (RFC 9068 §4). */
  resource?: string;
}

export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
const SYMMETRIC = /^HS\d+$/;

/** The audience chosen by priority: the first priority entry the token's `aud` set contains. Never "the first item". */
export function chooseAudience(all: readonly string[], priority: readonly string[]): string | null {
  const set = new Set(all);
  return priority.find((candidate) => set.has(candidate)) ?? null;
}

/** What kind of token this is, from its header and claims. */
export function classify(
  header: JsonObject,
  claims: JsonObject | null,
  options: Pick<InspectOptions, 'clientId' | 'expectedIssuer' | 'audiencePriority'> = {},
): TokenKind {
  if (!claims) return 'unknown';
  const aud = audiences(claims);
  const typ = typeof header.typ === 'string' ? header.typ.toLowerCase() : '';
  const events = claims.events;
  if (isObject(events) && BACKCHANNEL_LOGOUT_EVENT in events) return 'logout_token';
  if (typeof claims.sub === 'string' && claims.sub.startsWith('system:serviceaccount:')) return 'kubernetes_sa';
  if (
    typeof claims.iss === 'string' &&
    claims.iss === claims.sub &&
    aud.length > 0 &&
    aud.every((a) => looksLikeTokenEndpoint(a) || a === options.expectedIssuer)
  ) {
    return 'client_assertion';
  }
  const sub = typeof claims.sub === 'string' ? claims.sub : undefined;
  const clientId = typeof claims.client_id === 'string' ? claims.client_id : typeof claims.azp === 'string' ? claims.azp : undefined;
  if (
    claims.gty === 'client-credentials' ||
    (sub !== undefined && (sub.endsWith('@clients') || (clientId !== undefined && sub === clientId)))
  )
    return 'service_token';
  if (typ === 'at+jwt' || typ === 'application/at+jwt') return 'access_token';
  const idTokenMarks =
    'nonce' in claims ||
    'at_hash' in claims ||
    'c_hash' in claims ||
    (options.clientId !== undefined && aud.includes(options.clientId) && !('scope' in claims));
  if (idTokenMarks && !('scope' in claims)) return 'id_token';
  if ('scope' in claims || 'scp' in claims || 'client_id' in claims) return 'access_token';
  return chooseAudience(aud, options.audiencePriority ?? []) ?? 'unknown';
}

/** Decode-level inspection: kind, audience and every diagnostic that needs no network. */
export function inspect(decoded: DecodedJwt, options: InspectOptions): Inspection {
  const { header, claims } = decoded;
  const diagnostics: Diagnostic[] = [];
  const add = (level: DiagnosticLevel, code: DiagnosticCode, message: string) => diagnostics.push({ level, code, message });
  const alg = typeof header.alg === 'string' ? header.alg : undefined;

  if (decoded.format === 'jwe') {
    add('info', 'encrypted', 'the token is encrypted (JWE): only its header can be read; the recipient holds the key');
    diagnostics.push(...jweDiagnostics(header));
    return { header, claims: null, kind: 'unknown', audience: { chosen: null, all: [] }, diagnostics, signature: { checked: false } };
  }
  const c = claims!;
  if (alg === undefined || alg.toLowerCase() === 'none')
    add('error', 'alg_none', 'the token is not signed (alg "none"): anybody could have written it; no server should accept it');
  else if (SYMMETRIC.test(alg) && c.typ !== 'Refresh' && c.typ !== 'Offline')
    add(
      'warning',
      'alg_symmetric',
      `the token is signed with a shared secret (${alg}): only holders of that secret can check it, and latchkey/backend refuses it`,
    );

  const all = audiences(c);
  const kind = classify(header, c, options);
  const chosen = chooseAudience(all, options.audiencePriority ?? []) ?? chooseAudience(all, options.ownAudiences ?? []);

  const skew = options.clockSkewSec ?? 60;
  const now = options.now.getTime() / 1000;
  const exp = numeric(c.exp);
  const nbf = numeric(c.nbf);
  const iat = numeric(c.iat);
  if (exp !== undefined && exp < now - skew) add('error', 'expired', `the token expired ${ago(exp, now)} (${iso(exp)})`);
  if (nbf !== undefined && nbf > now + skew) add('error', 'not_yet_valid', `the token is not valid until ${iso(nbf)} (${ago(nbf, now)})`);
  if (iat !== undefined && iat > now + skew) {
    add('error', 'issued_in_future', `the token was issued ${ago(iat, now)} (${iso(iat)}): this clock or the issuer's is wrong`);
  }

  if (options.expectedIssuer !== undefined && !issuerMatches(options.expectedIssuer, c)) {
    const got = typeof c.iss === 'string' ? `"${c.iss}"` : 'no issuer';
    const slash =
      typeof c.iss === 'string' && c.iss.replace(/\/$/, '') === options.expectedIssuer.replace(/\/$/, '')
        ? ' (they differ only in the trailing "/", and issuers are compared exactly)'
        : '';
    add('error', 'issuer_mismatch', `the token has ${got}, but the expected issuer is "${options.expectedIssuer}"${slash}`);
  }

  const accepted = [
    ...(options.clientId ? [options.clientId] : []),
    ...(options.knownAudiences ?? []),
    ...(options.audiencePriority ?? []),
  ];
  const kindsWithAudience = kind !== 'logout_token' || options.clientId !== undefined;
  const forResource = options.resource !== undefined && (kind === 'access_token' || kind === 'service_token');
  if (forResource && !namesResource(all, options.resource!)) {
    const shown = typeof c.aud === 'string' ? JSON.stringify(c.aud) : JSON.stringify(all);
    add(
      'error',
      'audience_mismatch',
      `the access token is for ${all.length ? shown : 'no audience'}, not for the profile's resource "${options.resource}": the backend refuses it`,
    );
  } else if (!forResource && accepted.length > 0 && kindsWithAudience && !all.some((a) => accepted.includes(a))) {
    const shown = typeof c.aud === 'string' ? JSON.stringify(c.aud) : JSON.stringify(all);
    if (kind === 'access_token' || kind === 'service_token') {
      // RFC 9068 §3: an access token's `aud` names the API it is for; its client is `client_id`
      // (or `azp`). Another name there is normal, worth knowing at most.
      const client = typeof c.client_id === 'string' ? c.client_id : typeof c.azp === 'string' ? c.azp : undefined;
      const whose =
        client === undefined
          ? 'it names no client'
          : client === options.clientId
            ? "its client is this profile's"
            : `its client is ${JSON.stringify(client)}`;
      add('info', 'audience_mismatch', `the access token is for ${shown} (the API that accepts it, not a client); ${whose}`);
    } else {
      add(
        'error',
        'audience_mismatch',
        `the token's audience ${shown} contains neither the client id nor any known audience (${accepted.join(', ')})`,
      );
    }
  }
  if (kind === 'id_token' && all.length > 1 && typeof c.azp !== 'string') {
    add(
      'error',
      'azp_missing',
      `the id_token has ${all.length} audiences and no "azp": a verifier cannot tell which client it was issued to`,
    );
  }
  if (kind === 'logout_token') {
    if ('nonce' in c)
      add(
        'error',
        'logout_token_nonce',
        'a logout_token must not contain "nonce" (OIDC Back-Channel Logout 1.0 §2.4): this one would be refused',
      );
    if (typeof c.sub !== 'string' && typeof c.sid !== 'string')
      add('error', 'logout_token_subject_missing', 'a logout_token must contain "sub" or "sid"');
  }
  diagnostics.push(
    ...idpDiagnostics(header, c, {
      kind,
      now,
      skew,
      ...(options.expectedIssuer !== undefined ? { expectedIssuer: options.expectedIssuer } : {}),
    }),
  );
  return { header, claims: c, kind, audience: { chosen, all }, diagnostics, signature: { checked: false } };
}

export function hasErrors(inspection: Inspection): boolean {
  return inspection.diagnostics.some((d) => d.level === 'error');
}

function looksLikeTokenEndpoint(aud: string): boolean {
  try {
    const url = new URL(aud);
    return /token\/?$/i.test(url.pathname);
  } catch {
    return false;
  }
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function numeric(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

export function iso(seconds: number): string {
  const date = new Date(seconds * 1000);
  return Number.isNaN(date.getTime()) ? `${seconds}` : date.toISOString();
}

function ago(at: number, now: number): string {
  const date = new Date(at * 1000);
  return Number.isNaN(date.getTime()) ? 'at an impossible time' : relativeTime(date, new Date(now * 1000));
}
