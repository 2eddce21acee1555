import { createRequire } from 'node:module';
import { processStreams } from '../io/process-streams.js';
import { prerenderedHelp } from './help-text.js';

/**
 * latchkey's own process entry (bin/latchkey.js): `--help` off a terminal is the text written at
 * build time; the hot commands in their plainest forms run without loading the command tree
 * (cli/hot.ts); everything else loads the full CLI. Each loads only what it runs.
 */
export async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const help = prerenderedHelp(args);
  if (help !== undefined) {
    // Through the process streams: a reader that went away (| head -1) ends it quietly.
    processStreams().stdout.write(help);
    return;
  }
  const { hotCommand, runHot } = await import('./hot.js');
  const hot = hotCommand(args);
  if (!hot) {
    // The full CLI is the bundle next to this one (scripts/bundle.mjs; this module runs only
    // bundled), with its own process handling. require: no ES module loader on the way.
    const full = createRequire(import.meta.url)('./cli.cjs') as typeof import('./main.js');
    return full.main();
  }
  const [{ createDeps }, { LATCHKEY_BRAND }, { runMain }] = await Promise.all([
    import('../deps.js'),
    import('./brand.js'),
    import('./process.js'),
  ]);
  await runMain((signal) => runHot(hot, LATCHKEY_BRAND, createDeps(), signal), LATCHKEY_BRAND.name);
}
