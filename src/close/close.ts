import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { NetLingerError, isConnectionReset, normalizeErrorCode } from '../core/errors.js';
import { getLinger, lingerMayBeArmed, pendingBytes, setLinger } from '../core/socket-ops.js';
import {
  handleKind, isHttp2Socket, kernelConnected, nativeReset, streamError, streamHandle,
} from '../core/node-internals.js';
import {
  DEFAULT_LINGERING_TIME, DEFAULT_LINGERING_TIMEOUT, Drain,
} from './drain.js';
import { pollWithBackoff } from '../core/poll.js';
import {
  MAX_TIMER_MS, invalidArgType, outOfRange, validateChoice, validateInteger, validateOptionsObject, validateSignal, validateSocket,
} from '../core/validate.js';

// Closing live Node sockets on purpose, without blocking the event loop.
//
// Contract shared by the three helpers: everything that can be refused is refused before the
// socket is touched, by a synchronous throw (bad arguments: Node's TypeError/RangeError; a close
// this platform or socket cannot do: NetLingerError). Once a helper has started acting, it
// reports through its promise, which resolves after the socket's 'close' event and never
// rejects for what the peer does.

/** How a close ended up. */
export type GracefulCloseOutcome = 'fin' | 'timeout' | 'aborted' | 'peer-reset' | 'error' | 'closed';
export type LingerCloseOutcome = 'acked' | 'fin' | 'timeout' | 'aborted' | 'peer-reset' | 'error' | 'closed';

export interface ResetCloseReport {
  /** 'reset': this call sent the RST; 'closed': there was no connection left to reset (already destroyed, no handle, or never connected). */
  outcome: 'reset' | 'closed';
  /** How the RST was arranged: Node's own resetAndDestroy(), or SO_LINGER {1,0} then destroy(). */
  via: 'resetAndDestroy' | 'linger-zero' | null;
  elapsedMs: number;
}

export interface GracefulCloseOptions {
  /** Upper bound for the whole close, in ms (nginx lingering_time). Default 30000. */
  lingeringTime?: number;
  /** Longest wait for the peer between two reads once the write side is done, in ms (nginx lingering_timeout). Default 5000. */
  lingeringTimeout?: number;
  /** Stops waiting; the close then ends as `onTimeout` says. */
  signal?: AbortSignal;
  /** How the close ends when a cap is hit or the signal aborts: 'close' (default, a plain close) or 'reset' (RST). */
  onTimeout?: 'reset' | 'close';
}

export interface GracefulCloseReport {
  outcome: GracefulCloseOutcome;
  /** Bytes (not characters, whatever the socket's encoding) read and discarded after the call. */
  drainedBytes: number;
  elapsedMs: number;
  /** The normalised error code, for 'peer-reset' (always ECONNRESET) and 'error'. */
  code?: string;
  /** This call ended the connection with an RST. */
  reset: boolean;
}

export interface LingerCloseOptions {
  /** How the close ends when the time runs out or the signal aborts: 'close' (default, the kernel keeps delivering in the background, as Linux's SO_LINGER does) or 'reset' (RST, unsent data discarded). */
  onTimeout?: 'reset' | 'close';
  signal?: AbortSignal;
  /**
   * Once the peer has acknowledged everything: how long it may stay silent, in ms, before the
   * close takes that silence as "done sending" (its FIN ends the wait at once). Default 1000
   * (shorter than gracefulClose's 5000: the peer has already taken everything we sent).
   */
  lingeringTimeout?: number;
}

export interface LingerCloseReport {
  outcome: LingerCloseOutcome;
  /** Bytes the peer had not acknowledged when the socket was closed (0 for 'acked'). */
  unackedBytes: number | null;
  /** Bytes (not characters) read and discarded after the call. */
  drainedBytes: number;
  elapsedMs: number;
  code?: string;
  reset: boolean;
}

const DEFAULT_LINGER_QUIET = 1_000;

// Marks the sockets this module reset, so a concurrent or later gracefulClose/lingerClose can
// say 'aborted'. A property rather than a WeakSet: cheaper per close, and gone with the socket.
const kResetHere = Symbol('netLingerReset');
function markReset(socket: net.Socket): void {
  (socket as unknown as Record<symbol, boolean>)[kResetHere] = true;
}
function wasResetHere(socket: net.Socket): boolean {
  return (socket as unknown as Record<symbol, boolean | undefined>)[kResetHere] === true;
}

/** The draining close running on a socket: which helper, with which options, and its promise. */
interface RunningClose {
  helper: 'gracefulClose' | 'lingerClose';
  /** The call's options after defaults, compared one by one (the signal by identity). */
  key: readonly unknown[];
  promise: Promise<GracefulCloseReport> | Promise<LingerCloseReport>;
}
const running = new WeakMap<net.Socket, RunningClose>();

