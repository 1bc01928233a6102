// HTTP benchmarks of enableLingeringClose (from the built package, dist/cjs/index.js):
//  - keep-alive traffic: autocannon against the same node:http server (bench/http/server.mjs)
//    in a child process, with the integration and without, trials interleaved;
//  - a "413 storm": concurrent clients each uploading more than the limit to a server that rejects
//    early, Node with the integration, Node without (the control) and nginx (`lingering_close on`),
//    the same client process (bench/http/storm-client.mjs) for all three; server CPU and peak RSS
//    from /proc.
// Run directly (`node bench/http.mjs`, BENCH_QUICK=1 for the small version) it prints JSON.
import { fork } from 'node:child_process';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { median, shuffled } from '../lib/stats.mjs';
import { tcpStates } from '../lib/build.mjs';
import { cpuSeconds, fdCount, peakRssMiB, resetPeak, resultOf, rssMiB } from '../lib/proc.mjs';
import { ensureNginx, startNginx } from './nginx.mjs';

const autocannonVersion = createRequire(import.meta.url)('autocannon/package.json').version;
const here = path.dirname(new URL(import.meta.url).pathname);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const sum = (values) => values.reduce((a, b) => a + b, 0);

/** A node:http server child: { port, pid, stats(), stop() }, or { unavailable } when the build lacks the integration. */
function startNodeServer(variant, limit) {
  // --expose-gc: the no-FIN storm asks the server for its JS heap after a full GC (live objects only).
  const child = fork(path.join(here, 'server.mjs'), [variant, String(limit)],
    { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: ['--expose-gc'] });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  /** Sends one request and takes the server's next message as its answer (5 s at most). */
  const ask = (request) => new Promise((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`${variant} server did not answer '${request}' in 5 s`)), 5000);
    child.once('message', (reply) => { clearTimeout(timer); done(reply); });
    child.send(request);
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    exited.then((code) => reject(new Error(`${variant} server exited ${code} before it listened`)));
    child.once('message', (message) => {
      if (message.unavailable) { resolve({ unavailable: message.unavailable }); return; }
      resolve({
        port: message.port,
        pid: child.pid,
        pids: () => [child.pid],
        stats: () => ask('stats').then((reply) => reply.stats),
        /** The server's JS heap in use after a full GC, in bytes, and the same before the storm. */
        liveHeap: () => ask('live-heap').then((reply) => reply.liveHeap),
        /** Starts the server's own event-loop delay and memory peaks afresh. */
        mark: () => ask('mark').then(() => undefined),
        async stop() {
          if (child.exitCode === null && child.signalCode === null) child.send('stop');
          const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
          await exited;
          clearTimeout(timer);
        },
      });
    });
  });
}

const serverCpu = (pids) => sum(pids.map(cpuSeconds));

// ---------------------------------------------------------------- keep-alive traffic

const WORKLOADS = [
  { name: 'GET, 12-byte answer', method: 'GET', path: '/', bodyBytes: 0 },
  { name: 'POST 1 KiB body, read whole', method: 'POST', path: '/echo', bodyBytes: 1024 },
];

