// When enableLingeringClose lingers and when it keeps Node's behaviour, observed with raw TCP
// clients on loopback: caps (a client that never sends its FIN, one that never stops), resets,
// pipelining, keep-alive, upgrade/CONNECT, closeAllConnections, server.close, 'always', the
// maxLingering cap, disable, bad arguments, and the package without its native binary.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { setLinger } from '../../src/index';
import { enableLingeringClose, type LingeringCloseOptions } from '../../src/http/index';
import { guardResources, sleep, track, until } from '../close/support';
import { ANSWER, LIMIT, RawClient, clean, countClientErrors, getOk, listen, nodeHandler, pythonUpload, shut, trackAccepted, type Target } from './support';

const linux = process.platform === 'linux';

guardResources();

async function server(options: LingeringCloseOptions | null, handler: http.RequestListener = nodeHandler('close')) {
  const s = http.createServer(handler);
  trackAccepted(s);
  const errors = countClientErrors(s);
  const handle = options ? enableLingeringClose(s, options) : undefined;
  const target = await listen(s, '127.0.0.1');
  return { server: s, target, errors, handle, close: () => shut(s) };
}

describe.skipIf(!linux)('enableLingeringClose: when it lingers and how it ends', () => {
  it('a client that reads the 413 and never sends its FIN: lingeringTimeout ends it with a plain close (EOF, no reset)', async () => {
    const s = await server({ lingeringTimeout: 300, lingeringTime: 5000 });
    try {
      const c = new RawClient(s.target);
      await c.connected();
      c.head(20 * LIMIT);
      await c.body(2 * LIMIT);
      await until(() => c.answered && c.eof, 5000, 'the 413 and the FIN');
      expect(s.handle!.lingering).toBe(1);
      const t0 = Date.now();
      await until(() => s.handle!.counts.endedByCap === 1, 5000, 'the cap');
      expect(Date.now() - t0).toBeLessThan(3000); // 300 ms of silence; generous against a loaded machine
      await until(() => c.closed || c.eof, 1000);
      expect(c.error).toBeUndefined();
      expect(s.handle!.counts).toMatchObject({ lingered: 1, endedByCap: 1, endedByFin: 0 });
      c.socket.destroy();
      expect(s.errors.count).toBe(0);
    } finally {
      await s.close();
    }
  });

  it("onTimeout 'reset': the cap ends with an RST (the client's next send fails); 'close' with a FIN", async () => {
    // A Python socket that uploads 3 MiB, then waits past the cap before its first read.
    const script = [
      'import socket, sys, time',
      's = socket.create_connection(("127.0.0.1", int(sys.argv[1])))',
      's.sendall(b"POST /upload HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: 20000000\\r\\n\\r\\n" + b"u" * (3 << 20))',
      'time.sleep(1.0)',
      // The server's FIN came before its RST, so reads end in EOF either way; a send tells them apart.
      'try:',
      '    s.send(b"x")',
      '    sent = "SEND_OK"',
      'except OSError as e:',
      '    sent = "SEND_ERR %d" % e.errno',
      'data = b""',
      'try:',
      '    while True:',
      '        d = s.recv(65536)',
      '        if not d: break',
      '        data += d',
      'except OSError as e:',
      '    pass',
      'print(sent, b"too large" in data)',
    ].join('\n');
    for (const onTimeout of ['close', 'reset'] as const) {
      const s = await server({ lingeringTimeout: 200, onTimeout }, nodeHandler('destroy'));
      try {
        const out = await new Promise<string>((resolve) => {
          execFile('python3', ['-c', script, String(s.target.port)], { timeout: 20_000 }, (_e, stdout) => resolve(stdout.trim()));
        });
        expect(out, onTimeout).toMatch(onTimeout === 'reset' ? /^SEND_ERR (104|32) True$/ : /^SEND_OK True$/);
        await until(() => s.handle!.counts.endedByCap === 1, 3000);
      } finally {
        await s.close();
      }
    }
  });

  it('a client that never stops sending: lingeringTime bounds the whole close', async () => {
    const s = await server({ lingeringTimeout: 1000, lingeringTime: 400 });
    try {
      const c = new RawClient(s.target);
      await c.connected();
      c.head(1024 * LIMIT);
      const t0 = Date.now();
      // A trickle under lingeringTimeout, bounded in count and time.
      for (let i = 0; i < 200 && Date.now() - t0 < 5000 && !c.error && !c.closed; i++) {
        c.socket.write(Buffer.alloc(1024, 0x75));
        await sleep(20);
        if (s.handle!.counts.lingered === 1 && s.handle!.lingering === 0) break;
      }
      await until(() => s.handle!.counts.endedByCap === 1, 2000);
      expect(s.handle!.counts.lingered).toBe(1);
      expect(Date.now() - t0).toBeLessThan(4000);
      expect(c.answered).toBe(true);
      c.socket.destroy();
    } finally {
      await s.close();
    }
  });

  it('a client that resets while the server lingers: counted, no clientError, nothing thrown', async () => {
    const s = await server({ lingeringTimeout: 5000 });
    try {
      const c = new RawClient(s.target);
      await c.connected();
      c.head(20 * LIMIT);
      await c.body(LIMIT);
      await until(() => c.answered && s.handle!.lingering === 1, 5000);
      // SO_LINGER {1,0} then close: an RST. (Sent within a millisecond of the server's FIN, the
      // server's read reported it as EOF in some runs: then it is a FIN, not this test.)
      await sleep(50);
      setLinger(c.socket, true, 0);
      c.socket.destroy();
      await until(() => s.handle!.lingering === 0, 5000);
      expect(s.handle!.counts).toMatchObject({ lingered: 1, endedByReset: 1 });
      expect(s.errors.count).toBe(0);
      expect(await getOk(s.target)).toBe(200);
    } finally {
      await s.close();
    }
  });

  it('a slow upload (Python, 64 KiB every 5 ms) still reads the whole 413', async () => {
    const s = await server({ lingeringTimeout: 2000 }, nodeHandler('destroy'));
    try {
      const view = await pythonUpload(s.target, { bytes: 3 * LIMIT, delayMs: 5 });
      expect(clean(view), JSON.stringify(view)).toBe(true);
      await until(() => s.handle!.lingering === 0, 5000);
      expect(s.handle!.counts).toMatchObject({ lingered: 1, endedByFin: 1 });
    } finally {
      await s.close();
    }
  });

  it('requests pipelined behind an incomplete body are never parsed nor served', async () => {
    const served = { count: 0 };
    const s = await server({ lingeringTimeout: 300 }, nodeHandler('close', served));
    try {
      const c = new RawClient(s.target);
      await c.connected();
      const bodyBytes = 4 * LIMIT;
      c.head(bodyBytes);
      await c.body(bodyBytes); // the whole body (the server stopped reading it), then two more requests
      c.socket.write('GET /ok HTTP/1.1\r\nHost: x\r\n\r\nGET /ok HTTP/1.1\r\nHost: x\r\n\r\n');
      c.socket.end();
      await until(() => c.closed || c.eof, 5000);
      await until(() => s.handle!.lingering === 0, 5000);
      expect(served.count).toBe(1);
      expect(c.text.match(/HTTP\/1\.1 /g)).toHaveLength(1);
      expect(c.error).toBeUndefined();
      expect(s.errors.count).toBe(0);
    } finally {
      await s.close();
    }
  });

  it('a keep-alive connection that stays open never lingers: Node reads the body and serves the next request on it', async () => {
    const s = await server({}, (req, res) => {
      if (req.method === 'GET') return void res.end('ok');
      res.writeHead(413, { 'content-length': ANSWER.length });
      res.end(ANSWER);
    });
    try {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      const ports: number[] = [];
      const one = (method: string, body?: Buffer) => new Promise<number>((resolve, reject) => {
        const req = http.request({ ...s.target, method, path: '/x', agent }, (res) => {
          ports.push(res.socket.localPort!);
          res.resume();
          res.on('end', () => resolve(res.statusCode!));
        });
        req.on('socket', (so) => so.once('connect', () => track(so)));
        req.on('error', reject);
        req.end(body);
      });
      expect(await one('POST', Buffer.alloc(2 * LIMIT, 0x75))).toBe(413);
      expect(await one('GET')).toBe(200);
      expect(ports[0]).toBe(ports[1]); // the same connection
      expect(s.handle!.counts.lingered).toBe(0);
      agent.destroy();
    } finally {
      await s.close();
    }
  });

  it("'always' lingers after every response; 'on' does not when the body was complete", async () => {
    for (const mode of ['on', 'always'] as const) {
      // The handler reads the whole body, then answers with Connection: close.
      const s = await server({ mode, lingeringTimeout: 300 }, (req, res) => {
        req.resume();
        req.on('end', () => {
          res.writeHead(200, { connection: 'close', 'content-length': ANSWER.length });
          res.end(ANSWER);
        });
      });
      try {
        const c = new RawClient(s.target);
        await c.connected();
        c.socket.write('POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789');
        await until(() => c.answered && c.eof, 5000);
        c.socket.end();
        await until(() => c.closed, 5000);
        expect(s.handle!.counts.lingered, mode).toBe(mode === 'always' ? 1 : 0);
      } finally {
        await s.close();
      }
    }
  });

  it('a close with an error keeps Node behaviour: destroy(err) after the response does not linger', async () => {
    const s = await server({}, (req, res) => {
      res.writeHead(413, { connection: 'close', 'content-length': ANSWER.length });
      res.end(ANSWER);
      req.socket.destroy(new Error('handler gave up'));
    });
    try {
      const c = new RawClient(s.target);
      await c.connected();
      c.head(20 * LIMIT);
      await c.body(2 * LIMIT);
      await until(() => c.closed || c.eof || c.error !== undefined, 5000);
      expect(s.handle!.counts.lingered).toBe(0);
      c.socket.destroy();
    } finally {
      await s.close();
    }
  });

  it('req.destroy() before any response was written is not covered: Node closes at once', async () => {
    const s = await server({}, (req) => { req.destroy(); });
    try {
      const c = new RawClient(s.target);
      await c.connected();
      c.head(20 * LIMIT);
      await c.body(LIMIT);
      await until(() => c.closed || c.error !== undefined || c.eof, 5000);
      expect(s.handle!.counts.lingered).toBe(0);
      c.socket.destroy();
    } finally {
      await s.close();
    }
  });

  it('upgrade and CONNECT sockets are never lingered', async () => {
    const s = await server({});
    let upgraded = 0;
    s.server.on('upgrade', (_req, socket: net.Socket) => {
      upgraded++;
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n');
      socket.destroy();
    });
    s.server.on('connect', (_req, socket: net.Socket) => {
      upgraded++;
      socket.end('HTTP/1.1 200 Connection Established\r\n\r\n');
      socket.destroy();
    });
    try {
      for (const request of ['GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\n', 'CONNECT x:1 HTTP/1.1\r\nHost: x:1\r\n\r\n']) {
        const c = new RawClient(s.target);
        await c.connected();
        c.socket.write(request);
        await until(() => c.closed || c.eof, 5000);
        c.socket.destroy();
      }
      expect(upgraded).toBe(2);
      expect(s.handle!.counts.lingered).toBe(0);
    } finally {
      await s.close();
    }
  });

  it('server.closeAllConnections() ends lingering connections at once; server.close() does not wait past lingeringTime', async () => {
    const s = await server({ lingeringTimeout: 20_000, lingeringTime: 20_000 });
    const c = new RawClient(s.target);
    await c.connected();
    c.head(20 * LIMIT);
    await c.body(LIMIT);
    await until(() => c.answered && s.handle!.lingering === 1, 5000);
    s.server.closeAllConnections();
    expect(s.handle!.lingering).toBe(0); // synchronously
    await until(() => s.handle!.counts.endedByClose === 1, 2000);
    c.socket.destroy();
    await s.close();

    const t = await server({ lingeringTimeout: 20_000, lingeringTime: 500 });
    const d = new RawClient(t.target);
    await d.connected();
    d.head(20 * LIMIT);
    await d.body(LIMIT);
    await until(() => d.answered && t.handle!.lingering === 1, 5000);
    const t0 = Date.now();
    await new Promise<void>((resolve) => t.server.close(() => resolve()));
    expect(Date.now() - t0).toBeLessThan(4000); // 500 ms lingeringTime; generous bound
    await until(() => t.handle!.counts.endedByCap === 1, 2000);
    d.socket.destroy();
  });

  it('maxLingering: beyond the cap Node default close applies, and it is counted', async () => {
    const s = await server({ maxLingering: 1, lingeringTimeout: 2000 });
    try {
      const a = new RawClient(s.target);
      await a.connected();
      a.head(20 * LIMIT);
      await a.body(LIMIT);
      await until(() => a.answered && s.handle!.lingering === 1, 5000);
      const b = new RawClient(s.target);
      await b.connected();
      b.head(20 * LIMIT);
      await b.body(2 * LIMIT);
      await until(() => s.handle!.counts.overMaxLingering === 1, 5000);
      expect(s.handle!.lingering).toBe(1);
      a.socket.end();
      await until(() => s.handle!.lingering === 0, 5000);
      a.socket.destroy();
      b.socket.destroy();
    } finally {
      await s.close();
    }
  });

  it('disable() brings Node behaviour back for new closes; enabling again returns the same handle', async () => {
    const s = await server({ lingeringTimeout: 2000 });
    try {
      const listeners = s.server.listenerCount('connection');
      s.handle!.disable();
      expect(s.server.listenerCount('connection')).toBe(listeners - 1);
      expect(Object.prototype.hasOwnProperty.call(s.server, 'closeAllConnections')).toBe(false);
      const off = await pythonUpload(s.target, { bytes: 8 * LIMIT });
      expect(clean(off), JSON.stringify(off)).toBe(false);
      expect(enableLingeringClose(s.server, { lingeringTime: 1000 })).toBe(s.handle);
      expect(s.handle!.options).toEqual({ mode: 'on', lingeringTime: 1000, lingeringTimeout: 2000, onTimeout: 'close', maxLingering: 1024 });
      expect(s.server.listenerCount('connection')).toBe(listeners);
      const on = await pythonUpload(s.target, { bytes: 8 * LIMIT });
      expect(clean(on), JSON.stringify(on)).toBe(true);
    } finally {
      await s.close();
    }
  });
});