/**
 * A second call while a draining close runs: the very same promise when it is the same helper
 * with equal options; a typed error otherwise (the first call's options would silently win).
 */
function joinRunning(socket: net.Socket, helper: RunningClose['helper'], key: readonly unknown[]): RunningClose['promise'] | undefined {
  const current = running.get(socket);
  if (!current) return undefined;
  if (current.helper === helper && current.key.every((value, i) => value === key[i])) return current.promise;
  throw new NetLingerError(
    'ERR_NET_LINGER_CLOSE_IN_PROGRESS',
    current.helper === helper
      ? `${helper}() is already closing this socket with other options`
      : `${current.helper}() is already closing this socket; ${helper}() cannot take over (resetClose() can)`,
  );
}

/** Refuses, before anything is touched, a socket an HTTP/2 session owns. */
/**
 * onTimeout: 'reset' on a socket that is not TCP: refused up front, as resetClose() refuses it (a
 * Unix-domain socket has no RST), rather than a plain close reported as a reset.
 */
function refuseResetOfNonTcp(socket: net.Socket, onTimeout: 'reset' | 'close'): void {
  if (onTimeout === 'reset' && streamHandle(socket) && !isTcp(socket)) {
    throw new NetLingerError('ERR_NET_LINGER_UNSUPPORTED', "Only a TCP connection can be reset; this socket is not TCP, so onTimeout: 'reset' cannot be honoured");
  }
}

function refuseHttp2(socket: net.Socket): void {
  if (isHttp2Socket(socket)) {
    throw new NetLingerError(
      'ERR_NET_LINGER_HTTP2',
      'This socket belongs to an HTTP/2 session, which owns its reads, writes and close: end it with session.close() (GOAWAY, then close) or session.destroy()',
    );
  }
}

/** A TCP connection (plain or under TLS), as opposed to a Unix-domain socket or a pipe. */
function isTcp(socket: net.Socket): boolean {
  // The handle's type answers for plain sockets; reading remotePort costs a getpeername() call,
  // so it is asked only of other handles (TLS's wrapper).
  const kind = handleKind(socket);
  if (kind === 'TCP') return true;
  if (kind === 'Pipe') return false;
  return typeof socket.remotePort === 'number';
}

