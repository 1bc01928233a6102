import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { isConnectionReset, normalizeErrorCode } from '../core/errors.js';
import { writeQueueSize } from '../core/node-internals.js';
import { pendingBytes } from '../core/socket-ops.js';
import { formatSize } from '../core/text.js';
import { invalidArgType, invalidArgValue, parseAddress, validateChoice, validateInteger } from '../core/validate.js';
import { type ProbeResponse, ResponseReader } from './response.js';

export type { ProbeResponse } from './response.js';

// probeServer: upload a body to a server (HTTP, or raw bytes to a TCP port) and report how the
// server ended the connection: a response read whole or not, a FIN or an RST, how many bytes the
// server's TCP acknowledged before it closed.
//
// Sending. By default the probe uploads as Python's http.client, requests and many SDKs do: the
// whole body whatever the server answers meanwhile (mode 'send-all'), the request head arriving
// with the first body bytes (order 'together': what a server meets from a client that writes head
// and body back to back before the server's first read); a server that stops reading without
// closing then stalls the upload until it resets it, as those clients meet it. Order
// 'head-first' sends the head alone and waits `headPause` ms before the body. Mode 'stop-early' is curl's way: stop sending `settle` ms
// after the server's last word. Either way the probe reads what the server sends while it sends,
// so the report can show the answer a client that reads only afterwards may never get.
//
// Reset detection. Node reports an RST as ECONNRESET on a read or a write. On Linux an RST that
// arrives after the server's FIN (our socket in CLOSE_WAIT) is reported as EPIPE on the next
// write (tcp_reset sets EPIPE in that state), and Node stops reading at EOF, so after a FIN the
// only way to see an RST is to keep sending: the probe keeps sending the body it still owes for
// `settle` ms after the server's last word (its FIN or a complete final response). A server that
// lingers (nginx's lingering close, enableLingeringClose) reads and discards those bytes; one
// that closed with unread data answers them with an RST. EPIPE while we have not shut our own
// side down can only mean the connection was reset, and is reported as a reset.
//
// Reading first. A write that fails destroys a Node socket, and with it whatever the kernel still
// holds for reading (the server's answer). Before every write the probe asks the kernel whether
// unread bytes are waiting (pendingBytes: FIONREAD) and, if so, lets the event loop read them first.

export type ProbeVerdict = 'clean' | 'reset' | 'cut-off' | 'bad-response' | 'timeout' | 'unreachable';
/** How the server ended the connection: FIN, RST, or not at all within the time allowed. */
export type ProbeServerClose = 'fin' | 'reset' | 'none';
/** How the body is sent: whole whatever the server answers ('send-all'), or stopped `settle` ms after its last word ('stop-early'). */
export type ProbeMode = 'send-all' | 'stop-early';
/** HTTP: the request head in one write with the first body bytes ('together'), or alone, `headPause` ms before the body ('head-first'). */
export type ProbeOrder = 'together' | 'head-first';

export interface ProbeOptions {
  /** Body bytes to send. Default 20 MiB. */
  size?: number;
  /** HTTP only: send the body with Transfer-Encoding: chunked instead of Content-Length. */
  chunked?: boolean;
  /** HTTP only: the request method. Default 'POST'. */
  method?: string;
  /** HTTP only: extra request headers; one named Host, User-Agent or Accept replaces the probe's own. */
  headers?: Record<string, string>;
  /** Upper bound for the whole probe, in ms. Default 30000. */
  timeout?: number;
  /** 'send-all' (default: as Python's http.client and most SDKs) or 'stop-early' (as curl). */
  mode?: ProbeMode;
  /** HTTP only: 'together' (default) or 'head-first'. */
  order?: ProbeOrder;
  /** HTTP only, order 'head-first': ms between the request head and the first body byte (default 10). */
  headPause?: number;
  /** Mode 'stop-early': how long to keep sending the body still owed after the server's last word, in ms. Default 500. */
  settle?: number;
}

