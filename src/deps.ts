import type { Clock } from './io/clock.js';
import { systemClock } from './io/clock.js';
import type { Streams } from './io/output.js';
import { createBrowserOpener, type BrowserOpener } from './io/browser.js';
import { processStreams } from './io/process-streams.js';
import type { KeychainBackend } from './store/keychain-helper.js';

/**
 * The side effects a command receives: by default this process's environment, streams, clock and
 * browser (what `createCli` uses when given none); a test or an embedding program hands in its
 * own (buffers, a fixed clock, local servers).
 */
export interface Deps {
  env: NodeJS.ProcessEnv;
  streams: Streams;
  clock: Clock;
  openBrowser: BrowserOpener;
  /** What runs keychain calls; default: the helper process. Tests hand in an in-memory one. */
  keychain?: KeychainBackend;
}

export function createDeps(): Deps {
  return {
    env: process.env,
    streams: processStreams(),
    clock: systemClock,
    openBrowser: createBrowserOpener(process.env),
  };
}
