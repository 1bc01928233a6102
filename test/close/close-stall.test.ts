// The helpers never block the event loop: 1000 connections whose peers do not read, closed at
// once with each helper, while monitorEventLoopDelay watches. The bound is generous (it tells
// "blocked for seconds" from "did not block"); precise figures belong to the benchmarks.
import { execFile } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { gracefulClose, lingerClose, resetClose } from '../../src/index';
import { guardResources, track } from './support';

const CONNECTIONS = 1000;
const PER_SOCKET = 256 * 1024;
const STALL_BOUND_MS = 1000;

guardResources();

interface Crowd {
  closers: net.Socket[];
  peers: net.Socket[];
}

/** CONNECTIONS loopback connections; the peers never read, each closer has 256 KiB queued for its peer. */
async function crowd(): Promise<Crowd> {
  const closers: net.Socket[] = [];
  const peers: net.Socket[] = [];
  const server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true }, (socket) => {
    socket.on('error', () => undefined);
    closers.push(socket);
  });
  await new Promise<void>((resolve) => server.listen({ port: 0, host: '127.0.0.1', backlog: 1024 }, resolve));
  const { port } = server.address() as net.AddressInfo;
  for (let batch = 0; batch < CONNECTIONS; batch += 100) {
    await Promise.all(Array.from({ length: Math.min(100, CONNECTIONS - batch) }, () => new Promise<void>((resolve, reject) => {
      const peer = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
      peer.pause();
      peer.on('error', () => undefined);
      peer.once('connect', () => resolve());
      peer.once('error', reject);
      peers.push(peer);
    })));
  }
  while (closers.length < CONNECTIONS) await new Promise((resolve) => setTimeout(resolve, 5));
  // Stops listening; its 'close' would wait for every connection to end.
  server.close();
  const payload = Buffer.alloc(PER_SOCKET, 0x71);
  for (const socket of [...closers, ...peers]) track(socket);
  for (const socket of closers) socket.write(payload);
  // Let the kernel take what it will.
  await new Promise((resolve) => setTimeout(resolve, 50));
  return { closers, peers };
}

async function dismiss(c: Crowd): Promise<void> {
  const all = [...c.closers, ...c.peers];
  for (const socket of all) socket.destroy();
  await Promise.all(all.map((socket) => (socket.closed ? undefined : new Promise((resolve) => socket.once('close', resolve)))));
}

/** Runs `close` over the crowd and returns its reports and the longest event-loop stall seen meanwhile, in ms. */
async function closeAllWatched<R>(c: Crowd, close: (socket: net.Socket) => Promise<R>): Promise<{ reports: R[]; maxStallMs: number }> {
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  // The histogram measures from its second tick on: let it start before the work.
  await new Promise((resolve) => setTimeout(resolve, 50));
  const reports = await Promise.all(c.closers.map(close));
  // One more turn of the loop so the histogram sees the last callbacks.
  await new Promise((resolve) => setTimeout(resolve, 20));
  histogram.disable();
  return { reports, maxStallMs: histogram.max / 1e6 };
}

describe.skipIf(process.platform !== 'linux')(`closing ${CONNECTIONS} connections whose peers do not read never blocks the event loop`, () => {
  it('resetClose', async () => {
    const c = await crowd();
    try {
      const { reports, maxStallMs } = await closeAllWatched(c, resetClose);
      expect(reports.every((r) => r.outcome === 'reset')).toBe(true);
      expect(maxStallMs).toBeLessThan(STALL_BOUND_MS);
    } finally {
      await dismiss(c);
    }
  });

  it('gracefulClose (the peers never send FIN: the caps end it)', async () => {
    const c = await crowd();
    try {
      const { reports, maxStallMs } = await closeAllWatched(
        c, (socket) => gracefulClose(socket, { lingeringTime: 500, lingeringTimeout: 300, onTimeout: 'reset' }),
      );
      expect(reports.every((r) => r.outcome === 'timeout' && r.reset)).toBe(true);
      expect(maxStallMs).toBeLessThan(STALL_BOUND_MS);
    } finally {
      await dismiss(c);
    }
  });

  it('lingerClose (the peers never acknowledge everything: the time runs out)', async () => {
    const c = await crowd();
    try {
      const { reports, maxStallMs } = await closeAllWatched(c, (socket) => lingerClose(socket, 0.5));
      expect(reports.every((r) => r.outcome === 'timeout' && (r.unackedBytes ?? 0) > 0)).toBe(true);
      expect(maxStallMs).toBeLessThan(STALL_BOUND_MS);
    } finally {
      await dismiss(c);
    }
  });
});

// In a child process, so this runner is not frozen: the same wait done the blocking way.
const child = `
const net = require('node:net');
const { monitorEventLoopDelay, performance } = require('node:perf_hooks');
const lib = require(process.argv[1]);
process.removeAllListeners('warning');
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function filledPair() {
  const server = net.createServer({ pauseOnConnect: true });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const accepted = new Promise((resolve) => server.once('connection', resolve));
  const peer = net.connect(server.address().port, '127.0.0.1');
  peer.pause();
  peer.on('error', () => {});
  await new Promise((resolve) => peer.once('connect', resolve));
  const closer = await accepted;
  closer.on('error', () => {});
  server.close();
  const chunk = Buffer.alloc(64 * 1024);
  while (closer._handle.writeQueueSize === 0) closer.write(chunk);
  return { closer, peer };
}

async function watched(work) {
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  await sleep(50);
  const result = await work();
  await sleep(50);
  histogram.disable();
  return { result, maxStallMs: histogram.max / 1e6 };
}

(async () => {
  const a = await filledPair();
  const helper = await watched(() => lib.lingerClose(a.closer, 2));
  const b = await filledPair();
  const blocking = await watched(async () => {
    lib.setLinger(b.closer, true, 2);
    const start = performance.now();
    b.closer.destroy();
    return performance.now() - start;
  });
  a.peer.destroy();
  b.peer.destroy();
  process.stdout.write(JSON.stringify({
    helper: { outcome: helper.result.outcome, elapsedMs: helper.result.elapsedMs, maxStallMs: helper.maxStallMs },
    blocking: { destroyMs: blocking.result, maxStallMs: blocking.maxStallMs },
  }));
})();
`;

describe('the stall the helpers avoid', () => {
  it('Linux: setLinger(on, 2) + destroy() freezes the loop ~2 s; lingerClose(socket, 2) waits as long without a stall', async () => {
    if (process.platform !== 'linux') return;
    const entry = path.resolve(__dirname, '..', '..', 'dist', 'cjs', 'index.js');
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ['-e', child, entry], { encoding: 'utf8', timeout: 60_000 }, (err, out, errOut) => {
        if (err) reject(new Error(`${err.message}\n${errOut}`));
        else resolve(out);
      });
    });
    const { helper, blocking } = JSON.parse(stdout);
    expect(helper.outcome).toBe('timeout');
    expect(helper.elapsedMs).toBeGreaterThanOrEqual(1900);
    expect(helper.maxStallMs).toBeLessThan(STALL_BOUND_MS);
    expect(blocking.destroyMs).toBeGreaterThanOrEqual(1500);
    expect(blocking.maxStallMs).toBeGreaterThanOrEqual(1500);
  });
});
