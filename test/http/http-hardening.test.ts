// enableLingeringClose against the shapes users write and the connections they hand it:
// a plain Duplex given to server.emit('connection'), every way of refusing an upload with
// res.end() + req.destroy() against curl, Python http.client (head first, then the body), Node's
// http.request and fetch, closeAllConnections() after disable(), and a malformed chunk whose
// clientError handler destroys the socket. Real loopback connections and real clients.
import http from 'node:http';
import { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { enableLingeringClose, type LingeringCloseHandle } from '../../src/http/index';
import { guardResources, sleep, until } from '../close/support';
import { requireTools } from '../support/tools';
import {
  ANSWER, LIMIT, RawClient, clean, clientsHere, countClientErrors, getOk, listen, settled, shut, trackAccepted, upload,
  type ClientName, type ClientView,
} from './support';

const linux = process.platform === 'linux';
const BYTES = 8 * 1024 * 1024;

guardResources();

/** Two connected in-memory streams, like an ssh2 channel: no handle, no setTimeout, no destroySoon. */
function duplexPair(): [Duplex, Duplex] {
  const sides: Duplex[] = [];
  const make = (other: () => Duplex) => new Duplex({
    read() {},
    write(chunk, _encoding, callback) {
      other().push(chunk);
      callback();
    },
    final(callback) {
      other().push(null);
      callback();
    },
  });
  sides.push(make(() => sides[1]), make(() => sides[0]));
  return [sides[0], sides[1]];
}

/** Node's http.request over a Duplex (createConnection), with a body of `bytes`. */
function requestOver(stream: Duplex, method: string, bytes = 0): Promise<{ status: number; body: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = http.request({
      method, path: '/', createConnection: () => stream as unknown as import('node:net').Socket,
      headers: bytes ? { 'content-length': bytes } : {},
    }, (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', (err) => resolve({ error: err.message }));
    if (bytes) req.write(Buffer.alloc(Math.min(bytes, 64 * 1024), 0x75));
    if (bytes <= 64 * 1024) req.end();
  });
}

describe('enableLingeringClose: a connection that is not a TCP socket', () => {
  it("a Duplex handed to server.emit('connection') gets Node's own close: no crash, the response arrives", async () => {
    const server = http.createServer((req, res) => {
      if (req.method === 'GET') return void res.end('ok');
      res.writeHead(413, { connection: 'close', 'content-length': ANSWER.length });
      res.end(ANSWER);
    });
    const handle = enableLingeringClose(server);
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown) => { uncaught.push(err); };
    process.on('uncaughtException', onUncaught);
    try {
      // Connection: close after a GET: Node's resOnFinish calls the connection's destroySoon.
      const [a, b] = duplexPair();
      server.emit('connection', b);
      const got = await requestOver(a, 'GET');
      expect(got).toEqual({ status: 200, body: 'ok' });
      await until(() => b.destroyed || b.writableEnded, 2000, 'the server side to end');

      // An early 413 while the body is still arriving: Node's close again, not a linger.
      const [c, d] = duplexPair();
      server.emit('connection', d);
      const refused = await requestOver(c, 'POST', 1024 * 1024);
      expect(refused).toEqual({ status: 413, body: ANSWER });
      await until(() => d.destroyed || d.writableEnded, 2000, 'the server side to end');
      await sleep(20);
      expect(uncaught).toEqual([]);
      expect(handle.counts.lingered).toBe(0);
      for (const s of [a, b, c, d]) s.destroy();
    } finally {
      process.off('uncaughtException', onUncaught);
      server.close();
    }
  });
});

/** How a handler refuses an upload, each ending with the request (or its socket) destroyed. */
type Shape = 'handler' | 'first-data' | 'end-callback' | 'immediate' | 'socket';
const SHAPES: Shape[] = ['handler', 'first-data', 'end-callback', 'immediate', 'socket'];

function shapeHandler(shape: Shape): http.RequestListener {
  return (req, res) => {
    if (req.method === 'GET') return void res.end('ok');
    const reject = (cb?: () => void) => {
      res.writeHead(413, { connection: 'close', 'content-type': 'text/plain', 'content-length': ANSWER.length });
      res.end(ANSWER, cb);
    };
    switch (shape) {
      case 'handler': // res.end(); req.destroy() in the handler, before reading anything
        reject();
        req.destroy();
        break;
      case 'first-data': // the same from the first 'data' event
        req.once('data', () => {
          reject();
          req.destroy();
        });
        break;
      case 'end-callback': // res.end(cb) with req.destroy() in the callback
        reject(() => req.destroy());
        break;
      case 'immediate':
        reject();
        setImmediate(() => req.destroy());
        break;
      case 'socket':
        reject();
        req.socket.destroy();
        break;
    }
  };
}

const CLIENTS: ClientName[] = ['curl', 'python', 'node', 'fetch'];

