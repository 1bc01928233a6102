import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { abortError, isConnectionReset, normalizeErrorCode } from '../core/errors.js';
import { writeQueueSize } from '../core/node-internals.js';
import { type EndReason, type Facts, type ServerSide, judge } from './judge.js';
import {
  DEFAULT_HEAD_PAUSE, DEFAULT_SETTLE, DEFAULT_SIZE, DEFAULT_TIMEOUT, type ParsedTarget, type Validated, parseTarget,
  requestHead, validateOptions,
} from './options.js';
import { ResponseReader } from './response.js';
import type { ProbeOptions, ProbeProgress, ProbeReport } from './types.js';
import { Upload, unacknowledged, unreadBytes } from './upload.js';

export type {
  ProbeMode, ProbeOptions, ProbeOrder, ProbeProgress, ProbeReport, ProbeResponse, ProbeServerClose, ProbeVerdict,
} from './types.js';

// probeServer: upload a body to a server (HTTP, or raw bytes to a TCP port) and report how the
// server ended the connection: a response read whole or not, a FIN or an RST, how many bytes the
// server's TCP acknowledged before it closed.
//
// Sending. By default the probe uploads as Python's http.client, requests and many SDKs do: the
// whole body whatever the server answers meanwhile (mode 'send-all'), the request head arriving
// with the first body bytes (order 'together': what a server meets from a client that writes head
// and body back to back before the server's first read); a server that stops reading without
// closing then stalls the upload until it resets it, as those clients meet it. Order
// 'head-first' sends the head alone and waits `headPause` ms before the body. Mode 'stop-early' is
// curl's way: stop sending `settle` ms after the server's last word. Either way the probe reads
// what the server sends while it sends, so the report can show the answer a client that reads
// only afterwards may never get.
//
// Reset detection. Node reports an RST as ECONNRESET on a read or a write. On Linux an RST that
// arrives after the server's FIN (our socket in CLOSE_WAIT) is reported as EPIPE on the next
// write (tcp_reset sets EPIPE in that state), and Node stops reading at EOF, so after a FIN the
// only way to see an RST is to keep sending: the probe keeps sending the body it still owes (all
// of it, or for `settle` ms after the server's last word when stopping early). A server that
// lingers (nginx's lingering close, enableLingeringClose) reads and discards those bytes; one
// that closed with unread data answers them with an RST. EPIPE while we have not shut our own
// side down can only mean the connection was reset, and is reported as a reset.
//
// Reading first. A write that fails destroys a Node socket, and with it whatever the kernel still
// holds for reading (the server's answer). Before every write the probe asks the kernel whether
// unread bytes are waiting (pendingBytes: FIONREAD) and, if so, lets the event loop read them first.
//
// Stopping. `signal` aborts a probe at any point and `onProgress` may throw: either way every timer
// is cleared, the socket destroyed, and the promise rejects (the one way it does: a caller's
// decision, never the server's behaviour, which is always a report).
//
// The files: types.ts (the public shapes), options.ts (target and options, the request head),
// upload.ts (what was sent and acknowledged), response.ts (the response reader), judge.ts (the
// verdict and its words), and here the run itself.

// How long to wait for the server's FIN after ours before calling the connection kept open.
const KEPT_OPEN_WAIT = 2000;
// Before our FIN: how long the send queue may stand still before the probe stops waiting for it to drain.
const ACK_STALL_MS = 200;
const CHUNK = 64 * 1024;
// How often onProgress hears within one step (a terminal line needs no more).
const PROGRESS_EVERY_MS = 100;
const CRLF = Buffer.from('\r\n');

/**
 * Uploads `size` bytes to a server and reports how it ended the connection. `target` is an
 * http:// URL (the body goes in a request, Content-Length or chunked), or `host:port` /
 * `tcp://host:port` / `{ host, port }` (raw bytes, then a half-close). Throws for bad arguments
 * before connecting. Whatever the server does (unreachable, a reset, a timeout) is the report's
 * verdict; the promise rejects only when the caller stops it: with an AbortError when
 * `options.signal` aborts (at once, connecting nowhere, if it already has), or with what
 * `options.onProgress` threw.
 */
