// Per-call cost of setLinger / getLinger / pendingBytes: the package's public API against the
// physical limit (a C loop making the same syscalls on the same kind of socket), against the
// floor for any Node-API binding (bench/percall/native/bare_addon.cc: the syscall and nothing else) and
// against koffi calling libc directly, with the layers in between split out. Trials are
// interleaved (a seeded shuffle per round) and medians reported, because the machine is shared.
import { execFileSync, fork } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { buildBenchNatives, root } from '../lib/build.mjs';
import { median, shuffled } from '../lib/stats.mjs';
import { resultOf } from '../lib/proc.mjs';

const require = createRequire(import.meta.url);

const SOL_SOCKET = 1;
const SO_LINGER = 13;
const FIONREAD = 0x541b;
const SIOCOUTQ = 0x5411;

/** The row every ratio of an operation is taken against, besides the C loop. */
export const FLOOR_ROW = 'bare Node-API addon (the floor), fd';

let sink = 0;

/** Each variant's loop is its own function literal, so V8 sees one monomorphic call site per variant. */
function jsVariants({ fd, socket, lib, native, bare, noop, libc }) {
  const lingerBuf = new Int32Array([1, 0]);
  const lingerOut = new Int32Array(2);
  const lenBuf = new Uint32Array(1);
  const intOut = new Int32Array(1);
  const intOut2 = new Int32Array(1);
  const pendingOut = new Float64Array(3);
  const timed = (run) => (n) => { const t0 = process.hrtime.bigint(); run(n); return Number(process.hrtime.bigint() - t0) / n; };
  return [
    // setLinger
    { op: 'setLinger', name: 'package, fd', run: timed((n) => { for (let i = 0; i < n; i++) lib.setLinger(fd, true, 0); }) },
    { op: 'setLinger', name: 'package, net.Socket', run: timed((n) => { for (let i = 0; i < n; i++) lib.setLinger(socket, true, 0); }) },
    { op: 'setLinger', name: 'addon, fd', run: timed((n) => { for (let i = 0; i < n; i++) sink += native.setLinger(fd, true, 0); }) },
    { op: 'setLinger', name: FLOOR_ROW, run: timed((n) => { for (let i = 0; i < n; i++) sink += bare.setLinger(fd, true, 0); }) },
    { op: 'setLinger', name: 'bare, 2 args (seconds or -1)', run: timed((n) => { for (let i = 0; i < n; i++) sink += bare.setLingerPacked(fd, 0); }) },
    { op: 'setLinger', name: 'koffi -> libc setsockopt', run: timed((n) => {
      for (let i = 0; i < n; i++) if (libc.setsockopt(fd, SOL_SOCKET, SO_LINGER, lingerBuf, 8) !== 0) sink += libc.errno();
    }) },
    // getLinger
    { op: 'getLinger', name: 'package, fd', run: timed((n) => { for (let i = 0; i < n; i++) sink += lib.getLinger(fd).seconds; }) },
    { op: 'getLinger', name: 'package, net.Socket', run: timed((n) => { for (let i = 0; i < n; i++) sink += lib.getLinger(socket).seconds; }) },
    { op: 'getLinger', name: 'addon, fd', run: timed((n) => { for (let i = 0; i < n; i++) sink += native.getLinger(fd, lingerOut); }) },
    { op: 'getLinger', name: FLOOR_ROW, run: timed((n) => { for (let i = 0; i < n; i++) sink += bare.getLinger(fd, lingerOut); }) },
    { op: 'getLinger', name: 'bare, packed return (no out-array)', run: timed((n) => { for (let i = 0; i < n; i++) sink += bare.getLingerPacked(fd); }) },
    { op: 'getLinger', name: 'koffi -> libc getsockopt', run: timed((n) => {
      for (let i = 0; i < n; i++) {
        lenBuf[0] = 8;
        if (libc.getsockopt(fd, SOL_SOCKET, SO_LINGER, lingerOut, lenBuf) !== 0) sink += libc.errno();
        else sink += ({ onoff: lingerOut[0] !== 0, seconds: lingerOut[1] }).seconds;
      }
    }) },
    // pendingBytes
    { op: 'pendingBytes', name: 'package, fd', run: timed((n) => { for (let i = 0; i < n; i++) sink += lib.pendingBytes(fd).unread; }) },
    { op: 'pendingBytes', name: 'package, net.Socket', run: timed((n) => { for (let i = 0; i < n; i++) sink += lib.pendingBytes(socket).unread; }) },
    { op: 'pendingBytes', name: 'addon, fd', run: timed((n) => { for (let i = 0; i < n; i++) sink += native.pendingBytes(fd, pendingOut); }) },
    { op: 'pendingBytes', name: FLOOR_ROW, run: timed((n) => { for (let i = 0; i < n; i++) sink += bare.pendingBytes(fd, pendingOut); }) },
    { op: 'pendingBytes', name: 'koffi -> libc ioctl x2', run: timed((n) => {
      for (let i = 0; i < n; i++) {
        if (libc.ioctl(fd, FIONREAD, intOut) !== 0 || libc.ioctl(fd, SIOCOUTQ, intOut2) !== 0) sink += libc.errno();
        else sink += ({ unread: intOut[0], unacked: intOut2[0] }).unread;
      }
    }) },
    // the fixed cost of crossing into native code at all
    { op: 'empty call', name: 'node-addon-api', run: timed((n) => { for (let i = 0; i < n; i++) noop.noop(); }) },
    { op: 'empty call', name: 'plain Node-API', run: timed((n) => { for (let i = 0; i < n; i++) bare.noop(); }) },
  ];
}

