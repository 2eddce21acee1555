import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

// latchkey-backend (packages/backend): the server half for backend teams, with jose as its one
// dependency, usable with import and with require; latchkey/backend stays in the CLI's package.
const ROOT = resolve(import.meta.dirname, '../..');
const PACKAGE = join(ROOT, 'packages/backend');

const node = (args: string[], cwd: string) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((done) =>
    execFile(process.execPath, args, { cwd, timeout: 20_000 }, (error, stdout, stderr) =>
      done({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    ),
  );

// What a backend does first with the package: a verifier and a handler, and a refusal of a bad config.
const PROBE = `
  const { createIdTokenVerifier, createCliAuthHandler } = lib;
  let refused = '';
  try { createIdTokenVerifier({ issuer: 'https://idp.example.com', allowedClientIds: [] }); } catch (error) { refused = error.constructor.name; }
  const handler = createCliAuthHandler({
    verifier: createIdTokenVerifier({ issuer: 'https://idp.example.com', allowedClientIds: ['cli'] }),
    findUser: () => ({}), mintSession: () => ({ token: 's' }),
  });
  handler.exchange('').then((answer) => console.log(JSON.stringify({ refused, status: answer.status })));
`;

describe('latchkey-backend, the package', () => {
  it('depends on jose only, and its bundle imports nothing else', () => {
    const manifest = JSON.parse(readFileSync(join(PACKAGE, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    expect(Object.keys(manifest.dependencies)).toEqual(['jose']);
    const imports = [...readFileSync(join(PACKAGE, 'dist/index.js'), 'utf8').matchAll(/^import .* from "([^"]+)";$/gm)].map((m) => m[1]);
    expect(new Set(imports)).toEqual(new Set(['jose']));
  });

  it('installed on its own next to jose, works with import and with require', async () => {
    const app = mkdtempSync(join(tmpdir(), 'backend-app-'));
    const installed = join(app, 'node_modules/latchkey-backend');
    mkdirSync(installed, { recursive: true });
    cpSync(join(PACKAGE, 'package.json'), join(installed, 'package.json'));
    cpSync(join(PACKAGE, 'dist'), join(installed, 'dist'), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules/jose'), join(app, 'node_modules/jose'));
    writeFileSync(join(app, 'esm.mjs'), `import * as lib from 'latchkey-backend';\n${PROBE}`);
    writeFileSync(join(app, 'cjs.cjs'), `const lib = require('latchkey-backend');\n${PROBE}`);
    for (const file of ['esm.mjs', 'cjs.cjs']) {
      const result = await node([file], app);
      expect(result.stderr, file).toBe('');
      expect(JSON.parse(result.stdout), file).toEqual({ refused: 'TypeError', status: 400 });
    }
  });

  it('latchkey and latchkey/backend work with require() too', async () => {
    const result = await node(
      [
        '-e',
        "const b = require('latchkey/backend'); const l = require('latchkey'); console.log(typeof b.createCliAuthHandler, typeof l.createCli)",
      ],
      ROOT,
    );
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe('function function');
  });
});
