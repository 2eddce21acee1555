import { isLoopbackHost, isThisMachine } from '../loopback/hosts.js';

/**
 * Whether two issuer identifiers are the same, by one rule for login, doctor and inspection:
 * openid-client's (their parsed forms are equal, so `https://idp.example` and
 * `https://idp.example/` are; `https://idp.example/a` and `…/a/` are not).
 */
export function sameIssuer(a: unknown, b: unknown): boolean {
  if (typeof a !== 'string' || typeof b !== 'string') return false;
  try {
    return new URL(a).href === new URL(b).href;
  } catch {
    return a === b;
  }
}

/**
 * Whether an audience list names this resource (RFC 9068 §4): the same string, or the same URL
 * (a trailing "/" of an origin does not matter), by `sameIssuer`'s rule.
 */
export function namesResource(audiences: readonly unknown[], resource: string): boolean {
  return audiences.some((a) => a === resource || sameIssuer(a, resource));
}

/** Why a URL from outside was refused; the caller wraps it in the error its step calls for. */
export class UnsafeUrlError extends Error {}

/**
 * The rule for every URL that came from outside (an IdP's discovery or device answer, a backend,
 * a token's `iss`) before it is fetched, printed as a link or handed to a browser: it parses as
 * an absolute URL, its scheme is `https:` (or `http:` on a loopback host), and it carries no
 * credentials. Returns the parsed URL: callers use its serialized form (`href`), which starts with
 * the scheme, so it can never be read as an option by the program it is given to.
 */
export function requireWebUrl(value: unknown): URL {
  if (typeof value !== 'string' || value === '') throw new UnsafeUrlError('it is not a URL');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UnsafeUrlError('it is not an absolute URL');
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
    throw new UnsafeUrlError(`its scheme ${url.protocol} is not https (http only on a loopback host)`);
  }
  if (url.username !== '' || url.password !== '') throw new UnsafeUrlError('it carries a user name or password');
  return url;
}

/**
 * `requireWebUrl` for a URL that a document named, judged by itself and by where the document
 * came from: a document fetched from a non-loopback origin may not send the CLI to a loopback
 * address (a remote backend or IdP naming `http://127.0.0.1:…` would make the CLI call into the
 * user's own machine). A loopback document may name anything `requireWebUrl` allows.
 */
export function requireWebUrlFrom(value: unknown, from: string | URL): URL {
  const url = requireWebUrl(value);
  const source = typeof from === 'string' ? new URL(from) : from;
  if (isThisMachine(url.hostname) && !isThisMachine(source.hostname)) {
    throw new UnsafeUrlError(`it is on this machine (${url.host}), named by ${source.host}, which is not`);
  }
  return url;
}
