// A relay in its own process, so its CPU time, memory and event loop belong to it alone:
// listens on 127.0.0.1 (port 0), and for every connection dials the upstream port, then joins
// the two sockets with the package's relay(a, b) ('relay') or with a.pipe(b); b.pipe(a) ('pipe').
// Both wait for the upstream connection before moving bytes. Answers IPC requests:
//   { cmd: 'stats' }      -> memory, CPU time and connection count
//   { cmd: 'gc' }         -> runs the collector (started with --expose-gc), then 'stats'
//   { cmd: 'eld-start' }  -> starts an event-loop delay histogram (1 ms resolution)
//   { cmd: 'eld-stop' }   -> its p50 / p99 / max in ms
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { root } from '../lib/build.mjs';

const require = createRequire(import.meta.url);
const [mode, upstreamText] = process.argv.slice(2);
const upstreamPort = Number(upstreamText);
const lib = mode === 'relay' ? require(path.join(root, 'dist', 'cjs', 'relay', 'index.js')) : null;
if (mode !== 'relay' && mode !== 'pipe') throw new Error(`relay-worker: unknown mode ${mode}`);
if (lib && typeof lib.relay !== 'function') throw new Error('relay-worker: dist/ has no relay(); build the package first');
process.on('warning', () => {});

let open = 0;
let relayed = 0;
const server = net.createServer({ pauseOnConnect: true, allowHalfOpen: mode === 'relay' }, (client) => {
  open++;
  client.on('error', () => {});
  const upstream = net.connect({ port: upstreamPort, host: '127.0.0.1', allowHalfOpen: mode === 'relay' });
  upstream.on('error', () => {});
  client.once('close', () => { open--; });
  upstream.once('connect', () => {
    relayed++;
    if (lib) {
      void lib.relay(client, upstream);
    } else {
      client.pipe(upstream);
      upstream.pipe(client);
    }
  });
});
server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => process.send({ port: server.address().port }));

let histogram = null;
const ms = (ns) => ns / 1e6;
function stats() {
  const m = process.memoryUsage();
  const cpu = process.cpuUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers, cpuUs: cpu.user + cpu.system, open, relayed };
}
process.on('message', (message) => {
  switch (message.cmd) {
    case 'stats': process.send({ stats: stats() }); break;
    case 'gc':
      globalThis.gc?.();
      setTimeout(() => { globalThis.gc?.(); process.send({ stats: stats() }); }, 50);
      break;
    case 'eld-start':
      histogram = monitorEventLoopDelay({ resolution: 1 });
      histogram.enable();
      process.send({ ok: true });
      break;
    case 'eld-stop':
      histogram.disable();
      process.send({ eld: { p50: ms(histogram.percentile(50)), p99: ms(histogram.percentile(99)), max: ms(histogram.max), samples: histogram.count } });
      break;
    case 'stop': process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
