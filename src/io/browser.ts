import { requireWebUrl } from './urls.js';

/** Open `url` in the user's browser; rejects when no browser could be started. */
export type BrowserOpener = (url: string) => Promise<void>;

/** Split a `BROWSER` value into words, honouring single and double quotes. */
export function splitCommand(command: string): string[] {
  const words: string[] = [];
  const re = /"([^"]*)"|'([^']*)'|(\S+)/g;
  for (let m = re.exec(command); m; m = re.exec(command)) words.push(m[1] ?? m[2] ?? m[3]!);
  return words;
}

/**
 * `BROWSER` (a command; the URL is its last argument) when set, else the `open` package.
 *
 * The URL is checked first (`requireWebUrl`: absolute, https or http on loopback) and passed in
 * its serialized form, which starts with the scheme: an IdP that answers
 * `--renderer-cmd-prefix=…` as a verification URI cannot smuggle an option into the browser's
 * argv. (`--` is not added: xdg-open, wslview and many `BROWSER` commands would open "--".)
 * Only start URLs without secrets are passed (the login's local start URL, a device
 * verification URI): another user can read argv in /proc. The browser command runs with `env`,
 * the environment the command was given.
 */
export function createBrowserOpener(env: NodeJS.ProcessEnv): BrowserOpener {
  return async (given) => {
    const url = requireWebUrl(given).href;
    const { spawn } = await import('node:child_process');
    const browser = env.BROWSER?.trim();
    if (browser) {
      const [command, ...args] = splitCommand(browser);
      if (!command) throw new Error('BROWSER is empty');
      await new Promise<void>((resolve, reject) => {
        const child = spawn(command, [...args, url], { env, stdio: 'ignore', detached: process.platform !== 'win32' });
        child.once('error', reject);
        child.once('spawn', () => {
          child.unref();
          resolve();
        });
      });
      return;
    }
    // WSL: the Windows browser, through wslview (wslu), when it is there.
    if (process.platform === 'linux' && (env.WSL_DISTRO_NAME || env.WSL_INTEROP)) {
      const opened = await new Promise<boolean>((resolve) => {
        const child = spawn('wslview', [url], { env, stdio: 'ignore', detached: true });
        child.once('error', () => resolve(false));
        child.once('spawn', () => {
          child.unref();
          resolve(true);
        });
      });
      if (opened) return;
    }
    const { default: open } = await import('open');
    const child = await open(url, { wait: false });
    await new Promise<void>((resolve, reject) => {
      child.once('error', reject);
      child.once('spawn', resolve);
      if (child.pid !== undefined) resolve();
    });
    child.unref();
  };
}
