import { hasUnsafeText, safeText } from '../io/text.js';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FailureError, RejectedError, UsageError } from '../errors.js';
import { isLoopbackHost, unbracket } from './hosts.js';
import { NOT_FOUND_PAGE, resultPage } from './page.js';

/** Longest request target accepted; longer ones get 414 (Node itself answers 431 past 32 KiB of head). */
export const MAX_CALLBACK_URL = 16 * 1024;

export interface CallbackListenerOptions {
  /** The registered loopback redirect URI; port 0 = any free port (RFC 8252 §7.3). */
  redirectUri: string;
  /** Tried in order when the redirect URI's fixed port is taken. */
  redirectPorts?: readonly number[];
  /** Only a callback carrying exactly this `state` is taken; any other gets 400 and the wait goes on. */
  expectedState: string;
  /** Told about each request (method, path and what was answered; never the query). */
  log?: (line: string) => void;
  /** For the hints: the command to run, e.g. `latchkey profile set prod`. */
  profileSetCommand?: string;
  /** Called once, when the browser has opened the start URL (and been sent on to its target). */
  onStart?: () => void;
}

export type CallbackResult = { ok: true } | { ok: false };

export interface ReceivedCallback {
  /** The callback URL, rebuilt on the redirect URI that was registered (not on the Host header). */
  url: URL;
  /** Answer the held browser request with the result page, then close the listener. */
  finish(result: CallbackResult): Promise<void>;
}

export interface CallbackListener {
  /** The redirect URI with the port actually bound: the one to send in the authorization request. */
  redirectUri: string;
  port: number;
  /**
   * Resolves with the one callback whose `state` (and, once `startUrl` was made, browser cookie)
   * matches. Rejects only when the start URL is used twice: someone else raced the browser to it.
   */
  received: Promise<ReceivedCallback>;
  /**
   * A one-time local URL (`http://127.0.0.1:PORT/start/<random>`) that redirects to
   * `authorizationUrl` and sets a cookie the callback must then carry. This is what the browser
   * is given: the authorization URL (state, nonce, PKCE challenge) never sits in its argv, where
   * another local user could read it and sign the login in as themselves (RFC 9700 §4.7).
   */
  startUrl(authorizationUrl: string): string;
  /** Take a callback without the start cookie: the user opens the printed authorization URL themselves. */
  acceptAnyBrowser(): void;
  /**
   * A remote login (`login --remote`): the address the IdP sent a browser on another machine to,
   * pasted here (the whole URL, or its query). Held to the same gate as a callback that arrives:
   * this login's redirect URI (host, port and path), exactly one `state`, this login's, no
   * parameter twice; the first of the two ways to arrive wins. Undefined when it was taken, else
   * why not (nothing is taken then).
   */
  acceptPasted(text: string): string | undefined;
  /** Stop listening and drop every connection (a held browser request gets the failure page). */
  close(): Promise<void>;
}

/**
 * The loopback listener of a browser login. It binds the loopback address itself (127.0.0.1,
 * ::1, or both for `localhost`), never a wildcard, and answers only `GET <redirect path>` with a
 * loopback `Host` on its port (a DNS-rebinding page cannot reach it under another name).
 *
 * The `state` gate comes first: a request without exactly the expected `state` is refused with
 * 400 and the wait goes on, so another local process cannot end or hijack the login. The one
 * matching callback closes the port at once; its browser request is held until the login has
 * finished, so the page can say whether it worked.
 */
