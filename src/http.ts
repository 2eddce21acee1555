import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { FailureError, NetworkError, TimeoutError } from './errors.js';
import { isLoopbackHost } from './loopback/hosts.js';
import type { Output } from './io/output.js';

export type Fetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

export interface Http {
  /** fetch through the one dispatcher: proxy from env, timeouts, user agent, redacted trace. */
  fetch: Fetch;
}

export interface HttpOptions {
  out: Output;
  userAgent: string;
  connectTimeoutMs?: number;
  /** Time to the response headers, and between body chunks. */
  responseTimeoutMs?: number;
  /** Extra CA certificates (PEM) to trust besides the system's: the profile's `caFile`. */
  extraCa?: string;
  /** Wait before the one retry of an idempotent request (ms). */
  retryDelayMs?: number;
  /** Largest response body accepted (bytes); default 1 MiB. IdPs and backends answer a few kB. */
  maxBodyBytes?: number;
}

const SECRET_PARAMS = new Set([
  'code',
  'state',
  'nonce',
  'code_verifier',
  'token',
  'id_token',
  'access_token',
  'refresh_token',
  'client_secret',
  'client_assertion',
  'password',
  'assertion',
  'device_code',
  'user_code',
  'logout_token',
]);
const SECRET_HEADERS = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'dpop']);

/** A URL with the values of secret query parameters replaced, for traces and messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    for (const key of [...parsed.searchParams.keys()]) {
      if (SECRET_PARAMS.has(key.toLowerCase())) parsed.searchParams.set(key, 'REDACTED');
    }
    return parsed.href;
  } catch {
    return '(unparseable URL)';
  }
}

function redactHeaders(headers: Headers): string {
  const shown: string[] = [];
  headers.forEach((value, key) => shown.push(`${key}: ${SECRET_HEADERS.has(key.toLowerCase()) ? 'REDACTED' : value}`));
  return shown.join(', ');
}

const IDEMPOTENT = new Set(['GET', 'HEAD']);
const PROXY_VARIABLES = ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy'];

/**
 * Build the HTTP client every flow uses. Where a proxy is configured (`HTTPS_PROXY`,
 * `HTTP_PROXY`, with `NO_PROXY`) or the profile has a `caFile`, requests go through undici's
 * `EnvHttpProxyAgent`; otherwise through Node's built-in fetch (undici too, already compiled
 * into Node: importing the undici package costs ~100 ms of start-up that a login without a
 * proxy does not need). Node honours `NODE_EXTRA_CA_CERTS` either way. An idempotent request
 * (discovery, JWKS) is retried once after a 5xx or a dropped connection; a POST (the code
 * exchange above all) never is. Failures become a `NetworkError` (exit 5) that names the host.
 */
