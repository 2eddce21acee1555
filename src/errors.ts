import { safeText } from './io/text.js';

/**
 * Every error latchkey raises, its exit code and its hint, in one table.
 *
 * Code below the CLI throws these; only `src/cli/main.ts` turns them into an exit status.
 */

/** Exit codes: a written contract (README, "Exit codes"), shown in `latchkey --help`. */
export const ExitCode = {
  /** Success. */
  ok: 0,
  /** A failure not covered below. */
  failure: 1,
  /** Usage or configuration error. */
  usage: 2,
  /** Not logged in, or the credential expired and cannot be renewed. */
  notLoggedIn: 3,
  /** Rejected by the identity provider or the backend (bad credentials, access_denied). */
  rejected: 4,
  /** Network failure or timeout. */
  network: 5,
  /** The OS keychain is unavailable and no fallback is allowed. */
  keychainUnavailable: 6,
  /** Interrupted (Ctrl-C). */
  interrupted: 130,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** What each exit code means, as `--help` and the man page show it. */
export const EXIT_CODE_MEANINGS: ReadonlyArray<[ExitCodeValue, string]> = [
  [ExitCode.ok, 'ok'],
  [ExitCode.failure, 'failure not covered below'],
  [ExitCode.usage, 'usage or config error'],
  [ExitCode.notLoggedIn, 'not logged in / credential expired and not renewable'],
  [ExitCode.rejected, 'rejected by the IdP or the backend'],
  [ExitCode.network, 'network error or timeout'],
  [ExitCode.keychainUnavailable, 'keychain unavailable and no fallback allowed'],
  [ExitCode.interrupted, 'interrupted'],
];

/**
 * The stable, machine-readable code of every error (`LatchkeyError.code`): what a script or an
 * embedding CLI switches on. The message is for people and may change; these do not.
 */
export type ErrorCode =
  | 'error'
  | 'usage'
  | 'config'
  | 'config_corrupt'
  | 'config_dir_unusable'
  | 'credential_corrupt'
  | 'lock_timeout'
  | 'not_logged_in'
  | 'refresh_refused'
  | 'token_expired'
  | 'not_a_jwt'
  | 'not_interactive'
  | 'port_in_use'
  | 'start_url_reused'
  | 'discovery_failed'
  | 'resource_metadata_missing'
  | 'resource_metadata_invalid'
  | 'resource_mismatch'
  | 'registration_unavailable'
  | 'registration_refused'
  | 'unsafe_endpoint'
  | 'credential_unusable'
  | 'idp_unavailable'
  | 'idp_rejected'
  | 'idp_response_invalid'
  | 'access_denied'
  | 'expired_token'
  | 'id_token_signature'
  | 'id_token_iat'
  | 'rejected'
  | 'backend_rejected'
  | 'exchange_not_found'
  | 'exchange_failed'
  | 'backend_cannot_verify'
  | 'exchange_bad_response'
  | 'exchange_no_credential'
  | 'workload_refused'
  | 'workload_no_identity'
  | 'workload_token_endpoint'
  | 'workload_bad_token'
  | 'session_ended'
  | 'backend_unavailable'
  | 'sessions_unsupported'
  | 'session_not_found'
  | 'response_too_large'
  | 'token_problems'
  | 'doctor_failed'
  | 'network'
  | 'timeout'
  | 'keychain_unavailable'
  | 'interrupted';

export interface ErrorOptions {
  /** What the user can do next, one sentence. */
  hint?: string;
  /** Extra lines printed under the message (a diagnosis); never secrets. */
  details?: string[];
  /** A stable machine-readable code, e.g. `backend_rejected`. */
  code?: ErrorCode;
  cause?: unknown;
}

/** Base class: a message that says what failed and why, plus an exit code and a hint. */
export class LatchkeyError extends Error {
  readonly exitCode: ExitCodeValue;
  readonly hint: string | undefined;
  readonly details: readonly string[];
  readonly code: ErrorCode;

  constructor(message: string, exitCode: ExitCodeValue, options: ErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.exitCode = exitCode;
    this.hint = options.hint;
    this.details = options.details ?? [];
    this.code = options.code ?? 'error';
  }
}

/** Exit 1: a failure with no more specific class. */
export class FailureError extends LatchkeyError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, ExitCode.failure, options);
  }
}

/** Exit 2: bad flags or arguments. */
export class UsageError extends LatchkeyError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, ExitCode.usage, { code: 'usage', ...options });
  }
}

