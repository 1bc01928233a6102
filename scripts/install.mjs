// npm's "install" script (also what `npm rebuild net-linger` runs).
//
// 1. A prebuild or an earlier build that loads: done (what node-gyp-build does).
// 2. Otherwise build from source with node-gyp against Node headers already on this machine, so
//    the build never downloads anything. Node-API needs no exact-version headers. Looked for, in order:
//    npm's nodedir setting (npm_config_nodedir), <prefix>/include/node beside this node binary (the
//    official Node layout), /usr/include/node (Debian/Ubuntu libnode-dev), node-gyp's own cache.
// 3. No headers anywhere: say so and how to fix it, exit 1.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(path.join(root, 'package.json'));
const say = (line) => console.error(`net-linger install: ${line}`);

/** Does a prebuild or build load here? Tried in a child process, so a bad binary cannot take this one down. */
function binaryLoads() {
  if (process.env.npm_config_build_from_source === 'true') return false;
  let entry;
  try {
    entry = require.resolve('node-gyp-build');
  } catch {
    return false;
  }
  const probe = `require(${JSON.stringify(entry)})(${JSON.stringify(root)})`;
  return spawnSync(process.execPath, ['-e', probe], { stdio: 'ignore' }).status === 0;
}

/** The folders tried as node-gyp's --nodedir, each with where it came from. */
function headerCandidates(env = process.env, execPath = process.execPath) {
  const cache = env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return [
    env.npm_config_nodedir && { dir: env.npm_config_nodedir, from: 'npm_config_nodedir' },
    { dir: path.resolve(execPath, '../..'), from: 'beside this node binary' },
    { dir: '/usr', from: 'libnode-dev' },
    { dir: path.join(cache, 'node-gyp', process.versions.node), from: "node-gyp's cache" },
  ].filter((c, i, all) => c && all.findIndex((o) => o && o.dir === c.dir) === i);
}

const hasHeaders = (dir) => fs.existsSync(path.join(dir, 'include', 'node', 'node_api.h'));

/** node-gyp: our own devDependency, else the copy npm bundles (npm_config_node_gyp), else PATH. */
function nodeGyp() {
  try {
    return [process.execPath, require.resolve('node-gyp/bin/node-gyp.js')];
  } catch {
    const bundled = process.env.npm_config_node_gyp;
    return bundled && fs.existsSync(bundled) ? [process.execPath, bundled] : ['node-gyp'];
  }
}

if (binaryLoads()) process.exit(0);

const candidates = headerCandidates();
const found = candidates.find((c) => hasHeaders(c.dir));
const args = ['rebuild'];
if (found) {
  say(`building from source against the Node headers in ${path.join(found.dir, 'include', 'node')} (${found.from})`);
  args.push(`--nodedir=${found.dir}`);
} else if (process.platform === 'win32') {
  // Windows' Node installer ships no headers (nor node.lib): node-gyp fetches both, as it always has.
  say('building from source; node-gyp fetches the Node headers for this version');
} else {
  say(
    'cannot build the native addon from source: no Node headers on this machine.\n' +
      `  Looked for include/node/node_api.h under: ${candidates.map((c) => `${c.dir} (${c.from})`).join(', ')}.\n` +
      '  Fix one of these ways, then run "npm rebuild net-linger":\n' +
      '    - install the headers: apt-get install libnode-dev (Debian/Ubuntu), or use an official Node build (it ships include/node);\n' +
      '    - point npm at a folder whose include/node holds them: npm_config_nodedir=<that folder>;\n' +
      '    - with network access, let node-gyp fetch them once: npx node-gyp install',
  );
  process.exit(1);
}
const [cmd, ...pre] = nodeGyp();
const r = spawnSync(cmd, [...pre, ...args], { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' && cmd === 'node-gyp' });
if (r.error) {
  say(`could not run node-gyp (${r.error.message}); it comes with npm, or: npm install -g node-gyp`);
  process.exit(1);
}
process.exit(r.status ?? 1);
