// Real HTTP servers that answer an upload early with 413, and real clients that report what they
// observed: status, body and error. Shared by the HTTP lingering-close tests.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { LingeringCloseHandle } from '../../src/http/index';
import { cert, key, track } from '../close/support';
import { toolPath } from '../support/tools';

export const LIMIT = 1024 * 1024;
export const ANSWER = 'too large';

export interface ClientView {
  status?: number;
  body?: string;
  error?: string;
}

/** Whether the client read the whole 413 answer and saw no error. */
export const clean = (v: ClientView) => v.status === 413 && v.body?.includes(ANSWER) === true && v.error === undefined;

export interface Target {
  host: string;
  port: number;
  tls?: boolean;
}

const url = (t: Target, p = '/upload') => `${t.tls ? 'https' : 'http'}://${t.host.includes(':') ? `[${t.host}]` : t.host}:${t.port}${p}`;

export interface UploadOptions {
  bytes: number;
  chunked?: boolean;
  /** Pause between 64 KiB chunks, ms (a slow upload). */
  delayMs?: number;
}

function bodyStream(o: UploadOptions): Readable {
  let sent = 0;
  const chunk = Buffer.alloc(64 * 1024, 0x75);
  return new Readable({
    read() {
      if (sent >= o.bytes) return void this.push(null);
      sent += chunk.length;
      if (o.delayMs) setTimeout(() => this.push(chunk), o.delayMs);
      else this.push(chunk);
    },
  });
}

/**
 * A file of `bytes` for curl, shared by every test process and kept between runs: one file per
 * size, written once (through a rename, so a process never reads one half-written). A file per
 * process removed at exit was left behind whenever the test runner ended its workers without
 * an 'exit' event.
 */
function fileOf(bytes: number): string {
  const file = path.join(os.tmpdir(), `net-linger-upload-${bytes}`);
  if (fs.statSync(file, { throwIfNoEntry: false })?.size !== bytes) {
    const partial = `${file}.${process.pid}`;
    fs.writeFileSync(partial, Buffer.alloc(bytes, 0x75));
    fs.renameSync(partial, file);
  }
  return file;
}

function run(cmd: string, args: string[], timeout = 30_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

export async function curlUpload(t: Target, o: UploadOptions): Promise<ClientView> {
  const args = ['-sS', '--max-time', '20', '-X', 'POST', '-H', 'Expect:', '-H', 'Content-Type: text/plain',
    '--data-binary', `@${fileOf(o.bytes)}`, '-w', '\n%{http_code}', url(t)];
  if (o.chunked) args.unshift('-H', 'Transfer-Encoding: chunked');
  if (t.tls) args.unshift('-k');
  if (o.delayMs) args.unshift('--limit-rate', `${Math.round((64 * 1024 * 1000) / o.delayMs)}`);
  const r = await run('curl', args);
  const lines = r.stdout.split('\n');
  const status = Number(lines.pop());
  const view: ClientView = { body: lines.join('\n') };
  if (status) view.status = status;
  if (r.code !== 0) view.error = `curl exit ${r.code}: ${r.stderr.trim()}`;
  return view;
}

const PYTHON = `
import http.client, ssl, sys, time
host, port, size, chunked, tls, delay = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == '1', sys.argv[5] == '1', float(sys.argv[6])
try:
    if tls:
        c = http.client.HTTPSConnection(host, port, timeout=20, context=ssl._create_unverified_context())
    else:
        c = http.client.HTTPConnection(host, port, timeout=20)
    block = b'u' * 65536
    def body():
        sent = 0
        while sent < size:
            if delay: time.sleep(delay)
            yield block
            sent += len(block)
    headers = {'Content-Type': 'text/plain'}
    if chunked:
        c.request('POST', '/upload', body=body(), encode_chunked=True, headers=dict(headers, **{'Transfer-Encoding': 'chunked'}))
    else:
        c.request('POST', '/upload', body=body(), headers=dict(headers, **{'Content-Length': str(size)}))
    r = c.getresponse()
    data = r.read()
    print('STATUS', r.status)
    print(data.decode('latin1'))
except Exception as e:
    print('ERROR', type(e).__name__, e)
`;

export async function pythonUpload(t: Target, o: UploadOptions): Promise<ClientView> {
  const r = await run('python3', ['-c', PYTHON, t.host, String(t.port), String(o.bytes), o.chunked ? '1' : '0', t.tls ? '1' : '0',
    String((o.delayMs ?? 0) / 1000)]);
  const out = r.stdout;
  const m = /^STATUS (\d+)\n([\s\S]*)$/.exec(out);
  if (m) return { status: Number(m[1]), body: m[2].trim() };
  return { error: out.trim() || `python exit ${r.code}: ${r.stderr.trim()}` };
}

/** Node's http.request; `keepAlive` uses a keep-alive agent. Runs in this process. */
export function nodeUpload(t: Target, o: UploadOptions & { keepAlive?: boolean }): Promise<ClientView> {
  return new Promise((resolve) => {
    const view: ClientView = {};
    const agent = t.tls
      ? new https.Agent({ keepAlive: o.keepAlive ?? false, rejectUnauthorized: false })
      : new http.Agent({ keepAlive: o.keepAlive ?? false });
    const headers: Record<string, string | number> = { 'content-type': 'text/plain' };
    if (!o.chunked) headers['content-length'] = o.bytes;
    const req = (t.tls ? https : http).request({ host: t.host, port: t.port, method: 'POST', path: '/upload', agent, headers });
    req.on('socket', (socket) => socket.once('connect', () => track(socket)));
    const body = bodyStream(o);
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      // A late error still counts: wait a little before judging.
      setTimeout(() => {
        body.destroy();
        agent.destroy();
        resolve(view);
      }, 100);
    };
    req.on('response', (res) => {
      view.status = res.statusCode;
      let text = '';
      res.setEncoding('latin1');
      res.on('data', (d: string) => { text += d; });
      res.on('end', () => { view.body = text; finish(); });
      res.on('error', (err: NodeJS.ErrnoException) => { view.error ??= err.code ?? err.message; });
      res.on('close', finish);
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      view.error ??= err.code ?? err.message;
      finish();
    });
    body.pipe(req);
  });
}

