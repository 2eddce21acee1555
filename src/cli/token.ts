import { Option, type Command } from 'commander';
import type { Brand } from './brand.js';
import { registerTokenInspect } from './token-inspect.js';
import type { ContextFor } from './program.js';
import { parseMinValidity, printToken } from './token-action.js';
import { UsageError } from '../errors.js';

/** `token` prints the credential; `token inspect` explains a JWT. */
export function registerToken(program: Command, contextFor: ContextFor, brand: Brand): void {
  const n = brand.name;
  const token = program
    .command('token')
    .description(`print the profile's credential, for $(${n} token); renews it first when expired`)
    .option('--refresh', 'renew the credential even if it has not expired')
    .option('--min-validity <seconds>', 'renew first unless it stays valid this long; exit 3 if it cannot (a job that runs an hour)')
    .addOption(
      new Option('--output <format>', 'token: the credential alone; exec-credential: a kubectl ExecCredential (see setup kubectl)')
        .choices(['token', 'exec-credential'])
        .default('token'),
    )
    .addHelpText(
      'after',
      `\nExamples:\n  $ curl -H "Authorization: Bearer $(${n} token)" https://api.example.com/me\n  $ ${n} token inspect eyJhbGciOi...`,
    )
    .action(async (raw: { refresh?: boolean; output?: string; minValidity?: string }, command: Command) => {
      const ctx = contextFor(command);
      const options = { ...raw, minValidity: minValidityOf(raw.minValidity) };
      if (options.output === 'exec-credential') {
        const { printExecCredential } = await import('./kubectl.js');
        return printExecCredential(ctx, options);
      }
      return printToken(ctx, options);
    });

  registerTokenInspect(token, contextFor, brand);
}

/** The `--min-validity` of token and exec, as seconds (a usage error otherwise). */
export function minValidityOf(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  try {
    return parseMinValidity(value);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}
