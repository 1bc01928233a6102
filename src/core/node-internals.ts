// Every private Node field and runtime difference net-linger relies on, in one place (this file,
// node-internals-http.ts for Node's HTTP server, which only the HTTP integration reads, and
// node-internals-read.ts for the user-buffer read path the drain discards through).
//
// Checked on Node.js 18.20, 20.20, 22.x, 24.x and 26.x (the runtime matrix, npm run test:matrix),
// Bun 1.3 and Deno 2 (Deno has no descriptor: callers get ERR_NET_LINGER_UNSUPPORTED). When a
// Node release changes one of these, this file is the only one to change.
import type dgram from 'node:dgram';
import type net from 'node:net';
import { types } from 'node:util';

/** The running JavaScript runtime: Node, Bun or Deno, and libuv's version where it has one. */
export interface RuntimeInfo {
  /** Which runtime runs this code: 'node', 'bun' (its node:net is its own) or 'deno'. */
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
  // Asked on every close (global lookups of absent names are slow paths): answered once.
  return (runtime ??= detectRuntime());
}

let runtime: RuntimeInfo | undefined;

function detectRuntime(): RuntimeInfo {
  const g = globalThis as RuntimeGlobals;
  const name = g.Deno ? 'deno' : g.Bun ? 'bun' : 'node';
  return Object.freeze({ name, libuv: name === 'node' ? process.versions.uv : undefined });
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

/** The start of an incomplete character a StringDecoder holds (its lastChar/lastNeed/lastTotal); null where it lacks them. */
function heldBytes(decoder: NonNullable<DecodingState['decoder']>): Buffer | null {
  const { lastChar, lastNeed, lastTotal } = decoder;
  if (!Buffer.isBuffer(lastChar) || typeof lastNeed !== 'number' || typeof lastTotal !== 'number') return null;
  return lastNeed > 0 ? Buffer.from(lastChar.subarray(0, Math.max(0, lastTotal - lastNeed))) : Buffer.alloc(0);
}

/**
 * How many bytes of an incomplete character setEncoding()'s decoder holds (read, not yet text):
 * 0 without a decoder, or where the runtime's decoder does not say.
 */
export function decoderHeldBytes(socket: net.Socket): number {
  const decoder = (socket as unknown as { _readableState?: DecodingState })._readableState?.decoder;
  return decoder ? heldBytes(decoder)?.length ?? 0 : 0;
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
  let held = heldBytes(decoder);
  if (held === null) held = typeof decoder.end === 'function' ? Buffer.from(decoder.end(), encoding) : Buffer.alloc(0);
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
