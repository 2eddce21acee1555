import { existsSync, readFileSync } from 'node:fs';

/** Where the CLI runs, as far as opening a browser is concerned. */
export interface RunEnvironment {
  ssh: boolean;
  wsl: boolean;
  container: boolean;
  /** Linux (not WSL) with neither DISPLAY nor WAYLAND_DISPLAY. */
  noDisplay: boolean;
  /** BROWSER is set: the user said how to open URLs, whatever the rest says. */
  browserCommand: boolean;
  /** CI is set (GitHub Actions, GitLab, Jenkins… all set it): nobody is there to sign in. */
  ci: boolean;
}

function readSmall(path: string): string {
  try {
    return readFileSync(path, 'utf8').slice(0, 64 * 1024);
  } catch {
    return '';
  }
}

export function detectEnvironment(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): RunEnvironment {
  const linux = platform === 'linux';
  const wsl = linux && (Boolean(env.WSL_DISTRO_NAME || env.WSL_INTEROP) || /microsoft/i.test(readSmall('/proc/version')));
  return {
    ssh: Boolean(env.SSH_CONNECTION || env.SSH_CLIENT || env.SSH_TTY),
    wsl,
    container:
      linux &&
      (existsSync('/.dockerenv') ||
        existsSync('/run/.containerenv') ||
        Boolean(env.container) ||
        /docker|kubepods|containerd|lxc/.test(readSmall('/proc/1/cgroup'))),
    noDisplay: linux && !wsl && !env.DISPLAY && !env.WAYLAND_DISPLAY,
    browserCommand: Boolean(env.BROWSER?.trim()),
    ci: Boolean(env.CI) && !/^(false|0)$/i.test(env.CI ?? ''),
  };
}

/** True when no local browser can be opened (and the user has not said how with BROWSER). */
export function browserUnreachable(where: RunEnvironment): boolean {
  return !where.browserCommand && (where.ssh || where.noDisplay);
}
