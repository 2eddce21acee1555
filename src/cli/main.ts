import { type Command, CommanderError } from 'commander';
import { createDeps, type Deps } from '../deps.js';
import { ExitCode } from '../errors.js';
import { LATCHKEY_BRAND, type Brand } from './brand.js';
import { createProgram } from './program.js';
import { reportFailure, runMain } from './process.js';

/**
 * Run the CLI with `args` (without node and script) and return the exit code. Never exits the
 * process: every error is mapped to one message on stderr and a code from `src/errors.ts`.
 */
export async function runCli(
  args: string[],
  deps: Deps = createDeps(),
  brand: Brand = LATCHKEY_BRAND,
  signal: AbortSignal = new AbortController().signal,
): Promise<number> {
  return execute(createProgram(brand, deps, signal), brand, deps, args);
}

/** Parse and run `args` on a built program; map any error to one message and an exit code. */
export async function execute(program: Command, brand: Brand, deps: Deps, args: string[]): Promise<number> {
  const debug = args.includes('--debug');
  try {
    await program.parseAsync(args, { from: 'user' });
    return ExitCode.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version are not failures; every other commander error is a usage error.
      if (['commander.helpDisplayed', 'commander.version', 'commander.help'].includes(error.code) || error.exitCode === 0)
        return ExitCode.ok;
      return ExitCode.usage;
    }
    return reportFailure(error, brand, deps, debug);
  }
}

/** latchkey's own entry point (bin/latchkey.js). */
export async function main(brand: Brand = LATCHKEY_BRAND): Promise<void> {
  await runMain((signal) => runCli(process.argv.slice(2), createDeps(), brand, signal), brand.name);
}