/** Node's fetch (undici). Content-Length from a Buffer body; chunked from a stream body. */
export async function fetchUpload(t: Target, o: UploadOptions): Promise<ClientView> {
  if (t.tls) throw new Error('fetch over TLS with a self-signed certificate is not exercised');
  try {
    const body = o.chunked ? (Readable.toWeb(bodyStream(o)) as ReadableStream) : Buffer.alloc(o.bytes, 0x75);
    const res = await fetch(url(t), {
      method: 'POST', body, headers: { 'content-type': 'text/plain' }, ...(o.chunked ? { duplex: 'half' } : {}),
    } as RequestInit);
    return { status: res.status, body: await res.text() };
  } catch (err) {
    const e = err as Error & { cause?: NodeJS.ErrnoException };
    return { error: `${e.message}${e.cause ? `: ${e.cause.code ?? e.cause.message}` : ''}` };
  }
}

export type ClientName = 'curl' | 'python' | 'node' | 'node-keepalive' | 'fetch';
export const CLIENTS: ClientName[] = ['curl', 'python', 'node', 'node-keepalive', 'fetch'];

/**
 * The clients of a list that can run here: curl is optional (test/support/tools.ts). A test that loops
 * over clients runs these, then calls requireTools(ctx, 'curl'), which skips it with the note
 * (or fails it under NET_LINGER_REQUIRE_TOOLS=1) if curl was left out.
 */
export function clientsHere<T extends { client: ClientName } | ClientName>(list: readonly T[]): T[] {
  return list.filter((c) => (typeof c === 'string' ? c : c.client) !== 'curl' || toolPath('curl') !== undefined);
}

export function upload(client: ClientName, t: Target, o: UploadOptions): Promise<ClientView> {
  switch (client) {
    case 'curl': return curlUpload(t, o);
    case 'python': return pythonUpload(t, o);
    case 'node': return nodeUpload(t, o);
    case 'node-keepalive': return nodeUpload(t, { ...o, keepAlive: true });
    case 'fetch': return fetchUpload(t, o);
  }
}

