// Bundles the CLI (src/cli/main.ts) into dist/bin/ with esbuild: one file for the start-up path,
// split chunks for what commands import lazily. The protocol stack, the keychain binding, conf
// and open stay external (real node_modules), loaded only by the commands that use them.
// The library (dist/index.js, dist/backend) is tsc's output, unbundled.
import { rmSync } from 'node:fs';
import { build } from 'esbuild';

rmSync('dist/bin', { recursive: true, force: true });

await build({
  entryPoints: { main: 'src/cli/main.ts' },
  outdir: 'dist/bin',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20.19',
  external: ['@napi-rs/keyring', 'undici', 'openid-client', 'jose', 'conf', 'open'],
  // commander is CommonJS: give the ESM bundle a `require` for its Node built-ins.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  logLevel: 'warning',
  legalComments: 'none',
});
