import { join } from 'node:path';
import { Command, Option } from 'commander';
import { RejectedError, UsageError } from '../errors.js';
import { detectEnvironment } from '../io/environment.js';
import { needsClientSecret, type Profile } from '../store/profile-keys.js';
import { readAll } from '../io/output.js';
import { safeText } from '../io/text.js';
import type { Brand } from './brand.js';
import type { Context } from './context.js';
import type { ContextFor } from './program.js';

interface LoginOptions {
  withToken?: boolean;
  token?: string;
  device?: boolean;
  clientCredentials?: boolean;
  clientSecretStdin?: boolean;
  privateKey?: string;
  keyId?: string;
  browser?: boolean;
  timeout?: string;
  remote?: boolean;
  workload?: boolean | string;
}

/** `login` and its alias `oauth` (the same browser login, without the token options). */
export function registerLogin(program: Command, contextFor: ContextFor, brand: Brand): void {
  const n = brand.name;
  program
    .command('login')
    .description('log in: browser sign-in (authorization code + PKCE), then the backend exchange')
    .option('--with-token', 'read an API key or session token from stdin (CI)')
    .option(
      '--workload [source]',
      "CI without a stored secret: the platform's OIDC token, exchanged at the backend (auto|github|gitlab|kubernetes|file:PATH|env:NAME)",
    )
    .option('--token <token>', 'take the token from the command line (visible to other users: prefer --with-token)')
    .option('--device', 'device authorization grant: print a code and URL, then wait (no local browser needed)')
    .option('--client-credentials', 'service login with the client credentials grant')
    .option('--client-secret-stdin', `read the client secret from stdin (else ${brand.envPrefix}_CLIENT_SECRET)`)
    .option('--private-key <pem>', 'sign a private_key_jwt client assertion with this PEM key')
    .option('--key-id <kid>', '`kid` of the private key')
    .option('--no-browser', 'do not open a browser; print the URL and wait')
    .option('--remote', 'the browser is elsewhere (SSH, a container): print the URL, then paste back where the browser was sent')
    .addOption(new Option('--timeout <seconds>', 'how long to wait for the sign-in').default('300'))
    .addHelpText(
      'after',
      `\nExamples:\n  $ ${n} login\n  $ echo "$API_KEY" | ${n} login --with-token -p ci\n  $ ${n} login --workload -p ci   (CI: the job's own OIDC token)\n  $ ${n} login --device --no-browser\n  $ ${n} login --remote   (the browser runs on another machine)`,
    )
    .action(async (options: LoginOptions, command: Command) => runLoginBranded(contextFor(command), options));

  program
    .command('oauth')
    .description(`the same browser login as "${n} login"`)
    .option('--no-browser', 'do not open a browser; print the URL and wait')
    .addOption(new Option('--timeout <seconds>', 'how long to wait for the sign-in').default('300'))
    .addHelpText('after', `\nExample:\n  $ ${n} oauth -p prod`)
    .action(async (options: LoginOptions, command: Command) => runLoginBranded(contextFor(command), options));
}

/** A backend's refusal carries the product's own way out when the brand has one (where to get an API key). */
export async function runLoginBranded(ctx: Context, options: LoginOptions): Promise<void> {
  try {
    await runLogin(ctx, options);
  } catch (error) {
    const hint = ctx.brand.refusalHint;
    if (!hint || !(error instanceof RejectedError) || error.code !== 'backend_rejected') throw error;
    const profile = ctx.selectedProfileName() ?? '<profile>';
    throw new RejectedError(error.message, {
      details: [...error.details],
      hint: hint.replaceAll('<profile>', profile),
      code: error.code,
      cause: error,
    });
  }
}

