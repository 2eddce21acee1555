import { RejectedError } from '../errors.js';
import type { Http } from '../http.js';
import { safeLine } from '../io/text.js';
import { requireWebUrlFrom, UnsafeUrlError } from '../io/urls.js';
import { isLoopbackHost } from '../loopback/hosts.js';
import type { ClientRegistration } from '../store/credentials.js';
import { loadOpenIdClient, oidcError, refusalOf, serverFetch, withMetadataFallback } from './oidc.js';

/**
 * Dynamic Client Registration (RFC 7591) of the CLI itself, as a native public client (RFC 8252):
 * no secret, PKCE, a loopback redirect on any port. The registration access token it gets back
 * (RFC 7592) is a secret: the caller keeps it in the secret store, and `profile remove` uses it
 * to delete the client again.
 */

export interface RegisterInput {
  issuer: string;
  /** The profile's redirect URI (port 0 = any: registered without a port, RFC 8252 §7.3). */
  redirectUri: string;
  /** Shown by the IdP on its consent page: the CLI's name. */
  clientName: string;
  /** Also register the device grant (the IdP offers it): `login --device` works too. */
  deviceGrant: boolean;
}

export const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** The redirect URI to register: a loopback one, without the port when any port will do. */
export function registeredRedirectUri(redirectUri: string): string {
  const url = new URL(redirectUri);
  const anyPort = /^http:\/\/(?:\[[^\]]+\]|[^/:]+):0(?:\/|$)/.test(redirectUri);
  return anyPort ? `${url.protocol}//${url.hostname}${url.pathname}` : url.href;
}

/** Register a native public client at `issuer`'s registration endpoint; the client id and its management secret. */
export async function registerClient(input: RegisterInput, deps: { http: Http }): Promise<ClientRegistration> {
  const client = await loadOpenIdClient();
  const issuer = new URL(input.issuer);
  const insecure = issuer.protocol === 'http:' && isLoopbackHost(issuer.hostname);
  const metadata = {
    client_name: input.clientName,
    application_type: 'native',
    token_endpoint_auth_method: 'none',
    redirect_uris: [registeredRedirectUri(input.redirectUri)],
    grant_types: ['authorization_code', 'refresh_token', ...(input.deviceGrant ? [DEVICE_GRANT] : [])],
    response_types: ['code'],
  };
  let registered: import('openid-client').Configuration;
  try {
    registered = await withMetadataFallback((algorithm) =>
      client.dynamicClientRegistration(issuer, metadata, client.None(), {
        algorithm,
        // Every URL the server's metadata names is judged by itself, not by the issuer's exception
        // for loopback http: a loopback issuer naming a remote http registration endpoint is refused.
        [client.customFetch]: serverFetch(deps.http, issuer),
        ...(insecure ? { execute: [client.allowInsecureRequests] } : {}),
      }),
    );
  } catch (error) {
    const refusal = refusalOf(error);
    if (refusal && (refusal.status === undefined || refusal.status < 500)) {
      const said = refusal.error
        ? `${safeLine(refusal.error)}${refusal.description ? `: ${safeLine(refusal.description)}` : ''}`
        : `HTTP ${refusal.status}`;
      throw new RejectedError(`the IdP refused to register this CLI as a client (${said}); nothing was saved`, {
        hint:
          'The IdP may want an admin to register clients: register a Native (public) client by hand, as docs/idps.md says,' +
          ' and pass its id with --client-id.',
        code: 'registration_refused',
        cause: error,
      });
    }
    throw oidcError(error, 'registration', input.issuer);
  }
  const answer = registered.clientMetadata();
  const registration: ClientRegistration = { clientId: answer.client_id, registrationAccessToken: '' };
  if (typeof answer.registration_access_token === 'string') registration.registrationAccessToken = answer.registration_access_token;
  const endpoint = registered.serverMetadata().registration_endpoint;
  if (typeof endpoint === 'string') registration.registrationEndpoint = endpoint;
  if (typeof answer.registration_client_uri === 'string') {
    try {
      // Kept as given when it is a URL at all; whether it may be called is decided when it would
      // be (managementUrlProblem), so that `profile remove` can say why it was not.
      registration.registrationClientUri = requireWebUrlFrom(answer.registration_client_uri, issuer).href;
    } catch {
      // A management URI we would not call: the client works without it.
    }
  }
  return registration;
}

/**
 * Why the registration's management URL may not be sent its token, or undefined when it may:
 * RFC 7592 puts it at the authorization server, so it must be on the registration endpoint's own
 * origin. Anything else (another host, another port or scheme) would hand the registration access
 * token, and with it the client, to whoever the server's answer named.
 */
export function managementUrlProblem(registration: ClientRegistration, issuer: string | undefined): string | undefined {
  const uri = registration.registrationClientUri;
  if (!uri) return 'the IdP gave no way to manage it (RFC 7592)';
  const anchor = registration.registrationEndpoint ?? issuer;
  if (!anchor) return 'it is not known where it was registered';
  try {
    const management = requireWebUrlFrom(uri, anchor);
    const origin = new URL(anchor).origin;
    if (management.origin !== origin)
      return `its management URL ${safeLine(management.origin, 200)} is not on the origin of the registration endpoint (${safeLine(origin, 200)}), so nothing was sent there`;
  } catch (error) {
    if (error instanceof UnsafeUrlError) return `its management URL is refused (${error.message}), so nothing was sent there`;
    throw error;
  }
  return undefined;
}

/**
 * Delete a registered client (RFC 7592 §2.3): what `profile remove` does for a client it
 * registered. 'deleted' on 204 (or 404/401: gone already, or its token expired); anything else
 * is thrown for the caller to warn about.
 */
export async function deregisterClient(registration: ClientRegistration, http: Http, issuer?: string): Promise<'deleted' | 'gone'> {
  const problem = managementUrlProblem(registration, issuer);
  if (problem !== undefined) throw new Error(problem);
  const uri = new URL(registration.registrationClientUri!).href;
  const response = await http.fetch(uri, {
    method: 'DELETE',
    headers: { authorization: `Bearer ${registration.registrationAccessToken}` },
    redirect: 'manual',
  });
  await response.body?.cancel();
  if (response.status === 204 || response.status === 200) return 'deleted';
  if (response.status === 404 || response.status === 401) return 'gone';
  throw new Error(`the IdP answered ${response.status}`);
}

/**
 * Forget a profile's registered client: delete it at the IdP where it can be (RFC 7592), then
 * its secret here. A client the IdP would not delete is reported, and its secret forgotten all
 * the same (the profile that used it is gone). Undefined when the profile registered none.
 */
export async function forgetRegistration(
  name: string,
  deps: { credentials: import('../store/credentials.js').Credentials; http: () => Promise<Http>; issuer?: string },
): Promise<{ clientId: string; outcome: 'deleted' | 'gone' | 'not-deletable'; why?: string } | undefined> {
  const registration = await deps.credentials.loadRegistration(name);
  if (!registration) return undefined;
  let outcome: 'deleted' | 'gone' | 'not-deletable' = 'not-deletable';
  let why = registration.registrationAccessToken
    ? managementUrlProblem(registration, deps.issuer)
    : 'the IdP gave no management token (RFC 7592)';
  if (why === undefined) {
    try {
      outcome = await deregisterClient(registration, await deps.http(), deps.issuer);
    } catch (error) {
      why = (error as Error).message;
    }
  }
  await deps.credentials.removeRegistration(name);
  return { clientId: registration.clientId, outcome, ...(why ? { why } : {}) };
}
