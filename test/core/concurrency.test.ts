// Concurrency: 8 worker threads hammer every function at once, on their own connections (opened,
// poked and reset over and over), on one connection shared by all of them (the descriptor table
// is per process), and on descriptors that can never be open. Each worker must read back its own
// values (the per-call out-arrays are per thread), every failure must be a typed error, and the
// shared connection must still be intact afterwards.
import net from 'node:net';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { getLinger, pendingBytes, setLinger } from '../../src/index';
import { connection } from '../support/helpers';

const WORKERS = 8;
const ITERATIONS = Number(process.env.NET_LINGER_CONCURRENCY_ITERATIONS ?? 2_000);

const script = `
const { parentPort, workerData } = require('node:worker_threads');
const net = require('node:net');
const lib = require(workerData.entry);
const { index, sharedFd, iterations, neverOpen } = workerData;
const typed = (e) => e instanceof lib.SocketError || e instanceof lib.NetLingerError ||
  ((e instanceof TypeError || e instanceof RangeError) && /^ERR_/.test(e.code));
const report = { calls: 0, typedErrors: 0, untyped: [], mismatches: 0, sharedSeen: new Set(), connections: 0 };
function attempt(fn) {
  report.calls++;
  try { return fn(); } catch (e) { if (typed(e)) report.typedErrors++; else report.untyped.push(String(e && e.stack || e)); }
}
const server = net.createServer((s) => { s.on('error', () => {}); s.resume(); });
server.listen(0, '127.0.0.1', async () => {
  const port = server.address().port;
  const open = () => new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1', () => resolve(c));
    c.on('error', () => {});
  });
  let own = await open();
  const mySeconds = index + 1;
  for (let i = 0; i < iterations; i++) {
    // Own connection: set this worker's value and read it back while the others do the same.
    attempt(() => lib.setLinger(own, true, mySeconds));
    const mine = attempt(() => lib.getLinger(own));
    if (mine && mine.seconds !== mySeconds) report.mismatches++;
    attempt(() => lib.pendingBytes(own));
    // The shared connection: everyone writes a value 1..8; a read must see one of them.
    attempt(() => lib.setLinger(sharedFd, true, mySeconds));
    const shared = attempt(() => lib.getLinger(BigInt(sharedFd)));
    if (shared) report.sharedSeen.add(shared.seconds);
    attempt(() => lib.pendingBytes(sharedFd));
    // Error paths, concurrently: never-open descriptors and bad arguments.
    attempt(() => lib.getLinger(neverOpen + index));
    attempt(() => lib.shutdown(neverOpen, 'both'));
    attempt(() => lib.setLinger(own, 'yes', -1));
    attempt(() => lib.shutdown(own, 7));
    if (i % 500 === 499) {
      // Reset and replace this worker's connection mid-hammering, poking it while it goes.
      attempt(() => lib.setLinger(own, true, 0));
      attempt(() => lib.shutdown(own, 'both'));
      own.resetAndDestroy();
      attempt(() => lib.pendingBytes(own));
      own = await open();
      report.connections++;
    }
  }
  attempt(() => lib.setLinger(own, true, 0));
  own.destroy();
  server.close();
  parentPort.postMessage({ ...report, sharedSeen: [...report.sharedSeen] });
});
`;

interface Report {
  calls: number;
  typedErrors: number;
  untyped: string[];
  mismatches: number;
  sharedSeen: number[];
  connections: number;
}

describe('concurrency', () => {
  // Each worker sets SO_LINGER {1, n > 0} on Node sockets, which Windows refuses on purpose
  // (ERR_NET_LINGER_UNSUPPORTED, asserted in windows.test.ts), and shares a POSIX descriptor.
  it.skipIf(process.platform === 'win32')(`${WORKERS} workers hammer every function at once (${ITERATIONS.toLocaleString('en-US')} rounds each)`, async () => {
    const shared = await connection();
    const fdOf = (s: net.Socket) => (s as unknown as { _handle: { fd: number } })._handle.fd;
    try {
      const entry = path.resolve(__dirname, '..', '..', 'dist', 'cjs', 'index.js');
      const runs = Array.from({ length: WORKERS }, (_, index) => new Promise<Report>((resolve, reject) => {
        const worker = new Worker(script, {
          eval: true,
          workerData: { entry, index, sharedFd: fdOf(shared.client), iterations: ITERATIONS, neverOpen: 2 ** 31 - 16 },
        });
        worker.once('message', resolve);
        worker.once('error', reject);
        worker.once('exit', (code) => { if (code !== 0) reject(new Error(`worker ${index} exited ${code}`)); });
      }));
      const reports = await Promise.all(runs);
      for (const r of reports) {
        expect(r.untyped).toEqual([]);
        expect(r.mismatches).toBe(0);
        expect(r.calls).toBeGreaterThanOrEqual(ITERATIONS * 10);
        expect(r.typedErrors).toBeGreaterThanOrEqual(ITERATIONS * 4);
        for (const seconds of r.sharedSeen) expect(seconds).toBeGreaterThanOrEqual(1), expect(seconds).toBeLessThanOrEqual(WORKERS);
      }
      // The shared connection is intact and still carries data.
      expect(getLinger(shared.client).onoff).toBe(true);
      setLinger(shared.client, true, 0);
      shared.client.write('still here');
      shared.server.resume();
      const got = await new Promise<string>((resolve) => shared.server.once('data', (d) => resolve(String(d))));
      expect(got).toBe('still here');
      expect(pendingBytes(shared.client).unread).toBe(0);
    } finally {
      shared.close();
    }
  }, 120_000);
});
