import type { Deps } from '../deps.js';
import { ExitCode, exitCodeOf, formatError, InterruptedError, LatchkeyError, TimeoutError } from '../errors.js';
import { processStdoutUsed } from '../io/process-streams.js';
import type { Brand } from './brand.js';

/** A failed command: one message on stderr (a stack only with --debug), and its exit code. */
export function reportFailure(error: unknown, brand: Brand, deps: Deps, debug: boolean): number {
  // The whole-exchange limit of the HTTP layer ran out while a body was still being read (a
  // server trickling a byte at a time): a timeout (exit 5), not an unexpected error.
  if (error instanceof Error && error.name === 'TimeoutError' && !(error instanceof LatchkeyError))
    error = new TimeoutError('a server stopped answering in time (the whole answer must arrive within LATCHKEY_HTTP_TIMEOUT)', {
      hint: 'Try again; if it persists, the server is too slow or a proxy holds the answer back (--debug shows which).',
      cause: error,
    });
  for (const line of formatError(error, { name: brand.name, debug })) deps.streams.stderr.write(`${line}\n`);
  return exitCodeOf(error);
}

/**
 * The process entry point of a CLI: SIGINT aborts the running command (a second one exits at
 * once), a closed stdout ends quietly (io/process-streams.ts), and the exit code is the command's. The only place that
 * calls `process.exit`.
 */
export async function runMain(
  run: (signal: AbortSignal) => Promise<number>,
  name: string,
  controller = new AbortController(),
): Promise<void> {
  let interrupts = 0;
  let first = 0;
  process.on('SIGINT', () => {
    // conf's atomic writer (when-exit) re-raises the SIGINT it saw, at once: that is not the
    // person pressing Ctrl-C a second time, and must not cut the first one's message off.
    if (interrupts > 0 && Date.now() - first < 250) return;
    interrupts += 1;
    if (interrupts > 1) process.exit(ExitCode.interrupted);
    first = Date.now();
    controller.abort(new InterruptedError());
    // A command that does not watch the signal still ends promptly.
    setTimeout(() => process.exit(ExitCode.interrupted), 3000).unref();
  });
  const code = await run(controller.signal);
  if (controller.signal.aborted && code !== ExitCode.interrupted) process.stderr.write(`${name}: interrupted\n`);
  const finalCode = controller.signal.aborted ? ExitCode.interrupted : code;
  // Output went to the descriptor synchronously (io/process-streams.ts); what went through the
  // stream (a full non-blocking pipe) drains before the exit.
  if (processStdoutUsed()) await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
  process.exit(finalCode);
}
