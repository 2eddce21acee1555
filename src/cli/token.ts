import { Option, type Command } from 'commander';
import type { Brand } from './brand.js';
import { registerTokenInspect } from './token-inspect.js';
import type { ContextFor } from './program.js';
import { printToken } from './token-action.js';

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
