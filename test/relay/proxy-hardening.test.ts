// createFaultProxy() over time and under listener bugs: a bounded number of kept reports, an idle
// timeout for connections the peers leave open, and listeners that throw. Node peers on loopback.
import net from 'node:net';
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFaultProxy, type FaultProxy } from '../../src/testing/index';
import { listenPort } from '../support/helpers';
import { guardResources, sleep, until } from '../close/support';

guardResources();

const listen = listenPort;

/** An upstream that answers 'ok' and closes. */
let answering: net.Server;
let answeringPort: number;
beforeAll(async () => {
  answering = net.createServer((s) => {
    s.on('error', () => undefined);
    s.end('ok');
  });
  answeringPort = await listen(answering);
});
afterAll(() => new Promise<void>((resolve) => answering.close(() => resolve())));

/** One connection through the proxy: reads the answer to its end, then closes. */
function oneConnection(proxy: FaultProxy): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect(proxy.address.port, '127.0.0.1');
    let got = '';
    c.setEncoding('utf8');
    c.on('data', (d: string) => { got += d; });
    c.on('error', reject);
    c.on('close', () => resolve(got));
  });
}

async function connections(proxy: FaultProxy, n: number): Promise<void> {
  for (let i = 0; i < n; i++) expect(await oneConnection(proxy)).toBe('ok');
}

describe('createFaultProxy() keeps a bounded number of reports', () => {
  it('keepReports: N keeps the last N in `reports` and for nextReport(), and counts them all', async () => {
    const proxy = await createFaultProxy({ upstream: answeringPort, keepReports: 10 });
    await connections(proxy, 60);
    await until(() => proxy.reportCount === 60, 5000, 'every report');
    expect(proxy.reports.length).toBe(10);
    expect(proxy.reports.map((r) => r.id)).toEqual(Array.from({ length: 10 }, (_v, i) => 51 + i));
    // Nobody asked for the first 50: nextReport() hands out the oldest one still kept.
    expect((await proxy.nextReport()).id).toBe(51);
    await proxy.close();
  });

  it('keeps the last 100 by default; keepReports: 0 keeps none', async () => {
    const proxy = await createFaultProxy({ upstream: answeringPort });
    await connections(proxy, 110);
    await until(() => proxy.reportCount === 110, 5000, 'every report');
    expect(proxy.reports.length).toBe(100);
    expect(proxy.reports[0].id).toBe(11);
    expect((await proxy.nextReport()).id).toBe(11);
    await proxy.close();

    const none = await createFaultProxy({ upstream: answeringPort, keepReports: 0 });
    await connections(none, 5);
    await until(() => none.reportCount === 5, 5000, 'every report');
    expect(none.reports.length).toBe(0);
    // Only a connection accepted after the call is handed out.
    const next = none.nextReport();
    await connections(none, 1);
    expect((await next).id).toBe(6);
    await none.close();
  });
});

describe('createFaultProxy() memory over many connections', () => {
  it('the heap does not grow with the number of connections (2000 connections, no one reading reports)', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const proxy = await createFaultProxy({ upstream: answeringPort });
    const batch = async (n: number) => {
      for (let i = 0; i < n; i += 10) await Promise.all(Array.from({ length: 10 }, () => oneConnection(proxy)));
    };
    // Warm up to the cap, so that the kept reports are in the baseline.
    await batch(200);
    await until(() => proxy.reportCount === 200, 5000, 'the warm-up reports');
    gc();
    const before = process.memoryUsage().heapUsed;
    await batch(2000);
    await until(() => proxy.reportCount === 2200, 10_000, 'every report');
    gc();
    const grown = process.memoryUsage().heapUsed - before;
    // Kept for ever, 2000 reports and their nextReport() promises would take megabytes.
    expect(grown).toBeLessThan(1_000_000);
    expect(proxy.reports.length).toBe(100);
    await proxy.close();
  });
});

