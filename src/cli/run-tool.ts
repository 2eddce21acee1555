import { UsageError } from '../errors.js';

/** Run a tool `setup` configures (kubectl, git) to completion; its failure is ours, with what it said. */
export async function runTool(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const { execFile } = await import('node:child_process');
  await new Promise<void>((resolve, reject) =>
    execFile(file, args, { env, timeout: 30_000 }, (error, _stdout, stderr) => {
      if (!error) return resolve();
      const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
      reject(
        new UsageError(
          missing ? `${file} is not installed (or not on PATH)` : `${file} ${args.slice(0, 2).join(' ')} failed: ${stderr.trim()}`,
        ),
      );
    }),
  );
}
