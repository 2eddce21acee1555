import type { Command } from 'commander';
import { createDeps, type Deps } from '../deps.js';
import type { Profile } from '../store/profile-keys.js';
import { LATCHKEY_BRAND, type Brand } from './brand.js';
import type { Context } from './context.js';
import { execute } from './main.js';
import { runMain } from './process.js';
import { createProgram } from './program.js';

/** How a product CLI brands and presets latchkey. Only `name` is required. */
export interface CliOptions {
  /** The command's name (`acmectl`): help, messages, completions. */
  name: string;
  /** Prefix of its environment variables; default: the name in capitals (`ACMECTL_TOKEN`, `ACMECTL_PROFILE`…). */
  envPrefix?: string;
  /** Its keychain service; default: the name. */
  keychainService?: string;
  /** Its directory under the platform config dir; default: the name. */
  configDirName?: string;
  version?: string;
  description?: string;
  /** Values every profile added with `profile add` starts from: issuer, clientId, backendUrl… */
  defaults?: Partial<Profile>;
  /** Profiles that exist without `profile add` (e.g. `prod` and `stage`). */
  profiles?: Record<string, Profile>;
  /** The example lines of `--help`, without "$ " (default: latchkey's, under this name). */
  examples?: string[];
  /** latchkey commands to leave out of help and completion (they still run), e.g. `['oauth']`. */
  hiddenCommands?: string[];
  /**
   * The way out when the backend refuses a login, in the product's words, e.g. "Create an API key
   * at https://acme.example/settings/keys, then: acmectl login --with-token -p <profile>".
   */
  refusalHint?: string;
  /**
   * Add the product's own commands. `context(command)` gives, in an action, what latchkey's own
   * commands use: the profile (`requireProfile()`), its credential (`token()`, renewed when
   * needed), an HTTP client (`http()`), output (`out`, `json()`).
   */
  extraCommands?: (program: Command, context: ExtraCommandContext) => void;
}

/**
 * How an extra command reaches its context: `context(command)` with the command commander passes
 * last, or, typed end to end, `context.action(async (ctx, options, ...args) => …)` as the action.
 */
export interface ExtraCommandContext {
  (command: Command): CommandContext;
  action<Options = Record<string, unknown>>(
    handler: (ctx: CommandContext, options: Options, ...args: string[]) => Promise<void> | void,
  ): (...commanderArgs: unknown[]) => Promise<void>;
}

/** What an extra command of an embedding CLI gets for its run (a narrow view of latchkey's own). */
export type CommandContext = Pick<Context, 'out' | 'json' | 'requireProfile' | 'token' | 'http' | 'services'>;

/** The commander program of a branded CLI, with the two ways to run it. */
export type LatchkeyCli = Command & {
  /** Run with these arguments and return the exit code (for tests and embedding). */
  run(args: string[]): Promise<number>;
  /** Run `process.argv` as the process entry point: handles Ctrl-C and exits with the code. */
  main(): Promise<void>;
};

/** The brand a CLI built from these options carries everywhere. */
export function brandOf(options: CliOptions): Brand {
  const brand: Brand = {
    name: options.name,
    envPrefix: options.envPrefix ?? options.name.toUpperCase().replace(/[^A-Z0-9]+/g, '_'),
    keychainService: options.keychainService ?? options.name,
    configDirName: options.configDirName ?? options.name,
    version: options.version ?? LATCHKEY_BRAND.version,
  };
  if (options.description) brand.description = options.description;
  if (options.defaults) brand.defaults = options.defaults;
  if (options.profiles) brand.builtinProfiles = options.profiles;
  if (options.examples) brand.examples = options.examples;
  if (options.hiddenCommands) brand.hiddenCommands = options.hiddenCommands;
  if (options.refusalHint) brand.refusalHint = options.refusalHint;
  return brand;
}

/**
 * latchkey's whole CLI (login, logout, status, token, profile, completion) under a product's
 * own name, env prefix, keychain service and config dir, with its presets and extra commands.
 *
 * ```ts
 * const cli = createCli({ name: 'acmectl', defaults: { issuer: 'https://login.acme.com/', clientId: 'acmectl' } });
 * await cli.main();
 * ```
 */
export function createCli(options: CliOptions, deps: Deps = createDeps()): LatchkeyCli {
  const brand = brandOf(options);
  const controller = new AbortController();
  const program = createProgram(brand, deps, controller.signal, options.extraCommands);
  return Object.assign(program, {
    run: (args: string[]) => execute(program, brand, deps, args),
    main: () => runMain(() => execute(program, brand, deps, process.argv.slice(2)), brand.name, controller),
  });
}
