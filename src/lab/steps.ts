// Playing a row's steps on one side of a real connection: the Side recorder, each step of the
// scenario table as socket calls, and the waits between them.
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { gracefulClose, lingerClose } from '../close/close.js';
import { resetClose } from '../close/reset-close.js';
import { enableLingeringClose } from '../http/lingering-close.js';
import { NetLingerError, normalizeErrorCode } from '../core/errors.js';
import { pendingBytes, setLinger, shutdown } from '../core/socket-ops.js';
import { describeStep } from './describe.js';
import { tcpState } from './tcp-state.js';
import { foreignHttpRuntime } from '../core/node-internals-http.js';
import { writeQueueSize } from '../core/node-internals.js';
import { HTTP2_REQUEST_WAIT_MS, HTTP_GET_HEAD, type Outcome, type Step } from './scenarios.js';
import type { SideObservation, CloseReport } from './observation.js';

export const HTTP_413_BODY = 'request body too large';

/** The body of the keep-alive server's 200 (step 'http-keep-alive'). */
export const HTTP_OK_BODY = 'ok\n';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(2);
  }
}

/** Records what one Node socket observes, without ever letting an error go unhandled. */
export class Side {
  received = 0;
  sent = 0;
  eof = false;
  error: NodeJS.ErrnoException | undefined;
  closed = false;
  /**
   * Set by a step whose client speaks a protocol over this socket and reads it itself (HTTP/2):
   * what that client observed, which then replaces the socket's own bytes and outcome.
   */
  application: { received: number; outcome: Outcome } | undefined;

  constructor(readonly socket: net.Socket) {
    // With an `onread` buffer Node counts through its callback and emits no 'data'; a runtime
    // that ignores `onread` emits 'data' instead. Counting both never counts twice.
    socket.on('data', (chunk: Buffer) => { this.received += chunk.length; });
    socket.on('end', () => { this.eof = true; });
    socket.on('error', (err: NodeJS.ErrnoException) => { this.error ??= err; });
    socket.on('close', () => { this.closed = true; });
  }

  get settled(): boolean {
    return this.eof || this.error !== undefined || this.closed;
  }

  write(bytes: number): Promise<void> {
    if (this.socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.write(Buffer.alloc(bytes, 0x61), (err) => {
        if (!err) this.sent += bytes;
        resolve();
      });
    });
  }

  observe(): SideObservation {
    if (this.application) return { received: this.application.received, sent: this.sent, outcome: this.application.outcome };
    const obs: SideObservation = { received: this.received, sent: this.sent, outcome: this.eof ? 'eof' : 'open' };
    if (this.error) {
      obs.outcome = normalizeErrorCode(this.error) ?? this.error.code ?? 'UNKNOWN';
      if (typeof this.error.errno === 'number') obs.errno = this.error.errno;
      if (this.error.syscall) obs.syscall = this.error.syscall;
    }
    return obs;
  }
}

// States that last only until an ACK arrives (immediate on loopback). FIN_WAIT2 is not one of
// them: it waits for the peer's FIN, which may never come.
export const AWAITING_ACK = new Set(['FIN_WAIT1', 'LAST_ACK', 'CLOSING']);

/** The closer's TCP state once it has stopped waiting for ACKs. */
export async function settledState(ports: { local: number; remote: number }, waitMs = 1000): Promise<string | null> {
  const deadline = performance.now() + waitMs;
  for (;;) {
    const state = tcpState(ports.local, ports.remote);
    if (state === null || !AWAITING_ACK.has(state) || performance.now() > deadline) return state;
    await sleep(5);
  }
}

export async function settlePeer(peer: Side, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let lastReceived = peer.received;
  let quietSince = performance.now();
  while (!peer.settled && performance.now() < deadline) {
    if (peer.received !== lastReceived) {
      lastReceived = peer.received;
      quietSince = performance.now();
    } else if (performance.now() - quietSince > 500) {
      return;
    }
    await sleep(5);
  }
}

