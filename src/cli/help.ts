import { Command } from 'commander';
import { UsageError } from '../errors.js';
import type { Brand } from './brand.js';
import type { ContextFor } from './program.js';

/** Every environment variable the CLI reads, for `help environment` and the man page. */
export function environmentTopic(brand: Brand): Array<[string, string]> {
  const p = brand.envPrefix;
  return [
    [`${p}_PROFILE`, 'the profile to use when -p is not given'],
    [`${p}_CONFIG_DIR`, 'the configuration directory (as --config-dir)'],
    [`${p}_TOKEN`, 'a credential that overrides every stored one; works with no profile at all (CI)'],
    [`${p}_STORAGE`, 'auto, keychain or file: where credentials go, for this run (overrides the profile)'],
    [`${p}_CLIENT_SECRET`, 'the client secret for login --client-credentials, and for clients that have one (Google)'],
    [`${p}_HTTP_TIMEOUT`, 'seconds an IdP or backend may take to answer (default 30)'],
    [`${p}_KEYCHAIN_TIMEOUT`, 'seconds a keychain call may take before it counts as unavailable (default 5)'],
    ['BROWSER', 'a command that opens URLs (the URL is its last argument), instead of the system browser'],
    ['HTTPS_PROXY, HTTP_PROXY, NO_PROXY', 'proxies for the IdP and the backend (loopback hosts are never proxied)'],
    ['NODE_EXTRA_CA_CERTS', 'extra CA certificates (PEM) to trust: a private IdP, a TLS-inspecting proxy'],
    ['NODE_TLS_REJECT_UNAUTHORIZED', 'never set it to 0: certificates would not be checked (each networked command warns)'],
    ['NO_COLOR', 'no colours (as --no-color)'],
    ['CI', 'set by CI systems: a login that would need a person fails at once instead of waiting'],
    ['SSH_CONNECTION, DISPLAY, WAYLAND_DISPLAY', 'where a browser can open: over SSH or without a display, login uses the device flow'],
  ];
}

function topicText(rows: Array<[string, string]>): string {
  const width = Math.max(...rows.map(([name]) => name.length));
  return rows.map(([name, text]) => `  ${name.padEnd(width)}  ${text}`).join('\n');
}

/**
 * `help [command|topic]`: a command's help, or a topic (`environment`), as gh has them; and
 * `version`. Commander's own help command is replaced so topics fit beside commands.
 */
export function registerHelp(program: Command, contextFor: ContextFor, brand: Brand): void {
  program.helpCommand(false);
  program
    .command('help')
    .description('help on a command, or on a topic: environment')
    .argument('[command...]', 'a command (e.g. profile add), or "environment"')
    .addHelpText('after', `\nExamples:\n  $ ${brand.name} help login\n  $ ${brand.name} help environment`)
    .action((words: string[], _options, command: Command) => {
      const ctx = contextFor(command);
      if (words.length === 1 && words[0] === 'environment') {
        ctx.out.data(`Environment variables ${brand.name} reads:\n\n${topicText(environmentTopic(brand))}`);
        return;
      }
      let target: Command = program;
      for (const word of words) {
        const next = target.commands.find((c) => c.name() === word || c.aliases().includes(word));
        if (!next)
          throw new UsageError(`no help on "${words.join(' ')}": not a command or topic`, {
            hint: `Topics: environment. Commands: ${program.commands.map((c) => c.name()).join(', ')}.`,
          });
        target = next;
      }
      ctx.out.data(target.helpInformation().trimEnd());
    });

  // `npm run man` writes the man pages from the command tree (man/, installed by npm).
  program
    .command('__man', { hidden: true })
    .argument('<dir>', 'where to write the pages')
    .action(async (dir: string, _options, command: Command) => {
      const ctx = contextFor(command);
      const { manPages } = await import('./man.js');
      const [fs, path] = await Promise.all([import('node:fs/promises'), import('node:path')]);
      await fs.mkdir(dir, { recursive: true });
      const pages = manPages(program, brand);
      for (const [file, text] of Object.entries(pages)) await fs.writeFile(path.join(dir, file), text);
      ctx.out.info(`Wrote ${Object.keys(pages).length} man pages to ${dir}.`);
    });

  program
    .command('version')
    .description(`print ${brand.name}'s version (--json: with Node.js and the platform)`)
    .action((_options, command: Command) => {
      const ctx = contextFor(command);
      if (ctx.json({ name: brand.name, version: brand.version, node: process.version, platform: `${process.platform}-${process.arch}` }))
        return;
      ctx.out.data(`${brand.name} ${brand.version}`);
    });
}
