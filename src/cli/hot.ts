import type { Deps } from '../deps.js';
import { ExitCode } from '../errors.js';
import type { Brand } from './brand.js';
import { Context, type GlobalOptions } from './context.js';
import { reportFailure } from './process.js';

/**
 * The hot commands without the command tree: `token`, `status` and `token inspect <jwt>` run in
 * every script, so their plainest forms are recognized here and run the same actions the
 * commander tree runs (cli/token.ts, cli/status.ts, cli/token-inspect.ts), through the same
 * Context. Anything else (another option, a repeated one, --help, --debug, a value that looks
 * like an option) is not recognized and goes to the full CLI, which parses it as commander does.
 */
export interface HotCommand {
  options: GlobalOptions;
  run(ctx: Context): Promise<void> | void;
}

/** The global options commander would read the same way (with a value: separate or `=`). */
const VALUED = new Map([
  ['-p', 'profile'],
  ['--profile', 'profile'],
  ['--config-dir', 'configDir'],
] as const);
const FLAGS = new Map([
  ['--json', 'json'],
  ['--no-color', 'color'],
] as const);

export function hotCommand(args: readonly string[]): HotCommand | undefined {
  const options: GlobalOptions = { color: true };
  const seen = new Set<string>();
  const words: string[] = [];
  for (let i = 0; i < args.length; i += 1) {
    const arg = args[i]!;
    const [flag, inline] =
      arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg];
    const valued = VALUED.get(flag as never);
    const boolean = FLAGS.get(flag as never);
    const key = valued ?? boolean;
    if (key) {
      if (seen.has(key)) return undefined;
      seen.add(key);
    }
    if (valued) {
      const value = inline ?? args[(i += 1)];
      if (value === undefined || value === '' || value.startsWith('-')) return undefined;
      options[valued] = value;
    } else if (boolean && inline === undefined) {
      options[boolean] = boolean === 'json';
    } else if (arg === '-' || !arg.startsWith('-')) {
      words.push(arg);
    } else {
      return undefined;
    }
  }
  const [first, second, third, ...rest] = words;
  if (rest.length > 0) return undefined;
  if (first === 'token' && second === undefined) {
    return { options, run: async (ctx) => (await import('./token-action.js')).printToken(ctx, {}) };
  }
  if (first === 'status' && second === undefined) {
    return { options, run: async (ctx) => (await import('./status.js')).showStatus(ctx) };
  }
  if (first === 'token' && second === 'inspect') {
    return { options, run: async (ctx) => (await import('./token-inspect.js')).inspectToken(ctx, third, {}) };
  }
  return undefined;
}

/** Run a recognized hot command; failures are reported as the full CLI reports them. */
export async function runHot(hot: HotCommand, brand: Brand, deps: Deps, signal: AbortSignal): Promise<number> {
  try {
    await hot.run(new Context(brand, deps, hot.options, signal));
    return ExitCode.ok;
  } catch (error) {
    return reportFailure(error, brand, deps, false);
  }
}
