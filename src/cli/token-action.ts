import type { Context } from './context.js';

/** `token`: the credential in force on stdout (renewed first when due). Also the hot path's (cli/hot.ts). */
export async function printToken(ctx: Context, options: { refresh?: boolean; minValidity?: number }): Promise<void> {
  // <PREFIX>_TOKEN is a credential on its own, as gh's GH_TOKEN: no profile needed (CI).
  const envToken = ctx.env('TOKEN')?.trim();
  if (envToken && !ctx.selectedProfileName()) {
    if (ctx.json({ profile: null, token: envToken, source: `env:${ctx.envName('TOKEN')}` })) return;
    ctx.out.data(envToken);
    return;
  }
  const { name } = ctx.requireProfile();
  const result = await ctx.token({
    forceRenew: options.refresh === true,
    ...(options.minValidity !== undefined ? { minValidity: options.minValidity } : {}),
  });
  if (
    ctx.json({
      profile: name,
      token: result.token,
      source: result.source.type === 'env' ? `env:${result.source.variable}` : result.source.via,
    })
  )
    return;
  ctx.out.data(result.token);
}

/** `--min-validity <seconds>`: a whole number of seconds, 0 or more. */
export function parseMinValidity(value: string): number {
  if (!/^\d{1,9}$/.test(value)) throw new Error(`--min-validity takes a number of seconds, got "${value}"`);
  return Number(value);
}
