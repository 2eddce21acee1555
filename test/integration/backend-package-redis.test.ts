import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect, it } from 'vitest';

// latchkey-backend installed with jose alone (no redis): sessions in memory work, nothing loads
// redis, and the Redis store says what to install when it is used.
const ROOT = resolve(import.meta.dirname, '../..');

it('a jose-only install keeps sessions in memory, and createRedisSessionStore says to install redis when used', async () => {
  const app = mkdtempSync(join(tmpdir(), 'backend-noredis-'));
  const installed = join(app, 'node_modules/latchkey-backend');
  mkdirSync(installed, { recursive: true });
  cpSync(join(ROOT, 'packages/backend/package.json'), join(installed, 'package.json'));
  cpSync(join(ROOT, 'packages/backend/dist'), join(installed, 'dist'), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules/jose'), join(app, 'node_modules/jose'));
  writeFileSync(
    join(app, 'probe.mjs'),
    `import { createSessions, createRedisSessionStore } from 'latchkey-backend';
     import { createRequire } from 'node:module';
     const sessions = createSessions();
     const record = await sessions.record({ token: 't', subject: { kind: 'user', sub: 'ada', scopes: [], claims: {} }, claims: { iss: 'https://idp', sub: 'ada', sid: 's' } });
     const checked = await sessions.check('t');
     const loaded = Object.keys(createRequire(import.meta.url).cache ?? {}).some((p) => p.includes('redis'));
     let redis = '';
     await createRedisSessionStore({ url: 'redis://127.0.0.1:1' }).get('x').catch((error) => (redis = error.message));
     console.log(JSON.stringify({ ok: checked.ok, id: record.id.length, loaded, redis }));`,
  );
  const result = await new Promise<{ stdout: string; stderr: string }>((done) =>
    execFile(process.execPath, ['probe.mjs'], { cwd: app, timeout: 20_000 }, (_error, stdout, stderr) => done({ stdout, stderr })),
  );
  expect(result.stderr).toBe('');
  expect(JSON.parse(result.stdout)).toEqual({
    ok: true,
    id: 24,
    loaded: false,
    redis: expect.stringContaining('createRedisSessionStore needs the redis package (node-redis): npm install redis'),
  });
});
