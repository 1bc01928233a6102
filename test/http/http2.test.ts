// HTTP/2 in enableLingeringClose, against clients nobody here wrote: curl --http2, nghttp, h2load,
// Node's http2 client and undici 7 (allowH2). A handler refuses a 50 MB upload with 413 after
// 1 MiB; the session is left open, closed, destroyed, or sent a GOAWAY then destroyed. Every
// client must read the whole 413 and end cleanly, every run; the controls (no integration) show
// the failures Node has on its own. Loopback only, every run bounded in time.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { type TestContext, afterAll, beforeAll, describe, expect, it } from 'vitest';
import Fastify from 'fastify';
import { enableLingeringClose, type Http2LingeringCloseHandle } from '../../src/http/index';
import { cert, key, sleep, until } from '../close/support';
import { requireTools } from '../support/tools';

// Checked on Linux (Node 20, 22, 24); the Windows leg under Wine does not claim HTTP/2.
const linux = process.platform === 'linux';

const LIMIT = 1024 * 1024;
const UPLOAD = 50_000_000;
const ANSWER = 'too large\n';
const RUNS = Number(process.env.NET_LINGER_H2_RUNS ?? 3);
const CLIENT_TIMEOUT_MS = 8_000;
const CONTROL_TIMEOUT_MS = 2_500;

type Api = 'raw' | 'compat' | 'fastify';
type After = 'open' | 'close' | 'destroy' | 'goaway';
type Client = 'curl' | 'nghttp' | 'h2load' | 'node' | 'undici';

interface View {
  status?: number;
  body?: string;
  error?: string;
  timedOut?: boolean;
}
const clean = (v: View) => v.status === 413 && v.body === ANSWER && v.error === undefined && !v.timedOut;

let dir: string;
let bigFile: string;


beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'net-linger-h2-'));
  bigFile = path.join(dir, 'upload.bin');
  fs.closeSync(fs.openSync(bigFile, 'w'));
  fs.truncateSync(bigFile, UPLOAD); // sparse: 50 MB of zeros without writing them
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function endSession(session: http2.ServerHttp2Session | undefined, after: After): void {
  if (!session || session.destroyed) return;
  if (after === 'close') session.close();
  else if (after === 'destroy') session.destroy();
  else if (after === 'goaway') {
    session.goaway();
    session.destroy();
  }
}

interface Served {
  url: string;
  server: http2.Http2Server | http2.Http2SecureServer;
  handle?: Http2LingeringCloseHandle;
  sockets: Set<net.Socket>;
  stop(): Promise<void>;
}

/** A server whose handler answers 413 once more than 1 MiB of the body has arrived, then stops reading. */
async function serve(o: { secure: boolean; api: Api; after: After; linger: boolean }): Promise<Served> {
  const sockets = new Set<net.Socket>();
  let server: http2.Http2Server | http2.Http2SecureServer;
  let fastify: ReturnType<typeof Fastify> | undefined;
  if (o.api === 'fastify') {
    const f = o.secure
      ? Fastify({ http2: true, https: { key, cert }, bodyLimit: LIMIT })
      : Fastify({ http2: true, bodyLimit: LIMIT });
    f.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    f.setErrorHandler((err, request, reply) => {
      void reply.code((err as { statusCode?: number }).statusCode ?? 500).type('text/plain').send(ANSWER);
      reply.raw.once('finish', () => endSession(request.raw.stream.session, o.after));
    });
    f.post('/up', async () => 'ok\n');
    f.get('/ok', async () => 'ok\n');
    fastify = f;
    server = f.server as unknown as http2.Http2Server;
  } else {
    server = o.secure ? http2.createSecureServer({ key, cert }) : http2.createServer();
    if (o.api === 'compat') {
      server.on('request', (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => {
        let n = 0;
        req.on('data', (chunk: Buffer) => {
          n += chunk.length;
          if (n > LIMIT && !res.headersSent) {
            req.pause();
            res.writeHead(413, { 'content-type': 'text/plain' });
            res.end(ANSWER);
            endSession(req.stream.session, o.after);
          }
        });
        req.on('end', () => {
          if (!res.headersSent) res.end('ok\n');
        });
      });
    } else {
      server.on('stream', (stream: http2.ServerHttp2Stream) => {
        let n = 0;
        stream.on('error', () => {});
        stream.on('data', (chunk: Buffer) => {
          n += chunk.length;
          if (n > LIMIT && !stream.headersSent) {
            stream.pause();
            stream.respond({ ':status': 413, 'content-type': 'text/plain' });
            stream.end(ANSWER);
            endSession(stream.session, o.after);
          }
        });
        stream.on('end', () => {
          if (!stream.headersSent) {
            stream.respond({ ':status': 200 });
            stream.end('ok\n');
          }
        });
      });
    }
  }
  server.on(o.secure ? 'secureConnection' : 'connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  const handle = o.linger
    ? (enableLingeringClose(server, { lingeringTime: 5_000, lingeringTimeout: 2_000 }) as Http2LingeringCloseHandle)
    : undefined;
  let port: number;
  if (fastify) {
    await fastify.listen({ port: 0, host: '127.0.0.1' });
    port = (server.address() as net.AddressInfo).port;
  } else {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as net.AddressInfo).port;
  }
  return {
    url: `${o.secure ? 'https' : 'http'}://127.0.0.1:${port}/up`,
    server,
    handle,
    sockets,
    async stop() {
      for (const socket of sockets) socket.destroy();
      if (fastify) await fastify.close();
      else await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function run(cmd: string, args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string; timedOut: boolean }> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { killed?: boolean; code?: unknown }) | null;
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : null) : 0, stdout, stderr, timedOut: e?.killed === true });
    });
    child.stdin?.end();
  });
}

