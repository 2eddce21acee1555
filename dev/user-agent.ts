#!/usr/bin/env node
/**
 * A scripted user agent for the dev IdP, used as `BROWSER` by the demo and the tests: it opens
 * the authorization URL, signs in on oidc-provider's devInteractions pages (any login), gives
 * consent, and follows the redirect to the CLI's loopback listener, like a person in a browser.
 *
 *   BROWSER="node dist-dev/dev/user-agent.js" latchkey login
 *
 * Environment:
 *   LATCHKEY_DEV_UA_ACTION  login (default) | deny (press Cancel, or Abort on a device code) |
 *                           attack (first send the listener forged and malformed requests,
 *                           then log in) | nocookie (come back without the start cookie) |
 *                           race (open the start URL a second time) | mixup | none |
 *                           logout (the URL is the IdP's end-session endpoint: confirm it) |
 *                           remote (a browser on another machine: stop at the redirect, log its URL)
 *
 * A URL without `redirect_uri` is a device flow verification URL: it confirms the code there.
 *   LATCHKEY_DEV_UA_USER    the login to use (default: ada)
 *   LATCHKEY_DEV_UA_LOG     a file to append one JSON line per step to
 *   LATCHKEY_DEV_UA_JAR     a file that keeps the cookies from one run to the next (the browser's
 *                           session at the IdP, which a later logout ends)
 */
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';

const action = process.env.LATCHKEY_DEV_UA_ACTION ?? 'login';
const user = process.env.LATCHKEY_DEV_UA_USER ?? 'ada';
const logFile = process.env.LATCHKEY_DEV_UA_LOG;

function log(entry: Record<string, unknown>): void {
  if (logFile) appendFileSync(logFile, `${JSON.stringify(entry)}\n`);
}

const jarFile = process.env.LATCHKEY_DEV_UA_JAR;
const cookies = new Map<string, string>(
  jarFile && existsSync(jarFile) ? (JSON.parse(readFileSync(jarFile, 'utf8')) as Array<[string, string]>) : [],
);
const saveJar = () => jarFile && writeFileSync(jarFile, JSON.stringify([...cookies]), { mode: 0o600 });

/**
 * fetch as a browser behind HTTPS_PROXY would (an IdP reached under its public name, e.g. the
 * Entra model): undici's proxy agent, trusting NODE_EXTRA_CA_CERTS; loopback goes direct.
 */
let send: (url: URL, init: RequestInit) => Promise<Response> = (url, init) => fetch(url, init);
if (process.env.HTTPS_PROXY) {
  const [{ EnvHttpProxyAgent, fetch: proxyFetch }, { readFileSync }, { rootCertificates }] = await Promise.all([
    import('undici'),
    import('node:fs'),
    import('node:tls'),
  ]);
  const extra = process.env.NODE_EXTRA_CA_CERTS ? [readFileSync(process.env.NODE_EXTRA_CA_CERTS, 'utf8')] : [];
  const tls = { ca: [...rootCertificates, ...extra] };
  const agent = new EnvHttpProxyAgent({ connect: tls, requestTls: tls, noProxy: 'localhost,127.0.0.1,::1' });
  send = (url, init) => proxyFetch(url, { ...(init as object), dispatcher: agent });
}

async function go(url: URL, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (cookies.size > 0) headers.set('cookie', [...cookies].map(([k, v]) => `${k}=${v}`).join('; '));
  const response = await send(url, { ...init, headers, redirect: 'manual' });
  for (const line of response.headers.getSetCookie()) {
    const [pair] = line.split(';');
    const at = pair!.indexOf('=');
    cookies.set(pair!.slice(0, at).trim(), pair!.slice(at + 1).trim());
  }
  if (response.headers.getSetCookie().length > 0) saveJar();
  return response;
}

