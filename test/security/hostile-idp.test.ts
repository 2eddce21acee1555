import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { KoaContext } from '../../dev/idp.js';
import { loginSetup, startStack, USER_AGENT, type Stack } from '../helpers/stack.js';

// An IdP (or whoever answers in its name) that tries to reach the user's terminal or the
// browser's argv, and a local attacker racing the login: run as a user would, with the real CLI.
let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack.close());
afterEach(() => {
  stack.idp.hooks = {};
});

/** Rewrite the device authorization answer (and poll fast); the token endpoint then says the code expired. */
function hostileDeviceAnswer(change: (body: Record<string, unknown>) => void): void {
  stack.idp.hooks.after = (ctx: KoaContext) => {
    const body = ctx.body as Record<string, unknown> | undefined;
    if (ctx.path === '/device/auth' && body?.device_code) {
      body.interval = 1;
      change(body);
    }
  };
  stack.idp.hooks.before = (ctx: KoaContext) => {
    if (ctx.path !== '/token') return false;
    ctx.status = 400;
    ctx.body = { error: 'expired_token' };
    return true;
  };
}

/** Raw terminal controls: ESC, BEL, DEL, C1 (U+009B is CSI), bidi overrides and isolates. */
const RAW_CONTROLS = /[\u001b\u0007\u007f\u0080-\u009f\u202a-\u202e\u2066-\u2069]/;

describe('URLs from the IdP never reach a browser unchecked (argument injection)', () => {
  it('a verification_uri_complete that is a browser option is refused: exit 4, no browser started, nothing stored', async () => {
    hostileDeviceAnswer((body) => {
      body.verification_uri_complete = '--renderer-cmd-prefix=sh -c "touch /tmp/owned"';
    });
    const setup = await loginSetup(stack);
    const login = await setup.run(['login', '--device']);
    expect(login.code).toBe(4);
    expect(login.stderr).toContain(
      "the IdP's device authorization answer has an unusable verification_uri_complete (it is not an absolute URL); nothing was opened or stored",
    );
    expect(setup.uaLog()).toEqual([]);
    expect((await setup.run(['token'])).code).toBe(3);
  });

  it('a javascript: or plain-http non-loopback verification_uri is refused before it is shown', async () => {
    for (const [uri, why] of [
      ['javascript:alert(1)', 'its scheme javascript: is not https'],
      ['http://idp.example/device', 'its scheme http: is not https'],
      ['https://user:pass@idp.example/device', 'it carries a user name or password'],
    ]) {
      hostileDeviceAnswer((body) => {
        body.verification_uri = uri;
        delete body.verification_uri_complete;
      });
      const setup = await loginSetup(stack);
      const login = await setup.run(['login', '--device']);
      expect(login.code, uri).toBe(4);
      expect(login.stderr).toContain(`unusable verification_uri (${why}`);
      expect(login.stderr).not.toContain(uri);
      expect(setup.uaLog()).toEqual([]);
    }
  });
});