export async function createHttp(options: HttpOptions, env: NodeJS.ProcessEnv = process.env): Promise<Http> {
  const responseTimeoutMs = options.responseTimeoutMs ?? 30_000;
  warnIfTlsUnchecked(options.out, env);
  let send: (url: string, init: RequestInit) => Promise<Response>;
  if (options.extraCa !== undefined || PROXY_VARIABLES.some((name) => env[name])) {
    const { Agent, EnvHttpProxyAgent, fetch: undiciFetch } = await import('undici');
    // Setting `ca` replaces Node's default list, so it is rebuilt: system roots, NODE_EXTRA_CA_CERTS, caFile.
    const ca = options.extraCa === undefined ? undefined : [...rootCertificates, ...extraCaCertsFromEnv(env), options.extraCa];
    const tls = ca ? { ca } : {};
    const timeouts = { headersTimeout: responseTimeoutMs, bodyTimeout: responseTimeoutMs };
    const connect = { timeout: options.connectTimeoutMs ?? 10_000, ...tls };
    const proxied = new EnvHttpProxyAgent({ connect, requestTls: tls, ...timeouts });
    // Loopback is never sent through a proxy, whatever NO_PROXY says (as Go's
    // ProxyFromEnvironment does for gh and kubelogin): a local IdP or backend over plain http
    // would otherwise hand the code, the verifier and the tokens to the proxy in clear.
    const direct = new Agent({ connect, ...timeouts });
    send = (url, init) => {
      const dispatcher = isLoopbackHost(new URL(url).hostname) ? direct : proxied;
      // The same whole-exchange limit as the plain path: undici's own timeouts are per chunk, so
      // a server sending a byte at a time would hold every command (and git's helper) for days.
      const timeout = AbortSignal.timeout(responseTimeoutMs);
      const signal = init.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
      return undiciFetch(url, { ...(init as object), dispatcher, signal });
    };
  } else {
    // Node's fetch connects within 10 s by default; the whole exchange gets `responseTimeoutMs`.
    send = (url, init) => {
      const timeout = AbortSignal.timeout(responseTimeoutMs);
      return globalThis.fetch(url, { ...init, signal: init.signal ? AbortSignal.any([init.signal, timeout]) : timeout });
    };
  }
  const { out } = options;
  const fetch: Fetch = async (input, init = {}) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const headers = new Headers(init.headers);
    if (!headers.has('user-agent')) headers.set('user-agent', options.userAgent);
    const method = (init.method ?? 'GET').toUpperCase();
    for (let attempt = 0; ; attempt += 1) {
      const retry = IDEMPOTENT.has(method) && attempt === 0;
      const started = performance.now();
      out.debug(`→ ${method} ${redactUrl(url)} ${redactHeaders(headers)}`);
      let response: Response;
      try {
        response = await send(url, { ...init, headers });
      } catch (error) {
        const failure = networkError(url, error);
        if (retry && RETRYABLE_CODES.has(rootCode(error)) && !init.signal?.aborted) {
          out.debug(`  ${failure.message}; retrying once`);
          await delay(options.retryDelayMs ?? 300);
          continue;
        }
        throw failure;
      }
      out.debug(
        `← ${response.status} ${method} ${redactUrl(url)} (${Math.round(performance.now() - started)} ms)` +
          ` ${redactHeaders(response.headers)}`,
      );
      response = limitBody(response, options.maxBodyBytes ?? 1024 * 1024, url);
      if (retry && response.status >= 500 && response.status !== 503) {
        // 503 is left to callers that honour Retry-After (device polling, revocation).
        await response.body?.cancel();
        out.debug(`  ${response.status}: retrying once`);
        await delay(options.retryDelayMs ?? 300);
        continue;
      }
      return response;
    }
  };
  return { fetch };
}

const warnedTls = new WeakSet<Output>();

/** `NODE_TLS_REJECT_UNAUTHORIZED=0` turns off every certificate check: said once per command (gh and npm warn too). */
function warnIfTlsUnchecked(out: Output, env: NodeJS.ProcessEnv): void {
  if (!tlsChecksDisabled(env) || warnedTls.has(out)) return;
  warnedTls.add(out);
  out.warn(`${TLS_UNCHECKED}; unset it, and trust a private CA with the profile's caFile or NODE_EXTRA_CA_CERTS instead`);
}

export const TLS_UNCHECKED =
  'NODE_TLS_REJECT_UNAUTHORIZED=0 is set: TLS certificates are not checked, so anyone on the network path can read and change this login';

export function tlsChecksDisabled(env: NodeJS.ProcessEnv): boolean {
  return env.NODE_TLS_REJECT_UNAUTHORIZED === '0';
}

/**
 * The response with its body capped: a server that sends megabytes (by mistake or on purpose)
 * ends in a clear error instead of filling memory.
 */
