import type { Clock } from './io/clock.js';
import { systemClock } from './io/clock.js';
import type { Streams } from './io/output.js';
import { createBrowserOpener, type BrowserOpener } from './io/browser.js';
import { processStreams } from './io/process-streams.js';
import type { KeychainBackend } from './store/keychain-helper.js';

/**
 * The side effects a command receives. `createDeps()` is the one composition root that builds
 * the real ones; tests build the same shape with buffers, a fixed clock and local servers.
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