export interface ProbeReport {
  target: { kind: 'http' | 'tcp'; host: string; port: number; url?: string };
  /** How the body was sent. */
  mode: ProbeMode;
  /** HTTP: how the head was sent; null for a raw TCP target. */
  order: ProbeOrder | null;
  /** Body bytes the probe meant to send. */
  size: number;
  /** Body bytes handed to the kernel. */
  sentBytes: number;
  /** Body bytes the server's TCP acknowledged before it closed (the last reading before the end); null where the OS cannot say or the addon is missing. */
  acknowledgedBytes: number | null;
  /** The whole body was handed to the kernel. */
  uploadComplete: boolean;
  /** Bytes received from the server (the raw stream, head included). */
  receivedBytes: number;
  /** HTTP only: the final response, null when none was received. */
  response: ProbeResponse | null;
  /** HTTP only: why what the server sent could not be read as an HTTP/1.x response (not HTTP, a head over 64 KiB, bad chunk framing); null when it could. */
  responseError: string | null;
  serverClose: ProbeServerClose;
  /** ms from the start to the server's FIN, or to the reset being seen. */
  closedAtMs: number | null;
  /** The error that ended the connection, normalised (ECONNRESET, EPIPE, ECONNREFUSED, ...). */
  error: { code: string | null; message: string; syscall?: string } | null;
  elapsedMs: number;
  verdict: ProbeVerdict;
  /** One sentence: what happened. */
  summary: string;
  /** What to change on the server, when something should change. */
  advice: string | null;
}

interface ParsedTarget {
  kind: 'http' | 'tcp';
  host: string;
  port: number;
  url?: string;
  path?: string;
  hostHeader?: string;
}

const DEFAULT_SIZE = 20 * 2 ** 20;
const DEFAULT_TIMEOUT = 30_000;
const DEFAULT_SETTLE = 500;
const DEFAULT_HEAD_PAUSE = 10;
// How long to wait for the server's FIN after ours before calling the connection kept open.
const KEPT_OPEN_WAIT = 2000;
// Before our FIN: how long the send queue may stand still before the probe stops waiting for it to drain.
const ACK_STALL_MS = 200;
const CHUNK = 64 * 1024;
const CRLF = Buffer.from('\r\n');
const MAX_TIMER_MS = 2 ** 31 - 1;
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

const ADVICE_RESET = 'The server closed while the upload was still arriving, so its kernel answered the unread bytes with an RST: ' +
  'clients that read the response only after sending (Python http.client, many SDKs, proxies) see ECONNRESET instead of the answer. ' +
  'Fix: before closing, shut down writing and keep reading and discarding the upload for a while. ' +
  'Node http/https servers: enableLingeringClose(server) from net-linger; a raw Node socket: gracefulClose(socket); ' +
  'nginx: lingering_close on (the default), with lingering_time/lingering_timeout long enough; elsewhere, read the rest of the body before closing.';
const ADVICE_CUT_OFF = 'The server closed before its response could be read whole. ' +
  'Fix: finish writing the response and let it drain (end(), not destroy()), then close with a lingering close ' +
  '(Node: enableLingeringClose(server) from net-linger; nginx: lingering_close on).';
const ADVICE_BAD_RESPONSE = 'What the server sent is not an HTTP/1.x response this probe can read: ' +
  'check that the URL points at a plain-HTTP port (not TLS, SSH or another protocol) and that the response head is well-formed and under 64 KiB.';
const ADVICE_TIMEOUT = 'The server neither answered in full nor closed within the time allowed; raise --timeout if it is just slow.';
const ADVICE_STALLED = 'The server answered, then stopped reading the upload without closing: a client that sends the whole body before it reads ' +
  '(Python http.client, many SDKs) waits until it gives up. Fix: after answering, keep reading and discarding the body for a while (a lingering close) ' +
  'or close the connection; Node: enableLingeringClose(server) from net-linger; nginx: lingering_close on.';