async function curlClient(url: string, timeoutMs: number): Promise<View> {
  const prior = url.startsWith('http:') ? '--http2-prior-knowledge' : '--http2';
  const out = path.join(dir, `curl-${process.hrtime.bigint()}.txt`);
  const r = await run('curl', ['-sk', prior, '-o', out, '-w', '%{http_code}', '--data-binary', `@${bigFile}`, url], timeoutMs);
  const body = fs.existsSync(out) ? fs.readFileSync(out, 'utf8') : undefined;
  fs.rmSync(out, { force: true });
  return { status: Number(r.stdout) || undefined, body, error: r.code === 0 ? undefined : `curl exit ${r.code}`, timedOut: r.timedOut };
}

async function nghttpClient(url: string, timeoutMs: number): Promise<View> {
  const r = await run('nghttp', ['-v', '-d', bigFile, url], timeoutMs);
  const status = /recv \(stream_id=\d+\) :status: (\d+)/.exec(r.stdout)?.[1];
  // nghttp -v prints the frames and the body; END_STREAM is flag 0x01 on DATA (0x05 on HEADERS).
  const ended = /recv (DATA|HEADERS) frame <length=\d+, flags=0x0[15]/.test(r.stdout);
  const data = ended && r.stdout.includes(ANSWER.trim());
  return {
    status: status ? Number(status) : undefined,
    body: data ? ANSWER : undefined,
    error: r.code === 0 ? undefined : `nghttp exit ${r.code}`,
    timedOut: r.timedOut,
  };
}

async function h2loadClient(url: string, timeoutMs: number): Promise<View> {
  const r = await run('h2load', ['-n1', '-c1', '-d', bigFile, url], timeoutMs);
  // h2load counts a 4xx as "failed"; done means its END_STREAM was read, errored would be a reset.
  const ok = /1 done, \d+ succeeded, \d+ failed, 0 errored, 0 timeout/.test(r.stdout) && /0 2xx, 0 3xx, 1 4xx/.test(r.stdout);
  return {
    status: ok ? 413 : undefined,
    body: ok && /\b10B \(10\) data/.test(r.stdout) ? ANSWER : undefined,
    error: r.code === 0 && ok ? undefined : `h2load exit ${r.code}: ${r.stdout.split('\n').find((l) => l.startsWith('requests:')) ?? ''}`,
    timedOut: r.timedOut,
  };
}

