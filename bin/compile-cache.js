// Where Node may keep the compiled code of latchkey's bundles between runs, or nowhere.
//
// Compiled code is code: V8 checks only that a cache entry fits the source's length and Node
// adds a checksum anyone can compute, so whoever can write a cache file runs code as latchkey,
// with the user's credentials. Node's default place is os.tmpdir()/node-compile-cache, which the
// first user of the machine to run Node 22+ creates and owns. The cache is therefore kept only in
// a directory that is the user's alone: their cache dir's `latchkey/`, a real directory (not a
// symlink), owned by them, mode 0700, in a parent that nobody else can rename it out of. Anything
// else means no cache, silently (the reason under --debug): a slower start, never an error.
//
// Node 20 has no module.enableCompileCache, and gets no cache at all: V8's cachedData loses a
// vm.Script's dynamic-import callback on Node 20, so every import() in code loaded from a warm
// cache threw (docs/performance.md, "Node 20's code cache, removed").
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

/** The user's cache directory for latchkey, by platform convention. */
function cacheDir(env) {
  if (process.platform === 'darwin') return path.join(os.homedir(), 'Library', 'Caches', 'latchkey');
  if (process.platform === 'win32') return path.join(env.LOCALAPPDATA || path.join(os.homedir(), 'AppData', 'Local'), 'latchkey', 'Cache');
  const base = env.XDG_CACHE_HOME && path.isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : path.join(os.homedir(), '.cache');
  return path.join(base, 'latchkey');
}
exports.cacheDir = cacheDir;

function lstatOrUndefined(at) {
  try {
    return fs.lstatSync(at);
  } catch (error) {
    if (error && error.code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * Why `dir` may not hold compiled code for user `uid`, or undefined when it may. `stat` is the
 * directory's lstat, `parent` the stat of the directory it is in.
 */
function unsafeBecause(stat, parent, uid) {
  if (stat.isSymbolicLink()) return 'it is a symbolic link';
  if (!stat.isDirectory()) return 'it is not a directory';
  if (stat.uid !== uid) return `it belongs to user ${stat.uid}, not to you`;
  if ((stat.mode & 0o077) !== 0) return `its mode is ${(stat.mode & 0o777).toString(8)}, not 700`;
  // Whoever may write the parent may rename this directory away and put their own in its place,
  // unless the parent is sticky (/tmp) and the directory ours.
  if (parent.uid !== uid && parent.uid !== 0) return `the directory it is in belongs to user ${parent.uid}`;
  if ((parent.mode & 0o022) !== 0 && (parent.mode & 0o1000) === 0) return 'the directory it is in is writable by others';
  return undefined;
}
exports.unsafeBecause = unsafeBecause;

/**
 * The directory and its missing parents, one mkdir each (0700). Not mkdirSync's recursive mode,
 * which loops forever where mkdir answers ENOENT under a directory that exists (/proc, some FUSE
 * mounts).
 */
function makeDirs(dir) {
  const missing = [];
  for (let at = dir; lstatOrUndefined(at) === undefined; at = path.dirname(at)) {
    missing.push(at);
    if (path.dirname(at) === at) break;
  }
  for (const at of missing.reverse()) fs.mkdirSync(at, { mode: 0o700 });
  return missing.length > 0;
}

/**
 * The files the V8 code cache of earlier versions left in `dir` (`*.v8` and `*install`): never
 * read again. Removed once, when the compile cache's own directory is first made there.
 */
function removeOldCodeCache(dir) {
  for (const name of fs.readdirSync(dir)) {
    if (/^latchkey\.cjs-.*(\.v8|install|\.tmp)$/.test(name)) fs.rmSync(path.join(dir, name), { force: true });
  }
}

/**
 * Where Node may keep compiled code (a directory that exists and is the user's alone), or why
 * not: `{ dir }` or `{ reason }`.
 */
function safeCacheDir(env = process.env) {
  try {
    const dir = cacheDir(env);
    if (process.platform === 'win32') {
      // %LOCALAPPDATA% is the user's own profile; Windows has no mode bits to check.
      makeDirs(dir);
      return { dir };
    }
    const uid = process.getuid();
    const made = makeDirs(dir);
    const reason = unsafeBecause(fs.lstatSync(dir), fs.statSync(path.dirname(dir)), uid);
    if (reason !== undefined) return { reason: `${JSON.stringify(dir)}: ${reason}` };
    const compiled = path.join(dir, 'compile');
    if (lstatOrUndefined(compiled) === undefined) {
      fs.mkdirSync(compiled, { mode: 0o700 });
      if (!made) removeOldCodeCache(dir);
    }
    const inner = unsafeBecause(fs.lstatSync(compiled), fs.statSync(dir), uid);
    if (inner !== undefined) return { reason: `${JSON.stringify(compiled)}: ${inner}` };
    return { dir: compiled };
  } catch (error) {
    return { reason: error && error.code ? `${error.code} at ${JSON.stringify(error.path || '')}` : String(error) };
  }
}
exports.safeCacheDir = safeCacheDir;

/**
 * Turns Node's compile cache on in the user's own cache directory (Node >= 22.1), unless the
 * user turned it off (NODE_DISABLE_COMPILE_CACHE) or set its place themselves (NODE_COMPILE_CACHE,
 * which Node applied before this ran). Returns what was done, for --debug.
 */
exports.enable = function enable() {
  const { enableCompileCache, constants } = require('node:module');
  if (!enableCompileCache) return 'off: this Node.js has no compile cache';
  if (process.env.NODE_DISABLE_COMPILE_CACHE) return 'off: NODE_DISABLE_COMPILE_CACHE is set';
  if (process.env.NODE_COMPILE_CACHE) return `in ${JSON.stringify(process.env.NODE_COMPILE_CACHE)} (NODE_COMPILE_CACHE)`;
  const where = safeCacheDir();
  if (where.reason !== undefined) return `off: ${where.reason}`;
  const result = enableCompileCache(where.dir);
  return result.status === constants.compileCacheStatus.FAILED ? `off: ${result.message}` : `in ${JSON.stringify(result.directory)}`;
};
