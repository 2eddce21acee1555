// Loads a CommonJS bundle with a V8 code cache, for Node versions without
// module.enableCompileCache (Node < 22.1): ~3 ms of every start-up on Node 20 (docs/performance.md).
// The cache is the user's own (XDG_CACHE_HOME or ~/.cache, ~/Library/Caches, %LOCALAPPDATA%),
// a 0600 file in a 0700 directory, named for the install (its bundle's path), the Node version and
// the bundle's size and time so that an update never reads a stale one; V8 rejects data that does
// not fit. Anything that goes wrong here (no home, a read-only disk, a corrupt file) falls back to
// a plain require.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const os = require('node:os');
const vm = require('node:vm');
const Module = require('node:module');

function cacheDir(env) {
  if (process.platform === 'darwin') return path.join(os.homedir(), 'Library', 'Caches', 'latchkey');
  if (process.platform === 'win32') return path.join(env.LOCALAPPDATA || path.join(os.homedir(), 'AppData', 'Local'), 'latchkey', 'Cache');
  return path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'latchkey');
}

/** `kind` names the command (token, inspect, status, other): each keeps a cache of its own path. */
/**
 * The directory and its missing parents, one mkdir each (0700). Not mkdirSync's recursive mode,
 * which loops forever where mkdir answers ENOENT under a directory that exists (/proc, some FUSE
 * mounts): at exit, that was a hang at 100% CPU.
 */
function makeDirs(dir) {
  const missing = [];
  for (let at = path.resolve(dir); !fs.existsSync(at); at = path.dirname(at)) {
    missing.push(at);
    if (path.dirname(at) === at) break;
  }
  for (const at of missing.reverse()) fs.mkdirSync(at, { mode: 0o700 });
}

function writeAtomically(target, data) {
  const temp = `${target}.${process.pid}.tmp`;
  fs.writeFileSync(temp, data, { mode: 0o600 });
  fs.renameSync(temp, target);
}

/**
 * Removes what is not read again: this install's caches of other Node versions or builds, the
 * files of installs whose bundle is gone (an npx cache cleared, a project deleted), and files
 * named before installs were.
 */
function prune(dir, file, install, build) {
  const base = `${path.basename(file)}-`;
  const gone = new Map();
  const installGone = (prefix) => {
    try {
      return !fs.existsSync(fs.readFileSync(path.join(dir, `${prefix}install`), 'utf8'));
    } catch {
      return true;
    }
  };
  for (const name of fs.readdirSync(dir)) {
    if (!name.startsWith(base) || name.endsWith('.tmp')) continue;
    let remove;
    if (name.startsWith(install)) remove = name.endsWith('.v8') && !name.startsWith(`${build}-`);
    else {
      const prefix = name.slice(0, base.length + 9);
      if (!/^[0-9a-f]{8}-$/.test(prefix.slice(base.length))) remove = true;
      else {
        if (!gone.has(prefix)) gone.set(prefix, installGone(prefix));
        remove = gone.get(prefix);
      }
    }
    if (remove) fs.rmSync(path.join(dir, name), { force: true });
  }
}

/** A short tag for a path (32-bit FNV-1a, hex): node:crypto would cost more than the cache saves. */
function fnv1a(text) {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return hash.toString(16).padStart(8, '0');
}

/** What the cache files of the bundle at `file` start with. */
function installPrefix(file) {
  return `${path.basename(file)}-${fnv1a(path.resolve(file))}-`;
}
exports.installPrefix = installPrefix;

exports.load = function load(file, kind = 'other') {
  let cacheFile;
  let install;
  let build;
  let script;
  let cachedData;
  try {
    const stat = fs.statSync(file);
    // Named for this install too: two installs run in turn (a global one and a project's) would
    // otherwise each remove the other's cache as stale, and compile cold every time.
    install = installPrefix(file);
    build = `${install}${process.version}-${stat.size}-${Math.trunc(stat.mtimeMs)}`;
    cacheFile = path.join(cacheDir(process.env), `${build}-${kind}.v8`);
    try {
      cachedData = fs.readFileSync(cacheFile);
    } catch {
      cachedData = undefined;
    }
    script = new vm.Script(Module.wrap(fs.readFileSync(file, 'utf8')), {
      filename: file,
      cachedData,
      importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
    });
  } catch {
    return require(file);
  }
  const module = { exports: {} };
  script.runInThisContext().call(module.exports, module.exports, Module.createRequire(file), module, file, path.dirname(file));
  if (!cachedData || script.cachedDataRejected) {
    // Written at exit, when the functions this run compiled are in it too.
    process.once('exit', () => {
      try {
        const dir = path.dirname(cacheFile);
        makeDirs(dir);
        // Which bundle this install's files are for, so that another install can tell when it is gone.
        writeAtomically(path.join(dir, `${install}install`), path.resolve(file));
        writeAtomically(cacheFile, script.createCachedData());
        prune(dir, file, install, build);
      } catch {
        // A cache that cannot be written is only a slower next start.
      }
    });
  }
  return module.exports;
};