function parseTarget(target: unknown): ParsedTarget {
  if (target instanceof URL) target = target.href;
  if (typeof target === 'object' && target !== null && !Array.isArray(target)) {
    return { kind: 'tcp', ...parseAddress(target, 'target', { minPort: 1 }) };
  }
  if (typeof target !== 'string') throw invalidArgType('target', 'a URL string, a URL, "host:port" or { host, port }', target);
  const text = target.trim();
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    // The one HOST:PORT rule the proxy uses too; here a port to connect to, so 1-65535.
    if (!/^(\[[^\]]+\]|[^:[\]]+):\d+$/.test(text)) {
      throw invalidArgValue('target', target, 'must be an http:// URL or host:port ([v6-address]:port for IPv6)');
    }
    return { kind: 'tcp', ...parseAddress(text, 'target', { minPort: 1 }) };
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalidArgValue('target', target, 'is not a valid URL');
  }
  if (url.protocol !== 'tcp:' && url.protocol !== 'http:') {
    throw invalidArgValue('target', target, `has an unsupported scheme "${url.protocol}" (http://... or host:port; https is not supported)`);
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!host) throw invalidArgValue('target', target, 'has no host');
  if (url.protocol === 'tcp:') {
    if (!url.port) throw invalidArgValue('target', target, 'needs a host and a port (tcp://host:port)');
    return { kind: 'tcp', ...parseAddress({ host, port: Number(url.port) }, 'target', { minPort: 1 }) };
  }
  const address = parseAddress({ host, port: url.port ? Number(url.port) : 80 }, 'target', { minPort: 1 });
  return { kind: 'http', ...address, url: url.href, path: `${url.pathname || '/'}${url.search}`, hostHeader: url.host };
}

interface Validated {
  size: number;
  chunked: boolean;
  method: string;
  headers: [string, string][];
  timeout: number;
  mode: ProbeMode;
  order: ProbeOrder;
  headPause: number;
  settle: number;
}

function validateOptions(options: unknown, kind: 'http' | 'tcp'): Validated {
  if (options === undefined) options = {};
  if (typeof options !== 'object' || options === null) throw invalidArgType('options', 'of type object', options);
  const o = options as ProbeOptions;
  const size = o.size === undefined ? DEFAULT_SIZE : validateInteger(o.size, 'options.size', 0, Number.MAX_SAFE_INTEGER);
  const timeout = o.timeout === undefined ? DEFAULT_TIMEOUT : validateInteger(o.timeout, 'options.timeout', 1, MAX_TIMER_MS);
  const settle = o.settle === undefined ? DEFAULT_SETTLE : validateInteger(o.settle, 'options.settle', 0, MAX_TIMER_MS);
  const headPause = o.headPause === undefined ? DEFAULT_HEAD_PAUSE : validateInteger(o.headPause, 'options.headPause', 0, MAX_TIMER_MS);
  const mode = validateChoice(o.mode, 'options.mode', ['send-all', 'stop-early'] as const, 'send-all');
  const order = validateChoice(o.order, 'options.order', ['together', 'head-first'] as const, 'together');
  if (o.headPause !== undefined && order !== 'head-first') throw invalidArgValue('options.headPause', o.headPause, "applies only with order 'head-first'");
  if (o.chunked !== undefined && typeof o.chunked !== 'boolean') throw invalidArgType('options.chunked', 'of type boolean', o.chunked);
  const method = o.method === undefined ? 'POST' : o.method;
  if (typeof method !== 'string') throw invalidArgType('options.method', 'of type string', method);
  if (!TOKEN.test(method)) throw invalidArgValue('options.method', method, 'must be an HTTP token');
  const headers: [string, string][] = [];
  if (o.headers !== undefined) {
    if (typeof o.headers !== 'object' || o.headers === null) throw invalidArgType('options.headers', 'of type object', o.headers);
    for (const [name, value] of Object.entries(o.headers)) {
      if (!TOKEN.test(name)) throw invalidArgValue('options.headers', name, 'has a header name that is not an HTTP token');
      if (typeof value !== 'string' || /[\r\n\0]/.test(value)) throw invalidArgValue(`options.headers.${name}`, value, 'must be a string without CR, LF or NUL');
      const lower = name.toLowerCase();
      if (lower === 'content-length' || lower === 'transfer-encoding') {
        throw invalidArgValue('options.headers', name, 'is set by the probe itself (use size and chunked)');
      }
      if (headers.some(([n]) => n.toLowerCase() === lower)) throw invalidArgValue('options.headers', name, 'is given twice');
      headers.push([name, value]);
    }
  }
  if (kind === 'tcp' && (o.chunked || o.method !== undefined || o.headers !== undefined || o.order !== undefined || o.headPause !== undefined)) {
    throw invalidArgValue('options', options, 'has HTTP options (chunked, method, headers, order, headPause) for a raw TCP target');
  }
  return { size, chunked: o.chunked ?? false, method, headers, timeout, mode, order, headPause, settle };
}

