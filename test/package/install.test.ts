// `npm install` / `npm rebuild net-linger` (scripts/install.mjs): a binary that loads is kept;
// otherwise the addon is built against Node headers already on this machine, with no nodedir in
// any npm config and without the network; where no headers exist it says so and how to fix it.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '..', '..');
const linux = process.platform === 'linux';
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
// Root may make a network namespace with no interface up (offline) and a mount namespace.
const canIsolate = linux && isRoot && spawnSync('unshare', ['-m', '-n', 'true']).status === 0;
const withHeaders = [path.resolve(process.execPath, '../..'), '/usr']
  .filter((dir) => fs.existsSync(path.join(dir, 'include', 'node', 'node_api.h')));
const localHeaders = withHeaders[0];

let work: string;
let pkg: string;
let home: string;

/** What the install script's process sees: a fresh HOME (no ~/.npmrc), no npm_config_* at all. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
  return { ...env, HOME: home, XDG_CACHE_HOME: path.join(home, '.cache') };
}

function install(args: string[] = [], { offline = false, hideHeaders = false } = {}): SpawnSyncReturns<string> {
  const script = [process.execPath, path.join(pkg, 'scripts', 'install.mjs'), ...args];
  // Every local include/node hidden under an empty tmpfs, in a mount namespace only this command has.
  const hide = hideHeaders ? withHeaders.map((dir) => `mount -t tmpfs none '${path.join(dir, 'include', 'node')}' && `).join('') : '';
  const argv = offline || hideHeaders
    ? ['unshare', ...(offline ? ['-n'] : []), ...(hideHeaders ? ['-m'] : []), '--', 'sh', '-c', `${hide}exec "$@"`, 'sh', ...script]
    : script;
  return spawnSync(argv[0], argv.slice(1), { cwd: pkg, env: cleanEnv(), encoding: 'utf8', timeout: 120_000 });
}

// Builds run node-gyp in child processes: once, in the forks project.
describe.skipIf(!linux)('the install script', () => {
  beforeAll(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'net-linger-install-'));
    pkg = path.join(work, 'net-linger');
    home = path.join(work, 'home');
    fs.mkdirSync(home);
    // What the tarball holds for a build from source, beside this checkout's dependencies.
    for (const part of ['package.json', 'binding.gyp', 'native', 'scripts/install.mjs', 'scripts/install-headers.mjs']) {
      fs.cpSync(path.join(root, part), path.join(pkg, part), { recursive: true });
    }
    fs.symlinkSync(path.join(root, 'node_modules'), path.join(pkg, 'node_modules'));
  });
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

  it('npm has no nodedir here: the test runs as a fresh user would', () => {
    const r = spawnSync('npm', ['config', 'get', 'nodedir'], { cwd: pkg, env: cleanEnv(), encoding: 'utf8' });
    expect(r.stdout.trim()).toBe('undefined');
  });

  it.runIf(localHeaders !== undefined)('with no binary: builds against the local headers, keeps a binary that loads, rebuilds a stale one', () => {
    const r = canIsolate ? install([], { offline: true }) : install();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain(`net-linger install: building from source against the Node headers in ${path.join(localHeaders!, 'include', 'node')}`);
    expect(fs.existsSync(path.join(pkg, 'build', 'Release', 'net_linger.node'))).toBe(true);
    const again = install();
    expect(again.status, again.stderr).toBe(0);
    expect(again.stderr).toBe('');
    // A C++ source newer than the build (a pull that changed native/): built again.
    const later = new Date(Date.now() + 60_000);
    fs.utimesSync(path.join(pkg, 'native', fs.readdirSync(path.join(pkg, 'native'))[0]), later, later);
    const stale = install();
    expect(stale.status, stale.stderr).toBe(0);
    expect(stale.stderr).toContain('net-linger install: building from source');
  });

  it('npm_config_nodedir, when set, is the first place looked at', () => {
    const prefix = path.join(work, 'prefix');
    fs.mkdirSync(path.join(prefix, 'include', 'node'), { recursive: true });
    fs.writeFileSync(path.join(prefix, 'include', 'node', 'node_api.h'), '');
    const s = spawnSync(process.execPath, ['--input-type=module', '-e',
      `import { findNodeHeaders } from ${JSON.stringify(path.join(pkg, 'scripts', 'install-headers.mjs'))}; console.log(JSON.stringify(findNodeHeaders()))`,
    ], { env: { ...cleanEnv(), npm_config_nodedir: prefix }, encoding: 'utf8' });
    expect(JSON.parse(s.stdout)).toEqual({ dir: prefix, from: 'npm_config_nodedir' });
  });

  it.runIf(canIsolate)('with no headers anywhere: exit 1, what it looked for and how to fix it, no download tried', () => {
    fs.rmSync(path.join(pkg, 'build'), { recursive: true, force: true });
    const r = install([], { offline: true, hideHeaders: true });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^net-linger install: cannot build the native addon from source: no Node headers on this machine\.\n/);
    expect(r.stderr).toContain('Looked for include/node/node_api.h under: ');
    expect(r.stderr).toContain('apt-get install libnode-dev');
    expect(r.stderr).toContain('npm_config_nodedir=<that folder>');
    expect(r.stderr).toContain('then run "npm rebuild net-linger"');
    expect(r.stdout).toBe('');
  });
});
