import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN } from '../helpers/cli.js';
import { loginSetup, startStack, USER_AGENT, type LoginSetup, type Stack } from '../helpers/stack.js';
import { makeTestCa } from '../helpers/tls.js';

// The real kubectl (Debian's kubernetes-client, installed by scripts/setup-e2e.sh) with latchkey
// as its exec credential plugin, against a local HTTPS API server that wants a bearer token.
const KUBECTL = ['/usr/bin/kubectl', '/usr/local/bin/kubectl'].find((path) => existsSync(path));

describe.skipIf(!KUBECTL)('kubectl with latchkey as its exec credential plugin', () => {
  let stack: Stack;
  let api: Server;
  let setup: LoginSetup;
  let env: Record<string, string>;
  const seen: string[] = [];

  const kubectl = (args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((done) =>
      execFile(KUBECTL!, args, { env, timeout: 30_000 }, (error, stdout, stderr) =>
        done({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
      ),
    );

  beforeAll(async () => {
    stack = await startStack({ backend: {} });
    const ca = await makeTestCa();
    api = createServer({ key: ca.key, cert: ca.cert }, (req, res) => {
      const auth = req.headers.authorization ?? '';
      if (!auth.startsWith('Bearer ')) return void res.writeHead(401).end('{"kind":"Status","code":401}');
      seen.push(auth.slice('Bearer '.length));
      res.setHeader('content-type', 'application/json');
      res.end('{"ok":true}');
    });
    await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
    setup = await loginSetup(stack, [], { backend: false });
    // kubectl runs `latchkey` from PATH, with its own environment passed on.
    const bin = mkdtempSync(join(tmpdir(), 'latchkey-bin-'));
    writeFileSync(join(bin, 'latchkey'), `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`);
    chmodSync(join(bin, 'latchkey'), 0o755);
    env = {
      PATH: `${bin}${delimiter}${process.env.PATH ?? ''}`,
      HOME: mkdtempSync(join(tmpdir(), 'kube-home-')),
      KUBECONFIG: join(mkdtempSync(join(tmpdir(), 'kube-')), 'config'),
      LATCHKEY_CONFIG_DIR: setup.configDir,
      LATCHKEY_STORAGE: 'file',
      NO_COLOR: '1',
    };
    const server = `https://127.0.0.1:${(api.address() as AddressInfo).port}`;
    expect((await kubectl(['config', 'set-cluster', 'test', `--server=${server}`, `--certificate-authority=${ca.caFile}`])).code).toBe(0);
  });
  afterAll(async () => {
    api.close();
    await stack.close();
  });

  it('setup kubectl --write defines the user and context; kubectl gets 200 with the fresh token, renews it when it expires', async () => {
    expect((await setup.run(['login'])).code).toBe(0);
    const written = await setup.run(['setup', 'kubectl', '--cluster', 'test', '--write'], { env: { KUBECONFIG: env.KUBECONFIG } });
    expect(written.code, written.stderr).toBe(0);
    expect(written.stderr).toContain('kubectl config use-context latchkey-demo');

    const first = await kubectl(['--context', 'latchkey-demo', 'get', '--raw', '/api/v1/namespaces']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toBe('{"ok":true}');
    const token = (await setup.run(['token'])).stdout.trim();
    expect(seen.at(-1)).toBe(token);

    // Time passes: the stored credential says it has expired (its refresh token still works).
    const past = new Date(Date.now() - 60_000).toISOString();
    const credentialsFile = join(setup.configDir, 'credentials.json');
    const credentials = JSON.parse(readFileSync(credentialsFile, 'utf8')) as Record<string, Record<string, string>>;
    credentials.latchkey!.demo = JSON.stringify({ ...JSON.parse(credentials.latchkey!.demo!), expiresAt: past });
    writeFileSync(credentialsFile, JSON.stringify(credentials), { mode: 0o600 });
    const configFile = join(setup.configDir, 'config.json');
    const config = JSON.parse(readFileSync(configFile, 'utf8')) as { logins: Record<string, { expiresAt?: string }> };
    config.logins.demo!.expiresAt = past;
    writeFileSync(configFile, JSON.stringify(config), { mode: 0o600 });

    const second = await kubectl(['--context', 'latchkey-demo', 'get', '--raw', '/api/v1/namespaces']);
    expect(second.code, second.stderr).toBe(0);
    const renewed = (await setup.run(['token'])).stdout.trim();
    expect(renewed).not.toBe(token);
    expect(seen.at(-1)).toBe(renewed);
  });

  it('logged out, with no terminal: kubectl fails and shows what latchkey says', async () => {
    expect((await setup.run(['logout'])).code).toBe(0);
    const result = await kubectl(['--context', 'latchkey-demo', 'get', '--raw', '/api/v1/namespaces']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('profile "demo" is not logged in');
    expect(result.stderr).toContain('Run: latchkey login -p demo');
  });

  it('logged out, with kubectl on a terminal: latchkey signs in in the browser (on stderr), and kubectl gets its answer', async () => {
    expect((await setup.run(['status'])).code).toBe(3);
    // `script` gives kubectl a real pseudo-terminal: it then tells the plugin it is interactive.
    const command = `"${KUBECTL}" --context latchkey-demo get --raw /api/v1/namespaces`;
    const result = await new Promise<{ code: number; output: string }>((done) =>
      execFile(
        'script',
        ['-qec', command, '/dev/null'],
        {
          env: {
            ...env,
            TERM: 'xterm',
            BROWSER: `"${process.execPath}" "${USER_AGENT}"`,
            LATCHKEY_DEV_UA_LOG: join(setup.configDir, '..', 'ua-kubectl.log'),
            LATCHKEY_DEV_UA_ACTION: 'login',
            LATCHKEY_DEV_UA_USER: 'ada',
          },
          timeout: 60_000,
        },
        (error, stdout) => done({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, output: stdout }),
      ),
    );
    expect(result.output).toContain('signing in for kubectl');
    expect(result.output).toContain('{"ok":true}');
    expect(result.code).toBe(0);
    expect((await setup.run(['status'])).code).toBe(0);
  });
});