/** The request head: the probe's own Host, User-Agent and Accept unless the caller gave one of them. */
function requestHead(target: ParsedTarget, opts: Validated): Buffer {
  const given = new Set(opts.headers.map(([n]) => n.toLowerCase()));
  const own: [string, string][] = [['Host', target.hostHeader!], ['User-Agent', 'net-linger-probe'], ['Accept', '*/*']];
  return Buffer.from([
    `${opts.method} ${target.path} HTTP/1.1`,
    ...own.filter(([n]) => !given.has(n.toLowerCase())).map(([n, v]) => `${n}: ${v}`),
    ...opts.headers.map(([n, v]) => `${n}: ${v}`),
    opts.chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${opts.size}`,
    '', '',
  ].join('\r\n'), 'latin1');
}

/** Maps request bytes on the wire (head and chunk framing included) to body bytes. */
class WireMap {
  // One entry per write, ascending: where it starts on the wire and in the body, its framing
  // before the body bytes (the head, a chunk-size line), and how many body bytes it carries.
  private readonly writes: { wire: number; body: number; prefix: number; length: number }[] = [];
  private wireEnd = 0;
  private bodyEnd = 0;

  add(prefix: number, length: number, suffix: number): void {
    this.writes.push({ wire: this.wireEnd, body: this.bodyEnd, prefix, length });
    this.wireEnd += prefix + length + suffix;
    this.bodyEnd += length;
  }

  bodyAt(wire: number): number {
    let lo = 0;
    let hi = this.writes.length - 1;
    if (hi < 0) return 0;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.writes[mid].wire <= wire) lo = mid; else hi = mid - 1;
    }
    const w = this.writes[lo];
    return w.body + Math.max(0, Math.min(w.length, wire - w.wire - w.prefix));
  }
}

function unreadBytes(socket: net.Socket): number {
  try {
    return pendingBytes(socket).unread;
  } catch {
    return 0;
  }
}

// Linux SIOCOUTQ and macOS SO_NWRITE count every byte still in the send queue, so "handed to the
// kernel minus that" is what the server's TCP acknowledged. Windows counts only bytes in flight,
// which would count queued bytes as acknowledged: no figure there.
const ACK_COUNTABLE = process.platform !== 'win32';

function unacknowledged(socket: net.Socket): number | null {
  if (!ACK_COUNTABLE) return null;
  try {
    return pendingBytes(socket).unacked;
  } catch {
    return null;
  }
}

/**
 * Uploads `size` bytes to a server and reports how it ended the connection. `target` is an
 * http:// URL (the body goes in a request, Content-Length or chunked), or `host:port` /
 * `tcp://host:port` / `{ host, port }` (raw bytes, then a half-close). Throws for bad arguments
 * before connecting; the promise never rejects: an unreachable server, a reset or a timeout is
 * the report's verdict.
 */
export function probeServer(target: string | URL | { host: string; port: number }, options?: ProbeOptions): Promise<ProbeReport> {
  const parsed = parseTarget(target);
  const opts = validateOptions(options, parsed.kind);
  return new Promise((resolve) => new ProbeRun(parsed, opts, resolve));
}

/** The request side: what was queued, handed to the kernel and acknowledged, in wire and body bytes. */
class Upload {
  readonly wire = new WireMap();
  bodyQueued = 0;
  private wireDone = 0; // request bytes of writes whose callbacks have run
  private wireInFlight = 0; // of writes still in flight (Node queues at most one here: the pump waits for 'drain')
  private handedMax = 0;
  private ackedWire: number | null = null;

  constructor(private readonly socket: net.Socket) {}

  /** Request bytes in the kernel's hands: the finished writes, and of the one in flight what libuv no longer holds. */
  private handed(): number {
    const s = this.socket;
    return this.wireDone + Math.max(0, this.wireInFlight - (s.destroyed ? this.wireInFlight : writeQueueSize(s) ?? this.wireInFlight));
  }

  /** Takes a reading of what the kernel holds and what the server's TCP acknowledged. */
  sample(): void {
    if (this.socket.destroyed || this.socket.connecting) return;
    const handed = this.handed();
    if (handed > this.handedMax) this.handedMax = handed;
    const unacked = unacknowledged(this.socket);
    if (unacked === null) return;
    const acked = Math.max(0, handed - unacked);
    if (this.ackedWire === null || acked > this.ackedWire) this.ackedWire = acked;
  }

  /** Writes `buffer`: `prefix` framing bytes, then `body` body bytes, then the rest framing. */
  write(buffer: Buffer, prefix: number, body: number): boolean {
    this.bodyQueued += body;
    this.wire.add(prefix, body, buffer.length - prefix - body);
    const size = buffer.length;
    this.wireInFlight += size;
    return this.socket.write(buffer, (err) => {
      if (err) return;
      this.wireInFlight -= size;
      this.wireDone += size;
      this.sample();
    });
  }

  /** Body bytes handed to the kernel and acknowledged, at most `size`. */
  totals(size: number): { sentBytes: number; acknowledgedBytes: number | null } {
    const sentWire = Math.max(this.handedMax, this.socket.destroyed ? 0 : this.handed());
    return {
      sentBytes: Math.min(this.wire.bodyAt(sentWire), size),
      acknowledgedBytes: this.ackedWire === null ? null : Math.min(this.wire.bodyAt(this.ackedWire), size),
    };
  }
}

type Failure = { code: string | null; message: string; syscall?: string };
type EndReason = 'timeout' | 'error' | 'unreachable' | 'closed' | 'kept-open';

/** What the server did, as the probe saw it. */
interface ServerSide {
  receivedBytes: number;
  fin: boolean;
  reset: boolean;
  closedAtMs: number | null;
  failure: Failure | null;
}

/** One probe: a connection, the upload, the reader, and the first way it ends. */
class ProbeRun {
  private readonly t0 = performance.now();
  private readonly http: boolean;
  private readonly socket: net.Socket;
  private readonly upload: Upload;
  private readonly reader: ResponseReader | null;
  private readonly server: ServerSide = { receivedBytes: 0, fin: false, reset: false, closedAtMs: null, failure: null };
  private readonly sampler: NodeJS.Timeout;
  private readonly deadline: NodeJS.Timeout;
  private connected = false;
  private lastWordSeen = false; // the server's FIN, a complete final response that ends the exchange, or an unreadable one
  private stopBody = false;
  private endedOurSide = false;
  private finSent = false;
  private finished = false;
  private drainWaiter: (() => void) | null = null;

  constructor(private readonly target: ParsedTarget, private readonly opts: Validated, private readonly resolve: (r: ProbeReport) => void) {
    this.http = target.kind === 'http';
    this.reader = this.http ? new ResponseReader(() => this.now(), opts.method.toUpperCase()) : null;
    const socket = net.connect({ host: target.host, port: target.port, allowHalfOpen: true });
    this.socket = socket;
    this.upload = new Upload(socket);
    socket.setNoDelay(true);
    this.sampler = setInterval(() => this.upload.sample(), 5);
    this.deadline = setTimeout(() => this.finish('timeout'), opts.timeout);
    socket.on('connect', () => {
      this.connected = true;
      void this.pump();
    });
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.onEnd());
    socket.on('drain', () => this.wake());
    socket.on('error', (err: NodeJS.ErrnoException) => this.onError(err));
    socket.on('close', () => this.finish('closed'));
  }

  private now(): number {
    return Math.round((performance.now() - this.t0) * 10) / 10;
  }

  private wake(): void {
    const w = this.drainWaiter;
    this.drainWaiter = null;
    w?.();
  }

  private drained(): Promise<void> {
    return new Promise<void>((r) => { this.drainWaiter = r; });
  }

  private onData(chunk: Buffer): void {
    this.server.receivedBytes += chunk.length;
    this.upload.sample();
    const reader = this.reader;
    if (!reader) return;
    reader.push(chunk);
    if (reader.error) {
      // Not an answer this probe can read: uploading more would only test something else.
      this.stopBody = true;
      this.wake();
      this.serverSaidLastWord();
    } else if (reader.complete) {
      // A final answer that ends the exchange (an error, or Connection: close).
      const r = reader.response!;
      if (r.status >= 300 || /\bclose\b/i.test(r.headers.connection ?? '')) this.serverSaidLastWord();
    }
    this.maybeDone();
  }

  private onEnd(): void {
    this.upload.sample();
    this.server.fin = true;
    this.server.closedAtMs ??= this.now();
    this.reader?.eof();
    this.serverSaidLastWord();
    if (!this.http && this.upload.bodyQueued >= this.opts.size) this.endOurSide();
    this.maybeDone();
  }

  private onError(err: NodeJS.ErrnoException): void {
    const code = normalizeErrorCode(err) ?? err.code ?? null;
    // EPIPE while our side is still open can only follow an RST (in CLOSE_WAIT Linux reports the RST as EPIPE).
    if (this.connected && (isConnectionReset(err) || (code === 'EPIPE' && !this.finSent))) {
      this.server.reset = true;
      this.server.closedAtMs ??= this.now();
    }
    this.server.failure ??= { code, message: err.message, ...(err.syscall ? { syscall: err.syscall } : {}) };
    this.finish(this.connected ? 'error' : 'unreachable');
  }

  private serverSaidLastWord(): void {
    if (this.lastWordSeen) return;
    this.lastWordSeen = true;
    if (this.opts.mode !== 'stop-early') return;
    // Keep sending what the upload still owes for `settle` ms: a lingering server reads it,
    // one that closed without reading answers it with an RST.
    setTimeout(() => {
      this.stopBody = true;
      this.wake();
      this.maybeDone();
    }, this.opts.settle).unref();
  }

  private async pump(): Promise<void> {
    const { opts, socket } = this;
    // 'together': the head goes out in front of the first body bytes, in one write.
    let head = this.http ? requestHead(this.target, opts) : null;
    if (head && (opts.order === 'head-first' || opts.size === 0)) {
      const ok = this.send(head, head.length, 0);
      head = null;
      if (!ok) await this.drained();
      if (opts.size > 0) await new Promise((r) => setTimeout(r, opts.headPause));
    }
    const block = Buffer.alloc(CHUNK, 0x61);
    while (!this.finished && !this.stopBody && this.upload.bodyQueued < opts.size) {
      // Read first: a write that fails would destroy the socket with the answer still unread.
      if (unreadBytes(socket) > 0) {
        await new Promise((r) => setImmediate(r));
        continue;
      }
      const n = Math.min(CHUNK, opts.size - this.upload.bodyQueued);
      const piece = n === CHUNK ? block : block.subarray(0, n);
      const framing = opts.chunked ? Buffer.from(`${n.toString(16)}\r\n`) : null;
      const prefix = head && framing ? Buffer.concat([head, framing]) : head ?? framing;
      head = null;
      const ok = prefix ? this.send(Buffer.concat([prefix, piece, ...(framing ? [CRLF] : [])]), prefix.length, n) : this.send(piece, 0, n);
      if (!ok && !this.finished) await this.drained();
    }
    if (this.finished) return;
    if (this.upload.bodyQueued >= opts.size && this.http && opts.chunked) this.send(Buffer.from('0\r\n\r\n'), 5, 0);
    if (!this.http) {
      this.endOurSide();
      return;
    }
    this.maybeDone();
  }

  private send(buffer: Buffer, prefix: number, body: number): boolean {
    if (this.socket.destroyed || this.endedOurSide) return false;
    return this.upload.write(buffer, prefix, body);
  }

  /** After the upload: our FIN once the answer is in (or unreadable), or the server closed. */
  private maybeDone(): void {
    if (this.finished) return;
    const uploadOver = this.upload.bodyQueued >= this.opts.size || this.stopBody;
    if (!uploadOver) return;
    const reader = this.reader;
    if (reader && !this.server.fin && !(reader.complete || reader.error)) return; // still waiting for the answer
    this.endOurSide();
  }

  private endOurSide(): void {
    const { socket } = this;
    if (this.endedOurSide || socket.destroyed) return;
    this.endedOurSide = true; // no more writes
    void (async () => {
      // Node closes the socket once our FIN is queued, acknowledged or not: first let what is
      // already queued reach the server (or stall for ACK_STALL_MS), so acknowledgedBytes counts it.
      let last = -1;
      let lastChange = performance.now();
      while (!this.finished && !socket.destroyed) {
        this.upload.sample();
        const unacked = unacknowledged(socket);
        if (unacked === null) break;
        const outstanding = unacked + (writeQueueSize(socket) ?? 0) + socket.writableLength;
        if (outstanding === 0) break;
        if (outstanding !== last) {
          last = outstanding;
          lastChange = performance.now();
        } else if (performance.now() - lastChange > ACK_STALL_MS) break;
        await new Promise((r) => setTimeout(r, 5));
      }
      if (this.finished || socket.destroyed) return;
      this.finSent = true;
      socket.end();
      // A server that keeps the connection open after our FIN (keep-alive) has said all it will.
      setTimeout(() => this.finish('kept-open'), Math.min(KEPT_OPEN_WAIT, this.opts.timeout)).unref();
    })();
  }

  /** Every way the probe can end comes here; the first call decides and reports. */
  private finish(why: EndReason): void {
    if (this.finished) return;
    this.finished = true;
    clearInterval(this.sampler);
    clearTimeout(this.deadline);
    this.wake();
    const { sentBytes, acknowledgedBytes } = this.upload.totals(this.opts.size);
    if (!this.socket.destroyed) this.socket.destroy();
    const reader = this.reader;
    const response = reader?.response ?? null;
    const complete = reader ? reader.complete : true;
    const facts: Facts = {
      why, http: this.http, server: this.server, finSent: this.finSent, complete,
      responseError: reader?.error ?? null, response, size: this.opts.size, acknowledgedBytes, sentBytes,
      timeout: this.opts.timeout, elapsedMs: this.now(), target: this.target,
    };
    const { verdict, summary, advice } = judge(facts);
    const { target, server } = this;
    this.resolve({
      target: { kind: target.kind, host: target.host, port: target.port, ...(target.url ? { url: target.url } : {}) },
      mode: this.opts.mode,
      order: this.http ? this.opts.order : null,
      size: this.opts.size,
      sentBytes,
      acknowledgedBytes,
      uploadComplete: sentBytes >= this.opts.size,
      receivedBytes: server.receivedBytes,
      response: response ? { ...response, complete } : null,
      responseError: facts.responseError,
      serverClose: server.reset ? 'reset' : server.fin ? 'fin' : 'none',
      closedAtMs: server.closedAtMs,
      error: server.failure,
      elapsedMs: facts.elapsedMs,
      verdict,
      summary,
      advice,
    });
  }
}

/** What the verdict is judged from. */
interface Facts {
  why: EndReason;
  http: boolean;
  server: ServerSide;
  finSent: boolean;
  complete: boolean;
  responseError: string | null;
  response: ProbeResponse | null;
  size: number;
  acknowledgedBytes: number | null;
  sentBytes: number;
  timeout: number;
  elapsedMs: number;
  target: ParsedTarget;
}

const amount = formatSize;

/** The verdict, one sentence on what happened, and what to change. */
function judge(f: Facts): { verdict: ProbeVerdict; summary: string; advice: string | null } {
  const { server } = f;
  let verdict: ProbeVerdict;
  if (f.why === 'unreachable') verdict = 'unreachable';
  else if (f.responseError) verdict = 'bad-response';
  else if (server.reset) verdict = 'reset';
  else if (f.http && !f.complete) verdict = f.why === 'timeout' && !server.fin ? 'timeout' : 'cut-off';
  else if (f.why === 'timeout' && !f.finSent) verdict = 'timeout';
  else if (f.why === 'error') verdict = 'cut-off';
  else verdict = 'clean';
  const accepted = f.acknowledgedBytes === null ? `${amount(f.sentBytes)} sent` : `${amount(f.acknowledgedBytes)} of ${amount(f.size)} acknowledged`;
  const answer = f.response ? `${f.response.status}${f.complete ? ' read whole' : ' cut short'}` : 'no response';
  // How the connection ended, in the words serverClose and error use.
  const ending = server.reset ? `it reset the connection (${server.failure?.code ?? 'RST'})`
    : server.fin ? 'it closed (FIN)'
      : server.failure ? `the connection failed (${server.failure.code ?? server.failure.message})`
        : 'it did not close';
  const at = server.closedAtMs ?? f.elapsedMs;
  let summary: string;
  switch (verdict) {
    case 'unreachable':
      summary = `could not connect to ${f.target.host}:${f.target.port}: ${server.failure?.code ?? server.failure?.message}`;
      break;
    case 'bad-response':
      summary = `the server's answer is not a readable HTTP response (${f.responseError}); then ${ending}; ${accepted}`;
      break;
    case 'reset':
      summary = f.http
        ? `the server reset the connection (${server.failure?.code ?? 'RST'}) ${at} ms in, after ${accepted}; ${answer}${f.response && f.complete ? ' (only because this probe reads while it sends)' : ''}`
        : `the server reset the connection (${server.failure?.code ?? 'RST'}) ${at} ms in, after ${accepted}`;
      break;
    case 'cut-off':
      summary = `the response could not be read whole: ${answer}; ${ending}, after ${accepted}`;
      break;
    case 'timeout':
      summary = f.http && f.response && f.complete
        ? `${answer}, then the upload stalled: the server neither took the rest nor closed within ${f.timeout} ms (${accepted})`
        : `no ${f.http ? 'complete response' : 'close'} within ${f.timeout} ms (${answer}, after ${accepted})`;
      break;
    default:
      summary = f.http
        ? `${answer}, then ${server.fin ? 'a FIN' : 'the connection left open for reuse'}, no reset; ${accepted}`
        : `${server.fin ? 'the server closed with a FIN' : 'the server kept the connection open after our FIN'}, no reset; ${accepted}`;
  }
  const advice = verdict === 'reset' ? ADVICE_RESET
    : verdict === 'cut-off' ? ADVICE_CUT_OFF
      : verdict === 'bad-response' ? ADVICE_BAD_RESPONSE
        : verdict === 'timeout' ? (f.http && f.response && f.complete ? ADVICE_STALLED : ADVICE_TIMEOUT) : null;
  return { verdict, summary, advice };
}

/** 0 when the server closed cleanly, 1 when it reset, cut the client off, timed out or could not be reached. */
export function probeExitCode(report: ProbeReport): 0 | 1 {
  return report.verdict === 'clean' ? 0 : 1;
}

export const PROBE_DEFAULTS = {
  size: DEFAULT_SIZE, timeout: DEFAULT_TIMEOUT, settle: DEFAULT_SETTLE, headPause: DEFAULT_HEAD_PAUSE, mode: 'send-all', order: 'together',
} as const;
