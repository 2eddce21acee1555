import { execFile } from 'node:child_process';

/**
 * Whether a real Secret Service is reachable, and the `secret-tool` to read it back with.
 * `scripts/with-secret-service.sh` starts one (gnome-keyring on a private D-Bus session bus).
 */
export async function secretServiceReachable(): Promise<boolean> {
  if (!process.env.DBUS_SESSION_BUS_ADDRESS) return false;
  const probe = await secretTool(['search', 'service', 'latchkey-probe-none']).catch(() => undefined);
  // secret-tool exits 1 for "nothing found" and prints D-Bus errors on stderr when no service answers.
  return probe !== undefined && probe.stderr === '';
}

export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run secret-tool asynchronously (never block the event loop of a process hosting servers). */
export function secretTool(args: string[]): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    execFile('secret-tool', args, { timeout: 10_000 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') return reject(new Error(error.message, { cause: error }));
      resolve({ code: typeof error?.code === 'number' ? error.code : 0, stdout, stderr });
    });
  });
}

/** The entries of one keychain service, as `secret-tool search --all` lists them. */
export async function entriesOf(service: string): Promise<string[]> {
  const { stdout, stderr } = await secretTool(['search', '--all', '--unlock', 'service', service]);
  return `${stdout}\n${stderr}`
    .split('\n')
    .filter((line) => line.startsWith('attribute.username = '))
    .map((line) => line.slice('attribute.username = '.length))
    .sort();
}