// The close helpers run while the peer's later steps play; 'await-close' joins them.
export const closesUnderWay = new WeakMap<net.Socket, Promise<CloseReport>>();

/** What a closer's steps leave to observe: how long close() held the thread, a close helper's report. */
export interface CloserState {
  blockedMs: number | null;
  report?: CloseReport;
}

/** One step of one side, on that side's socket. Network steps are played by whoever owns the network. */
export async function runSideStep(step: Step, side: Side, timeoutMs: number, state: CloserState): Promise<void> {
  switch (step.do) {
    case 'send':
      return side.write(step.bytes);
    case 'pause':
      side.socket.pause();
      return;
    case 'resume':
      side.socket.resume();
      return;
    case 'end':
      if (!side.socket.destroyed) side.socket.end();
      // libuv sends the FIN on a later turn of the loop: wait for it, or the closer's state may be
      // read before it arrives (seen under load as FIN_WAIT2 instead of TIME_WAIT).
      if (step.actor === 'peer') {
        await waitFor(() => side.socket.writableFinished || side.socket.destroyed, timeoutMs, 'the FIN').catch(() => undefined);
      }
      return;
    case 'wait-eof':
      return waitFor(() => side.settled, timeoutMs, `${step.actor} EOF`);
    case 'write-until-error':
      for (let i = 0; i < 100 && !side.error && !side.socket.destroyed; i++) {
        await side.write(100);
        await sleep(10);
      }
      return;
    case 'fill-send-queue': {
      // Write until the kernel refuses more and the runtime starts queueing: the peer must not be
      // reading. Node tells the exact bytes libuv still holds (writeQueueSize); other runtimes
      // only how much of their stream buffer is unwritten.
      const unwritten = () => writeQueueSize(side.socket) ?? side.socket.writableLength;
      const chunk = Buffer.alloc(64 * 1024, 0x62);
      for (let total = 0; total < 256 * 1024 * 1024; total += chunk.length) {
        side.socket.write(chunk);
        const left = unwritten();
        if (left > 0) {
          side.sent += chunk.length - left;
          return;
        }
        side.sent += chunk.length;
        if (total % (4 * 1024 * 1024) === 0) await sleep(1);
      }
      throw new Error('the send queue never filled');
    }
    case 'wait-received':
      return waitFor(() => side.received >= step.bytes, timeoutMs, `${step.bytes} bytes read`);
    case 'wait-unread':
      return waitFor(() => pendingBytes(side.socket).unread >= step.bytes, timeoutMs, `${step.bytes} unread bytes`);
    case 'set-linger':
      setLinger(side.socket, step.onoff, step.seconds);
      return;
    case 'shutdown':
      shutdown(side.socket, step.how);
      return;
    case 'read': {
      const target = side.received + step.bytes;
      side.socket.resume();
      await waitFor(() => side.received >= target || side.settled, timeoutMs, `${step.bytes} bytes`);
      side.socket.pause();
      return;
    }
    case 'read-until-fin':
      side.socket.resume();
      return waitFor(() => side.settled, timeoutMs, 'FIN');
    case 'close': {
      const start = performance.now();
      side.socket.destroy();
      state.blockedMs = performance.now() - start;
      return;
    }
    case 'reset-close':
      state.report = summarise('resetClose', await resetClose(side.socket));
      return;
    case 'graceful-close':
      closesUnderWay.set(side.socket, gracefulClose(side.socket, {
        ...(step.lingeringTimeout === undefined ? {} : { lingeringTimeout: step.lingeringTimeout }),
        ...(step.onTimeout ? { onTimeout: step.onTimeout } : {}),
      }).then((report) => summarise('gracefulClose', report)));
      return;
    case 'linger-close':
      closesUnderWay.set(side.socket, lingerClose(side.socket, step.seconds, step.onTimeout ? { onTimeout: step.onTimeout } : {})
        .then((report) => summarise('lingerClose', report)));
      return;
    case 'http-post': {
      const head = `POST /upload HTTP/1.1\r\nHost: lab\r\nContent-Type: application/octet-stream\r\nContent-Length: ${step.contentLength}\r\n\r\n`;
      await new Promise<void>((resolve) => side.socket.write(head, () => resolve()));
      return;
    }
    case 'http-get':
      return httpGet(side, step.awaitResponse, timeoutMs);
    case 'http2-post':
      refuseForeignHttp('node:http2');
      return http2Post(side, step.contentLength);
    case 'http-keep-alive': {
      refuseForeignHttp('node:http');
      // As 'http-413': a server that never listens, handed the accepted connection. Its keep-alive
      // timer is left long: 'http-idle-timeout' fires it where the row says.
      const server = http.createServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': HTTP_OK_BODY.length });
        res.end(HTTP_OK_BODY);
        res.on('finish', () => { side.sent = side.socket.bytesWritten; });
      });
      server.keepAliveTimeout = 60_000;
      server.on('clientError', (_err, socket: net.Socket) => socket.destroy());
      server.emit('connection', side.socket);
      side.socket.resume();
      return;
    }
    case 'http-idle-timeout':
      // Node's server closes an idle keep-alive connection from the socket's 'timeout' event
      // (socketOnTimeout: destroy() when nobody handles it); a 1 ms timeout runs that same path now.
      side.socket.setTimeout(1);
      return waitFor(() => side.socket.destroyed, timeoutMs, "the server's idle close");
    case 'http2-413': {
      refuseForeignHttp('node:http2');
      const server = http2.createServer();
      server.on('stream', (stream) => {
        stream.on('error', () => undefined);
        stream.respond({ ':status': 413, 'content-type': 'text/plain', 'content-length': String(HTTP_413_BODY.length) });
        stream.end(HTTP_413_BODY);
        // For the HTTP/2 rows the closer's bytes are the response body, as the peer's are.
        side.sent = Buffer.byteLength(HTTP_413_BODY);
        stream.session?.destroy();
      });
      server.on('sessionError', () => undefined);
      if (step.lingering) enableLingeringClose(server, { lingeringTimeout: 2000, lingeringTime: 5000 });
      server.emit('connection', side.socket);
      side.socket.resume();
      return;
    }
    case 'http-413': {
      refuseForeignHttp('node:http');
      // A node:http server that never listens: the accepted connection is handed to it, as Node
      // documents for 'connection'. What it writes (the 413) is what the peer must receive.
      const server = http.createServer((_req, res) => {
        res.writeHead(413, { connection: 'close', 'content-type': 'text/plain', 'content-length': HTTP_413_BODY.length });
        res.end(HTTP_413_BODY);
        res.on('finish', () => { side.sent = side.socket.bytesWritten; });
      });
      server.on('clientError', (_err, socket: net.Socket) => socket.destroy());
      if (step.lingering) enableLingeringClose(server, { lingeringTimeout: 2000, lingeringTime: 5000 });
      server.emit('connection', side.socket);
      side.socket.resume();
      return;
    }
    case 'await-close': {
      const closing = closesUnderWay.get(side.socket);
      if (!closing) throw new Error('no close helper was started');
      let finished = false;
      void closing.then((report) => {
        state.report = report;
        finished = true;
      });
      return waitFor(() => finished, timeoutMs, 'the close helper');
    }
    case 'vanish':
    case 'restore':
      throw new Error(`"${describeStep(step)}" needs a network between the two: run the row with its condition (net-linger lab --condition)`);
  }
}

