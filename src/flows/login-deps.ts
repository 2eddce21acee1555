import type { Clock } from '../io/clock.js';
import type { BrowserOpener } from '../io/browser.js';
import type { Output } from '../io/output.js';
import type { Http } from '../http.js';
import type { Credentials } from '../store/credentials.js';

/**
 * The side effects of an interactive login (browser or device flow): one shape, handed in by the
 * CLI, the library or a test.
 */
export interface LoginDeps {
  http: Http;
  credentials: Credentials;
  clock: Clock;
  out: Output;
  openBrowser: BrowserOpener;
  /** Aborted on Ctrl-C: the wait ends and nothing is stored. */
  signal: AbortSignal;
}
