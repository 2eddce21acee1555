import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { createLoginDeps, createProfileStore, getExecCredential } from '../../src/index.js';
import { tempConfigDir } from '../helpers/cli.js';
import { runInProcess } from '../helpers/root.js';

// The library's ExecCredential: what `token --output exec-credential` prints, for a program of its own.
describe('getExecCredential', () => {
  it('gives the version kubectl asks for, the token and its end in whole seconds; not logged in is exit 3', async () => {
    const configDir = tempConfigDir();
    expect(
      (await runInProcess(['profile', 'add', 'k8s', '--issuer', 'https://idp.example.com', '--client-id', 'cli'], { configDir })).code,
    ).toBe(0);
    const exp = Math.floor(Date.now() / 1000) + 3600;
    const jwt = await new SignJWT({ sub: 'ada', exp }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode('k'.repeat(32)));
    const profile = createProfileStore({ dir: configDir }).all().k8s!;
    const deps = await createLoginDeps({ configDir, storage: 'file' });
    const input = { profileName: 'k8s', profile, globalTokenEnv: 'LATCHKEY_TOKEN' };
    await expect(getExecCredential(input, { ...deps, env: {} })).rejects.toMatchObject({ exitCode: 3 });

    expect(
      (await runInProcess(['login', '--with-token', '-p', 'k8s'], { configDir, env: { LATCHKEY_STORAGE: 'file' }, input: jwt })).code,
    ).toBe(0);
    const info = JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1beta1', spec: { interactive: false } });
    expect(await getExecCredential(input, { ...deps, env: { KUBERNETES_EXEC_INFO: info } })).toEqual({
      kind: 'ExecCredential',
      apiVersion: 'client.authentication.k8s.io/v1beta1',
      spec: { interactive: false },
      status: { token: jwt, expirationTimestamp: new Date(exp * 1000).toISOString().replace('.000Z', 'Z') },
    });
    await expect(getExecCredential(input, { ...deps, env: { KUBERNETES_EXEC_INFO: '{"apiVersion":"x/v9"}' } })).rejects.toMatchObject({
      exitCode: 2,
    });
  });
});
