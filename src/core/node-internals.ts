// Every private Node field and runtime difference net-linger relies on, in one place.
//
// Checked on Node.js 18.20, 20.20, 22.x, 24.x and 26.x (the runtime matrix, npm run test:matrix),
// Bun 1.3 and Deno 2 (Deno has no descriptor: callers get ERR_NET_LINGER_UNSUPPORTED). When a
// Node release changes one of these, this file is the only one to change.
import type dgram from 'node:dgram';
import type net from 'node:net';
import { types } from 'node:util';

/** The running JavaScript runtime: Node, Bun or Deno, and libuv's version where it has one. */
export interface RuntimeInfo {
  name: 'node' | 'bun' | 'deno';
  /** libuv's version where the runtime uses libuv (process.versions.uv). */
  libuv: string | undefined;
}

interface RuntimeGlobals {
  Bun?: { version: string };
  Deno?: { version: { deno: string } };
}

/** Bun and Deno both define `process`; their own globals tell them apart from Node. */
export function currentRuntime(): RuntimeInfo {
  const g = globalThis as RuntimeGlobals;
  const name = g.Deno ? 'deno' : g.Bun ? 'bun' : 'node';
  return { name, libuv: name === 'node' ? process.versions.uv : undefined };
}

/** The runtime with its version, for messages. */
export function runtimeName(): string {
  const g = globalThis as RuntimeGlobals;
  if (g.Deno) return `Deno ${g.Deno.version.deno}`;
  if (g.Bun) return `Bun ${g.Bun.version}`;
  return `Node.js ${process.version}`;
}

/** Deno runs a script through its 'run' subcommand; Node and Bun take the script directly. */
export function scriptArgs(): string[] {
  return (globalThis as RuntimeGlobals).Deno ? ['run', '-A'] : [];
}

/**
 * `socket._handle`: the libuv stream wrap (TCPWrap, PipeWrap; TLSWrap under tls.TLSSocket).
 * `fd` is the POSIX descriptor (-1 on Windows, absent in Deno); `writeQueueSize` the bytes libuv
 * still holds; the constructor's name tells TCP from Pipe without a getpeername() call.
 */
interface StreamHandle {
  fd?: unknown;
  /** Fills `out` with the peer's address; returns 0 or a negative errno (the kernel's getpeername). */
  getpeername?: (out: object) => number;
  writeQueueSize?: number;
  constructor?: { name?: string };
}

interface SocketInternals {
  _handle?: StreamHandle | null;
  /** Node >= 16.17 / 18.3: RST through uv_tcp_close_reset. TCP handles only. */
  resetAndDestroy?: () => net.Socket;
  /** The stream's first error (Node >= 18; public on Readable but not typed on net.Socket). */
  errored?: NodeJS.ErrnoException | null;
}

const internals = (socket: net.Socket | net.Server) => socket as unknown as SocketInternals;

/** The socket's libuv handle, or null when it has none (not connected yet, destroyed, sent to a child). */
export function streamHandle(socket: net.Socket): StreamHandle | null {
  return internals(socket)._handle ?? null;
}

/** `_handle.fd` of a socket or server: a number on POSIX Node, -1 on Windows, undefined where not exposed. */
export function handleFd(socket: net.Socket | net.Server): unknown {
  return internals(socket)._handle?.fd;
}

/** 'TCP', 'Pipe', 'TLSWrap', ... or undefined without a handle. */
export function handleKind(socket: net.Socket): string | undefined {
  return internals(socket)._handle?.constructor?.name;
}

/** Bytes libuv still queues for writing, where the runtime says (Node); undefined elsewhere. */
export function writeQueueSize(socket: net.Socket): number | undefined {
  const size = internals(socket)._handle?.writeQueueSize;
  return typeof size === 'number' ? size : undefined;
}

/**
 * Calls Node's resetAndDestroy() where this socket can use it (a TCP handle) and returns true;
 * false, touching nothing, elsewhere.
 */
