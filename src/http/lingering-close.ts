import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { isConnectionReset } from '../core/errors.js';
import { type HttpIncomingInternals, detachHttpParser, foreignHttpRuntime, httpConnection, httpErrorSeen, releaseHttpParser, restartReading, wrapHttpEndListener } from '../core/node-internals-http.js';
import { invalidArgType } from '../core/validate.js';
import { type LingerState, ServerController, controllerFor } from './controller.js';
import { type AnyHttp2Server, enableHttp2LingeringClose, isHttp2Server } from './http2.js';

// nginx's lingering close for Node's HTTP servers (one policy, so one file, just over 400 lines;
// the draining is close/drain.ts's, Node's private fields node-internals-http.ts's). When a server closes a connection right after
// a response while the client is still sending (an early 413 or 401 during an upload), the unread
// bytes make the kernel answer with RST and the client loses the response. Lingering instead:
// take Node's parser off the socket, half-close (FIN after the response), read and discard what
// still comes, and close once the client's FIN arrives or a cap is hit. Plain TypeScript: no
// native binary is needed (only onTimeout 'reset' on a half-closed socket uses it, and falls back
// to a plain close without it).

export type LingeringCloseMode = 'on' | 'always';

export interface LingeringCloseOptions {
  /** 'on' (default): linger when the client may still be sending. 'always': after every response. */
  mode?: LingeringCloseMode;
  /** Upper bound for one lingering close, in ms (nginx lingering_time). Default 30000. */
  lingeringTime?: number;
  /** Longest silence from the client while lingering, in ms (nginx lingering_timeout). Default 5000. */
  lingeringTimeout?: number;
  /** How a lingering close ends when a cap is hit: 'close' (default, a plain close) or 'reset' (RST). */
  onTimeout?: 'close' | 'reset';
  /** Connections lingering at once per server; beyond it a close is Node's default close. Default 1024. */
  maxLingering?: number;
}

export interface LingeringCloseCounts {
  /** Lingering closes started. */
  lingered: number;
  /** Ended by the client's FIN: the clean end. */
  endedByFin: number;
  /** Ended by lingeringTime or lingeringTimeout. */
  endedByCap: number;
  /** Ended because the client reset the connection. */
  endedByReset: number;
  /** Ended by another socket error, or by destroy(err). */
  endedByError: number;
  /** Ended at once by server.closeAllConnections() or socket.resetAndDestroy(). */
  endedByClose: number;
  /** Closes that would have lingered but found maxLingering connections lingering already. */
  overMaxLingering: number;
}

export interface LingeringCloseHandle {
  /** Connections of this server lingering now. */
  readonly lingering: number;
  /** The options in force (defaults filled in). */
  readonly options: Readonly<Required<LingeringCloseOptions>>;
  /** Running totals since the first call on this server. */
  readonly counts: Readonly<LingeringCloseCounts>;
  /** Stops lingering for new closes; connections lingering now end as they would (bounded by lingeringTime). */
  disable(): void;
}


type AnyServer = http.Server | https.Server;
type SocketMethod = (...args: unknown[]) => unknown;

/** Per-socket state: installed once per connection. */
const enum Phase { Open, DefaultClose, Lingering }
interface SocketState extends LingerState {
  controller: Controller;
  phase: Phase;
  timedOut: boolean;
  /** Set while the app's req.destroy() runs on a request of this lingering connection. */
  fromRequest?: boolean;
}

const sockets = new WeakMap<net.Socket, SocketState>();
const controllers = new WeakMap<AnyServer, Controller>();


// The prototype methods the per-socket overrides fall back to (TLSSocket inherits them from net.Socket).
function proto(socket: net.Socket, name: 'destroy' | 'end' | 'destroySoon'): SocketMethod {
  return Object.getPrototypeOf(socket)[name] as SocketMethod;
}

class Controller extends ServerController<LingeringCloseCounts> implements LingeringCloseHandle {
  readonly totals: LingeringCloseCounts = {
    lingered: 0, endedByFin: 0, endedByCap: 0, endedByReset: 0, endedByError: 0, endedByClose: 0, overMaxLingering: 0,
  };
  private ownCloseAll: (() => void) | undefined;

  constructor(readonly server: AnyServer, opts: Required<LingeringCloseOptions>) {
    super(server, opts);
    this.install();
  }

  install(): void {
    super.install();
    if (!this.ownCloseAll) {
      const server = this.server as AnyServer & { closeAllConnections?: () => void };
      const original = server.closeAllConnections;
      if (typeof original === 'function') {
        const own = () => {
          original.call(server);
          this.closeLingering();
        };
        this.ownCloseAll = own;
        server.closeAllConnections = own;
      }
    }
  }

  disable(): void {
    super.disable();
    // server.closeAllConnections() must still end the connections lingering now: its override
    // goes once the last of them has ended.
    this.uninstallCloseAll();
  }