/** A raw GET to the listener, with whatever Host and method the step needs. */
function raw(target: URL, path: string, options: { host?: string; method?: string } = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: target.hostname.replace(/^\[|\]$/g, ''),
        port: target.port,
        path,
        method: options.method ?? 'GET',
        headers: { host: options.host ?? target.host },
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

function formOf(html: string): { action: string; fields: Record<string, string> } | undefined {
  const form = /<form[^>]*action="([^"]+)"[^>]*>([\s\S]*?)<\/form>/i.exec(html);
  if (!form) return undefined;
  const fields: Record<string, string> = {};
  for (const input of form[2]!.matchAll(/<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"/gi)) fields[input[1]!] = input[2]!;
  return { action: form[1]!, fields };
}

async function main(): Promise<void> {
  const given = new URL(process.argv[process.argv.length - 1]!);
  if (action === 'none') {
    log({ step: 'open', url: given.href, argv: process.argv.slice(2) });
    return;
  }
  if (action === 'logout') return logout(given);
  // A browser login gives the CLI's one-time local start URL: it redirects to the IdP and sets
  // the cookie that the callback must carry. (A device flow gives the IdP's verification URL.)
  let start = given;
  if (/^\/start\//.test(given.pathname) && !given.searchParams.has('redirect_uri')) {
    const hop = await go(given);
    const location = hop.headers.get('location');
    log({ step: 'start', status: hop.status, cookie: cookies.size > 0 });
    if (hop.status !== 302 || !location) {
      log({ step: 'stuck', status: hop.status, at: given.pathname });
      process.exitCode = 1;
      return;
    }
    start = new URL(location, given);
  }
  const device = !start.searchParams.has('redirect_uri');
  // For a device flow there is no redirect back; an impossible origin keeps the loop below simple.
  const redirect = new URL(start.searchParams.get('redirect_uri') ?? 'http://device.invalid/');
  // What this process was given: the URL and nothing else (no secret travels through argv).
  log(
    device
      ? { step: 'open', device: start.pathname, user_code: start.searchParams.get('user_code'), argv: process.argv.slice(2) }
      : { step: 'open', redirect_uri: redirect.href, url: start.href, given: given.href, argv: process.argv.slice(2) },
  );

  if (action === 'attack') {
    const path = redirect.pathname;
    log({ step: 'forged-state', status: await raw(redirect, `${path}?code=forged&state=not-the-state`) });
    log({ step: 'no-state', status: await raw(redirect, `${path}?code=forged`) });
    log({ step: 'favicon', status: await raw(redirect, '/favicon.ico') });
    log({
      step: 'wrong-host',
      status: await raw(redirect, `${path}?code=x&state=${start.searchParams.get('state')}`, { host: `evil.example:${redirect.port}` }),
    });
    log({ step: 'post', status: await raw(redirect, `${path}?code=x&state=${start.searchParams.get('state')}`, { method: 'POST' }) });
    log({ step: 'huge', status: await raw(redirect, `${path}?state=x&pad=${'a'.repeat(20_000)}`).catch(() => -1) });
  }

  let url = start;
  let response = await go(url);
  if (action === 'race') {
    // Another program opens the start URL too (it could read it from argv): the CLI must stop.
    const again = await go(given);
    log({ step: 'start-again', status: again.status });
  }
  for (let hops = 0; hops < 20; hops += 1) {
    if (response.status >= 300 && response.status < 400) {
      url = new URL(response.headers.get('location')!, url);
      if (url.origin === redirect.origin && url.pathname === redirect.pathname) {
        // A browser on another machine (login --remote): it cannot reach the CLI's listener;
        // the person copies the address it was sent to from the address bar.
        if (action === 'remote') {
          log({ step: 'redirected', url: url.href });
          return;
        }
        // A mix-up attack (RFC 9207): the response claims to come from another issuer.
        if (action === 'mixup') url.searchParams.set('iss', 'https://attacker.example');
        // The IdP sends the browser back to the CLI: deliver the callback (with the start
        // cookie, as a browser would; 'nocookie' plays a browser that never saw the start URL).
        const callback = action === 'nocookie' ? await fetch(url, { redirect: 'manual' }) : await go(url);
        const page = await callback.text();
        log({
          step: 'callback',
          status: callback.status,
          title: /<title>([^<]*)<\/title>/.exec(page)?.[1] ?? null,
          cacheControl: callback.headers.get('cache-control'),
        });
        return;
      }
      response = await go(url);
      continue;
    }
    const html = await response.text();
    const form = formOf(html);
    if (device && response.status === 200 && !form) {
      log({ step: 'device-done', title: /<title>([^<]*)<\/title>/.exec(html)?.[1] ?? null });
      return;
    }
    if (response.status !== 200 || !form) {
      log({ step: 'stuck', status: response.status, at: url.pathname });
      process.exitCode = 1;
      return;
    }
    if (form.fields.prompt === 'login' && action === 'deny') {
      const abort = /href="([^"]*\/abort)"/.exec(html)?.[1];
      log({ step: 'deny' });
      response = await go(new URL(abort!, url));
      continue;
    }
    let fields = form.fields.prompt === 'login' ? { ...form.fields, login: user, password: 'any password' } : form.fields;
    if (form.fields.confirm === 'yes' && action === 'deny') {
      fields = { ...form.fields, abort: 'yes' };
      delete fields.confirm;
    }
    log({ step: form.fields.prompt ?? (form.fields.confirm ? (action === 'deny' ? 'device-abort' : 'device-confirm') : 'form') });
    url = new URL(form.action, url);
    response = await go(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });
  }
  log({ step: 'too-many-hops' });
  process.exitCode = 1;
}

/** RP-initiated logout as a person does it: open the end-session page, press "Yes, sign me out". */
async function logout(endSession: URL): Promise<void> {
  const page = await go(endSession);
  const html = await page.text();
  const form = formOf(html);
  log({ step: 'logout-page', status: page.status, title: /<title>([^<]*)<\/title>/.exec(html)?.[1] ?? null });
  if (page.status !== 200 || !form) {
    process.exitCode = 1;
    return;
  }
  let url = new URL(form.action, endSession);
  let response = await go(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ ...form.fields, logout: 'yes' }).toString(),
  });
  for (let hops = 0; hops < 5 && response.status >= 300 && response.status < 400; hops += 1) {
    url = new URL(response.headers.get('location')!, url);
    response = await go(url);
  }
  const done = await response.text();
  log({ step: 'logged-out', status: response.status, title: /<title>([^<]*)<\/title>/.exec(done)?.[1] ?? null });
}

main().catch((error: Error) => {
  log({ step: 'error', message: error.message });
  process.exitCode = 1;
});
