import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { readAll } from '../io/output.js';
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
    const password = request.get('password');
    if (password) deps.rejected.set(deps.profileName, fingerprint(password));
    return '';
  }
  if (action !== 'get') throw new UsageError(`git-credential takes get, store or erase, not "${action}"`);
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
    .action(async (action: string, options: { username: string }, command: Command) => {
      const ctx = contextFor(command);
      const request = parseCredentialRequest(await readAll(ctx.deps.streams.stdin, 64 * 1024));
      // A failure (not logged in: exit 3) is said on stderr, which git shows; git then falls back
      // to its own prompt, or fails without a terminal.
      const { name } = ctx.requireProfile();
      const answer = await gitCredentialAnswer(action, request, {
        profileName: name,
        username: options.username,
        token: async (forceRenew) => (await ctx.token({ profileName: name, forceRenew })).token,
        rejected: rejectedTokensIn(ctx),
      });
      if (answer) ctx.deps.streams.stdout.write(answer);
    });
}

/** Where `setup git` points git: the credential context of one host (never every host). */
export function credentialUrl(host: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(host) ? host : `https://${host}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new UsageError(`--host must be a host name (git.example.com) or URL, got "${host}"`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new UsageError(`--host must be https (or http), got ${url.protocol}`);
  return `${url.protocol}//${url.host}`;
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
      const key = `credential.${credentialUrl(host)}.helper`;
      const helper = `!${n} git-credential -p ${name}`;
      const git = (args: string[]) => runTool('git', args, ctx.deps.env);
      // An empty helper first: the helpers configured for every host are not asked for this one.
      await git(['config', '--global', '--replace-all', key, '']);
      await git(['config', '--global', '--add', key, helper]);
      if (ctx.json({ key, helper })) return;
      ctx.out.info(`git now asks ${n} (profile ${name}) for the credentials of ${credentialUrl(host)}, and only of it: ${key}`);
    });
}
