// HTTP/1.1 rules: faults that wait for a request matching a method, a path pattern or its place
// on the connection, as curl and Node's http client observe them against a Node server.
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RequestTracker, resolveHttpMatch } from '../../src/relay/http-match';
import { resolveFaults } from '../../src/relay/fault-policy';
import { createFaultProxy, type FaultProxy, type Faults } from '../../src/testing/index';
import { guardResources } from '../close/support';
import { requireTools } from '../support/tools';

guardResources();

let server: http.Server;
let port: number;
/** Each request the server saw: method, url, body bytes. */
const seen: { method?: string; url?: string; body: number }[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const entry = { method: req.method, url: req.url, body: 0 };
    seen.push(entry);
    req.on('data', (d: Buffer) => { entry.body += d.length; });
    req.on('end', () => res.end(`ok ${req.method} ${req.url} ${entry.body}`));
    req.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

async function withProxy<T>(faults: Faults, fn: (p: FaultProxy) => Promise<T>): Promise<T> {
  const proxy = await createFaultProxy({ upstream: { host: '127.0.0.1', port }, faults });
  try {
    return await fn(proxy);
  } finally {
    await proxy.close();
  }
}

interface Out { status?: number; body?: string; code?: string; message?: string }

function request(url: string, agent: http.Agent, method = 'GET', body?: Buffer | Buffer[]): Promise<Out> {
  return new Promise((resolve) => {
    const req = http.request(url, { agent, method }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode, body: text }));
      res.on('error', (err: NodeJS.ErrnoException) => resolve({ code: err.code, message: err.message }));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ code: err.code, message: err.message }));
    if (Array.isArray(body)) {
      for (const b of body) req.write(b); // several writes, no length: chunked
      req.end();
    } else {
      req.end(body);
    }
  });
}

describe('match: validation and the request tracker', () => {
  it('is validated with Node-style errors', () => {
    expect(resolveFaults({ match: { method: 'post', path: '/up*' }, resetAfter: 1 }).match).toMatchObject({ method: 'POST', pathPattern: '/up*', request: null });
    const bad: [Faults, string][] = [
      [{ match: 'POST' as never, resetAfter: 1 }, 'ERR_INVALID_ARG_TYPE'],
      [{ match: {}, resetAfter: 1 }, 'ERR_INVALID_ARG_VALUE'],
      [{ match: { verb: 'GET' } as never, resetAfter: 1 }, 'ERR_INVALID_ARG_VALUE'],
      [{ match: { method: 'GE T' }, resetAfter: 1 }, 'ERR_INVALID_ARG_VALUE'],
      [{ match: { method: 1 as never }, resetAfter: 1 }, 'ERR_INVALID_ARG_TYPE'],
      [{ match: { path: 5 as never }, resetAfter: 1 }, 'ERR_INVALID_ARG_TYPE'],
      [{ match: { request: 0 }, resetAfter: 1 }, 'ERR_OUT_OF_RANGE'],
      [{ match: { request: 2 } }, 'ERR_INVALID_ARG_VALUE'],
      [{ match: { request: 2 }, closeUnread: true, resetAfter: 1 }, 'ERR_INVALID_ARG_VALUE'],
    ];
    for (const [faults, code] of bad) expect(() => resolveFaults(faults), JSON.stringify(faults)).toThrow(expect.objectContaining({ code }));
  });

  it('follows requests across chunk boundaries: Content-Length, chunked bodies, trailers', () => {
    const wire = Buffer.from(
      'POST /a?x=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello' +
      'PUT /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n0\r\nX-T: 1\r\n\r\n' +
      'GET http://h/c/d HTTP/1.1\r\n\r\n',
    );
    for (const step of [1, 2, 7, wire.length]) {
      const t = new RequestTracker();
      const got: string[] = [];
      for (let i = 0; i < wire.length; i += step) {
        for (const r of t.feed(wire.subarray(i, i + step))) got.push(`${r.index} ${r.method} ${r.path} ${i + r.bodyOffset}`);
      }
      const bodyA = wire.indexOf('hello');
      expect(got, `step ${step}`).toEqual(['1 POST /a ' + bodyA, '2 PUT /b ' + (wire.indexOf('3;ext')), '3 GET /c/d ' + wire.length]);
    }
    const m = resolveHttpMatch({ path: '/api/*/items' }, 'm')!;
    expect(m.path!.test('/api/7/items')).toBe(true);
    expect(m.path!.test('/api/7/items/8')).toBe(false);
  });
});