/** Node's http2 client: uploads 50 MB with backpressure, reads the response. */
function nodeClient(url: string, timeoutMs: number): Promise<View> {
  return new Promise((resolve) => {
    const view: View = {};
    const client = http2.connect(new URL(url).origin, { rejectUnauthorized: false });
    const timer = setTimeout(() => {
      view.timedOut = true;
      client.destroy();
      resolve(view);
    }, timeoutMs);
    client.on('error', (err) => { view.error ??= `session: ${(err as NodeJS.ErrnoException).code ?? err.message}`; });
    const req = client.request({ ':method': 'POST', ':path': new URL(url).pathname, 'content-length': String(UPLOAD) });
    const chunk = Buffer.alloc(64 * 1024);
    let sent = 0;
    const pump = () => {
      while (sent < UPLOAD && !req.destroyed && !req.closed) {
        sent += chunk.length;
        if (!req.write(sent >= UPLOAD ? chunk.subarray(0, chunk.length - (sent - UPLOAD)) : chunk)) {
          req.once('drain', pump);
          return;
        }
      }
      if (sent >= UPLOAD) req.end();
    };
    pump();
    let body = '';
    req.setEncoding('utf8');
    req.on('response', (headers) => { view.status = Number(headers[':status']); });
    req.on('data', (d: string) => { body += d; });
    req.on('error', (err) => { view.error ??= `stream: ${(err as NodeJS.ErrnoException).code ?? err.message}`; });
    req.on('close', () => {
      view.body = body;
      // RST_STREAM(NO_ERROR) after the response is the server asking to stop sending: clean.
      if (req.rstCode !== http2.constants.NGHTTP2_NO_ERROR) view.error ??= `rstCode ${req.rstCode}`;
      clearTimeout(timer);
      client.close();
      resolve(view);
    });
  });
}

/** undici 7 with allowH2, in its own process (as curl is): a 50 MB streamed body. */
async function undiciClient(url: string, timeoutMs: number): Promise<View> {
  const r = await run(process.execPath, [path.join(__dirname, '..', 'fixtures', 'http2-undici-client.mjs'), url, String(UPLOAD)], timeoutMs);
  if (r.timedOut) return { timedOut: true };
  try {
    return JSON.parse(r.stdout) as View;
  } catch {
    return { error: `undici client exit ${r.code}: ${r.stderr.slice(0, 200)}` };
  }
}

function client(name: Client, url: string, timeoutMs = CLIENT_TIMEOUT_MS): Promise<View> {
  switch (name) {
    case 'curl': return curlClient(url, timeoutMs);
    case 'nghttp': return nghttpClient(url, timeoutMs);
    case 'h2load': return h2loadClient(url, timeoutMs);
    case 'node': return nodeClient(url, timeoutMs);
    case 'undici': return undiciClient(url, timeoutMs);
  }
}

/** A small POST on an existing session, whole: the body the server answered. */
async function smallPost(session: http2.ClientHttp2Session): Promise<string> {
  const ok = session.request({ ':method': 'POST', ':path': '/up' });
  let body = '';
  ok.setEncoding('utf8');
  ok.on('data', (d: string) => { body += d; });
  ok.end('small');
  await new Promise<void>((resolve) => ok.once('close', () => resolve()));
  return body;
}

/** The clients that are tools: a test with one asks test/support/tools.ts (skip with the note, or fail under NET_LINGER_REQUIRE_TOOLS=1). */
const needs = (ctx: TestContext, name: Client) => { if (name !== 'node' && name !== 'undici') requireTools(ctx, name); };

/** What is left of a server's connections: the test's sockets all closed, nothing lingering. */
async function drained(s: Served): Promise<void> {
  await until(() => s.sockets.size === 0 && (s.handle?.lingering ?? 0) === 0, 10_000, 'server sockets closed').catch((err) => {
    if (process.env.H2DEBUG) console.log([...s.sockets].map((x) => ({ d: x.destroyed, re: x.readableEnded, wf: x.writableFinished, bytes: x.bytesRead, session: ((x as unknown as Record<string, http2.ServerHttp2Session | undefined>)['undefined']) ? { d: (x as unknown as Record<string, http2.ServerHttp2Session>)['undefined'].destroyed, c: (x as unknown as Record<string, http2.ServerHttp2Session>)['undefined'].closed } : null, reading: (x as unknown as { _handle?: { reading?: boolean } })._handle?.reading })), s.handle?.counts);
    throw err;
  });
}

const AFTERS: After[] = ['open', 'close', 'destroy', 'goaway'];
const ALL: Client[] = ['curl', 'nghttp', 'h2load', 'node', 'undici'];