describe.skipIf(!linux)('enableLingeringClose on HTTP internals it does not know', () => {
  it("warns once (NET_LINGER_HTTP_INTERNALS) and keeps Node's close when the socket lacks Node's listeners", async () => {
    const warnings: Array<{ name: string; code?: string }> = [];
    const onWarning = (w: Error & { code?: string }) => warnings.push({ name: w.name, code: w.code });
    process.on('warning', onWarning);
    const s = await server({});
    // Stand-in for a runtime whose http module hangs other listeners: take the 'end' ones off.
    s.server.on('connection', (socket: net.Socket) => { for (const l of socket.listeners('end')) socket.removeListener('end', l as () => void); });
    try {
      const c = new RawClient(s.target);
      await c.connected();
      c.head(20 * LIMIT);
      await c.body(LIMIT);
      await until(() => c.closed || c.eof || c.error !== undefined, 5000);
      c.socket.destroy();
      await sleep(20);
      expect(s.handle!.counts.lingered).toBe(0);
      expect(warnings.filter((w) => w.code === 'NET_LINGER_HTTP_INTERNALS')).toEqual([{ name: 'NetLingerWarning', code: 'NET_LINGER_HTTP_INTERNALS' }]);
    } finally {
      process.off('warning', onWarning);
      await s.close();
    }
  });
});

