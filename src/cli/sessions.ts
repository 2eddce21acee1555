import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { relativeTime, table } from '../io/format.js';
import { safeText } from '../io/text.js';
import type { BackendSession, SessionsDeps, SessionsInput } from '../flows/sessions.js';
import type { Brand } from './brand.js';
import type { Context } from './context.js';
import type { ContextFor } from './program.js';

/** `sessions [list]`, `sessions revoke <id> | --others`: the profile's sessions at its backend. */
export function registerSessions(program: Command, contextFor: ContextFor, brand: Brand): void {
  const n = brand.name;
  const sessions = program
    .command('sessions')
    .description("the profile's sessions at its backend (one per machine that logged in): list them, or end one")
    .addHelpText(
      'after',
      `\nExamples:\n  $ ${n} sessions\n  $ ${n} sessions revoke 3kq9V2mX0aPz\n  $ ${n} sessions revoke --others\n  $ ${n} sessions --json`,
    );
  sessions
    .command('list', { isDefault: true })
    .description("list the profile's sessions at its backend (this machine's marked)")
    .action(async (_options: unknown, command: Command) => runList(contextFor(command)));
  sessions
    .command('revoke')
    .description('end a session (it is refused at its next use, on that machine), or every other one')
    .argument('[id]', 'the session to end, as `sessions` lists it')
    .option('--others', "end every session of this profile's user but this machine's")
    .action(async (id: string | undefined, options: { others?: boolean }, command: Command) =>
      runRevoke(contextFor(command), id, options.others === true),
    );
}

async function setup(ctx: Context): Promise<{ input: SessionsInput; deps: SessionsDeps }> {
  const { name, profile } = ctx.requireProfile();
  const http = await ctx.http(profile);
  return {
    input: { profileName: name, profile, cliName: ctx.brand.name },
    deps: { http, token: async (forceRenew) => (await ctx.token({ profileName: name, forceRenew })).token },
  };
}

async function runList(ctx: Context): Promise<void> {
  const { input, deps } = await setup(ctx);
  const { listSessions } = await import('../flows/sessions.js');
  const list = await listSessions(input, deps);
  if (ctx.json({ profile: input.profileName, sessions: list })) return;
  if (list.length === 0) return ctx.out.info(`No sessions of profile "${input.profileName}" at its backend.`);
  ctx.out.data(sessionTable(list, ctx.deps.clock.now()).join('\n'));
}

async function runRevoke(ctx: Context, id: string | undefined, others: boolean): Promise<void> {
  if (others === (id !== undefined))
    throw new UsageError(others ? 'give a session id or --others, not both' : 'name the session to end, or give --others', {
      hint: `List them: ${ctx.brand.name} sessions`,
    });
  const { input, deps } = await setup(ctx);
  const { revokeOtherSessions, revokeSession } = await import('../flows/sessions.js');
  if (others) {
    const { revokedCount } = await revokeOtherSessions(input, deps);
    if (ctx.json({ revokedCount })) return;
    ctx.out.info(revokedCount === 0 ? 'No other session to end.' : `Ended ${revokedCount} other session${revokedCount === 1 ? '' : 's'}.`);
    return;
  }
  const result = await revokeSession({ ...input, id: id! }, deps);
  if (ctx.json(result)) return;
  ctx.out.info(`Ended session ${safeText(id!)}: it is refused at its next use.`);
}

function sessionTable(list: BackendSession[], now: Date): string[] {
  const when = (iso: string) => (Number.isNaN(Date.parse(iso)) ? '-' : relativeTime(new Date(iso), now));
  return table([
    ['ID', 'MACHINE', 'CREATED', 'LAST USED', 'STATE'],
    ...list.map((s) => [
      `${safeText(s.id)}${s.current ? ' *' : ''}`,
      `${safeText(s.machine ?? '-')}${s.current ? ' (this machine)' : ''}`,
      when(s.createdAt),
      when(s.lastUsedAt),
      s.endedAt ? `ended (${safeText(s.endedReason ?? 'revoked')})` : s.expiresAt ? `active, ends ${when(s.expiresAt)}` : 'active',
    ]),
  ]);
}
