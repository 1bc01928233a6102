// resetClose(): an RST now, deliberately, for a live net.Socket or tls.TLSSocket, and the pieces the
// draining closes share with it (telling TCP apart, resetting through libuv or SO_LINGER {1,0}).
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { NetLingerError } from '../core/errors.js';
import { getLinger, lingerMayBeArmed, setLinger } from '../core/socket-ops.js';
import { handleKind, isHttp2Socket, kernelConnected, nativeReset, streamHandle } from '../core/node-internals.js';
import { validateSocket } from '../core/validate.js';

export interface ResetCloseReport {
  /** 'reset': this call sent the RST; 'closed': there was no connection left to reset (already destroyed, no handle, or never connected). */
  outcome: 'reset' | 'closed';
  /** How the RST was arranged: Node's own resetAndDestroy(), or SO_LINGER {1,0} then destroy(). */
  via: 'resetAndDestroy' | 'linger-zero' | null;
  /** Milliseconds from the call to the socket's 'close'. */
  elapsedMs: number;
}

// Marks the sockets this module reset, so a concurrent or later gracefulClose/lingerClose can
// say 'aborted'. A property rather than a WeakSet: cheaper per close, and gone with the socket.
export const kResetHere = Symbol('netLingerReset');

export function markReset(socket: net.Socket): void {
  (socket as unknown as Record<symbol, boolean>)[kResetHere] = true;
}

export function wasResetHere(socket: net.Socket): boolean {
  return (socket as unknown as Record<symbol, boolean | undefined>)[kResetHere] === true;
}

/** Refuses, before anything is touched, a socket an HTTP/2 session owns. */
/**
 * onTimeout: 'reset' on a socket that is not TCP: refused up front, as resetClose() refuses it (a
 * Unix-domain socket has no RST), rather than a plain close reported as a reset.
 */
export function refuseResetOfNonTcp(socket: net.Socket, onTimeout: 'reset' | 'close'): void {
  if (onTimeout === 'reset' && streamHandle(socket) && !isTcp(socket)) {
    throw new NetLingerError('ERR_NET_LINGER_UNSUPPORTED', "Only a TCP connection can be reset; this socket is not TCP, so onTimeout: 'reset' cannot be honoured");
  }
}

export function refuseHttp2(socket: net.Socket): void {
  if (isHttp2Socket(socket)) {
    throw new NetLingerError(
      'ERR_NET_LINGER_HTTP2',
      'This socket belongs to an HTTP/2 session, which owns its reads, writes and close: end it with session.close() (GOAWAY, then close) or session.destroy()',
    );
  }
}

/** A TCP connection (plain or under TLS), as opposed to a Unix-domain socket or a pipe. */
export function isTcp(socket: net.Socket): boolean {
  // The handle's type answers for plain sockets; reading remotePort costs a getpeername() call,
  // so it is asked only of other handles (TLS's wrapper).
  const kind = handleKind(socket);
  if (kind === 'TCP') return true;
  if (kind === 'Pipe') return false;
  return typeof socket.remotePort === 'number';
}

export function waitClosed(socket: net.Socket): Promise<void> {
  if (socket.closed) return Promise.resolve();
  return new Promise((resolve) => socket.once('close', () => resolve()));
}

/**
 * Arranges an RST and destroys the socket, or throws before touching it. Node's own
 * resetAndDestroy() is used where Node can do it: a TCP handle whose write side was never ended.
 * It throws ERR_INVALID_HANDLE_TYPE for TLS sockets, and after end() libuv refuses it (EINVAL,
 * emitted as 'error') while the shutdown is pending and Node then never closes the handle; there
 * SO_LINGER {1,0} + destroy() gives the same deterministic RST.
 */
export function resetNow(socket: net.Socket): 'resetAndDestroy' | 'linger-zero' {
  // 'close' comes on a later tick, so marking after the call is in time.
  if (!socket.writableEnded && nativeReset(socket)) {
    markReset(socket);
    return 'resetAndDestroy';
  }
  setLinger(socket, true, 0);
  markReset(socket);
  socket.destroy();
  return 'linger-zero';
}

/**
 * Turns off an SO_LINGER setting left on the socket, so the plain close a draining helper ends
 * with (its own destroy(), or Node's once both directions have ended) does what the helper says:
 * with {1, N > 0} Linux's close() would block the event loop up to N s (even on a non-blocking
 * socket), Windows' closesocket() would fail WSAEWOULDBLOCK on a non-blocking socket (libuv
 * ignores that), macOS would not wait (a non-blocking close never does); with {1, 0} every OS
 * would turn the close into an RST. With {0, ...} close() returns at once on every OS and the
 * kernel sends the FIN after the queued data, in the background. A failure to read or change the
 * setting (the handle is going away) leaves it as it is. Looked for where net-linger's setLinger()
 * armed it (on this socket, or on any bare descriptor); a setting made by other native code is
 * not seen.
 */
