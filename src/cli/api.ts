import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { backendUnavailable, FailureError, NotLoggedInError, RejectedError, sessionEnded, UsageError } from '../errors.js';
import type { Http } from '../http.js';
import { readAll } from '../io/output.js';
import { safeJson, safeLine, safeLines } from '../io/text.js';
import { detectEnvironment } from '../io/environment.js';
import { bearerChallenge } from '../flows/resource-discovery.js';
import { effective } from '../store/profile-keys.js';
import type { Profile } from '../model.js';
import type { Brand } from './brand.js';
import type { Context } from './context.js';
import type { ContextFor } from './program.js';

export interface ApiRequestInput {
  /** The profile's backend: where PATH goes. */
  backendUrl: string;
  path: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface ApiResponse {
  status: number;
  statusText: string;
  headers: Headers;
  body: string;
}

/**
 * The URL of PATH on the backend: a path, or a full URL, resolved against the backend's origin
 * and then held to it, whatever the form (`//host/x` and `/\\host/x` name another host too): the
 * credential is only ever sent to the profile's backend.
 */
export function apiUrl(backendUrl: string, path: string): URL {
  const base = new URL(backendUrl);
  const url = new URL(/^[a-z][a-z0-9+.-]*:/i.test(path) || path.startsWith('/') ? path : `/${path}`, base.origin);
  if (url.origin !== base.origin)
    throw new UsageError(`${path} is not on the profile's backend (${base.origin}): the credential is only sent there`);
  return url;
}

/**
 * One request to the profile's backend with its credential; on 401, the credential is renewed
 * once (refresh, re-mint, or the backend exchange again) and the request made again, as `gh api`
 * does with a stale token. `token(forceRenew)` gives the credential.
 */
export async function apiRequest(
  input: ApiRequestInput,
  deps: { http: Http; token: (forceRenew: boolean) => Promise<string> },
): Promise<ApiResponse> {
  const url = apiUrl(input.backendUrl, input.path);
  const send = async (token: string): Promise<ApiResponse> => {
    const response = await deps.http.fetch(url.href, {
      method: input.method ?? (input.body === undefined ? 'GET' : 'POST'),
      headers: {
        accept: 'application/json',
        ...(input.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...input.headers,
        authorization: `Bearer ${token}`,
      },
      ...(input.body !== undefined ? { body: input.body } : {}),
      redirect: 'manual',
    });
    return { status: response.status, statusText: response.statusText, headers: response.headers, body: await response.text() };
  };
  const first = await send(await deps.token(false));
  if (first.status !== 401) return first;
  let renewed: string;
  try {
    renewed = await deps.token(true);
  } catch (error) {
    if (error instanceof NotLoggedInError) return first; // nothing to renew with: the 401 stands
    throw error;
  }
  return send(renewed);
}

/** `api [-X METHOD] PATH [-H 'K: V']… [-d DATA | --input FILE] [--include]`. */
export function registerApi(program: Command, contextFor: ContextFor, brand: Brand): void {
  const n = brand.name;
  program
    .command('api')
    .description("call the profile's backend API with the credential (renewed and retried once on a 401)")
    .argument('<path>', 'the path on the backend (/api/me), or a full URL of the same origin')
    .option('-X, --method <method>', 'the HTTP method (default: GET, or POST with a body)')
    .option('-H, --header <header...>', 'a request header, "Name: value" (repeatable)')
    .option('-d, --data <data>', 'the request body (JSON by default: set content-type with -H otherwise)')
    .option('--input <file>', 'read the request body from a file (- for stdin)')
    .option('-i, --include', 'print the status line and the response headers before the body')
    .addHelpText(
      'after',
      `\nExamples:\n  $ ${n} api /api/whoami\n  $ ${n} api -X POST /api/items -d '{"name":"x"}'\n  $ ${n} api -p stage -i /api/health`,
    )
    .action(async (path: string, options: ApiOptions, command: Command) => runApi(contextFor(command), path, options));
}

interface ApiOptions {
  method?: string;
  header?: string[];
  data?: string;
  input?: string;
  include?: boolean;
}

async function runApi(ctx: Context, path: string, options: ApiOptions): Promise<void> {
  const { name, profile } = ctx.requireProfile();
  if (!profile.backendUrl)
    throw new UsageError(`profile "${name}" has no backendUrl to call`, {
      hint: `Set it: ${ctx.brand.name} profile set ${name} backend-url https://api.example.com`,
    });
  if (options.data !== undefined && options.input !== undefined) throw new UsageError('give the body with -d or with --input, not both');
  const headers: Record<string, string> = {};
  for (const header of options.header ?? []) {
    const at = header.indexOf(':');
    if (at <= 0) throw new UsageError(`-H takes "Name: value", got "${header}"`);
    headers[header.slice(0, at).trim().toLowerCase()] = header.slice(at + 1).trim();
  }
  if (Object.hasOwn(headers, 'authorization'))
    throw new UsageError("-H authorization: the credential is the profile's; use curl for another");
  const body =
    options.input === undefined
      ? options.data
      : options.input === '-'
        ? await readAll(ctx.deps.streams.stdin, 16 * 1024 * 1024)
        : readBody(options.input);
  const request: ApiRequestInput = {
    backendUrl: profile.backendUrl,
    path,
    headers,
    ...(options.method ? { method: options.method.toUpperCase() } : {}),
    ...(body !== undefined ? { body } : {}),
  };
  let response = await requestFor(ctx, name, profile, request);
  // Step-up (RFC 6750 §3.1, the MCP authorization spec): the backend wants a scope this login
  // was not granted. A person at a terminal logs in once more asking for it too; a script is
  // told which scope and the command that adds it.
  const needed = insufficientScope(response);
  if (needed) {
    const stepped = await stepUp(ctx, name, profile, needed);
    if (stepped) response = await requestFor(ctx, name, stepped, request);
  }

  // On a terminal, what the backend sent is escaped (its control characters could drive the
  // terminal); into a pipe or a file it goes as it came, as curl and gh api give it.
  const terminal = ctx.deps.streams.stdout.isTTY === true;
  const shown = (text: string) => (terminal ? safeLines(text) : text);
  if (options.include) {
    ctx.out.data(shown(`HTTP ${response.status} ${response.statusText}`.trimEnd()));
    for (const [key, value] of response.headers) ctx.out.data(shown(`${key}: ${value}`));
    ctx.out.data('');
  }
  let text = shown(response.body);
  if (terminal && /\bjson\b/i.test(response.headers.get('content-type') ?? '')) {
    try {
      text = safeJson(JSON.parse(response.body));
    } catch {
      // not JSON after all: shown as it came, escaped
    }
  }
  if (text !== '') ctx.deps.streams.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  if (response.status >= 200 && response.status < 300) return;
  const what = `the API answered ${response.status}${response.statusText ? ` ${response.statusText}` : ''} for ${path}`;
  // The backend ended this machine's session, and renewing it was refused or impossible.
  if (response.status === 401 && /"error"\s*:\s*"session_ended"/.test(response.body))
    throw sessionEnded({ cliName: ctx.brand.name, profileName: name });
  if (response.status === 503 && /"code"\s*:\s*"session_store_unavailable"/.test(response.body))
    throw backendUnavailable(`${new URL(profile.backendUrl).host}${path}`, '');
  const lacking = insufficientScope(response);
  if (lacking)
    throw new RejectedError(`${what}: the credential lacks the scope ${lacking.map((scope) => safeLine(scope, 80)).join(' ')}`, {
      hint: `Add it and log in again: ${ctx.brand.name} profile set ${name} scopes "${unionOf(profile, lacking)}" && ${ctx.brand.name} login -p ${name}`,
    });
  if (response.status === 401 || response.status === 403)
    throw new RejectedError(what, {
      hint:
        response.status === 401
          ? `Log in again: ${ctx.brand.name} login -p ${name}`
          : 'The credential is valid but not allowed to do this.',
    });
  throw new FailureError(what);
}

// RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]{1,200}$/;

/** The scopes a 403 `insufficient_scope` challenge names (only well-formed ones), or undefined. */
function insufficientScope(response: ApiResponse): string[] | undefined {
  if (response.status !== 403) return undefined;
  const challenge = bearerChallenge(response.headers.get('www-authenticate'));
  if (challenge?.error !== 'insufficient_scope' || !challenge.scope) return undefined;
  const scopes = challenge.scope.split(' ').filter((scope) => scope !== '');
  return scopes.length > 0 && scopes.length <= 20 && scopes.every((scope) => SCOPE_TOKEN.test(scope)) ? scopes : undefined;
}

/** The profile's scopes and the named ones, in that order, each once. */
function unionOf(profile: Profile, named: readonly string[]): string {
  return [...new Set([...effective(profile).scopes.split(' ').filter(Boolean), ...named])].join(' ');
}

/**
 * Log in again, once, asking for the union of the profile's scopes and the ones named, when a
 * person is there to sign in and the login lacks one; the profile keeps the union. The profile to
 * retry with, or undefined when there is nothing to step up to (the 403 then stands).
 */
async function stepUp(ctx: Context, name: string, profile: Profile, needed: string[]): Promise<Profile | undefined> {
  const stored = await (await ctx.credentials()).load(name).catch(() => undefined);
  const granted = new Set((stored?.record.scope ?? effective(profile).scopes).split(' '));
  const missing = needed.filter((scope) => !granted.has(scope));
  if (missing.length === 0) return undefined;
  const interactive =
    (ctx.deps.streams.stdin.isTTY === true || ctx.deps.streams.stderr.isTTY === true) && !detectEnvironment(ctx.deps.env).ci;
  if (!interactive) return undefined;
  const scopes = unionOf(profile, missing);
  ctx.out.info(`The backend needs the scope ${missing.join(' ')}: signing in once more, asking for "${scopes}".`);
  await ctx.profiles.setKey(name, 'scopes', scopes);
  const { runLoginBranded } = await import('./login.js');
  await runLoginBranded(ctx, {});
  return { ...profile, scopes };
}

function requestFor(ctx: Context, name: string, profile: Profile, input: ApiRequestInput): Promise<ApiResponse> {
  // The HTTP client names the host of a network failure itself (NetworkError, exit 5).
  return ctx
    .http(profile)
    .then((http) => apiRequest(input, { http, token: async (forceRenew) => (await ctx.token({ profileName: name, forceRenew })).token }));
}

function readBody(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read --input ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}
