import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BIN, runCli, tempConfigDir } from '../../helpers/cli.js';
import { runInProcess } from '../../helpers/root.js';

const ROOT = resolve(import.meta.dirname, '../../..');
const FILES = { bash: 'completions/latchkey.bash', zsh: 'completions/_latchkey', fish: 'completions/latchkey.fish' } as const;

function shell(command: string, script: string, env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(command, ['-c', script], { cwd: ROOT, env, timeout: 20_000 }, (error, stdout, stderr) => {
      done({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}
const has = async (command: string) => (await shell('bash', `command -v ${command}`, { PATH: process.env.PATH ?? '' })).code === 0;
const HAS_ZSH = await has('zsh');
const HAS_FISH = await has('fish');

// The scripts call `latchkey __complete profiles`: put the built CLI on PATH, with two profiles.
let env: Record<string, string>;
let otherDir: string;
const KEYS =
  'issuer clientId scopes audience redirectUri redirectPorts backendUrl exchange exchangePath exchangeEncoding whoamiPath sessionsPath tokenEnv audiencePriority storage prompt assertionAudience caFile tokenEndpointAuthMethod authParams resource preset workloadAudience workloadTokenEnv';
beforeAll(async () => {
  const bin = mkdtempSync(join(tmpdir(), 'latchkey-bin-'));
  symlinkSync(BIN, join(bin, 'latchkey'));
  const configDir = tempConfigDir();
  for (const name of ['prod', 'stage'])
    expect(
      (await runInProcess(['profile', 'add', name, '--issuer', 'https://idp.example.com', '--client-id', 'cli'], { configDir })).code,
    ).toBe(0);
  env = { PATH: `${bin}:${process.env.PATH ?? ''}`, HOME: process.env.HOME ?? '/tmp', LATCHKEY_CONFIG_DIR: configDir };
  // Another config dir, named on the command line: its profiles are the ones offered then.
  otherDir = tempConfigDir();
  expect(
    (
      await runInProcess(['profile', 'add', 'elsewhere', '--issuer', 'https://idp.example.com', '--client-id', 'cli'], {
        configDir: otherDir,
      })
    ).code,
  ).toBe(0);
});

describe('completion scripts', () => {
  it.each(Object.entries(FILES))('the committed %s script is what the generator prints (npm run completions)', async (name, file) => {
    const generated = await runCli(['completion', name]);
    expect(generated.code).toBe(0);
    expect(readFileSync(join(ROOT, file), 'utf8')).toBe(generated.stdout);
  });

  it('__complete profiles lists the profiles, and is silent with no config', async () => {
    expect((await runCli(['__complete', 'profiles'], { configDir: env.LATCHKEY_CONFIG_DIR })).stdout).toBe('prod\nstage\n');
    const none = await runCli(['__complete', 'profiles'], { configDir: tempConfigDir() });
    expect(none).toMatchObject({ code: 0, stdout: '', stderr: '' });
    expect((await runCli(['--help'])).stdout).not.toContain('__complete');
  });

  it('bash loads it, and completes commands, options, choices and profile names', async () => {
    const complete = (line: string) =>
      `read -ra COMP_WORDS <<< ${JSON.stringify(line)}; [[ ${JSON.stringify(line)} == *" " ]] && COMP_WORDS+=(""); COMP_CWORD=$((\${#COMP_WORDS[@]}-1)); COMPREPLY=(); _latchkey; echo "\${COMPREPLY[*]}"`;
    const lines = [
      'latchkey lo',
      'latchkey -p ',
      'latchkey profile use ',
      'latchkey --profile prod profile s',
      'latchkey profile add x --storage ',
      'latchkey token inspect --v',
      'latchkey completion ',
      `latchkey --config-dir ${otherDir} profile use `,
      `latchkey --config-dir ${otherDir} -p `,
      'latchkey profile set prod ',
      'latchkey profile set prod st',
    ];
    const result = await shell('bash', [`source ${FILES.bash}`, 'complete -p latchkey', ...lines.map(complete)].join('\n'), env);
    expect(result.stderr).toBe('');
    expect(result.stdout.split('\n')).toEqual([
      'complete -F _latchkey latchkey',
      'login logout',
      'prod stage',
      'prod stage',
      'set show',
      'auto keychain file',
      '--verify --version',
      'bash zsh fish',
      'elsewhere',
      'elsewhere',
      KEYS,
      'storage',
      '',
    ]);
  });

  it.runIf(HAS_ZSH)('zsh loads it (compinit) and its function offers the same words', async () => {
    const loaded = await shell('zsh', `autoload -U compinit; compinit -u -D; source ${FILES.zsh}; print -r -- \${_comps[latchkey]}`, env);
    expect(loaded.stdout.trim()).toBe('_latchkey');
    const offered = await shell(
      'zsh',
      `compdef() { :; }; compadd() { [[ $1 == -- ]] && shift; print -r -- "$*"; }; _files() { :; }; source ${FILES.zsh}; words=(latchkey lo); CURRENT=2; _latchkey; words=(latchkey profile use ''); CURRENT=4; _latchkey; words=(latchkey --config-dir ${otherDir} profile use ''); CURRENT=6; _latchkey; words=(latchkey profile set prod ''); CURRENT=5; _latchkey`,
      env,
    );
    // compadd gets every candidate and matches the prefix itself.
    expect(offered.stdout.split('\n')).toEqual([
      'login oauth logout status doctor token exec api sessions setup profile completion help version',
      'prod stage',
      'elsewhere',
      KEYS,
      '',
    ]);
  });

  it.runIf(HAS_FISH)('fish loads it and completes', async () => {
    const result = await shell(
      'fish',
      `source ${FILES.fish}; complete -C "latchkey lo"; complete -C "latchkey profile use "; complete -C "latchkey --config-dir ${otherDir} -p "; complete -C "latchkey profile set prod st"`,
      env,
    );
    expect(result.stderr).toBe('');
    expect(result.stdout.split('\n').map((l) => l.split('\t')[0])).toEqual([
      'login',
      'logout',
      'prod',
      'stage',
      'elsewhere',
      'storage',
      '',
    ]);
  });

  it('in CI, zsh and fish are there (scripts/setup-e2e.sh installs them)', () => {
    if (!process.env.CI) return;
    expect(HAS_ZSH).toBe(true);
    expect(HAS_FISH).toBe(true);
  });
});
