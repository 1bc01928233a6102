import http2 from 'node:http2';
import net from 'node:net';
import { isConnectionReset } from '../core/errors.js';
import { restartReading } from '../core/node-internals-http.js';
import { boundSession, detachCompatDataForwarder, http2Unsupported, tcpUnderTls } from '../core/node-internals-http2.js';
import { pollWithBackoff } from '../core/poll.js';
import { type LingerState, ServerController, controllerFor } from './controller.js';
import type { LingeringCloseCounts, LingeringCloseHandle, LingeringCloseOptions } from './lingering-close.js';

// Just under 500 lines, one policy: the stream, session and socket ends belong together here
// (the options are options.ts's, the handle's surface controller.ts's).
//
// nginx's behaviour for Node's HTTP/2 servers (http2.createServer, http2.createSecureServer, the
// compatibility API and the frameworks on it). Two things go wrong in Node when a handler answers
// before the request body is in (an early 413 during an upload):
// - per stream: Node sends the response with END_STREAM and then nothing, so a client that
//   finishes its upload before reading waits for stream window forever. nginx sends
//   RST_STREAM(NO_ERROR) after the response (RFC 9113 section 8.1): the client stops sending and
//   keeps the response. Done here once the response's END_STREAM has left.
// - per connection: session.destroy() right after a response drops the response's last frames,
//   and its socket.destroy() resets the connection when the client's data is still arriving;
//   session.close() never completes while such a stream is open. Here a clean destroy() sends
//   GOAWAY at once, lets the complete responses finish (each then reset with NO_ERROR), then
//   destroys; once the session lets the socket go (FIN after everything queued), the connection
//   lingers: what arrives is read and discarded until the client's FIN or a cap, as HTTP/1 does.
// - a session left idle by an early response must answer a PING, or its connection is closed:
//   Node's session can stop reading its socket for good (probeIdle) and never see the client go.

export interface Http2LingeringCloseCounts extends LingeringCloseCounts {
  /** Streams ended with RST_STREAM(NO_ERROR) after a whole response, their request body unfinished. */
  streamsReset: number;
  /** session.close() or destroy() (without an error) calls that waited for complete responses to leave first. */
  endsDeferred: number;
  /**
   * Connections closed because their session, idle after an early response, left a PING
   * unanswered for lingeringTimeout: the client had gone and Node's session had stopped reading.
   */
  unanswered: number;
}

export interface Http2LingeringCloseHandle extends LingeringCloseHandle {
  /** What the lingering closes did so far (the HTTP/1 counts, and the sessions closed for an unanswered PING). */
  readonly counts: Readonly<Http2LingeringCloseCounts>;
}

export type AnyHttp2Server = http2.Http2Server | http2.Http2SecureServer;

const NO_ERROR = http2.constants.NGHTTP2_NO_ERROR;

type Method = (...args: unknown[]) => unknown;

/** An Http2Server or Http2SecureServer (Node does not export the classes): found by the prototype chain. */
export function isHttp2Server(value: unknown): value is AnyHttp2Server {
  if (!(value instanceof net.Server)) return false;
  for (let p = Object.getPrototypeOf(value); p && p !== net.Server.prototype; p = Object.getPrototypeOf(p)) {
    const name = (p.constructor as { name?: string } | undefined)?.name;
    if (name === 'Http2Server' || name === 'Http2SecureServer') return true;
  }
  return false;
}


const enum Phase { Open, DefaultClose, Lingering }

interface SocketState extends LingerState {
  controller: Http2Controller;
  phase: Phase;
}

interface SessionState {
  controller: Http2Controller;
  /** The raw socket under the session. */
  socket: net.Socket;
  /** The session's streams not yet closed, in the order they came. */
  streams: Set<http2.ServerHttp2Stream>;
  /** goaway(NO_ERROR), close() or a clean destroy() is waiting for complete responses to leave. */
  waiting?: boolean;
  /** goaway() calls to make once they have left, with their arguments. */
  goaways: unknown[][];
  /** The close or destroy to run then. */
  end?: 'close' | 'destroy';
  /** The deferred call has run: later calls are Node's own. */
  done?: boolean;
  timer?: NodeJS.Timeout;
  /** An idle session's PING is under way (probeIdle). */
  probing?: boolean;
}

