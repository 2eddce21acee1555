import { fstatSync, statSync, writeSync } from 'node:fs';
import type { Streams, TextSink } from './output.js';

/**
 * The process's standard streams, made on first use. Output goes straight to the file
 * descriptor with a synchronous write, as Node's own stdout does for files and (on Linux and
 * macOS) pipes, so a command that prints one line never builds `process.stdout` and the stream
 * machinery behind it (~3 ms of every start-up). A descriptor that is non-blocking and full
 * (EAGAIN) hands the rest to the real stream; a reader that went away (EPIPE) on stdout ends
 * the process quietly, as `latchkey token | head -c 10` should.
 */
export function processStreams(): Streams {
  let stdout: TextSink | undefined;
  let stderr: TextSink | undefined;
  return {
    get stdin() {
      return process.stdin;
    },
    get stdout() {
      return (stdout ??= fdSink(1, () => process.stdout));
    },
    get stderr() {
      return (stderr ??= fdSink(2, () => process.stderr));
    },
  };
}

/** Whether anything went through the real `process.stdout` (which then has to drain). */
let streamUsed = false;
export function processStdoutUsed(): boolean {
  return streamUsed;
}

function fdSink(fd: 1 | 2, stream: () => NodeJS.WriteStream): TextSink {
  let fallback: NodeJS.WriteStream | undefined;
  return {
    write(text: string): boolean {
      if (fallback) return fallback.write(text);
      const bytes = Buffer.from(text, 'utf8');
      let offset = 0;
      while (offset < bytes.length) {
        try {
          offset += writeSync(fd, bytes, offset);
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code;
          if (code === 'EPIPE' && fd === 1) process.exit(0);
          if (code !== 'EAGAIN') throw error;
          fallback = stream();
          if (fd === 1) {
            streamUsed = true;
            // `latchkey profile list | head -1`: a reader that goes away is not an error (as with gh, git).
            fallback.on('error', (streamError: NodeJS.ErrnoException) => {
              if (streamError.code === 'EPIPE') process.exit(0);
              throw streamError;
            });
          }
          return fallback.write(bytes.subarray(offset));
        }
      }
      return true;
    },
    get isTTY() {
      // A pipe, a file or /dev/null is not a terminal: known without building the stream.
      return mayBeTerminal(fd) && stream().isTTY === true;
    },
    get columns() {
      return stream().columns;
    },
  };
}

/** Whether `fd` is a character device other than /dev/null: only those can be terminals. */
export function mayBeTerminal(fd: number): boolean {
  try {
    const stat = fstatSync(fd);
    return stat.isCharacterDevice() && (process.platform === 'win32' || stat.rdev !== statSync('/dev/null').rdev);
  } catch {
    return true;
  }
}