/** Exit 2: the configuration file or a profile is missing, invalid or unreadable. */
export class ConfigError extends LatchkeyError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, ExitCode.usage, { code: 'config', ...options });
  }
}

/** Exit 3: no credential, or one that expired and cannot be renewed. */
export class NotLoggedInError extends LatchkeyError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, ExitCode.notLoggedIn, { code: 'not_logged_in', ...options });
  }
}

/** Exit 4: the identity provider or the backend said no. */
export class RejectedError extends LatchkeyError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, ExitCode.rejected, { code: 'rejected', ...options });
  }
}

/** Exit 5: the network failed or a wait ran out. */
export class NetworkError extends LatchkeyError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, ExitCode.network, { code: 'network', ...options });
  }
}

/**
 * Exit 3: the backend ended this machine's session (a logout at the IdP, a revocation from
 * another machine); renewing it is refused too, so only a new login helps. One sentence for the
 * exchange, `api` and the session commands alike.
 */
export function sessionEnded(input: { cliName: string; profileName: string }): NotLoggedInError {
  return new NotLoggedInError(
    `this session was ended (logged out at your IdP, or revoked from another machine) — run ${input.cliName} login`,
    { hint: `Run: ${input.cliName} login -p ${input.profileName}`, code: 'session_ended' },
  );
}

/** Exit 5: the backend cannot serve right now (its session store out of reach): not the credential's fault. */
export function backendUnavailable(where: string, what = 'nothing was stored'): NetworkError {
  return new NetworkError(`the backend is unavailable (${where} answered 503)${what ? `; ${what}` : ''}`, {
    hint: 'This is on the backend side (its session store cannot be reached), not your login: try again later, or tell the backend team.',
    code: 'backend_unavailable',
  });
}

/** Exit 5: a wait ran out (login timeout, HTTP timeouts). */
export class TimeoutError extends NetworkError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, { code: 'timeout', ...options });
  }
}

/** Exit 6: the OS keychain cannot be reached and the profile forbids the file fallback. */
export class KeychainUnavailableError extends LatchkeyError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, ExitCode.keychainUnavailable, { code: 'keychain_unavailable', ...options });
  }
}

/** Exit 130: the user pressed Ctrl-C. */
export class InterruptedError extends LatchkeyError {
  constructor(message = 'interrupted', options?: ErrorOptions) {
    super(message, ExitCode.interrupted, { code: 'interrupted', ...options });
  }
}

/**
 * The lines a failure prints on stderr: the message first (one line: what failed and why),
 * then the diagnosis, then what to do. A stack trace only when `debug` is set. Messages quote
 * outside text (an IdP's error, a claim, a host name): every line is escaped for the terminal.
 */
export function formatError(error: unknown, options: { name: string; debug: boolean }): string[] {
  // Message, details and hint are one line each: a line break from outside is escaped too.
  const lines: string[] = [];
  if (error instanceof ChildExit) return lines;
  if (error instanceof LatchkeyError) {
    lines.push(`${options.name}: ${safeText(error.message)}`);
    for (const detail of error.details) lines.push(`  ${safeText(detail)}`);
    if (error.hint) lines.push(`  ${safeText(error.hint)}`);
  } else {
    const message = error instanceof Error ? error.message : String(error);
    lines.push(`${options.name}: unexpected error: ${safeText(message)}`);
    if (!options.debug) lines.push(`  Run again with --debug for details, and report it if it persists.`);
  }
  if (options.debug && error instanceof Error && error.stack) {
    const trace = [error.stack];
    for (let cause = error.cause; cause instanceof Error; cause = cause.cause) trace.push(`caused by: ${cause.stack ?? cause.message}`);
    lines.push(...trace.flatMap((text) => text.split('\n')).map(safeText));
  }
  return lines;
}

/** The first latchkey error in `error`'s cause chain (libraries wrap ours, e.g. a network error in fetch). */
export function latchkeyErrorIn(error: unknown): LatchkeyError | undefined {
  for (let e: unknown = error; e instanceof Error; e = e.cause) if (e instanceof LatchkeyError) return e;
  return undefined;
}

/** The exit code for any thrown value. */
export function exitCodeOf(error: unknown): number {
  if (error instanceof ChildExit) return error.status;
  return error instanceof LatchkeyError ? error.exitCode : ExitCode.failure;
}

/**
 * The command `exec` ran has ended: its exit status is latchkey's (passed through, whatever it
 * is), and there is nothing to print.
 */
export class ChildExit extends Error {
  constructor(readonly status: number) {
    super(`the command exited with ${status}`);
  }
}
