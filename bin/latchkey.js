#!/usr/bin/env node
// Shim: the CLI lives in dist/ (built by `npm run build`, which `npm ci` runs through `prepare`).
import('../dist/cli/main.js').then((m) => m.main());
