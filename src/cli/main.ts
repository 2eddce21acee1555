import { CommanderError } from 'commander';
import { createDeps, type Deps } from '../deps.js';
import { ExitCode, exitCodeOf, formatError, InterruptedError } from '../errors.js';
import { LATCHKEY_BRAND, type Brand } from './brand.js';
import { createProgram } from './program.js';

/**
 * Run the CLI with `args` (without node and script) and return the exit code. Never exits the
 * process: every error is mapped to one message on stderr and a code from `src/errors.ts`.
 */
export async function runCli(args: string[], deps: Deps = createDeps(), brand: Brand = LATCHKEY_BRAND, signal: AbortSignal = new AbortController().signal): Promise<number> {
  const program = createProgram(brand, deps, signal);
  const debug = args.includes('--debug');
  try {
    await program.parseAsync(args, { from: 'user' });
    return ExitCode.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version are not failures; every other commander error is a usage error.
      if (['commander.helpDisplayed', 'commander.version', 'commander.help'].includes(error.code) || error.exitCode === 0) return ExitCode.ok;
      return ExitCode.usage;
    }
    for (const line of formatError(error, { name: brand.name, debug })) deps.streams.stderr.write(`${line}\n`);
    return exitCodeOf(error);
  }
}

/** The process entry point (bin/latchkey.js): the only place that calls `process.exit`. */
export async function main(brand: Brand = LATCHKEY_BRAND): Promise<void> {
  // `latchkey profile list | head -1`: a reader that goes away is not an error (as with gh, git).
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(ExitCode.ok);
    throw error;
  });
  const controller = new AbortController();
  let interrupts = 0;
  process.on('SIGINT', () => {
    interrupts += 1;
    if (interrupts > 1) process.exit(ExitCode.interrupted);
    controller.abort(new InterruptedError());
    // A command that does not watch the signal still ends promptly.
    setTimeout(() => process.exit(ExitCode.interrupted), 3000).unref();
  });
  const code = await runCli(process.argv.slice(2), createDeps(), brand, controller.signal);
  if (controller.signal.aborted && code !== ExitCode.interrupted) process.stderr.write(`${brand.name}: interrupted\n`);
  const finalCode = controller.signal.aborted ? ExitCode.interrupted : code;
  // Let piped stdout drain before exiting (pipes are asynchronous on some platforms).
  await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
  process.exit(finalCode);
}
