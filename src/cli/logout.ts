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
      for (const name of names) {
        const profile = profiles[name];
        if (options.revoke && profile) {
          // A credential that cannot be read (keychain gone) is still removed below.
          const stored = await credentials.load(name).catch(() => undefined);
          if (stored) {
            const { revokeAtIdp } = await import('../flows/revoke.js');
            await revokeAtIdp({ profileName: name, profile, record: stored.record }, { http: await ctx.http(profile), clock: ctx.deps.clock, out: ctx.out });
          }
        }
        if (await credentials.remove(name)) loggedOut.push(name);
      }
      if (ctx.json({ loggedOut })) return;
      if (loggedOut.length === 0) ctx.out.info(options.all ? 'No profile was logged in.' : `Profile "${names[0]}" was not logged in.`);
      else ctx.out.info(`Logged out of ${loggedOut.join(', ')}.`);
    });
}
