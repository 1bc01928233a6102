import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { isConnectionReset, normalizeErrorCode } from '../core/errors.js';
import { writeQueueSize } from '../core/node-internals.js';
import { pendingBytes } from '../core/socket-ops.js';
import { invalidArgType, invalidArgValue, validateInteger } from '../core/validate.js';

// probeServer: upload a body to a server (HTTP, or raw bytes to a TCP port) the way a careful
// client does — reading everything the server sends while still sending — and report how the
// server ended the connection: a response read whole or not, a FIN or an RST, how many bytes the
// server's TCP acknowledged before it closed.
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

export type ProbeVerdict = 'clean' | 'reset' | 'cut-off' | 'timeout' | 'unreachable';
/** How the server ended the connection: FIN, RST, or not at all within the time allowed. */
export type ProbeServerClose = 'fin' | 'reset' | 'none';

export interface ProbeOptions {
  /** Body bytes to send. Default 20 MiB. */
  size?: number;
  /** HTTP only: send the body with Transfer-Encoding: chunked instead of Content-Length. */
  chunked?: boolean;
  /** HTTP only: the request method. Default 'POST'. */
  method?: string;
  /** HTTP only: extra request headers. */
  headers?: Record<string, string>;
  /** Upper bound for the whole probe, in ms. Default 30000. */
  timeout?: number;
  /** How long to keep sending the body still owed after the server's last word, in ms. Default 500. */
  settle?: number;
}

export interface ProbeResponse {
  status: number;
  statusText: string;
  headers: Record<string, string>;
  /** Body bytes read (after chunked decoding). */
  bodyBytes: number;
  /** The whole response was read: Content-Length reached, the last chunk seen, or EOF for a close-delimited body. */
  complete: boolean;
  /** ms from the start to the first byte of the response head. */
  atMs: number;
}

export interface ProbeReport {
  target: { kind: 'http' | 'tcp'; host: string; port: number; url?: string };
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
// How long to wait for the server's FIN after ours before calling the connection kept open.
const KEPT_OPEN_WAIT = 2000;
// Before our FIN: how long the send queue may stand still before the probe stops waiting for it to drain.
const ACK_STALL_MS = 200;
const CHUNK = 64 * 1024;
const CRLF = Buffer.from('\r\n');
const MAX_HEAD = 64 * 1024;
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
const ADVICE_TIMEOUT = 'The server neither answered in full nor closed within the time allowed; raise --timeout if it is just slow.';

function parsePort(text: string, value: unknown): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) < 1 || Number(text) > 65535) {
    throw invalidArgValue('target', value, `has an invalid port "${text}" (expected 1-65535)`);
  }
  return Number(text);
}

function parseTarget(target: unknown): ParsedTarget {
  if (target instanceof URL) target = target.href;
  if (typeof target === 'object' && target !== null && !Array.isArray(target)) {
    const { host, port } = target as { host?: unknown; port?: unknown };
    if (typeof host !== 'string' || host === '') throw invalidArgType('target.host', 'a non-empty string', host);
    return { kind: 'tcp', host, port: validateInteger(port, 'target.port', 1, 65535) };
  }
  if (typeof target !== 'string') throw invalidArgType('target', 'a URL string, a URL, "host:port" or { host, port }', target);
  const text = target.trim();
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw invalidArgValue('target', target, 'is not a valid URL');
    }
    if (url.protocol === 'tcp:') {
      const host = url.hostname.replace(/^\[|\]$/g, '');
      if (!host || !url.port) throw invalidArgValue('target', target, 'needs a host and a port (tcp://host:port)');
      return { kind: 'tcp', host, port: parsePort(url.port, target) };
    }
    if (url.protocol !== 'http:') {
      throw invalidArgValue('target', target, `has an unsupported scheme "${url.protocol}" (http://... or host:port; https is not supported)`);
    }
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (!host) throw invalidArgValue('target', target, 'has no host');
    return {
      kind: 'http', host, port: url.port ? Number(url.port) : 80, url: url.href,
      path: `${url.pathname || '/'}${url.search}`, hostHeader: url.host,
    };
  }
  const match = /^\[([^\]]+)\]:(\S+)$/.exec(text) ?? /^([^:\s[\]]+):(\S+)$/.exec(text);
  if (!match) throw invalidArgValue('target', target, 'must be an http:// URL or host:port ([v6-address]:port for IPv6)');
  return { kind: 'tcp', host: match[1], port: parsePort(match[2], target) };
}