describe('enableLingeringClose: arguments', () => {
  const code = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      return { name: (e as Error).name, code: (e as { code?: string }).code };
    }
    return undefined;
  };

  it("Node's TypeError / RangeError codes, before anything is touched", () => {
    const s = http.createServer();
    const before = s.listenerCount('connection');
    expect(code(() => enableLingeringClose({} as http.Server))).toEqual({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    expect(code(() => enableLingeringClose(new net.Server() as http.Server))).toEqual({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    // An HTTP/2 server is accepted (test/http/http2.test.ts); its options are checked the same way.
    expect(code(() => enableLingeringClose(http2.createServer(), { mode: 'off' as 'on' }))).toEqual({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
    expect(code(() => enableLingeringClose(s, 5 as unknown as LingeringCloseOptions))).toEqual({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    expect(code(() => enableLingeringClose(s, { mode: 'off' as 'on' }))).toEqual({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
    expect(code(() => enableLingeringClose(s, { onTimeout: 'destroy' as 'close' }))).toEqual({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
    expect(code(() => enableLingeringClose(s, { lingeringTime: '5' as unknown as number }))).toEqual({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    expect(code(() => enableLingeringClose(s, { lingeringTime: 0 }))).toEqual({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    expect(code(() => enableLingeringClose(s, { lingeringTimeout: 1.5 }))).toEqual({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    expect(code(() => enableLingeringClose(s, { maxLingering: -1 }))).toEqual({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    expect(code(() => enableLingeringClose(s, { lingeringTime: 2 ** 31 }))).toEqual({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    expect(s.listenerCount('connection')).toBe(before);
    // A bad update leaves the options in force alone.
    const handle = enableLingeringClose(s, { lingeringTime: 1234 });
    expect(code(() => enableLingeringClose(s, { lingeringTime: 99, maxLingering: -1 }))).toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    expect(handle.options.lingeringTime).toBe(1234);
    expect(handle.options).toEqual({ mode: 'on', lingeringTime: 1234, lingeringTimeout: 5000, onTimeout: 'close', maxLingering: 1024 });
    handle.disable();
  });
});

// A framework can bundle the integration and run where no prebuild exists: load the package from
// a copy without any binary, and serve an early 413 to Python over a real connection.
describe.skipIf(!linux)('enableLingeringClose without the native binary', () => {
  it('works: the addon cannot load, and Python reads the whole 413', async () => {
    const root = path.resolve(__dirname, '..', '..');
    const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'net-linger-nobin-http-'));
    try {
      fs.cpSync(path.join(root, 'dist'), path.join(copy, 'dist'), { recursive: true });
      for (const file of ['package.json', 'binding.gyp']) fs.copyFileSync(path.join(root, file), path.join(copy, file));
      fs.symlinkSync(path.join(root, 'node_modules'), path.join(copy, 'node_modules'));
      const script = `
        const http = require('node:http');
        const { execFileSync } = require('node:child_process');
        const lib = { ...require('./dist/cjs/index.js'), ...require('./dist/cjs/http/index.js') };
        let noBinary = 'loaded';
        try { lib.getLinger(0x7fffffff); } catch (e) { noBinary = e.code; }
        const server = http.createServer((req, res) => {
          res.writeHead(413, { connection: 'close', 'content-length': 9 });
          res.end('too large');
        });
        const handle = lib.enableLingeringClose(server, { lingeringTimeout: 2000 });
        server.listen(0, '127.0.0.1', () => {
          const py = "import http.client,sys\\nc=http.client.HTTPConnection('127.0.0.1',int(sys.argv[1]),timeout=20)\\n" +
            "c.request('POST','/',body=b'u'*(8<<20))\\nr=c.getresponse()\\nprint(r.status, r.read().decode())";
          execFile('python3', ['-c', py, String(server.address().port)], (err, out) => {
            console.log(JSON.stringify({ noBinary, python: out.trim(), lingered: handle.counts.lingered }));
            server.close(); server.closeAllConnections();
          });
        });
        const { execFile } = require('node:child_process');
      `;
      const env = { ...process.env };
      delete env.NET_LINGER_BINARY; // the ASan leg points the loader at its own binary
      const out = await new Promise<string>((resolve, reject) => {
        execFile(process.execPath, ['-e', script], { cwd: copy, encoding: 'utf8', env, timeout: 30_000 }, (err, stdout, stderr) => {
          if (err) reject(new Error(`${err.message}\n${stderr}`));
          else resolve(stdout);
        });
      });
      const result = JSON.parse(out.trim().split('\n').pop()!);
      expect(result).toEqual({ noBinary: 'ERR_NET_LINGER_NO_BINARY', python: '413 too large', lingered: 1 });
    } finally {
      fs.rmSync(copy, { recursive: true, force: true });
    }
  });
});
