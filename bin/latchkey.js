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
  require('./code-cache.js').load(bundle).main();
}