/** A GET on a fresh connection: the server still serves. */
export function getOk(t: Target, p = '/ok'): Promise<number | string> {
  return new Promise((resolve) => {
    const req = (t.tls ? https : http).get({ host: t.host, port: t.port, path: p, agent: false, rejectUnauthorized: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('socket', (socket) => socket.once('connect', () => track(socket)));
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

/** Counts 'clientError' while keeping Node's default handling (a 400 where nothing was written, then destroy). */
export function countClientErrors(server: http.Server | https.Server): { readonly count: number; readonly codes: string[] } {
  const seen = { count: 0, codes: [] as string[] };
  server.on('clientError', (err: NodeJS.ErrnoException, socket: net.Socket) => {
    seen.count++;
    seen.codes.push(err.code ?? err.message);
    if (socket.writable && socket.bytesWritten === 0) socket.write('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    socket.destroy(err);
  });
  return seen;
}

export function listen(server: http.Server | https.Server | net.Server, host: string): Promise<Target> {
  return new Promise((resolve) => server.listen(0, host, () => resolve({
    host, port: (server.address() as net.AddressInfo).port, tls: server instanceof https.Server,
  })));
}

/** Closes a server and every connection it still has. */
export function shut(server: http.Server | https.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** Tracks every accepted socket for the leak guard. */
export function trackAccepted(server: http.Server | https.Server): void {
  server.on(server instanceof https.Server ? 'secureConnection' : 'connection', (socket: net.Socket) => track(socket));
}

export const tlsOptions = { key, cert };

/** How a node:http handler rejects an upload past LIMIT. */
export type NodeStyle = 'close' | 'destroy' | 'destroy-socket';

/**
 * node:http answering 413 with Connection: close: 'close' at once, from the headers (Node's own
 * destroySoon after the last response); 'destroy' / 'destroy-socket' after reading LIMIT bytes,
 * then req.destroy() / req.socket.destroy().
 */
export function nodeHandler(style: NodeStyle, served?: { count: number }): http.RequestListener {
  return (req, res) => {
    if (served) served.count++;
    if (req.method === 'GET') return void res.end('ok');
    const reject = () => {
      res.writeHead(413, { connection: 'close', 'content-type': 'text/plain', 'content-length': ANSWER.length });
      res.end(ANSWER);
    };
    if (style === 'close') return reject();
    let n = 0;
    req.on('data', (d: Buffer) => {
      n += d.length;
      if (n <= LIMIT || res.headersSent) return;
      reject();
      if (style === 'destroy') req.destroy();
      else req.socket.destroy();
    });
    req.on('end', () => { if (!res.headersSent) res.end('accepted'); });
  };
}

/** Every lingering close has ended and been counted (counts move on 'close', after lingering drops). */
export function settled(handle: LingeringCloseHandle): boolean {
  const c = handle.counts;
  return handle.lingering === 0 && c.endedByFin + c.endedByCap + c.endedByReset + c.endedByError + c.endedByClose === c.lingered;
}

/** A raw HTTP/1.1 client: sends what it is told, records what comes back. */
export class RawClient {
  text = '';
  eof = false;
  error: string | undefined;
  closed = false;
  readonly socket: net.Socket;
  constructor(t: Target) {
    this.socket = net.connect({ host: t.host, port: t.port, allowHalfOpen: true });
    this.socket.setEncoding('latin1');
    this.socket.on('data', (d: string) => { this.text += d; });
    this.socket.on('end', () => { this.eof = true; });
    this.socket.on('error', (e: NodeJS.ErrnoException) => { this.error ??= e.code; });
    this.socket.on('close', () => { this.closed = true; });
    this.socket.once('connect', () => track(this.socket));
  }
  connected(): Promise<void> {
    return new Promise((resolve) => this.socket.once('connect', () => resolve()));
  }
  head(contentLength: number, extra = ''): void {
    this.socket.write(`POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: ${contentLength}\r\n${extra}\r\n`);
  }
  /** Writes `bytes` of body, waiting for the kernel to take it. Stops at an error. */
  async body(bytes: number): Promise<void> {
    const chunk = Buffer.alloc(64 * 1024, 0x75);
    for (let sent = 0; sent < bytes && !this.error && !this.socket.destroyed; sent += chunk.length) {
      if (!this.socket.write(chunk)) await new Promise((r) => { this.socket.once('drain', r); setTimeout(r, 200); });
    }
  }
  get answered(): boolean {
    return this.text.includes(ANSWER);
  }
}