export function nativeReset(socket: net.Socket): boolean {
  const s = internals(socket);
  if (typeof s.resetAndDestroy !== 'function' || handleKind(socket) !== 'TCP') return false;
  s.resetAndDestroy();
  return true;
}

/** The first error the socket emitted, if any. */
export function streamError(socket: net.Socket): NodeJS.ErrnoException | null {
  return internals(socket).errored ?? null;
}

interface DecodingState {
  /** The StringDecoder setEncoding() installed; null without one. */
  decoder?: { lastChar?: unknown; lastNeed?: unknown; lastTotal?: unknown; end?: () => string } | null;
  encoding?: string | null;
}

/**
 * Undoes setEncoding() on a socket without losing a byte: clears `_readableState.decoder` and
 * `.encoding` (plain fields on Node 18/20; accessors that clear a bit of the state on 22-26, so
 * assigning null works on all), after which Node pushes Buffers again. Returns the bytes the
 * decoder still held (the start of an incomplete character), read from the StringDecoder's
 * `lastChar`/`lastNeed`/`lastTotal` (kept on Node's native decoder for compatibility); where a
 * runtime lacks them, `end()` gives them back decoded in `encoding` instead.
 */
export function dropDecoder(socket: net.Socket, encoding: BufferEncoding): Buffer {
  const state = (socket as unknown as { _readableState?: DecodingState })._readableState;
  const decoder = state?.decoder;
  if (!state || !decoder) return Buffer.alloc(0);
  let held = Buffer.alloc(0);
  const { lastChar, lastNeed, lastTotal } = decoder;
  if (Buffer.isBuffer(lastChar) && typeof lastNeed === 'number' && typeof lastTotal === 'number') {
    if (lastNeed > 0) held = Buffer.from(lastChar.subarray(0, Math.max(0, lastTotal - lastNeed)));
  } else if (typeof decoder.end === 'function') {
    held = Buffer.from(decoder.end(), encoding);
  }
  state.decoder = null;
  state.encoding = null;
  return held;
}

/** A dgram socket's descriptor: Node keeps its handle behind a symbol described 'state symbol'. */
export function dgramFd(socket: dgram.Socket): unknown {
  const symbol = Object.getOwnPropertySymbols(socket).find((s) => s.description === 'state symbol');
  return symbol ? (socket as unknown as Record<symbol, { handle?: { fd?: unknown } }>)[symbol]?.handle?.fd : undefined;
}

/**
 * The kernel has a connection to a peer although Node may not have seen 'connect' yet
 * (getpeername() through the handle succeeds). False without a handle or where it cannot say.
 */
export function kernelConnected(socket: net.Socket): boolean {
  const handle = internals(socket)._handle;
  if (!handle || typeof handle.getpeername !== 'function') return false;
  try {
    return handle.getpeername({}) === 0;
  } catch {
    return false;
  }
}

const NODE_MAJOR = Number(process.versions.node?.split('.')[0]);

/** Reading a property of one of Node's HTTP/2 socket proxies throws one of these. */
function isHttp2ProxyError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'ERR_HTTP2_NO_SOCKET_MANIPULATION' || code === 'ERR_HTTP2_SOCKET_UNBOUND';
}

function isHttp2Session(value: unknown): boolean {
  return typeof value === 'object' && value !== null && /Http2Session$/.test(value.constructor?.name ?? '');
}

/**
 * The socket belongs to an HTTP/2 session: it is `session.socket` or the compatibility API's
 * `req.socket` (both Proxies that throw ERR_HTTP2_NO_SOCKET_MANIPULATION for resume(), end(),
 * destroy()...; checked on Node 18.20, 20.20, 22, 24, 26), or the socket under a session, which
 * Node marks when the session binds it: `socket[kBoundSession]`, where Node 20-26's
 * lib/internal/http2/core.js imports the symbol under a name its module does not export, so the
 * session lands under the string key "undefined"; Node 18 stores it under Symbol(kSession).
 */
