import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevBackend, type DevBackend } from '../../dev/backend.js';
import { startDevIdp, type DevIdp } from '../../dev/idp.js';
import { systemClock } from '../../src/io/clock.js';
import { tempConfigDir } from '../helpers/cli.js';
import { createTestRoot } from '../helpers/root.js';
import { USER_AGENT } from '../helpers/stack.js';

// Step-up (RFC 6750 §3.1): the reference backend's /api/usage wants account:usage:read and
// answers 403 `WWW-Authenticate: Bearer error="insufficient_scope", scope="account:usage:read"`
// to a token without it.
let idp: DevIdp;
let backend: DevBackend;
beforeAll(async () => {
  idp = await startDevIdp({ registration: true });
  backend = await startDevBackend({ issuer: idp.issuer, allowedClientIds: [idp.clientId] });
  idp.resourceServers.add(backend.url);
});
afterAll(() => Promise.all([idp.close(), backend.close()]));

async function setup(terminal: boolean) {
  const configDir = tempConfigDir();
  const root = createTestRoot({ clock: systemClock, stderrIsTerminal: terminal });
  const run = (args: string[]) =>
    root.run(args, { configDir, env: { BROWSER: `"${process.execPath}" "${USER_AGENT}"`, LATCHKEY_DEV_UA_USER: 'ada' } });
  // A login that asks for less than the backend needs.
  expect((await run(['profile', 'add', 'prod', '--backend-url', backend.url, '--scopes', 'openid offline_access'])).code).toBe(0);
  expect((await run(['login', '--timeout', '30'])).code).toBe(0);
  return { run, root };
}

describe('api and insufficient_scope', () => {
  it('at a terminal: logs in once more for the union of the scopes, and the retried call succeeds; the profile keeps them', async () => {
    const { run } = await setup(true);
    const before = idp.requests.filter((r) => r === 'GET /auth').length;
    const call = await run(['api', '/api/usage']);
    expect(call.code, call.stderr).toBe(0);
    expect(call.stderr).toContain(
      'The backend needs the scope account:usage:read: signing in once more, asking for "openid offline_access account:usage:read".',
    );
    expect(JSON.parse(call.stdout)).toMatchObject({ usage: 42, subject: { kind: 'user', sub: 'ada' } });
    expect(idp.requests.filter((r) => r === 'GET /auth').length - before).toBe(1);
    const shown = JSON.parse((await run(['profile', 'show', 'prod', '--json'])).stdout) as { profile: { scopes: string } };
    expect(shown.profile.scopes).toBe('openid offline_access account:usage:read');
    // Granted now: no further login.
    expect((await run(['api', '/api/usage'])).code).toBe(0);
    expect(idp.requests.filter((r) => r === 'GET /auth').length - before).toBe(1);
  }, 60_000);

  it('with nobody to sign in: exit 4 naming the scope and the command that adds it; no browser', async () => {
    const { run } = await setup(false);
    const before = idp.requests.filter((r) => r === 'GET /auth').length;
    const call = await run(['api', '/api/usage']);
    expect(call.code).toBe(4);
    expect(call.stderr).toContain('the API answered 403 Forbidden for /api/usage: the credential lacks the scope account:usage:read');
    expect(call.stderr).toContain('latchkey profile set prod scopes "openid offline_access account:usage:read" && latchkey login -p prod');
    expect(idp.requests.filter((r) => r === 'GET /auth').length).toBe(before);
  }, 60_000);
});
