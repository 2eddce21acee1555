import { Option, type Command } from 'commander';
import type { Brand } from './brand.js';
import { registerTokenInspect } from './token-inspect.js';
import type { Context } from './context.js';
import type { ContextFor } from './program.js';

/** `token` prints the credential; `token inspect` explains a JWT. */
export function registerToken(program: Command, contextFor: ContextFor, brand: Brand): void {
  const n = brand.name;
  const token = program
    .command('token')
    .description(`print the profile's credential, for $(${n} token); renews it first when expired`)
    .option('--refresh', 'renew the credential even if it has not expired')
    .addOption(
      new Option('--output <format>', 'token: the credential alone; exec-credential: a kubectl ExecCredential (see setup kubectl)')
        .choices(['token', 'exec-credential'])
        .default('token'),
    )
    .addHelpText(
      'after',
      `\nExamples:\n  $ curl -H "Authorization: Bearer $(${n} token)" https://api.example.com/me\n  $ ${n} token inspect eyJhbGciOi...`,
    )
    .action(async (options: { refresh?: boolean; output?: string }, command: Command) => {
      const ctx = contextFor(command);
      if (options.output === 'exec-credential') {
        const { printExecCredential } = await import('./kubectl.js');
        return printExecCredential(ctx, options);
      }
      return printToken(ctx, options);
    });

  registerTokenInspect(token, contextFor, brand);
}

/** `token`: the credential in force on stdout (renewed first when due). Also the hot path's (cli/hot.ts). */
export async function printToken(ctx: Context, options: { refresh?: boolean }): Promise<void> {
  // <PREFIX>_TOKEN is a credential on its own, as gh's GH_TOKEN: no profile needed (CI).
  const envToken = ctx.env('TOKEN')?.trim();
  if (envToken && !ctx.selectedProfileName()) {
    if (ctx.json({ profile: null, token: envToken, source: `env:${ctx.envName('TOKEN')}` })) return;
    ctx.out.data(envToken);
    return;
  }
  const { name } = ctx.requireProfile();
  const result = await ctx.token({ forceRenew: options.refresh === true });
  if (
    ctx.json({
      profile: name,
      token: result.token,
      source: result.source.type === 'env' ? `env:${result.source.variable}` : result.source.via,
    })
  )
    return;
  ctx.out.data(result.token);
}