async function runLogin(ctx: Context, options: LoginOptions): Promise<void> {
  const modes = [
    options.withToken,
    options.token !== undefined,
    options.device,
    options.clientCredentials,
    options.remote,
    options.workload !== undefined,
  ].filter(Boolean).length;
  if (modes > 1) throw new UsageError('choose one of --with-token, --token, --device, --client-credentials, --remote and --workload');
  const { name, profile } = ctx.requireProfile();

  if (options.workload !== undefined) {
    const { loginWithWorkload, parseWorkloadSource } = await import('../flows/workload.js');
    const source = parseWorkloadSource(options.workload === true ? 'auto' : String(options.workload));
    const result = await loginWithWorkload(
      { profileName: name, profile, source, cliName: ctx.brand.name },
      { http: await ctx.http(profile), clock: ctx.deps.clock, credentials: await ctx.credentials(), env: ctx.deps.env },
    );
    await reportLogin(ctx, result);
    return;
  }

  if (options.withToken || options.token !== undefined) {
    let token: string;
    if (options.token !== undefined) {
      ctx.out.warn('a token on the command line is visible to other users of this machine (ps, shell history); prefer --with-token');
      token = options.token;
    } else {
      if (ctx.deps.streams.stdin.isTTY) {
        throw new UsageError('--with-token reads the token from stdin, and stdin is a terminal', {
          hint: `Pipe it: echo "$TOKEN" | ${ctx.brand.name} login --with-token`,
        });
      }
      token = await readAll(ctx.deps.streams.stdin, 64 * 1024).catch((error: Error) => {
        throw new UsageError(`could not read the token from stdin: ${error.message}`);
      });
    }
    const { loginWithToken } = await import('../flows/with-token.js');
    const result = await loginWithToken(
      { profileName: name, profile, token, via: options.token !== undefined ? 'token-arg' : 'with-token', cliName: ctx.brand.name },
      { credentials: await ctx.credentials(), clock: ctx.deps.clock, http: () => ctx.http(profile) },
    );
    await reportLogin(ctx, result);
    return;
  }
  const userSecret = !options.clientCredentials && needsClientSecret(profile);
  if (
    !options.clientCredentials &&
    (options.privateKey !== undefined || options.keyId !== undefined || (options.clientSecretStdin && !userSecret))
  ) {
    throw new UsageError(
      '--client-secret-stdin,' +
        ' --private-key and --key-id go with --client-credentials (--client-secret-stdin also with a profile whose client has a secret)',
    );
  }
  // A user login whose client has a secret (Google's Desktop clients): from stdin or the environment.
  const clientSecret = userSecret ? await userClientSecret(ctx, options, name, profile) : undefined;
  const secret = clientSecret !== undefined ? { clientSecret } : {};
  const timeout = Number(options.timeout ?? '300');
  if (!Number.isFinite(timeout) || timeout <= 0) throw new UsageError(`--timeout must be a number of seconds, got "${options.timeout}"`);
  if (options.device) {
    const { loginWithDevice } = await import('../flows/device.js');
    const result = await oneLoginAtATime(ctx, name, timeout, async () =>
      loginWithDevice(
        {
          profileName: name,
          profile,
          openBrowser: options.browser !== false,
          cliName: ctx.brand.name,
          timeoutMs: timeout * 1000,
          ...secret,
        },
        await ctx.loginDeps(profile),
      ),
    );
    await reportLogin(ctx, result);
    return;
  }
  if (options.clientCredentials) {
    const auth = await serviceAuth(ctx, options);
    const { loginWithClientCredentials } = await import('../flows/client-credentials.js');
    const result = await loginWithClientCredentials(
      { profileName: name, profile, auth, cliName: ctx.brand.name },
      { http: await ctx.http(profile), clock: ctx.deps.clock, credentials: await ctx.credentials() },
    );
    await reportLogin(ctx, result);
    return;
  }
  const { loginWithBrowser } = await import('../flows/browser.js');
  const result = await oneLoginAtATime(ctx, name, timeout, async () =>
    loginWithBrowser(
      {
        profileName: name,
        profile,
        timeoutMs: timeout * 1000,
        openBrowser: options.browser !== false,
        cliName: ctx.brand.name,
        environment: detectEnvironment(ctx.deps.env),
        interactive: ctx.deps.streams.stdin.isTTY === true || ctx.deps.streams.stderr.isTTY === true,
        ...(options.remote ? { remote: true } : {}),
        ...secret,
      },
      await ctx.loginDeps(profile),
    ),
  );
  await reportLogin(ctx, result);
}

/**
 * Interactive logins of one credential share one browser: twenty kubectl calls, an IDE plugin
 * and a git fetch that find it expired at once start one sign-in, not twenty (each its own tab,
 * its own code, "authorization code does not exist"). The first runs `login`; the others wait
 * for it (each with its own timeout), then take what it stored when that is a fresh, live
 * credential; otherwise they sign in themselves, one after the other.
 */
