import { CompactEncrypt, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeJwt, NotAJwtError } from '../../src/token/decode.js';
import { BACKCHANNEL_LOGOUT_EVENT, chooseAudience, inspect, type InspectOptions } from '../../src/token/inspect.js';
import { renderInspection } from '../../src/token/render.js';
import { safeText } from '../../src/io/text.js';

const NOW = new Date('2026-11-22T12:00:00Z');
const now = Math.floor(NOW.getTime() / 1000);
const ISSUER = 'https://idp.example.com/';
const keys: Record<string, CryptoKey> = {};

beforeAll(async () => {
  for (const alg of ['RS256', 'ES256', 'EdDSA']) keys[alg] = (await generateKeyPair(alg)).privateKey;
});

async function jwt(claims: JWTPayload, header: Record<string, unknown> = {}, alg = 'RS256'): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg, kid: 'k1', ...header }).sign(keys[alg]!);
}

const base = { iss: ISSUER, sub: 'user-1', iat: now - 60, exp: now + 3600 };
const profile: InspectOptions = {
  now: NOW,
  expectedIssuer: ISSUER,
  clientId: 'cli',
  audiencePriority: ['api-token-auth.chainloop', 'user-auth.chainloop', 'chainloop'],
};
const run = (token: string, options: Partial<InspectOptions> = {}) =>
  Promise.resolve(inspect(decodeJwt(token), { ...profile, ...options }));
const codes = (result: Awaited<ReturnType<typeof run>>) => result.diagnostics.map((d) => d.code);

describe('kind', () => {
  it.each([
    ['id_token (nonce, RS256)', { ...base, aud: 'cli', nonce: 'n' }, {}, 'RS256', 'id_token'],
    ['id_token (aud = client id, ES256)', { ...base, aud: 'cli', email: 'a@b' }, {}, 'ES256', 'id_token'],
    [
      'access_token (RFC 9068 typ, EdDSA)',
      { ...base, aud: 'https://api', client_id: 'cli', scope: 'read' },
      { typ: 'at+jwt' },
      'EdDSA',
      'access_token',
    ],
    ['access_token (scope)', { ...base, aud: 'https://api', scope: 'read write' }, {}, 'RS256', 'access_token'],
    [
      'logout_token',
      { iss: ISSUER, aud: 'cli', iat: now, jti: 'j', sid: 's', events: { [BACKCHANNEL_LOGOUT_EVENT]: {} } },
      { typ: 'logout+jwt' },
      'ES256',
      'logout_token',
    ],
    [
      'client_assertion',
      { iss: 'svc', sub: 'svc', aud: 'https://idp.example.com/oauth/token', jti: 'j', iat: now, exp: now + 60 },
      {},
      'ES256',
      'client_assertion',
    ],
    [
      'service_token (gty)',
      { ...base, sub: 'abc@clients', aud: 'https://api', gty: 'client-credentials', scope: 'account:usage:read' },
      {},
      'RS256',
      'service_token',
    ],
    [
      'service_token (sub = client_id)',
      { ...base, sub: 'svc', client_id: 'svc', aud: 'https://api', scope: 'x' },
      {},
      'RS256',
      'service_token',
    ],
    [
      'kubernetes_sa',
      {
        iss: 'https://kubernetes.default.svc',
        sub: 'system:serviceaccount:ci:deployer',
        aud: ['https://kubernetes.default.svc'],
        iat: now,
        exp: now + 600,
      },
      {},
      'RS256',
      'kubernetes_sa',
    ],
    ['a profile audience class', { ...base, aud: ['chainloop', 'user-auth.chainloop'] }, {}, 'EdDSA', 'user-auth.chainloop'],
    ['unknown', { ...base, aud: ['unknown1', 'unknown2'] }, {}, 'RS256', 'unknown'],
  ])('%s', async (_name, claims, header, alg, kind) => {
    expect((await run(await jwt(claims as JWTPayload, header, alg))).kind).toBe(kind);
  });
});