function cannon(port, workload, { connections, duration }) {
  const child = fork(path.join(here, 'cannon-worker.mjs'),
    [String(port), workload.method, workload.path, String(workload.bodyBytes), String(connections), String(duration)],
    { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return resultOf(child, 'autocannon worker');
}

/** One autocannon run per server given, all at once; server CPU per answered request from /proc. */
async function keepAliveTrial(servers, workload, options) {
  const cpu0 = servers.map((server) => serverCpu(server.pids()));
  const results = await Promise.all(servers.map((server) => cannon(server.port, workload, options)));
  return results.map((result, i) => {
    const cpu = serverCpu(servers[i].pids()) - cpu0[i];
    return {
      requestsPerSecond: result.ok / result.duration,
      p50Ms: result.p50Ms,
      p99Ms: result.p99Ms,
      serverCpuUsPerRequest: result.ok ? (cpu * 1e6) / result.ok : NaN,
      requests: result.ok,
      errors: result.errors,
    };
  });
}

function summariseKeepAlive(samples, variants, workloads) {
  const key = (w, v) => `${w.name}\u0000${v.name}`;
  return workloads.map((w) => {
    const by = Object.fromEntries(variants.map((v) => {
      const s = samples.get(key(w, v));
      return [v.name, {
        requestsPerSecond: median(s.map((x) => x.requestsPerSecond)),
        p50Ms: median(s.map((x) => x.p50Ms)),
        p99Ms: median(s.map((x) => x.p99Ms)),
        serverCpuUsPerRequest: median(s.map((x) => x.serverCpuUsPerRequest)),
        // On a shared machine contention only ever takes away: the best trial is the cleaner view.
        bestRequestsPerSecond: Math.max(...s.map((x) => x.requestsPerSecond)),
        bestP99Ms: Math.min(...s.map((x) => x.p99Ms)),
        bestServerCpuUsPerRequest: Math.min(...s.map((x) => x.serverCpuUsPerRequest)),
        requests: sum(s.map((x) => x.requests)),
        errors: sum(s.map((x) => x.errors)),
      }];
    }));
    const row = { workload: w.name, ...by };
    if (by.enableLingeringClose) {
      // Both variants of a trial ran back to back or at once, so a ratio within a trial sees one load.
      const on = samples.get(key(w, variants[1]));
      const off = samples.get(key(w, variants[0]));
      const paired = (f) => on.map((x, i) => f(x) / f(off[i]));
      const spread = (values) => ({ min: Math.min(...values), median: median(values), max: Math.max(...values) });
      row.throughput = spread(paired((x) => x.requestsPerSecond));
      row.p99 = spread(paired((x) => x.p99Ms));
      row.cpu = spread(paired((x) => x.serverCpuUsPerRequest));
      row.throughputRatio = row.throughput.median;
      row.p99Ratio = row.p99.median;
      row.cpuRatio = row.cpu.median;
      row.best = {
        throughputRatio: by.enableLingeringClose.bestRequestsPerSecond / by.without.bestRequestsPerSecond,
        p99Ratio: by.enableLingeringClose.bestP99Ms / by.without.bestP99Ms,
        cpuRatio: by.enableLingeringClose.bestServerCpuUsPerRequest / by.without.bestServerCpuUsPerRequest,
      };
    }
    return row;
  });
}

/** Trials interleaved: in each, both servers run one after the other, in an order reshuffled each trial. */
export async function runKeepAlive({ trials = 16, duration = 1, connections = 32, workloads = WORKLOADS, log = () => {} } = {}) {
  const plain = await startNodeServer('plain', 2 ** 20);
  const linger = await startNodeServer('linger', 2 ** 20);
  const variants = [{ name: 'without', server: plain }];
  if (!linger.unavailable) variants.push({ name: 'enableLingeringClose', server: linger });
  const key = (w, v) => `${w.name}\u0000${v.name}`;
  const samples = new Map();
  const loadBefore = os.loadavg()[0];
  try {
    for (const v of variants) for (const w of workloads) await cannon(v.server.port, w, { connections, duration: 1 });
    for (let trial = 0; trial < trials; trial++) {
      for (const w of shuffled(workloads, 0x1f3d + trial)) {
        for (const v of shuffled(variants, 0x9e37 + trial)) {
          const [sample] = await keepAliveTrial([v.server], w, { connections, duration });
          if (!samples.has(key(w, v))) samples.set(key(w, v), []);
          samples.get(key(w, v)).push(sample);
        }
      }
      log(`  keep-alive trial ${trial + 1}/${trials}`);
    }
    const plainStats = await plain.stats();
    const lingerStats = linger.unavailable ? null : await linger.stats();
    return {
      autocannonVersion, trials, duration, connections, unavailable: linger.unavailable ?? null, plainStats, lingerStats,
      load: { before: loadBefore, after: os.loadavg()[0], cores: os.cpus().length },
      rows: summariseKeepAlive(samples, variants, workloads),
    };
  } finally {
    await plain.stop();
    if (!linger.unavailable) await linger.stop();
  }
}

// ---------------------------------------------------------------- the 413 storm

function runStormClient(port, clients, bytes, timeoutMs, { fin = true, holdMs = 0, onAnswered = () => {} } = {}) {
  const child = fork(path.join(here, 'storm-client.mjs'), [String(port), String(clients), String(bytes), String(timeoutMs), fin ? 'fin' : 'nofin', String(holdMs)],
    { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  child.on('message', (message) => { if (message.answered) onAnswered(); });
  return resultOf(child, 'storm client', (message) => !message.answered);
}

/** Waits (bounded) until the server's end of every connection is gone, so lingering is counted whole. */
async function drained(port, limitMs) {
  const deadline = Date.now() + limitMs;
  let states = tcpStates(port);
  while (Date.now() < deadline && (states.ESTABLISHED || states.CLOSE_WAIT || states.FIN_WAIT1 || states.LAST_ACK || states.SYN_RECV)) {
    await sleep(20);
    states = tcpStates(port);
  }
  return states;
}

function sumCounts(list) {
  const out = {};
  for (const c of list) for (const [k, v] of Object.entries(c ?? {})) if (typeof v === 'number') out[k] = (out[k] ?? 0) + v;
  return out;
}

export const STORM_SERVERS = [
  { name: 'Node + enableLingeringClose', kind: 'node', variant: 'linger' },
  { name: 'Node without (control)', kind: 'node', variant: 'plain' },
  // Memory floors without this package (bench/http/server.mjs): node:http's own cure, and net.Server's least.
  { name: 'floor: node:http reading the whole body, then 413', kind: 'node', variant: 'read-first', floor: true },
  { name: 'floor: net.Server, fixed 413 + FIN + resume()', kind: 'node', variant: 'net', floor: true },
  { name: 'floor: net.Server, fixed 413 + gracefulClose()', kind: 'node', variant: 'net-graceful', floor: true },
  { name: 'nginx', kind: 'nginx' },
];

async function stormTrial(spec, nginxBinary, { clients, bytes, limit, timeoutMs, fin, holdMs }) {
  const server = spec.kind === 'nginx' ? await startNginx(nginxBinary) : await startNodeServer(spec.variant, limit);
  if (server.unavailable) return { unavailable: server.unavailable };
  try {
    await sleep(100);
    const pids = server.pids();
    await server.mark?.();
    const peakReset = pids.every(resetPeak);
    const baseline = sum(pids.map(rssMiB));
    const fds0 = sum(pids.map(fdCount));
    const cpu0 = serverCpu(pids);
    // Without FIN: the server's RSS once every client has its answer, while each connection lingers idle.
    let answeredRssMiB = null;
    let liveHeap = null;
    const client = await runStormClient(server.port, clients, bytes, timeoutMs,
      { fin, holdMs, onAnswered: () => {
        answeredRssMiB = sum(pids.map(rssMiB));
        // Asked at once, while every connection still lingers; awaited once the clients are done.
        liveHeap = server.liveHeap ? server.liveHeap().catch(() => null) : null;
      } });
    const live = liveHeap ? await liveHeap : null;
    const states = await drained(server.port, fin ? 5000 : 15_000);
    // The server's own view: connections it still counts as lingering end by the client's FIN,
    // which has arrived for every client by now; give them a bounded moment.
    let stats = server.stats ? await server.stats() : null;
    for (let i = 0; i < 20 && stats?.lingeringNow > 0; i++) {
      await sleep(100);
      stats = await server.stats();
    }
    const cpu = serverCpu(pids) - cpu0;
    const peak = sum(pids.map(peakRssMiB));
    const fdsLeft = sum(pids.map(fdCount)) - fds0;
    return {
      ...client,
      version: server.version,
      serverCpuSeconds: cpu,
      cpuMsPerUpload: (cpu * 1000) / clients,
      baselineRssMiB: baseline,
      peakRssMiB: peak,
      rssGrowthKiBPerUpload: ((peak - baseline) * 1024) / clients,
      heldKiBPerConnection: answeredRssMiB == null ? null : ((answeredRssMiB - baseline) * 1024) / clients,
      liveHeapKiBPerConnection: live ? (live.after - live.before) / 1024 / clients : null,
      loopDelayMs: stats?.loopDelayMs ?? null,
      peakReset,
      leftOpen: (states.ESTABLISHED ?? 0) + (states.CLOSE_WAIT ?? 0),
      fdsLeft,
      lingeringLeft: stats?.lingeringNow ?? null,
      maxLingering: stats?.maxLingering ?? null,
      clientErrors: stats?.clientErrors ?? null,
      counts: stats?.counts ?? null,
      peakMemoryMiB: stats ? Object.fromEntries(Object.entries(stats.peakMemory).map(([k, v]) => [k, v / 2 ** 20])) : null,
    };
  } finally {
    await server.stop();
  }
}

/**
 * fin false: clients that never send their FIN (storm-client.mjs 'nofin'), each holding its
 * connection silent for holdMs after its answer; then the control (which resets) is left out.
 */
export async function runStorm({ trials = 3, clients = 200, bytes = 10_000_000, limit = 2 ** 20, timeoutMs = 60_000, fin = true, holdMs = 8000, log = () => {} } = {}) {
  const nginxBinary = ensureNginx(log);
  const servers = STORM_SERVERS.filter((s) => (s.kind !== 'nginx' || nginxBinary) && (fin || (s.variant !== 'plain' && s.variant !== 'read-first')));
  const samples = new Map(servers.map((s) => [s, []]));
  const unavailable = {};
  if (!nginxBinary) unavailable.nginx = 'nginx is not installed and could not be installed';
  for (let trial = 0; trial < trials; trial++) {
    for (const spec of shuffled(servers, 0x413 + trial)) {
      if (unavailable[spec.name]) continue;
      const sample = await stormTrial(spec, nginxBinary, { clients, bytes, limit, timeoutMs, fin, holdMs });
      if (sample.unavailable) { unavailable[spec.name] = sample.unavailable; continue; }
      samples.get(spec).push(sample);
      log(`  storm${fin ? '' : ' without FIN'} ×${clients} trial ${trial + 1}/${trials}: ${spec.name}: ${sample.clean}/${clients} clean, ${sample.serverCpuSeconds.toFixed(2)} s CPU`);
    }
  }
  const rows = servers.filter((s) => samples.get(s).length).map((spec) => {
    const s = samples.get(spec);
    const outcomes = {};
    for (const x of s) for (const [kind, n] of Object.entries(x.outcomes)) outcomes[kind] = (outcomes[kind] ?? 0) + n;
    const pick = (f) => median(s.map(f));
    return {
      server: spec.name,
      version: s[0].version ?? null,
      trials: s.length,
      uploads: sum(s.map((x) => x.clients)),
      clean: sum(s.map((x) => x.clean)),
      cleanRate: sum(s.map((x) => x.clean)) / sum(s.map((x) => x.clients)),
      outcomes,
      serverCpuSeconds: pick((x) => x.serverCpuSeconds),
      cpuMsPerUpload: pick((x) => x.cpuMsPerUpload),
      baselineRssMiB: pick((x) => x.baselineRssMiB),
      peakRssMiB: pick((x) => x.peakRssMiB),
      maxPeakRssMiB: Math.max(...s.map((x) => x.peakRssMiB)),
      rssGrowthKiBPerUpload: pick((x) => x.rssGrowthKiBPerUpload),
      heldKiBPerConnection: s[0].heldKiBPerConnection == null ? null : pick((x) => x.heldKiBPerConnection),
      liveHeapKiBPerConnection: s.some((x) => x.liveHeapKiBPerConnection == null) ? null : pick((x) => x.liveHeapKiBPerConnection),
      loopDelayMs: s[0].loopDelayMs ? { p50: pick((x) => x.loopDelayMs.p50), p99: pick((x) => x.loopDelayMs.p99), max: pick((x) => x.loopDelayMs.max) } : null,
      seconds: pick((x) => x.seconds),
      clientMaxMs: Math.max(...s.map((x) => x.clientMs.max)),
      leftOpen: Math.max(...s.map((x) => x.leftOpen)),
      fdsLeft: Math.max(...s.map((x) => x.fdsLeft)),
      lingeringLeft: s[0].lingeringLeft == null ? null : Math.max(...s.map((x) => x.lingeringLeft)),
      maxLingering: s[0].maxLingering == null ? null : Math.max(...s.map((x) => x.maxLingering)),
      clientErrors: s[0].clientErrors == null ? null : sum(s.map((x) => x.clientErrors)),
      peakReset: s.every((x) => x.peakReset),
      counts: s[0].counts ? sumCounts(s.map((x) => x.counts)) : null,
      peakMemoryMiB: s[0].peakMemoryMiB ? Object.fromEntries(Object.keys(s[0].peakMemoryMiB).map((k) => [k, pick((x) => x.peakMemoryMiB[k])])) : null,
    };
  });
  return { trials, clients, bytes, limit, timeoutMs, fin, holdMs: fin ? null : holdMs, unavailable, rows };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const quick = process.env.BENCH_QUICK === '1';
  const log = (line) => process.stderr.write(`${line}\n`);
  const part = process.argv[2] ?? 'all';
  const out = {};
  if (part !== 'storm') out.keepAlive = await runKeepAlive(quick ? { trials: 1, duration: 1, log } : { log });
  if (part !== 'keepalive') out.storm = await runStorm(quick ? { trials: 1, clients: 20, bytes: 2_000_000, log } : { log });
  if (part === 'nofin') out.stormNoFin = await runStorm({ trials: 1, clients: quick ? 20 : 200, bytes: 2_000_000, fin: false, log });
  console.log(JSON.stringify(out, null, 1));
}
