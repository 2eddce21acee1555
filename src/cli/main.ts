import { type Command, CommanderError } from 'commander';
import { createDeps, type Deps } from '../deps.js';
import { ExitCode, exitCodeOf, formatError, InterruptedError } from '../errors.js';
import { LATCHKEY_BRAND, type Brand } from './brand.js';
import { createProgram } from './program.js';

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
    for (const line of formatError(error, { name: brand.name, debug })) deps.streams.stderr.write(`${line}\n`);
    return exitCodeOf(error);
  }
}

/**
 * The process entry point of a CLI: SIGINT aborts the running command (a second one exits at
 * once), a closed stdout ends quietly, and the exit code is the command's. The only place that
 * calls `process.exit`.
 */
export async function runMain(
  run: (signal: AbortSignal) => Promise<number>,
  name: string,
  controller = new AbortController(),
): Promise<void> {
  // `latchkey profile list | head -1`: a reader that goes away is not an error (as with gh, git).
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(ExitCode.ok);
    throw error;
  });
  let interrupts = 0;
  process.on('SIGINT', () => {
    interrupts += 1;
    if (interrupts > 1) process.exit(ExitCode.interrupted);
    controller.abort(new InterruptedError());
    // A command that does not watch the signal still ends promptly.
    setTimeout(() => process.exit(ExitCode.interrupted), 3000).unref();
  });
  const code = await run(controller.signal);
  if (controller.signal.aborted && code !== ExitCode.interrupted) process.stderr.write(`${name}: interrupted\n`);
  const finalCode = controller.signal.aborted ? ExitCode.interrupted : code;
  // Let piped stdout drain before exiting (pipes are asynchronous on some platforms).
  await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
  process.exit(finalCode);
}

/** latchkey's own entry point (bin/latchkey.js). */
export async function main(brand: Brand = LATCHKEY_BRAND): Promise<void> {
  await runMain((signal) => runCli(process.argv.slice(2), createDeps(), brand, signal), brand.name);
}
