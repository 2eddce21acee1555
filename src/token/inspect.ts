import { relativeTime } from '../io/format.js';
import { audiences, numericDate, type DecodedJwt, type JsonObject } from './decode.js';
import { idpDiagnostics, issuerMatches, jweDiagnostics } from './idp-diagnostics.js';
import { identifyIssuer, type IssuerInfo } from './issuer.js';
import { classifyToken, type TokenKind, type WorkloadIdentity } from './kind.js';
import { namesResource } from '../io/urls.js';

export { BACKCHANNEL_LOGOUT_EVENT, type TokenKind, type WorkloadIdentity } from './kind.js';
export type { IssuerFamily, IssuerInfo } from './issuer.js';

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
  // Decoding that forgave what real tools forgive (src/token/decode.ts).
  | 'base64_padding'
  | 'base64_alphabet'
  | 'payload_not_utf8'
  // Time and audience sanity.
  | 'iat_after_exp'
  | 'nbf_after_exp'
  | 'numeric_date_string'
  | 'numeric_date_milliseconds'
  | 'audience_duplicate'
  // IdP-specific (src/token/idp-diagnostics.ts; the README's table).
  | 'entra_v1_token'
  | 'entra_graph_token'
  | 'auth0_opaque_token'
  | 'okta_org_token'
  | 'keycloak_refresh_token'
  | 'auth_time_invalid'
  | 'entra_app_id_uri_audience';

export interface Diagnostic {
  level: DiagnosticLevel;
  code: DiagnosticCode;
  message: string;
}

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
  /** Which IdP family and flavour issued it, from `iss` and the claims alone. */
  issuer: IssuerInfo;
  /** The claims that decided `kind`. */
  evidence: string[];
  /** What a workload token identifies (repository, namespace and service account, SPIFFE ID); else null. */
  identity: WorkloadIdentity | null;
  /** The payload as hex, when it is bytes rather than UTF-8 JSON. */
  payloadBytes?: string;
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

const SYMMETRIC = /^HS\d+$/;

/** The audience chosen by priority: the first priority entry the token's `aud` set contains. Never "the first item". */
export function chooseAudience(all: readonly string[], priority: readonly string[]): string | null {
  const set = new Set(all);
  return priority.find((candidate) => set.has(candidate)) ?? null;
}

/** What kind of token this is, from its header and claims (src/token/kind.ts has the rules and the evidence). */
export function classify(
  header: JsonObject,
  claims: JsonObject | null,
  options: Pick<InspectOptions, 'clientId' | 'expectedIssuer' | 'audiencePriority'> = {},
): TokenKind {
  return classifyToken(header, claims, options).kind;
}

/** Kinds whose `aud` is not a client or an API (a DPoP proof has none; a refresh token and a request object name the IdP). */
const AUDIENCE_NOT_A_CLIENT: ReadonlySet<TokenKind> = new Set(['dpop_proof', 'refresh_token', 'request_object']);

