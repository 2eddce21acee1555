import type { Command } from 'commander';
import type { Brand } from './brand.js';
import type { ContextFor } from './program.js';

/** `logout [--all] [--no-revoke]`. */
export function registerLogout(program: Command, contextFor: ContextFor, brand: Brand): void {
  program
    .command('logout')
    .description("delete the profile's stored credential (revoking it at the IdP where it can)")
    .option('--all', 'log out of every profile')
    .option('--no-revoke', 'do not revoke tokens at the IdP')
    .addHelpText('after', `\nExamples:\n  $ ${brand.name} logout\n  $ ${brand.name} logout --all`)
    .action(async (options: { all?: boolean; revoke: boolean }, command: Command) => {
      const ctx = contextFor(command);
      const names = options.all ? Object.keys(ctx.profiles.read().logins) : [ctx.requireProfile().name];
      const credentials = await ctx.credentials();
      const profiles = ctx.allProfiles();
      const loggedOut: string[] = [];
      const { logout } = await import('../flows/logout.js');
      for (const name of names) {
        const profile = profiles[name];
        const removed = profile
          ? await logout(
              { profileName: name, profile, revoke: options.revoke },
              { credentials, http: () => ctx.http(profile), clock: ctx.deps.clock, out: ctx.out },
            )
          : await credentials.remove(name);
        if (removed) loggedOut.push(name);
      }
      if (ctx.json({ loggedOut })) return;
      if (loggedOut.length === 0) ctx.out.info(options.all ? 'No profile was logged in.' : `Profile "${names[0]}" was not logged in.`);
      else ctx.out.info(`Logged out of ${loggedOut.join(', ')}.`);
    });
}
