import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevBackend, type DevBackend } from '../../dev/backend.js';
import { githubActionsPolicy } from '../../src/backend/index.js';
import { systemClock } from '../../src/io/clock.js';
import { tempConfigDir } from '../helpers/cli.js';
import { createTestRoot } from '../helpers/root.js';

// `login --workload` (issue 34) through the CLI against the reference backend. The platform is a
// tiny GitHub Actions look-alike on 127.0.0.1: OpenID discovery, a JWKS, and the job's OIDC token
// endpoint (`GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=…` → `{"value": jwt}`), its tokens in the
// claim shapes GitHub documents ("About security hardening with OpenID Connect").

const REQUEST_TOKEN = 'job-request-token-0123456789';
const WORKFLOW = 'octo-org/octo-automation/.github/workflows/deploy.yml@refs/heads/main';

interface Platform {
  issuer: string;
  /** Every token it issued, as issued. */
  issued: string[];
  sign(claims: JWTPayload): Promise<string>;
  close(): Promise<void>;
}

/** The claims of a GitHub Actions job of octo-org/octo-repo deploying main to prod. */
function githubClaims(issuer: string, audience: string): JWTPayload {
  const now = Math.floor(Date.now() / 1000);
  return {
    jti: crypto.randomUUID(),
    sub: 'repo:octo-org/octo-repo:environment:prod',
    environment: 'prod',
    aud: audience,
    ref: 'refs/heads/main',
    sha: 'd6e5c4b3a2918f7e6d5c4b3a2918f7e6d5c4b3a2',
    repository: 'octo-org/octo-repo',
    repository_owner: 'octo-org',
    actor_id: '12',
    repository_visibility: 'private',
    repository_id: '74',
    repository_owner_id: '65',
    run_id: '1234',
    run_number: '10',
    run_attempt: '1',
    runner_environment: 'github-hosted',
    actor: 'octocat',
    workflow: 'deploy',
    head_ref: '',
    base_ref: '',
    event_name: 'push',
    ref_type: 'branch',
    workflow_ref: 'octo-org/octo-repo/.github/workflows/deploy.yml@refs/heads/main',
    job_workflow_ref: WORKFLOW,
    iss: issuer,
    nbf: now - 5,
    iat: now - 5,
    exp: now + 300,
  };
}

/** What each scenario (the `scenario` parameter of the token URL) changes in a good job's token. */
const SCENARIOS: Record<string, (claims: JWTPayload) => JWTPayload> = {
  admit: (c) => c,
  'other-repo': (c) => ({ ...c, repository: 'evil-org/octo-repo', repository_owner: 'evil-org', repository_owner_id: '666' }),
  // The name re-registered by someone else after a rename: same name, another owner id.
  'renamed-repo': (c) => ({ ...c, repository_owner_id: '666' }),
  'fork-pr': (c) => ({ ...c, event_name: 'pull_request_target', head_ref: 'fork:patch-1', base_ref: 'main' }),
  'wrong-env': (c) => ({ ...c, environment: 'staging', sub: 'repo:octo-org/octo-repo:environment:staging' }),
  tag: (c) => ({ ...c, ref: 'refs/tags/main', ref_type: 'tag' }),
  expired: (c) => ({ ...c, iat: (c.iat as number) - 900, nbf: (c.nbf as number) - 900, exp: (c.iat as number) - 600 }),
  'other-aud': (c) => ({ ...c, aud: 'https://github.com/octo-org' }),
};

