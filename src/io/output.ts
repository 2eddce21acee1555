import type { Readable } from 'node:stream';
import { safeLines } from './text.js';

/** The three standard streams and what they are connected to. */
export interface Streams {
  stdin: Readable & { isTTY?: boolean };
  stdout: TextSink;
  stderr: TextSink;
}

/** Where text is written: a stream, or the process's descriptors (io/process-streams.ts). */
export interface TextSink {
  write(text: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

/** A wait the user can see: a spinner on a terminal, one plain line elsewhere. */
export interface Progress {
  /** Stop the spinner and erase its line. */
  stop(): void;
}

/**
 * Everything a command says. Data for scripts goes to stdout; every message goes to stderr,
 * so `$(latchkey token)` and `--json` stay clean. Messages often carry text from outside (an
 * IdP's error, a claim, a URL, a response header): `info`, `warn` and `debug` pass every line
 * through `safeText`, so none of it can drive the terminal.
 */
export interface Output {
  readonly streams: Streams;
  /** True when stderr is a terminal and colour is allowed. */
  readonly color: boolean;
  /** A line of data on stdout (what a script captures). */
  data(text: string): void;
  /** A message on stderr. */
  info(text: string): void;
  /** A warning on stderr. */
  warn(text: string): void;
  /** A debug line on stderr, only with `--debug`. Callers redact secrets first. */
  debug(text: string): void;
  /** Start a spinner (TTY) or print one line (not a TTY). */
  progress(text: string): Progress;
}

export interface OutputOptions {
  debug?: boolean;
  /** Whether to paint; a function is asked on first use (whether stderr is a terminal costs a stream). */
  color?: boolean | (() => boolean);
  /** Program name used as the warning prefix. */
  name?: string;
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export function createOutput(streams: Streams, options: OutputOptions = {}): Output {
  let color: boolean | undefined;
  const useColor = () => (color ??= typeof options.color === 'function' ? options.color() : (options.color ?? false));
  const name = options.name ?? 'latchkey';
  let activeSpinner: { clear(): void; redraw(): void } | undefined;

  const writeErr = (text: string) => {
    activeSpinner?.clear();
    streams.stderr.write(`${text}\n`);
    activeSpinner?.redraw();
  };
  const paint = (code: number, text: string) => (useColor() ? `\u001b[${code}m${text}\u001b[39m` : text);

  return {
    streams,
    get color() {
      return useColor();
    },
    data(text) {
      streams.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
    },
    info(text) {
      writeErr(safeLines(text));
    },
    warn(text) {
      writeErr(`${paint(33, `${name}: warning:`)} ${safeLines(text)}`);
    },
    debug(text) {
      if (options.debug) writeErr(paint(90, `[debug] ${safeLines(text)}`));
    },
    progress(initial) {
      const text = safeLines(initial);
      if (streams.stderr.isTTY !== true) {
        streams.stderr.write(`${text}\n`);
        return { stop: () => undefined };
      }
      let frame = 0;
      const draw = () => streams.stderr.write(`\r\u001b[2K${paint(36, FRAMES[frame % FRAMES.length]!)} ${text}`);
      const clear = () => streams.stderr.write('\r\u001b[2K');
      const timer = setInterval(() => {
        frame += 1;
        draw();
      }, 80);
      timer.unref();
      activeSpinner = { clear, redraw: draw };
      draw();
      return {
        stop() {
          clearInterval(timer);
          clear();
          activeSpinner = undefined;
        },
      };
    },
  };
}

/** Read all of stdin as text (for `--with-token`, `token inspect -`), bounded in size. */
export async function readAll(stream: Readable, limitBytes: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += buf.length;
    if (size > limitBytes) {
      stream.destroy();
      throw new RangeError(`input is larger than ${limitBytes} bytes`);
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString('utf8');
}