async function refuse(shape: Shape, client: ClientName, chunked: boolean) {
  const server = http.createServer(shapeHandler(shape));
  trackAccepted(server);
  const errors = countClientErrors(server);
  const handle = enableLingeringClose(server, { lingeringTime: 10_000, lingeringTimeout: 3000 });
  const target = await listen(server, '127.0.0.1');
  try {
    const view = await upload(client, target, { bytes: BYTES, chunked });
    const next = await getOk(target);
    await until(() => settled(handle), 15_000, 'lingering to end');
    return { view, next, counts: handle.counts, clientErrors: errors.count };
  } finally {
    await shut(server);
  }
}

describe.skipIf(!linux)('enableLingeringClose: every refusal shape × every client reads the whole 413', () => {
  for (const shape of SHAPES) {
    it(`${shape}: curl, Python, Node and fetch, Content-Length and chunked, end with the client's FIN`, async (ctx) => {
      const seen: Array<{ client: string; chunked: boolean; view: ClientView }> = [];
      const clients = clientsHere(CLIENTS);
      for (const chunked of [false, true]) {
        for (const client of clients) {
          const r = await refuse(shape, client, chunked);
          seen.push({ client, chunked, view: r.view });
          const label = `${shape} ${client} ${chunked ? 'chunked' : 'content-length'} ${JSON.stringify(r.view)} ${JSON.stringify(r.counts)}`;
          expect(clean(r.view), label).toBe(true);
          expect(r.next, label).toBe(200);
          expect(r.clientErrors, label).toBe(0);
          // A paused lingering socket would end by the cap, and Python would see a reset.
          expect(r.counts.endedByCap, label).toBe(0);
          expect(r.counts.lingered, label).toBe(r.counts.endedByFin);
        }
      }
      expect(seen).toHaveLength(2 * clients.length);
      requireTools(ctx, 'curl');
    }, 120_000);
  }

  it('body bytes in the same read as the head, req.destroy() in the handler: the raw client reads the 413, then EOF', async () => {
    const server = http.createServer(shapeHandler('handler'));
    trackAccepted(server);
    const handle = enableLingeringClose(server, { lingeringTime: 10_000, lingeringTimeout: 3000 });
    const target = await listen(server, '127.0.0.1');
    try {
      const c = new RawClient(target);
      await c.connected();
      // One write: the head and 256 KiB of body reach the server in its first reads.
      c.socket.write(Buffer.concat([
        Buffer.from(`POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: ${BYTES}\r\n\r\n`),
        Buffer.alloc(256 * 1024, 0x75),
      ]));
      await c.body(BYTES - 256 * 1024);
      await until(() => c.answered, 5000, 'the 413');
      expect(c.error).toBeUndefined();
      c.socket.end();
      await until(() => settled(handle) && c.eof, 5000, 'lingering to end by the FIN');
      expect(handle.counts).toMatchObject({ lingered: 1, endedByFin: 1, endedByCap: 0 });
      c.socket.destroy();
    } finally {
      await shut(server);
    }
  });
});

describe.skipIf(!linux)('enableLingeringClose: req.destroy() in a data handler while the read holds more body', () => {
  it('a chunked upload of small chunks (many per read): the linger drains to the FIN, not to the cap', async () => {
    const server = http.createServer(shapeHandler('first-data'));
    trackAccepted(server);
    const handle = enableLingeringClose(server, { lingeringTime: 10_000, lingeringTimeout: 3000 });
    const target = await listen(server, '127.0.0.1');
    try {
      const c = new RawClient(target);
      await c.connected();
      c.socket.write('POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n');
      await sleep(20);
      // 4096 chunks of 16 bytes per write: the parser meets many bodies in one read.
      const block = Buffer.concat(Array.from({ length: 4096 }, () => Buffer.from(`10\r\n${'u'.repeat(16)}\r\n`)));
      for (let i = 0; i < 40 && !c.error; i++) {
        if (!c.socket.write(block)) await new Promise((r) => { c.socket.once('drain', r); setTimeout(r, 500); });
      }
      c.socket.end('0\r\n\r\n');
      await until(() => c.answered && settled(handle), 8000, 'lingering to end');
      expect(c.error).toBeUndefined();
      expect(handle.counts).toMatchObject({ lingered: 1, endedByFin: 1, endedByCap: 0 });
      c.socket.destroy();
    } finally {
      await shut(server);
    }
  });
});