(linux ? describe : describe.skip).each([
  { secure: true, api: 'raw' as Api, clients: ALL },
  { secure: true, api: 'compat' as Api, clients: ALL },
  { secure: true, api: 'fastify' as Api, clients: ['curl', 'nghttp', 'node', 'undici'] as Client[] },
  // h2c: curl 7.88 loses the response with nginx too (exit 92, see docs/http2.md); undici needs ALPN.
  { secure: false, api: 'raw' as Api, clients: ['nghttp', 'h2load', 'node'] as Client[] },
  { secure: false, api: 'compat' as Api, clients: ['nghttp', 'node'] as Client[] },
])('HTTP/2 ($api, $secure): an early 413 reaches every client whole', ({ secure, api, clients }) => {
  for (const after of AFTERS) {
    for (const name of clients) {
      it(`session ${after}, ${name}: ${RUNS} runs, each the whole 413 and a clean end`, async (ctx) => {
        needs(ctx, name);
        const s = await serve({ secure, api, after, linger: true });
        try {
          for (let i = 0; i < RUNS; i++) {
            const view = await client(name, s.url);
            if (name === 'curl' && after !== 'open' && (view.error === 'curl exit 18' || view.error === 'curl exit 92')) {
              // curl 7.88 has read the whole 413 and still, in a few runs in a hundred, reports
              // "transfer closed with outstanding read data remaining" (18) or "stream not closed
              // cleanly" (92) when the connection ends right after the stream while it is still
              // uploading (docs/http2.md). Everything else must be clean.
              expect({ ...view, error: undefined }, `run ${i + 1}`).toSatisfy(clean);
              continue;
            }
            expect(view, `run ${i + 1}`).toSatisfy(clean);
          }
          await drained(s);
          // How many streams needed the RST depends on the client (curl stops uploading on the
          // 413 itself, fastify answers before reading); none may have needed a cap.
          const counts = s.handle!.counts;
          expect(counts.streamsReset).toBeLessThanOrEqual(RUNS);
          expect(counts.endedByCap).toBe(0);
        } finally {
          await s.stop();
        }
      });
    }
  }
});

describe.skipIf(!linux)('the controls: without the integration Node fails these clients', () => {
  // One cell per shape, as measured (issue 22): the client stalls, or the 413 is lost.
  const controls: Array<{ after: After; name: Client; secure: boolean }> = [
    { after: 'open', name: 'nghttp', secure: true },
    { after: 'open', name: 'h2load', secure: false },
    { after: 'close', name: 'curl', secure: true },
    { after: 'destroy', name: 'nghttp', secure: true },
    { after: 'goaway', name: 'h2load', secure: true },
  ];
  for (const c of controls) {
    it(`session ${c.after}, ${c.name}: no clean 413 without it`, async (ctx) => {
      needs(ctx, c.name);
      const s = await serve({ secure: c.secure, api: 'raw', after: c.after, linger: false });
      try {
        const view = await client(c.name, s.url, CONTROL_TIMEOUT_MS);
        expect(clean(view)).toBe(false);
      } finally {
        await s.stop();
      }
    });
  }
});

describe.skipIf(!linux)('per stream: RST_STREAM(NO_ERROR) after the response, the session goes on', () => {
  it('nghttp sees the 413 with END_STREAM, then RST_STREAM NO_ERROR (not CANCEL)', async (ctx) => {
    requireTools(ctx, 'nghttp');
    const s = await serve({ secure: true, api: 'raw', after: 'open', linger: true });
    try {
      const r = await run('nghttp', ['-v', '-d', bigFile, s.url], CLIENT_TIMEOUT_MS);
      const lines = r.stdout.split('\n');
      const end = lines.findIndex((l) => /recv DATA frame <length=\d+, flags=0x01/.test(l));
      const rst = lines.findIndex((l) => /recv RST_STREAM frame/.test(l));
      expect(end).toBeGreaterThan(-1);
      expect(rst).toBeGreaterThan(end);
      expect(lines[rst + 1]).toContain('error_code=NO_ERROR(0x00)');
    } finally {
      await s.stop();
    }
  });

  it('another stream of the same session completes after the refused one, and close() then completes', async () => {
    const s = await serve({ secure: true, api: 'raw', after: 'open', linger: true });
    const session = http2.connect(new URL(s.url).origin, { rejectUnauthorized: false });
    try {
      const refused = session.request({ ':method': 'POST', ':path': '/up' });
      refused.on('error', () => {});
      let body = '';
      refused.setEncoding('utf8');
      refused.on('data', (d: string) => { body += d; });
      const chunk = Buffer.alloc(64 * 1024);
      const writer = setInterval(() => { if (!refused.closed) refused.write(chunk); }, 1);
      await new Promise<void>((resolve) => refused.once('close', () => resolve()));
      clearInterval(writer);
      expect(body).toBe(ANSWER);
      expect(refused.rstCode).toBe(http2.constants.NGHTTP2_NO_ERROR);
      expect(await smallPost(session)).toBe('ok\n');
      await new Promise<void>((resolve) => session.close(() => resolve()));
      await drained(s);
      expect(s.handle!.counts.streamsReset).toBe(1);
    } finally {
      session.destroy();
      await s.stop();
    }
  });
});