async function startPlatform(): Promise<Platform> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'gh-1', alg: 'RS256', use: 'sig' };
  const issued: string[] = [];
  let issuer = '';
  const sign = (claims: JWTPayload) => new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'gh-1', typ: 'JWT' }).sign(privateKey);
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', issuer);
    const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (url.pathname === '/.well-known/openid-configuration') return json(200, { issuer, jwks_uri: `${issuer}/.well-known/jwks` });
    if (url.pathname === '/.well-known/jwks') return json(200, { keys: [jwk] });
    if (url.pathname !== '/token') return json(404, { message: 'Not Found' });
    if (req.headers.authorization !== `Bearer ${REQUEST_TOKEN}`) return json(401, { message: 'Bad credentials' });
    const scenario = url.searchParams.get('scenario') ?? 'admit';
    if (scenario === 'not-json') return res.writeHead(200, { 'content-type': 'text/html' }).end('<html>Unicorn!</html>');
    if (scenario === 'huge') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"value":"');
      const chunk = 'x'.repeat(64 * 1024);
      for (let i = 0; i < 40; i++) res.write(chunk);
      return res.end('"}');
    }
    const audience = url.searchParams.get('audience') ?? `https://github.com/octo-org`;
    void sign(SCENARIOS[scenario]!(githubClaims(issuer, audience))).then((token) => {
      issued.push(token);
      json(200, { count: 1, value: token });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    get issuer() {
      return issuer;
    },
    issued,
    sign,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

let platform: Platform;
let backend: DevBackend;
const root = createTestRoot({ clock: systemClock });

beforeAll(async () => {
  platform = await startPlatform();
  backend = await startDevBackend({
    // The id_token side is never reached here: every token is the platform's.
    issuer: 'http://127.0.0.1:9/unused-idp',
    allowedClientIds: ['unused'],
    // Shorter than the renewal margin: every `token` renews, as in a long job.
    sessionTtlSec: 30,
    workload: [
      {
        issuer: platform.issuer,
        policy: githubActionsPolicy({
          repositoryOwnerId: 65,
          repository: 'octo-org/octo-repo',
          repositoryId: 74,
          refs: ['refs/heads/main'],
          environments: ['prod'],
          workflowRefs: [WORKFLOW],
          name: 'octo-repo deploy',
          scopes: ['account:usage:read'],
        }),
      },
    ],
  });
});
afterAll(async () => {
  await Promise.all([platform.close(), backend.close()]);
});

/** A `ci` profile for the backend in a fresh config dir, and a runner in a GitHub Actions job. */
async function ciSetup() {
  const configDir = tempConfigDir();
  const run = (args: string[], env: Record<string, string | undefined> = {}) =>
    root.run(args, { configDir, env: { LATCHKEY_STORAGE: 'file', ...env } });
  const added = await run([
    'profile',
    'add',
    'ci',
    '--issuer',
    'http://127.0.0.1:9/unused-idp',
    '--client-id',
    'unused',
    '--backend-url',
    backend.url,
  ]);
  expect(added.code, added.stderr).toBe(0);
  const job = (scenario = 'admit') => ({
    GITHUB_ACTIONS: 'true',
    ACTIONS_ID_TOKEN_REQUEST_URL: `${platform.issuer}/token?api-version=2.0&scenario=${scenario}`,
    ACTIONS_ID_TOKEN_REQUEST_TOKEN: REQUEST_TOKEN,
  });
  return { configDir, run, job };
}

/** Every file under the config dir's parent, as text (what a later job or an attacker could read). */
function everythingStored(configDir: string): string {
  const texts: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else texts.push(readFileSync(path, 'utf8'));
    }
  };
  walk(dirname(configDir));
  return texts.join('\n');
}

