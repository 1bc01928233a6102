// Graceful-shutdown libraries on a server with enableLingeringClose: stoppable, http-terminator,
// @godaddy/terminus, fastify's close() (forceCloseConnections true and its default), and Node's
// own closeAllConnections() / closeIdleConnections(). At shutdown one connection lingers with a
// client that read its 413 and never sends its FIN (lingering caps of 20 s, so a shutdown that
// waits for them is obvious), and a refused upload (Python http.client, 8 MiB) still waits for its
// answer. The shutdown completes within the library's grace period, the refused upload reads its
// whole 413, and nothing is left: no socket, no timer (process.getActiveResourcesInfo()).
import http from 'node:http';
import { createTerminus } from '@godaddy/terminus';
import Fastify from 'fastify';
import { createHttpTerminator } from 'http-terminator';
import stoppable from 'stoppable';
import { describe, expect, it } from 'vitest';
import { enableLingeringClose, type LingeringCloseCounts, type LingeringCloseHandle } from '../../src/http/index';
import { guardResources, sleep, until } from '../close/support';
import { ANSWER, LIMIT, RawClient, clean, listen, pythonUpload, trackAccepted, type ClientView, type Target } from './support';

// terminus acts on a process signal, which a worker thread cannot receive: the forks project runs it.
const linux = process.platform === 'linux';
const GRACE = 1000;
const CAPS = { lingeringTime: 20_000, lingeringTimeout: 20_000 };

guardResources();

/** Opens once: the refused upload's answer waits for it (an auth check still running at shutdown). */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => { open = resolve; });
  return { open, opened };
}

/** node:http: POSTs with X-Now are refused at once; others once the gate opens. 413 + Connection: close. */
function handler(g: ReturnType<typeof gate>, waiting: { count: number }): http.RequestListener {
  return (req, res) => {
    if (req.method === 'GET') return void res.end('ok');
    const reject = () => {
      res.writeHead(413, { connection: 'close', 'content-type': 'text/plain', 'content-length': ANSWER.length });
      res.end(ANSWER);
    };
    if (req.headers['x-now']) return reject();
    waiting.count++;
    void g.opened.then(reject);
  };
}

/** A connection lingering after its 413 whose client never sends its FIN. */
async function lingeringClient(target: Target, handle: LingeringCloseHandle): Promise<RawClient> {
  const before = handle.lingering;
  const c = new RawClient(target);
  await c.connected();
  c.head(20 * LIMIT, 'X-Now: 1\r\n');
  await c.body(LIMIT);
  await until(() => c.answered && c.eof && handle.lingering === before + 1, 5000, 'the connection to linger');
  return c;
}

const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

function activeSockets(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap' || r === 'TCPServerWrap').length;
}

interface Outcome {
  shutdownMs: number;
  upload?: ClientView;
  idle: { error: string | undefined; closed: boolean };
  counts: LingeringCloseCounts;
  /** Timers keeping the loop alive after the shutdown, beyond those before it. */
  timersLeft: number;
}

/**
 * Runs one shutdown: `attach` prepares the library on the server and returns the call that
 * shuts down (resolving when the library says it is done). `withUpload`: a refused upload waits
 * for its answer when the shutdown starts; the gate opens 50 ms into it.
 */
async function shutdownWith(
  attach: (server: http.Server) => () => Promise<void>,
  options: { withUpload: boolean; caps?: typeof CAPS; server?: () => { server: http.Server; listen(): Promise<Target> }; g?: ReturnType<typeof gate>; waiting?: { count: number } },
): Promise<Outcome> {
  const timersBefore = timers();
  const g = options.g ?? gate();
  const waiting = options.waiting ?? { count: 0 };
  const made = options.server?.();
  const server = made?.server ?? http.createServer(handler(g, waiting));
  trackAccepted(server);
  const handle = enableLingeringClose(server, options.caps ?? CAPS);
  const shutdown = attach(server);
  const target = made ? await made.listen() : await listen(server, '127.0.0.1');
  const socketsBefore = activeSockets();
  const idle = await lingeringClient(target, handle);
  let upload: Promise<ClientView> | undefined;
  if (options.withUpload) {
    upload = pythonUpload(target, { bytes: 8 * LIMIT });
    await until(() => waiting.count === 1, 10_000, 'the upload to wait for its answer');
  }
  const t0 = performance.now();
  const done = shutdown();
  setTimeout(g.open, 50);
  await done;
  const shutdownMs = performance.now() - t0;
  const view = upload ? await upload : undefined;
  await until(() => idle.closed || idle.eof, 2000, 'the idle client to see the close');
  await sleep(20);
  const idleView = { error: idle.error, closed: idle.closed || idle.eof };
  idle.socket.destroy();
  // The listening socket and every connection are gone.
  await until(() => handle.lingering === 0 && activeSockets() <= socketsBefore - 1, 5000, 'every socket closed');
  // Timers of the test's own helpers (a client's 200 ms wait for 'drain') may still run out.
  await until(() => timers() <= timersBefore, 5000, 'the timers to be gone').catch(() => {});
  return { shutdownMs, upload: view, idle: idleView, counts: handle.counts, timersLeft: Math.max(0, timers() - timersBefore) };
}

