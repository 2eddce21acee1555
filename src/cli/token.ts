import { join } from 'node:path';
import type { Command } from 'commander';
import type { Brand } from './brand.js';
import { registerTokenInspect } from './token-inspect.js';
import type { ContextFor } from './program.js';

/** `token` prints the credential; `token inspect` explains a JWT. */
export function registerToken(program: Command, contextFor: ContextFor, brand: Brand): void {
  const n = brand.name;
  const token = program
    .command('token')
    .description(`print the profile's credential, for $(${n} token); renews it first when expired`)
    .option('--refresh', 'renew the credential even if it has not expired')
    .addHelpText('after', `\nExamples:\n  $ curl -H "Authorization: Bearer $(${n} token)" https://api.example.com/me\n  $ ${n} token inspect eyJhbGciOi...`)
    .action(async (options: { refresh?: boolean }, command: Command) => {
      const ctx = contextFor(command);
      const { name, profile } = ctx.requireProfile();
      const { getToken } = await import('../flows/get-token.js');
      const result = await getToken(
        { profileName: name, profile, globalTokenEnv: ctx.envName('TOKEN'), program: n, forceRenew: options.refresh === true },
        {
          env: ctx.deps.env,
          clock: ctx.deps.clock,
          credentials: () => ctx.credentials(),
          renew: async ({ record, state }) => {
            const [{ withLock }, { refreshCredential }, { remintServiceToken }] = await Promise.all([
              import('../store/lock.js'),
              import('../flows/refresh.js'),
              import('../flows/client-credentials.js'),
            ]);
            const credentials = await ctx.credentials();
            // One refresh per profile at a time: a rotated refresh token works only once, so a
            // second `token` running meanwhile takes the first one's result instead.
            return withLock(join(ctx.configDir, `${name}.refresh.lock`), async () => {
              const current = await credentials.load(name);
              if (current && current.record.token !== record.token) return current.record;
              if (record.kind === 'service') {
                return remintServiceToken({ profileName: name, profile, record, storage: state.storage }, { http: await ctx.http(profile), clock: ctx.deps.clock, credentials });
              }
              return refreshCredential(
                { profileName: name, profile, record, storage: state.storage, cliName: n },
                { http: await ctx.http(profile), clock: ctx.deps.clock, credentials },
              );
            });
          },
        },
      );
      if (ctx.json({ profile: name, token: result.token, source: result.source.type === 'env' ? `env:${result.source.variable}` : result.source.via })) return;
      ctx.out.data(result.token);
    });

  registerTokenInspect(token, contextFor, brand);
}
