import { checkFetchable, fetchChecked, protectedResourceMetadataUrl } from '../discovery.js';
import { ConfigError, latchkeyErrorIn } from '../errors.js';
import type { Http } from '../http.js';
import { hasUnsafeText, safeLine } from '../io/text.js';
import { requireWebUrlFrom, sameIssuer, UnsafeUrlError } from '../io/urls.js';

/**
 * OAuth 2.0 Protected Resource Metadata (RFC 9728): what a backend says of itself, fetched from
 * its well-known URI or, when that is missing, from the `resource_metadata` of the challenge
 * its 401 carries (§5). Everything in it is checked before it is used: its `resource` must be
 * the backend asked about (§3.3), every authorization server an https (or loopback) URL, every
 * scope a scope token.
 */

export interface DiscoveredResource {
  /** The resource identifier, exactly as the metadata names it (the `resource` of requests). */
  resource: string;
  /** The authorization servers (issuers) it takes tokens from, in its order. */
  authorizationServers: string[];
  /** The scopes it supports (`scopes_supported`); empty when it names none. */
  scopes: string[];
  /** A name people recognise (`resource_name`), escaped for a terminal. */
  name?: string;
  /** Where the metadata came from. */
  metadataUrl: string;
  foundVia: 'well-known' | 'challenge';
}

/** Fetch and check a backend's protected-resource metadata; `announce` names each URL before it is fetched. */
export async function discoverResource(
  backendUrl: string,
  http: Http,
  { announce = () => undefined, retry = 'profile add <name>' }: { announce?: (url: string) => void; retry?: string } = {},
): Promise<DiscoveredResource> {
  const hint = `Give the IdP yourself: ${retry} --backend-url ${backendUrl} --issuer <url> --client-id <id>.`;
  const wellKnown = protectedResourceMetadataUrl(backendUrl);
  const first = await fetchChecked(wellKnown, http, "the backend's resource metadata", announce);
  if (first.response.ok) return checkMetadata(await jsonOf(first.response, first.url), backendUrl, first.url, 'well-known');
  await first.response.body?.cancel();
  // No document at the well-known URI: a request without a token may name one in its challenge.
  const probe = await fetchChecked(backendUrl, http, 'the backend', announce);
  await probe.response.body?.cancel();
  const named = probe.response.status === 401 ? resourceMetadataOf(probe.response.headers.get('www-authenticate')) : undefined;
  if (named === undefined) {
    throw new ConfigError(
      `the backend ${backendUrl} does not say where to log in: ${wellKnown} answered ${first.response.status},` +
        ` and ${backendUrl} answered ${probe.response.status} without a resource_metadata challenge`,
      {
        hint,
        code: 'resource_metadata_missing',
      },
    );
  }
  let metadataUrl: string;
  try {
    metadataUrl = checkFetchable(new URL(named, probe.url).href, "the backend's resource_metadata", probe.url).href;
  } catch (error) {
    throw new ConfigError(`the backend's 401 names resource metadata that cannot be fetched: ${(error as Error).message}`, {
      code: 'resource_metadata_invalid',
    });
  }
  const second = await fetchChecked(metadataUrl, http, "the backend's resource metadata", announce);
  if (!second.response.ok) {
    await second.response.body?.cancel();
    throw new ConfigError(`the resource metadata the backend names, ${second.url}, answered ${second.response.status}`, {
      hint,
      code: 'resource_metadata_missing',
    });
  }
  return checkMetadata(await jsonOf(second.response, second.url), backendUrl, second.url, 'challenge');
}

async function jsonOf(response: Response, url: string): Promise<unknown> {
  try {
    return await response.json();
  } catch (error) {
    // A body over the size bound is the HTTP layer's error, which says so.
    throw latchkeyErrorIn(error) ?? new ConfigError(`the resource metadata at ${url} is not JSON`, { code: 'resource_metadata_invalid' });
  }
}

// RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/** The checks of RFC 9728 §3.2–3.3 on a fetched document. */
export function checkMetadata(
  value: unknown,
  backendUrl: string,
  url: string,
  foundVia: DiscoveredResource['foundVia'],
): DiscoveredResource {
  const invalid = (why: string) =>
    new ConfigError(`the resource metadata at ${url} ${why}; nothing was saved`, { code: 'resource_metadata_invalid' });
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid('is not a JSON object');
  const document = value as Record<string, unknown>;
  const resource = Object.hasOwn(document, 'resource') ? document.resource : undefined;
  if (typeof resource !== 'string') throw invalid('has no "resource"');
  // §3.3: the resource must be the one whose metadata was asked for; otherwise another server's
  // document (or an attacker's) would choose the IdP this profile logs in to.
  if (resource !== backendUrl && !sameIssuer(resource, backendUrl)) {
    throw new ConfigError(
      `the resource metadata at ${url} is for ${JSON.stringify(safeLine(resource, 200))}, not for ${backendUrl};` +
        ' it was refused and nothing was saved',
      {
        hint: 'Check the backend URL; if it is right, the backend publishes the wrong metadata: tell its team (RFC 9728 §3.3).',
        code: 'resource_mismatch',
      },
    );
  }
  const servers = Object.hasOwn(document, 'authorization_servers') ? document.authorization_servers : undefined;
  if (!Array.isArray(servers) || servers.length === 0 || servers.some((s) => typeof s !== 'string'))
    throw invalid('names no authorization server ("authorization_servers")');
  for (const server of servers as string[]) {
    // URL parsing drops line breaks and tabs: the raw string would still reach a terminal.
    if (hasUnsafeText(server))
      throw invalid(`names an authorization server with a control character or line break (${JSON.stringify(safeLine(server, 200))})`);
    try {
      // Judged by itself, and by where the document came from: a remote backend may not send the
      // CLI to an IdP on this machine.
      requireWebUrlFrom(server, url);
    } catch (error) {
      if (!(error instanceof UnsafeUrlError)) throw error;
      throw invalid(`names the authorization server ${JSON.stringify(safeLine(server, 200))}, which is refused: ${error.message}`);
    }
  }
  const scopes = Object.hasOwn(document, 'scopes_supported') ? document.scopes_supported : undefined;
  if (scopes !== undefined && (!Array.isArray(scopes) || scopes.some((s) => typeof s !== 'string' || !SCOPE_TOKEN.test(s))))
    throw invalid('has a "scopes_supported" that is not a list of scope tokens');
  const name = Object.hasOwn(document, 'resource_name') && typeof document.resource_name === 'string' ? document.resource_name : undefined;
  return {
    resource,
    authorizationServers: servers as string[],
    scopes: (scopes as string[] | undefined) ?? [],
    ...(name ? { name: safeLine(name, 100) } : {}),
    metadataUrl: url,
    foundVia,
  };
}

/**
 * The `resource_metadata` parameter of a `Bearer` challenge (RFC 9728 §5.1), from a
 * WWW-Authenticate header that may hold several challenges (RFC 9110 §11.6.1).
 */
export function resourceMetadataOf(header: string | null): string | undefined {
  return bearerChallenge(header)?.resource_metadata;
}

/**
 * The auth-params of the `Bearer` challenges in a WWW-Authenticate header (RFC 6750 §3: `error`,
 * `scope`, RFC 9728's `resource_metadata`), names lower-cased, the first value of each kept, in a
 * map without a prototype; undefined when there is no Bearer challenge. Linear in the header.
 */
export function bearerChallenge(header: string | null): Record<string, string> | undefined {
  if (!header) return undefined;
  // A challenge: a scheme, then auth-params `name=token` or `name="quoted \" string"`, comma-separated.
  const param = /\s*([A-Za-z0-9!#$%&'*+.^_`|~-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]*))\s*,?/y;
  const scheme = /\s*,?\s*([A-Za-z0-9!#$%&'*+.^_`|~-]+)(?=\s|$|,)/y;
  let at = 0;
  let current: string | undefined;
  let found: Record<string, string> | undefined;
  while (at < header.length) {
    param.lastIndex = at;
    const p = current !== undefined ? param.exec(header) : null;
    if (p) {
      at = param.lastIndex;
      const name = p[1]!.toLowerCase();
      if (current === 'bearer' && found && !Object.hasOwn(found, name))
        found[name] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3]!;
      continue;
    }
    scheme.lastIndex = at;
    const s = scheme.exec(header);
    if (!s) return found;
    current = s[1]!.toLowerCase();
    if (current === 'bearer') found ??= Object.create(null) as Record<string, string>;
    at = scheme.lastIndex;
  }
  return found;
}