function limitBody(response: Response, maxBytes: number, url: string): Response {
  const declared = Number(response.headers.get('content-length'));
  const tooLarge = () =>
    new FailureError(
      `${hostOf(url)} answered with more than ${Math.round(maxBytes / 1024)} KiB, which no login needs; nothing was stored`,
      { code: 'response_too_large' },
    );
  if (Number.isFinite(declared) && declared > maxBytes) {
    void response.body?.cancel();
    throw tooLarge();
  }
  if (!response.body) return response;
  let seen = 0;
  const capped = response.body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        seen += chunk.byteLength;
        if (seen > maxBytes) controller.error(tooLarge());
        else controller.enqueue(chunk);
      },
    }),
  );
  try {
    return new Response(capped, { status: response.status, statusText: response.statusText, headers: response.headers });
  } catch {
    // A reason phrase no Fetch Response may carry (a control or a non-Latin-1 character): the
    // status is what counts. A status outside 200–599 is refused by name.
    if (response.status < 200 || response.status > 599)
      throw new FailureError(`${hostOf(url)} answered with HTTP status ${response.status}, which is not a status`, { code: 'network' });
    return new Response(capped, { status: response.status, headers: response.headers });
  }
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

/** Connection failures worth one more try: the server or a middlebox dropped the connection. */
const RETRYABLE_CODES = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET']);

/** The innermost error: undici's "fetch failed" wraps the socket's own. */
function rootCause(error: unknown): unknown {
  let cause: unknown = error;
  while (cause instanceof Error && cause.cause instanceof Error) cause = cause.cause;
  return cause;
}

function rootCode(error: unknown): string {
  return (rootCause(error) as { code?: string } | undefined)?.code ?? '';
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function extraCaCertsFromEnv(env: NodeJS.ProcessEnv): string[] {
  const file = env.NODE_EXTRA_CA_CERTS;
  if (!file) return [];
  try {
    return [readFileSync(file, 'utf8')];
  } catch {
    return []; // Node has already warned about it at startup
  }
}

/**
 * A fetch that honours `503` + `Retry-After` (seconds or an HTTP date) a few times, waiting at
 * most `maxWaitMs` each time; for idempotent calls such as token revocation.
 */
export function withRetryAfter(fetch: Fetch, { retries = 2, maxWaitMs = 10_000 } = {}): Fetch {
  return async (input, init) => {
    for (let attempt = 0; ; attempt += 1) {
      const response = await fetch(input, init);
      if (response.status !== 503 || attempt >= retries) return response;
      const header = response.headers.get('retry-after');
      const seconds =
        header === null ? Number.NaN : /^\d+$/.test(header.trim()) ? Number(header) : (Date.parse(header) - Date.now()) / 1000;
      if (!Number.isFinite(seconds) || seconds * 1000 > maxWaitMs) return response;
      await response.body?.cancel();
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, seconds) * 1000));
    }
  };
}

/** Turn undici's "fetch failed" into one line that names the host and the reason. */
export function networkError(url: string, error: unknown): NetworkError {
  let host = url;
  try {
    host = new URL(url).host;
  } catch {
    // keep the raw text
  }
  const cause = rootCause(error);
  const code = rootCode(error);
  const message = cause instanceof Error ? cause.message : String(cause);
  if (/TIMEOUT/.test(code) || (error instanceof Error && error.name === 'TimeoutError')) {
    return new TimeoutError(`${host} did not answer in time (${code || message})`, {
      hint: 'Check your network and proxy settings (HTTPS_PROXY, NO_PROXY), then try again.',
      cause: error,
    });
  }
  const reasons: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    ENOTFOUND: 'host not found',
    ECONNRESET: 'connection reset',
    EAI_AGAIN: 'DNS lookup failed',
    EHOSTUNREACH: 'host unreachable',
  };
  const reason =
    reasons[code] ?? (/certificate|CERT|SSL|TLS/i.test(`${code} ${message}`) ? `TLS certificate problem: ${message}` : message);
  return new NetworkError(`cannot reach ${host}: ${reason}`, {
    hint: /certificate/i.test(reason)
      ? 'If the server or your network uses its own CA, trust it:' +
        " the profile's caFile (profile set <name> ca-file <pem>)," +
        ' or NODE_EXTRA_CA_CERTS.'
      : 'Check the URL, your network and proxy settings (HTTPS_PROXY, NO_PROXY), then try again.',
    cause: error,
  });
}