/** Decode-level inspection: kind, audience and every diagnostic that needs no network. */
export function inspect(decoded: DecodedJwt, options: InspectOptions): Inspection {
  const { header, claims } = decoded;
  const diagnostics: Diagnostic[] = [];
  const add = (level: DiagnosticLevel, code: DiagnosticCode, message: string) => diagnostics.push({ level, code, message });
  const alg = typeof header.alg === 'string' ? header.alg : undefined;
  for (const note of decoded.notes ?? []) add('warning', note.code, note.message);
  const issuer = identifyIssuer(header, claims);
  const bytes = decoded.payloadBytes !== undefined && claims === null ? { payloadBytes: decoded.payloadBytes } : {};
  const opaque = (kind: TokenKind): Inspection => ({
    header,
    claims: null,
    kind,
    audience: { chosen: null, all: [] },
    diagnostics,
    signature: { checked: false },
    issuer,
    evidence: [],
    identity: null,
    ...bytes,
  });

  if (decoded.format === 'jwe') {
    add('info', 'encrypted', 'the token is encrypted (JWE): only its header can be read; the recipient holds the key');
    diagnostics.push(...jweDiagnostics(header));
    return opaque('unknown');
  }
  if (claims === null) return opaque('unknown');
  const c = claims;
  if (alg === undefined || alg.toLowerCase() === 'none')
    add('error', 'alg_none', 'the token is not signed (alg "none"): anybody could have written it; no server should accept it');
  else if (SYMMETRIC.test(alg) && c.typ !== 'Refresh' && c.typ !== 'Offline')
    add(
      'warning',
      'alg_symmetric',
      `the token is signed with a shared secret (${alg}): only holders of that secret can check it, and latchkey/backend refuses it`,
    );

  const all = audiences(c);
  const { kind, evidence, identity } = classifyToken(header, c, options);
  const chosen = chooseAudience(all, options.audiencePriority ?? []) ?? chooseAudience(all, options.ownAudiences ?? []);

  const skew = options.clockSkewSec ?? 60;
  const now = options.now.getTime() / 1000;
  diagnostics.push(...numericDateDiagnostics(c));
  const exp = numericDate(c.exp);
  const nbf = numericDate(c.nbf);
  const iat = numericDate(c.iat);
  if (exp !== undefined && exp < now - skew) add('error', 'expired', `the token expired ${ago(exp, now)} (${iso(exp)})`);
  if (nbf !== undefined && nbf > now + skew) add('error', 'not_yet_valid', `the token is not valid until ${iso(nbf)} (${ago(nbf, now)})`);
  if (iat !== undefined && iat > now + skew) {
    const far = iat > now + YEAR ? ' — years ahead: a clock is badly wrong, or the issuer wrote the time in the wrong unit' : '';
    add('error', 'issued_in_future', `the token was issued ${ago(iat, now)} (${iso(iat)}): this clock or the issuer's is wrong${far}`);
  }
  // A token whose own times contradict each other was never valid, whatever the clock says.
  if (iat !== undefined && exp !== undefined && iat > exp)
    add('error', 'iat_after_exp', `the token was issued (${iso(iat)}) after it expired (${iso(exp)}): no verifier accepts it`);
  if (nbf !== undefined && exp !== undefined && nbf > exp)
    add('error', 'nbf_after_exp', `the token becomes valid (${iso(nbf)}) only after it expires (${iso(exp)}): it is never valid`);
  const duplicates = all.filter((a, i) => all.indexOf(a) !== i);
  if (duplicates.length > 0)
    add(
      'warning',
      'audience_duplicate',
      `"aud" lists ${JSON.stringify([...new Set(duplicates)])} more than once: it is a set (RFC 7519 §4.1.3), so the issuer wrote it wrongly`,
    );

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
  const kindsWithAudience = (kind !== 'logout_token' || options.clientId !== undefined) && !AUDIENCE_NOT_A_CLIENT.has(kind);
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
      issuer,
      ...(options.expectedIssuer !== undefined ? { expectedIssuer: options.expectedIssuer } : {}),
    }),
  );
  return { header, claims: c, kind, audience: { chosen, all }, diagnostics, signature: { checked: false }, issuer, evidence, identity };
}

export function hasErrors(inspection: Inspection): boolean {
  return inspection.diagnostics.some((d) => d.level === 'error');
}

const YEAR = 365 * 24 * 3600;
const TIME_CLAIMS = ['exp', 'nbf', 'iat', 'auth_time'] as const;
/** Seconds since 1970 beyond this (year 5138) are almost surely milliseconds. */
const MILLISECONDS_THRESHOLD = 1e11;

function numericDateDiagnostics(claims: JsonObject): Diagnostic[] {
  const out: Diagnostic[] = [];
  const strings = TIME_CLAIMS.filter((name) => typeof claims[name] === 'string' && numericDate(claims[name]) !== undefined);
  if (strings.length > 0)
    out.push({
      level: 'warning',
      code: 'numeric_date_string',
      message: `${strings.map((n) => `"${n}"`).join(', ')} ${strings.length > 1 ? 'are' : 'is'} a string of digits, not a JSON number (RFC 7519 §2 NumericDate): read as a time here, but strict verifiers refuse the token`,
    });
  const millis = TIME_CLAIMS.filter((name) => (numericDate(claims[name]) ?? 0) > MILLISECONDS_THRESHOLD);
  if (millis.length > 0)
    out.push({
      level: 'warning',
      code: 'numeric_date_milliseconds',
      message: `${millis.map((n) => `"${n}"`).join(', ')} look${millis.length > 1 ? '' : 's'} like milliseconds: a NumericDate counts seconds (RFC 7519 §2)`,
    });
  return out;
}

export function iso(seconds: number): string {
  const date = new Date(seconds * 1000);
  return Number.isNaN(date.getTime()) ? `${seconds}` : date.toISOString();
}

function ago(at: number, now: number): string {
  const date = new Date(at * 1000);
  return Number.isNaN(date.getTime()) ? 'at an impossible time' : relativeTime(date, new Date(now * 1000));
}