describe('createFaultProxy({ idleTimeout })', () => {
  /** An upstream that reads and never answers nor closes: with a client's FIN, a half-open connection. */
  async function silentUpstream(): Promise<{ port: number; server: net.Server; sockets: net.Socket[] }> {
    const sockets: net.Socket[] = [];
    const server = net.createServer({ allowHalfOpen: true }, (s) => {
      sockets.push(s);
      s.on('error', () => undefined);
      s.resume();
    });
    return { port: await listen(server), server, sockets };
  }

  it('closes a connection both peers left idle (half-open) after the timeout; the report says so', async () => {
    const up = await silentUpstream();
    const proxy = await createFaultProxy({ upstream: up.port, idleTimeout: 300 });
    const client = net.connect({ port: proxy.address.port, host: '127.0.0.1', allowHalfOpen: true });
    client.on('error', () => undefined);
    const t0 = Date.now();
    const closed = new Promise<number>((resolve) => client.on('close', () => resolve(Date.now() - t0)));
    client.resume();
    client.end('hello');
    const after = await Promise.race([closed, sleep(5000).then(() => Infinity)]);
    expect(after).toBeGreaterThanOrEqual(250);
    expect(after).toBeLessThan(5000);
    const r = await proxy.nextReport();
    expect(r).toMatchObject({ stopped: 'idle-timeout', bytes: { up: 5, down: 0 } });
    expect(r.client).toMatchObject({ ended: 'fin', closedWith: 'destroy' });
    expect(r.upstream).toMatchObject({ ended: null, closedWith: 'destroy' });
    expect(proxy.active).toBe(0);
    // The upstream is told too (a FIN: the proxy closed its socket).
    await until(() => up.sockets[0]?.readableEnded === true, 5000, "the upstream's EOF");
    up.sockets[0].destroy();
    await proxy.close();
    up.server.close();
  });

  it('is off by default: a half-open connection stays until close()', async () => {
    const up = await silentUpstream();
    const proxy = await createFaultProxy({ upstream: up.port });
    const client = net.connect({ port: proxy.address.port, host: '127.0.0.1', allowHalfOpen: true });
    client.on('error', () => undefined);
    client.resume();
    client.end('hello');
    await sleep(600);
    expect(proxy.active).toBe(1);
    expect(client.closed).toBe(false);
    await proxy.close();
    const r = await proxy.nextReport().catch(() => proxy.reports[0]);
    expect(r.stopped).toBeNull();
    await until(() => client.closed, 5000, "the client's close");
    for (const s of up.sockets) s.destroy();
    up.server.close();
  });

  it('bad idleTimeout or keepReports: typed errors before anything listens', async () => {
    const bad = (o: Record<string, unknown>) => createFaultProxy({ upstream: answeringPort, ...o });
    await expect(bad({ idleTimeout: -1 })).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE', name: 'RangeError' });
    await expect(bad({ idleTimeout: 1.5 })).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    await expect(bad({ idleTimeout: 2 ** 31 })).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    await expect(bad({ idleTimeout: '100' })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE', name: 'TypeError' });
    await expect(bad({ keepReports: -1 })).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    await expect(bad({ keepReports: '10' })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
  });
});

describe('createFaultProxy() listeners that throw', () => {
  /** Collects unhandled rejections, uncaught exceptions and the proxy's warnings while `fn` runs. */
  async function watching(fn: () => Promise<void>) {
    const seen = { rejections: [] as unknown[], warnings: [] as Array<Error & { code?: string }> };
    const onRejection = (e: unknown) => { seen.rejections.push(e); };
    const onWarning = (w: Error & { code?: string }) => { if (w.code === 'NET_LINGER_PROXY_LISTENER') seen.warnings.push(w); };
    process.on('unhandledRejection', onRejection);
    process.on('warning', onWarning);
    try {
      await fn();
      await sleep(50);
    } finally {
      process.off('unhandledRejection', onRejection);
      process.off('warning', onWarning);
    }
    return seen;
  }

  it("a throwing 'report' or 'connection' listener: no unhandled rejection, close() resolves, a warning with a code", async () => {
    const seen = await watching(async () => {
      const proxy = await createFaultProxy({ upstream: answeringPort });
      proxy.on('report', () => { throw new Error('report listener bug'); });
      proxy.on('connection', () => { throw new Error('connection listener bug'); });
      await connections(proxy, 2);
      // The proxy goes on: both connections were relayed and reported.
      expect((await proxy.nextReport()).id).toBe(1);
      expect((await proxy.nextReport()).id).toBe(2);
      await expect(proxy.close()).resolves.toBeUndefined();
    });
    expect(seen.rejections).toEqual([]);
    expect(seen.warnings.map((w) => w.message).sort()).toEqual([
      "A 'connection' listener of the fault proxy threw: connection listener bug",
      "A 'connection' listener of the fault proxy threw: connection listener bug",
      "A 'report' listener of the fault proxy threw: report listener bug",
      "A 'report' listener of the fault proxy threw: report listener bug",
    ]);
    expect(seen.warnings[0]).toMatchObject({ name: 'NetLingerWarning' });
  });

  it("with an 'error' listener the exceptions go there, async listeners' rejections too", async () => {
    const errors: unknown[] = [];
    const seen = await watching(async () => {
      const proxy = await createFaultProxy({ upstream: answeringPort });
      proxy.on('error', (err) => errors.push(err));
      proxy.on('report', () => { throw new Error('sync bug'); });
      proxy.on('report', async () => { throw new Error('never called: the sync listener threw first'); });
      proxy.on('connection', async () => { throw new Error('async bug'); });
      await connections(proxy, 1);
      await proxy.nextReport();
      await expect(proxy.close()).resolves.toBeUndefined();
      await until(() => errors.length === 2, 2000, 'both errors');
    });
    expect(seen).toEqual({ rejections: [], warnings: [] });
    expect((errors as Error[]).map((e) => e.message).sort()).toEqual(['async bug', 'sync bug']);
  });

  it("an 'error' listener that throws itself ends as a warning", async () => {
    const seen = await watching(async () => {
      const proxy = await createFaultProxy({ upstream: answeringPort });
      proxy.on('error', () => { throw new Error('error listener bug'); });
      proxy.on('report', () => { throw new Error('report bug'); });
      await connections(proxy, 1);
      await proxy.nextReport();
      await proxy.close();
    });
    expect(seen.rejections).toEqual([]);
    expect(seen.warnings.map((w) => w.message)).toEqual(["An 'error' listener of the fault proxy threw: error listener bug"]);
  });
});
