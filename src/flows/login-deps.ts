import type { Clock } from '../io/clock.js';
import type { BrowserOpener } from '../io/browser.js';
import type { Output } from '../io/output.js';
import type { Http } from '../http.js';
import type { Profile } from '../model.js';
import type { Credentials } from '../store/credentials.js';

/** What every interactive login is told: which profile, and how the person is reached. */
export interface InteractiveLoginInput {
  profileName: string;
  profile: Profile;
  /** False with --no-browser: only print the URL (or the code). */
  openBrowser: boolean;
  /** The command's name, for hints (`latchkey`, or an embedding CLI's). */
  cliName: string;
  /** The client secret of a client that has one (Google's Desktop clients); kept with the credential. */
  clientSecret?: string;
}

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
  /** Where a remote login reads the pasted address (`login --remote`): a terminal or a pipe. */
  stdin?: NodeJS.ReadableStream;
}