describe('text from the IdP, the backend and unverified tokens is escaped before the terminal', () => {
  it('a user_code and verification URI with ESC/OSC, C1 and bidi characters are shown escaped', async () => {
    hostileDeviceAnswer((body) => {
      body.user_code = 'ABCD\u001b]0;pwned\u0007\u009b2J\u202eEFGH\nLogged in to prod as admin';
      body.verification_uri_complete = 'https://idp.example/device?code=\u001b[31m\u202e';
    });
    const setup = await loginSetup(stack);
    const login = await setup.run(['login', '--device', '--no-browser']);
    expect(login.code).toBe(5);
    expect(login.stderr).not.toMatch(RAW_CONTROLS);
    expect(login.stderr).toContain('ABCD\\u001b]0;pwned\\u0007\\u009b2J\\u202eEFGH\\u000aLogged in to prod as admin');
    // A URL is shown in its serialized form: its controls are percent-encoded.
    expect(login.stderr).toContain('https://idp.example/device?code=%1B[31m%E2%80%AE');
  });

  it("an IdP's error and error_description with terminal controls are escaped on one line", async () => {
    stack.idp.hooks.before = (ctx: KoaContext) => {
      if (ctx.path !== '/token') return false;
      ctx.status = 400;
      ctx.body = {
        error: 'invalid_grant\u009b31m',
        error_description: 'bad\u001b[2J\u001b]8;;https://evil.example\u0007click\u001b]8;;\u0007\nfake line\u202e',
      };
      return true;
    };
    const setup = await loginSetup(stack);
    const login = await setup.run(['login']);
    expect(login.code).toBe(4);
    expect(login.stderr).not.toMatch(RAW_CONTROLS);
    expect(login.stderr).toContain(
      'the IdP refused the token request (invalid_grant\\u009b31m: bad\\u001b[2J\\u001b]8;;https://evil.example\\u0007click\\u001b]8;;\\u0007 fake line\\u202e)',
    );
    expect(login.stderr).not.toMatch(/^fake line/m);
  });

  it('claims of a --with-token JWT are labelled unverified and escaped in login and status (text and --json)', async () => {
    const setup = await loginSetup(stack, [], { backend: false });
    const key = new TextEncoder().encode('k'.repeat(32));
    const forged = await new SignJWT({ sub: 'root\u202e', email: 'admin@corp.example\u001b]0;owned\u0007\u009b' })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime('1h')
      .sign(key);
    const login = await setup.run(['login', '--with-token'], { input: forged });
    expect(login.code, login.stderr).toBe(0);
    expect(login.stderr).not.toMatch(RAW_CONTROLS);
    expect(login.stderr).toContain('Logged in to demo (the token names admin@corp.example\\u001b]0;owned\\u0007\\u009b, unverified)');

    const status = await setup.run(['status']);
    expect(status.stdout).not.toMatch(RAW_CONTROLS);
    expect(status.stdout).toMatch(/demo \*\s+logged in\s+admin@corp\.example\\u001b\]0;owned\\u0007\\u009b \(unverified\)/);

    const json = await setup.run(['status', '--json']);
    expect(json.stdout).not.toMatch(RAW_CONTROLS);
    expect(JSON.parse(json.stdout).profiles[0]).toMatchObject({
      email: 'admin@corp.example\u001b]0;owned\u0007\u009b',
      source: 'with-token',
    });
    const loginJson = await setup.run(['login', '--with-token', '--json'], { input: forged });
    expect(JSON.parse(loginJson.stdout)).toMatchObject({ profile: 'demo', identityVerified: false });
  });

  it('a line break in a claim cannot fake a line of output; doctor escapes what a discovery document says', async () => {
    const setup = await loginSetup(stack, [], { backend: false });
    const forged = await new SignJWT({ sub: 'x', email: 'a@b\nLogged in to prod as admin@corp' })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode('k'.repeat(32)));
    const login = await setup.run(['login', '--with-token'], { input: forged });
    expect(login.code).toBe(0);
    expect(login.stderr).not.toMatch(/^Logged in to prod/m);
    expect(login.stderr).toContain('a@b\\u000aLogged in to prod as admin@corp');

    const { createServer } = await import('node:http');
    const liar = createServer((_req, res) =>
      res.setHeader('content-type', 'application/json').end(JSON.stringify({ issuer: 'https://x\u001b]0;pwned\u0007\u009b2J' })),
    );
    await new Promise<void>((r) => liar.listen(0, '127.0.0.1', r));
    try {
      const port = (liar.address() as import('node:net').AddressInfo).port;
      expect((await setup.run(['profile', 'set', 'demo', 'issuer', `http://127.0.0.1:${port}`])).code).toBe(0);
      const doctor = await setup.run(['doctor']);
      expect(doctor.stdout).toContain('the document names issuer https://x\\u001b]0;pwned\\u0007\\u009b2J');
      expect(doctor.stdout).not.toMatch(RAW_CONTROLS);
    } finally {
      liar.close();
    }
  });

  it('a browser login names the user without any label (the id_token was verified)', async () => {
    const setup = await loginSetup(stack);
    const login = await setup.run(['login']);
    expect(login.code, login.stderr).toBe(0);
    expect(login.stderr).toContain('Logged in to demo as ada@example.com (stored');
    expect((await setup.run(['status'])).stdout).toMatch(/demo \*\s+logged in\s+ada@example\.com\s/);
    expect((await setup.run(['status'])).stdout).not.toContain('unverified');
  });
});

describe('login CSRF: the callback is bound to the browser that opened the start URL (RFC 9700 §4.7, RFC 8252 §8)', () => {
  it('a callback with the right state but without the start cookie is refused like a wrong state, and the wait goes on', async () => {
    const setup = await loginSetup(stack);
    const login = await setup.run(['login', '--timeout', '4'], { ua: 'nocookie' });
    expect(login.code).toBe(5);
    expect(login.stderr).toContain('no sign-in arrived within 4 s; nothing was stored');
    expect((await setup.uaDone()).at(-1)).toMatchObject({ step: 'callback', status: 400, title: 'Sign-in did not complete' });
    expect((await setup.run(['token'])).code).toBe(3);
  });

  it('a start URL opened twice (another program raced the browser to it) stops the login: exit 4, nothing stored', async () => {
    const setup = await loginSetup(stack);
    const login = await setup.run(['login'], { ua: 'race' });
    expect(login.code).toBe(4);
    expect(login.stderr).toContain('the sign-in link was opened twice');
    expect((await setup.uaDone()).find((entry) => entry.step === 'start-again')).toMatchObject({ status: 400 });
    expect((await setup.run(['token'])).code).toBe(3);
    expect(readFileSync(join(setup.configDir, 'config.json'), 'utf8')).not.toContain('"logins": {\n    "demo"');
  });

  it('the printed URL of a browser that could not be opened works without the cookie (it is the user’s own copy)', async () => {
    const setup = await loginSetup(stack);
    let seen = '';
    let opened = false;
    const login = await setup.run(['login', '--timeout', '20'], {
      env: { BROWSER: '/nonexistent/browser' },
      onSpawn: (child) =>
        child.stderr!.on('data', (chunk: Buffer) => {
          seen += chunk.toString();
          const url = /open this URL yourself[\s\S]*?(http:\/\/127\.0\.0\.1:\d+\/auth\?\S+)/.exec(seen)?.[1];
          if (url && !opened) {
            opened = true; // the user pastes it into a browser that never saw the start URL
            spawn(process.execPath, [USER_AGENT, url], {
              env: { ...process.env, LATCHKEY_DEV_UA_LOG: join(setup.configDir, '..', 'pasted.log') },
              stdio: 'ignore',
            });
          }
        }),
    });
    expect(opened).toBe(true);
    expect(login.code, login.stderr).toBe(0);
    expect(login.stderr).toContain('Logged in to demo as ada@example.com');
  });
});
