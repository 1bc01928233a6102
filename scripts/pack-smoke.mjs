// Packs the package and installs the tarball into a scratch project the way a consumer on a
// machine without a compiler would: --ignore-scripts, no cc/g++/make/python3 on PATH. Then proves
// the prebuild (not build/) is what loads, that ESM, CommonJS and an esbuild bundle all work, and
// that the scenario table passes from the installed copy.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const target = `${process.platform}-${process.arch}`;
if (!fs.existsSync(path.join(root, 'prebuilds', target))) {
  console.error(`prebuilds/${target} is missing: run "npm run prebuilds" first`);
  process.exit(1);
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'net-linger-pack-'));
const step = (what) => console.log(`pack-smoke: ${what}`);
const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], ...opts });

// A fresh clone has no prebuilds/ (it is not committed): `npm pack` there must still ship the
// host's binary (prepack builds it) rather than a tarball that throws ERR_NET_LINGER_NO_BINARY.
if (fs.existsSync(path.join(root, '.git'))) {
  step('npm pack from a fresh clone carries the host prebuild');
  const clone = path.join(work, 'clone');
  run('git', ['clone', '--quiet', '--no-hardlinks', root, clone]);
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(clone, 'node_modules'));
  const packed = JSON.parse(run('npm', ['pack', '--dry-run', '--json'], { cwd: clone }))[0];
  const binary = packed.files.find((f) => f.path.startsWith(`prebuilds/${target}/`) && f.path.endsWith('.node'));
  if (!binary) throw new Error(`a tarball packed from a fresh clone has no prebuilds/${target}: ${packed.files.map((f) => f.path).join(', ')}`);
  step(`fresh clone packs ${binary.path}`);
  fs.rmSync(clone, { recursive: true, force: true });
}

step('publint and @arethetypeswrong/cli: exports, types and files resolve for every consumer style');
const devTool = (tool) => path.join(root, 'node_modules', '.bin', tool);
run(devTool('publint'), ['--strict'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
run(devTool('attw'), ['--pack', '.', '--format', 'table-flipped'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });

step('npm pack');
const tarball = path.join(work, JSON.parse(run('npm', ['pack', '--json', '--pack-destination', work], { cwd: root }))[0].filename);
const sizeKiB = (fs.statSync(tarball).size / 1024).toFixed(1);
step(`${path.basename(tarball)}: ${sizeKiB} KiB`);
process.stdout.write(run('tar', ['-tzvf', tarball]).replace(/^\S+\s+\S+\s+/gm, '  '));

const app = path.join(work, 'app');
fs.mkdirSync(app);
fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'scratch', private: true, version: '1.0.0' }));
step('npm install --ignore-scripts <tarball>');
run('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', tarball], { cwd: app });

// A PATH with node, npm and a shell, and nothing that could compile.
const bin = path.join(work, 'bin');
fs.mkdirSync(bin);
for (const tool of ['node', 'npm', 'npx', 'sh']) {
  const real = tool === 'node' ? process.execPath : execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim();
  fs.symlinkSync(real, path.join(bin, tool));
}
const env = { PATH: bin, HOME: os.homedir(), PREBUILDS_ONLY: '1' };
for (const tool of ['cc', 'gcc', 'g++', 'make', 'python3']) {
  if (execFileSync('/bin/sh', ['-c', `command -v ${tool} || true`], { encoding: 'utf8', env }).trim()) throw new Error(`${tool} is on PATH`);
}
const node = (args) => run(path.join(bin, 'node'), args, { cwd: app, env });

step('the prebuild is what loads (PREBUILDS_ONLY=1)');
// The package's own loader, after its first native call, says which file it loaded.
const loaded = node(['-e', "const l = require('net-linger'); l.maxLingerSeconds(); console.log(l.bindingPath())"]).trim();
if (!loaded.includes(`${path.sep}prebuilds${path.sep}${target}${path.sep}`)) throw new Error(`loaded ${loaded}`);
step(`loaded ${path.relative(app, loaded)}`);
if (fs.existsSync(path.join(app, 'node_modules', 'net-linger', 'build'))) throw new Error('the tarball carries build/');

step('CommonJS and ESM share one module instance');
fs.writeFileSync(path.join(app, 'both.mjs'), `
import { createRequire } from 'node:module';
import * as esm from 'net-linger';
const cjs = createRequire(import.meta.url)('net-linger');
if (esm.SocketError !== cjs.SocketError) throw new Error('two instances');
if (!esm.isConnectionReset(10054) || esm.normalizeErrorCode(-4077) !== 'ECONNRESET') throw new Error('wrong');
console.log('ok', esm.maxLingerSeconds());
`);
node(['both.mjs']);