async function oneLoginAtATime(
  ctx: Context,
  name: string,
  timeout: number,
  login: () => Promise<import('../flows/with-token.js').LoginResult>,
): Promise<import('../flows/with-token.js').LoginResult> {
  const [{ loginLockPath, withLoginLock }, { liveness }, { resultOf }] = await Promise.all([
    import('../store/login-lock.js'),
    import('../model.js'),
    import('../flows/with-token.js'),
  ]);
  // What the config says of the stored login (no keychain read): when it was obtained, until when.
  const current = () => ctx.profiles.read().logins[name];
  const before = current()?.obtainedAt;
  // The lock's scope is the credential's: a keychain entry (service and account) is the user's,
  // whatever config dir a command was started with; a credentials file is its config dir's.
  const storage = ctx.storageOverride() ?? ctx.requireProfile(name).profile.storage ?? 'auto';
  const lockPath =
    storage === 'file' ? join(ctx.configDir, `${name}.login.lock`) : loginLockPath(ctx.brand.keychainService, name, ctx.deps.env);
  return withLoginLock(
    lockPath,
    timeout * 1000,
    async (waited) => {
      if (waited) {
        const after = current();
        if (after && after.obtainedAt !== before && liveness(after, ctx.deps.clock.now()) === 'live') {
          ctx.out.info(`The login in progress for profile "${name}" finished; using its credential.`);
          return resultOf(name, after);
        }
      }
      return login();
    },
    (holder) =>
      ctx.out.info(
        `Waiting for the login in progress for profile "${name}"${holder ? ` (${ctx.brand.name}, pid ${holder})` : ''},` +
          ` for at most ${timeout} s (--timeout)…`,
      ),
  );
}

/** The client secret of a user login's client: `--client-secret-stdin`, else `<PREFIX>_CLIENT_SECRET`. */
async function userClientSecret(ctx: Context, options: LoginOptions, name: string, profile: Profile): Promise<string> {
  if (options.clientSecretStdin) return readSecretFromStdin(ctx);
  const fromEnv = ctx.env('CLIENT_SECRET');
  if (fromEnv) return fromEnv;
  throw new UsageError(
    `profile "${name}" authenticates its client with a secret (tokenEndpointAuthMethod ${profile.tokenEndpointAuthMethod}),` +
      ` and none was given`,
    {
      hint: `Set ${ctx.envName('CLIENT_SECRET')}, or pipe it with --client-secret-stdin (it is kept in the keychain with the credential).`,
    },
  );
}

async function readSecretFromStdin(ctx: Context): Promise<string> {
  if (ctx.deps.streams.stdin.isTTY)
    throw new UsageError('--client-secret-stdin reads the secret from stdin, and stdin is a terminal', {
      hint: `Pipe it: printf %s "$SECRET" | ${ctx.brand.name} login --client-secret-stdin`,
    });
  const secret = (
    await readAll(ctx.deps.streams.stdin, 16 * 1024).catch((error: Error) => {
      throw new UsageError(`could not read the client secret from stdin: ${error.message}`);
    })
  ).trim();
  if (!secret) throw new UsageError('the client secret on stdin is empty');
  return secret;
}

/** The service's credentials: a secret from stdin or the environment, or a private key file. */
async function serviceAuth(ctx: Context, options: LoginOptions): Promise<import('../flows/client-credentials.js').ServiceAuth> {
  const envName = ctx.envName('CLIENT_SECRET');
  const fromEnv = ctx.env('CLIENT_SECRET');
  if (options.privateKey !== undefined) {
    if (options.clientSecretStdin) throw new UsageError('choose one of --client-secret-stdin and --private-key');
    return { privateKeyPath: options.privateKey, ...(options.keyId ? { keyId: options.keyId } : {}) };
  }
  if (options.keyId !== undefined) throw new UsageError('--key-id goes with --private-key');
  if (options.clientSecretStdin) return { clientSecret: await readSecretFromStdin(ctx) };
  if (fromEnv) return { clientSecret: fromEnv };
  throw new UsageError('--client-credentials needs the client secret or a private key', {
    hint: `Pipe the secret with --client-secret-stdin, set ${envName}, or give --private-key <pem> for private_key_jwt.`,
  });
}

export async function reportLogin(ctx: Context, result: import('../flows/with-token.js').LoginResult): Promise<void> {
  // One issuer rule: the IdP's own form of its issuer is what its tokens carry, and what every
  // strict verifier compares; the profile takes it, and says so.
  if (result.issuerForm !== undefined) {
    await ctx.profiles.setKey(result.profile, 'issuer', result.issuerForm);
    if (!ctx.options.json)
      ctx.out.info(
        `The IdP writes its issuer as ${safeText(result.issuerForm)}: profile "${result.profile}" now has that exact form` +
          ' (its tokens carry it, and verifiers compare it exactly).',
      );
  }
  if (ctx.json(result)) return;
  const who = result.email ?? result.subject;
  // One value from a token or a backend: escaped whole, so a newline in it cannot fake a line.
  const shown = who ? safeText(who) : '';
  const as = who ? (result.identityVerified ? ` as ${shown}` : ` (the token names ${shown}, unverified)`) : '';
  ctx.out.info(
    `Logged in to ${result.profile}${as} (stored in ${result.storage === 'keychain' ? 'the OS keychain' : 'the credentials file'}).`,
  );
}