const sockets = new WeakMap<net.Socket, SocketState>();
const sessions = new WeakMap<http2.ServerHttp2Session, SessionState>();
const controllers = new WeakMap<AnyHttp2Server, Http2Controller>();
const answeredEarly = new WeakSet<http2.ServerHttp2Stream>();

function protoOf(target: object, name: string): Method {
  return Object.getPrototypeOf(target)[name] as Method;
}

class Http2Controller extends ServerController<Http2LingeringCloseCounts> implements Http2LingeringCloseHandle {
  readonly totals: Http2LingeringCloseCounts = {
    lingered: 0, endedByFin: 0, endedByCap: 0, endedByReset: 0, endedByError: 0, endedByClose: 0, overMaxLingering: 0,
    streamsReset: 0, endsDeferred: 0, unanswered: 0,
  };

  constructor(readonly server: AnyHttp2Server, opts: Required<LingeringCloseOptions>) {
    super(server, opts);
    // Node's own connectionListener is the first listener of this event (given to the
    // constructor), so the session is bound to the socket when this one runs.
    this.install();
  }

  /** A new connection: watch its session's streams and hang the close overrides on both. */
  protected adopt(socket: net.Socket): void {
    if (sockets.has(socket)) return;
    const session = boundSession(socket);
    if (!session || sessions.has(session)) return; // an HTTP/1 fallback or an unknownProtocol socket
    const sessionState: SessionState = { controller: this, socket, streams: new Set(), goaways: [] };
    sessions.set(session, sessionState);
    sockets.set(socket, { controller: this, phase: Phase.Open });
    // First, so that a handler that ends the session from its 'stream' event finds the stream here.
    session.prependListener('stream', (stream: http2.ServerHttp2Stream) => this.watchStream(stream, session, sessionState));
    session.once('close', () => {
      if (sessionState.timer) clearTimeout(sessionState.timer);
    });
    session.destroy = overrideSessionDestroy as http2.ServerHttp2Session['destroy'];
    session.close = overrideSessionClose as http2.ServerHttp2Session['close'];
    session.goaway = overrideSessionGoaway as http2.ServerHttp2Session['goaway'];
    socket.end = overrideSocketEnd as net.Socket['end'];
    socket.destroy = overrideSocketDestroy as net.Socket['destroy'];
    // Node 18 leaves a TLS socket open when the TCP socket under it is destroyed (a shutdown
    // library destroying the server's 'connection' sockets): close it with it, as Node 20+ does,
    // so that no session end writes through a connection that is gone.
    const under = tcpUnderTls(socket);
    if (under) {
      const closeWith = () => { if (!socket.destroyed) protoOf(socket, 'destroy').call(socket); };
      if (under.destroyed) closeWith();
      else under.once('close', closeWith);
    }
  }

  private watchStream(stream: http2.ServerHttp2Stream, session: http2.ServerHttp2Session, state: SessionState): void {
    state.streams.add(stream);
    stream.once('close', () => {
      // Ended early: its response written whole before its request body (reset here, or by
      // Node when the body was never read), aborted by the client, or closed before its
      // response was written whole.
      const early = answeredEarly.has(stream) || stream.aborted || !stream.writableFinished;
      state.streams.delete(stream);
      if (early && state.streams.size === 0) this.probeIdle(session, state);
    });
    // 'finish': every DATA chunk of the response was written to the socket and the writable
    // side was shut down (END_STREAM submitted, or trailers still to come).
    stream.once('finish', () => {
      if (!stream.destroyed && !remoteClosed(stream)) answeredEarly.add(stream);
      this.afterResponse(stream);
    });
  }