/** One process's trials: every variant's ns/call per trial, in trial order, keyed by op and name. */
async function sampleHere({ iterations, trials, firstTrial = 0, log = () => {} }) {
  const built = buildBenchNatives();
  const koffi = require('koffi');
  const libcLib = koffi.load('libc.so.6');
  // ioctl is variadic; declaring the one pointer argument is what a user would write, and the fastest koffi allows.
  const libc = {
    setsockopt: libcLib.func('int setsockopt(int, int, int, const void *, uint32_t)'),
    getsockopt: libcLib.func('int getsockopt(int, int, int, void *, uint32_t *)'),
    ioctl: libcLib.func('int ioctl(int, unsigned long, void *)'),
    errno: () => koffi.errno(),
  };
  const lib = require(path.join(root, 'dist', 'cjs', 'index.js'));
  const native = require(path.join(root, 'dist', 'cjs', 'core', 'binding.js')).binding();
  const bare = require(built.bareAddon);
  const noop = require(built.addonApiNoop);
  // The package's one loopback harness (the lab's and the tests'): the accepted end is paused.
  const pair = await require(path.join(root, 'dist', 'cjs', 'lab', 'index.js')).loopbackPair();
  const variants = [
    ...['setLinger', 'getLinger', 'pendingBytes'].map((op) => ({
      op, name: 'C loop (the limit)', run: (n) => Number(execFileSync(built.syscallLoop, [op, String(n)], { encoding: 'utf8' })),
    })),
    ...jsVariants({ fd: pair.client._handle.fd, socket: pair.client, lib, native, bare, noop, libc }),
  ];
  // Warm up every JS loop so the trials measure optimised code.
  for (const v of variants) v.run(Math.min(iterations, 100_000));
  const samples = new Map(variants.map((v) => [v, []]));
  for (let trial = firstTrial; trial < firstTrial + trials; trial++) {
    for (const v of shuffled(variants, 0x9e3779b9 + trial)) samples.get(v).push(v.run(iterations));
    if ((trial + 1) % 10 === 0) log(`  per-call trial ${trial + 1} done`);
  }
  pair.client.destroy();
  pair.accepted.destroy();
  return { sink, samples: variants.map((v) => ({ op: v.op, name: v.name, samples: samples.get(v) })) };
}

/** sampleHere() in a child process of its own (this file with --child), over IPC. */
function sampleInChild(options) {
  const child = fork(new URL(import.meta.url).pathname, ['--child', JSON.stringify(options)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return resultOf(child, 'per-call child');
}

/**
 * `trials` interleaved trials split over `processes` processes: V8 compiles the same loop
 * differently from one process to the next (two full runs here put the package's layer over the
 * raw addon call at 2 and 17 ns), so no one process's compile decides a row. Trials stay paired
 * within their process.
 */
export async function runPerCall({ iterations = 1_000_000, trials = 5, processes = 1, log = () => {} } = {}) {
  const perProcess = Math.ceil(trials / processes);
  const parts = [];
  for (let p = 0; p < processes; p++) {
    const options = { iterations, trials: perProcess, firstTrial: p * perProcess };
    parts.push(processes === 1 ? await sampleHere({ ...options, log }) : await sampleInChild(options));
    if (processes > 1) log(`  per-call process ${p + 1}/${processes} done`);
  }
  const rows = parts[0].samples.map(({ op, name }) => {
    const all = parts.flatMap((part) => part.samples.find((x) => x.op === op && x.name === name).samples);
    return { op, name, ns: median(all), best: Math.min(...all), samples: all };
  });
  for (const row of rows) {
    const base = rows.find((r) => r.op === row.op && r.name.startsWith('C loop'));
    row.ratio = base ? row.ns / base.ns : null;
    row.bestRatio = base ? row.best / base.best : null;
    const floor = rows.find((r) => r.op === row.op && r.name === FLOOR_ROW);
    row.floorRatio = floor ? row.ns / floor.ns : null;
    row.floorBestRatio = floor ? row.best / floor.best : null;
    // Each trial's ratio to the floor measured in the same round, then their median: the paired view.
    row.floorPairedRatio = floor ? median(row.samples.map((ns, i) => ns / floor.samples[i])) : null;
  }
  return { iterations, trials: perProcess * processes, processes, rows, sink: parts.reduce((a, part) => a + part.sink, 0) };
}

if (process.argv[2] === '--child') {
  process.send(await sampleHere(JSON.parse(process.argv[3])), () => process.exit(0));
}

if (import.meta.url === `file://${process.argv[1]}` && process.argv[2] !== '--child') {
  const result = await runPerCall({ iterations: Number(process.env.BENCH_ITERATIONS ?? 200_000), trials: 3, log: console.log });
  console.table(result.rows.map(({ samples, ...r }) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'number' ? Number(v.toFixed(3)) : v]))));
}