  private uninstallCloseAll(): void {
    if (this.enabled || this.active.size > 0) return;
    const server = this.server as AnyServer & { closeAllConnections?: () => void };
    if (this.ownCloseAll && server.closeAllConnections === this.ownCloseAll) {
      // An own property we added: removing it brings back the prototype's method.
      delete (server as { closeAllConnections?: unknown }).closeAllConnections;
    }
    this.ownCloseAll = undefined;
  }

  /** Ends every lingering connection now (server.closeAllConnections()). */
  closeLingering(): void {
    for (const socket of this.active) {
      const state = sockets.get(socket);
      if (state) this.endLinger(socket, state, 'close');
    }
  }

  /** Hangs the close overrides on a new connection: own properties, so nothing else is patched. */
  protected adopt(socket: net.Socket): void {
    // A connection that is not a net.Socket (a Duplex handed over with
    // server.emit('connection', stream): ssh2 channels, tunnels) keeps Node's own behaviour:
    // there is no TCP connection under it to linger on.
    if (!(socket instanceof net.Socket) || sockets.has(socket)) return;
    const state: SocketState = { controller: this, phase: Phase.Open, timedOut: false };
    sockets.set(socket, state);
    socket.destroySoon = overrideDestroySoon;
    socket.end = overrideEnd as net.Socket['end'];
    socket.destroy = overrideDestroy as net.Socket['destroy'];
    // A client that read the whole response and stops uploading sends its FIN mid-body: that is
    // the end of the conversation, not a client error. Node's HTTP parser would call it
    // HPE_INVALID_EOF_STATE and emit 'clientError'; end the connection as a complete request would.
    wrapHttpEndListener(socket, (original) => function lingerAwareEnd(this: net.Socket) {
      if (state.controller.enabled && abandonedAfterResponse(socket)) {
        proto(socket, 'end').call(socket);
        return;
      }
      original.call(this);
    });
    // Node's own inactivity close (server.timeout, keepAliveTimeout) is a destroy() without an
    // error, recognised by the 'timeout' event that calls it synchronously.
    socket.prependListener('timeout', () => {
      state.timedOut = true;
      process.nextTick(() => { state.timedOut = false; });
    });
  }

  /** Whether a close of this socket now should linger. */
  shouldLinger(socket: net.Socket, state: SocketState): boolean {
    if (!this.enabled || socket.destroyed || socket.readableEnded) return false;
    const c = httpConnection(socket);
    if (!c.parsing) return false; // freed: upgraded, CONNECT, or already closing
    // A parse or socket error already went to 'clientError': a close after it is Node's.
    if (httpErrorSeen(socket)) return false;
    const res = c.response;
    let req;
    if (res) {
      // A response in progress must be whole (end() called, nothing still queued on the response).
      if (!res.ended || res.queued) return false;
      req = res.req;
      if (req?.upgrade) return false;
      // A request parsed after this one: pipelined.
      if (c.incoming && c.incoming !== req) return true;
    } else {
      // Between responses: the last request's body is still arriving, or nothing was answered yet.
      req = c.incoming ?? undefined;
      if (req?.upgrade) return false;
      if (!req && socket.bytesWritten === 0) return false; // no response written on this connection
    }
    const unfinished = req !== undefined && !req.complete;
    // An inactivity close (keepAliveTimeout, server.timeout) lingers only for a body still
    // arriving: a client stalled mid-upload because nobody reads it (koa's raw-body pauses it).
    if (state.timedOut) return unfinished;
    if (this.opts.mode === 'always') return true;
    return unfinished || socket.readableLength > 0;
  }

  /** Starts a lingering close, or returns false when the cap says Node's default close applies. */
  linger(socket: net.Socket, state: SocketState): boolean {
    if (this.active.size >= this.opts.maxLingering) {
      this.totals.overMaxLingering++;
      return false;
    }
    // The requests the app may still destroy (req.destroy() after res.end(cb), or on a later tick).
    const c = httpConnection(socket);
    const requests = [c.response?.req, c.incoming];
    if (!detachHttpParser(socket)) return false;
    state.phase = Phase.Lingering;
    this.active.add(socket);
    this.totals.lingered++;
    for (const req of new Set(requests)) if (req) markRequest(req, state);
    // Node's parser may still be running over the current read (the handler destroyed the
    // request from inside it): what it pushes into the destroyed request asks the socket to
    // pause (parserOnBody's readStop). Nothing may pause a lingering socket: it must drain.
    socket.pause = keepFlowing;
    // The FIN follows the response (end() sends it after every queued write); then read and discard.
    this.drain(socket, state, { halfClose: () => proto(socket, 'end').call(socket), startReading: () => restartReading(socket) }, () => {
      releaseHttpParser(socket);
      this.uninstallCloseAll();
    });
    return true;
  }

}

function keepFlowing(this: net.Socket): net.Socket {
  return this;
}

/**
 * Lets the app's own `req.destroy()` on a lingering connection be what it means there, "this
 * connection is done": the close already under way. An own property on the request, calling
 * the prototype's destroy().
 */