  /**
   * A session left idle by a stream that ended before its request body did (an early response,
   * or a client that gave up): lingeringTimeout later, if it is still open and idle, a PING must
   * be answered within lingeringTimeout, or the connection is closed. Node's session stops reading
   * its socket while one of its writes is in progress and restarts only when that write
   * completes; over TLS, after a write failed because the client reset the connection, the next
   * write was seen never to complete (Node 20), so the session never reads the client's FIN or
   * reset and the connection stays open for ever. A client that is there answers the PING.
   */
  private probeIdle(session: http2.ServerHttp2Session, state: SessionState): void {
    if (!this.enabled || state.probing) return;
    state.probing = true;
    // A closed session that has not let its socket go by then is waiting on the same write.
    const idle = () => !session.destroyed && !state.waiting && state.streams.size === 0 &&
      !state.socket.destroyed && boundSession(state.socket) === session;
    const wait = setTimeout(() => {
      if (!idle()) {
        state.probing = false;
        return;
      }
      let settled = false;
      const settle = (answered: boolean) => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        state.probing = false;
        if (answered || !idle()) return;
        this.totals.unanswered++;
        protoOf(state.socket, 'destroy').call(state.socket);
      };
      const deadline = setTimeout(() => settle(false), this.opts.lingeringTimeout).unref();
      try {
        if (!session.ping((err) => settle(!err))) settle(false);
      } catch {
        settle(false);
      }
    }, this.opts.lingeringTimeout).unref();
    session.once('close', () => clearTimeout(wait));
  }

  /** The response is whole: if the request body is not, wait for END_STREAM to leave, then RST_STREAM(NO_ERROR). */
  private afterResponse(stream: http2.ServerHttp2Stream): void {
    if (!this.enabled || stream.closed || stream.destroyed || remoteClosed(stream)) return;
    const start = Date.now();
    if (localClosed(stream)) {
      this.resetStream(stream);
      return;
    }
    pollWithBackoff(() => {
      if (stream.closed || stream.destroyed || remoteClosed(stream)) return true;
      // END_STREAM (on the last DATA frame or on the trailers) has been handed to the socket.
      // Until then an RST_STREAM could overtake it: nghttp2 sends control frames before DATA
      // that waits for flow-control window.
      if (!localClosed(stream) && Date.now() - start < this.opts.lingeringTime) return false;
      this.resetStream(stream);
      return true;
    }, (ms, fn) => { setTimeout(fn, ms).unref(); });
  }

  private resetStream(stream: http2.ServerHttp2Stream): void {
    answeredEarly.add(stream);
    stream.close(NO_ERROR);
    this.totals.streamsReset++;
    // What the client sent before the RST reached it is read and discarded, so the stream ends
    // and is destroyed (Node waits for its 'end'), and session.close() can complete.
    detachCompatDataForwarder(stream);
    stream.resume();
  }

  /**
   * A session.close() or clean session.destroy() while complete responses are still leaving:
   * returns false when there are none (Node's own call follows). Otherwise the call waits until
   * those streams have closed (their END_STREAM and RST_STREAM(NO_ERROR) written), then runs:
   * the GOAWAY follows the responses, as with nginx (curl 7.88 drops a response whose DATA
   * comes after a GOAWAY, which is where Node's close() puts it). destroy() ends the responses
   * still being written at once, as Node's would (RST_STREAM(NO_ERROR)). lingeringTime bounds
   * the wait.
   */
  deferEnd(session: http2.ServerHttp2Session, state: SessionState, kind: 'goaway' | 'close' | 'destroy', args: unknown[] = []): boolean {
    // A connection already gone has nothing left to deliver: Node's own call, at once.
    if (state.socket.destroyed) return false;
    if (!state.waiting) {
      const leaving = [...state.streams].filter((stream) => !stream.destroyed && stream.writableEnded);
      if (leaving.length === 0) return false;
      state.waiting = true;
      this.totals.endsDeferred++;
      let left = leaving.length;
      const run = () => {
        if (state.timer) clearTimeout(state.timer);
        state.timer = undefined;
        state.waiting = false;
        const { goaways, end } = state;
        // After a close or destroy, later calls are Node's own; after goaway() alone the session goes on.
        state.done = end !== undefined;
        state.goaways = [];
        state.end = undefined;
        if (session.destroyed) return;
        for (const goawayArgs of goaways) {
          try {
            protoOf(session, 'goaway').apply(session, goawayArgs);
          } catch {
            // The arguments were validated when goaway() was called; the session may have ended since.
          }
        }
        if (end === 'destroy') protoOf(session, 'destroy').call(session);
        else if (end === 'close') protoOf(session, 'close').call(session);
        if (end !== undefined) this.watchRelease(session, state.socket);
        if (end === 'close') this.probeIdle(session, state);
      };
      // Once the streams have closed, a PING goes behind their last frames, and the GOAWAY waits
      // for its ACK (or lingeringTimeout): the client has then read the responses whole. curl
      // 7.88 gives up a response (exit 18) when a GOAWAY arrives in the same read as its end.
      const afterPing = () => {
        if (!state.waiting) return;
        let settled = false;
        const go = () => {
          if (settled) return;
          settled = true;
          clearTimeout(pingTimer);
          run();
        };
        const pingTimer = setTimeout(go, this.opts.lingeringTimeout).unref();
        try {
          if (session.destroyed || !session.ping(go)) go();
        } catch {
          go();
        }
      };
      for (const stream of leaving) {
        stream.once('close', () => {
          if (--left === 0 && state.waiting) setImmediate(afterPing);
        });
      }
      state.timer = setTimeout(run, this.opts.lingeringTime).unref();
    }
    if (kind === 'goaway') state.goaways.push(args);
    else if (kind === 'destroy' || state.end === undefined) state.end = kind;
    if (kind === 'destroy') this.endUnfinished(state);
    return true;
  }

  /**
   * A destroyed session must let its socket go (finishSessionClose). On Node 22 a session this
   * module destroyed late, after its client had gone, was seen to keep its socket bound and open
   * (the native handle never called back): after lingeringTime such a socket is closed here, so
   * no connection outlives the caps.
   */
  private watchRelease(session: http2.ServerHttp2Session, socket: net.Socket): void {
    const timer = setTimeout(() => {
      if (session.destroyed && !socket.destroyed && boundSession(socket) === session) {
        protoOf(socket, 'destroy').call(socket);
      }
    }, this.opts.lingeringTime).unref();
    socket.once('close', () => clearTimeout(timer));
  }

  /** Streams whose response is still being written end as Node's destroy() would end them. */
  private endUnfinished(state: SessionState): void {
    for (const stream of state.streams) {
      if (!stream.destroyed && !stream.writableEnded && !stream.closed) {
        stream.close(NO_ERROR);
        detachCompatDataForwarder(stream);
        stream.resume();
      }
    }
  }

  /**
   * The session let the socket go (finishSessionClose's end(...args)): linger on the drain engine
   * HTTP/1 uses, ending the socket with `end` (the FIN after everything queued). Returns false,
   * having done nothing, when maxLingering says Node's close applies.
   */
  linger(socket: net.Socket, state: SocketState, end: () => void): boolean {
    if (this.active.size >= this.opts.maxLingering) {
      this.totals.overMaxLingering++;
      return false;
    }
    state.phase = Phase.Lingering;
    this.active.add(socket);
    this.totals.lingered++;
    this.drain(socket, state, { halfClose: end, startReading: () => restartReading(socket) });
    return true;
  }
}

