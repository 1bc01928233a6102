// One autocannon run in its own process, so two can load two servers at the same time without
// sharing an event loop. argv: port method path bodyBytes connections durationSeconds.
// Reports over IPC: 2xx answers, the run's duration, errors, and latency percentiles taken from
// every response's own time (autocannon's histogram keeps whole milliseconds, too coarse here).
import autocannon from 'autocannon';
import { quantile } from '../lib/stats.mjs';

const [port, method, urlPath, bodyBytes, connections, duration] = process.argv.slice(2);
const latencies = [];
const body = Number(bodyBytes) > 0 ? 'x'.repeat(Number(bodyBytes)) : undefined;
const instance = autocannon({
  url: `http://127.0.0.1:${port}${urlPath}`,
  method,
  body,
  headers: body ? { 'content-type': 'text/plain' } : undefined,
  connections: Number(connections),
  pipelining: 1,
  duration: Number(duration),
}, (err, result) => {
  if (err) throw err;
  latencies.sort((a, b) => a - b);
  process.send({
    ok: result['2xx'],
    duration: result.duration,
    errors: result.errors + result.timeouts + result.non2xx,
    p50Ms: quantile(latencies, 0.5),
    p99Ms: quantile(latencies, 0.99),
  }, () => process.exit(0));
});
instance.on('response', (client, statusCode, bytes, ms) => { latencies.push(ms); });
