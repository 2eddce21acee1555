import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { freePort } from './idp-browser.js';

/**
 * A real redis-server (Debian's, installed by scripts/setup-e2e.sh) for the tests: its own
 * loopback port and temporary directory, no persistence, started asynchronously (the tests'
 * process hosts the IdP and the backends, which must keep serving meanwhile). Missing, the
 * Redis tests skip, saying why; in CI (CI set) they fail instead.
 */
export function redisServerPath(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter).concat(['/usr/bin', '/usr/sbin'])) {
    const candidate = join(dir, 'redis-server');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Whether the Redis tests run here; in CI a missing redis-server is an error, not a skip. */
export function redisAvailable(): boolean {
  const found = redisServerPath() !== undefined;
  if (!found && process.env.CI) throw new Error('redis-server is not installed: run scripts/setup-e2e.sh (CI needs the Redis tests)');
  if (!found) console.warn('skipping the Redis tests: redis-server is not installed (scripts/setup-e2e.sh installs it)');
  return found;
}

export interface RedisServer {
  url: string;
  port: number;
  /** Its working directory (removed by removeRedis). */
  dir: string;
  /** Stop it (SIGTERM), waiting for it to exit. */
  stop(): Promise<void>;
  /** Start it again on the same port (its data is gone: there is no persistence). */
  start(): Promise<void>;
}

export async function startRedis(): Promise<RedisServer> {
  const binary = redisServerPath();
  if (!binary) throw new Error('redis-server is not installed');
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-redis-'));
  let child: ChildProcess | undefined;

  const start = () =>
    new Promise<void>((resolve, reject) => {
      const started = spawn(
        binary,
        [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--dir',
          dir,
          '--save',
          '',
          '--appendonly',
          'no',
          '--daemonize',
          'no',
          '--protected-mode',
          'yes',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      child = started;
      let output = '';
      const timer = setTimeout(() => reject(new Error(`redis-server did not start on ${port}: ${output}`)), 10_000);
      started.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (/Ready to accept connections/.test(output)) {
          clearTimeout(timer);
          resolve();
        }
      });
      started.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      started.on('exit', (code) => {
        clearTimeout(timer);
        if (!/Ready to accept connections/.test(output)) reject(new Error(`redis-server exited (${code}): ${output}`));
      });
    });
  const stop = () =>
    new Promise<void>((resolve) => {
      const running = child;
      child = undefined;
      if (!running || running.exitCode !== null) return resolve();
      running.once('exit', () => resolve());
      running.kill('SIGTERM');
    });
  await start();
  process.once('exit', () => child?.kill('SIGKILL'));
  return { url: `redis://127.0.0.1:${port}`, port, dir, start, stop };
}

/** Stop a server and remove its directory. */
export async function removeRedis(server: RedisServer): Promise<void> {
  await server.stop();
  rmSync(server.dir, { recursive: true, force: true });
}