export function probeServer(target: string | URL | { host: string; port: number }, options?: ProbeOptions): Promise<ProbeReport> {
  const parsed = parseTarget(target);
  const opts = validateOptions(options, parsed.kind);
  if (opts.signal?.aborted) return Promise.reject(abortError(opts.signal));
  return new Promise((resolve, reject) => new ProbeRun(parsed, opts, resolve, reject));
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
  private readonly timers = new Set<NodeJS.Timeout>();
  private step: ProbeProgress['step'] = 'connect';
  private progressStep: ProbeProgress['step'] | null = null; // the step onProgress last heard
  private progressAt = 0;
  private readonly onAbort = () => this.stop(abortError(this.opts.signal!));

  constructor(
    private readonly target: ParsedTarget,
    private readonly opts: Validated,
    private readonly resolve: (r: ProbeReport) => void,
    private readonly reject: (err: unknown) => void,
  ) {
    this.http = target.kind === 'http';
    this.reader = this.http ? new ResponseReader(() => this.now(), opts.method.toUpperCase()) : null;
    const socket = net.connect({ host: target.host, port: target.port, allowHalfOpen: true });
    this.socket = socket;
    this.upload = new Upload(socket);
    socket.setNoDelay(true);
    this.sampler = setInterval(() => {
      this.upload.sample();
      this.progress();
    }, 5);
    this.deadline = setTimeout(() => this.finish('timeout'), opts.timeout);
    opts.signal?.addEventListener('abort', this.onAbort, { once: true });
    // The first step is told before any I/O can move the probe on, and never from inside probeServer().
    process.nextTick(() => this.progress());
    socket.on('connect', () => {
      this.connected = true;
      this.enter('upload');
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

  /** A timer the probe owns: cleared when it ends, however it ends. */
  private later(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((r) => this.later(ms, r));
  }

  private enter(step: ProbeProgress['step']): void {
    if (this.step === step) return;
    this.step = step;
    this.progress();
  }

  /** Tells onProgress where the probe stands: on a new step, else every PROGRESS_EVERY_MS. */
  private progress(): void {
    const { onProgress } = this.opts;
    if (!onProgress || this.finished) return;
    const elapsedMs = this.now();
    if (this.step === this.progressStep && elapsedMs - this.progressAt < PROGRESS_EVERY_MS) return;
    this.progressStep = this.step;
    this.progressAt = elapsedMs;
    const { sentBytes, acknowledgedBytes } = this.upload.totals(this.opts.size);
    try {
      onProgress({ step: this.step, sentBytes, acknowledgedBytes, size: this.opts.size, elapsedMs, timeout: this.opts.timeout });
    } catch (err) {
      this.stop(err);
    }
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
    this.later(this.opts.settle, () => {
      this.stopBody = true;
      this.wake();
      this.maybeDone();
    });
  }

  private async pump(): Promise<void> {
    const { opts, socket } = this;
    // 'together': the head goes out in front of the first body bytes, in one write.
    let head = this.http ? requestHead(this.target, opts) : null;
    if (head && (opts.order === 'head-first' || opts.size === 0)) {
      const ok = this.send(head, head.length, 0);
      head = null;
      if (!ok) await this.drained();
      if (opts.size > 0 && !this.finished) await this.sleep(opts.headPause);
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
    this.enter('wait');
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
    this.enter('wait');
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
        await this.sleep(5);
      }
      if (this.finished || socket.destroyed) return;
      this.finSent = true;
      socket.end();
      // A server that keeps the connection open after our FIN (keep-alive) has said all it will.
      this.later(Math.min(KEPT_OPEN_WAIT, this.opts.timeout), () => this.finish('kept-open'));
    })();
  }

  /** Ends the run: no timer left, no listener on the signal, the socket destroyed. */
  private teardown(): void {
    this.finished = true;
    clearInterval(this.sampler);
    clearTimeout(this.deadline);
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.opts.signal?.removeEventListener('abort', this.onAbort);
    this.wake();
    if (!this.socket.destroyed) this.socket.destroy();
  }

  /** The caller stopped the probe (its signal, or its onProgress threw): no report, a rejection. */
  private stop(err: unknown): void {
    if (this.finished) return;
    this.teardown();
    this.reject(err);
  }

  /** Every way the server can end the probe comes here; the first call decides and reports. */
  private finish(why: EndReason): void {
    if (this.finished) return;
    const { sentBytes, acknowledgedBytes } = this.upload.totals(this.opts.size);
    this.teardown();
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

/** 0 when the server closed cleanly, 1 when it reset, cut the client off, timed out or could not be reached. */
export function probeExitCode(report: ProbeReport): 0 | 1 {
  return report.verdict === 'clean' ? 0 : 1;
}

export const PROBE_DEFAULTS = {
  size: DEFAULT_SIZE, timeout: DEFAULT_TIMEOUT, settle: DEFAULT_SETTLE, headPause: DEFAULT_HEAD_PAUSE, mode: 'send-all', order: 'together',
} as const;
