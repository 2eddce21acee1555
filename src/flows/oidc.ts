import { ConfigError, FailureError, LatchkeyError, latchkeyErrorIn, NetworkError, RejectedError } from '../errors.js';
import type { Clock } from '../io/clock.js';
import type { Http } from '../http.js';
import { safeLine } from '../io/text.js';
import { isLoopbackHost } from '../loopback/hosts.js';
import type { Profile } from '../store/profile-keys.js';

type OpenIdClient = typeof import('openid-client');
export type OidcConfiguration = import('openid-client').Configuration;

/** openid-client, loaded only by the commands that talk to the IdP (it is not on --help's path). */
export function loadOpenIdClient(): Promise<OpenIdClient> {
  return import('openid-client');
}

/**
 * Discover the profile's issuer with openid-client, with our undici-based fetch, plain http
 * allowed only for a loopback issuer, and openid-client's clock aligned with ours.
 */
export async function discover(profile: Profile, http: Http, clock: Clock, clientAuth?: import('openid-client').ClientAuth): Promise<OidcConfiguration> {
  const client = await loadOpenIdClient();
  const issuer = new URL(profile.issuer);
  if (issuer.protocol === 'http:' && !isLoopbackHost(issuer.hostname)) {
    throw new ConfigError(`the issuer ${profile.issuer} uses http on a non-loopback host`, { hint: 'Use its https URL.' });
  }
  const insecure = issuer.protocol === 'http:';
  // openid-client keeps its own clock: align it with ours (a fixed clock in tests).
  const skew = Math.round((clock.now().getTime() - Date.now()) / 1000);
  let config: OidcConfiguration;
  try {
    config = await client.discovery(issuer, profile.clientId, skew === 0 ? undefined : { [client.clockSkew]: skew }, clientAuth ?? client.None(), {
      [client.customFetch]: http.fetch as never,
      ...(insecure ? { execute: [client.allowInsecureRequests] } : {}),
    });
  } catch (error) {
    throw oidcError(error, 'discovery', profile.issuer);
  }
  config[client.customFetch] = http.fetch as never;
  return config;
}

/** The same discovered server, with another client authentication (no second discovery request). */
export async function withClientAuth(config: OidcConfiguration, profile: Profile, http: Http, clock: Clock, clientAuth: import('openid-client').ClientAuth): Promise<OidcConfiguration> {
  const client = await loadOpenIdClient();
  const skew = Math.round((clock.now().getTime() - Date.now()) / 1000);
  const next = new client.Configuration(config.serverMetadata(), profile.clientId, skew === 0 ? undefined : { [client.clockSkew]: skew }, clientAuth);
  next[client.customFetch] = http.fetch as never;
  if (new URL(profile.issuer).protocol === 'http:') client.allowInsecureRequests(next);
  return next;
}

/**
 * One clear error for whatever openid-client threw: our own errors (network) pass through; an
 * OAuth error response is a rejection (exit 4); a failed check is named.
 */
export function oidcError(error: unknown, step: 'discovery' | 'authorization' | 'token' | 'refresh' | 'device' | 'revocation', issuer: string): LatchkeyError {
  const ours = latchkeyErrorIn(error);
  if (ours) return ours;
  const err = error as Error & { code?: string; error?: string; error_description?: string; status?: number; cause?: unknown };
  const oauth = oauthErrorOf(err);
  if (oauth) {
    const what = step === 'authorization' ? 'the sign-in' : `the ${step} request`;
    const description = oauth.description ? `: ${safeLine(oauth.description)}` : '';
    return new RejectedError(`the IdP refused ${what} (${safeLine(oauth.error)}${description})`, {
      code: oauth.error === 'access_denied' ? 'access_denied' : 'idp_rejected',
      cause: error,
    });
  }
  const message = specificMessage(error);
  if (step === 'discovery') {
    if (err?.code === 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED') {
      return new ConfigError(`the discovery document of ${issuer} names a different issuer`, {
        hint: 'Set the issuer exactly as the IdP writes it (with or without the trailing "/"): profile set <name> issuer <url>',
        cause: error,
      });
    }
    return new ConfigError(`could not discover the issuer ${issuer}: ${message}`, {
      hint: 'Check the issuer URL: /.well-known/openid-configuration must answer there.',
      cause: error,
    });
  }
  if (err?.code === 'OAUTH_JWT_CLAIM_COMPARISON_FAILED' || err?.code === 'OAUTH_JWT_TIMESTAMP_CHECK_FAILED' || err?.code === 'OAUTH_INVALID_RESPONSE') {
    // A mix-up (RFC 9207 iss), a wrong nonce, aud, azp, iss or time: the answer is refused (exit 4).
    return new RejectedError(`the IdP's answer failed a check: ${message}; nothing was stored`, {
      hint: "If your clock is off, set it right; otherwise the IdP or something between you and it is misbehaving. Report it with --debug's output.",
      code: 'idp_response_invalid',
      cause: error,
    });
  }
  if (err instanceof Error && err.name === 'TypeError' && /fetch/i.test(message)) return new NetworkError(`could not reach the IdP: ${message}`, { cause: error });
  return new FailureError(`the ${step} step failed: ${message}`, { cause: error });
}

/** The OAuth error of an error response: in the body, the callback, or a 401's WWW-Authenticate (invalid_client). */
function oauthErrorOf(err: { code?: string; error?: string; error_description?: string; status?: number; cause?: unknown }): { error: string; description?: string } | undefined {
  if (err?.code === 'OAUTH_RESPONSE_BODY_ERROR' || err?.code === 'OAUTH_AUTHORIZATION_RESPONSE_ERROR') {
    return { error: err.error ?? 'error', ...(err.error_description ? { description: err.error_description } : {}) };
  }
  if (err?.code === 'OAUTH_WWW_AUTHENTICATE_CHALLENGE') {
    const parameters = (Array.isArray(err.cause) ? (err.cause[0] as { parameters?: Record<string, string> } | undefined)?.parameters : undefined) ?? {};
    return { error: parameters.error ?? `HTTP ${err.status ?? 401}`, ...(parameters.error_description ? { description: parameters.error_description } : {}) };
  }
  return undefined;
}

/** openid-client wraps oauth4webapi's precise error ("unexpected JWT "iss" (issuer) claim value") in a generic one. */
function specificMessage(error: unknown): string {
  let message = error instanceof Error ? error.message : String(error);
  for (let e: unknown = error instanceof Error ? error.cause : undefined; e instanceof Error; e = e.cause) {
    const code = (e as Error & { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('OAUTH_')) message = e.message;
  }
  return safeLine(message);
}
