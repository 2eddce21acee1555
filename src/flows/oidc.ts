import { AuthorizationResponseError, ClientError, ResponseBodyError, WWWAuthenticateChallengeError } from 'openid-client';
import { ConfigError, FailureError, LatchkeyError, latchkeyErrorIn, NetworkError, RejectedError } from '../errors.js';
import type { Clock } from '../io/clock.js';
import type { Fetch, Http } from '../http.js';
import { safeLine } from '../io/text.js';
import { requireWebUrlFrom, UnsafeUrlError } from '../io/urls.js';
import { isLoopbackHost } from '../loopback/hosts.js';
import { authParamsOf, effective, type Profile } from '../store/profile-keys.js';

type OpenIdClient = typeof import('openid-client');
export type OidcConfiguration = import('openid-client').Configuration;

/** openid-client, loaded only by the commands that talk to the IdP (it is not on --help's path). */
export function loadOpenIdClient(): Promise<OpenIdClient> {
  return import('openid-client');
}

/**
 * The fetch of everything openid-client does for one authorization server: each URL it is about
 * to call (discovery, and every endpoint the server's metadata names) is judged by itself with
 * the one URL rule, and by where it was named: plain http only on a loopback host, whatever the
 * issuer is, and a non-loopback server may not send the CLI to this machine. openid-client's own
 * exception for http (allowInsecureRequests, needed for a loopback issuer) would otherwise apply
 * to every URL the metadata names.
 */
