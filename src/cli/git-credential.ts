import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { readAll } from '../io/output.js';
import { requireWebUrl, UnsafeUrlError } from '../io/urls.js';
import { dictionary, ensurePrivateDir } from '../store/profiles.js';
import type { Brand } from './brand.js';
import type { Context } from './context.js';
import type { ContextFor } from './program.js';
import { runTool } from './run-tool.js';

/** git's credential attributes (`key=value` lines), as git-credential(1) writes them. */
export function parseCredentialRequest(text: string): Map<string, string> {
  const attributes = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') break;
    const at = line.indexOf('=');
    if (at > 0) attributes.set(line.slice(0, at), line.slice(at + 1));
  }
  return attributes;
}

const fingerprint = (token: string) => createHash('sha256').update(token).digest('hex');

/** Where the fingerprints of tokens a git server refused are kept, per profile. */
export interface RejectedTokens {
  get(profileName: string): string | undefined;
  set(profileName: string, fingerprint: string | undefined): void;
}

export interface GitCredentialDeps {
  profileName: string;
  /**
   * The URL the helper was set up for (`setup git`: scheme, host and port, and a path when one was
   * named). Only a request for it is answered; anything else (another scheme, host or port, a
   * look-alike host, a user name, no host) gets no answer, as git's protocol expects of a helper
   * that has no credential for it. Absent: nothing is answered.
   */
  url?: string;
  /** Told why a request got no answer (for --debug). */
  declined?: (why: string) => void;
  /** The user name given with the token (servers that take a token as the password ignore it). */
  username: string;
  /** The credential in force; renewed first when asked. */
  token: (forceRenew: boolean) => Promise<string>;
  rejected: RejectedTokens;
}

/**
 * git's credential helper, for one profile: `get` answers with the credential (renewed first
 * when due, or when git reported the last one as rejected with `erase`); `store` has nothing to
 * keep; `erase` remembers that the server refused this token, so the next `get` renews it. The
 * answer is what to write to git (`username=…`, `password=…` lines), or nothing.
 */
export async function gitCredentialAnswer(action: string, request: Map<string, string>, deps: GitCredentialDeps): Promise<string> {
  if (action === 'store') return '';
  if (action === 'erase') {
    // git reports the credential it was given, user name included: only ours is ours to erase.
    const reported = new Map(request);
    if (reported.get('username') === deps.username) reported.delete('username');
    if (requestMismatch(reported, deps.url) !== undefined) return '';
    const password = request.get('password');
    if (password) deps.rejected.set(deps.profileName, fingerprint(password));
    return '';
  }
  if (action !== 'get') throw new UsageError(`git-credential takes get, store or erase, not "${action}"`);
  const mismatch = requestMismatch(request, deps.url);
  if (mismatch !== undefined) {
    deps.declined?.(mismatch);
    return '';
  }
  let token = await deps.token(false);
  const refused = deps.rejected.get(deps.profileName);
  if (refused !== undefined && refused === fingerprint(token)) {
    token = await deps.token(true);
    deps.rejected.set(deps.profileName, undefined);
  }
  // git's protocol is a line per attribute: a value with a newline or NUL (a hostile backend's
  // session, a user name) would add attributes of its own (url=, quit=1). Never written.
  for (const [what, value] of [
    ['the credential', token],
    ['--username', deps.username],
  ] as const)
    if (/[\n\r\0]/.test(value)) throw new UsageError(`${what} holds a line break or NUL, which git's credential protocol cannot carry`);
  return `username=${deps.username}\npassword=${token}\n`;
}

/**
 * Why git's request is not for the URL the helper was set up for, or undefined when it is: the
 * same scheme, the same host (compared as URLs compare them: case, default ports, IDNA), the same
 * port, no user name, and, when the setup named a path, that path or one below it.
 */