/** Bun and Deno implement node:http and node:http2 themselves: the HTTP rows need Node's own. */
function refuseForeignHttp(module: string): void {
  const foreign = foreignHttpRuntime();
  if (foreign) throw new NetLingerError('ERR_NET_LINGER_UNSUPPORTED', `the HTTP rows need Node's own ${module}; ${foreign} has its own`);
}

/** Sends HTTP_GET_HEAD; with awaitResponse, waits until a whole response (head and Content-Length body) has been read. */
async function httpGet(side: Side, awaitResponse: boolean, timeoutMs: number): Promise<void> {
  let response = Buffer.alloc(0);
  const collect = (chunk: Buffer) => { response = Buffer.concat([response, chunk]); };
  const complete = () => {
    const headEnd = response.indexOf('\r\n\r\n');
    if (headEnd < 0) return false;
    const length = /\r\ncontent-length: *(\d+)/i.exec(response.subarray(0, headEnd).toString('latin1'));
    return response.length >= headEnd + 4 + Number(length?.[1] ?? 0);
  };
  if (awaitResponse) side.socket.on('data', collect);
  try {
    if (!side.socket.destroyed) {
      await new Promise<void>((resolve) => side.socket.write(HTTP_GET_HEAD, (err) => {
        if (!err) side.sent += HTTP_GET_HEAD.length;
        resolve();
      }));
    }
    if (awaitResponse) await waitFor(() => complete() || side.settled, timeoutMs, 'the HTTP response');
    if (awaitResponse && !complete()) throw new Error('the connection ended before the HTTP response was whole');
  } finally {
    side.socket.off('data', collect);
  }
}

