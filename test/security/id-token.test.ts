import { createPublicKey } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { decodeJwt, exportJWK, generateKeyPair, importJWK, SignJWT, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loginSetup, startStack, type Stack } from '../helpers/stack.js';

// After the OpenID RP tests (rp-id_token-bad-sig-rs256, -aud, -iat, -issuer-mismatch, -sub,
// rp-nonce-invalid, rp-id_token-kid-absent-multiple-jwks): the IdP's token endpoint answers with a
// doctored id_token (re-signed with the IdP's own key unless the case is about the key), and
// every check must refuse it with exit 4, name the check, and store nothing.
let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack.close());

async function resign(token: string, change: (claims: JWTPayload) => JWTPayload, key = stack.idp.signingKey): Promise<string> {
  const claims = change(decodeJwt(token));
  return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: key.kid, typ: 'JWT' }).sign(await importJWK(key, 'RS256'));
}

const now = () => Math.floor(Date.now() / 1000);

describe('id_token checks (each refuses the login, nothing stored)', () => {
  it.each([
    ['a wrong iss', (c: JWTPayload) => ({ ...c, iss: 'https://evil.example' }), /unexpected JWT "iss" \(issuer\) claim value/],
    [
      'an aud without the client id',
      (c: JWTPayload) => ({ ...c, aud: 'some-other-client' }),
      /unexpected JWT "aud" \(audience\) claim value/,
    ],
    ['a wrong nonce', (c: JWTPayload) => ({ ...c, nonce: 'replayed-nonce' }), /unexpected ID Token "nonce" claim value/],
    [
      'an expired token',
      (c: JWTPayload) => ({ ...c, iat: now() - 7200, exp: now() - 3600 }),
      /"exp" \(expiration time\) claim value, expiration is past/,
    ],
    ['a missing nonce', (c: JWTPayload) => ({ ...c, nonce: undefined }), /"nonce"/],
    ['a missing sub', (c: JWTPayload) => ({ ...c, sub: undefined }), /"sub"/],
    ['an iat far in the future', (c: JWTPayload) => ({ ...c, iat: now() + 86_400, exp: now() + 90_000 }), /"iat"/],
    ['several audiences and no azp', (c: JWTPayload) => ({ ...c, aud: [String(c.aud), 'another-client'], azp: undefined }), /azp|aud/],
    [
      'several audiences and a wrong azp',
      (c: JWTPayload) => ({ ...c, aud: [String(c.aud), 'another-client'], azp: 'another-client' }),
      /azp/,
    ],
  ])('%s', async (_name, change, message) => {
    stack.idp.tamperIdToken = (token) => resign(token, change);
    try {
      const setup = await loginSetup(stack);
      const login = await setup.run(['login']);
      expect(login.code, login.stderr).toBe(4);
      expect(login.stderr).toMatch(message);
      expect(login.stderr).toContain('nothing was stored');
      expect(existsSync(join(setup.configDir, 'credentials.json'))).toBe(false);
      expect(stack.backend.sessions.size).toBe(0);
      expect((await setup.uaDone()).at(-1)).toMatchObject({ step: 'callback', status: 400 });
    } finally {
      stack.idp.tamperIdToken = undefined;
    }
  });

  it('a signature by a key that is not in the JWKS', async () => {
    const { privateKey } = await generateKeyPair('RS256', { extractable: true });
    const rogue = { ...(await exportJWK(privateKey)), kid: 'rogue-key' };
    stack.idp.tamperIdToken = (token) => resign(token, (c) => c, rogue);
    try {
      const setup = await loginSetup(stack);
      const login = await setup.run(['login']);
      expect(login.code).toBe(4);
      expect(login.stderr).toContain(
        "the IdP's id_token failed verification: its key id is not in the IdP's published keys (JWKS); nothing was stored",
      );
      expect(existsSync(join(setup.configDir, 'credentials.json'))).toBe(false);
    } finally {
      stack.idp.tamperIdToken = undefined;
    }
  });

  it("a signature by another key under the IdP's own kid", async () => {
    const { privateKey } = await generateKeyPair('RS256', { extractable: true });
    const impostor = { ...(await exportJWK(privateKey)), kid: stack.idp.signingKey.kid };
    stack.idp.tamperIdToken = (token) => resign(token, (c) => c, impostor);
    try {
      const setup = await loginSetup(stack);
      const login = await setup.run(['login']);
      expect(login.code).toBe(4);
      expect(login.stderr).toContain("the signature does not match the IdP's key");
      expect(existsSync(join(setup.configDir, 'credentials.json'))).toBe(false);
    } finally {
      stack.idp.tamperIdToken = undefined;
    }
  });

  it.each([
    ['alg none (an unsigned token)', 'none'],
    ['HS256 signed with the RSA public key as the secret (algorithm confusion)', 'HS256'],
  ])('%s', async (_name, alg) => {
    stack.idp.tamperIdToken = async (token) => {
      const [, payload] = token.split('.');
      if (alg === 'none') return `${Buffer.from('{"alg":"none"}').toString('base64url')}.${payload}.`;
      const { kty, n, e } = stack.idp.signingKey;
      const publicPem = createPublicKey({ key: { kty: kty!, n: n!, e: e! }, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
      return new SignJWT(decodeJwt(token))
        .setProtectedHeader({ alg: 'HS256', kid: stack.idp.signingKey.kid })
        .sign(new TextEncoder().encode(String(publicPem)));
    };
    try {
      const setup = await loginSetup(stack);
      const login = await setup.run(['login']);
      expect(login.code, login.stderr).toBe(4);
      expect(login.stderr).toMatch(/"alg"|algorithm/);
      expect(existsSync(join(setup.configDir, 'credentials.json'))).toBe(false);
    } finally {
      stack.idp.tamperIdToken = undefined;
    }
  });

  it('no kid while the IdP publishes several keys', async () => {
    const twoKeys = await startStack({ idp: { extraSigningKeys: 1 } });
    twoKeys.idp.tamperIdToken = async (token) => {
      const key = await importJWK(twoKeys.idp.signingKey, 'RS256');
      return new SignJWT(decodeJwt(token)).setProtectedHeader({ alg: 'RS256' }).sign(key);
    };
    try {
      const setup = await loginSetup(twoKeys);
      const login = await setup.run(['login']);
      expect(login.code, login.stderr).toBe(4);
      expect(login.stderr).toContain('no key id (kid) while the IdP publishes several keys');
      expect(existsSync(join(setup.configDir, 'credentials.json'))).toBe(false);
    } finally {
      await twoKeys.close();
    }
  });
});
