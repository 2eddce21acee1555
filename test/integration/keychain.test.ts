import { existsSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KeychainSecretStore } from '../../src/store/keychain-secrets.js';
import { runCli, tempConfigDir } from '../helpers/cli.js';
import { runInProcess } from '../helpers/root.js';
import { entriesOf, secretServiceReachable, secretTool } from '../helpers/secret-service.js';

// A real Secret Service (scripts/with-secret-service.sh starts one; .ci/run runs the suite under
// it). Where none is reachable these tests are skipped, except in CI, where that is a failure: the
// keychain path must never go untested there without anyone noticing.
const reachable = await secretServiceReachable();
if (!reachable && process.env.CI) {
  throw new Error('CI=true but no Secret Service is reachable: run the suite under scripts/with-secret-service.sh');
}

const ISSUER = 'https://idp.example.com';

describe.skipIf(!reachable)('the OS keychain (a real Secret Service)', () => {
  it('login --with-token stores the record in the keychain, readable with secret-tool, and nothing in files', async () => {
    const configDir = tempConfigDir();
    const profile = `kc-${randomBytes(4).toString('hex')}`;
    expect(
      (await runInProcess(['profile', 'add', profile, '--issuer', ISSUER, '--client-id', 'cli', '--storage', 'keychain'], { configDir }))
        .code,
    ).toBe(0);
    const login = await runCli(['login', '--with-token', '-p', profile], { configDir, input: 'kc-secret-token' });
    expect(login.code, login.stderr).toBe(0);
    expect(login.stderr).toContain('OS keychain');

    const lookup = await secretTool(['lookup', 'service', 'latchkey', 'username', profile]);
    expect(lookup.code).toBe(0);
    expect(JSON.parse(lookup.stdout)).toMatchObject({ kind: 'api_key', token: 'kc-secret-token', via: 'with-token' });
    expect(existsSync(join(configDir, 'credentials.json'))).toBe(false);
    expect(readFileSync(join(configDir, 'config.json'), 'utf8')).not.toContain('kc-secret-token');

    const token = await runCli(['token', '-p', profile], { configDir });
    expect(token.stdout).toBe('kc-secret-token\n');
    const status = JSON.parse((await runCli(['status', '--json', '-p', profile], { configDir })).stdout);
    expect(status.profiles[0]).toMatchObject({ loggedIn: true, storage: 'keychain' });

    expect((await runCli(['logout', '-p', profile], { configDir })).code).toBe(0);
    expect((await secretTool(['lookup', 'service', 'latchkey', 'username', profile])).stdout).toBe('');
    expect((await runCli(['token', '-p', profile], { configDir })).code).toBe(3);
  });

  it('storage auto uses the keychain when it is reachable, with no warning', async () => {
    const configDir = tempConfigDir();
    const profile = `auto-${randomBytes(4).toString('hex')}`;
    expect((await runInProcess(['profile', 'add', profile, '--issuer', ISSUER, '--client-id', 'cli'], { configDir })).code).toBe(0);
    const login = await runCli(['login', '--with-token', '-p', profile], { configDir, input: 'auto-token' });
    expect(login.code, login.stderr).toBe(0);
    expect(login.stderr).not.toMatch(/warning/i);
    expect(existsSync(join(configDir, 'credentials.json'))).toBe(false);
    expect(JSON.parse((await secretTool(['lookup', 'service', 'latchkey', 'username', profile])).stdout).token).toBe('auto-token');
    expect((await runCli(['logout', '-p', profile], { configDir })).code).toBe(0);
  });

  it('splits a record larger than one entry may hold into parts, joins them on read, and leaves no stray parts', async () => {
    const service = `latchkey-test-${randomBytes(4).toString('hex')}`;
    const store = new KeychainSecretStore({ service, maxEntryLength: 100 });
    const big = `{"token":"${'x'.repeat(950)}"}`;

    await store.set('prod', big);
    expect(await store.get('prod')).toBe(big);
    const parts = await entriesOf(service);
    expect(parts).toHaveLength(1 + 10);
    expect(parts.filter((account) => account !== 'prod').every((account) => account.startsWith('prod#'))).toBe(true);
    expect(await store.list()).toEqual(['prod']);

    // Replacing it drops the old generation of parts; a small value needs none at all.
    await store.set('prod', `${big}!`);
    expect(await store.get('prod')).toBe(`${big}!`);
    expect(await entriesOf(service)).toHaveLength(1 + 10);
    await store.set('prod', 'small');
    expect(await store.get('prod')).toBe('small');
    expect(await entriesOf(service)).toEqual(['prod']);

    await store.set('prod', big);
    expect(await store.delete('prod')).toBe(true);
    expect(await store.get('prod')).toBeNull();
    expect(await entriesOf(service)).toEqual([]);
  });
});

describe.skipIf(!reachable)('a keychain write that fails', () => {
  it('leaves the previous credential in the keychain and the config as they were', async () => {
    const { createServer } = await import('node:net');
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    // A D-Bus address that accepts connections and never answers: the write times out.
    const path = join(mkdtempSync(join(tmpdir(), 'latchkey-bus-')), 'bus');
    const sockets: import('node:net').Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(path, resolve));
    try {
      const configDir = tempConfigDir();
      const profile = `fail-${randomBytes(4).toString('hex')}`;
      expect(
        (await runInProcess(['profile', 'add', profile, '--issuer', ISSUER, '--client-id', 'cli', '--storage', 'keychain'], { configDir }))
          .code,
      ).toBe(0);
      expect((await runCli(['login', '--with-token', '-p', profile], { configDir, input: 'old-token' })).code).toBe(0);
      const config = readFileSync(join(configDir, 'config.json'));

      const failed = await runCli(['login', '--with-token', '-p', profile], {
        configDir,
        input: 'new-token',
        env: { DBUS_SESSION_BUS_ADDRESS: `unix:path=${path}`, LATCHKEY_KEYCHAIN_TIMEOUT: '1' },
      });
      expect(failed.code).toBe(6);
      expect(readFileSync(join(configDir, 'config.json')).equals(config)).toBe(true);
      expect(JSON.parse((await secretTool(['lookup', 'service', 'latchkey', 'username', profile])).stdout).token).toBe('old-token');
      expect((await runCli(['token', '-p', profile], { configDir })).stdout).toBe('old-token\n');
      expect((await runCli(['logout', '-p', profile], { configDir })).code).toBe(0);
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });
});