export function disarmLinger(socket: net.Socket): void {
  // Only where setLinger() may have armed it: SO_LINGER set by other native code behind
  // net-linger's back is not looked for (a getsockopt per close would cost 2-3 µs).
  if (!lingerMayBeArmed(socket)) return;
  try {
    if (getLinger(socket).onoff) setLinger(socket, false, 0);
  } catch {
    // Nothing to disarm on a handle that cannot be asked.
  }
}

/**
 * A socket with no connection to close: no handle (`new net.Socket()`, or one sent to a child
 * process), or still connecting (nothing was ever established as far as Node knows; queued
 * writes were never sent). It is destroyed now; the report says 'closed'.
 */
export function hasNoConnection(socket: net.Socket): boolean {
  return socket.connecting || !streamHandle(socket);
}

/**
 * Abortive close: RST now, unsent data discarded, no TIME_WAIT on this side. Works for
 * `net.Socket` and `tls.TLSSocket` (through Node's `resetAndDestroy()` where Node allows it,
 * else SO_LINGER {1,0} + `destroy()`). Resolves once 'close' fired, to `{ outcome, via, elapsedMs }`.
 *
 * What the peer observes: whatever it had not read yet is lost. A peer reading when the RST
 * arrives sees either ECONNRESET or, on Linux, a plain end of stream: libuv reads an RST that
 * comes with POLLHUP after a short read as EOF (a flowing TLS client reading 1 MB here got part
 * of it, then 'end' without a close_notify). Its next write fails (ECONNRESET or EPIPE) either
 * way, and the closer leaves no TIME_WAIT.
 *
 * 'closed' instead of 'reset', at once: the socket was already destroyed (idempotent: a second
 * call only waits for 'close'), has no handle, or is still connecting — then no connection
 * existed to reset, unless the kernel had completed the handshake before Node saw it, in which
 * case that connection is reset ('reset', 'linger-zero'). A refused connect is 'closed'.
 * resetClose() may be called while gracefulClose() or lingerClose() runs: it is the escalation,
 * and they report 'aborted'.
 *
 * Throws (synchronously, leaving the socket alone) NetLingerError ERR_NET_LINGER_HTTP2 for a
 * socket an HTTP/2 session owns, ERR_NET_LINGER_UNSUPPORTED for a socket that is not TCP (a
 * Unix-domain socket has no RST), and the socket calls' errors where the platform gives no
 * handle for SO_LINGER.
 */
export function resetClose(socket: net.Socket): Promise<ResetCloseReport> {
  validateSocket(socket);
  refuseHttp2(socket);
  const start = performance.now();
  if (socket.destroyed) return reportReset(socket, start, 'closed', null);
  if (hasNoConnection(socket)) {
    if (socket.connecting && kernelConnected(socket)) {
      try {
        setLinger(socket, true, 0);
        markReset(socket);
        socket.destroy();
        return reportReset(socket, start, 'reset', 'linger-zero');
      } catch {
        // No SO_LINGER here: a plain destroy() below.
      }
    }
    socket.destroy();
    return reportReset(socket, start, 'closed', null);
  }
  if (!isTcp(socket)) {
    throw new NetLingerError('ERR_NET_LINGER_UNSUPPORTED', 'Only a TCP connection can be reset; this socket is not TCP');
  }
  // Errors that race the reset (a write failing on the way down) must not go unhandled.
  socket.on('error', swallow);
  let via: 'resetAndDestroy' | 'linger-zero';
  try {
    via = resetNow(socket);
  } catch (err) {
    socket.off('error', swallow);
    throw err;
  }
  return new Promise((resolve) => {
    const done = () => {
      socket.off('error', swallow);
      resolve({ outcome: 'reset', via, elapsedMs: performance.now() - start });
    };
    if (socket.closed) done();
    else socket.once('close', done);
  });
}

export function swallow(): void {
  // An error racing a close this module started.
}

export function reportReset(
  socket: net.Socket, start: number, outcome: ResetCloseReport['outcome'], via: ResetCloseReport['via'],
): Promise<ResetCloseReport> {
  return waitClosed(socket).then((): ResetCloseReport => ({ outcome, via, elapsedMs: performance.now() - start }));
}
