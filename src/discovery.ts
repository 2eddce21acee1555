import { FailureError, UsageError } from './errors.js';
import type { Http } from './http.js';
import { requireWebUrl, requireWebUrlFrom, sameIssuer, UnsafeUrlError } from './io/urls.js';

/**
 * Fetching what an issuer publishes (its discovery document, its keys) outside of openid-client:
 * for `token inspect --verify` and `doctor`, by one rule. The login discovers through
 * openid-client, which applies the same issuer rule; the backend verifier uses `discoveryUrl` and
 * `requireWebUrl` with its own fetch (it must not depend on the CLI's HTTP stack) and wants the
 * issuer exactly as its tokens name it.
 */

/** Where an issuer's discovery document is: one rule, whatever the trailing "/". */
export function discoveryUrl(issuer: string): string {
  return `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
}

/**
 * A well-known URI for an identifier with a path (RFC 8414 §3.1, RFC 9728 §3.1): the suffix goes
 * between the host and the path, and a path of "/" alone is dropped.
 */
function wellKnownUrl(identifier: string, suffix: string): string {
  const url = new URL(identifier);
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/+$/, '');
  return `${url.origin}/.well-known/${suffix}${path}`;
}

/** RFC 8414's metadata of an OAuth authorization server, for an issuer without OpenID discovery. */
export function authorizationServerMetadataUrl(issuer: string): string {
  return wellKnownUrl(issuer, 'oauth-authorization-server');
}

/** RFC 9728's metadata of a protected resource (a backend): which authorization server, which scopes. */
export function protectedResourceMetadataUrl(resource: string): string {
  return wellKnownUrl(resource, 'oauth-protected-resource');
}

/**
 * Whether a discovery document is the issuer's: its `issuer` is the same identifier (openid-client's
 * rule, `sameIssuer`), or Entra ID's multi-tenant template (`{tenantid}`), whose keys serve every tenant.
 */
export function discoveryNames(document: Record<string, unknown>, issuer: string): boolean {
  return sameIssuer(document.issuer, issuer) || (typeof document.issuer === 'string' && document.issuer.includes('{tenantid}'));
}

/** The https-or-loopback rule, for every URL fetched, every redirect hop included. */
export function checkFetchable(url: string, what: string, from?: string): URL {
  let parsed: URL;
  try {
    // A URL another one named (a redirect, a challenge) is judged by where it came from too.
    parsed = from === undefined ? requireWebUrl(url) : requireWebUrlFrom(url, from);
  } catch (error) {
    if (!(error instanceof UnsafeUrlError)) throw error;
    throw new UsageError(
      `${what} ${JSON.stringify(url.slice(0, 200))} cannot be fetched:` +
        ` ${error.message}; keys are only fetched over https (or http on a loopback host)`,
    );
  }
  return parsed;
}

const MAX_REDIRECTS = 3;

/**
 * GET `url`, following at most three redirects, each hop held to the https-or-loopback rule and
 * named to `announce` before it is fetched. Whatever the status: the caller judges it.
 */
export async function fetchChecked(
  url: string,
  http: Http,
  what: string,
  announce: (url: string) => void = () => undefined,
): Promise<{ response: Response; url: string; ms: number }> {
  // The serialized form: a raw string from a document could carry line breaks the parser drops.
  let target = checkFetchable(url, what).href;
  const started = performance.now();
  for (let hop = 0; ; hop += 1) {
    announce(target);
    const response = await http.fetch(target, { headers: { accept: 'application/json' }, redirect: 'manual' });
    const location = response.headers.get('location');
    if (response.status < 300 || response.status >= 400 || location === null)
      return { response, url: target, ms: Math.round(performance.now() - started) };
    await response.body?.cancel();
    if (hop >= MAX_REDIRECTS) throw new FailureError(`${what} at ${url} redirects more than ${MAX_REDIRECTS} times`);
    target = checkFetchable(new URL(location, target).href, `${what}'s redirect to`, target).href;
  }
}

/** JSON from `url` (see fetchChecked); a status other than 2xx, or a body that is not JSON, is a failure. */
export async function fetchJson(url: string, http: Http, what: string, announce?: (url: string) => void): Promise<unknown> {
  const { response, url: at } = await fetchChecked(url, http, what, announce);
  if (!response.ok) throw new FailureError(`${what} at ${at} answered ${response.status}`);
  try {
    return await response.json();
  } catch {
    throw new FailureError(`${what} at ${at} is not JSON`);
  }
}

/**
 * An issuer's discovery document, whatever the status (doctor reports it): an issuer with a
 * query, fragment or user info is refused before any request (no issuer identifier has them:
 * OpenID Discovery §2, RFC 8414 §2).
 */
export async function fetchDiscovery(
  issuer: string,
  http: Http,
  announce?: (url: string) => void,
): Promise<{ document: Record<string, unknown> | undefined; response: Response; url: string; ms: number }> {
  const parsed = checkFetchable(issuer, 'the issuer');
  if (parsed.search !== '' || parsed.hash !== '' || issuer.includes('?') || issuer.includes('#')) {
    throw new UsageError(
      `the issuer ${JSON.stringify(issuer.slice(0, 200))} has a query or fragment, which no issuer identifier has; nothing was fetched`,
    );
  }
  const fetched = await fetchChecked(discoveryUrl(issuer), http, "the issuer's discovery document", announce);
  let document: Record<string, unknown> | undefined;
  try {
    const value: unknown = await fetched.response.json();
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) document = value as Record<string, unknown>;
  } catch {
    // not JSON: the caller says so
  }
  return { ...fetched, document };
}