interface Validated {
  size: number;
  chunked: boolean;
  method: string;
  headers: [string, string][];
  timeout: number;
  settle: number;
}

function validateOptions(options: unknown, kind: 'http' | 'tcp'): Validated {
  if (options === undefined) options = {};
  if (typeof options !== 'object' || options === null) throw invalidArgType('options', 'of type object', options);
  const o = options as ProbeOptions;
  const size = o.size === undefined ? DEFAULT_SIZE : validateInteger(o.size, 'options.size', 0, Number.MAX_SAFE_INTEGER);
  const timeout = o.timeout === undefined ? DEFAULT_TIMEOUT : validateInteger(o.timeout, 'options.timeout', 1, MAX_TIMER_MS);
  const settle = o.settle === undefined ? DEFAULT_SETTLE : validateInteger(o.settle, 'options.settle', 0, MAX_TIMER_MS);
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
      headers.push([name, value]);
    }
  }
  if (kind === 'tcp' && (o.chunked || o.method !== undefined || o.headers !== undefined)) {
    throw invalidArgValue('options', options, 'has HTTP options (chunked, method, headers) for a raw TCP target');
  }
  return { size, chunked: o.chunked ?? false, method, headers, timeout, settle };
}

/** An incremental HTTP/1.x response reader: skips 1xx answers, follows Content-Length, chunked and close-delimited bodies. */
class ResponseReader {
  response: ProbeResponse | null = null;
  error: string | null = null;
  private buffer: Buffer = Buffer.alloc(0);
  private state: 'head' | 'length' | 'chunk-size' | 'chunk-data' | 'chunk-crlf' | 'trailers' | 'close' | 'done' = 'head';
  private remaining = 0;

  constructor(private readonly now: () => number, private readonly method: string) {}

  get complete(): boolean {
    return this.state === 'done';
  }

  push(chunk: Buffer): void {
    if (this.state === 'done' || this.error) return;
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    for (;;) {
      if (this.state === 'head') {
        const end = this.buffer.indexOf('\r\n\r\n');
        if (end < 0) {
          if (this.buffer.length > MAX_HEAD) this.error = 'response head longer than 64 KiB';
          return;
        }
        const lines = this.buffer.subarray(0, end).toString('latin1').split('\r\n');
        this.buffer = this.buffer.subarray(end + 4);
        const status = /^HTTP\/\d(?:\.\d)? (\d{3})(?: (.*))?$/.exec(lines[0]);
        if (!status) {
          this.error = `not an HTTP response: ${JSON.stringify(lines[0].slice(0, 80))}`;
          return;
        }
        const headers: Record<string, string> = {};
        for (const line of lines.slice(1)) {
          const colon = line.indexOf(':');
          if (colon <= 0) continue;
          const name = line.slice(0, colon).trim().toLowerCase();
          const value = line.slice(colon + 1).trim();
          headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
        }
        const code = Number(status[1]);
        if (code >= 100 && code < 200 && code !== 101) continue; // an interim answer: the final one follows
        this.response = { status: code, statusText: status[2] ?? '', headers, bodyBytes: 0, complete: false, atMs: this.now() };
        if (this.method === 'HEAD' || code === 204 || code === 304) {
          this.finish();
        } else if (/\bchunked\b/i.test(headers['transfer-encoding'] ?? '')) {
          this.state = 'chunk-size';
        } else if (headers['content-length'] !== undefined && /^\d+$/.test(headers['content-length'])) {
          this.remaining = Number(headers['content-length']);
          this.state = 'length';
          if (this.remaining === 0) this.finish();
        } else {
          this.state = 'close';
        }
        continue;
      }
      if (this.state === 'length' || this.state === 'chunk-data') {
        const take = Math.min(this.remaining, this.buffer.length);
        this.response!.bodyBytes += take;
        this.remaining -= take;
        this.buffer = this.buffer.subarray(take);
        if (this.remaining > 0) return;
        if (this.state === 'length') return this.finish();
        this.state = 'chunk-crlf';
        continue;
      }
      if (this.state === 'close') {
        this.response!.bodyBytes += this.buffer.length;
        this.buffer = Buffer.alloc(0);
        return;
      }
      // Line-based states.
      const eol = this.buffer.indexOf('\r\n');
      if (eol < 0) {
        if (this.buffer.length > MAX_HEAD) this.error = 'chunked framing line longer than 64 KiB';
        return;
      }
      const line = this.buffer.subarray(0, eol).toString('latin1');
      this.buffer = this.buffer.subarray(eol + 2);
      if (this.state === 'chunk-crlf') {
        if (line !== '') { this.error = 'chunk not followed by CRLF'; return; }
        this.state = 'chunk-size';
      } else if (this.state === 'chunk-size') {
        const size = /^([0-9a-fA-F]+)/.exec(line);
        if (!size) { this.error = `bad chunk size line ${JSON.stringify(line.slice(0, 40))}`; return; }
        this.remaining = parseInt(size[1], 16);
        this.state = this.remaining === 0 ? 'trailers' : 'chunk-data';
      } else if (this.state === 'trailers') {
        if (line === '') return this.finish();
      }
    }
  }