export function isHttp2Socket(socket: net.Socket): boolean {
  if (typeof types.isProxy === 'function' && types.isProxy(socket)) {
    try {
      void (socket as unknown as { resume: unknown }).resume;
      return false;
    } catch (err) {
      if (isHttp2ProxyError(err)) return true;
      throw err;
    }
  }
  if (isHttp2Session((socket as unknown as Record<string, unknown>)['undefined'])) return true;
  // Node 18 keeps it under Symbol(kSession); a later Node that fixes the import would use
  // Symbol(kBoundSession). Scanning symbols costs ~1 µs, so only where the string key is not used.
  if (NODE_MAJOR === 18 || NODE_MAJOR > 26) {
    for (const symbol of Object.getOwnPropertySymbols(socket)) {
      if (symbol.description === 'kSession' || symbol.description === 'kBoundSession') {
        if (isHttp2Session((socket as unknown as Record<symbol, unknown>)[symbol])) return true;
      }
    }
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Node's HTTP server (enableLingeringClose). Read in lib/_http_server.js, lib/_http_common.js and
// lib/net.js of Node 18.20.8, 20.20.2, 22.23.5, 24.22.3 and 26.12.1 (the same listener names and
// parser methods on all five); Bun 1.4.5 has its own node:http and none of them.

/** Node's HTTP parser as lib/_http_server.js attaches it to a server socket (`socket.parser`). */
export interface HttpParserInternals {
  /** The request being parsed; cleared once a request's body has ended (clearIncoming). */
  incoming: HttpIncomingInternals | null;
  /** True while the parser reads the socket's handle itself, in C++ (`parser.consume(handle)`). */
  _consumed?: boolean;
  /** Hands the handle's reads back to the socket ('data' events). */
  unconsume?: () => void;
  /** Takes the connection out of the server's connections list (request timeouts, closeAllConnections). */
  remove?: () => void;
}

export interface HttpIncomingInternals {
  complete: boolean;
  upgrade?: boolean;
}

interface SocketHandleInternals {
  reading?: boolean;
  readStart?: () => number;
}

/** The fields of a server-side socket read here. */
export interface HttpSocketInternals {
  /** Set by connectionListenerInternal; null once freed (socket closed, or upgrade/CONNECT handed it over). */
  parser?: HttpParserInternals | null;
  /** The response the socket currently carries; null between responses (res.detachSocket in resOnFinish). */
  _httpMessage?: HttpResponseInternals | null;
  /** http's own "paused because of backpressure or pipelining" flag (parserOnIncoming, socketOnDrain). */
  _paused?: boolean;
  _handle?: SocketHandleInternals | null;
}

export interface HttpResponseInternals {
  writableEnded: boolean;
  /** Public since Node 15.7. */
  req?: HttpIncomingInternals;
  /** Chunks queued on the response because it has no socket yet (a pipelined response). */
  outputData?: unknown[];
}

export function httpInternals(socket: net.Socket): HttpSocketInternals {
  return socket as unknown as HttpSocketInternals;
}

/**
 * The listeners connectionListenerInternal hangs on every server socket, by event and by the
 * function's name. The four `socketOn*` handlers are bound functions (`fn.bind(undefined, server,
 * socket, parser, state)`), so their names carry the "bound " prefix. Same names on 18-26.
 * 'close' (socketOnClose) is left in place: it frees the parser and aborts pipelined requests
 * when the socket finally closes, as it would without lingering.
 */
const HTTP_SOCKET_LISTENERS: ReadonlyArray<readonly [string, string]> = [
  ['data', 'bound socketOnData'], // parser.execute() of bytes read by JS (after an unconsume)
  ['end', 'bound socketOnEnd'], // parser.finish(): a FIN mid-body is HPE_INVALID_EOF_STATE -> 'clientError' (22+)
  ['drain', 'bound socketOnDrain'], // resumes the parser after backpressure
  ['error', 'socketOnError'], // emits 'clientError'
  ['timeout', 'socketOnTimeout'], // destroys on server.timeout / keepAliveTimeout
  ['resume', 'onSocketResume'], // restarts the handle's reads for the C++ parser
  ['pause', 'onSocketPause'], // stops them
];

let warned = false;
function warnUnknownHttp(): void {
  if (warned) return;
  warned = true;
  process.emitWarning(
    `enableLingeringClose: this runtime's HTTP server socket lacks the listeners net-linger takes off (checked on Node 18-26); closes keep ${process.release.name} ${process.version}'s default behaviour`,
    { type: 'NetLingerWarning', code: 'NET_LINGER_HTTP_INTERNALS' },
  );
}

/**
 * Runtimes whose node:http is their own implementation, without Node's parser on the socket:
 * Bun (checked 1.4.5) and Deno. Lingering there is refused with a typed error, not a silent no-op.
 */
export function foreignHttpRuntime(): string | undefined {
  return currentRuntime().name === 'node' ? undefined : runtimeName();
}

const endWrappers = new WeakSet<(...args: unknown[]) => void>();

/**
 * Puts `wrap(original)` in the place of Node's bound socketOnEnd, which runs parser.finish() on
 * the client's FIN: a FIN in the middle of a body is HPE_INVALID_EOF_STATE, reported as
 * 'clientError' even when the response was already complete and the client merely stopped
 * uploading. Returns false when the socket has no such listener.
 */
export function wrapHttpEndListener(socket: net.Socket, wrap: (original: () => void) => () => void): boolean {
  for (const listener of socket.listeners('end')) {
    if ((listener as { name?: string }).name !== 'bound socketOnEnd') continue;
    const replacement = wrap(listener as () => void);
    endWrappers.add(replacement);
    socket.removeListener('end', listener as () => void);
    socket.on('end', replacement);
    return true;
  }
  return false;
}

/**
 * Takes Node's HTTP machinery off a server socket so that nothing it receives from now on is
 * parsed: no new request, no 'clientError', no request timeout. What the upgrade path of
 * onParserExecuteCommon does, minus freeing the parser (socketOnClose still does that on close).
 * Returns false, touching nothing, when the socket has no parser (already freed, upgraded) or
 * its listeners are not the ones named here.
 */
export function detachHttpParser(socket: net.Socket): boolean {
  const s = httpInternals(socket);
  const parser = s.parser;
  if (!parser) return false;
  // A runtime whose http module hangs other listeners (renamed in a later Node, or Bun's own
  // http) is left alone: Node's default close applies rather than half a detach.
  const named = (event: string, name: string) => socket.listeners(event).some((l) => (l as { name?: string }).name === name || endWrappers.has(l as () => void));
  if (!named('end', 'bound socketOnEnd') || !named('error', 'socketOnError')) {
    warnUnknownHttp();
    return false;
  }
  for (const [event, name] of HTTP_SOCKET_LISTENERS) {
    for (const listener of socket.listeners(event)) {
      const fn = listener as (...a: unknown[]) => void;
      if ((listener as { name?: string }).name === name || endWrappers.has(fn)) socket.removeListener(event, fn);
    }
  }
  if (parser._consumed && typeof parser.unconsume === 'function') parser.unconsume();
  parser._consumed = false;
  if (typeof parser.remove === 'function') parser.remove();
  s._paused = false;
  socket.setTimeout(0);
  return true;
}

/**
 * Makes sure the handle reads again. On Node 18/20 the handle was stopped by http's onSocketPause
 * while the parser owned it, and the Readable state still says a read is in flight
 * (`_readableState.reading`), so `resume()` alone never restarts it; 22+ keep the handle reading.
 * Starting it the way net's tryReadStart does covers both.
 */
export function restartReading(socket: net.Socket): void {
  socket.resume();
  const handle = httpInternals(socket)._handle;
  if (handle && handle.reading === false && typeof handle.readStart === 'function') {
    handle.reading = true;
    handle.readStart();
  }
}
