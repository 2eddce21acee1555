import { decodeJwt, decodeProtectedHeader, generateKeyPair, importJWK, SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_BACKEND_PATHS, startDevBackend, type DevBackend } from '../../dev/backend.js';
import { startDevIdp, type DevIdp } from '../../dev/idp.js';
import { BACKCHANNEL_LOGOUT_EVENT } from '../../src/backend/index.js';
import { freePort, IdpBrowser } from '../helpers/idp-browser.js';

// OpenID Connect Back-Channel Logout 1.0 against the dev IdP (oidc-provider): a real login, a
// real logout at its end-session endpoint, and the real logout token it POSTs to the backend.
// The negative cases alter that real token (re-signed with the IdP's own key where the case is
// not the signature) and check that each is 400 invalid_request and ends nothing.
let idp: DevIdp;
let backend: DevBackend;
let logoutUrl: string;

beforeAll(async () => {
  const port = await freePort();
  logoutUrl = `http://127.0.0.1:${port}${DEV_BACKEND_PATHS.backchannelLogout}`;
  idp = await startDevIdp({ backchannelLogoutUri: logoutUrl });
  backend = await startDevBackend({ issuer: idp.issuer, allowedClientIds: [idp.clientId], port });
});
afterAll(async () => {
  await Promise.all([idp.close(), backend.close()]);
});

async function exchange(idToken: string, machine = 'laptop') {
  const response = await fetch(`${backend.url}/api/cli-auth`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: idToken, machine }).toString(),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}
const whoami = async (session: string) =>
  (await fetch(`${backend.url}/api/whoami`, { headers: { authorization: `Bearer ${session}` } })).status;
const post = async (logoutToken: string) => {
  const response = await fetch(logoutUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ logout_token: logoutToken }).toString(),
  });
  return { status: response.status, cacheControl: response.headers.get('cache-control'), body: await response.json() };
};

/** A logged-in session at the backend, and the real logout token of another login the IdP ended. */
async function loggedIn() {
  const browser = new IdpBrowser(idp);
  const tokens = await browser.login();
  const minted = await exchange(tokens.id_token);
  expect(minted.status).toBe(200);
  return { browser, tokens, session: String(minted.body.token), sid: decodeJwt(tokens.id_token).sid as string };
}
let realToken: string | undefined;
async function aRealLogoutToken(): Promise<string> {
  if (realToken) return realToken;
  const { browser } = await loggedIn();
  const before = backend.logoutTokens.length;
  await browser.logout();
  realToken = backend.logoutTokens[before]!;
  return realToken;
}
/** The real token's claims and header, changed, signed with the IdP's key (or another). */
async function altered(
  change: (claims: JWTPayload) => JWTPayload,
  options: { header?: Record<string, unknown>; key?: CryptoKey | Uint8Array } = {},
) {
  const real = await aRealLogoutToken();
  const header = { ...decodeProtectedHeader(real), ...options.header } as { alg: string };
  const claims = change({ ...decodeJwt(real), jti: `altered-${Math.random()}`, iat: Math.floor(Date.now() / 1000) });
  return new SignJWT(claims).setProtectedHeader(header).sign(options.key ?? (await importJWK(idp.signingKey, 'RS256')));
}

