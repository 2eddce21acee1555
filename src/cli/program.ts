import { Command, Option } from 'commander';
import type { Deps } from '../deps.js';
import { EXIT_CODE_MEANINGS } from '../errors.js';
import type { Brand } from './brand.js';
import { Context, type GlobalOptions } from './context.js';
import type { ExtraCommandContext } from './create-cli.js';
import { registerLogin } from './login.js';
import { registerLogout } from './logout.js';
import { registerProfile } from './profile.js';
import { registerStatus } from './status.js';
import { registerToken } from './token.js';
import { registerCompletion } from './completion.js';
import { registerDoctor } from './doctor.js';
import { registerExec } from './exec.js';
import { registerSetup } from './setup.js';
import { registerGitCredential } from './git-credential.js';
import { registerApi } from './api.js';
import { registerHelp } from './help.js';
import { registerSessions } from './sessions.js';

/** Builds the Context for the command being run (global options merged from every level). */
export type ContextFor = (command: Command) => Context;

const EXIT_CODES = EXIT_CODE_MEANINGS.map(([code, text]) => `  ${String(code).padStart(3)}  ${text}`);

/** The example lines of the top-level help: the brand's, else latchkey's under its name. */
function examplesOf(brand: Brand): string {
  const lines = brand.examples ?? [
    `${brand.name} profile add prod --issuer https://idp.example.com --client-id cli`,
    `${brand.name} login`,
    `curl -H "Authorization: Bearer $(${brand.name} token)" https://api.example.com/me`,
  ];
  return lines.map((line) => `  $ ${line}`).join('\n');
}

/** `contextFor`, with `action` for extra commands: the context is found from commander's last argument. */
function extraCommandContext(contextFor: ContextFor): ExtraCommandContext {
  return Object.assign((command: Command) => contextFor(command), {
    action:
      <Options>(handler: (ctx: Context, options: Options, ...args: string[]) => Promise<void> | void) =>
      async (...commanderArgs: unknown[]) => {
        const command = commanderArgs.at(-1) as Command;
        const options = commanderArgs.at(-2) as Options;
        await handler(contextFor(command), options, ...(commanderArgs.slice(0, -2) as string[]));
      },
  });
}

/** The commander tree: global options, every command, examples and the exit-code table. */
export function createProgram(
  brand: Brand,
  deps: Deps,
  signal: AbortSignal,
  extraCommands?: (program: Command, context: ExtraCommandContext) => void,
): Command {
  const program = new Command(brand.name)
    .description(
      brand.description ??
        'Browser-based login for the command line: OAuth 2.0 + PKCE, a backend token exchange, credentials in the OS keychain.',
    )
    .version(brand.version, '-V, --version')
    .addOption(new Option('-p, --profile <name>', 'profile to use (default: the default profile)').env(`${brand.envPrefix}_PROFILE`))
    .option('--json', 'machine-readable output on stdout')
    .option('--debug', 'trace HTTP exchanges on stderr (secrets redacted)')
    .option('--no-color', 'no colours (also NO_COLOR)')
    .addOption(new Option('--config-dir <dir>', 'configuration directory').env(`${brand.envPrefix}_CONFIG_DIR`))
    .showSuggestionAfterError()
    // gh's "inherited flags": every subcommand's help lists the global options too. Set before
    // the commands are added, which copy it.
    .configureHelp({ showGlobalOptions: true })
    .configureOutput({
      writeOut: (text) => void deps.streams.stdout.write(text),
      writeErr: (text) => void deps.streams.stderr.write(text),
      // Help wraps to the terminal it is shown on (80 columns when not a terminal).
      getOutHelpWidth: () => (deps.streams.stdout.isTTY ? ((deps.streams.stdout as { columns?: number }).columns ?? 80) : 80),
      getErrHelpWidth: () => (deps.streams.stderr.isTTY ? ((deps.streams.stderr as { columns?: number }).columns ?? 80) : 80),
      outputError: (text, write) =>
        write(`${brand.name}: ${text.replace(/^error: /, '').trimEnd()}\n  Run "${brand.name} --help" for usage.\n`),
    })
    .addHelpText(
      'after',
      `
Examples:
${examplesOf(brand)}

Environment variables: ${brand.name} help environment

Exit codes:
${EXIT_CODES.join('\n')}`,
    );

  const contextFor: ContextFor = (command) => new Context(brand, deps, command.optsWithGlobals<GlobalOptions>(), signal);

  registerLogin(program, contextFor, brand);
  registerLogout(program, contextFor, brand);
  registerStatus(program, contextFor, brand);
  registerDoctor(program, contextFor, brand);
  registerToken(program, contextFor, brand);
  registerExec(program, contextFor, brand);
  registerApi(program, contextFor, brand);
  registerSessions(program, contextFor, brand);
  registerSetup(program, contextFor, brand);
  registerGitCredential(program, contextFor, brand);
  registerProfile(program, contextFor, brand);
  registerCompletion(program, contextFor, brand);
  registerHelp(program, contextFor, brand);
  extraCommands?.(program, extraCommandContext(contextFor));
  // Commands the brand hides: out of help and completion, still there for whoever types them.
  for (const name of brand.hiddenCommands ?? []) {
    const command = program.commands.find((c) => c.name() === name);
    if (!command) continue;
    (program.commands as Command[]).splice(program.commands.indexOf(command), 1);
    program.addCommand(command, { hidden: true });
  }

  program.commands.forEach(function exitOverrideAll(command) {
    command.exitOverride();
    command.configureOutput(program.configureOutput());
    command.commands.forEach(exitOverrideAll);
  });
  program.exitOverride();
  return program;
}