export function serverFetch(http: Http, issuer: URL): Fetch {
  return (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    try {
      requireWebUrlFrom(url, issuer);
    } catch (error) {
      if (!(error instanceof UnsafeUrlError)) throw error;
      let shown = url;
      try {
        const parsed = new URL(url);
        shown = `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
      } catch {
        // shown as given, cut to a line
      }
      return Promise.reject(
        new ConfigError(
          `the IdP ${safeLine(issuer.origin, 200)} names ${safeLine(shown, 200)} in its metadata, which latchkey will not call: ${error.message}; nothing was sent there`,
          {
            hint: "The IdP's metadata is wrong, or not the IdP's: check the issuer URL, and tell the IdP's admins.",
            code: 'unsafe_endpoint',
          },
        ),
      );
    }
    return http.fetch(input, init);
  };
}

/**
 * Discover the profile's issuer with openid-client (OpenID discovery, else RFC 8414's metadata),
 * with our undici-based fetch, plain http allowed only for a loopback issuer, and openid-client's
 * clock aligned with ours.
 */
export async function discover(
  profile: Profile,
  http: Http,
  clock: Clock,
  clientAuth?: import('openid-client').ClientAuth,
): Promise<OidcConfiguration> {
  const client = await loadOpenIdClient();
  const issuer = new URL(profile.issuer);
  if (issuer.protocol === 'http:' && !isLoopbackHost(issuer.hostname)) {
    throw new ConfigError(`the issuer ${profile.issuer} uses http on a non-loopback host`, { hint: 'Use its https URL.' });
  }
  const insecure = issuer.protocol === 'http:';
  // openid-client keeps its own clock: align it with ours (a fixed clock in tests).
  const skew = Math.round((clock.now().getTime() - Date.now()) / 1000);
  const attempt = (algorithm: 'oidc' | 'oauth2') =>
    client.discovery(issuer, profile.clientId, skew === 0 ? undefined : { [client.clockSkew]: skew }, clientAuth ?? client.None(), {
      algorithm,
      [client.customFetch]: serverFetch(http, issuer),
      ...(insecure ? { execute: [client.allowInsecureRequests] } : {}),
    });
  const config = await withMetadataFallback(attempt).catch((error: unknown) => {
    throw oidcError(error, 'discovery', profile.issuer);
  });
  config[client.customFetch] = serverFetch(http, issuer);
  return config;
}

/**
 * Run a request that discovers the authorization server (openid-client's discovery, or its
 * registration, which discovers first) with OpenID discovery; when there is no such document
 * (404), with RFC 8414's metadata of an OAuth authorization server. A failure of both is the
 * first one's.
 */
export async function withMetadataFallback<T>(attempt: (algorithm: 'oidc' | 'oauth2') => Promise<T>): Promise<T> {
  try {
    return await attempt('oidc');
  } catch (error) {
    const missing = error instanceof ClientError && error.cause instanceof Response && error.cause.status === 404;
    if (!missing) throw error;
    return attempt('oauth2').catch(() => {
      throw error;
    });
  }
}

/** The same discovered server, with another client authentication (no second discovery request). */
export async function withClientAuth(
  config: OidcConfiguration,
  profile: Profile,
  http: Http,
  clock: Clock,
  clientAuth: import('openid-client').ClientAuth,
): Promise<OidcConfiguration> {
  const client = await loadOpenIdClient();
  const skew = Math.round((clock.now().getTime() - Date.now()) / 1000);
  const next = new client.Configuration(
    config.serverMetadata(),
    profile.clientId,
    skew === 0 ? undefined : { [client.clockSkew]: skew },
    clientAuth,
  );
  next[client.customFetch] = serverFetch(http, new URL(profile.issuer));
  if (new URL(profile.issuer).protocol === 'http:') client.allowInsecureRequests(next);
  return next;
}

/**
 * The authorization request's parameters from the profile: its `authParams` first, then the
 * ones with keys of their own (which `authParams` cannot replace): scope, audience (Auth0),
 * prompt, resource (RFC 8707).
 */
export function authorizationParameters(profile: Profile, { prompt = true } = {}): Record<string, string> {
  const parameters: Record<string, string> = { ...authParamsOf(profile), scope: effective(profile).scopes };
  if (profile.audience) parameters.audience = profile.audience;
  if (prompt && profile.prompt) parameters.prompt = profile.prompt;
  if (profile.resource) parameters.resource = profile.resource;
  return parameters;
}

/** Extra token request parameters: the RFC 8707 resource, sent in token requests too (§2.2). */
export function tokenParameters(profile: Profile): Record<string, string> {
  return profile.resource ? { resource: profile.resource } : {};
}

/**
 * How this profile's client authenticates at the token endpoint in a user login: a public client
 * (none), unless it has a client secret (Google's Desktop clients, a confidential CLI client):
 * then `tokenEndpointAuthMethod`, basic by default.
 */
export async function userClientAuth(profile: Profile, clientSecret: string | undefined): Promise<import('openid-client').ClientAuth> {
  const client = await loadOpenIdClient();
  if (clientSecret === undefined || profile.tokenEndpointAuthMethod === 'none') return client.None();
  return profile.tokenEndpointAuthMethod === 'client_secret_post'
    ? client.ClientSecretPost(clientSecret)
    : client.ClientSecretBasic(clientSecret);
}

/** What a message about a refusal may name: how the client authenticated, and the profile's command. */
export interface OidcErrorContext {
  authMethod?: string;
  cliName?: string;
  profileName?: string;
}

/** The token endpoint authentication userClientAuth chooses, by name (for messages). */
export function userAuthMethod(profile: Profile, clientSecret: string | undefined): string {
  if (clientSecret === undefined || profile.tokenEndpointAuthMethod === 'none') return 'none';
  return profile.tokenEndpointAuthMethod === 'client_secret_post' ? 'client_secret_post' : 'client_secret_basic';
}

/** The OAuth step an error happened in, for messages. */
export type OidcStep = 'discovery' | 'authorization' | 'token' | 'refresh' | 'device' | 'revocation' | 'registration';

/**
 * One clear error for whatever openid-client threw, told apart by its error classes: our own
 * errors (network) pass through; an OAuth error response, with or without a body, is a rejection
 * (exit 4) that names the HTTP status; a 5xx is the IdP's outage (exit 5); a failed check is named.
 */
export function oidcError(error: unknown, step: OidcStep, issuer: string, context: OidcErrorContext = {}): LatchkeyError {
  const ours = latchkeyErrorIn(error);
  if (ours) return ours;
  if (step === 'discovery') return discoveryError(error, issuer);
  const what = step === 'authorization' ? 'the sign-in' : `the ${step} request`;
  const refusal = refusalOf(error);
  const setKey = (key: string, value: string) =>
    `${context.cliName ?? 'latchkey'} profile set ${context.profileName ?? '<name>'} ${key} ${value}`;
  if (refusal) {
    if (refusal.status !== undefined && refusal.status >= 500 && refusal.error === undefined) {
      // At the token endpoint, a 5xx on every try is most often the client's setup at the IdP,
      // not an outage: LemonLDAP::NG answers 500 to a public client left at its default HS512
      // id_token algorithm, which such a client cannot verify.
      const atTokenEndpoint = step === 'token' || step === 'refresh';
      return new NetworkError(`the IdP answered ${what} with HTTP ${refusal.status}; nothing was stored`, {
        hint: atTokenEndpoint
          ? "If it answers so on every try, it is likely not an outage but the client's configuration at the IdP:" +
            " look at the IdP's log for this client (its id_token algorithm must be an asymmetric one such as RS256, not HS256/HS512," +
            ' for a public client; its keys, its grant types). Otherwise try again in a moment.'
          : 'The IdP is having trouble: try again in a moment.',
        code: 'idp_unavailable',
        cause: error,
      });
    }
    if (
      refusal.error === 'invalid_client' &&
      (context.authMethod === 'client_secret_basic' || context.authMethod === 'client_secret_post')
    ) {
      // Servers match Basic credentials differently (LemonLDAP::NG with a pattern that fails on
      // some ids and secrets; others do not form-decode them, RFC 6749 §2.3.1): the other way of
      // sending the same secret often works.
      const other = context.authMethod === 'client_secret_basic' ? 'client_secret_post' : 'client_secret_basic';
      return new RejectedError(
        `the IdP refused the client's credentials sent with ${context.authMethod} (invalid_client${refusal.description ? `: ${safeLine(refusal.description)}` : ''})`,
        {
          code: 'idp_rejected',
          hint: `Check the client id and secret; if they are right, the IdP may not read ${context.authMethod}: try ${other} (${setKey('token-endpoint-auth-method', other)}).`,
          cause: error,
        },
      );
    }
    // The OAuth error when the IdP gave one; else the HTTP status is all there is to name.
    const said =
      refusal.error !== undefined
        ? `${safeLine(refusal.error)}${refusal.description ? `: ${safeLine(refusal.description)}` : ''}`
        : `HTTP ${refusal.status ?? '?'}, with no error in the body`;
    const denied = refusal.error === 'access_denied';
    return new RejectedError(`the IdP refused ${what} (${said})`, {
      code: denied ? 'access_denied' : 'idp_rejected',
      hint: denied
        ? "You cancelled, or the IdP did not let you in: run the login again, or ask the IdP's admin to assign you to the application."
        : step === 'authorization'
          ? "Check the profile's scopes, audience and auth params (doctor checks the request), or ask the IdP's admin."
          : "Check the profile's client id and how it authenticates (doctor), or ask the IdP's admin.",
      cause: error,
    });
  }
  const message = specificMessage(error);
  if (error instanceof ClientError && error.code !== undefined && FAILED_CHECKS.has(error.code)) {
    // A mix-up (RFC 9207 iss), a wrong nonce, aud, azp, iss or time: the answer is refused (exit 4).
    return new RejectedError(`the IdP's answer failed a check: ${message}; nothing was stored`, {
      hint:
        'If your clock is off, set it right;' +
        ' otherwise the IdP or something between you and it is misbehaving.' +
        " Report it with --debug's output.",
      code: 'idp_response_invalid',
      cause: error,
    });
  }
  if (error instanceof TypeError && /fetch/i.test(message))
    return new NetworkError(`could not reach the IdP: ${message}`, { cause: error });
  return new FailureError(`the ${step} step failed: ${message}`, { cause: error });
}

