// enableLingeringClose on node:http and https with real clients (curl, Python http.client,
// Node's http.request with and without keep-alive, fetch): without it the client loses the early
// 413 to an RST; with it every client reads the whole answer, and lingering ends by FIN or a cap.
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { enableLingeringClose, type LingeringCloseHandle } from '../../src/http/index';
import { guardResources, sleep, track, until } from '../close/support';
import {
  ANSWER, CLIENTS, LIMIT, clean, clientsHere, countClientErrors, settled, getOk, listen, nodeHandler, shut, tlsOptions, trackAccepted, upload,
  type ClientName, type ClientView, type NodeStyle, type Target,
} from './support';
import { requireTools } from '../support/tools';

const linux = process.platform === 'linux';
const BYTES = 8 * 1024 * 1024;

guardResources();

interface Run {
  views: ClientView[];
  clientErrors: number;
  next: number | string;
  handle?: LingeringCloseHandle;
  served: number;
}

async function runNode(opts: {
  style: NodeStyle; enable: boolean; client: ClientName; host?: string; tls?: boolean; chunked?: boolean; times?: number; bytes?: number;
}): Promise<Run> {
  const served = { count: 0 };
  const handler = nodeHandler(opts.style, served);
  const server = opts.tls ? https.createServer(tlsOptions, handler) : http.createServer(handler);
  trackAccepted(server);
  const errors = countClientErrors(server);
  const handle = opts.enable ? enableLingeringClose(server, { lingeringTime: 5000, lingeringTimeout: 2000 }) : undefined;
  const target = await listen(server, opts.host ?? '127.0.0.1');
  try {
    const views: ClientView[] = [];
    for (let i = 0; i < (opts.times ?? 1); i++) views.push(await upload(opts.client, target, { bytes: opts.bytes ?? BYTES, chunked: opts.chunked }));
    const next = await getOk(target);
    if (handle) await until(() => settled(handle), 10_000, 'lingering to end');
    return { views, clientErrors: errors.count, next, handle, served: served.count };
  } finally {
    await shut(server);
  }
}

describe.skipIf(!linux)('enableLingeringClose: node:http answering 413 with Connection: close', () => {
  it('control: Python http.client never gets the 413 (0/3 clean): Node closes with the upload unread', async () => {
    for (const style of ['close', 'destroy'] as const) {
      const r = await runNode({ style, enable: false, client: 'python', times: 3 });
      expect(r.views.filter(clean).length, JSON.stringify(r.views)).toBe(0);
      for (const v of r.views) expect(v.error).toMatch(/BrokenPipeError|ConnectionResetError/);
    }
  });

  for (const style of ['close', 'destroy', 'destroy-socket'] as const) {
    for (const client of CLIENTS) {
      it(`${style}: ${client} reads the whole 413, no clientError, the next request is served, lingering ends`, async (ctx) => {
        if (client === 'curl') requireTools(ctx, 'curl');
        const r = await runNode({ style, enable: true, client });
        expect(r.views.map(clean), JSON.stringify(r.views)).toEqual([true]);
        expect(r.clientErrors).toBe(0);
        expect(r.next).toBe(200);
        const c = r.handle!.counts;
        expect(c.lingered).toBe(1);
        expect(c.endedByFin + c.endedByCap).toBe(1);
        expect(c.endedByReset + c.endedByError + c.overMaxLingering).toBe(0);
      });
    }
  }

  it('chunked uploads: every client reads the whole 413', async (ctx) => {
    for (const client of clientsHere(CLIENTS)) {
      const r = await runNode({ style: 'destroy', enable: true, client, chunked: true });
      expect(r.views.map(clean), `${client} ${JSON.stringify(r.views)}`).toEqual([true]);
      expect(r.clientErrors).toBe(0);
    }
    requireTools(ctx, 'curl');
  });

  it('IPv6 (::1): control fails for Python, and with lingering curl, Python and Node read the 413', async (ctx) => {
    const control = await runNode({ style: 'close', enable: false, client: 'python', host: '::1' });
    expect(control.views.filter(clean).length).toBe(0);
    for (const client of clientsHere(['curl', 'python', 'node'] as const)) {
      const r = await runNode({ style: 'close', enable: true, client, host: '::1' });
      expect(r.views.map(clean), `${client} ${JSON.stringify(r.views)}`).toEqual([true]);
      expect(r.next).toBe(200);
    }
    requireTools(ctx, 'curl');
  });

  it('https: control fails for Python; with lingering Python, curl and Node read the whole 413', async (ctx) => {
    const control = await runNode({ style: 'close', enable: false, client: 'python', tls: true });
    expect(control.views.filter(clean).length, JSON.stringify(control.views)).toBe(0);
    for (const client of clientsHere(['python', 'curl', 'node'] as const)) {
      const r = await runNode({ style: 'destroy', enable: true, client, tls: true });
      expect(r.views.map(clean), `${client} ${JSON.stringify(r.views)}`).toEqual([true]);
      expect(r.clientErrors).toBe(0);
      expect(r.next).toBe(200);
    }
    requireTools(ctx, 'curl');
  });
});