export function requestMismatch(request: Map<string, string>, setUpFor: string | undefined): string | undefined {
  if (setUpFor === undefined) return 'the helper was set up for no URL (run setup git again)';
  const allowed = new URL(setUpFor);
  const protocol = request.get('protocol');
  const host = request.get('host');
  if (!protocol || !host) return 'the request names no protocol or no host';
  if (`${protocol}:` !== allowed.protocol) return `the request is for ${protocol}, the helper for ${allowed.protocol.slice(0, -1)}`;
  if (request.has('username')) return "the request names a user name: that credential is not this helper's";
  // A host with anything a URL would take apart ("a.example@b.example", "a.example/x") is not one.
  if (/[@/\\?#\s]/.test(host)) return 'the request names a host that is not a host';
  let asked: URL;
  try {
    asked = new URL(`${protocol}://${host}/`);
  } catch {
    return 'the request names a host that is not a host';
  }
  if (asked.host !== allowed.host) return 'the request is for another host or port';
  const base = allowed.pathname.replace(/^\/+|\/+$/g, '');
  if (base !== '') {
    const path = (request.get('path') ?? '').replace(/^\/+|\/+$/g, '');
    if (path !== base && !path.startsWith(`${base}/`)) return `the request is for another path than ${base}`;
  }
  return undefined;
}

/** The URL the helper of a profile answers for: the one `setup git` named, else the backend's origin. */
function helperUrl(given: string | undefined, backendUrl: string | undefined): string | undefined {
  if (given !== undefined) return credentialUrl(given);
  return backendUrl ? credentialUrl(new URL(backendUrl).origin) : undefined;
}

/** The rejected tokens of a CLI, in `git-rejected.json` of its config dir (0600). */
function rejectedTokensIn(ctx: Context): RejectedTokens {
  const file = join(ctx.configDir, 'git-rejected.json');
  const read = (): Record<string, string> => {
    try {
      return dictionary(JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>);
    } catch {
      return dictionary();
    }
  };
  return {
    get: (name) => {
      const marks = read();
      return Object.hasOwn(marks, name) ? marks[name] : undefined;
    },
    set: (name, value) => {
      const marks = read();
      if (value === undefined) delete marks[name];
      else marks[name] = value;
      ensurePrivateDir(ctx.configDir);
      writeFileSync(file, JSON.stringify(marks), { mode: 0o600 });
    },
  };
}

/** `git-credential get|store|erase`: git's credential helper protocol on stdin and stdout. */
export function registerGitCredential(program: Command, contextFor: ContextFor, brand: Brand): void {
  program
    .command('git-credential', { hidden: true })
    .description(`git's credential helper (set up with: ${brand.name} setup git)`)
    .argument('<action>', 'get, store or erase (git gives it)')
    .option('--username <name>', 'the user name given with the token', 'x-access-token')
    .option('--url <url>', 'the URL this helper answers for (setup git writes it)')
    .action(async (action: string, options: { username: string; url?: string }, command: Command) => {
      const ctx = contextFor(command);
      const request = parseCredentialRequest(await readAll(ctx.deps.streams.stdin, 64 * 1024));
      // A failure (not logged in: exit 3) is said on stderr, which git shows; git then falls back
      // to its own prompt, or fails without a terminal.
      const { name, profile } = ctx.requireProfile();
      const answer = await gitCredentialAnswer(action, request, {
        profileName: name,
        url: helperUrl(options.url, profile.backendUrl),
        declined: (why) => ctx.out.debug(`git-credential ${action}: no answer: ${why}`),
        username: options.username,
        token: async (forceRenew) => (await ctx.token({ profileName: name, forceRenew })).token,
        rejected: rejectedTokensIn(ctx),
      });
      if (answer) ctx.deps.streams.stdout.write(answer);
    });
}

/**
 * Where `setup git` points git: the credential context of one host (never every host), with the
 * path when one was named. The URL rule holds: https, or http on a loopback host only.
 */
export function credentialUrl(host: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(host) ? host : `https://${host}`;
  let url: URL;
  try {
    url = requireWebUrl(withScheme);
  } catch (error) {
    if (!(error instanceof UnsafeUrlError)) throw error;
    throw new UsageError(`--host must be a host name (git.example.com) or an https URL: ${error.message}`);
  }
  if (url.search !== '' || url.hash !== '') throw new UsageError('--host takes no query or fragment');
  const path = url.pathname.replace(/\/+$/, '');
  return `${url.protocol}//${url.host}${path}`;
}

/** One word for `sh`, whatever it holds: as it is when it is plain, else in single quotes. */
export function shellWord(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;
}

/** `setup git [--host HOST]`: git asks latchkey for the credential of that host, and only of it. */
export function registerSetupGit(setup: Command, contextFor: ContextFor, brand: Brand): void {
  const n = brand.name;
  setup
    .command('git')
    .description(`make git get its credential for one host from ${n} (a credential helper)`)
    .option('--host <host>', "the git host (default: the profile's backendUrl host)")
    .addHelpText('after', `\nExamples:\n  $ ${n} setup git -p prod --host git.example.com`)
    .action(async (options: { host?: string }, command: Command) => {
      const ctx = contextFor(command);
      const { name, profile } = ctx.requireProfile();
      const host = options.host ?? (profile.backendUrl ? new URL(profile.backendUrl).host : undefined);
      if (!host) throw new UsageError('which host? Give --host git.example.com (the profile has no backendUrl to take it from)');
      const url = credentialUrl(host);
      const key = `credential.${url}.helper`;
      // git runs a helper line that starts with "!" through the shell: every word is quoted for it.
      const helper = `!${[n, 'git-credential', '-p', name, '--url', url].map(shellWord).join(' ')}`;
      const git = (args: string[]) => runTool('git', args, ctx.deps.env);
      // An empty helper first: the helpers configured for every host are not asked for this one.
      await git(['config', '--global', '--replace-all', key, '']);
      await git(['config', '--global', '--add', key, helper]);
      // git sends the path of a request only when asked to: a helper set up for a path needs it.
      if (new URL(url).pathname !== '/') await git(['config', '--global', `credential.${url}.useHttpPath`, 'true']);
      if (ctx.json({ key, helper })) return;
      ctx.out.info(`git now asks ${n} (profile ${name}) for the credentials of ${credentialUrl(host)}, and only of it: ${key}`);
    });
}
