// Bundles the CLI into CommonJS files under dist/bin/ with esbuild:
// - latchkey.cjs: the process entry (src/cli/entry.ts) and the hot commands (src/cli/hot.ts:
//   `token`, `status`, `token inspect`), without commander or the command tree;
// - cli.cjs: the full CLI (src/cli/main.ts), loaded by the entry for everything else.
// CommonJS because Node starts a CommonJS graph faster than an ES module one (the ESM loader alone
// costs ~9 ms on Node 20); few files because each costs its own resolve and read, and two because
// V8 compiles every byte of the file it loads (the full CLI is ~370 kB, the hot path ~140 kB).
// Modules imported lazily stay lazy inside a bundle (esbuild keeps their code behind an init
// function). The two bundles share no state: the entry hands the process to cli.cjs whole.
// The protocol stack, the keychain binding, conf and open stay external (real node_modules),
// loaded only by the commands that use them; the ES-only ones load through require(esm)
// (Node >= 20.19). The library (dist/index.js, dist/backend) is tsc's output, unbundled.
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { build } from 'esbuild';

rmSync('dist/bin', { recursive: true, force: true });

/**
 * The ES-only packages that bundled code also imports statically load through require() only,
 * never import(): an import() of jose still in flight when a bundled module's require('jose')
 * ran ("Cannot require() ES Module … not yet fully loaded") made the installed CLI's
 * `token inspect --verify` fail. Their dynamic imports go through a module of one line that
 * re-exports them, which esbuild keeps lazy: the require() runs where the import() was.
 * (Named exports only: a default export would come back as the whole namespace this way, which
 * is why conf and open keep their import().)
 */
function throughRequire(names) {
  const filter = new RegExp(`^(${names.join('|')})$`);
  return {
    name: 'through-require',
    setup(build) {
      build.onResolve({ filter }, (args) =>
        args.kind === 'dynamic-import' ? { path: args.path, namespace: 'through-require' } : undefined,
      );
      build.onLoad({ filter: /.*/, namespace: 'through-require' }, (args) => ({
        contents: `export * from ${JSON.stringify(args.path)};`,
        loader: 'js',
        resolveDir: process.cwd(),
      }));
    },
  };
}

const common = {
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20.19',
  external: ['@napi-rs/keyring', 'undici', 'openid-client', 'jose', 'conf', 'open'],
  plugins: [throughRequire(['jose', 'openid-client'])],
  // The keychain helper finds the binding relative to the bundle.
  define: { 'import.meta.url': '__latchkey_bundle_url' },
  banner: { js: "const __latchkey_bundle_url = require('node:url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
  legalComments: 'none',
};

await Promise.all([
  build({ ...common, entryPoints: ['src/cli/entry.ts'], outfile: 'dist/bin/latchkey.cjs' }),
  build({ ...common, entryPoints: ['src/cli/main.ts'], outfile: 'dist/bin/cli.cjs' }),
  // latchkey-backend (packages/backend): the server half as one ES module, with jose its only
  // dependency (its types: tsconfig.backend.json).
  build({
    entryPoints: ['src/backend/index.ts'],
    outfile: 'packages/backend/dist/index.js',
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20.19',
    external: ['jose', 'redis'],
    logLevel: 'warning',
    legalComments: 'none',
  }),
]);

// `latchkey --help` as commander prints it off a terminal (80 columns), for the entry to print
// without loading commander (src/cli/hot.ts prerenderedHelp; a test compares the two).
const help = execFileSync(process.execPath, ['-e', "require('./dist/bin/cli.cjs').runCli(['--help'])"], {
  encoding: 'utf8',
  env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' },
});
writeFileSync('dist/bin/help.txt', help);