function markRequest(req: HttpIncomingInternals, state: SocketState): void {
  if (req.destroyed || typeof req.destroy !== 'function') return;
  const original = Object.getPrototypeOf(req).destroy as (this: unknown, error?: Error) => unknown;
  if (typeof original !== 'function') return;
  req.destroy = function lingeringRequestDestroy(this: unknown, error?: Error) {
    state.fromRequest = true;
    try {
      return original.call(this, error);
    } finally {
      state.fromRequest = false;
    }
  };
}

/** The response is complete and the request body is not: the client may stop sending at will. */
function abandonedAfterResponse(socket: net.Socket): boolean {
  const c = httpConnection(socket);
  const incoming = c.incoming;
  if (!incoming || incoming.complete || incoming.upgrade) return false;
  const res = c.response;
  return !res || (res.ended && res.req === incoming);
}

/** Decides once per socket: linger, or Node's default close from here on. */
function decide(socket: net.Socket, state: SocketState): boolean {
  if (state.phase === Phase.Lingering) return true;
  if (state.phase === Phase.DefaultClose) return false;
  const c = state.controller;
  let lingered = false;
  try {
    lingered = c.shouldLinger(socket, state) && c.linger(socket, state);
  } catch {
    // Never throw out of a close called from Node's callbacks: fall back to Node's own close.
    lingered = (state.phase as Phase) === Phase.Lingering;
  }
  if (!lingered) state.phase = Phase.DefaultClose;
  return lingered;
}

function overrideDestroySoon(this: net.Socket): void {
  const state = sockets.get(this);
  if (state && state.phase !== Phase.DefaultClose && decide(this, state)) return;
  proto(this, 'destroySoon').call(this);
}

function overrideEnd(this: net.Socket, ...args: unknown[]): net.Socket {
  const state = sockets.get(this);
  // end(data): someone writes raw bytes (a clientError handler): Node's behaviour.
  const plain = args.length === 0 || typeof args[0] === 'function';
  if (state && plain && state.phase === Phase.Open && decide(this, state)) {
    if (typeof args[0] === 'function') this.once('finish', args[0] as () => void);
    return this;
  }
  return proto(this, 'end').apply(this, args) as net.Socket;
}

function overrideDestroy(this: net.Socket, error?: Error | null): net.Socket {
  const state = sockets.get(this);
  if (state?.phase === Phase.Lingering && !state.ending) {
    // While draining, the app's req.destroy() (after res.end(cb), or on a later tick) is the
    // close already under way. Any other destroy ends it at once: destroy(err), resetAndDestroy(),
    // closeAllConnections(), and a plain socket.destroy() (a shutdown library at its deadline):
    // a plain close, as nginx closes lingering connections when it shuts down.
    if (!error && state.fromRequest) return this;
    state.ending = true;
    state.controller.active.delete(this);
    if (error) state.reason ??= isConnectionReset(error) ? 'reset' : 'error';
    else state.reason ??= this.readableEnded ? 'fin' : 'close';
  } else if (state && !error && state.phase === Phase.Open && decide(this, state)) {
    return this;
  }
  return proto(this, 'destroy').call(this, error) as net.Socket;
}

/**
 * nginx's `lingering_close` for a Node HTTP server (http.Server or https.Server, and so express,
 * fastify, koa and @hono/node-server on them). After a response has been written whole, a close
 * of the connection — Node's own after a last response, a framework's `destroySoon()`/`end()`,
 * or `req.destroy()`/`socket.destroy()` without an error — lingers when the client may still be
 * sending (mode 'on': the request body is incomplete, bytes are buffered, or requests were
 * pipelined; 'always': after every response): Node's parser is taken off the socket, the write
 * side is shut down after the response, and whatever arrives is read and discarded until the
 * client's FIN, `lingeringTimeout` of silence or `lingeringTime` in all; then a plain close (or an
 * RST with onTimeout 'reset'). Applies to connections accepted after the call.
 *
 * Calling it again for the same server updates the options it names (the others stay) and returns
 * the same handle, enabled again if it was disabled.
 * Throws Node's TypeError/RangeError for bad arguments, before anything is touched; on Bun and
 * Deno (their own node:http), NetLingerError ERR_NET_LINGER_UNSUPPORTED.
 */
export function enableLingeringClose(server: http.Server | https.Server | AnyHttp2Server, options?: LingeringCloseOptions): LingeringCloseHandle {
  if (!(server instanceof http.Server) && !(server instanceof https.Server)) {
    // HTTP/2 (http2.createServer, createSecureServer): its own integration, same options and handle.
    if (isHttp2Server(server)) return enableHttp2LingeringClose(server, options);
    throw invalidArgType('server', 'an instance of http.Server, https.Server, http2.Http2Server or http2.Http2SecureServer', server);
  }
  const foreign = foreignHttpRuntime();
  return controllerFor(controllers, server, options,
    foreign && `enableLingeringClose needs Node's own HTTP server internals; ${foreign} implements node:http differently`,
    (opts) => new Controller(server, opts));
}
