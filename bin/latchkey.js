#!/usr/bin/env node
// Shim (CommonJS, as bin/package.json says): the CLI is bundled into dist/bin/latchkey.cjs by
// `npm run build` (scripts/bundle.mjs).
'use strict';
// Node >= 22.1 can cache compiled code between runs; Node 20 has no such API and skips this.
require('node:module').enableCompileCache?.();
require('../dist/bin/latchkey.cjs').main();