// openid-client's ClientError codes (oauth4webapi's) for a response that failed a check.
const FAILED_CHECKS = new Set(['OAUTH_JWT_CLAIM_COMPARISON_FAILED', 'OAUTH_JWT_TIMESTAMP_CHECK_FAILED', 'OAUTH_INVALID_RESPONSE']);

/**
 * What the IdP said when it refused: the OAuth error of a JSON body, of the callback, or of a
 * 401's WWW-Authenticate (invalid_client), with the HTTP status; or only the status when the
 * answer had no usable body (Glewlwyd answers 400/401/403 with none).
 */
export function refusalOf(error: unknown): { error?: string; description?: string; status?: number } | undefined {
  const described = (e: { error: string; error_description?: string | undefined }, status?: number) => ({
    error: e.error,
    ...(e.error_description ? { description: e.error_description } : {}),
    ...(status !== undefined ? { status } : {}),
  });
  if (error instanceof ResponseBodyError) return described(error, error.status);
  if (error instanceof AuthorizationResponseError) return described(error);
  if (error instanceof WWWAuthenticateChallengeError) {
    const parameters = error.cause[0]?.parameters;
    if (parameters?.error) return described({ error: parameters.error, error_description: parameters.error_description }, error.status);
    // A challenge without an error (`Basic realm=…`): what the body said, when it was read.
    const body = challengeBodies.get(error);
    return body ? described(body, error.status) : { status: error.status };
  }
  // An error status whose body is not an OAuth error (empty, HTML, not JSON): openid-client hands
  // over the Response itself.
  if (error instanceof ClientError && error.cause instanceof Response && error.cause.status >= 400) return { status: error.cause.status };
  return undefined;
}

