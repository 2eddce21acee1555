import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { LATCHKEY_BRAND } from '../../src/cli/brand.js';
import { hotCommand, runHot } from '../../src/cli/hot.js';
import { execute } from '../../src/cli/main.js';
import { createProgram } from '../../src/cli/program.js';
import type { Deps } from '../../src/deps.js';
import type { Clock } from '../../src/io/clock.js';
import { createBrowserOpener } from '../../src/io/browser.js';
import type { KeychainBackend, KeychainRequest } from '../../src/store/keychain-helper.js';
import type { RunOptions, RunResult } from './cli.js';

/** A keychain in memory: what the helper process would do with the OS keychain, for in-process runs. */
export class MemoryKeychain implements KeychainBackend {
  readonly entries = new Map<string, string>();
  call(request: KeychainRequest): Promise<unknown> {
    const key = `${request.service}\u0000${request.account ?? ''}`;
    switch (request.op) {
      case 'get':
        return Promise.resolve(this.entries.get(key) ?? null);
      case 'set':
        this.entries.set(key, request.secret ?? '');
        return Promise.resolve(undefined);
      case 'delete':
        return Promise.resolve(this.entries.delete(key));
      case 'list':
        return Promise.resolve(
          [...this.entries.keys()].filter((k) => k.startsWith(`${request.service}\u0000`)).map((k) => k.split('\u0000')[1]),
        );
    }
  }
}

/** A clock a test moves: "two hours later" without waiting two hours. */
export class TestClock {
  #at: number;
  constructor(at: Date = new Date()) {
    this.#at = at.getTime();
  }
  now(): Date {
    return new Date(this.#at);
  }
  advance(seconds: number): void {
    this.#at += seconds * 1000;
  }
}

export interface TestRoot<C extends Clock = TestClock> {
  clock: C;
  keychain: MemoryKeychain;
  /** The CLI run in this process (as kubelogin's NewCmdForHeadless): same arguments and result as runCli. */
  run: (args: string[], options?: RunOptions) => Promise<RunResult>;
  /** As the process entry runs it: a hot command without the command tree (cli/hot.ts), else the full CLI. */
  runEntry: (args: string[], options?: RunOptions) => Promise<RunResult>;
}

/**
 * The whole CLI in process, on the one composition root, with its side effects handed in: buffers
 * for the streams, a clock the test moves, an in-memory keychain, the environment given (nothing
 * inherited). The IdP and backend are the real in-process servers. No process is spawned (but the
 * browser the BROWSER variable names).
 */
export function createTestRoot<C extends Clock = TestClock>(
  defaults: {
    env?: Record<string, string | undefined>;
    clock?: C;
    osKeychain?: boolean;
    terminalColumns?: number;
    stderrIsTerminal?: boolean;
  } = {},
): TestRoot<C> {
  const clock = defaults.clock ?? (new TestClock() as unknown as C);
  const keychain = new MemoryKeychain();
  const runtimeDir = mkdtempSync(join(tmpdir(), 'latchkey-runtime-'));
  return {
    clock,
    keychain,
    run: (args, options = {}) => runIn(args, options, false),
    runEntry: (args, options = {}) => runIn(args, options, true),
  };

  async function runIn(args: string[], options: RunOptions, entry: boolean): Promise<RunResult> {
    // The keychain of an in-process run is this root's own (in memory): so is the per-user
    // runtime dir where interactive logins of a keychain credential take their lock.
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      NO_COLOR: '1',
      XDG_RUNTIME_DIR: runtimeDir,
    };
    if (process.env.DBUS_SESSION_BUS_ADDRESS) env.DBUS_SESSION_BUS_ADDRESS = process.env.DBUS_SESSION_BUS_ADDRESS;
    if (options.configDir) env.LATCHKEY_CONFIG_DIR = options.configDir;
    for (const [key, value] of Object.entries({ ...defaults.env, ...options.env })) {
      if (value === undefined) delete env[key];
      else env[key] = value;
    }
    // A terminal of that width on stdout, when asked for (help wraps to it).
    const stdout = Object.assign(new PassThrough(), defaults.terminalColumns ? { isTTY: true, columns: defaults.terminalColumns } : {});
    // A person at a terminal (stderr a TTY): someone is there to sign in.
    const stderr = Object.assign(new PassThrough(), defaults.stderrIsTerminal ? { isTTY: true } : {});
    let out = '';
    let err = '';
    stdout.on('data', (d: Buffer) => (out += d.toString()));
    stderr.on('data', (d: Buffer) => (err += d.toString()));
    const deps: Deps = {
      env,
      streams: { stdin: Readable.from(options.input === undefined ? [] : [options.input]), stdout, stderr },
      clock,
      openBrowser: createBrowserOpener(env),
      // The OS keychain (through its helper, on the bus the env names), or one in memory.
      ...(defaults.osKeychain ? {} : { keychain }),
    };
    const controller = new AbortController();
    const hot = entry ? hotCommand(args) : undefined;
    const code = hot
      ? await runHot(hot, LATCHKEY_BRAND, deps, controller.signal)
      : await execute(createProgram(LATCHKEY_BRAND, deps, controller.signal), LATCHKEY_BRAND, deps, args);
    return { code, signal: null, stdout: out, stderr: err };
  }
}

/**
 * One command in process, with runCli's arguments and result: for the steps a test needs done
 * (writing a profile) rather than the ones it is about. A process start costs more than the command.
 */
export function runInProcess(args: string[], options: RunOptions = {}): Promise<RunResult> {
  return createTestRoot().run(args, options);
}
