// A consumer of the published packages: only `latchkey`, `latchkey/backend` and `latchkey-backend`, no deep imports.
// Type-checked by test/integration/library.test.ts (tsc -p test/types).
import { Command } from 'commander';
import {
  createCli,
  createLoginDeps,
  createProfileStore,
  createSecretStore,
  discoverProfile,
  ExitCode,
  exchangeIdToken,
  getToken,
  inspectToken,
  LatchkeyError,
  loginWithBrowser,
  loginWithClientCredentials,
  loginWithDevice,
  logout,
  NotLoggedInError,
  type CliOptions,
  type Inspection,
  type LatchkeyCli,
  type LoginResult,
  type Profile,
} from 'latchkey';
import {
  createAccessTokenVerifier,
  createBearerAuth,
  createCliAuthHandler,
  createIdTokenVerifier,
  createResourceMetadataHandler,
  type VerifyResult,
} from 'latchkey/backend';
import * as backendPackage from 'latchkey-backend';

const profile: Profile = { issuer: 'https://login.acme.example/', clientId: 'acmectl' };
const options: CliOptions = {
  name: 'acmectl',
  defaults: profile,
  extraCommands(program: Command, context) {
    program.command('hello').action(async (_o: unknown, command: Command) => {
      const { token } = await context(command).token();
      context(command).out.data(token.length > 0 ? 'hi' : 'nobody');
    });
  },
};
const cli: LatchkeyCli = createCli(options);
const code: Promise<number> = cli.run(['status']);

async function flows(): Promise<void> {
  const deps = await createLoginDeps({ configDir: '/tmp/acmectl', name: 'acmectl' });
  const result: LoginResult = await loginWithBrowser(
    { profileName: 'prod', profile, timeoutMs: 300_000, openBrowser: true, cliName: 'acmectl' },
    deps,
  );
  await loginWithDevice({ profileName: 'prod', profile, openBrowser: false, cliName: 'acmectl' }, deps);
  await loginWithClientCredentials({ profileName: 'svc', profile, auth: { clientSecret: 's' } }, deps);
  const session = await exchangeIdToken(
    {
      profileName: 'prod',
      backendUrl: 'https://api',
      exchangePath: '/api/cli-auth',
      encoding: 'form',
      clientId: 'acmectl',
      idToken: 'x',
      cliName: 'acmectl',
    },
    deps.http,
    deps.clock,
  );
  // One deps shape for every flow: what createLoginDeps gives fits getToken and logout as it is.
  const current = await getToken({ profileName: 'prod', profile, globalTokenEnv: 'ACMECTL_TOKEN' }, deps);
  const removed: boolean = await logout({ profileName: 'prod', profile }, deps);
  // ...and lazily built dependencies fit too.
  await getToken(
    { profileName: 'prod', profile, globalTokenEnv: 'ACMECTL_TOKEN' },
    { env: process.env, clock: deps.clock, credentials: async () => deps.credentials, http: async () => deps.http },
  );
  void [result.email, session.token, current.source, removed];
}

const inspection: Inspection = inspectToken('a.b.c', { audiencePriority: ['acme-api'] });
const kind: string = inspection.kind;
const store = createProfileStore({ dir: '/tmp/acmectl', name: 'acmectl' });
const secrets = createSecretStore({ kind: 'file', service: 'acmectl', dir: '/tmp/acmectl' });
const exit: number = new NotLoggedInError('x').exitCode === ExitCode.notLoggedIn ? 0 : 1;
const isError = (e: unknown): e is LatchkeyError => e instanceof LatchkeyError;

const verify = createIdTokenVerifier({ issuer: profile.issuer, allowedClientIds: ['acmectl'] });
const verified: Promise<VerifyResult> = verify('token');
const handler = createCliAuthHandler({
  verifier: verify,
  findUser: (claims) => ({ id: claims.sub }),
  mintSession: (user) => ({ token: `s-${user.id}` }),
});

// A branded CLI: its examples, hidden commands, refusal hint, and an extra command typed end to end.
const branded = createCli({
  name: 'acmectl',
  examples: ['acmectl login'],
  hiddenCommands: ['oauth'],
  refusalHint: 'Create an API key at https://acme.example/keys, then: acmectl login --with-token -p <profile>',
  extraCommands(program, context) {
    program
      .command('whoami')
      .option('--full')
      .action(
        context.action<{ full?: boolean }>(async (ctx, options) => {
          const { token } = await ctx.token({ minValidity: 120 });
          ctx.out.data(options.full === true ? token : token.slice(0, 8));
        }),
      );
  },
});
const brandedRun: Promise<number> = branded.run(['whoami']);

// The backend package is the same API: its verifier fits latchkey/backend's handler, and back.
const fromPackage: backendPackage.IdTokenVerifier = backendPackage.createIdTokenVerifier({
  issuer: profile.issuer,
  allowedClientIds: ['acmectl'],
});
const exchanged: Promise<backendPackage.ExchangeResult> = backendPackage
  .createCliAuthHandler({ verifier: verify, findUser: () => ({}), mintSession: () => ({ token: 's' }) })
  .exchange('token');
const ready: Promise<void> = fromPackage.ready();

void [code, flows, kind, store, secrets, exit, isError, verified, handler, exchanged, ready, brandedRun];

// The resource-server half (RFC 9728, RFC 9068): metadata, verifier and challenge.
const metadata = createResourceMetadataHandler({
  resource: 'https://api.acme.example',
  authorizationServers: ['https://login.acme.example/'],
});
const bearer = createBearerAuth({
  verifier: createAccessTokenVerifier({ issuer: 'https://login.acme.example/', resource: 'https://api.acme.example' }),
  resourceMetadataUrl: metadata.url,
});
const checked: Promise<boolean> = bearer.check('Bearer x').then((r) => r.ok);
const zeroConfig: typeof discoverProfile = discoverProfile;
void [checked, zeroConfig];