/** The OAuth error of a body read after a challenge that carried none (readRefusalBody). */
const challengeBodies = new WeakMap<object, { error: string; error_description?: string }>();

/**
 * openid-client stops at a 401's `WWW-Authenticate` before it reads the body; an IdP that answers
 * `WWW-Authenticate: Basic` with `{"error":"invalid_client"}` (LemonLDAP::NG does) said what was
 * wrong in the body. Read it (the HTTP layer bounds it), whatever the challenge says, so that
 * refusalOf names the error. Call before oidcError; never throws.
 */
export async function readRefusalBody(error: unknown): Promise<void> {
  if (!(error instanceof WWWAuthenticateChallengeError) || error.cause[0]?.parameters?.error) return;
  const response = (error as { response?: Response }).response;
  if (!response || response.bodyUsed) return;
  try {
    const body = JSON.parse(await response.text()) as unknown;
    if (typeof body !== 'object' || body === null) return;
    const record = body as Record<string, unknown>;
    const said = Object.hasOwn(record, 'error') ? record.error : undefined;
    const description = Object.hasOwn(record, 'error_description') ? record.error_description : undefined;
    if (typeof said === 'string' && said !== '')
      challengeBodies.set(error, { error: said, ...(typeof description === 'string' ? { error_description: description } : {}) });
  } catch {
    // Not JSON, too large, or cut off: the status is all there is.
  }
}

/**
 * Discovery failures say what was fetched and what came back: a 5xx is the IdP's outage (exit 5);
 * a 404, another status or a page that is not a discovery document is a wrong URL (exit 2); a
 * document for another issuer names both.
 */
function discoveryError(error: unknown, issuer: string): LatchkeyError {
  const url = `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
  const named = discoveredIssuerOf(error);
  if (named !== undefined) {
    return new ConfigError(
      `the discovery document of ${issuer} names the issuer ${JSON.stringify(safeLine(named, 200))}, not ${JSON.stringify(issuer)}`,
      {
        hint: 'Set the issuer exactly as the IdP writes it (with or without the trailing "/"): profile set <name> issuer <url>',
        cause: error,
      },
    );
  }
  const response = error instanceof ClientError && error.cause instanceof Response ? error.cause : undefined;
  const status = response?.status;
  if (status !== undefined && status >= 500) {
    return new NetworkError(`the IdP answered HTTP ${status} to ${url}`, {
      hint: 'The IdP is having trouble: try again in a moment.',
      code: 'idp_unavailable',
      cause: error,
    });
  }
  // A 404, or a page that is not a discovery document (HTML of a web app, a login page): a wrong URL.
  const type = response?.headers.get('content-type')?.split(';')[0];
  const why = response
    ? `it answered HTTP ${status}${type ? ` (${safeLine(type, 80)})` : ''}${status! < 300 ? ', not a discovery document' : ''}`
    : specificMessage(error);
  return new ConfigError(`could not discover the issuer ${issuer}: ${url}: ${why}`, {
    hint: 'Check the issuer URL (profile set <name> issuer <url>): /.well-known/openid-configuration must answer there.',
    code: 'discovery_failed',
    cause: error,
  });
}

/** The issuer a discovery document named, when it differs from the one asked for. */
function discoveredIssuerOf(error: unknown): string | undefined {
  if (!(error instanceof ClientError) || error.code !== 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED') return undefined;
  const cause = error.cause as { attribute?: unknown; body?: { issuer?: unknown } } | undefined;
  return cause?.attribute === 'issuer' ? String(cause.body?.issuer) : undefined;
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
