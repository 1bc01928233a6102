// npm's "install" script (also what `npm rebuild net-linger` runs), and `npm run build:native`
// (with --rebuild).
//
// 1. A prebuild or an earlier build that loads: done (what node-gyp-build does). --rebuild,
//    npm_config_build_from_source=true, or a build/ older than native/ or binding.gyp (a checkout
//    whose C++ changed since it was built) skip this step.
// 2. Otherwise build from source with node-gyp against Node headers already on this machine
//    (scripts/install-headers.mjs says where it looks), so the build never downloads anything.
// 3. No headers anywhere: say so and how to fix it, exit 1.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findNodeHeaders, noHeadersMessage } from './install-headers.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(path.join(root, 'package.json'));
const say = (text) => console.error(`net-linger install: ${text}`);

/** Is build/Release's binary older than a source it was built from? */
function staleBuild() {
  const built = path.join(root, 'build', 'Release', 'net_linger.node');
  if (!fs.existsSync(built)) return false;
  const sources = [path.join(root, 'binding.gyp'), ...fs.readdirSync(path.join(root, 'native')).map((f) => path.join(root, 'native', f))];
  const builtAt = fs.statSync(built).mtimeMs;
  return sources.some((f) => fs.statSync(f).mtimeMs > builtAt);
}

/** Does a prebuild or build load here? Tried in a child process, so a bad binary cannot take this one down. */
function binaryLoads() {
  if (process.argv.includes('--rebuild') || process.env.npm_config_build_from_source === 'true' || staleBuild()) return false;
  let entry;
  try {
    entry = require.resolve('node-gyp-build');
  } catch {
    return false;
  }
  const probe = `require(${JSON.stringify(entry)})(${JSON.stringify(root)})`;
  return spawnSync(process.execPath, ['-e', probe], { stdio: 'ignore' }).status === 0;
}

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

const found = findNodeHeaders();
const args = ['rebuild'];
if (found) {
  say(`building from source against the Node headers in ${path.join(found.dir, 'include', 'node')} (${found.from})`);
  args.push(`--nodedir=${found.dir}`);
} else if (process.platform === 'win32') {
  // Windows' Node installer ships no headers (nor node.lib): node-gyp fetches both, as it always has.
  say('building from source; node-gyp fetches the Node headers for this version');
} else {
  say(noHeadersMessage());
  process.exit(1);
}
const [cmd, ...pre] = nodeGyp();
const r = spawnSync(cmd, [...pre, ...args], { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' && cmd === 'node-gyp' });
if (r.error) {
  say(`could not run node-gyp (${r.error.message}); it comes with npm, or: npm install -g node-gyp`);
  process.exit(1);
}
process.exit(r.status ?? 1);
