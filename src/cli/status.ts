import type { Command } from 'commander';
import { NotLoggedInError } from '../errors.js';
import { endOf, envOverride, loginAgainHint } from '../flows/get-token.js';
import { liveness } from '../model.js';
import { relativeTime, table } from '../io/format.js';
import { safeText } from '../io/text.js';
import type { ConfigFile } from '../store/profiles.js';
import type { Brand } from './brand.js';
import type { Context } from './context.js';
import type { ContextFor } from './program.js';

export interface ProfileStatus {
  name: string;
  default: boolean;
  loggedIn: boolean;
  subject: string | null;
  email: string | null;
  expiresAt: string | null;
  storage: 'keychain' | 'file' | null;
  /** `env:<VAR>`, or how the stored credential was obtained (browser, with-token, …); null when none. */
  source: string | null;
}

/**
 * `status`: reads only the config, so it never unlocks the keychain. Exit 3 when the profile
 * asked about (`-p`, else the default) is not usable, so `status -p prod && deploy` can gate; 0
 * when it is, or when `<PREFIX>_TOKEN` is in force.
 */
export function registerStatus(program: Command, contextFor: ContextFor, brand: Brand): void {
  program
    .command('status')
    .description('show every profile (or the -p one): logged in or not, as whom, until when, where')
    .addHelpText('after', `\nExamples:\n  $ ${brand.name} status\n  $ ${brand.name} status -p prod --json`)
    .action((_options, command: Command) => showStatus(contextFor(command)));
}

/** `status`: also the hot path's (cli/hot.ts). */
export function showStatus(ctx: Context): void {
  const brand = ctx.brand;
  const config = ctx.profiles.read();
  // One read of the config for the whole view (it may hold a thousand profiles).
  const profiles = ctx.profiles.all(config);
  const defaultName = ctx.profiles.defaultName(config);
  const only = ctx.options.profile || ctx.env('PROFILE');
  const names = only ? [ctx.requireProfile(only).name] : Object.keys(profiles);
  const now = ctx.deps.clock.now();
  const rows: ProfileStatus[] = names.map((name) => {
    const state = config.logins[name];
    const override = envOverride({ profile: profiles[name]!, globalTokenEnv: ctx.envName('TOKEN') }, ctx.deps.env);
    const live = state !== undefined && liveness(state, now) !== 'expired';
    return {
      name,
      default: name === defaultName,
      loggedIn: override !== undefined || live,
      subject: override ? null : (state?.subject ?? null),
      email: override ? null : (state?.email ?? null),
      expiresAt: override ? null : (state?.expiresAt ?? null),
      storage: override ? null : (state?.storage ?? null),
      source: override ? `env:${override.variable}` : (state?.via ?? null),
    };
  });
  const globalToken = envOverride({ globalTokenEnv: ctx.envName('TOKEN') }, ctx.deps.env);
  const printed = ctx.json(globalToken ? { profiles: rows, envCredential: globalToken.variable } : { profiles: rows });
  if (!printed && rows.length === 0) {
    if (globalToken) ctx.out.info(`${globalToken.variable} is set: it is the credential in force (no profile is needed for it).`);
    else ctx.out.info(`No profiles yet. Add one: ${brand.name} profile add <name> --issuer <url> --client-id <id>`);
  }
  if (!printed && rows.length > 0) ctx.out.data(statusTable(rows, config, now).join('\n'));
  // The exit code a script gates on: is the profile asked about (or the default) usable?
  const target = rows.find((r) => r.name === (only || defaultName));
  if (target?.loggedIn || (!target && globalToken)) return;
  if (!target)
    throw new NotLoggedInError('no profile is configured, and no credential is in the environment', {
      hint: `Add one: ${brand.name} profile add <name> --issuer <url> --client-id <id>, or set ${ctx.envName('TOKEN')}.`,
    });
  const state = config.logins[target.name];
  throw new NotLoggedInError(
    state ? `the credential of profile "${target.name}" ${endOf(state.expiresAt, now)}` : `profile "${target.name}" is not logged in`,
    {
      hint: state ? loginAgainHint(state, { profileName: target.name, program: brand.name }) : `Run: ${brand.name} login -p ${target.name}`,
    },
  );
}

/** The human view: one row per profile. */
function statusTable(rows: ProfileStatus[], config: ConfigFile, now: Date): string[] {
  return table([
    ['PROFILE', 'STATUS', 'AS', 'EXPIRES', 'STORAGE', 'SOURCE'],
    ...rows.map((r) => {
      const state = config.logins[r.name];
      const status = r.loggedIn ? 'logged in' : state ? 'expired' : 'not logged in';
      const expires = r.expiresAt ? `${r.expiresAt} (${relativeTime(new Date(r.expiresAt), now)})` : '-';
      const who = r.email ?? r.subject;
      // Read from a token nobody verified (login --with-token): never shown as an identity.
      const as = who === null ? '-' : state?.identityVerified === false ? `${safeText(who)} (unverified)` : safeText(who);
      return [`${safeText(r.name)}${r.default ? ' *' : ''}`, status, as, expires, r.storage ?? '-', r.source ?? '-'];
    }),
  ]);
}