export async function startCallbackListener(options: CallbackListenerOptions): Promise<CallbackListener> {
  const uri = new URL(options.redirectUri);
  if (uri.protocol !== 'http:' || !isLoopbackHost(uri.hostname)) {
    throw new UsageError(`the redirect URI must be http on a loopback host, got ${options.redirectUri}`);
  }
  const host = unbracket(uri.hostname).toLowerCase();
  const addresses = host === 'localhost' ? ['127.0.0.1', '::1'] : [host];
  const fixed = uri.port === '' ? 80 : Number(uri.port);
  const log = options.log ?? (() => undefined);

  let accepted = false;
  let held: ServerResponse | undefined;
  let resolveReceived!: (callback: ReceivedCallback) => void;
  let rejectReceived!: (error: Error) => void;
  const received = new Promise<ReceivedCallback>((resolve, reject) => {
    resolveReceived = resolve;
    rejectReceived = reject;
  });
  received.catch(() => undefined); // the caller may be gone by then
  // The browser binding: set by startUrl(), lifted by acceptAnyBrowser().
  let start: { path: string; target: string; cookie: string; used: boolean } | undefined;
  let requireCookie = false;
  let servers: Server[] = [];
  let port = 0;
  let actualRedirect = '';

  const closeAll = async () => {
    if (held && !held.writableEnded) send(held, 400, resultPage(false));
    held = undefined;
    await Promise.all(
      servers.map(
        (server) =>
          new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeAllConnections();
          }),
      ),
    );
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const answer = (status: number, why: string, body = status === 400 ? resultPage(false) : NOT_FOUND_PAGE) => {
      log(`callback listener: ${req.method} ${pathOnly(req.url)} → ${status} (${why})`);
      send(res, status, body);
    };
    const target = req.url ?? '';
    if (target.length > MAX_CALLBACK_URL) return answer(414, 'request target too long', resultPage(false));
    if (!isOwnHost(req.headers.host, port)) return answer(404, 'Host is not this loopback listener');
    if (!target.startsWith('/')) return answer(404, 'not a path');
    let url: URL;
    try {
      url = new URL(target, actualRedirect);
    } catch {
      return answer(404, 'unparseable path');
    }
    if (start && url.pathname === start.path && req.method === 'GET') return handleStart(req, res, start);
    if (url.pathname !== uri.pathname) return answer(404, 'not the redirect path');
    if (req.method !== 'GET') {
      res.setHeader('allow', 'GET');
      return answer(405, `${req.method} is not how a browser comes back`, resultPage(false));
    }
    const states = url.searchParams.getAll('state');
    const foreign = resultPage(false, 'This response does not belong to the sign-in in progress.');
    if (states.length !== 1 || !sameSecret(states[0]!, options.expectedState))
      return answer(400, 'state does not match this login', foreign);
    // Same answer as a wrong state: a browser that did not come through the start URL is not ours.
    if (requireCookie && !sameSecret(cookieValue(req.headers.cookie, COOKIE) ?? '', start!.cookie))
      return answer(400, 'not the browser that started this login', foreign);
    if (accepted) return answer(400, 'a callback was already received');
    accepted = true;
    held = res;
    log(`callback listener: ${req.method} ${url.pathname} → held (state matches)`);
    // No new connections from now on; other keep-alive sockets go too.
    for (const server of servers) {
      server.close();
      server.closeIdleConnections();
    }
    resolveReceived({
      url,
      finish: async (result) => {
        if (held === res && !res.writableEnded) send(res, result.ok ? 200 : 400, resultPage(result.ok));
        held = undefined;
        await closeAll();
      },
    });
  };

  const handleStart = (req: IncomingMessage, res: ServerResponse, begun: NonNullable<typeof start>) => {
    if (begun.used) {
      // Opened twice: another local program read the link (argv is public) and raced the browser,
      // or a second browser got it. Either way, which one comes back cannot be told: stop.
      log(`callback listener: GET ${begun.path.slice(0, 7)}… → 400 (start URL used twice; login stopped)`);
      send(
        res,
        400,
        resultPage(false, 'This sign-in link was already used, so the sign-in was stopped for safety. Go back to the terminal.'),
      );
      rejectReceived(
        new RejectedError(
          'the sign-in link was opened twice (another program on this machine,' +
            ' or a second browser); the login was stopped for safety and nothing was stored',
          {
            hint: 'Run the login again, and open the link only once.',
            code: 'start_url_reused',
          },
        ),
      );
      void closeAll();
      return;
    }
    begun.used = true;
    log(`callback listener: GET ${begun.path.slice(0, 7)}… → 302 to the IdP (cookie set)`);
    // Told once the redirect has gone out: a caller that closes the listener then loses nothing.
    if (options.onStart) res.once('finish', options.onStart);
    res.writeHead(302, {
      location: begun.target,
      'set-cookie': `${COOKIE}=${begun.cookie}; Path=${uri.pathname}; HttpOnly; SameSite=Lax; Max-Age=3600`,
      'cache-control': 'no-store',
      pragma: 'no-cache',
      'referrer-policy': 'no-referrer',
      'content-length': 0,
      connection: 'close',
    });
    res.end();
  };

  const candidates = fixed === 0 ? [0] : [fixed, ...(options.redirectPorts ?? []).filter((p) => p !== fixed)];
  const taken: number[] = [];
  for (const candidate of candidates) {
    const bound = await bindAll(addresses, candidate, handle);
    if ('servers' in bound) {
      servers = bound.servers;
      port = bound.port;
      break;
    }
    if (bound.error.code !== 'EADDRINUSE') {
      throw new FailureError(`could not listen on ${host} port ${candidate} for the login callback: ${bound.error.message}`, {
        hint: 'Use a redirect URI with port 0 (any free port), or a port above 1024.',
        cause: bound.error,
      });
    }
    taken.push(candidate);
  }
  if (servers.length === 0) {
    const many = taken.length > 1;
    const list = many ? `ports ${taken.slice(0, -1).join(', ')} and ${taken.at(-1)}` : `port ${taken[0]}`;
    const set = options.profileSetCommand ?? 'profile set <name>';
    throw new FailureError(`${list} on ${host} ${many ? 'are' : 'is'} already in use, so the login callback cannot be received`, {
      hint:
        `Close the program holding ${many ? 'them' : 'it'} (another login still waiting?),` +
        ` or give ${many ? 'other ' : ''}fallback ports: ${set} redirect-ports 8491,8492.`,
      code: 'port_in_use',
    });
  }
  const redirect = new URL(options.redirectUri);
  redirect.port = String(port);
  actualRedirect = redirect.href;
  return {
    redirectUri: actualRedirect,
    port,
    received,
    close: closeAll,
    startUrl(authorizationUrl) {
      start = {
        path: `/start/${randomBytes(16).toString('base64url')}`,
        target: authorizationUrl,
        cookie: randomBytes(32).toString('base64url'),
        used: false,
      };
      requireCookie = true;
      return new URL(start.path, actualRedirect).href;
    },
    acceptPasted(text) {
      const pasted = text.trim();
      if (pasted === '') return 'nothing was pasted';
      if (pasted.length > MAX_CALLBACK_URL) return `it is longer than any redirect (${MAX_CALLBACK_URL / 1024} KiB)`;
      if (hasUnsafeText(pasted)) return 'it holds control characters (an escape sequence?), which no redirect address has';
      let url: URL;
      try {
        url = /^[a-z][a-z0-9+.-]*:/i.test(pasted) ? new URL(pasted) : new URL(`?${pasted.replace(/^[?]/, '')}`, actualRedirect);
      } catch {
        return 'it is not an address';
      }
      const expected = new URL(actualRedirect);
      if (url.origin !== expected.origin || url.pathname !== expected.pathname)
        return `it is for ${safeText(`${url.origin}${url.pathname}`).slice(0, 200)}, not this login's redirect URI ${actualRedirect}`;
      for (const name of new Set(url.searchParams.keys()))
        if (url.searchParams.getAll(name).length > 1) return `it has the parameter "${safeText(name).slice(0, 40)}" more than once`;
      const states = url.searchParams.getAll('state');
      if (states.length !== 1 || !sameSecret(states[0]!, options.expectedState))
        return 'it does not belong to this login (its state differs)';
      if (accepted) return 'a callback was already received';
      accepted = true;
      log(`callback listener: a pasted address was taken (state matches)`);
      for (const server of servers) {
        server.close();
        server.closeIdleConnections();
      }
      resolveReceived({ url, finish: () => closeAll() });
      return undefined;
    },
    acceptAnyBrowser() {
      requireCookie = false;
    },
  };
}