function waitClosed(socket: net.Socket): Promise<void> {
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
function resetNow(socket: net.Socket): 'resetAndDestroy' | 'linger-zero' {
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
function disarmLinger(socket: net.Socket): void {
  // Only where setLinger() may have armed it: SO_LINGER set by other native code behind
  // net-linger's back is not looked for (a getsockopt per close would cost 2-3 µs).
  if (!lingerMayBeArmed(socket)) return;
  try {
    if (getLinger(socket).onoff) setLinger(socket, false, 0);
  } catch {
    // Nothing to disarm on a handle that cannot be asked.
  }
}

/** A report's view of a socket that was already gone, or was closed by other code. */
function closedElsewhere(socket: net.Socket): { outcome: 'aborted' | 'peer-reset' | 'error'; code?: string } {
  if (wasResetHere(socket)) return { outcome: 'aborted' };
  const errored = streamError(socket);
  return errored ? errorOutcome(errored) : { outcome: 'error', code: 'ERR_SOCKET_CLOSED' };
}

/**
 * A socket with no connection to close: no handle (`new net.Socket()`, or one sent to a child
 * process), or still connecting (nothing was ever established as far as Node knows; queued
 * writes were never sent). It is destroyed now; the report says 'closed'.
 */
function hasNoConnection(socket: net.Socket): boolean {
  return socket.connecting || !streamHandle(socket);
}

/** How a close reports the first error the socket emitted while it ran. */
function errorOutcome(err: NodeJS.ErrnoException): { outcome: 'peer-reset' | 'error'; code: string } {
  const normalized = normalizeErrorCode(err) ?? err.code ?? 'UNKNOWN';
  // Linux reports an RST that arrives after the peer's FIN (CLOSE_WAIT) as EPIPE, not
  // ECONNRESET (tcp_reset); these helpers never write after their own shutdown, so an EPIPE here
  // is that reset.
  if (normalized === 'EPIPE' && process.platform === 'linux') return { outcome: 'peer-reset', code: 'ECONNRESET' };
  return { outcome: isConnectionReset(err) ? 'peer-reset' : 'error', code: normalized };
}

/**
 * Ends a connection whose close hit a cap or was aborted: an RST where asked and possible, else a
 * plain close. Returns whether the RST was arranged.
 */
function endOnCap(socket: net.Socket, wantReset: boolean): boolean {
  if (wantReset) {
    try {
      resetNow(socket);
      return true;
    } catch {
      // No way to arrange an RST here (see resetClose): a plain close still ends it.
    }
  }
  socket.destroy();
  return false;
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

function swallow(): void {
  // An error racing a close this module started.
}

function reportReset(
  socket: net.Socket, start: number, outcome: ResetCloseReport['outcome'], via: ResetCloseReport['via'],
): Promise<ResetCloseReport> {
  return waitClosed(socket).then((): ResetCloseReport => ({ outcome, via, elapsedMs: performance.now() - start }));
}

/**
 * The orderly close that spares the peer an ECONNRESET: (a, b) `socket.end()` — Node sends the
 * FIN only after every queued write has reached the kernel; (c) read and discard whatever the
 * peer still sends, until its FIN; (d) destroy. Caps as in nginx's lingering close:
 * `lingeringTime` bounds the whole close, `lingeringTimeout` the silence between two reads once
 * the write side is done; `signal` stops it early. When a cap is hit or the signal aborts,
 * `onTimeout` ends the connection: 'close' (a plain close) or 'reset' (RST).
 *
 * Resolves, after 'close', to `{ outcome, drainedBytes, elapsedMs, code?, reset }`; the peer's
 * misbehaviour is an outcome, never a rejection. 'closed', at once: the socket has no handle or
 * is still connecting (destroyed; nothing was established to close). 'peer-reset': the peer
 * reset the connection, including after its own FIN (which Linux reports as EPIPE). The socket
 * is read whatever its mode: resumed, or read() for a leftover 'readable' listener; stop
 * consuming it yourself before calling. drainedBytes counts bytes even after setEncoding().
 *
 * An SO_LINGER setting left on the socket is turned off first ({0, 0}): {1, N} would make the
 * closing destroy() block the event loop on Linux (see setLinger), {1, 0} would make it an RST.
 *
 * One close per socket: a second call while one runs returns the very same promise when its
 * options are equal after defaults (the signal compared by identity), and throws NetLingerError
 * ERR_NET_LINGER_CLOSE_IN_PROGRESS when they differ or lingerClose() is running; resetClose()
 * may always take over (this close then reports 'aborted'). Throws ERR_NET_LINGER_HTTP2 for a
 * socket an HTTP/2 session owns, and ERR_NET_LINGER_UNSUPPORTED for onTimeout: 'reset' on a
 * socket that is not TCP (as resetClose() does).
 */
export function gracefulClose(socket: net.Socket, options?: GracefulCloseOptions): Promise<GracefulCloseReport> {
  validateSocket(socket);
  const opts = validateOptionsObject(options);
  const lingeringTime = opts.lingeringTime === undefined
    ? DEFAULT_LINGERING_TIME
    : validateInteger(opts.lingeringTime, 'options.lingeringTime', 0, MAX_TIMER_MS);
  const lingeringTimeout = opts.lingeringTimeout === undefined
    ? DEFAULT_LINGERING_TIMEOUT
    : validateInteger(opts.lingeringTimeout, 'options.lingeringTimeout', 0, MAX_TIMER_MS);
  const signal = validateSignal(opts.signal);
  const onTimeout = validateChoice(opts.onTimeout, 'options.onTimeout', ['reset', 'close'] as const, 'close');
  refuseHttp2(socket);
  refuseResetOfNonTcp(socket, onTimeout);

  const key = [lingeringTime, lingeringTimeout, signal, onTimeout];
  const joined = joinRunning(socket, 'gracefulClose', key) as Promise<GracefulCloseReport> | undefined;
  if (joined) return joined;
  const start = performance.now();
  if (socket.destroyed) {
    return waitClosed(socket).then(() => ({ ...closedElsewhere(socket), drainedBytes: 0, elapsedMs: performance.now() - start, reset: false }));
  }
  if (hasNoConnection(socket)) {
    socket.destroy();
    return waitClosed(socket).then(() => ({ outcome: 'closed', drainedBytes: 0, elapsedMs: performance.now() - start, reset: false }));
  }
  disarmLinger(socket);
  const promise = runGracefulClose(socket, lingeringTime, lingeringTimeout, signal, onTimeout, start);
  running.set(socket, { helper: 'gracefulClose', key, promise });
  return promise;
}

function runGracefulClose(
  socket: net.Socket,
  lingeringTime: number,
  lingeringTimeout: number,
  signal: AbortSignal | undefined,
  onTimeout: 'reset' | 'close',
  start: number,
): Promise<GracefulCloseReport> {
  return new Promise((resolve) => {
    let outcome: GracefulCloseOutcome | undefined;
    let code: string | undefined;
    let reset = false;

    const drain: Drain = new Drain(socket, { lingeringTime, lingeringTimeout, signal }, {
      done: () => {
        if (outcome) return;
        outcome = 'fin';
        socket.destroy();
      },
      error: (err) => {
        if (!outcome) ({ outcome, code } = errorOutcome(err));
      },
      cap: () => stop('timeout'),
      aborted: () => stop('aborted'),
      close: () => {
        if (!outcome) {
          if (drain.peerEnded && drain.writeDone) outcome = 'fin';
          else ({ outcome, code } = closedElsewhere(socket));
        }
        const report: GracefulCloseReport = { outcome, drainedBytes: drain.drained(), elapsedMs: performance.now() - start, reset };
        if (code !== undefined) report.code = code;
        running.delete(socket);
        resolve(report);
      },
    });

    function stop(why: 'timeout' | 'aborted') {
      if (outcome || socket.destroyed) return;
      outcome = why;
      reset = endOnCap(socket, onTimeout === 'reset');
    }

    drain.start();
  });
}

/**
 * What SO_LINGER {1, N} promises, without freezing the event loop: `socket.end()`, then wait
 * (polling `pendingBytes().unacked` with backoff on timers) until the peer has acknowledged every
 * byte and the FIN, or `seconds` pass; then destroy — or, on timeout, as `onTimeout` says
 * ('close' by default: the kernel keeps delivering, as Linux does after a lingering close
 * times out; 'reset': RST).
 *
 * Whatever the peer sends meanwhile is read and discarded (resumed, or read() for a leftover
 * 'readable' listener), and the close waits for the peer to be done sending, because data that
 * reaches a closed socket makes every OS answer with an RST (the peer's next write then fails).
 * 'acked' therefore means: every byte and our FIN acknowledged, and the peer finished sending —
 * its FIN arrived, or it stayed silent for `lingeringTimeout` ms (default 1000) since its last
 * byte (or since the call). When `seconds` run out first — the peer kept sending, or the
 * silence had not lasted `lingeringTimeout` yet — the outcome is 'timeout' with unackedBytes
 * 0, closed as `onTimeout` says (data the peer sends later is answered with an RST either way:
 * Linux, macOS and Windows all reset a connection whose socket is closed when data arrives).
 *
 * Throws NetLingerError ERR_NET_LINGER_UNSUPPORTED where the platform cannot report
 * unacknowledged bytes (it does not guess) or for onTimeout: 'reset' on a socket that is not TCP
 * (as resetClose() does), and ERR_NET_LINGER_HTTP2 for a socket an HTTP/2 session owns.
 * Resolves, after 'close', to
 * `{ outcome, unackedBytes, drainedBytes, elapsedMs, code?, reset }`. Outcome 'fin': the peer
 * half-closed and Node closed the socket itself (both directions ended) before every byte was
 * acknowledged; the kernel goes on delivering the rest. 'closed' at once for a socket with no
 * handle or still connecting; 'peer-reset' as for gracefulClose (an SO_LINGER setting left on
 * the socket is turned off first, as there). One close per socket, as for gracefulClose (the
 * options compared are `seconds`, `onTimeout`, `signal` and `lingeringTimeout`).
 */
export function lingerClose(socket: net.Socket, seconds: number, options?: LingerCloseOptions): Promise<LingerCloseReport> {
  validateSocket(socket);
  if (typeof seconds !== 'number') throw invalidArgType('seconds', 'of type number', seconds);
  const maxSeconds = Math.floor(MAX_TIMER_MS / 1000);
  if (!(seconds >= 0 && seconds <= maxSeconds)) throw outOfRange('seconds', `>= 0 && <= ${maxSeconds}`, seconds);
  const opts = validateOptionsObject(options);
  const onTimeout = validateChoice(opts.onTimeout, 'options.onTimeout', ['reset', 'close'] as const, 'close');
  const signal = validateSignal(opts.signal);
  const lingeringTimeout = opts.lingeringTimeout === undefined
    ? DEFAULT_LINGER_QUIET
    : validateInteger(opts.lingeringTimeout, 'options.lingeringTimeout', 0, MAX_TIMER_MS);
  refuseHttp2(socket);
  refuseResetOfNonTcp(socket, onTimeout);

  const key = [seconds, onTimeout, signal, lingeringTimeout];
  const joined = joinRunning(socket, 'lingerClose', key) as Promise<LingerCloseReport> | undefined;
  if (joined) return joined;
  const start = performance.now();
  if (socket.destroyed) {
    return waitClosed(socket).then(() => ({
      ...closedElsewhere(socket), unackedBytes: null, drainedBytes: 0, elapsedMs: performance.now() - start, reset: false,
    }));
  }
  if (hasNoConnection(socket)) {
    socket.destroy();
    return waitClosed(socket).then(() => ({
      outcome: 'closed', unackedBytes: null, drainedBytes: 0, elapsedMs: performance.now() - start, reset: false,
    }));
  }
  if (pendingBytes(socket).unacked === null) {
    throw new NetLingerError(
      'ERR_NET_LINGER_UNSUPPORTED',
      'This platform cannot report unacknowledged bytes, so lingerClose cannot know when the peer has them all',
    );
  }
  disarmLinger(socket);
  const promise = runLingerClose(socket, seconds * 1000, lingeringTimeout, signal, onTimeout, start);
  running.set(socket, { helper: 'lingerClose', key, promise });
  return promise;
}

function runLingerClose(
  socket: net.Socket,
  limitMs: number,
  quietMs: number,
  signal: AbortSignal | undefined,
  onTimeout: 'reset' | 'close',
  start: number,
): Promise<LingerCloseReport> {
  return new Promise((resolve) => {
    let unackedBytes: number | null = null;
    let outcome: LingerCloseOutcome | undefined;
    let code: string | undefined;
    let reset = false;
    let pollTimer: NodeJS.Timeout | undefined;
    // Once everything is acknowledged: waiting for the peer to be done sending.
    let acked = false;
    let quietTimer: NodeJS.Timeout | undefined;
    let lastDataAt = start;

    // The engine's total cap is `seconds`; the silence that ends this close is counted here,
    // from the moment everything is acknowledged, so the engine has none.
    const drain: Drain = new Drain(socket, { lingeringTime: limitMs, lingeringTimeout: null, signal }, {
      data: () => {
        lastDataAt = performance.now();
        quietTimer?.refresh();
      },
      // The peer is done sending; Node closes the socket by itself once both directions have
      // ended: look one last time.
      end: () => {
        if (acked) closeAcked();
        else if (socket.writableFinished) check();
      },
      finish: () => {
        check();
        if (!outcome && !acked) schedulePoll();
      },
      error: (err) => {
        if (!outcome) ({ outcome, code } = errorOutcome(err));
      },
      cap: () => stop('timeout'),
      aborted: () => stop('aborted'),
      close: () => {
        if (pollTimer) clearTimeout(pollTimer);
        if (quietTimer) clearTimeout(quietTimer);
        if (!outcome) {
          if (acked && !wasResetHere(socket)) outcome = 'acked';
          else if (socket.readableEnded && !wasResetHere(socket)) outcome = 'fin';
          else ({ outcome, code } = closedElsewhere(socket));
        }
        const report: LingerCloseReport = { outcome, unackedBytes, drainedBytes: drain.drained(), elapsedMs: performance.now() - start, reset };
        if (code !== undefined) report.code = code;
        running.delete(socket);
        resolve(report);
      },
    });

    function closeAcked() {
      if (outcome || socket.destroyed) return;
      outcome = 'acked';
      socket.destroy();
    }
    /** Reads the kernel's count of unacknowledged bytes; once it is zero, waits for the peer to be done. */
    function check() {
      if (outcome || acked || socket.destroyed) return;
      try {
        unackedBytes = pendingBytes(socket).unacked;
      } catch (err) {
        outcome = 'error';
        code = (err as { code?: string }).code ?? 'UNKNOWN';
        socket.destroy();
        return;
      }
      if (unackedBytes !== 0) return;
      acked = true;
      if (socket.readableEnded) {
        closeAcked();
        return;
      }
      const quietFor = performance.now() - lastDataAt;
      quietTimer = setTimeout(closeAcked, Math.max(0, quietMs - quietFor)).unref();
    }
    function schedulePoll() {
      pollWithBackoff(() => {
        check();
        return outcome !== undefined || acked || socket.destroyed;
      }, (ms, fn) => { pollTimer = setTimeout(fn, ms).unref(); });
    }
    function stop(why: 'timeout' | 'aborted') {
      if (outcome || socket.destroyed) return;
      try {
        unackedBytes = pendingBytes(socket).unacked;
      } catch {
        // The count is informative only.
      }
      outcome = why;
      reset = endOnCap(socket, onTimeout === 'reset');
    }

    // A write side that finished before this call emits no 'finish' for us.
    const finishedBefore = socket.writableFinished;
    if (!drain.start()) return;
    if (finishedBefore) {
      check();
      if (!outcome && !acked) schedulePoll();
    }
  });
}