function remoteClosed(stream: http2.ServerHttp2Stream): boolean {
  return (stream.state as { remoteClose?: number }).remoteClose === 1;
}

function localClosed(stream: http2.ServerHttp2Stream): boolean {
  return (stream.state as { localClose?: number }).localClose === 1;
}

function isCleanDestroy(error: unknown, code: unknown): boolean {
  return (error === undefined || error === null || error === NO_ERROR) && (code === undefined || code === NO_ERROR);
}

function overrideSessionDestroy(this: http2.ServerHttp2Session, error?: unknown, code?: unknown): void {
  const state = sessions.get(this);
  if (state && !state.done && !this.destroyed && state.controller.enabled && isCleanDestroy(error, code)) {
    try {
      if (state.controller.deferEnd(this, state, 'destroy')) return;
    } catch {
      // Never throw out of a destroy: Node's own destroy follows.
    }
  }
  protoOf(this, 'destroy').call(this, error, code);
}

function overrideSessionGoaway(this: http2.ServerHttp2Session, ...args: unknown[]): void {
  const state = sessions.get(this);
  const [code, lastStreamID, opaqueData] = args;
  // Node validates the arguments and throws for a destroyed session: a deferred call must not
  // swallow what Node would throw, so only a plain goaway() / goaway(NO_ERROR) is deferred.
  const plain = (code === undefined || code === NO_ERROR) && lastStreamID === undefined && opaqueData === undefined;
  if (state && plain && !state.done && !this.destroyed && !this.closed && state.controller.enabled) {
    try {
      if (state.controller.deferEnd(this, state, 'goaway', args)) return;
    } catch {
      // Node's own goaway follows.
    }
  }
  protoOf(this, 'goaway').apply(this, args);
}

