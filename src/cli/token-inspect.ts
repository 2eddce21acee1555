import type { Command } from 'commander';
import { ExitCode, LatchkeyError, NotLoggedInError, UsageError } from '../errors.js';
import { envOverride } from '../flows/get-token.js';
import { readAll } from '../io/output.js';
import type { Profile } from '../store/profile-keys.js';
import { decodeJwt, MAX_TOKEN_LENGTH, peekClaims } from '../token/decode.js';
import { hasErrors, inspect } from '../token/inspect.js';
import { renderInspection } from '../token/render.js';
import type { Brand } from './brand.js';
import type { Context } from './context.js';
import type { ContextFor } from './program.js';

export interface InspectFlags {
  verify?: boolean;
  check?: boolean;
  issuer?: string;
  audience?: string;
  audiencePriority?: string;
  jwksUri?: string;
  clockSkew?: string;
}

/** `token inspect [TOKEN|-]`: decode, classify and diagnose a JWT; `--verify` checks its signature. */
export function registerTokenInspect(token: Command, contextFor: ContextFor, brand: Brand): void {
  const n = brand.name;
  token
    .command('inspect')
    .description("decode, classify and diagnose a JWT (argument, - for stdin, or the profile's own)")
    .argument('[token]', 'the JWT, or - to read it from stdin (a "Bearer " prefix is fine)')
    .option('--verify', "check the signature against the issuer's published keys (the only network use)")
    .option('--check', 'exit 4 when any error-level diagnostic is found (for scripts)')
    .option('--issuer <url>', "the issuer the token should come from (default: the profile's)")
    .option('--audience <aud,...>', 'audiences the token may be for (besides the profile client id)')
    .option('--audience-priority <a,b,c>', "ordered audiences for classification (default: the profile's)")
    .option('--jwks-uri <url>', 'with --verify: take the keys from here instead of discovery')
    .option('--clock-skew <seconds>', 'tolerated clock difference for time claims', '60')
    .addHelpText(
      'after',
      `\nThe token is decoded locally and never sent anywhere;` +
        ` --verify fetches only the issuer's keys.\n\nExamples:\n  $ ${n} token inspect eyJhbGciOi...\n` +
        `  $ pbpaste | ${n} token inspect - --verify\n  $ ${n} token inspect --json -p prod | jq .diagnostics`,
    )
    .action((input: string | undefined, flags: InspectFlags, command: Command) => inspectToken(contextFor(command), input, flags));
}

/** `token inspect`: also the hot path's (cli/hot.ts). */
export async function inspectToken(ctx: Context, input: string | undefined, flags: InspectFlags): Promise<void> {
  const skew = Number(flags.clockSkew ?? '60');
  if (!Number.isFinite(skew) || skew < 0) throw new UsageError(`--clock-skew must be a number of seconds, got "${flags.clockSkew}"`);
  const profile = optionalProfile(ctx);
  const { text, backendCredential } = await tokenText(ctx, input, profile);
  const decoded = decodeJwt(text);
  const list = (value: string | undefined) =>
    (value ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);

  // The profile's issuer and client id describe IdP tokens; a stored backend session is not one.
  const idp = backendCredential ? undefined : profile?.profile;
  const expectedIssuer = flags.issuer ?? idp?.issuer;
  const own = [profile?.profile.audience, profile?.profile.resource].filter((a): a is string => a !== undefined);
  const result = inspect(decoded, {
    now: ctx.deps.clock.now(),
    clockSkewSec: skew,
    ...(expectedIssuer !== undefined ? { expectedIssuer } : {}),
    ...(idp ? { clientId: idp.clientId } : {}),
    knownAudiences: [...list(flags.audience), ...own],
    audiencePriority: flags.audiencePriority !== undefined ? list(flags.audiencePriority) : (profile?.profile.audiencePriority ?? []),
    ownAudiences: own,
    ...(idp?.resource !== undefined ? { resource: idp.resource } : {}),
  });
  let failure: LatchkeyError | undefined;
  if (flags.verify) {
    const { verifyForInspection } = await import('../token/verify.js');
    const verified = await verifyForInspection(
      decoded,
      { trustedIssuer: expectedIssuer, jwksUri: flags.jwksUri, backendCredential, announce: (message) => ctx.out.info(message) },
      () => ctx.http(profile?.profile),
    );
    result.signature = verified.signature;
    result.diagnostics.push(...verified.diagnostics);
    failure = verified.failure;
  }

  if (!ctx.json(result)) {
    const color = ctx.out.color && ctx.deps.streams.stdout.isTTY === true;
    for (const line of renderInspection(result, { now: ctx.deps.clock.now(), color })) ctx.out.data(line);
  }
  // The decode and diagnostics are printed whatever happened to the signature check; then its failure.
  if (failure) throw failure;
  if ((flags.check || flags.verify) && hasErrors(result)) {
    throw new LatchkeyError(
      `the token has ${result.diagnostics.filter((d) => d.level === 'error').length} error-level problem(s): see Diagnostics`,
      ExitCode.rejected,
      { code: 'token_problems' },
    );
  }
}

/** The profile to compare with: `-p`/env when given (must exist), else the default if there is one. */
function optionalProfile(ctx: Context): { name: string; profile: Profile } | undefined {
  if (ctx.options.profile || ctx.env('PROFILE')) return ctx.requireProfile();
  try {
    const name = ctx.defaultProfileName();
    return name ? ctx.requireProfile(name) : undefined;
  } catch {
    return undefined; // an unreadable config must not stop inspecting a pasted token
  }
}

/** The token to inspect, and whether it is the profile's stored backend credential (not an IdP token). */
async function tokenText(
  ctx: Context,
  input: string | undefined,
  profile: { name: string; profile: Profile } | undefined,
): Promise<{ text: string; backendCredential: boolean }> {
  if (input !== undefined && input !== '-') return { text: input, backendCredential: false };
  const stdin = ctx.deps.streams.stdin;
  if (input === '-' || !stdin.isTTY) {
    const limit = 4 * MAX_TOKEN_LENGTH;
    const text = await readAll(stdin, limit).catch((error: Error) => {
      throw new UsageError(
        error instanceof RangeError ? `not a JWT: the input is larger than ${limit / 1024} KiB` : `could not read stdin: ${error.message}`,
      );
    });
    if (input === '-' || text.trim() !== '') return { text, backendCredential: false };
  }
  const override = envOverride({ profile: profile?.profile, globalTokenEnv: ctx.envName('TOKEN') }, ctx.deps.env);
  if (override) return { text: override.token, backendCredential: false };
  if (!profile)
    throw new UsageError('no token to inspect', { hint: `Pass one: ${ctx.brand.name} token inspect <JWT>, or pipe it and use -.` });
  const stored = await (await ctx.credentials()).load(profile.name);
  if (!stored)
    throw new NotLoggedInError(`profile "${profile.name}" is not logged in, so it has no token to inspect`, {
      hint: `Pass a token: ${ctx.brand.name} token inspect <JWT>`,
    });
  // IdPs often issue opaque access tokens; an OAuth login's id_token is then the JWT to look at.
  if (!peekClaims(stored.record.token) && stored.record.idToken) {
    ctx.out.info(`The stored access token of profile "${profile.name}" is opaque (not a JWT); inspecting its id_token.`);
    return { text: stored.record.idToken, backendCredential: false };
  }
  // A browser or service login's token comes from the IdP: it is checked against the profile's
  // issuer and client as if it were pasted. Only a backend session or an API key is the backend's.
  return { text: stored.record.token, backendCredential: stored.record.kind === 'session' || stored.record.kind === 'api_key' };
}