/** The cookie that binds the callback to the browser that opened the start URL. */
const COOKIE = 'login_binding';

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return undefined;
}

type BindResult = { servers: Server[]; port: number } | { error: NodeJS.ErrnoException };

/** Bind every address on one port (for port 0: the port the first one got), or none of them. */
async function bindAll(
  addresses: string[],
  port: number,
  handle: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<BindResult> {
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const servers: Server[] = [];
    let chosen = port;
    let failure: NodeJS.ErrnoException | undefined;
    for (const [i, address] of addresses.entries()) {
      const server = createServer({ maxHeaderSize: 32 * 1024, keepAliveTimeout: 1000 }, handle);
      const error = await listen(server, chosen, address);
      if (!error) {
        servers.push(server);
        chosen = (server.address() as AddressInfo).port;
        continue;
      }
      // `localhost` without IPv6 on this machine: 127.0.0.1 alone is fine.
      if (i > 0 && (error.code === 'EADDRNOTAVAIL' || error.code === 'EAFNOSUPPORT')) continue;
      failure = error;
      break;
    }
    if (!failure) return { servers, port: chosen };
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
    // A free port on 127.0.0.1 that ::1 already uses: pick another free port.
    if (!(port === 0 && failure.code === 'EADDRINUSE')) return { error: failure };
  }
  return { error: Object.assign(new Error('no port free on every loopback address'), { code: 'EADDRINUSE' }) };
}

function listen(server: Server, port: number, address: string): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((resolve) => {
    const onError = (error: NodeJS.ErrnoException) => resolve(error);
    server.once('error', onError);
    server.listen({ port, host: address, exclusive: true }, () => {
      server.off('error', onError);
      resolve(undefined);
    });
  });
}

function isOwnHost(header: string | undefined, port: number): boolean {
  if (!header) return false;
  try {
    const url = new URL(`http://${header}`);
    return isLoopbackHost(url.hostname) && url.port === String(port) && url.username === '' && url.pathname === '/';
  } catch {
    return false;
  }
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function pathOnly(target: string | undefined): string {
  return (target ?? '').split('?')[0]!.slice(0, 200);
}

function send(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    pragma: 'no-cache',
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    connection: 'close',
  });
  res.end(body);
}
