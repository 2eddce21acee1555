import type { Command } from 'commander';
import { NotLoggedInError, UsageError } from '../errors.js';
import type { Brand } from './brand.js';
import type { Context } from './context.js';
import type { ContextFor } from './program.js';

/** What kubectl tells an exec plugin (KUBERNETES_EXEC_INFO), as far as we read it. */
interface ExecInfo {
  apiVersion: string;
  interactive: boolean;
}

const API_VERSIONS = ['client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1'];

/** The ExecCredential version and interactivity kubectl asks for; v1 when it says nothing. */
export function execInfo(env: NodeJS.ProcessEnv): ExecInfo {
  let parsed: { apiVersion?: unknown; spec?: { interactive?: unknown } } = {};
  try {
    parsed = JSON.parse(env.KUBERNETES_EXEC_INFO ?? '{}') as typeof parsed;
  } catch {
    throw new UsageError('KUBERNETES_EXEC_INFO is not JSON (kubectl sets it for exec plugins)');
  }
  const apiVersion = typeof parsed.apiVersion === 'string' ? parsed.apiVersion : API_VERSIONS[0]!;
  if (!API_VERSIONS.includes(apiVersion))
    throw new UsageError(`kubectl asked for ExecCredential ${apiVersion}; this version speaks ${API_VERSIONS.join(' and ')}`);
  return { apiVersion, interactive: parsed.spec?.interactive === true };
}

/**
 * `token --output exec-credential`: the credential as kubectl's exec plugins hand it over, renewed
 * first when due. Not logged in while kubectl has a terminal: the browser login runs (its
 * messages on stderr, as kubelogin does); without one: exit 3, whose message kubectl shows.
 */
export async function printExecCredential(ctx: Context, options: { refresh?: boolean }): Promise<void> {
  const info = execInfo(ctx.deps.env);
  const { name } = ctx.requireProfile();
  let token: string;
  try {
    token = (await ctx.token({ forceRenew: options.refresh === true })).token;
  } catch (error) {
    if (!(error instanceof NotLoggedInError) || !info.interactive) throw error;
    ctx.out.info(`${ctx.brand.name}: profile "${name}" is not logged in; signing in for kubectl.`);
    const { runLoginBranded } = await import('./login.js');
    await runLoginBranded(ctx, {});
    token = (await ctx.token()).token;
  }
  const expiresAt = ctx.profiles.read().logins[name]?.expiresAt;
  const credential = {
    kind: 'ExecCredential',
    apiVersion: info.apiVersion,
    spec: { interactive: info.interactive },
    status: { token, ...(expiresAt ? { expirationTimestamp: new Date(expiresAt).toISOString().replace(/\.\d{3}Z$/, 'Z') } : {}) },
  };
  ctx.out.data(JSON.stringify(credential));
}

/**
 * `setup kubectl`: the kubeconfig user whose credential is `latchkey token --output
 * exec-credential`. Printed as YAML to paste, or written with kubectl itself (`--write`).
 */
export function registerSetupKubectl(setup: Command, contextFor: ContextFor, brand: Brand): void {
  const n = brand.name;
  setup
    .command('kubectl')
    .description(`make kubectl get its credential from ${n} (an exec credential plugin)`)
    .option('--user <name>', 'the kubeconfig user to define (default: <program>-<profile>)')
    .option('--cluster <name>', 'also make a context of this cluster with that user, named like the user')
    .option('--write', 'write it into the kubeconfig with kubectl config (default: print it)')
    .addHelpText('after', `\nExamples:\n  $ ${n} setup kubectl -p prod\n  $ ${n} setup kubectl -p prod --cluster prod-cluster --write`)
    .action(async (options: { user?: string; cluster?: string; write?: boolean }, command: Command) => {
      const ctx = contextFor(command);
      const { name } = ctx.requireProfile();
      const user = options.user ?? `${n}-${name}`;
      const args = ['token', '--output', 'exec-credential', '-p', name];
      if (!options.write) {
        const yaml = [
          'users:',
          `- name: ${user}`,
          '  user:',
          '    exec:',
          `      apiVersion: ${API_VERSIONS[0]}`,
          `      command: ${n}`,
          '      args:',
          ...args.map((arg) => `      - ${arg}`),
          '      interactiveMode: IfAvailable',
          '      provideClusterInfo: false',
        ];
        if (ctx.json({ user, command: n, args })) return;
        ctx.out.data(yaml.join('\n'));
        ctx.out.info(
          `Add it to your kubeconfig, or run: ${n} setup kubectl -p ${name}${options.cluster ? ` --cluster ${options.cluster}` : ''} --write`,
        );
        return;
      }
      const kubectl = (kubectlArgs: string[]) => run('kubectl', kubectlArgs, ctx.deps.env);
      const credentials = ['config', 'set-credentials', user, `--exec-api-version=${API_VERSIONS[0]}`, `--exec-command=${n}`];
      const withArgs = [...credentials, ...args.map((arg) => `--exec-arg=${arg}`)];
      // kubectl before 1.26 has no --exec-interactive-mode (and treats every plugin as IfAvailable).
      await kubectl([...withArgs, '--exec-interactive-mode=IfAvailable']).catch((error: Error) => {
        if (!/unknown flag/.test(error.message)) throw error;
        return kubectl(withArgs);
      });
      if (options.cluster) await kubectl(['config', 'set-context', user, `--cluster=${options.cluster}`, `--user=${user}`]);
      if (ctx.json({ user, context: options.cluster ? user : null })) return;
      ctx.out.info(
        `kubectl user "${user}" now gets its credential from ${n} (profile ${name}).` +
          (options.cluster
            ? ` Use it: kubectl config use-context ${user}`
            : ` Use it in a context: kubectl config set-context <name> --user ${user}`),
      );
    });
}

/** Run a tool to completion; its failure is ours, with what it said. */
async function run(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const { execFile } = await import('node:child_process');
  await new Promise<void>((resolve, reject) =>
    execFile(file, args, { env, timeout: 30_000 }, (error, _stdout, stderr) => {
      if (!error) return resolve();
      const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
      reject(
        new UsageError(
          missing ? `${file} is not installed (or not on PATH)` : `${file} ${args.slice(0, 2).join(' ')} failed: ${stderr.trim()}`,
        ),
      );
    }),
  );
}
