import { audiences, numericDate, type JsonObject } from './decode.js';
import type { Diagnostic, TokenKind } from './inspect.js';
import type { IssuerInfo } from './issuer.js';

/**
 * What a token shows about the IdP that issued it, when that is the cause of a refusal: the
 * documented quirks of Entra ID, Auth0, Okta, Keycloak and Google, each with its fix. Pure: the
 * header and claims only.
 */
export function idpDiagnostics(
  header: JsonObject,
  claims: JsonObject,
  context: { kind: TokenKind; expectedIssuer?: string; now: number; skew: number; issuer?: IssuerInfo },
): Diagnostic[] {
  const out: Diagnostic[] = [];
  const iss = typeof claims.iss === 'string' ? claims.iss : '';

  // Entra ID: a v1.0 token where a v2.0 issuer is expected (the API's manifest asks for v1).
  if (/^https:\/\/sts\.windows\.net\//i.test(iss) || (claims.ver === '1.0' && /microsoftonline|windows\.net/i.test(iss))) {
    const expectsV2 = context.expectedIssuer !== undefined && /\/v2\.0\/?$/.test(context.expectedIssuer);
    out.push({
      level: expectsV2 ? 'error' : 'warning',
      code: 'entra_v1_token',
      message:
        context.kind === 'id_token'
          ? `an Entra ID v1.0 id_token (iss ${iss || '?'}), from the v1.0 endpoint (/oauth2/authorize): v2.0 issuers and verifiers expect v2.0 tokens.` +
            ' Fix: log in through the v2.0 endpoint (/oauth2/v2.0/authorize)'
          : `an Entra ID v1.0 token (iss ${iss || '?'}): v2.0 issuers and verifiers expect v2.0 tokens.` +
            ' Fix: set "requestedAccessTokenVersion": 2 (accessTokenAcceptedVersion in older manifests)' +
            " in the API's app manifest, then log in again",
    });
  }
  // Entra ID v1.0 access tokens name the API by its App ID URI (api://…, https://tenant/…), not its client id.
  const aud = audiences(claims);
  if (context.issuer?.family === 'entra' && context.kind === 'access_token' && aud.length > 0 && aud.every((a) => !GUID.test(a))) {
    out.push({
      level: 'info',
      code: 'entra_app_id_uri_audience',
      message:
        `the audience ${JSON.stringify(aud.length === 1 ? aud[0] : aud)} is an App ID URI, not a client id:` +
        ' Entra ID names the API that way in v1.0 tokens (and when it was asked for that URI);' +
        ' an API that verifies them must accept its App ID URI as well as its client id',
    });
  }
  // Entra ID: a Microsoft Graph token carries a nonce in its header; only Graph can verify it.
  if (typeof header.nonce === 'string') {
    out.push({
      level: 'warning',
      code: 'entra_graph_token',
      message:
        'a Microsoft Graph access token (its header has a "nonce"):' +
        ' only Graph can verify its signature.' +
        ' Your API needs a token for its own scope: api://<app-id>/.default',
    });
  }
  // Okta's org authorization server issues access tokens for Okta's own APIs.
  if ((context.kind === 'access_token' || context.kind === 'service_token') && isOktaOrgIssuer(iss)) {
    out.push({
      level: 'warning',
      code: 'okta_org_token',
      message:
        `an access token of Okta's org authorization server (${iss}): meant for Okta's APIs, not for validation by yours.` +
        ` Use a custom authorization server (${iss.replace(/\/+$/, '')}/oauth2/default) for your API`,
    });
  }
  // Keycloak refresh (and offline) tokens are JWTs signed with a realm secret.
  if ((claims.typ === 'Refresh' || claims.typ === 'Offline') && typeof header.alg === 'string' && /^HS/.test(header.alg)) {
    out.push({
      level: 'info',
      code: 'keycloak_refresh_token',
      message:
        `a Keycloak ${String(claims.typ).toLowerCase()} token:` +
        ` signed with a realm secret (${header.alg}) by design,` +
        ` so no client can verify it; it renews a login and is not a credential for APIs`,
    });
  }
  const authTime = numericDate(claims.auth_time);
  if (authTime === 0) {
    out.push({
      level: 'warning',
      code: 'auth_time_invalid',
      message: 'auth_time is 0: the IdP did not record when the user signed in, so max_age checks cannot work',
    });
  } else if (authTime !== undefined && authTime > context.now + context.skew) {
    out.push({
      level: 'error',
      code: 'auth_time_invalid',
      message:
        `auth_time is in the future${authTime > context.now + 365 * 24 * 3600 ? ' by years' : ''}:` +
        " the user cannot have signed in then; this clock or the IdP's is wrong",
    });
  }
  return out;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What the (readable) header of an encrypted token says about its IdP. */
export function jweDiagnostics(header: JsonObject): Diagnostic[] {
  const iss = typeof header.iss === 'string' ? header.iss : '';
  if (header.alg === 'dir' && /(^https:\/\/)?[^/]*auth0\.com\/?$/i.test(iss)) {
    return [
      {
        level: 'warning',
        code: 'auth0_opaque_token',
        message:
          `an Auth0 opaque access token (encrypted, from ${iss}):` +
          ` Auth0 issues one when no audience is requested, and only Auth0 can read it.` +
          ` Fix: set the profile's audience to your API identifier (profile set <name> audience https://api.example.com),` +
          ` then log in again`,
      },
    ];
  }
  return [];
}

/**
 * Whether a token's `iss` is the expected issuer. Entra ID's multi-tenant issuers (`common`,
 * `organizations`, `consumers`) stand for every tenant: a token's issuer is its own tenant's
 * (`tid`), as discovery's template https://login.microsoftonline.com/{tenantid}/v2.0 says.
 */
export function issuerMatches(expected: string, claims: JsonObject): boolean {
  if (claims.iss === expected) return true;
  const multiTenant = /^https:\/\/login\.microsoftonline\.com\/(common|organizations|consumers)\/v2\.0\/?$/i.exec(expected);
  return multiTenant !== null && typeof claims.tid === 'string' && claims.iss === `https://login.microsoftonline.com/${claims.tid}/v2.0`;
}

/** An Okta org authorization server: `https://ORG.okta.com` without `/oauth2/…`. */
export function isOktaOrgIssuer(issuer: string): boolean {
  try {
    const url = new URL(issuer);
    return /(^|\.)(okta|oktapreview|okta-emea)\.com$/i.test(url.hostname) && !url.pathname.includes('/oauth2/');
  } catch {
    return false;
  }
}
