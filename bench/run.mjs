// `npm run bench`: latchkey's start-up and login time against bare Node, measured in one run.
// Each case alternates the baseline and latchkey (BENCH_RUNS times, default 15); its ratio is the
// median of each run's ratio to the bare run next to it. Results go to bench/results.json, one
// entry per Node major (run it with another node binary for another: `/path/to/node24
// bench/run.mjs`). Not a test: nothing here fails the build.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin/latchkey.js');
const RUNS = Number(process.env.BENCH_RUNS ?? 15);
const NODE = process.execPath;

/** Run a command asynchronously (the IdP lives in this process); resolve with its wall time in ms. */
function run(command, args, { env = {}, input = '' } = {}) {
  return new Promise((done, fail) => {
    const started = process.hrtime.bigint();
    const child = spawn(command, args, {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        NO_COLOR: '1',
        ...(process.env.DBUS_SESSION_BUS_ADDRESS ? { DBUS_SESSION_BUS_ADDRESS: process.env.DBUS_SESSION_BUS_ADDRESS } : {}),
        ...env,
      },
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', fail);
    child.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      if (code !== 0) fail(new Error(`${[command, ...args].join(' ')} exited ${code}: ${stderr.slice(0, 500)}`));
      else done({ ms, stderr });
    });
    child.stdin.end(input);
  });
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

const results = [];
async function compare(name, target, baseline, subject, runs = RUNS) {
  const base = [];
  const ours = [];
  await baseline();
  await subject(); // warm the file cache for both
  for (let i = 0; i < runs; i += 1) {
    base.push(await baseline());
    ours.push(await subject());
  }
  const row = {
    case: name,
    baselineMs: +median(base).toFixed(1),
    latchkeyMs: +median(ours).toFixed(1),
    // Each run against the bare one next to it: the machine's speed drifts within a case by more
    // than the differences measured, and a slow spell then counts against both sides alike.
    ratio: +median(ours.map((ms, i) => ms / base[i])).toFixed(2),
    target,
    runs,
  };
  row.met = target === null ? null : row.ratio <= target;
  results.push(row);
  process.stderr.write(
    `  ${name}: ${row.latchkeyMs} ms vs ${row.baselineMs} ms = ${row.ratio}× (${target === null ? 'no target' : `target ≤ ${target}×`})\n`,
  );
}

const bare = () => run(NODE, ['-e', '']).then((r) => r.ms);
const latchkey = (args, options) => () => run(NODE, [BIN, ...args], options).then((r) => r.ms);

// A config with a logged-in profile on the file store (and one on the keychain when there is one).
const configDir = join(mkdtempSync(join(tmpdir(), 'latchkey-bench-')), 'config');
const env = { LATCHKEY_CONFIG_DIR: configDir };
const JWT = `${Buffer.from('{"alg":"RS256","kid":"k1"}').toString('base64url')}.${Buffer.from(JSON.stringify({ iss: 'https://idp.example.com', aud: ['a', 'b'], sub: 'u', exp: 2e9, iat: 1.7e9 })).toString('base64url')}.c2lnbmF0dXJl`;
await run(NODE, [BIN, 'profile', 'add', 'bench', '--issuer', 'https://idp.example.com', '--client-id', 'cli', '--storage', 'file'], {
  env,
});
await run(NODE, [BIN, 'login', '--with-token', '-p', 'bench'], { env, input: 'bench-api-key' });
const keychain =
  Boolean(process.env.DBUS_SESSION_BUS_ADDRESS) &&
  (await run(
    NODE,
    [BIN, 'profile', 'add', 'bench-kc', '--issuer', 'https://idp.example.com', '--client-id', 'cli', '--storage', 'keychain'],
    { env },
  )
    .then(() => run(NODE, [BIN, 'login', '--with-token', '-p', 'bench-kc'], { env, input: 'bench-kc-key' }))
    .then(
      () => true,
      () => false,
    ));

process.stderr.write(`latchkey bench: ${RUNS} alternating runs per case, medians, ${process.version}\n`);
const HOT = {
  '--help': ['--help'],
  'token inspect <jwt>': ['token', 'inspect', JWT],
  status: ['status'],
  'token (file store)': ['token', '-p', 'bench'],
};
await compare('latchkey --help', 1.25, bare, latchkey(HOT['--help'], { env }));
await compare('latchkey token inspect <jwt>', 1.25, bare, latchkey(HOT['token inspect <jwt>'], { env }));
await compare('latchkey status', 1.25, bare, latchkey(HOT.status, { env }));
await compare('latchkey token (file store)', 1.3, bare, latchkey(HOT['token (file store)'], { env }));
if (keychain) await compare('latchkey token (keychain)', 1.5, bare, latchkey(['token', '-p', 'bench-kc'], { env }));
else process.stderr.write('  latchkey token (keychain): skipped, no Secret Service (run under scripts/with-secret-service.sh)\n');

// status with 1,000 profiles against status with one (this config has two or three).
{
  const many = join(mkdtempSync(join(tmpdir(), 'latchkey-bench-many-')), 'config');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(many, { recursive: true, mode: 0o700 });
  const profiles = {};
  const logins = {};
  for (let i = 0; i < 1000; i += 1) {
    profiles[`p${i}`] = { issuer: `https://idp${i % 7}.example.com`, clientId: `cli-${i}`, storage: 'file' };
    if (i % 2) logins[`p${i}`] = { storage: 'file', obtainedAt: '2026-11-01T00:00:00.000Z', via: 'with-token', subject: `user-${i}` };
  }
  writeFileSync(join(many, 'config.json'), JSON.stringify({ defaultProfile: 'p1', profiles, logins }), { mode: 0o600 });
  await compare(
    'latchkey status, 1,000 profiles (vs status, 1)',
    1.5,
    latchkey(['status', '-p', 'bench'], { env }),
    latchkey(['status'], { env: { LATCHKEY_CONFIG_DIR: many } }),
  );
}