describe('back-channel logout with the dev IdP', () => {
  it('the IdP sends a real logout token on end-session: the session ends, 200 no-store, and a refreshed id_token of that sid cannot mint again', async () => {
    const { browser, tokens, session, sid } = await loggedIn();
    expect(sid).toEqual(expect.any(String));
    expect(await whoami(session)).toBe(200);
    const before = backend.logoutTokens.length;
    const logout = await browser.logout();
    expect(logout.page).toBe('Logout Request');
    const token = backend.logoutTokens[before]!;
    expect(decodeJwt(token)).toMatchObject({ sid, events: { [BACKCHANNEL_LOGOUT_EVENT]: {} }, aud: idp.clientId, iss: idp.issuer });
    expect(decodeJwt(token).nonce).toBeUndefined();
    expect(backend.logouts.at(-1)).toMatchObject({ sid, ended: 1 });
    const ended = await fetch(`${backend.url}/api/whoami`, { headers: { authorization: `Bearer ${session}` } });
    expect(ended.status).toBe(401);
    expect(await ended.json()).toMatchObject({ error: 'session_ended' });
    // offline_access outlives the IdP session in oidc-provider: the refresh works, the backend refuses.
    const refreshed = await browser.refresh(tokens.refresh_token!);
    expect(decodeJwt(refreshed.id_token).sid).toBe(sid);
    expect(await exchange(refreshed.id_token)).toMatchObject({ status: 401, body: { error: 'session_ended' } });
  });

  it('the handler answers 200 with Cache-Control: no-store to a valid token', async () => {
    const { session, sid } = await loggedIn();
    const answer = await post(await altered((c) => ({ ...c, sid })));
    expect(answer).toMatchObject({ status: 200, cacheControl: 'no-store' });
    expect(await whoami(session)).toBe(401);
  });

  it('a logout token with sub and no sid ends every session of that subject', async () => {
    const first = await loggedIn();
    const second = await loggedIn();
    const answer = await post(await altered((c) => ({ ...without(c, 'sid'), sub: 'ada' })));
    expect(answer.status).toBe(200);
    expect(await whoami(first.session)).toBe(401);
    expect(await whoami(second.session)).toBe(401);
    // A login after the logout is a new one: it is not refused.
    const after = await loggedIn();
    expect(await whoami(after.session)).toBe(200);
  });

  describe('each negative case is 400 invalid_request and ends nothing', () => {
    const cases: Array<[string, string, () => Promise<string>]> = [
      ['no events claim', 'events_missing', () => altered((c) => without(c, 'events'))],
      [
        'events without the back-channel logout event',
        'events_missing',
        () => altered((c) => ({ ...c, events: { 'http://example.com/other': {} } })),
      ],
      ['a nonce present', 'nonce_present', () => altered((c) => ({ ...c, nonce: 'n-1' }))],
      ['neither sid nor sub', 'subject_missing', () => altered((c) => without(c, 'sid', 'sub'))],
      ['a wrong aud', 'audience_not_allowed', () => altered((c) => ({ ...c, aud: 'another-client' }))],
      ['a wrong iss', 'issuer_mismatch', () => altered((c) => ({ ...c, iss: 'http://127.0.0.1:1' }))],
      ['an iat long ago', 'iat_invalid', () => altered((c) => ({ ...c, iat: Math.floor(Date.now() / 1000) - 3600 }))],
      ['no jti', 'jti_missing', () => altered((c) => without(c, 'jti'))],
      [
        'a signature by an unknown key (under the IdP kid)',
        'bad_signature',
        async () => altered((c) => c, { key: (await generateKeyPair('RS256')).privateKey }),
      ],
      [
        'a signature by an unknown key (an unknown kid)',
        'kid_unknown',
        async () => altered((c) => c, { key: (await generateKeyPair('RS256')).privateKey, header: { kid: 'not-a-dev-key' } }),
      ],
      [
        'a symmetric alg (HS256)',
        'alg_not_allowed',
        () => altered((c) => c, { key: new TextEncoder().encode('x'.repeat(32)), header: { alg: 'HS256' } }),
      ],
      [
        'alg none',
        'alg_not_allowed',
        async () => {
          const claims = decodeJwt(await aRealLogoutToken());
          return `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.`;
        },
      ],
      ['an access token typ', 'not_a_logout_token', () => altered((c) => c, { header: { typ: 'at+jwt' } })],
    ];
    for (const [name, reason, make] of cases)
      it(name, async () => {
        const { session, sid } = await loggedIn();
        const token = await make();
        // Aimed at this session: without the fault it would end it.
        const aimed = decodeJwt(token).sid === undefined ? token : await retarget(token, sid, name);
        const answer = await post(aimed);
        expect(answer).toMatchObject({ status: 400, body: { error: 'invalid_request' }, cacheControl: 'no-store' });
        expect(backend.refusals.at(-1)).toMatch(new RegExp(`^logout ${reason}:`));
        expect(await whoami(session)).toBe(200);
      });

    it('a replayed jti (the real token sent again)', async () => {
      const real = await aRealLogoutToken();
      expect(await post(real)).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
      expect(backend.refusals.at(-1)).toMatch(/^logout jti_reused/);
    });
  });
});

/** The same fault, aimed at a live session's sid: re-signed unless the case is the signature. */
async function retarget(token: string, sid: string, name: string): Promise<string> {
  if (/signature|alg/.test(name)) return token; // cannot re-sign these without curing them; their sid is another login's
  const header = decodeProtectedHeader(token) as { alg: string };
  return new SignJWT({ ...decodeJwt(token), sid }).setProtectedHeader(header).sign(await importJWK(idp.signingKey, 'RS256'));
}

/** The claims without these. */
function without(claims: JWTPayload, ...names: string[]): JWTPayload {
  const copy = { ...claims };
  for (const name of names) delete copy[name];
  return copy;
}