/** Node's http2 client over the side's socket (h2c): see the 'http2-post' step in scenarios.ts. */
async function http2Post(side: Side, contentLength: number): Promise<void> {
  const client = http2.connect('http://lab', { createConnection: () => side.socket });
  let error: Error | undefined;
  let body = 0;
  let ended = false;
  let closed = false;
  let sessionClosed = false;
  client.on('error', (err) => { error ??= err; });
  client.on('close', () => { sessionClosed = true; });
  const req = client.request({ ':method': 'POST', ':path': '/upload', 'content-length': String(contentLength) });
  req.on('data', (chunk: Buffer) => { body += chunk.length; });
  req.on('end', () => { ended = true; });
  req.on('error', (err) => { error ??= err; });
  req.on('close', () => { closed = true; });
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  let written = 0;
  const pump = () => {
    while (written < contentLength && !req.destroyed && !req.closed) {
      const n = Math.min(chunk.length, contentLength - written);
      written += n;
      if (!req.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
        req.once('drain', pump);
        return;
      }
    }
    if (written >= contentLength && !req.destroyed) req.end();
  };
  pump();
  await waitFor(() => closed || error !== undefined, HTTP2_REQUEST_WAIT_MS, 'the HTTP/2 request').catch(() => undefined);
  const clean = closed && ended && error === undefined && req.rstCode === http2.constants.NGHTTP2_NO_ERROR;
  if (clean) {
    // A client done with its request closes its session: GOAWAY, then its FIN. (Node's client
    // closes it by itself on the server's GOAWAY; close() is then a no-op that never calls back.)
    client.close();
    await waitFor(() => sessionClosed || error !== undefined, HTTP2_REQUEST_WAIT_MS, 'the HTTP/2 session to close').catch(() => undefined);
  }
  side.sent = written;
  const failed = error as NodeJS.ErrnoException | undefined;
  side.application = {
    received: body,
    outcome: failed ? normalizeErrorCode(failed) ?? failed.code ?? 'UNKNOWN'
      : clean ? 'eof' : closed ? `RST_STREAM ${req.rstCode}` : 'stalled',
  };
}

export function summarise(
  helper: CloseReport['helper'],
  report: { outcome: string; elapsedMs: number; reset?: boolean; via?: unknown; unackedBytes?: number | null; code?: string },
): CloseReport {
  const summary: CloseReport = {
    helper,
    outcome: report.outcome,
    elapsedMs: Math.round(report.elapsedMs * 10) / 10,
    reset: helper === 'resetClose' ? report.outcome === 'reset' : report.reset === true,
  };
  if (report.unackedBytes !== undefined) summary.unackedBytes = report.unackedBytes;
  if (report.code !== undefined) summary.code = report.code;
  return summary;
}