describe.skipIf(!linux)('graceful-shutdown libraries end lingering connections within their grace period', () => {
  it('stoppable(server, grace): stop() completes at the grace deadline, the refused upload reads its 413', async () => {
    const r = await shutdownWith((server) => {
      const s = stoppable(server, GRACE);
      return () => new Promise<void>((resolve, reject) => s.stop((err) => (err ? reject(err) : resolve())));
    }, { withUpload: true });
    expect(clean(r.upload!), JSON.stringify(r.upload)).toBe(true);
    expect(r.shutdownMs).toBeLessThan(GRACE + 2000);
    expect(r.idle.error).toBeUndefined();
    expect(r.counts).toMatchObject({ lingered: 2, endedByFin: 1, endedByClose: 1, endedByCap: 0 });
    expect(r.timersLeft).toBe(0);
  });

  it('http-terminator: terminate() completes within gracefulTerminationTimeout, the refused upload reads its 413', async () => {
    const r = await shutdownWith((server) => {
      const terminator = createHttpTerminator({ server, gracefulTerminationTimeout: GRACE });
      return () => terminator.terminate();
    }, { withUpload: true });
    expect(clean(r.upload!), JSON.stringify(r.upload)).toBe(true);
    expect(r.shutdownMs).toBeLessThan(GRACE + 2000);
    expect(r.idle.error).toBeUndefined();
    expect(r.counts).toMatchObject({ lingered: 2, endedByFin: 1, endedByClose: 1, endedByCap: 0 });
    expect(r.timersLeft).toBe(0);
  });

  it('@godaddy/terminus (timeout, on its signal): shutdown completes within the timeout, the refused upload reads its 413', async () => {
    const signal = 'SIGUSR2';
    const listenersBefore = process.listeners(signal);
    const exit = process.exit;
    let exited: number | undefined;
    let shutDown!: () => void;
    const finished = new Promise<void>((resolve) => { shutDown = resolve; });
    // terminus ends the process after onShutdown (useExit0: process.exit(0)); here the exit is recorded.
    process.exit = ((code?: number) => { exited = code ?? 0; shutDown(); }) as typeof process.exit;
    try {
      const r = await shutdownWith((server) => {
        createTerminus(server, { signal, timeout: GRACE, useExit0: true, logger: () => {} });
        return () => {
          process.kill(process.pid, signal);
          return finished;
        };
      }, { withUpload: true });
      expect(exited).toBe(0);
      expect(clean(r.upload!), JSON.stringify(r.upload)).toBe(true);
      expect(r.shutdownMs).toBeLessThan(GRACE + 2000);
      expect(r.idle.error).toBeUndefined();
      expect(r.counts).toMatchObject({ lingered: 2, endedByFin: 1, endedByClose: 1, endedByCap: 0 });
    } finally {
      process.exit = exit;
      for (const l of process.listeners(signal)) if (!listenersBefore.includes(l)) process.off(signal, l);
    }
  });

  it("fastify forceCloseConnections: true: close() ends the lingering connection at once (closeAllConnections)", async () => {
    const app = Fastify({ forceCloseConnections: true });
    app.get('/ok', async () => 'ok');
    const r = await shutdownWith(() => () => app.close(), {
      withUpload: false,
      server: () => {
        app.post('/upload', { onRequest: async (_req, reply) => { reply.code(413).header('connection', 'close').type('text/plain').send(ANSWER); return reply; } }, async () => 'accepted');
        return { server: app.server, listen: async () => { await app.listen({ port: 0, host: '127.0.0.1' }); return { host: '127.0.0.1', port: (app.server.address() as { port: number }).port }; } };
      },
    });
    expect(r.shutdownMs).toBeLessThan(GRACE + 2000);
    expect(r.idle.error).toBeUndefined();
    expect(r.counts).toMatchObject({ lingered: 1, endedByClose: 1 });
    expect(r.timersLeft).toBe(0);
  });

  it("fastify's default close(): waits for the refused upload, which reads its 413; a client that never sends its FIN is bounded by the lingering caps", async () => {
    const g = gate();
    const waiting = { count: 0 };
    const app = Fastify();
    app.get('/ok', async () => 'ok');
    app.post('/upload', {
      onRequest: async (req, reply) => {
        if (!req.headers['x-now']) {
          waiting.count++;
          await g.opened;
        }
        reply.code(413).header('connection', 'close').type('text/plain').send(ANSWER);
        return reply;
      },
    }, async () => 'accepted');
    // fastify has no grace period: the lingering caps bound the wait. Short ones for this server.
    const r = await shutdownWith(() => () => app.close(), {
      withUpload: true, g, waiting, caps: { lingeringTime: 1500, lingeringTimeout: 1500 },
      server: () => ({ server: app.server, listen: async () => { await app.listen({ port: 0, host: '127.0.0.1' }); return { host: '127.0.0.1', port: (app.server.address() as { port: number }).port }; } }),
    });
    expect(clean(r.upload!), JSON.stringify(r.upload)).toBe(true);
    expect(r.shutdownMs).toBeLessThan(5000);
    expect(r.counts).toMatchObject({ lingered: 2, endedByFin: 1, endedByCap: 1 });
    expect(r.timersLeft).toBe(0);
  });

  it("node's server.closeAllConnections(): ends the lingering connection at once", async () => {
    const r = await shutdownWith((server) => () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }), { withUpload: false });
    expect(r.shutdownMs).toBeLessThan(2000);
    expect(r.idle.error).toBeUndefined();
    expect(r.counts).toMatchObject({ lingered: 1, endedByClose: 1 });
    expect(r.timersLeft).toBe(0);
  });

  it("node's server.closeIdleConnections(): leaves lingering connections to end on their own; the refused upload reads its 413", async () => {
    const r = await shutdownWith((server) => () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    }), { withUpload: true, caps: { lingeringTime: 1500, lingeringTimeout: 1500 } });
    expect(clean(r.upload!), JSON.stringify(r.upload)).toBe(true);
    expect(r.shutdownMs).toBeLessThan(5000);
    expect(r.counts).toMatchObject({ lingered: 2, endedByFin: 1, endedByCap: 1 });
    expect(r.timersLeft).toBe(0);
  });

});
