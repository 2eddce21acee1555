import type { Command } from 'commander';
import { relativeTime } from '../io/format.js';
import type { Brand } from './brand.js';
import type { ContextFor } from './program.js';

const NAMES = { refresh_token: 'the refresh token', access_token: 'the access token' } as const;

/** `logout [--all] [--no-revoke] [--idp]`. */
export function registerLogout(program: Command, contextFor: ContextFor, brand: Brand): void {
  const n = brand.name;
  program
    .command('logout')
    .description("delete the profile's stored credential (revoking it at the IdP where it can)")
    .option('--all', 'log out of every profile')
    .option('--no-revoke', 'do not revoke tokens at the IdP')
    .option('--idp', 'also end the session at the IdP, in the browser (its end_session_endpoint: OpenID RP-Initiated Logout)')
    .option('--timeout <seconds>', 'with --idp: how long to wait for the browser', '120')
    .addHelpText('after', `\nExamples:\n  $ ${n} logout\n  $ ${n} logout --idp\n  $ ${n} logout --all`)
    .action(async (options: { all?: boolean; revoke: boolean; idp?: boolean; timeout: string }, command: Command) => {
      const ctx = contextFor(command);
      const names = options.all ? Object.keys(ctx.profiles.read().logins) : [ctx.requireProfile().name];
      const credentials = await ctx.credentials();
      const profiles = ctx.allProfiles();
      const loggedOut: string[] = [];
      const reports: Record<string, unknown> = {};
      const { logOutProfile, endIdpSession } = await import('../flows/logout.js');
      const now = ctx.deps.clock.now();
      for (const name of names) {
        const profile = Object.hasOwn(profiles, name) ? profiles[name] : undefined;
        if (!profile) {
          if (await credentials.remove(name)) loggedOut.push(name);
          continue;
        }
        const result = await logOutProfile(
          { profileName: name, profile, revoke: options.revoke },
          { credentials, http: () => ctx.http(profile), clock: ctx.deps.clock, out: ctx.out },
        );
        if (result.removed) loggedOut.push(name);
        const report: Record<string, unknown> = { removed: result.removed };
        const revocation = result.revocation;
        if (revocation) Object.assign(report, { revoked: revocation.revoked, stillValid: revocation.kept });
        if (options.idp) {
          const ended = await endIdpSession(
            { profile, ...(result.idToken ? { idToken: result.idToken } : {}), timeoutMs: Number(options.timeout) * 1000 },
            { http: await ctx.http(profile), clock: ctx.deps.clock, out: ctx.out, openBrowser: ctx.deps.openBrowser, signal: ctx.signal },
          );
          report.idpSession = ended;
          if (!ctx.options.json) {
            if (ended === 'not-offered')
              ctx.out.warn(`the IdP of "${name}" offers no sign-out endpoint (end_session_endpoint): sign out on its own page`);
            else if (ended === 'opened') ctx.out.info(`Opened the IdP's sign-out page for "${name}": confirm there if it asks.`);
            else ctx.out.warn(`the browser did not open the IdP's sign-out page for "${name}"; your session there goes on`);
          }
        }
        reports[name] = report;
        if (ctx.options.json || !result.removed) continue;
        // Say what was and was not ended: a logout that leaves tokens valid must not look complete.
        if (revocation && revocation.revoked.length > 0)
          ctx.out.info(`Revoked at the IdP: ${revocation.revoked.map((t) => NAMES[t]).join(' and ')}.`);
        for (const kept of revocation?.kept ?? []) {
          const until = kept.until ? ` until ${kept.until} (${relativeTime(new Date(kept.until), now)})` : ' until the IdP ends it';
          ctx.out.info(`Still valid: ${NAMES[kept.token]} of "${name}"${until} (${kept.why}).`);
        }
        if (revocation && revocation.kept.length > 0 && !options.idp)
          ctx.out.info(
            revocation.endSession
              ? `  To end them now: ${n} logout --idp signs you out at the IdP (or ask its admin to revoke this grant).`
              : "  To end them now, sign out at the IdP's own page, or ask its admin to revoke this grant.",
          );
        if (result.kind === 'session' && result.expiresAt)
          ctx.out.info(
            `The backend session was deleted here; the backend itself ends it at ${result.expiresAt}` +
              ` (${relativeTime(new Date(result.expiresAt), now)}) unless it is revoked there.`,
          );
      }
      if (ctx.json({ loggedOut, profiles: reports })) return;
      if (loggedOut.length === 0) ctx.out.info(options.all ? 'No profile was logged in.' : `Profile "${names[0]}" was not logged in.`);
      else ctx.out.info(`Logged out of ${loggedOut.join(', ')}.`);
    });
}
