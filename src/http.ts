import { EnvHttpProxyAgent, fetch as undiciFetch } from 'undici';
import { NetworkError, TimeoutError } from './errors.js';
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
}

const SECRET_PARAMS = new Set([
  'code', 'state', 'nonce', 'code_verifier', 'token', 'id_token', 'access_token', 'refresh_token',
  'client_secret', 'client_assertion', 'password', 'assertion', 'device_code', 'user_code', 'logout_token',
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

/**
 * Build the HTTP client every flow uses. undici's `EnvHttpProxyAgent` honours `HTTPS_PROXY`,
 * `HTTP_PROXY` and `NO_PROXY`; Node honours `NODE_EXTRA_CA_CERTS`. Failures become a
 * `NetworkError` (exit 5) that names the host.
 */
export function createHttp(options: HttpOptions): Http {
  const dispatcher = new EnvHttpProxyAgent({
    connect: { timeout: options.connectTimeoutMs ?? 10_000 },
    headersTimeout: options.responseTimeoutMs ?? 30_000,
    bodyTimeout: options.responseTimeoutMs ?? 30_000,
  });
  const { out } = options;
  const fetch: Fetch = async (input, init = {}) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const headers = new Headers(init.headers);
    if (!headers.has('user-agent')) headers.set('user-agent', options.userAgent);
    const method = init.method ?? 'GET';
    const started = performance.now();
    out.debug(`→ ${method} ${redactUrl(url)} ${redactHeaders(headers)}`);
    let response: Response;
    try {
      response = (await undiciFetch(url, { ...(init as object), headers, dispatcher } as never)) as unknown as Response;
    } catch (error) {
      throw networkError(url, error);
    }
    out.debug(`← ${response.status} ${method} ${redactUrl(url)} (${Math.round(performance.now() - started)} ms) ${redactHeaders(response.headers)}`);
    return response;
  };
  return { fetch };
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
      const seconds = header === null ? Number.NaN : /^\d+$/.test(header.trim()) ? Number(header) : (Date.parse(header) - Date.now()) / 1000;
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
  let cause: unknown = error;
  while (cause instanceof Error && cause.cause instanceof Error) cause = cause.cause;
  const code = (cause as { code?: string } | undefined)?.code ?? '';
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
  const reason = reasons[code] ?? (/certificate|CERT|SSL|TLS/i.test(`${code} ${message}`) ? `TLS certificate problem: ${message}` : message);
  return new NetworkError(`cannot reach ${host}: ${reason}`, {
    hint: /certificate/i.test(reason)
      ? 'If your network uses its own CA, point NODE_EXTRA_CA_CERTS at its certificate.'
      : 'Check the URL, your network and proxy settings (HTTPS_PROXY, NO_PROXY), then try again.',
    cause: error,
  });
}
