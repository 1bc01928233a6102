// Where this machine keeps Node's C headers, for node-gyp's --nodedir (the folder whose
// include/node holds node_api.h). Node-API needs no exact-version headers, so any of these will do,
// and node-gyp never has to download them. Used by scripts/install.mjs (npm install, npm rebuild,
// npm run build:native) and scripts/prebuild.mjs.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The folders tried, in order, each with where it came from. */
export function headerCandidates(env = process.env, execPath = process.execPath) {
  const cache = env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return [
    env.npm_config_nodedir && { dir: env.npm_config_nodedir, from: 'npm_config_nodedir' },
    // The official Node layout: <prefix>/bin/node beside <prefix>/include/node.
    { dir: path.resolve(execPath, '../..'), from: 'beside this node binary' },
    // Debian and Ubuntu's libnode-dev.
    { dir: '/usr', from: 'libnode-dev' },
    { dir: path.join(cache, 'node-gyp', process.versions.node), from: "node-gyp's cache" },
  ].filter((c, i, all) => c && all.findIndex((o) => o && o.dir === c.dir) === i);
}

/** The first candidate with include/node/node_api.h, or undefined. */
export function findNodeHeaders(env = process.env, execPath = process.execPath) {
  return headerCandidates(env, execPath).find((c) => fs.existsSync(path.join(c.dir, 'include', 'node', 'node_api.h')));
}

/** What to tell someone whose machine has none. */
export function noHeadersMessage(env = process.env, execPath = process.execPath) {
  return (
    'cannot build the native addon from source: no Node headers on this machine.\n' +
    `  Looked for include/node/node_api.h under: ${headerCandidates(env, execPath).map((c) => `${c.dir} (${c.from})`).join(', ')}.\n` +
    '  Fix one of these ways, then run "npm rebuild net-linger":\n' +
    '    - install them: apt-get install libnode-dev (Debian/Ubuntu), or use an official Node build (it ships include/node);\n' +
    '    - point npm at a folder whose include/node holds them: npm_config_nodedir=<that folder>;\n' +
    '    - with network access, let node-gyp fetch them once: npx node-gyp install'
  );
}
