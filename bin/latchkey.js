#!/usr/bin/env node
// Shim: the CLI is bundled into dist/bin/ (by `npm run build`, which `npm ci` runs through `prepare`).
import module from 'node:module';

// Node >= 22.1 can cache compiled code between runs; Node 20 has no such API and skips this.
module.enableCompileCache?.();
import('../dist/bin/main.js').then((m) => m.main());
