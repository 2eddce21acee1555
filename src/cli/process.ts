import type { Deps } from '../deps.js';
import { ExitCode, exitCodeOf, formatError, InterruptedError } from '../errors.js';
import type { Brand } from './brand.js';

/** A failed command: one message on stderr (a stack only with --debug), and its exit code. */
export function reportFailure(error: unknown, brand: Brand, deps: Deps, debug: boolean): number {
  for (const line of formatError(error, { name: brand.name, debug })) deps.streams.stderr.write(`${line}\n`);
  return exitCodeOf(error);
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