// gh, a compiled peer, for scale: `gh auth token` with GH_TOKEN set prints it, as `token` does.
const gh = ['/usr/bin/gh', '/usr/local/bin/gh'].find((path) => existsSync(path));
if (gh)
  await compare('gh auth token (Go; for scale, no target)', null, bare, () =>
    run(gh, ['auth', 'token'], { env: { GH_TOKEN: 'x' } }).then((r) => r.ms),
  );

await compare(
  'latchkey login --with-token',
  null,
  bare,
  latchkey(['login', '--with-token', '-p', 'bench'], { env, input: 'bench-api-key' }),
);

// Peak memory (max RSS, via GNU time) of each hot command against bare Node.
const rss = async (args) => {
  const { stderr } = await run('/usr/bin/time', ['-f', 'RSS=%M', NODE, ...args], { env });
  return Number(/RSS=(\d+)/.exec(stderr)[1]);
};
if (existsSync('/usr/bin/time')) {
  for (const [name, args] of Object.entries(HOT)) {
    const base = [];
    const ours = [];
    for (let i = 0; i < Math.min(RUNS, 10); i += 1) {
      base.push(await rss(['-e', '']));
      ours.push(await rss([BIN, ...args]));
    }
    const row = {
      case: `${name}: peak memory (max RSS)`,
      baselineKiB: median(base),
      latchkeyKiB: median(ours),
      ratio: +(median(ours) / median(base)).toFixed(2),
      target: 1.2,
    };
    row.met = row.ratio <= row.target;
    results.push(row);
    process.stderr.write(`  ${row.case}: ${row.latchkeyKiB} KiB vs ${row.baselineKiB} KiB = ${row.ratio}× (target ≤ ${row.target}×)\n`);
  }
}

// A full browser login (scripted user agent) against the in-process IdP and the reference
// backend, against a minimal openid-client script doing the same protocol steps.
{
  const { startDevIdp } = await import(join(ROOT, 'dist-dev/dev/idp.js'));
  const { startDevBackend } = await import(join(ROOT, 'dist-dev/dev/backend.js'));
  const idp = await startDevIdp();
  const backend = await startDevBackend({ issuer: idp.issuer, allowedClientIds: [idp.clientId] });
  const browser = `"${NODE}" "${join(ROOT, 'dist-dev/dev/user-agent.js')}"`;
  const loginEnv = { ...env, BROWSER: browser };
  await run(
    NODE,
    [
      BIN,
      'profile',
      'add',
      'full',
      '--issuer',
      idp.issuer,
      '--client-id',
      idp.clientId,
      '--backend-url',
      backend.url,
      '--prompt',
      'consent',
      '--storage',
      'file',
    ],
    { env },
  );
  const out = join(configDir, '..', 'minimal.json');
  writeFileSync(out, '');
  try {
    await compare(
      'full browser login (vs minimal openid-client script)',
      1.3,
      () =>
        run(NODE, [join(ROOT, 'bench/minimal-login.mjs'), idp.issuer, idp.clientId, backend.url, out], { env: { BROWSER: browser } }).then(
          (r) => r.ms,
        ),
      latchkey(['login', '-p', 'full'], { env: loginEnv }),
      Math.max(10, Math.min(RUNS, 12)),
    );
  } finally {
    await Promise.all([idp.close(), backend.close()]);
  }
}

const machine = {
  node: process.version,
  platform: `${process.platform} ${process.arch}`,
  cpu: cpus()[0]?.model ?? 'unknown',
  cores: cpus().length,
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  date: new Date().toISOString(),
};
// One entry per Node major, so a run on Node 24 does not erase the Node 20 figures.
const file = join(ROOT, 'bench/results.json');
let stored = {};
try {
  stored = JSON.parse(readFileSync(file, 'utf8'));
  if (stored.machine) stored = {}; // the one-run layout of before
} catch {
  stored = {};
}
stored[`node${process.versions.node.split('.')[0]}`] = { machine: { ...machine, runs: RUNS }, results };
writeFileSync(file, `${JSON.stringify(stored, null, 2)}\n`);

// The difference in ms beside the ratio: a machine where Node starts slower (or an environment
// that makes it, such as NODE_EXTRA_CA_CERTS) shrinks the ratio of the same milliseconds of ours.
const rows = results.map((r) => [
  r.case,
  r.baselineMs ?? `${r.baselineKiB} KiB`,
  r.latchkeyMs ?? `${r.latchkeyKiB} KiB`,
  r.baselineMs === undefined ? '' : `${r.latchkeyMs >= r.baselineMs ? '+' : ''}${(r.latchkeyMs - r.baselineMs).toFixed(1)}`,
  `${r.ratio}×`,
  r.target === null ? '-' : `≤ ${r.target}×`,
  r.target === null ? '-' : r.met ? 'yes' : 'NO',
]);
const header = ['case', 'baseline', 'latchkey', 'over', 'ratio', 'target', 'met'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
const line = (cells) => `| ${cells.map((c, i) => String(c).padEnd(widths[i])).join(' | ')} |`;
console.log(`${machine.cpu}, ${machine.cores} cores, Node ${machine.node}; times in ms (medians of ${RUNS} alternating runs)\n`);
console.log(line(header));
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const row of rows) console.log(line(row));