describe('match as clients observe it', () => {
  it('"reset only POST /upload after 64 KiB of its body": curl gets the reset, GETs and other paths pass', async (ctx) => {
    requireTools(ctx, 'curl');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'net-linger-rules-'));
    const file = path.join(dir, 'up.bin');
    fs.writeFileSync(file, crypto.randomBytes(1 << 20));
    const curl = (args: string[]) => new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile('curl', ['-sS', '--max-time', '10', ...args], (err, stdout, stderr) => resolve({ code: err ? Number(err.code) : 0, stdout, stderr }));
    });
    try {
      await withProxy({ match: { method: 'POST', path: '/upload' }, direction: 'up', resetAfter: 64 * 1024 }, async (p) => {
        const other = await curl(['--data-binary', `@${file}`, `http://${p.hostPort}/other`]);
        expect(other).toMatchObject({ code: 0, stdout: `ok POST /other ${1 << 20}` });
        const get = await curl([`http://${p.hostPort}/upload`]);
        expect(get).toMatchObject({ code: 0, stdout: 'ok GET /upload 0' });
        const upload = await curl(['--data-binary', `@${file}`, `http://${p.hostPort}/upload`]);
        expect([52, 55, 56]).toContain(upload.code);
        await p.nextReport();
        await p.nextReport();
        const r = await p.nextReport();
        expect(r.actions).toEqual([expect.objectContaining({ fault: 'reset-after', direction: 'up', request: 1 })]);
        // The RST came after the request head and exactly 64 KiB of its body.
        const head = r.actions[0].atBytes - 64 * 1024;
        expect(head).toBeGreaterThan(50);
        expect(head).toBeLessThan(400);
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('"close the 3rd request\'s connection before its response": Node\'s keep-alive client gets two answers, then socket hang up', async () => {
    await withProxy({ match: { request: 3 }, limitData: 0 }, async (p) => {
      const agent = new http.Agent({ keepAlive: true });
      try {
        expect(await request(`http://${p.hostPort}/1`, agent)).toMatchObject({ status: 200, body: 'ok GET /1 0' });
        // A chunked upload in between: the tracker must skip its body to count requests right.
        const chunked = await request(`http://${p.hostPort}/2`, agent, 'POST', [Buffer.alloc(3000, 1), Buffer.alloc(5000, 2)]);
        expect(chunked).toMatchObject({ status: 200, body: 'ok POST /2 8000' });
        expect(await request(`http://${p.hostPort}/3`, agent)).toMatchObject({ code: 'ECONNRESET', message: 'socket hang up' });
      } finally {
        agent.destroy();
      }
      const r = await p.nextReport();
      expect(r.actions).toEqual([expect.objectContaining({ fault: 'limit-data', direction: 'down', request: 3 })]);
    });
  });

  it('the 2nd request reset before its response (resetAfter 0): ECONNRESET on a reused socket', async () => {
    await withProxy({ match: { request: 2 }, resetAfter: 0 }, async (p) => {
      const agent = new http.Agent({ keepAlive: true });
      try {
        expect(await request(`http://${p.hostPort}/a`, agent)).toMatchObject({ status: 200 });
        expect(await request(`http://${p.hostPort}/b`, agent)).toMatchObject({ code: 'ECONNRESET' });
      } finally {
        agent.destroy();
      }
    });
  });

  it('a path pattern with * and a method that does not match leave the connection alone', async () => {
    await withProxy({ match: { method: 'DELETE', path: '/items/*' }, resetAfter: 0 }, async (p) => {
      const agent = new http.Agent({ keepAlive: true });
      try {
        expect(await request(`http://${p.hostPort}/items/7`, agent)).toMatchObject({ status: 200 });
        expect(await request(`http://${p.hostPort}/other/7`, agent, 'DELETE')).toMatchObject({ status: 200 });
        expect(await request(`http://${p.hostPort}/items/7?force=1`, agent, 'DELETE')).toMatchObject({ code: 'ECONNRESET' });
      } finally {
        agent.destroy();
      }
    });
  });
});
