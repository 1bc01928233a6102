// Makes the Node-API prebuilds the package ships, into prebuilds/<platform>-<arch>/:
// linux-arm64 (cross-compiled), win32-x64 (mingw-w64) where their toolchains are installed, and
// the host's last, so that build/ keeps a binary this machine can load.
// node-gyp builds against this machine's Node headers (scripts/install-headers.mjs finds them),
// never a download.
//   npm run prebuilds                      every target it has a toolchain for; says what it skipped
//   npm run prebuilds -- --all             the same, but a missing toolchain fails (CI, releases)
//   npm run prebuilds -- linux-x64 ...     only these targets
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { findNodeHeaders, noHeadersMessage } from './install-headers.mjs';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const prebuildify = createRequire(import.meta.url).resolve('prebuildify/bin.js');
const has = (tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
const strict = process.argv.includes('--all');
const only = process.argv.slice(2).filter((a) => a !== '--all');
const wanted = (target) => only.length === 0 || only.includes(target);

const headers = findNodeHeaders();
if (!headers && process.platform !== 'win32') {
  console.error(`prebuilds: ${noHeadersMessage()}`);
  process.exit(1);
}

function prebuildify_(arch, env = {}) {
  execFileSync(process.execPath, [prebuildify, '--napi', '--strip', '--tag-libc', '--arch', arch], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, ...(headers && { npm_config_nodedir: headers.dir }), ...env },
  });
}

const made = [];
const missing = [];

if (wanted('linux-arm64') && process.platform === 'linux' && process.arch === 'x64') {
  if (has('aarch64-linux-gnu-g++')) {
    prebuildify_('arm64', {
      CC: 'aarch64-linux-gnu-gcc',
      CXX: 'aarch64-linux-gnu-g++',
      LINK: 'aarch64-linux-gnu-g++',
      AR: 'aarch64-linux-gnu-ar',
      PREBUILD_STRIP_BIN: 'aarch64-linux-gnu-strip',
    });
    made.push('linux-arm64');
  } else {
    missing.push('linux-arm64 (needs g++-aarch64-linux-gnu)');
  }
}

const windowsBuild = path.join(root, 'scripts', 'windows', 'build.sh');
if (wanted('win32-x64') && process.platform === 'linux') {
  if (fs.existsSync(windowsBuild) && has('x86_64-w64-mingw32-g++-posix')) {
    execFileSync('bash', [windowsBuild], { cwd: root, stdio: 'inherit' });
    made.push('win32-x64');
  } else {
    missing.push('win32-x64 (needs g++-mingw-w64-x86-64 and scripts/windows/build.sh)');
  }
}

if (wanted(`${process.platform}-${process.arch}`)) {
  prebuildify_(process.arch);
  made.push(`${process.platform}-${process.arch}`);
}

for (const dir of fs.readdirSync(path.join(root, 'prebuilds'))) {
  for (const file of fs.readdirSync(path.join(root, 'prebuilds', dir))) {
    const size = fs.statSync(path.join(root, 'prebuilds', dir, file)).size;
    console.log(`prebuilds/${dir}/${file}\t${(size / 1024).toFixed(1)} KiB`);
  }
}
if (missing.length) {
  console.error(`skipped (no toolchain here): ${missing.join('; ')}`);
  if (strict) process.exitCode = 1;
}
