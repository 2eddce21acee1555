import type { Command } from 'commander';
import { LatchkeyError, ExitCode } from '../errors.js';
import { detectEnvironment } from '../io/environment.js';
import { table } from '../io/format.js';
import { safeText } from '../io/text.js';
import type { Brand } from './brand.js';
import type { ContextFor } from './program.js';

/** `doctor [-p profile] [--json]`: one line per check, exit 1 when one fails. */
export function registerDoctor(program: Command, contextFor: ContextFor, brand: Brand): void {
  const n = brand.name;
  program
    .command('doctor')
    .description('check what a login needs: network, TLS, proxy, clock, keychain, port, browser')
    .addHelpText('after', `\nExamples:\n  $ ${n} doctor\n  $ ${n} doctor -p prod --json`)
    .action(async (_options, command: Command) => {
      const ctx = contextFor(command);
      // With no profile at all, everything but the IdP is still worth checking.
      const selected = ctx.selectedProfileName() === undefined ? undefined : ctx.requireProfile();
      const name = selected?.name;
      const profile = selected?.profile;
      const storageOverride = ctx.storageOverride();
      const { runDoctor } = await import('../flows/doctor.js');
      const checks = await runDoctor(
        {
          ...(selected ? { profileName: selected.name, profile: selected.profile } : {}),
          ...(storageOverride ? { storageOverride } : {}),
          cliName: n,
          envPrefix: brand.envPrefix,
          environment: detectEnvironment(ctx.deps.env),
          env: ctx.deps.env,
        },
        {
          http: await ctx.http(profile),
          clock: ctx.deps.clock,
          keychain: await ctx.keychain(),
        },
      );
      const failed = checks.filter((c) => c.status === 'fail').length;
      if (!ctx.json({ profile: name ?? null, ok: failed === 0, checks })) {
        // Details quote the IdP (its issuer, its errors): escaped before the terminal.
        const rows = table(checks.map((c) => [c.status, c.name, safeText(c.detail)]));
        checks.forEach((check, i) => {
          ctx.out.data(rows[i]!);
          if (check.next) ctx.out.data(`      → ${safeText(check.next)}`);
        });
      }
      if (failed > 0)
        throw new LatchkeyError(`${failed} check${failed === 1 ? '' : 's'} failed: see above`, ExitCode.failure, { code: 'doctor_failed' });
    });
}
