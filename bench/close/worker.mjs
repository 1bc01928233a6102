// One close-benchmark trial in a fresh process, so peak RSS belongs to this row alone:
// open N loopback connections to the peer, then close them all with one row's method,
// `batch` closes per event-loop turn, and report throughput and event-loop delay. With a warm-up
// count W, first W connections are opened and closed the same way, unmeasured: the figures are
// then those of a process that has closed connections before (its code compiled and optimised).
import { createRequire } from 'node:module';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { CLOSE_ROWS } from './rows.mjs';
import { root } from '../lib/build.mjs';
import { openConnections } from '../lib/connections.mjs';

const require = createRequire(import.meta.url);
const lib = require(path.join(root, 'dist', 'cjs', 'index.js'));
const [rowName, countText, portText, batchText = "10", warmupText = "0"] = process.argv.slice(2);
const row = CLOSE_ROWS.find((r) => r.name === rowName);
if (!row) throw new Error(`no close row named ${rowName}`);
const count = Number(countText);
const port = Number(portText);
const batch = Number(batchText);
const warmup = Number(warmupText);
process.on('warning', () => {});
const turn = () => new Promise((resolve) => setImmediate(resolve));

if (warmup > 0) {
  const early = await openConnections(port, warmup);
  const closing = [];
  for (let i = 0; i < early.length; i += batch) {
    for (const socket of early.slice(i, i + batch)) closing.push(row.close(socket, lib));
    await turn();
  }
  await Promise.all(closing);
}

const sockets = await openConnections(port, count);
if (row.fill) {
  for (const socket of sockets) socket.write(Buffer.alloc(4 * 2 ** 20));
  await new Promise((resolve) => setTimeout(resolve, 200));
}
const rssBefore = process.memoryUsage.rss();
const histogram = monitorEventLoopDelay({ resolution: 1 });
histogram.enable();
// The histogram records from its second tick on: let it start before the first close can block.
await new Promise((resolve) => setTimeout(resolve, 5));
const t0 = process.hrtime.bigint();
const cpu0 = process.cpuUsage();
const done = [];
let longestBatchNs = 0n;
for (let i = 0; i < sockets.length; i += batch) {
  const started = process.hrtime.bigint();
  for (const socket of sockets.slice(i, i + batch)) done.push(row.close(socket, lib));
  const took = process.hrtime.bigint() - started;
  if (took > longestBatchNs) longestBatchNs = took;
  await turn();
}
await Promise.all(done);
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
const cpu = process.cpuUsage(cpu0);
// Let the sampling timer fire once more, so a turn that blocked to the end is recorded too.
await new Promise((resolve) => setTimeout(resolve, 3));
histogram.disable();
const ms = (ns) => ns / 1e6;
process.send({
  row: row.name,
  connections: sockets.length,
  seconds,
  closesPerSecond: sockets.length / seconds,
  perCloseUs: (seconds * 1e6) / sockets.length,
  // The closer process's own CPU (user + system) per close: what contention on a shared machine inflates least.
  cpuUsPerClose: (cpu.user + cpu.system) / sockets.length,
  loopDelayMs: { p50: ms(histogram.percentile(50)), p99: ms(histogram.percentile(99)), max: ms(histogram.max) },
  longestCloseCallsMs: Number(longestBatchNs) / 1e6,
  peakRssMiB: process.resourceUsage().maxRSS / 1024,
  rssBeforeCloseMiB: rssBefore / 2 ** 20,
});