describe.skipIf(!linux)('enableLingeringClose: what follows the refused request in the same read is never parsed', () => {
  it('a request pipelined behind a complete body, then bytes that are no HTTP: not served, no clientError; later connections are served', async () => {
    const served: string[] = [];
    const server = http.createServer((req, res) => {
      served.push(`${req.method} ${req.url}`);
      if (req.method === 'GET') return void res.end('ok');
      res.writeHead(413, { connection: 'close', 'content-length': ANSWER.length });
      res.end(ANSWER);
      req.destroy();
    });
    trackAccepted(server);
    const errors = countClientErrors(server);
    const handle = enableLingeringClose(server, { lingeringTime: 5000, lingeringTimeout: 2000 });
    const target = await listen(server, '127.0.0.1');
    try {
      const c = new RawClient(target);
      await c.connected();
      // One write: a complete 100-byte body, a GET behind it, then 50 000 bytes that are no HTTP.
      c.socket.write(`POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n${'u'.repeat(100)}GET /behind HTTP/1.1\r\nHost: x\r\n\r\n${'u'.repeat(50_000)}`);
      await until(() => c.answered && c.eof, 5000, 'the 413 and the FIN');
      c.socket.end();
      await until(() => settled(handle), 5000, 'lingering to end');
      expect(served).toEqual(['POST /upload']);
      expect(errors.count).toBe(0);
      expect(c.text.match(/HTTP\/1\.1 /g)).toHaveLength(1);
      expect(handle.counts).toMatchObject({ lingered: 1, endedByFin: 1 });
      c.socket.destroy();
      // Node reuses parser objects across connections: the next ones parse and are served.
      for (let i = 0; i < 3; i++) expect(await getOk(target)).toBe(200);
    } finally {
      await shut(server);
    }
  });
});

describe.skipIf(!linux)('enableLingeringClose: disable() and closeAllConnections()', () => {
  it('after disable(), server.closeAllConnections() still ends the connections lingering then; server.close() does not wait', async () => {
    const server = http.createServer(shapeHandler('handler'));
    trackAccepted(server);
    const handle = enableLingeringClose(server, { lingeringTime: 20_000, lingeringTimeout: 20_000 });
    const target = await listen(server, '127.0.0.1');
    const c = new RawClient(target);
    await c.connected();
    c.head(20 * LIMIT);
    await c.body(LIMIT);
    await until(() => c.answered && handle.lingering === 1, 5000, 'lingering');
    handle.disable();
    const t0 = Date.now();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    expect(handle.lingering).toBe(0);
    await closed;
    expect(Date.now() - t0).toBeLessThan(5000); // not the 20 s lingeringTime
    await until(() => handle.counts.endedByClose === 1, 2000, 'counted');
    // The override is gone once nothing lingers.
    expect(Object.prototype.hasOwnProperty.call(server, 'closeAllConnections')).toBe(false);
    c.socket.destroy();
  });
});

describe.skipIf(!linux)('enableLingeringClose: a parse error whose clientError handler destroys the socket', () => {
  it('is not an unknown runtime: no NET_LINGER_HTTP_INTERNALS warning, and a real mismatch is still reported after it', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error & { code?: string }) => { if (w.code) warnings.push(w.code); };
    process.on('warning', onWarning);
    // Keep-alive 413 without reading: Node dumps the body, then a malformed chunk arrives.
    const server = http.createServer((req, res) => {
      if (req.method === 'GET') return void res.end('ok');
      const close = req.headers['x-close'] ? { connection: 'close' } : {};
      res.writeHead(413, { 'content-length': ANSWER.length, ...close });
      res.end(ANSWER);
    });
    trackAccepted(server);
    let clientErrors = 0;
    server.on('clientError', (_err, socket) => {
      clientErrors++;
      socket.destroy();
    });
    const handle = enableLingeringClose(server, { lingeringTimeout: 2000 });
    const target = await listen(server, '127.0.0.1');
    try {
      const c = new RawClient(target);
      await c.connected();
      c.socket.write('POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10000\r\n');
      c.socket.write(Buffer.alloc(0x10000, 0x75));
      await until(() => c.answered, 5000, 'the 413');
      c.socket.write('\r\nZZZZ-not-a-size\r\n');
      await until(() => clientErrors === 1 && (c.closed || c.eof || c.error !== undefined), 5000, 'the clientError close');
      c.socket.destroy();
      await sleep(20);
      expect(handle.counts.lingered).toBe(0);
      expect(warnings.filter((w) => w === 'NET_LINGER_HTTP_INTERNALS')).toEqual([]);

      // A real mismatch afterwards (a socket without Node's 'end' listener) is still reported.
      server.on('connection', (socket) => { for (const l of socket.listeners('end')) socket.removeListener('end', l as () => void); });
      const d = new RawClient(target);
      await d.connected();
      d.head(20 * LIMIT, 'X-Close: 1\r\n');
      await d.body(LIMIT);
      await until(() => d.closed || d.eof || d.error !== undefined, 5000, 'the close');
      d.socket.destroy();
      await sleep(20);
      expect(warnings.filter((w) => w === 'NET_LINGER_HTTP_INTERNALS')).toEqual(['NET_LINGER_HTTP_INTERNALS']);
    } finally {
      process.off('warning', onWarning);
      await shut(server);
    }
  });
});
