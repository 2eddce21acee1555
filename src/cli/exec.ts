import { constants } from 'node:os';
import type { Command } from 'commander';
import { ChildExit, UsageError } from '../errors.js';
import type { Brand } from './brand.js';
import type { ContextFor } from './program.js';

/**
 * `exec [--env NAME] -- command args…`: run a command with the profile's credential, renewed
 * first when due, in an environment variable (never on a command line, where other users can
 * read it in /proc). Signals sent to latchkey go to the command; its exit status is latchkey's.
 */
export function registerExec(program: Command, contextFor: ContextFor, brand: Brand): void {
  const n = brand.name;
  program
    .command('exec')
    .description('run a command with the fresh credential in an environment variable (never on its command line)')
    .argument('<command...>', 'the command and its arguments (after --)')
    .option('--env <name>', `the variable that holds the credential (default: ${brand.envPrefix}_TOKEN)`)
    .option('--min-validity <seconds>', 'renew first unless the credential stays valid this long (exit 3 if it cannot)')
    .addHelpText(
      'after',
      `\nExamples:\n  $ ${n} exec -- ./deploy.sh\n  $ ${n} exec -p prod --env API_TOKEN -- terraform apply\n` +
        `  $ ${n} exec -- sh -c 'curl -H "Authorization: Bearer $${brand.envPrefix}_TOKEN" https://api.example.com/me'`,
    )
    .action(async (words: string[], options: { env?: string; minValidity?: string }, command: Command) => {
      const ctx = contextFor(command);
      const variable = options.env ?? `${brand.envPrefix}_TOKEN`;
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(variable)) throw new UsageError(`--env must be an environment variable name, got "${variable}"`);
      const [file, ...args] = words;
      if (!file) throw new UsageError('no command to run', { hint: `Give it after --: ${n} exec -- <command> [args…]` });
      const { minValidityOf } = await import('./token.js');
      const minValidity = minValidityOf(options.minValidity);
      const { token } = await ctx.token(minValidity !== undefined ? { minValidity } : {});
      const { spawn } = await import('node:child_process');
      const status = await new Promise<number>((resolve, reject) => {
        // The handlers are in place before the command starts: no signal falls between the two.
        const started: { child?: ReturnType<typeof spawn> } = {};
        const forward = (signal: NodeJS.Signals) => () => started.child?.kill(signal);
        const handlers = (['SIGTERM', 'SIGHUP', 'SIGQUIT'] as const).map((signal) => [signal, forward(signal)] as const);
        for (const [signal, handler] of handlers) process.on(signal, handler);
        const child = (started.child = spawn(file, args, { stdio: 'inherit', env: { ...ctx.deps.env, [variable]: token } }));
        // Ctrl-C reaches the command itself (same terminal); a SIGINT sent to latchkey alone is forwarded.
        ctx.signal.addEventListener('abort', () => child.kill('SIGINT'), { once: true });
        child.once('error', (error: NodeJS.ErrnoException) =>
          reject(
            error.code === 'ENOENT'
              ? new UsageError(`cannot run "${file}": no such command`, { hint: 'Check the name and your PATH.' })
              : error,
          ),
        );
        child.once('exit', (code, signal) => {
          for (const [name, handler] of handlers) process.off(name, handler);
          // Killed by a signal: the shell's convention, 128 + its number.
          resolve(code ?? 128 + (signal ? (constants.signals[signal] ?? 1) : 0));
        });
      });
      if (status !== 0) throw new ChildExit(status);
    });
}
