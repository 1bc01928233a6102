// Every private Node field and runtime difference net-linger relies on, in one place.
//
// Checked on Node.js 18.20, 20.20, 22.x, 24.x and 26.x (the runtime matrix, npm run test:matrix),
// Bun 1.3 and Deno 2 (Deno has no descriptor: callers get ERR_NET_LINGER_UNSUPPORTED). When a
// Node release changes one of these, this file is the only one to change.
import type dgram from 'node:dgram';
import type net from 'node:net';

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

/** Node's resetAndDestroy(), where this socket can use it (a TCP handle); undefined elsewhere. */
export function nativeReset(socket: net.Socket): (() => net.Socket) | undefined {
  const fn = internals(socket).resetAndDestroy;
  return typeof fn === 'function' && handleKind(socket) === 'TCP' ? fn.bind(socket) : undefined;
}

/** The first error the socket emitted, if any. */
export function streamError(socket: net.Socket): NodeJS.ErrnoException | null {
  return internals(socket).errored ?? null;
}

/** A dgram socket's descriptor: Node keeps its handle behind a symbol described 'state symbol'. */
export function dgramFd(socket: dgram.Socket): unknown {
  const symbol = Object.getOwnPropertySymbols(socket).find((s) => s.description === 'state symbol');
  return symbol ? (socket as unknown as Record<symbol, { handle?: { fd?: unknown } }>)[symbol]?.handle?.fd : undefined;
}
