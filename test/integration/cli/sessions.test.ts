import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loginSetup, startStack, USER_AGENT, type Stack } from '../../helpers/stack.js';

// `latchkey sessions` against the reference backend: two machines (two config dirs, each its own
// browser session at the IdP) log in as ada; one lists, marks itself, and ends the other, whose
// next `api` call (and its renewal) says what happened.
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ backchannelLogout: true });
});
afterAll(() => stack.close());

const ENDED = 'this session was ended (logged out at your IdP, or revoked from another machine) — run latchkey login';

describe('latchkey sessions', () => {
  it('lists the profile sessions (this machine marked), revokes another; its next api call says the session was ended (exit 3)', async () => {
    const laptop = await loginSetup(stack);
    const desktop = await loginSetup(stack);
    expect((await laptop.run(['login'])).code).toBe(0);
    expect((await desktop.run(['login'])).code).toBe(0);

    const listed = await desktop.run(['sessions', '--json']);
    expect(listed.code, listed.stderr).toBe(0);
    const { sessions } = JSON.parse(listed.stdout) as { sessions: Array<{ id: string; current: boolean; machine: string }> };
    expect(sessions.length).toBeGreaterThanOrEqual(2);
    expect(sessions.filter((s) => s.current)).toHaveLength(1);
    expect(sessions[0]).toMatchObject({ machine: hostname(), current: true });
    const human = await desktop.run(['sessions', 'list']);
    expect(human.stdout).toMatch(/^ID\s+MACHINE\s+CREATED\s+LAST USED\s+STATE\n/);
    expect(human.stdout).toContain(`${sessions[0]!.id} *`);
    expect(human.stdout).toContain('(this machine)');

    // The laptop's session is the newest one that is not current.
    const laptopSession = sessions.find((s) => !s.current)!;
    const revoked = await desktop.run(['sessions', 'revoke', laptopSession.id, '--json']);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(JSON.parse(revoked.stdout)).toEqual({ revoked: [laptopSession.id] });

    // The laptop: its session is refused, its renewal (a refreshed id_token, the same sid) too.
    const api = await laptop.run(['api', '/api/whoami']);
    expect(api.code, api.stderr).toBe(3);
    expect(api.stderr).toContain(`latchkey: ${ENDED}`);
    expect(api.stderr).not.toMatch(/\n\s+at /);
    const list = await laptop.run(['sessions']);
    expect(list.code).toBe(3);
    expect(list.stderr).toContain(ENDED);
    // The desktop still works, and lists the laptop's as ended.
    expect((await desktop.run(['api', '/api/whoami'])).code).toBe(0);
    const after = JSON.parse((await desktop.run(['sessions', '--json'])).stdout) as {
      sessions: Array<{ id: string; endedReason?: string }>;
    };
    expect(after.sessions.find((s) => s.id === laptopSession.id)).toMatchObject({ endedReason: 'revoked' });
  });

  it('revoke --others ends every other session and keeps this one', async () => {
    const a = await loginSetup(stack, [], {});
    const b = await loginSetup(stack);
    const c = await loginSetup(stack);
    for (const m of [a, b, c]) expect((await m.run(['login'])).code).toBe(0);
    const others = await a.run(['sessions', 'revoke', '--others']);
    expect(others.code, others.stderr).toBe(0);
    expect(others.stderr).toMatch(/Ended \d+ other sessions?\./);
    expect((await a.run(['api', '/api/whoami'])).code).toBe(0);
    for (const m of [b, c]) expect((await m.run(['api', '/api/whoami'])).code).toBe(3);
    const json = await a.run(['sessions', 'revoke', '--others', '--json']);
    expect(JSON.parse(json.stdout)).toEqual({ revokedCount: 0 });
  });

  it('a logout at the IdP (its end-session page, in the same browser) ends the session: the next api call says so', async () => {
    const setup = await loginSetup(stack);
    const jar = join(dirname(setup.configDir), 'browser-cookies.json');
    const log = join(dirname(setup.configDir), 'logout.log');
    expect((await setup.run(['login'], { env: { LATCHKEY_DEV_UA_JAR: jar } })).code).toBe(0);
    expect((await setup.run(['api', '/api/whoami'])).code).toBe(0);
    const before = stack.backend.logouts.length;
    // The same scripted browser, its cookies kept: "Yes, sign me out" on the IdP's page.
    await new Promise<void>((resolve, reject) =>
      execFile(
        process.execPath,
        [USER_AGENT, `${stack.idp.issuer}/session/end`],
        { env: { ...process.env, LATCHKEY_DEV_UA_ACTION: 'logout', LATCHKEY_DEV_UA_JAR: jar, LATCHKEY_DEV_UA_LOG: log } },
        (error) => (error ? reject(new Error(error.message)) : resolve()),
      ),
    );
    expect(readFileSync(log, 'utf8')).toContain('"step":"logged-out"');
    expect(stack.backend.logouts.length).toBe(before + 1);
    const api = await setup.run(['api', '/api/whoami']);
    expect(api.code, api.stderr).toBe(3);
    expect(api.stderr).toContain(ENDED);
  });

  it('usage errors: neither an id nor --others, or both', async () => {
    const a = await loginSetup(stack);
    expect((await a.run(['sessions', 'revoke'])).code).toBe(2);
    expect((await a.run(['sessions', 'revoke', 'x', '--others'])).code).toBe(2);
  });

  it('an unknown id is a clear message (exit 1)', async () => {
    const a = await loginSetup(stack);
    expect((await a.run(['login'])).code).toBe(0);
    const result = await a.run(['sessions', 'revoke', 'no-such-session']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('no session no-such-session of profile "demo" at the backend');
  });
});

describe('a backend without a session API', () => {
  let bare: Stack;
  beforeAll(async () => {
    bare = await startStack({ backend: { noSessionApi: true } });
  });
  afterAll(() => bare.close());

  it('is one clear line and the way to set the path, not a trace', async () => {
    const setup = await loginSetup(bare);
    expect((await setup.run(['login'])).code).toBe(0);
    const result = await setup.run(['sessions']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      `latchkey: the backend at ${bare.backend.url} has no session API that latchkey can find (its resource metadata names no sessions_endpoint)`,
    );
    expect(result.stderr).toContain('latchkey profile set demo sessions-path /api/sessions');
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('sessionsPath set to a path the backend lacks: a 404 message', async () => {
    const setup = await loginSetup(bare, ['--sessions-path', '/api/nothing-here']);
    expect((await setup.run(['login'])).code).toBe(0);
    const result = await setup.run(['sessions']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`the backend has no session API at ${new URL(bare.backend.url).host}/api/nothing-here (404)`);
  });
});
