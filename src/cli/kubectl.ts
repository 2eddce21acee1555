import type { Command } from 'commander';
import { NotLoggedInError } from '../errors.js';
import { EXEC_CREDENTIAL_VERSIONS, execCredentialOf, execInfo } from '../flows/exec-credential.js';
import type { TokenResult } from '../flows/get-token.js';
import type { Brand } from './brand.js';
import type { Context } from './context.js';
import type { ContextFor } from './program.js';
import { runTool } from './run-tool.js';

/**
 * `token --output exec-credential`: the credential as kubectl's exec plugins hand it over, renewed
 * first when due. Not logged in while kubectl has a terminal: the browser login runs (its
 * messages on stderr, as kubelogin does); without one: exit 3, whose message kubectl shows.
 */
export async function printExecCredential(ctx: Context, options: { refresh?: boolean; minValidity?: number }): Promise<void> {
  const info = execInfo(ctx.deps.env);
  const { name } = ctx.requireProfile();
  let result: TokenResult;
  try {
    result = await ctx.token({
      forceRenew: options.refresh === true,
      ...(options.minValidity !== undefined ? { minValidity: options.minValidity } : {}),
    });
  } catch (error) {
    if (!(error instanceof NotLoggedInError) || !info.interactive) throw error;
    ctx.out.info(`${ctx.brand.name}: profile "${name}" is not logged in; signing in for kubectl.`);
    const { runLoginBranded } = await import('./login.js');
    await runLoginBranded(ctx, {});
    result = await ctx.token(options.minValidity !== undefined ? { minValidity: options.minValidity } : {});
  }
  ctx.out.data(JSON.stringify(execCredentialOf(info, result)));
}

/**
 * A YAML scalar that reads back as exactly `text`: a JSON string is a YAML double-quoted scalar,
 * with the line separators JSON leaves raw escaped too. Whatever a name holds, it can add no key.
 */
export function yamlString(text: string): string {
  return JSON.stringify(text).replace(/[\u0085\u2028\u2029]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * kubectl reads `--exec-arg` as a comma-separated list (CSV): a value with a comma or a quote is
 * given as one quoted field, so it stays one argument.
 */
export function csvField(value: string): string {
  return /[,"\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
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
          `- name: ${yamlString(user)}`,
          '  user:',
          '    exec:',
          `      apiVersion: ${EXEC_CREDENTIAL_VERSIONS[0]}`,
          `      command: ${yamlString(n)}`,
          '      args:',
          ...args.map((arg) => `      - ${yamlString(arg)}`),
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
      const kubectl = (kubectlArgs: string[]) => runTool('kubectl', kubectlArgs, ctx.deps.env);
      const credentials = ['config', 'set-credentials', user, `--exec-api-version=${EXEC_CREDENTIAL_VERSIONS[0]}`, `--exec-command=${n}`];
      const withArgs = [...credentials, ...args.map((arg) => `--exec-arg=${csvField(arg)}`)];
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
