import { ConfigError, RejectedError } from '../errors.js';
import type { Clock } from '../io/clock.js';
import type { Http } from '../http.js';
import { hasUnsafeText, safeLine } from '../io/text.js';
import { sameIssuer } from '../io/urls.js';
import type { Profile } from '../model.js';
import type { ClientRegistration } from '../store/credentials.js';
import { DEFAULT_SCOPES, effective } from '../store/profile-keys.js';
import { discover } from './oidc.js';
import { deregisterClient, DEVICE_GRANT, registerClient, registeredRedirectUri } from './register.js';
import { discoverResource, type DiscoveredResource } from './resource-discovery.js';

/**
 * A profile from the backend's URL alone: the backend says where to log in (RFC 9728), the
 * authorization server says what it offers (OpenID discovery or RFC 8414), and the CLI registers
 * itself there (RFC 7591) unless a client id was given. The result is ordinary profile keys; the
 * credential of such a profile is the IdP's access token for the backend (`exchange: none`),
 * because a freshly registered client is in no backend's allow-list.
 */

export interface ZeroConfigInput {
  backendUrl: string;
  /** What the user gave on the command line: it wins over what was discovered. */
  given: Partial<Profile>;
  /** The CLI's name, registered as the client's name (the IdP shows it on its consent page). */
  clientName: string;
  /** For the hint of a failure: `latchkey profile add NAME`. */
  addCommand: string;
}

export interface ZeroConfigResult {
  /** The discovered keys: issuer, clientId, scopes, resource, exchange. */
  keys: Pick<Profile, 'issuer' | 'clientId' | 'scopes' | 'resource' | 'exchange'>;
  /** What the backend's metadata said, and where it was. */
  resource: DiscoveredResource;
  /** The client registered for this profile (absent when a client id was given). */
  registration?: ClientRegistration;
  /** Facts for the user: what was found, and where. */
  found: string[];
}

/**
 * What a server chose becomes profile keys, printed by profile list/show and written into other
 * tools' config by setup: a control character or line break in it (a screen clear, an OSC
 * sequence, a line that fakes a warning) is refused, and nothing is saved.
 */
function refuseUnsafe(values: Record<string, string>): void {
  for (const [key, value] of Object.entries(values)) {
    if (hasUnsafeText(value))
      throw new RejectedError(
        `the ${key} the server chose (${JSON.stringify(safeLine(value, 120))}) holds a control character or line break; nothing was saved`,
        { hint: 'The IdP or the backend answered with a value no profile may hold: tell its admins.', code: 'idp_response_invalid' },
      );
  }
}

/** The user's scopes, else the defaults the IdP supports plus the backend's own scopes. */
function scopesFor(given: string | undefined, supported: unknown, resourceScopes: readonly string[]): string {
  if (given) return given;
  const offered = Array.isArray(supported) ? new Set(supported.filter((s): s is string => typeof s === 'string')) : undefined;
  const base = DEFAULT_SCOPES.split(' ').filter((scope) => !offered || offered.has(scope));
  return [...new Set([...base, ...resourceScopes])].join(' ');
}

export async function discoverProfile(
  input: ZeroConfigInput,
  deps: { http: Http; clock: Clock; announce?: (url: string) => void },
): Promise<ZeroConfigResult> {
  const { given } = input;
  const resource = await discoverResource(input.backendUrl, deps.http, { announce: deps.announce, retry: input.addCommand });
  const found = [
    `The backend's resource metadata (${resource.metadataUrl}${resource.foundVia === 'challenge' ? ', named by its 401 challenge' : ''})` +
      ` names the resource ${resource.resource}${resource.name ? ` ("${resource.name}")` : ''}` +
      ` and the authorization server ${resource.authorizationServers[0]}` +
      (resource.authorizationServers.length > 1 ? ` (the first of ${resource.authorizationServers.length})` : '') +
      '.',
  ];
  const issuerAsked = resource.authorizationServers[0]!;
  // The authorization server's own metadata: its issuer must be the one the backend named
  // (openid-client compares them), and it says whether clients may register themselves.
  const config = await discover({ issuer: issuerAsked, clientId: given.clientId ?? 'unregistered' }, deps.http, deps.clock);
  const server = config.serverMetadata();
  const issuer = sameIssuer(server.issuer, issuerAsked) ? server.issuer : issuerAsked;
  const scopes = scopesFor(given.scopes, server.scopes_supported, resource.scopes);
  refuseUnsafe({ issuer, scopes, resource: resource.resource });

  let clientId = given.clientId;
  let registration: ClientRegistration | undefined;
  if (clientId === undefined) {
    const { redirectUri } = effective({ issuer, clientId: '', ...given });
    const redirect = registeredRedirectUri(redirectUri);
    if (typeof server.registration_endpoint !== 'string') {
      throw new ConfigError(
        `the IdP ${issuer} does not let clients register themselves (its metadata has no registration_endpoint); nothing was saved`,
        {
          hint:
            `Register a Native (public) client there by hand: redirect URI ${redirect}, grant types authorization_code and` +
            ` refresh_token, no client secret (docs/idps.md). Then: ${input.addCommand} --backend-url ${input.backendUrl} --client-id <id>`,
          code: 'registration_unavailable',
        },
      );
    }
    const grants = Array.isArray(server.grant_types_supported) ? server.grant_types_supported : [];
    registration = await registerClient(
      {
        issuer,
        redirectUri,
        clientName: input.clientName,
        deviceGrant: grants.includes(DEVICE_GRANT),
      },
      deps,
    );
    clientId = registration.clientId;
    try {
      refuseUnsafe({ clientId });
    } catch (error) {
      // The client is of no use: delete it where that is safe, and save nothing.
      await deregisterClient(registration, deps.http, issuer).catch(() => undefined);
      throw error;
    }
    found.push(`Registered this CLI at ${issuer} as the native public client ${clientId} (redirect ${redirect}, no secret).`);
  } else {
    found.push(`Using the client id ${clientId} at ${issuer}.`);
  }
  found.push(`Scopes: ${scopes}.`);
  return {
    keys: { issuer, clientId, scopes, resource: resource.resource, exchange: given.exchange ?? 'none' },
    resource,
    ...(registration ? { registration } : {}),
    found,
  };
}
