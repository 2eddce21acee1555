import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * The platform's config directory for `name`: `$XDG_CONFIG_HOME/name` or `~/.config/name` on
 * Linux and other Unixes, `~/Library/Application Support/name` on macOS, `%APPDATA%\name` on
 * Windows.
 */
export function platformConfigDir(name: string, env: NodeJS.ProcessEnv = process.env, platform = process.platform): string {
  if (platform === 'win32') return join(env.APPDATA ?? join(homedir(), 'AppData', 'Roaming'), name);
  if (platform === 'darwin') return join(homedir(), 'Library', 'Application Support', name);
  return join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), name);
}