describe('audience is a set, chosen by priority', () => {
  const priority = ['api-token-auth.chainloop', 'user-auth.chainloop', 'chainloop'];
  it.each([
    [['chainloop', 'user-auth.chainloop'], 'user-auth.chainloop'],
    [['user-auth.chainloop', 'chainloop'], 'user-auth.chainloop'],
    [['chainloop'], 'chainloop'],
    [['unknown1', 'unknown2'], null],
    [[], null],
  ])('%j → %s', async (aud, chosen) => {
    expect(chooseAudience(aud, priority)).toBe(chosen);
    const result = await run(await jwt({ ...base, aud }), { audiencePriority: priority, clientId: undefined });
    expect(result.audience).toEqual({ chosen, all: aud });
  });
});

describe('diagnostics', () => {
  it('a fresh id_token for this client has none', async () => {
    expect((await run(await jwt({ ...base, aud: 'cli', nonce: 'n' }))).diagnostics).toEqual([]);
  });

  it.each([
    ['expired', { ...base, aud: 'cli', iat: now - 7200, exp: now - 3 * 3600 }, 'error', /expired 3 h ago/],
    ['not_yet_valid', { ...base, aud: 'cli', nbf: now + 3600 }, 'error', /not valid until/],
    ['issued_in_future', { ...base, aud: 'cli', iat: now + 600 }, 'error', /issued in 10 min/],
    ['issuer_mismatch', { ...base, aud: 'cli', iss: 'https://idp.example.com' }, 'error', /differ only in the trailing "\/"/],
    ['audience_mismatch', { ...base, aud: ['web-app'] }, 'error', /contains neither the client id nor any known audience/],
    ['azp_missing', { ...base, aud: ['cli', 'api'], nonce: 'n' }, 'error', /2 audiences and no "azp"/],
  ])('%s', async (code, claims, level, message) => {
    const result = await run(await jwt(claims));
    expect(result.diagnostics).toContainEqual({ level, code, message: expect.stringMatching(message) });
  });

  it('clock skew is tolerated up to --clock-skew', async () => {
    const token = await jwt({ ...base, aud: 'cli', exp: now - 30 });
    expect(codes(await run(token))).toEqual([]);
    expect(codes(await run(token, { clockSkewSec: 10 }))).toEqual(['expired']);
  });

  it('a multi-audience id_token with azp is fine', async () => {
    expect(codes(await run(await jwt({ ...base, aud: ['cli', 'api'], azp: 'cli', nonce: 'n' })))).toEqual([]);
  });

  it('alg none and symmetric algorithms', async () => {
    const unsigned = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ ...base, aud: 'cli' })).toString('base64url')}.`;
    expect((await run(unsigned)).diagnostics).toContainEqual(expect.objectContaining({ level: 'error', code: 'alg_none' }));
    const hs = await new SignJWT({ ...base, aud: 'cli' })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode('x'.repeat(32)));
    expect((await run(hs)).diagnostics).toContainEqual(expect.objectContaining({ level: 'warning', code: 'alg_symmetric' }));
  });

  it('a logout_token with a nonce, or with neither sub nor sid, is an error', async () => {
    const events = { [BACKCHANNEL_LOGOUT_EVENT]: {} };
    expect(codes(await run(await jwt({ iss: ISSUER, aud: 'cli', iat: now, jti: 'j', sub: 'u', events, nonce: 'n' })))).toEqual([
      'logout_token_nonce',
    ]);
    expect(codes(await run(await jwt({ iss: ISSUER, aud: 'cli', iat: now, jti: 'j', events })))).toEqual(['logout_token_subject_missing']);
  });

  it('an encrypted token (JWE) shows its header only', async () => {
    const { publicKey } = await generateKeyPair('RSA-OAEP-256');
    const jwe = await new CompactEncrypt(new TextEncoder().encode('secret'))
      .setProtectedHeader({ alg: 'RSA-OAEP-256', enc: 'A256GCM', kid: 'enc-1' })
      .encrypt(publicKey);
    const result = await run(jwe);
    expect(result).toMatchObject({ claims: null, kind: 'unknown', header: { alg: 'RSA-OAEP-256', enc: 'A256GCM' } });
    expect(result.diagnostics).toEqual([expect.objectContaining({ level: 'info', code: 'encrypted' })]);
  });
});

describe('input that is not a JWT', () => {
  it.each([
    ['', 'the input is empty'],
    ['abc', 'expected 3 dot-separated parts (or 5 for an encrypted JWT), got 1'],
    ['a.b', 'got 2'],
    ['!!.e30.x', 'the header is not base64url'],
    [`${Buffer.from('not json').toString('base64url')}.e30.x`, 'header is not JSON'],
    [`${Buffer.from('[1]').toString('base64url')}.e30.x`, 'header is not a JSON object'],
    [`e30.${Buffer.from('"str"').toString('base64url')}.x`, 'payload is not a JSON object'],
    ['x'.repeat(70_000), 'at most 65536'],
  ])('%j is refused: %s', (input, message) => {
    expect(() => decodeJwt(input)).toThrow(NotAJwtError);
    expect(() => decodeJwt(input)).toThrow(message);
  });

  it('trims whitespace and a Bearer prefix', async () => {
    const token = await jwt({ ...base, aud: 'cli' });
    expect(decodeJwt(`  Authorization: Bearer ${token}\n`).claims).toMatchObject({ sub: 'user-1' });
  });
});

describe('rendering attacker-controlled claims', () => {
  it('escapes ANSI sequences, control and bidi characters in the human view', async () => {
    const token = await jwt({ ...base, aud: 'cli', name: 'a\u001b[2J\u001b]0;owned\u0007b', note: 'abc\u202Edcba', 'k\u001b[31m': 1 });
    const lines = renderInspection(await run(token), { now: NOW, color: false }).join('\n');
    expect(lines).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f\u202e]/);
    expect(lines).toContain('a\\u001b[2J\\u001b]0;owned\\u0007b');
    expect(lines).toContain('abc\\u202edcba');
    expect(safeText('plain text')).toBe('plain text');
  });

  it('shows time claims as ISO and relative', async () => {
    const lines = renderInspection(await run(await jwt({ ...base, aud: 'cli', exp: now - 3 * 3600 })), { now: NOW, color: false });
    expect(lines).toContainEqual(`  exp  ${now - 3 * 3600}  ${new Date((now - 3 * 3600) * 1000).toISOString()} (3 h ago)`);
  });
});

describe('IdP-aware diagnosis: the cause a token shows, with its fix', () => {
  const ENTRA_V2 = 'https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0';
  const hs = (claims: JWTPayload) =>
    new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode('realm-secret-of-32-bytes-long!!!'));

  it('an Entra v1.0 token where a v2.0 issuer is expected: error, and the manifest fix', async () => {
    const v1 = await jwt({
      ...base,
      iss: 'https://sts.windows.net/9188040d-6c67-4c5b-b112-36a304b66dad/',
      ver: '1.0',
      aud: 'api://app',
      scp: 'read',
    });
    const result = await run(v1, { expectedIssuer: ENTRA_V2 });
    const d = result.diagnostics.find((x) => x.code === 'entra_v1_token')!;
    expect(d.level).toBe('error');
    expect(d.message).toContain('"requestedAccessTokenVersion": 2');
  });

  it('an Entra Graph token (nonce in its header): only Graph can verify it', async () => {
    const graph = await jwt({ ...base, aud: '00000003-0000-0000-c000-000000000000', scp: 'User.Read' }, { nonce: 'abc' });
    expect((await run(graph)).diagnostics).toContainEqual(
      expect.objectContaining({ code: 'entra_graph_token', level: 'warning', message: expect.stringContaining('only Graph can verify') }),
    );
  });

  it('a multi-tenant Entra issuer (common) matches the token of any tenant named by its tid', async () => {
    const tid = '9188040d-6c67-4c5b-b112-36a304b66dad';
    const token = await jwt({ ...base, iss: ENTRA_V2, tid, aud: 'cli', nonce: 'n' });
    expect(codes(await run(token, { expectedIssuer: 'https://login.microsoftonline.com/common/v2.0' }))).not.toContain('issuer_mismatch');
    const forged = await jwt({ ...base, iss: ENTRA_V2, tid: 'another-tenant', aud: 'cli', nonce: 'n' });
    expect(codes(await run(forged, { expectedIssuer: 'https://login.microsoftonline.com/common/v2.0' }))).toContain('issuer_mismatch');
  });

  it('an Auth0 opaque access token (JWE, dir, no audience asked): the fix is the audience', async () => {
    const jwe = await new CompactEncrypt(new TextEncoder().encode('{}'))
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', iss: 'https://acme.eu.auth0.com/' })
      .encrypt(new Uint8Array(32));
    const result = await run(jwe);
    expect(result.diagnostics).toContainEqual(
      expect.objectContaining({ code: 'auth0_opaque_token', message: expect.stringContaining('profile set <name> audience') }),
    );
  });

  it('a Google ya29. access token is named as such (exit 2: not a JWT, and why)', () => {
    expect(() => decodeJwt('ya29.a0AfB_byC-opaque-google-token')).toThrow(/Google OAuth access token \(ya29\.…\), opaque by design/);
  });

  it('an Okta org authorization server access token: not for third-party validation', async () => {
    const token = await jwt({
      ...base,
      iss: 'https://acme.okta.com',
      aud: 'https://acme.okta.com',
      cid: 'cli',
      scp: ['openid'],
      scope: 'openid',
    });
    expect((await run(token)).diagnostics).toContainEqual(
      expect.objectContaining({ code: 'okta_org_token', message: expect.stringContaining('/oauth2/default') }),
    );
    const custom = await jwt({ ...base, iss: 'https://acme.okta.com/oauth2/default', aud: 'api://default', scope: 'openid' });
    expect(codes(await run(custom))).not.toContain('okta_org_token');
  });

  it('a Keycloak refresh token (HS-signed, typ Refresh): info, by design, and no alg_symmetric warning', async () => {
    const result = await run(
      await hs({ ...base, iss: 'https://kc.example/realms/acme', aud: 'https://kc.example/realms/acme', typ: 'Refresh', azp: 'cli' }),
    );
    expect(result.diagnostics).toContainEqual(expect.objectContaining({ code: 'keycloak_refresh_token', level: 'info' }));
    expect(codes(result)).not.toContain('alg_symmetric');
  });

  it('auth_time 0 (warning) or in the future (error)', async () => {
    expect((await run(await jwt({ ...base, aud: 'cli', nonce: 'n', auth_time: 0 }))).diagnostics).toContainEqual(
      expect.objectContaining({ code: 'auth_time_invalid', level: 'warning' }),
    );
    expect((await run(await jwt({ ...base, aud: 'cli', nonce: 'n', auth_time: now + 3600 }))).diagnostics).toContainEqual(
      expect.objectContaining({ code: 'auth_time_invalid', level: 'error' }),
    );
  });
});

describe('relative times', () => {
  it('a time of this very second is "now", never "in 0 s"', async () => {
    const { relativeTime } = await import('../../src/io/format.js');
    expect(relativeTime(NOW, NOW)).toBe('now');
    expect(relativeTime(new Date(NOW.getTime() + 59_000), NOW)).toBe('in 59 s');
    expect(relativeTime(new Date(NOW.getTime() - 3 * 3600_000), NOW)).toBe('3 h ago');
  });
});
