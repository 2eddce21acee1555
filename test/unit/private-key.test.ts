import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compactVerify, CompactSign } from 'jose';
import { describe, expect, it } from 'vitest';
import { loadPrivateKey } from '../../src/flows/client-credentials.js';

const dir = mkdtempSync(join(tmpdir(), 'latchkey-pk-'));
const write = (name: string, text: string | Buffer) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const pkcs8 = (key: KeyObject) => key.export({ type: 'pkcs8', format: 'pem' });

describe('loadPrivateKey (private_key_jwt)', () => {
  it.each([
    ['RSA (PKCS#8)', () => generateKeyPairSync('rsa', { modulusLength: 2048 }), 'RS256', pkcs8],
    [
      'RSA (PKCS#1)',
      () => generateKeyPairSync('rsa', { modulusLength: 2048 }),
      'RS256',
      (k: KeyObject) => k.export({ type: 'pkcs1', format: 'pem' }),
    ],
    [
      'EC P-256 (SEC1)',
      () => generateKeyPairSync('ec', { namedCurve: 'P-256' }),
      'ES256',
      (k: KeyObject) => k.export({ type: 'sec1', format: 'pem' }),
    ],
    ['EC P-384', () => generateKeyPairSync('ec', { namedCurve: 'P-384' }), 'ES384', pkcs8],
    ['Ed25519', () => generateKeyPairSync('ed25519'), 'EdDSA', pkcs8],
  ])('%s signs, verifiable with the public key', async (name, make, alg, encode) => {
    const { privateKey, publicKey } = make();
    const loaded = await loadPrivateKey(write(`${name}.pem`, encode(privateKey)));
    expect(loaded.alg).toBe(alg);
    const jws = await new CompactSign(new TextEncoder().encode('x')).setProtectedHeader({ alg }).sign(loaded.key);
    await expect(compactVerify(jws, publicKey)).resolves.toBeTruthy();
  });

  it('refuses a key that cannot sign (X25519), and an RSA-PSS-restricted key, with why', async () => {
    const { privateKey } = generateKeyPairSync('x25519');
    await expect(loadPrivateKey(write('x25519.pem', pkcs8(privateKey)))).rejects.toThrow(
      /is a x25519 key, which private_key_jwt cannot use/,
    );
    const pss = generateKeyPairSync('rsa-pss', { modulusLength: 2048 }).privateKey;
    await expect(loadPrivateKey(write('pss.pem', pkcs8(pss)))).rejects.toThrow(/RSA-PSS-restricted key/);
  });

  it('refuses a shared secret, a public key and an encrypted key with why (exit 2)', async () => {
    const secret = loadPrivateKey(write('secret.txt', 'c2hhcmVkLXNlY3JldA=='));
    await expect(secret).rejects.toMatchObject({ exitCode: 2 });
    await expect(loadPrivateKey(write('secret2.txt', 'c2hhcmVkLXNlY3JldA=='))).rejects.toThrow(/is not a usable private key/);
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await expect(loadPrivateKey(write('pub.pem', publicKey.export({ type: 'spki', format: 'pem' })))).rejects.toThrow(
      /public key or certificate/,
    );
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const encrypted = privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' });
    await expect(loadPrivateKey(write('enc.pem', encrypted))).rejects.toThrow(/is not a usable private key/);
  });
});
