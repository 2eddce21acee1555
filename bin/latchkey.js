#!/usr/bin/env node
// Shim (CommonJS, as bin/package.json says): the CLI is bundled into dist/bin/latchkey.cjs by
// `npm run build` (scripts/bundle.mjs).
'use strict';
const { enableCompileCache } = require('node:module');
const bundle = require('node:path').join(__dirname, '..', 'dist', 'bin', 'latchkey.cjs');
if (enableCompileCache) {
  // Node >= 22.1 keeps compiled code between runs itself.
  enableCompileCache();
  require(bundle).main();
} else {
  // One cache per kind of command: V8 keeps the functions a run compiled, so a cache made by
  // `--help` would leave `token`'s path to be compiled on every later run.
  const args = process.argv.slice(2);
  const kind = args.includes('token') ? (args.includes('inspect') ? 'inspect' : 'token') : args.includes('status') ? 'status' : 'other';
  require('./code-cache.js').load(bundle, kind).main();
}
