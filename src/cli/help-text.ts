import { readFileSync } from 'node:fs';
import { mayBeTerminal } from '../io/process-streams.js';

/**
 * `--help` as commander prints it when stdout is not a terminal (80 columns): written at build
 * time next to the bundle (scripts/bundle.mjs, dist/bin/help.txt; a test holds it to commander's
 * output). Undefined when stdout may be a terminal (whose width changes the text), for other
 * arguments, or when there is no such file (the library, the tests): commander answers then.
 */
export function prerenderedHelp(args: readonly string[]): string | undefined {
  if (args.length !== 1 || (args[0] !== '--help' && args[0] !== '-h')) return undefined;
  if (mayBeTerminal(1)) return undefined;
  try {
    return readFileSync(new URL('./help.txt', import.meta.url), 'utf8');
  } catch {
    return undefined;
  }
}