function overrideSessionClose(this: http2.ServerHttp2Session, callback?: unknown): void {
  const state = sessions.get(this);
  if (state && !state.done && !this.closed && !this.destroyed && state.controller.enabled) {
    let deferred = false;
    try {
      deferred = state.controller.deferEnd(this, state, 'close');
    } catch {
      // Node's own close follows.
    }
    if (deferred) {
      if (typeof callback === 'function') this.once('close', callback as () => void);
      return;
    }
  }
  protoOf(this, 'close').call(this, callback);
}

function overrideSocketEnd(this: net.Socket, ...args: unknown[]): net.Socket {
  const state = sockets.get(this);
  // finishSessionClose: the session has let go of the socket and ends it (end(cb), no data).
  const plain = args.length === 0 || (args.length === 1 && typeof args[0] === 'function');
  if (state && plain && state.phase === Phase.Open && state.controller.enabled && !this.destroyed && boundSession(this) === undefined) {
    let result: net.Socket | undefined;
    // The FIN follows everything queued; from now on read and discard until the client's FIN.
    const end = () => { result = protoOf(this, 'end').apply(this, args) as net.Socket; };
    let lingering = false;
    try {
      lingering = state.controller.linger(this, state, end);
    } catch {
      lingering = (state.phase as Phase) === Phase.Lingering;
    }
    if (!lingering) state.phase = Phase.DefaultClose;
    if (result === undefined) end();
    return result ?? this;
  }
  return protoOf(this, 'end').apply(this, args) as net.Socket;
}

function overrideSocketDestroy(this: net.Socket, error?: Error | null): net.Socket {
  const state = sockets.get(this);
  if (state?.phase === Phase.Lingering && !state.ending) {
    const resetting = (this as { resetAndClosing?: boolean }).resetAndClosing === true;
    // finishSessionClose's destroy() after a session.destroy() is the close already under way.
    if (!error && !resetting && !this.readableEnded) return this;
    state.ending = true;
    state.controller.active.delete(this);
    if (error) state.reason ??= isConnectionReset(error) ? 'reset' : 'error';
    else if (resetting) state.reason ??= 'close';
  }
  return protoOf(this, 'destroy').call(this, error) as net.Socket;
}

/**
 * The HTTP/2 side of enableLingeringClose (it dispatches here for an Http2Server or
 * Http2SecureServer): RST_STREAM(NO_ERROR) after a whole response whose request body is
 * unfinished, complete responses written before a clean session.destroy(), and a lingering close
 * of the connection once the session lets it go. Applies to connections accepted after the call.
 * Calling it again for the same server updates the options it names and returns the same handle.
 */
export function enableHttp2LingeringClose(server: AnyHttp2Server, options?: LingeringCloseOptions): Http2LingeringCloseHandle {
  const unsupported = http2Unsupported();
  return controllerFor(controllers, server, options,
    unsupported && `enableLingeringClose for HTTP/2 needs Node's own http2 internals; ${unsupported}`,
    (opts) => new Http2Controller(server, opts));
}
