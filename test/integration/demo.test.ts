import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { expect, it } from 'vitest';

const DEMO = resolve(import.meta.dirname, '../../dist-dev/dev/demo.js');

it('DEMO_AUTO=1 npm run demo logs the demo profile in and exits 0', async () => {
  const { code, output: stderr } = await new Promise<{ code: number | null; output: string }>((done) => {
    const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', DEMO_AUTO: '1' };
    const child = spawn(process.execPath, [DEMO], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout.on('data', (d: Buffer) => (err += d.toString()));
    child.on('close', (c) => done({ code: c, output: err }));
  });
  expect(code, stderr).toBe(0);
  expect(stderr).toContain('Logged in to demo as ada@example.com');
  expect(stderr).toMatch(/demo \*\s+logged in\s+ada@example\.com/);
  expect(stderr).toContain('200 {"user":{"sub":"ada","email":"ada@example.com"}}');
  expect(stderr).toMatch(/Registered this CLI at http:\/\/127\.0\.0\.1:\d+ as the native public client/);
  expect(stderr).toMatch(/Kind\s+access_token/);
  expect(stderr).toMatch(/Audience\s+http:\/\/127\.0\.0\.1:\d+/);
  expect(stderr).toMatch(/Diagnostics\s+none/);
}, 60_000);