describe.skipIf(!linux)('lingering caps and leaks', () => {
  it('a client that keeps sending and never sends its FIN is let go at lingeringTime; nothing is left behind', async () => {
    const server = http2.createServer();
    server.on('stream', (stream) => {
      stream.on('error', () => {});
      stream.respond({ ':status': 413 });
      stream.end(ANSWER);
      stream.session?.destroy();
    });
    const handle = enableLingeringClose(server, { lingeringTime: 600, lingeringTimeout: 400 }) as Http2LingeringCloseHandle;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const before = process.getActiveResourcesInfo().length;
    // A hand-written h2c client: preface, empty SETTINGS, HEADERS (POST /, http: HPACK static
    // indexes 3, 4, 6, and :authority "a" as a literal) on stream 1, then a DATA frame every 50 ms, and never a FIN.
    const socket = net.connect({ port: (server.address() as net.AddressInfo).port, host: '127.0.0.1', allowHalfOpen: true });
    socket.on('error', () => {});
    socket.resume();
    socket.write(Buffer.concat([
      Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
      Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]),
      Buffer.from([0, 0, 6, 1, 4, 0, 0, 0, 1, 0x83, 0x84, 0x86, 0x01, 0x01, 0x61]),
    ]));
    const data = Buffer.concat([Buffer.from([0, 0x04, 0, 0, 0, 0, 0, 0, 1]), Buffer.alloc(1024)]);
    const writer = setInterval(() => { if (socket.writable) socket.write(data); }, 50);
    try {
      await until(() => handle.counts.lingered === 1, 5_000, 'lingering');
      await until(() => socket.destroyed || socket.readableEnded, 5_000, 'server closed the connection');
      await until(() => handle.lingering === 0, 5_000, 'lingering over');
      // The counts are taken on the socket's 'close', a moment after it stops lingering.
      await until(() => { const c = handle.counts; return c.endedByCap + c.endedByFin + c.endedByError + c.endedByReset + c.endedByClose === 1; }, 5_000, 'counted');
      expect(handle.counts).toMatchObject({ lingered: 1, endedByCap: 1, endsDeferred: 1 });
    } finally {
      clearInterval(writer);
      socket.destroy();
    }
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await sleep(50);
    expect(process.getActiveResourcesInfo().length).toBeLessThanOrEqual(before);
  });

  it("a shutdown that destroys the server's TCP sockets while a session end waits: the TLS socket closes with them, the session ends, nothing lingers", async () => {
    // Shutdown libraries destroy the sockets of the server's 'connection' event: under TLS, the
    // TCP socket below the TLS socket. Node 18 left the TLS socket open, and the session end the
    // integration had deferred then wrote through a connection that was gone (a crash in Node
    // 18.20.8's Http2Session::Close); Node 20 and later close it themselves.
    const server = http2.createSecureServer({ key, cert });
    const tcp = new Set<net.Socket>();
    const tlsSockets = new Set<net.Socket>();
    server.on('connection', (socket: net.Socket) => { tcp.add(socket); });
    server.on('secureConnection', (socket: net.Socket) => {
      tlsSockets.add(socket);
      socket.once('close', () => tlsSockets.delete(socket));
    });
    let deferred = false;
    server.on('stream', (stream) => {
      stream.on('error', () => {});
      stream.respond({ ':status': 413 });
      stream.end(ANSWER);
      stream.session?.destroy();
      deferred = !stream.session?.destroyed;
      // The shutdown, at once: every TCP socket of the server.
      for (const socket of tcp) socket.destroy();
    });
    const handle = enableLingeringClose(server, { lingeringTime: 5_000, lingeringTimeout: 2_000 }) as Http2LingeringCloseHandle;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const client = http2.connect(`https://127.0.0.1:${(server.address() as net.AddressInfo).port}`, { rejectUnauthorized: false });
    client.on('error', () => {});
    const req = client.request({ ':method': 'POST', ':path': '/' });
    req.on('error', () => {});
    req.write(Buffer.alloc(64 * 1024));
    try {
      await until(() => tcp.size === 1 && [...tcp].every((s) => s.destroyed), 5_000, 'the TCP socket destroyed');
      await until(() => tlsSockets.size === 0, 3_000, 'the TLS socket closed with it');
      await until(() => handle.lingering === 0, 3_000, 'nothing lingering');
      expect(deferred).toBe(true);
    } finally {
      client.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('a session left idle by an early response whose client answers nothing is closed after an unanswered PING', async () => {
    const server = http2.createServer();
    server.on('stream', (stream) => {
      stream.on('error', () => {});
      stream.respond({ ':status': 413 });
      stream.end(ANSWER);
    });
    const handle = enableLingeringClose(server, { lingeringTime: 5_000, lingeringTimeout: 300 }) as Http2LingeringCloseHandle;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    // A hand-written h2c client (as above) that sends a request with part of its body, then
    // stays silent: it never answers a PING, as a session whose reading has stopped never sees one.
    const socket = net.connect({ port: (server.address() as net.AddressInfo).port, host: '127.0.0.1', allowHalfOpen: true });
    socket.on('error', () => {});
    let received = 0;
    socket.on('data', (d: Buffer) => { received += d.length; });
    socket.write(Buffer.concat([
      Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
      Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]),
      Buffer.from([0, 0, 6, 1, 4, 0, 0, 0, 1, 0x83, 0x84, 0x86, 0x01, 0x01, 0x61]),
      Buffer.concat([Buffer.from([0, 0x04, 0, 0, 0, 0, 0, 0, 1]), Buffer.alloc(1024)]),
    ]));
    try {
      await until(() => handle.counts.streamsReset === 1, 5_000, 'stream reset');
      const resetAt = Date.now();
      await until(() => socket.readableEnded || socket.destroyed, 5_000, 'server closed the idle connection');
      // Not before lingeringTimeout of idleness plus lingeringTimeout for the PING.
      expect(Date.now() - resetAt).toBeGreaterThanOrEqual(500);
      expect(received).toBeGreaterThan(0);
      await until(() => handle.counts.unanswered === 1, 2_000, 'counted');
    } finally {
      socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('a session left idle by an early response stays open while its client answers PINGs', async () => {
    const s = await serve({ secure: true, api: 'raw', after: 'open', linger: true });
    const server = s.server;
    const handle = enableLingeringClose(server, { lingeringTime: 5_000, lingeringTimeout: 200 }) as Http2LingeringCloseHandle;
    const session = http2.connect(new URL(s.url).origin, { rejectUnauthorized: false });
    try {
      const refused = session.request({ ':method': 'POST', ':path': '/up' });
      refused.on('error', () => {});
      refused.resume();
      const chunk = Buffer.alloc(64 * 1024);
      const writer = setInterval(() => { if (!refused.closed) refused.write(chunk); }, 1);
      await new Promise<void>((resolve) => refused.once('close', () => resolve()));
      clearInterval(writer);
      await sleep(1_000);
      expect(session.closed || session.destroyed).toBe(false);
      expect(await smallPost(session)).toBe('ok\n');
      expect(handle.counts.unanswered).toBe(0);
    } finally {
      session.destroy();
      await s.stop();
    }
  });

  it('options are validated and disable() stops new connections from being watched', () => {
    const server = http2.createServer();
    expect(() => enableLingeringClose(server, { lingeringTime: 0 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    const handle = enableLingeringClose(server, { lingeringTimeout: 1234 });
    expect(handle.options.lingeringTimeout).toBe(1234);
    expect(enableLingeringClose(server)).toBe(handle);
    expect(server.listenerCount('connection')).toBe(2);
    handle.disable();
    expect(server.listenerCount('connection')).toBe(1);
  });
});
