import { execFile, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, tempConfigDir } from '../helpers/cli.js';
import { runInProcess } from '../helpers/root.js';

// The real git, cloning and pushing over smart HTTP from `git http-backend` behind a server that
// wants Basic auth with the profile's current token; latchkey is its credential helper.
const GIT = ['/usr/bin/git', '/usr/local/bin/git'].find((path) => existsSync(path));

describe.skipIf(!GIT)('git with latchkey as its credential helper', () => {
  let server: Server;
  let url: string;
  let accepted = 'first-token';
  const attempts: string[] = [];
  let env: Record<string, string>;
  let configDir: string;
  const root = mkdtempSync(join(tmpdir(), 'git-server-'));

  const run = (file: string, args: string[], cwd?: string) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((done) =>
      execFile(file, args, { env, cwd, timeout: 30_000 }, (error, stdout, stderr) =>
        done({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
      ),
    );

  beforeAll(async () => {
    const bin = mkdtempSync(join(tmpdir(), 'latchkey-bin-'));
    writeFileSync(join(bin, 'latchkey'), `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`);
    chmodSync(join(bin, 'latchkey'), 0o755);
    configDir = tempConfigDir();
    env = {
      PATH: `${bin}${delimiter}${process.env.PATH ?? ''}`,
      HOME: mkdtempSync(join(tmpdir(), 'git-home-')),
      LATCHKEY_CONFIG_DIR: configDir,
      LATCHKEY_STORAGE: 'file',
      GIT_TERMINAL_PROMPT: '0',
      GIT_AUTHOR_NAME: 'Ada',
      GIT_AUTHOR_EMAIL: 'ada@example.com',
      GIT_COMMITTER_NAME: 'Ada',
      GIT_COMMITTER_EMAIL: 'ada@example.com',
    };
    expect((await run(GIT!, ['init', '--bare', '-q', join(root, 'repo.git')])).code).toBe(0);
    expect((await run(GIT!, ['config', 'http.receivepack', 'true'], join(root, 'repo.git'))).code).toBe(0);
    // git http-backend as CGI, behind Basic auth with the token the server currently accepts.
    server = createServer((req, res) => {
      const auth = req.headers.authorization ?? '';
      const password = auth.startsWith('Basic ') ? Buffer.from(auth.slice(6), 'base64').toString().split(':').slice(1).join(':') : '';
      if (auth) attempts.push(password);
      if (password !== accepted) return void res.writeHead(401, { 'www-authenticate': 'Basic realm="git"' }).end();
      const [path, query = ''] = (req.url ?? '/').split('?');
      const cgi = spawn(GIT!, ['http-backend'], {
        env: {
          ...env,
          GIT_PROJECT_ROOT: root,
          GIT_HTTP_EXPORT_ALL: '1',
          REMOTE_USER: 'ada',
          PATH_INFO: path,
          QUERY_STRING: query,
          REQUEST_METHOD: req.method ?? 'GET',
          CONTENT_TYPE: req.headers['content-type'] ?? '',
        },
      });
      req.pipe(cgi.stdin);
      let head = Buffer.alloc(0);
      let headersDone = false;
      cgi.stdout.on('data', (chunk: Buffer) => {
        if (headersDone) return void res.write(chunk);
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        headersDone = true;
        let status = 200;
        for (const line of head.subarray(0, end).toString().split('\r\n')) {
          const [key, ...value] = line.split(':');
          if (key!.toLowerCase() === 'status') status = Number.parseInt(value.join(':').trim(), 10);
          else res.setHeader(key!, value.join(':').trim());
        }
        res.writeHead(status);
        res.write(head.subarray(end + 4));
      });
      cgi.stdout.on('end', () => res.end());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => server.close());

  it('setup git scopes the helper to the host; clone and push with the token; a refused token is erased, and the next get renews it (a with-token one cannot: exit 3, which git shows)', async () => {
    expect(
      (await runInProcess(['profile', 'add', 'code', '--issuer', 'https://idp.example.com', '--client-id', 'cli'], { configDir })).code,
    ).toBe(0);
    expect((await runInProcess(['login', '--with-token', '-p', 'code'], { configDir, env, input: 'first-token' })).code).toBe(0);
    const setup = await runInProcess(['setup', 'git', '-p', 'code', '--host', url], { configDir, env });
    expect(setup.code, setup.stderr).toBe(0);
    const helpers = await run(GIT!, ['config', '--global', '--get-regexp', 'credential']);
    expect(helpers.stdout).toContain(`credential.${url}.helper !latchkey git-credential -p code`);
    expect(helpers.stdout).not.toMatch(/^credential\.helper /m);

    const work = mkdtempSync(join(tmpdir(), 'git-work-'));
    const clone = await run(GIT!, ['clone', '-q', `${url}/repo.git`, join(work, 'repo')]);
    expect(clone.code, clone.stderr).toBe(0);
    writeFileSync(join(work, 'repo', 'README'), 'hello\n');
    expect((await run(GIT!, ['add', 'README'], join(work, 'repo'))).code).toBe(0);
    expect((await run(GIT!, ['commit', '-q', '-m', 'first'], join(work, 'repo'))).code).toBe(0);
    const push = await run(GIT!, ['push', '-q', 'origin', 'HEAD:main'], join(work, 'repo'));
    expect(push.code, push.stderr).toBe(0);
    expect(attempts.every((p) => p === 'first-token')).toBe(true);

    // The server stops accepting the token: git erases it; a with-token credential cannot be
    // renewed, so the next get is exit 3 with the way in, which git shows.
    accepted = 'second-token';
    const refused = await run(GIT!, ['push', '-q', 'origin', 'HEAD:other'], join(work, 'repo'));
    expect(refused.code).not.toBe(0);
    const again = await run(GIT!, ['push', '-q', 'origin', 'HEAD:other'], join(work, 'repo'));
    expect(again.stderr).toContain('latchkey: the credential of profile "code" cannot be renewed');
    // A fresh token, and git goes through again.
    expect((await runInProcess(['login', '--with-token', '-p', 'code'], { configDir, env, input: 'second-token' })).code).toBe(0);
    expect((await run(GIT!, ['push', '-q', 'origin', 'HEAD:other'], join(work, 'repo'))).code).toBe(0);
  });
});