  /** The server's FIN: a close-delimited body is now complete. */
  eof(): void {
    if (this.state === 'close') this.finish();
  }

  private finish(): void {
    this.state = 'done';
    if (this.response) this.response.complete = true;
  }
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
  return run(parsed, opts);
}

function run(target: ParsedTarget, opts: Validated): Promise<ProbeReport> {
  return new Promise<ProbeReport>((resolve) => {
    const t0 = performance.now();
    const now = () => Math.round((performance.now() - t0) * 10) / 10;
    const http = target.kind === 'http';
    const reader = http ? new ResponseReader(now, opts.method.toUpperCase()) : null;
    const wire = new WireMap();
    let connected = false;
    let bodyQueued = 0;
    let wireDone = 0; // request bytes of writes whose callbacks have run
    let wireInFlight = 0; // request bytes of writes still in flight (Node queues at most one here: the pump waits for 'drain')
    let ackedWire: number | null = null;
    let receivedBytes = 0;
    let serverFin = false;
    let closedAtMs: number | null = null;
    let lastWordAt: number | null = null; // when the server's FIN or complete final response was seen
    let reset = false;
    let failure: { code: string | null; message: string; syscall?: string } | null = null;
    let stopBody = false;
    let endedOurSide = false;
    let finSent = false;
    let finished = false;
    let drainWaiter: (() => void) | null = null;

    const socket = net.connect({ host: target.host, port: target.port, allowHalfOpen: true });
    socket.setNoDelay(true);

    // Request bytes in the kernel's hands: the finished writes, and of the one in flight what libuv no longer holds.
    const wireSent = () => wireDone + Math.max(0, wireInFlight - (socket.destroyed ? wireInFlight : writeQueueSize(socket) ?? wireInFlight));
    let handedMax = 0;
    const sample = () => {
      if (!connected || reset || socket.destroyed) return;
      const handed = wireSent();
      if (handed > handedMax) handedMax = handed;
      const unacked = unacknowledged(socket);
      if (unacked === null) return;
      const acked = Math.max(0, handed - unacked);
      if (ackedWire === null || acked > ackedWire) ackedWire = acked;
    };
    const sampler = setInterval(sample, 5);
    const wake = () => {
      const w = drainWaiter;
      drainWaiter = null;
      w?.();
    };

    const deadline = setTimeout(() => finish('timeout'), opts.timeout);

    const serverSaidLastWord = () => {
      if (lastWordAt !== null) return;
      lastWordAt = performance.now();
      // Keep sending what the upload still owes for `settle` ms: a lingering server reads it,
      // one that closed without reading answers it with an RST.
      setTimeout(() => { stopBody = true; wake(); }, opts.settle).unref();
    };

    socket.on('connect', () => {
      connected = true;
      void pump();
    });
    socket.on('data', (chunk: Buffer) => {
      receivedBytes += chunk.length;
      sample();
      if (reader) {
        reader.push(chunk);
        if (reader.error) serverSaidLastWord();
        else if (reader.complete) {
          // A final answer that ends the exchange (an error, or Connection: close): stop uploading soon, as curl does.
          const r = reader.response!;
          if (r.status >= 300 || /\bclose\b/i.test(r.headers.connection ?? '')) serverSaidLastWord();
          maybeDone();
        }
      }
    });
    socket.on('end', () => {
      sample();
      serverFin = true;
      closedAtMs ??= now();
      reader?.eof();
      serverSaidLastWord();
      if (!http && bodyQueued >= opts.size) endOurSide();
      maybeDone();
    });
    socket.on('drain', wake);
    socket.on('error', (err: NodeJS.ErrnoException) => {
      const code = normalizeErrorCode(err) ?? err.code ?? null;
      // EPIPE while our side is still open can only follow an RST (in CLOSE_WAIT Linux reports the RST as EPIPE).
      if (connected && (isConnectionReset(err) || (code === 'EPIPE' && !finSent))) {
        reset = true;
        closedAtMs ??= now();
      }
      failure ??= { code, message: err.message, ...(err.syscall ? { syscall: err.syscall } : {}) };
      finish(connected ? 'error' : 'unreachable');
    });
    socket.on('close', () => finish('closed'));

    function endOurSide(): void {
      if (endedOurSide || socket.destroyed) return;
      endedOurSide = true; // no more writes
      void (async () => {
        // Node closes the socket once our FIN is queued, acknowledged or not: first let what is
        // already queued reach the server (or stall for ACK_STALL_MS), so acknowledgedBytes counts it.
        let last = -1;
        let lastChange = performance.now();
        while (!finished && !socket.destroyed) {
          sample();
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
        if (finished || socket.destroyed) return;
        finSent = true;
        socket.end();
        // A server that keeps the connection open after our FIN (keep-alive) has said all it will.
        setTimeout(() => finish('kept-open'), Math.min(KEPT_OPEN_WAIT, opts.timeout)).unref();
      })();
    }

    function maybeDone(): void {
      if (finished) return;
      const uploadOver = bodyQueued >= opts.size || stopBody;
      if (!uploadOver) return;
      if (http && !serverFin && !(reader!.complete || reader!.error)) return; // still waiting for the answer
      endOurSide();
    }

    async function pump(): Promise<void> {
      const headLines = http
        ? [
          `${opts.method} ${target.path} HTTP/1.1`,
          `Host: ${target.hostHeader}`,
          'User-Agent: net-linger-probe',
          'Accept: */*',
          ...opts.headers.map(([n, v]) => `${n}: ${v}`),
          opts.chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${opts.size}`,
          '', '',
        ].join('\r\n')
        : '';
      if (headLines && !send(Buffer.from(headLines, 'latin1'), 0, 0)) await new Promise<void>((r) => { drainWaiter = r; });
      const block = Buffer.alloc(CHUNK, 0x61);
      while (!finished && !stopBody && bodyQueued < opts.size) {
        // Read first: a write that fails would destroy the socket with the answer still unread.
        if (unreadBytes(socket) > 0) {
          await new Promise((r) => setImmediate(r));
          continue;
        }
        const n = Math.min(CHUNK, opts.size - bodyQueued);
        const piece = n === CHUNK ? block : block.subarray(0, n);
        const prefix = opts.chunked ? Buffer.from(`${n.toString(16)}\r\n`) : null;
        const ok = prefix ? send(Buffer.concat([prefix, piece, CRLF]), prefix.length, n) : send(piece, 0, n);
        if (!ok && !finished) await new Promise<void>((r) => { drainWaiter = r; });
      }
      if (finished) return;
      if (bodyQueued >= opts.size && http && opts.chunked) send(Buffer.from('0\r\n\r\n'), 5, 0);
      if (!http) {
        endOurSide();
        return;
      }
      maybeDone();
    }

    function send(buffer: Buffer, prefix: number, body: number): boolean {
      if (socket.destroyed || endedOurSide) return false;
      bodyQueued += body;
      wire.add(prefix, body, buffer.length - prefix - body);
      const size = buffer.length;
      wireInFlight += size;
      return socket.write(buffer, (err) => {
        if (err) return;
        wireInFlight -= size;
        wireDone += size;
        sample();
      });
    }

    // Called for every way the probe can end; the first call decides and reports.
    function finish(why: 'timeout' | 'error' | 'unreachable' | 'closed' | 'kept-open'): void {
      if (finished) return;
      finished = true;
      clearInterval(sampler);
      clearTimeout(deadline);
      wake();
      const sentWire = Math.max(handedMax, socket.destroyed ? 0 : wireSent());
      if (!socket.destroyed) socket.destroy();
      const elapsedMs = now();
      const response = reader?.response ?? null;
      const complete = reader ? reader.complete : true;
      const serverClose: ProbeServerClose = reset ? 'reset' : serverFin ? 'fin' : 'none';
      const acknowledgedBytes = ackedWire === null ? null : Math.min(wire.bodyAt(ackedWire), opts.size);
      const sentBytes = Math.min(wire.bodyAt(sentWire), opts.size);
      const uploadComplete = sentBytes >= opts.size;
      let verdict: ProbeVerdict;
      if (why === 'unreachable') verdict = 'unreachable';
      else if (reset) verdict = 'reset';
      else if (http && !complete) verdict = why === 'timeout' && !serverFin ? 'timeout' : 'cut-off';
      else if (why === 'timeout' && !finSent) verdict = 'timeout';
      else if (why === 'error') verdict = 'cut-off';
      else verdict = 'clean';
      const mib = (n: number) => (n >= 2 ** 20 ? `${(n / 2 ** 20).toFixed(2)} MiB` : `${n.toLocaleString('en-US')} bytes`);
      const acceptedText = acknowledgedBytes === null ? `${mib(sentBytes)} sent` : `${mib(acknowledgedBytes)} of ${mib(opts.size)} acknowledged`;
      const answer = response ? `${response.status}${complete ? ' read whole' : ' cut short'}` : 'no response';
      let summary: string;
      switch (verdict) {
        case 'unreachable':
          summary = `could not connect to ${target.host}:${target.port}: ${failure?.code ?? failure?.message}`;
          break;
        case 'reset':
          summary = http
            ? `the server reset the connection (${failure?.code ?? 'RST'}) ${closedAtMs ?? elapsedMs} ms in, after ${acceptedText}; ${answer}${response && complete ? ' (only because this probe reads while it sends)' : ''}`
            : `the server reset the connection (${failure?.code ?? 'RST'}) ${closedAtMs ?? elapsedMs} ms in, after ${acceptedText}`;
          break;
        case 'cut-off':
          summary = `the server closed (${serverFin ? 'FIN' : failure?.code ?? 'error'}) before its response could be read whole: ${answer}, after ${acceptedText}`;
          break;
        case 'timeout':
          summary = `no ${http ? 'complete response' : 'close'} within ${opts.timeout} ms (${answer}, after ${acceptedText})`;
          break;
        default:
          summary = http
            ? `${answer}, then ${serverFin ? 'a FIN' : 'the connection left open for reuse'}, no reset; ${acceptedText}`
            : `${serverFin ? 'the server closed with a FIN' : 'the server kept the connection open after our FIN'}, no reset; ${acceptedText}`;
      }
      const advice = verdict === 'reset' ? ADVICE_RESET : verdict === 'cut-off' ? ADVICE_CUT_OFF : verdict === 'timeout' ? ADVICE_TIMEOUT : null;
      resolve({
        target: { kind: target.kind, host: target.host, port: target.port, ...(target.url ? { url: target.url } : {}) },
        size: opts.size,
        sentBytes,
        acknowledgedBytes,
        uploadComplete,
        receivedBytes,
        response: response ? { ...response, complete } : null,
        serverClose,
        closedAtMs,
        error: failure,
        elapsedMs,
        verdict,
        summary,
        advice,
      });
    }
  });
}

/** 0 when the server closed cleanly, 1 when it reset, cut the client off, timed out or could not be reached. */
export function probeExitCode(report: ProbeReport): 0 | 1 {
  return report.verdict === 'clean' ? 0 : 1;
}

export const PROBE_DEFAULTS = { size: DEFAULT_SIZE, timeout: DEFAULT_TIMEOUT, settle: DEFAULT_SETTLE } as const;