step("'net-linger' is the library, 'net-linger/lab' the lab: both entries, both module systems");
fs.writeFileSync(path.join(app, 'entries.mjs'), `
import { createRequire } from 'node:module';
import * as library from 'net-linger';
import * as lab from 'net-linger/lab';
const require = createRequire(import.meta.url);
const labCjs = require('net-linger/lab');
for (const name of ['SCENARIOS', 'runLab', 'runScenario', 'describeStep', 'claimFor']) {
  if (name in library) throw new Error(name + ' leaks into the library entry');
  if (!(name in lab) || lab[name] !== labCjs[name]) throw new Error(name + ' missing from net-linger/lab');
}
const report = await lab.runLab({ scenarios: ['plain-close'] });
if (!report.ok) throw new Error('plain-close failed from the installed lab entry');
console.log('ok: library', Object.keys(library).length, 'exports; lab', Object.keys(lab).length);
`);
process.stdout.write(node(['entries.mjs']));

// TypeScript 7 no longer includes every @types package by default: its consumers need
// "types": ["node"] (docs/install.md says so). Both majors must type-check a consumer.
for (const [major, types] of [['5', undefined], ['7', ['node']]]) {
  step(`a TypeScript ${major} consumer type-checks (moduleResolution nodenext${types ? ', types: ["node"]' : ''})`);
  const project = path.join(work, `ts${major}`);
  fs.mkdirSync(project);
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: `ts${major}`, private: true, version: '1.0.0', type: 'module' }));
  run('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', tarball, `typescript@${major}`, '@types/node@20'], { cwd: project });
  fs.writeFileSync(path.join(project, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { target: 'es2022', module: 'nodenext', moduleResolution: 'nodenext', strict: true, noEmit: true, ...(types ? { types } : {}) },
    files: ['consumer.ts'],
  }));
  fs.writeFileSync(path.join(project, 'consumer.ts'), `
import net from 'node:net';
import { gracefulClose, isConnectionReset, pendingBytes, type GracefulCloseReport, type PendingBytes } from 'net-linger';
import { SCENARIOS, runLab, type LabReport } from 'net-linger/lab';
export async function close(socket: net.Socket): Promise<GracefulCloseReport> {
  const pending: PendingBytes = pendingBytes(socket);
  void pending.unacked;
  return gracefulClose(socket, { lingeringTime: 1000, onTimeout: 'close' });
}
export const reset: boolean = isConnectionReset(10054);
export const lab: Promise<LabReport> = runLab({ scenarios: [SCENARIOS[0].name] });
`);
  run(path.join(project, 'node_modules', '.bin', 'tsc'), ['-p', project], { cwd: project, stdio: ['ignore', 'inherit', 'inherit'] });
  if (major === '7') {
    step('...and without "types": ["node"] TypeScript 7 cannot see Node\'s types (why the docs ask for it)');
    const config = JSON.parse(fs.readFileSync(path.join(project, 'tsconfig.json'), 'utf8'));
    delete config.compilerOptions.types;
    fs.writeFileSync(path.join(project, 'tsconfig.json'), JSON.stringify(config));
    const bare = spawnSync(path.join(project, 'node_modules', '.bin', 'tsc'), ['-p', project], { cwd: project, encoding: 'utf8' });
    if (bare.status === 0) throw new Error('TypeScript 7 type-checked without "types": ["node"]: docs/install.md is wrong');
  }
}

step('an esbuild bundle (--bundle --platform=node --external:net-linger)');
fs.writeFileSync(path.join(app, 'server.js'), `
const net = require('node:net');
const { setLinger, isConnectionReset } = require('net-linger');
const server = net.createServer((s) => { setLinger(s, true, 0); s.destroy(); });
server.listen(0, '127.0.0.1', () => {
  net.connect(server.address().port, '127.0.0.1').on('error', (e) => {
    console.log('bundle saw reset:', isConnectionReset(e));
    server.close();
    if (!isConnectionReset(e)) process.exitCode = 1;
  });
});
`);
run(devTool('esbuild'), ['server.js', '--bundle', '--platform=node', '--external:net-linger', '--outfile=dist/server.js', '--log-level=warning'], { cwd: app });
process.stdout.write(node(['dist/server.js']));

step('the scenario table from the installed copy');
const lab = run(path.join(bin, 'npx'), ['--no-install', 'net-linger', 'lab'], { cwd: app, env });
process.stdout.write(lab);

fs.rmSync(work, { recursive: true, force: true });
step(`passed (${sizeKiB} KiB tarball)`);
