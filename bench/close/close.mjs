// Closing many live connections: each (row, trial) runs in a fresh closer process against a
// fresh peer process (each end has its own fd limit and its own port, so TIME_WAIT entries
// can be counted per row). Trials are interleaved across rows; medians are reported.
import { fork } from 'node:child_process';
import path from 'node:path';
import { CLOSE_ROWS } from './rows.mjs';
import { median, shuffled } from '../lib/stats.mjs';
import { tcpStates } from '../lib/build.mjs';
import { resultOf } from '../lib/proc.mjs';

const here = path.dirname(new URL(import.meta.url).pathname);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function startPeer(mode = 'reading') {
  const peer = fork(path.join(here, '..', 'lib', 'peer.mjs'), [mode], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    peer.once('message', ({ port }) => resolve({ peer, port }));
    peer.once('error', reject);
  });
}

function runCloser(row, count, port, batch, warmup) {
  const child = fork(path.join(here, 'worker.mjs'), [row.name, String(count), String(port), String(batch), String(warmup)],
    { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return resultOf(child, `closer for ${row.name}`);
}

/** Waits for the handshakes to finish (nothing left in FIN_WAIT/CLOSE_WAIT/LAST_ACK), then counts TIME_WAIT. */
async function settle(port) {
  const deadline = Date.now() + 3000;
  let states = tcpStates(port);
  while (Date.now() < deadline && (states.FIN_WAIT1 || states.FIN_WAIT2 || states.CLOSE_WAIT || states.LAST_ACK || states.CLOSING || states.ESTABLISHED)) {
    await sleep(50);
    states = tcpStates(port);
  }
  return states;
}

export async function runOne(row, count, batch, warmup = 0) {
  const { peer, port } = await startPeer(row.peer);
  try {
    const result = await runCloser(row, Math.min(count, row.maxConnections ?? Infinity), port, batch, warmup);
    const states = await settle(port);
    return { ...result, timeWait: states.TIME_WAIT ?? 0, leftOpen: (states.ESTABLISHED ?? 0) + (states.CLOSE_WAIT ?? 0) };
  } finally {
    peer.send('stop');
    await new Promise((resolve) => peer.once('exit', resolve));
  }
}

function summarise(samples) {
  const pick = (f) => median(samples.map(f));
  return {
    row: samples[0].row,
    connections: samples[0].connections,
    trials: samples.length,
    closesPerSecond: pick((s) => s.closesPerSecond),
    perCloseUs: pick((s) => s.perCloseUs),
    cpuUsPerClose: pick((s) => s.cpuUsPerClose),
    // In trial order: trial i of every row ran in the same round (for ratios paired by round).
    cpuUsPerCloseTrials: samples.map((s) => s.cpuUsPerClose),
    loopDelayMs: { p50: pick((s) => s.loopDelayMs.p50), p99: pick((s) => s.loopDelayMs.p99), max: pick((s) => s.loopDelayMs.max) },
    longestCloseCallsMs: pick((s) => s.longestCloseCallsMs),
    peakRssMiB: pick((s) => s.peakRssMiB),
    timeWait: pick((s) => s.timeWait),
    leftOpen: Math.max(...samples.map((s) => s.leftOpen)),
  };
}

/** Every row, `trials` interleaved trials each; `warmup` connections closed first, unmeasured, in each trial's process. */
export async function runCloseTable({ connections = 10_000, trials = 3, batch = 10, rows = CLOSE_ROWS, warmup = 0, log = () => {} } = {}) {
  const samples = new Map(rows.map((r) => [r, []]));
  for (let trial = 0; trial < trials; trial++) {
    for (const row of shuffled(rows, 0x5bd1e995 + trial)) {
      samples.get(row).push(await runOne(row, connections, batch, warmup));
      log(`  close trial ${trial + 1}/${trials}${warmup ? ' (warm)' : ''}: ${row.name}`);
    }
  }
  return rows.map((r) => summarise(samples.get(r)));
}

export async function runScaling({ sizes = [1000, 10_000, 19_000], trials = 1, batch = 10, rows, log = () => {} } = {}) {
  const out = [];
  for (let trial = 0; trial < trials; trial++) {
    for (const row of rows) {
      for (const size of sizes) {
        const result = await runOne(row, size, batch);
        out.push({ ...result, trial });
        log(`  scaling: ${row.name} x ${size}`);
      }
    }
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const table = await runCloseTable({ connections: Number(process.env.BENCH_CONNECTIONS ?? 2000), trials: 1, log: console.log });
  console.log(JSON.stringify(table, null, 1));
}
