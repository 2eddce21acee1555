import { describe, expect, it } from 'vitest';
import { runCli, tempConfigDir } from '../../helpers/cli.js';
import { runInProcess } from '../../helpers/root.js';

// `exec`: the credential in the environment of a command, never on its command line; the
// command's exit status and the signals latchkey gets pass through.
async function loggedIn(token = 'exec-secret-token') {
  const configDir = tempConfigDir();
  const env = { LATCHKEY_STORAGE: 'file' };
  expect(
    (await runInProcess(['profile', 'add', 'p', '--issuer', 'https://idp.example.com', '--client-id', 'cli'], { configDir })).code,
  ).toBe(0);
  expect((await runInProcess(['login', '--with-token'], { configDir, env, input: token })).code).toBe(0);
  return { configDir, env };
}

const SHOW =
  'console.log(JSON.stringify({ env: process.env.LATCHKEY_TOKEN ?? null, api: process.env.API_TOKEN ?? null, argv: process.argv }))';

describe('latchkey exec', () => {
  it('runs the command with the credential in LATCHKEY_TOKEN (or --env NAME), not in any argv', async () => {
    const { configDir, env } = await loggedIn();
    const plain = await runCli(['exec', '--', process.execPath, '-e', SHOW], { configDir, env });
    expect(plain.code, plain.stderr).toBe(0);
    const seen = JSON.parse(plain.stdout) as { env: string; argv: string[] };
    expect(seen.env).toBe('exec-secret-token');
    expect(seen.argv.join(' ')).not.toContain('exec-secret-token');
    const named = JSON.parse((await runCli(['exec', '--env', 'API_TOKEN', '--', process.execPath, '-e', SHOW], { configDir, env })).stdout);
    expect(named).toMatchObject({ api: 'exec-secret-token' });
  });

  it("passes the command's exit status through, and says nothing of its own", async () => {
    const { configDir, env } = await loggedIn();
    const result = await runCli(['exec', '--', process.execPath, '-e', 'process.exit(7)'], { configDir, env });
    expect(result.code).toBe(7);
    expect(result.stderr).toBe('');
  });

  it('not logged in: exit 3 with the way in, and the command never runs', async () => {
    const configDir = tempConfigDir();
    expect(
      (await runInProcess(['profile', 'add', 'p', '--issuer', 'https://idp.example.com', '--client-id', 'cli'], { configDir })).code,
    ).toBe(0);
    const result = await runCli(['exec', '--', process.execPath, '-e', 'console.log("ran")'], { configDir });
    expect(result.code).toBe(3);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('Run: latchkey login -p p');
  });

  it("a SIGTERM sent to latchkey reaches the command, whose status is then latchkey's", async () => {
    const { configDir, env } = await loggedIn();
    const waiter =
      "process.on('SIGTERM', () => { console.log('got SIGTERM'); process.exit(3); }); console.log('ready'); setInterval(() => {}, 1000);";
    let child: import('node:child_process').ChildProcess | undefined;
    const running = runCli(['exec', '--', process.execPath, '-e', waiter], {
      configDir,
      env,
      timeoutMs: 15_000,
      onSpawn: (c) => (child = c),
    });
    await new Promise<void>((resolve) => {
      const check = (d: Buffer) => d.toString().includes('ready') && resolve();
      child!.stdout!.on('data', check);
    });
    child!.kill('SIGTERM');
    const result = await running;
    expect(result.stdout).toContain('got SIGTERM');
    expect(result.code).toBe(3);
  });
});