describe('login --workload with GitHub Actions', () => {
  it('a job the policy admits logs in as its service subject', async () => {
    const { run, job } = await ciSetup();
    const login = await run(['login', '--workload', '-p', 'ci', '--json'], job());
    expect(login.code, login.stderr).toBe(0);
    expect(JSON.parse(login.stdout)).toMatchObject({ profile: 'ci', identityVerified: true, storage: 'file' });
    const token = await run(['token', '-p', 'ci'], job());
    expect(token.code, token.stderr).toBe(0);
    const whoami = await fetch(`${backend.url}/api/whoami`, { headers: { authorization: `Bearer ${token.stdout.trim()}` } });
    expect(whoami.status).toBe(200);
    expect(await whoami.json()).toEqual({ user: { sub: 'repo:octo-org/octo-repo:environment:prod', email: null } });
    const checked = await backend.recorded.check(token.stdout.trim());
    expect(checked.ok && checked.session.subject).toMatchObject({ kind: 'service', clientId: 'github:65/74', name: 'octo-repo deploy' });
  });

  it.each([
    ['other-repo', /repository_owner_id "666" is not the configured owner 65/],
    ['renamed-repo', /repository_owner_id "666"/],
    ['fork-pr', /event pull_request_target runs a fork's change/],
    ['wrong-env', /environment "staging" is not one of prod/],
    ['tag', /ref "refs\/tags\/main" is not one of refs\/heads\/main/],
  ])('a job the policy refuses (%s): exit 4 with the policy reason', async (scenario, reason) => {
    const { run, job } = await ciSetup();
    const login = await run(['login', '--workload', 'github', '-p', 'ci'], job(scenario));
    expect(login.code).toBe(4);
    expect(login.stderr).toMatch(/the backend's policy refused this workload/);
    expect(login.stderr).toMatch(reason);
    expect(login.stderr).toMatch(/sub repo:octo-org\/octo-repo/);
    expect((await run(['status', '-p', 'ci', '--json'])).stdout).not.toMatch(/"via": *"workload"/);
  });

  it('an expired token is refused by the backend (exit 4), nothing stored', async () => {
    const { run, job } = await ciSetup();
    const login = await run(['login', '--workload', '-p', 'ci'], job('expired'));
    expect(login.code).toBe(4);
    expect(login.stderr).toMatch(/the backend refused the workload login/);
    expect(backend.refusals.at(-1)).toMatch(/^expired:/);
  });

  it('without permissions id-token: write, the CLI says so', async () => {
    const { run } = await ciSetup();
    const login = await run(['login', '--workload', '-p', 'ci'], { GITHUB_ACTIONS: 'true' });
    expect(login.code).toBe(2);
    expect(login.stderr).toMatch(/ACTIONS_ID_TOKEN_REQUEST_URL/);
    expect(login.stderr).toMatch(/permissions: \{ id-token: write \}/);
  });

  it('a token for another audience: the CLI names both audiences; the backend refuses one sent anyway', async () => {
    const { run, job } = await ciSetup();
    const login = await run(['login', '--workload', '-p', 'ci'], job('other-aud'));
    expect(login.code).toBe(1);
    expect(login.stderr).toMatch(/is for audience \["https:\/\/github.com\/octo-org"\], not http:\/\/127\.0\.0\.1:\d+/);
    // The backend's own check, for a client that does not look.
    const token = await platform.sign(SCENARIOS['other-aud']!(githubClaims(platform.issuer, backend.url)));
    const answer = await fetch(`${backend.url}/api/cli-auth`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token }).toString(),
    });
    expect(answer.status).toBe(403);
    expect(await answer.json()).toEqual({ error: 'Bad credentials' });
    expect(backend.refusals.at(-1)).toMatch(/^audience_not_allowed: aud "https:\/\/github.com\/octo-org" is not exactly/);
  });

  it('a hostile token endpoint (not JSON, a huge body, a refused request token) is a clear error', async () => {
    const { run, job } = await ciSetup();
    const notJson = await run(['login', '--workload', '-p', 'ci'], job('not-json'));
    expect(notJson.code).toBe(1);
    expect(notJson.stderr).toMatch(/GitHub's OIDC token endpoint \(127\.0\.0\.1:\d+\) did not answer JSON; nothing was stored/);
    const huge = await run(['login', '--workload', '-p', 'ci'], job('huge'));
    expect(huge.code).toBe(1);
    expect(huge.stderr).toMatch(/answered (with )?more than \d+ KiB/);
    expect(huge.stderr.length).toBeLessThan(2000);
    const badBearer = await run(['login', '--workload', '-p', 'ci'], { ...job(), ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'stale' });
    expect(badBearer.code).toBe(4);
    expect(badBearer.stderr).toMatch(/refused the job's request token \(401\)/);
  });

  it('token renews the workload session with a new platform token, and no secret is stored', async () => {
    const { configDir, run, job } = await ciSetup();
    const before = platform.issued.length;
    const login = await run(['login', '--workload', '-p', 'ci'], job());
    expect(login.code, login.stderr).toBe(0);
    const first = await run(['token', '-p', 'ci'], job());
    const second = await run(['token', '-p', 'ci'], job());
    expect(first.code, first.stderr).toBe(0);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout.trim()).not.toBe(first.stdout.trim());
    // One platform token per session: the login's, and one per renewal.
    expect(platform.issued.length - before).toBe(3);
    const stored = everythingStored(configDir);
    for (const token of platform.issued) expect(stored).not.toContain(token);
    expect(stored).not.toContain(REQUEST_TOKEN);
    expect(stored).toMatch(/workloadSource\\?":\\?"github/);
    // Outside the job (its variables gone), the session cannot be renewed: says how to log in again.
    const outside = await run(['token', '-p', 'ci']);
    expect(outside.code).toBe(2);
    expect(outside.stderr).toMatch(/id-token: write/);
  });
});

describe('login --workload from a file or a variable (Kubernetes projected token, GitLab id_tokens)', () => {
  it('file:PATH and env:NAME and GitLab workloadTokenEnv each log in', async () => {
    const { configDir, run } = await ciSetup();
    const token = () => platform.sign(githubClaims(platform.issuer, backend.url));
    const file = join(dirname(configDir), 'projected-token');
    writeFileSync(file, `${await token()}\n`);
    const fromFile = await run(['login', '--workload', `file:${file}`, '-p', 'ci']);
    expect(fromFile.code, fromFile.stderr).toBe(0);
    const fromEnv = await run(['login', '--workload', 'env:MY_OIDC', '-p', 'ci'], { MY_OIDC: await token() });
    expect(fromEnv.code, fromEnv.stderr).toBe(0);
    expect((await run(['profile', 'set', 'ci', 'workload-token-env', 'CI_ID_TOKEN'])).code).toBe(0);
    const gitlab = await run(['login', '--workload', '-p', 'ci'], { GITLAB_CI: 'true', CI_ID_TOKEN: await token() });
    expect(gitlab.code, gitlab.stderr).toBe(0);
    const missing = await run(['login', '--workload', 'file:/nonexistent/token', '-p', 'ci']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read the workload token file \/nonexistent\/token: it does not exist/);
  });
});
