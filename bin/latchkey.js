#!/usr/bin/env node
// Shim (CommonJS, as bin/package.json says): the CLI is bundled into dist/bin/latchkey.cjs by
// `npm run build` (scripts/bundle.mjs). Node >= 22.1 keeps the bundles' compiled code between
// runs, in a directory that is the user's alone (compile-cache.js); Node 20 compiles every run.
'use strict';
const cache = require('./compile-cache.js').enable();
if (process.argv.includes('--debug')) process.stderr.write(`[debug] compile cache: ${cache}\n`);
require(require('node:path').join(__dirname, '..', 'dist', 'bin', 'latchkey.cjs')).main();
