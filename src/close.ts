import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { NetLingerError, isConnectionReset, normalizeErrorCode } from './errors';
import { pendingBytes, setLinger } from './socket-ops';
import { handleKind, nativeReset, streamError, streamHandle } from './node-internals';
import {
  invalidArgType, outOfRange, validateChoice, validateInteger, validateOptionsObject, validateSignal, validateSocket,
} from './validate';

// Closing live Node sockets on purpose, without blocking the event loop.
//
// Contract shared by the three helpers: everything that can be refused is refused before the
// socket is touched, by a synchronous throw (bad arguments: Node's TypeError/RangeError; a close
// this platform or socket cannot do: NetLingerError). Once a helper has started acting, it
// reports through its promise, which resolves after the socket's 'close' event and never
// rejects for what the peer does.

/** How a close ended up. */
export type GracefulCloseOutcome = 'fin' | 'timeout' | 'aborted' | 'peer-reset' | 'error';
export type LingerCloseOutcome = 'acked' | 'fin' | 'timeout' | 'aborted' | 'peer-reset' | 'error';

export interface ResetCloseReport {
  /** 'reset': this call sent the RST; 'closed': there was no connection left to reset (already destroyed, or never connected). */
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
  /** Bytes read and discarded after the call. */
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
}

export interface LingerCloseReport {
  outcome: LingerCloseOutcome;
  /** Bytes the peer had not acknowledged when the socket was closed (0 for 'acked'). */
  unackedBytes: number | null;
  drainedBytes: number;
  elapsedMs: number;
  code?: string;
  reset: boolean;
}

const DEFAULT_LINGERING_TIME = 30_000;
const DEFAULT_LINGERING_TIMEOUT = 5_000;
// setTimeout's own ceiling: a longer delay would fire at once.
const MAX_TIMER_MS = 2 ** 31 - 1;
const FIRST_POLL_MS = 1;
const LONGEST_POLL_MS = 50;

// Sockets this module reset, so a concurrent gracefulClose/lingerClose can say 'aborted'.
const resetHere = new WeakSet<net.Socket>();
const gracefulInFlight = new WeakMap<net.Socket, Promise<GracefulCloseReport>>();
const lingerInFlight = new WeakMap<net.Socket, Promise<LingerCloseReport>>();

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
  const reset = socket.writableEnded ? undefined : nativeReset(socket);
  if (reset) {
    resetHere.add(socket);
    reset();
    return 'resetAndDestroy';
  }
  setLinger(socket, true, 0);
  resetHere.add(socket);
  socket.destroy();
  return 'linger-zero';
}

/** A report's view of a socket that was already gone, or was closed by other code. */
function closedElsewhere(socket: net.Socket): { outcome: 'aborted' | 'peer-reset' | 'error'; code?: string } {
  if (resetHere.has(socket)) return { outcome: 'aborted' };
  const errored = streamError(socket);
  return errored ? errorOutcome(errored) : { outcome: 'error', code: 'ERR_SOCKET_CLOSED' };
}

/** The listeners a draining close (gracefulClose, lingerClose) hangs on the socket. */
interface DrainListeners {
  data: (chunk: Buffer | string) => void;
  end: () => void;
  finish: () => void;
  error: (err: NodeJS.ErrnoException) => void;
}

const DRAIN_EVENTS = ['data', 'end', 'finish', 'error'] as const;

/**
 * Starts a draining close: listens, honours the signal, then reads and discards and half-closes
 * through Node (`end()`: the FIN follows every queued write). Returns false, having called
 * `onAbort`, when the signal had already fired.
 */
function startDrain(
  socket: net.Socket, listeners: DrainListeners, onClose: () => void, signal: AbortSignal | undefined, onAbort: () => void,
): boolean {
  for (const event of DRAIN_EVENTS) socket.on(event, listeners[event] as (...args: unknown[]) => void);
  socket.once('close', onClose);
  if (signal) {
    if (signal.aborted) {
      onAbort();
      return false;
    }
    signal.addEventListener('abort', onAbort, { once: true });
  }
  socket.resume();
  if (!socket.writableEnded) socket.end();
  return true;
}

/** Undoes startDrain's listeners once the socket has closed. */
function stopDrain(socket: net.Socket, listeners: DrainListeners, signal: AbortSignal | undefined, onAbort: () => void): void {
  signal?.removeEventListener('abort', onAbort);
  for (const event of DRAIN_EVENTS) socket.off(event, listeners[event] as (...args: unknown[]) => void);
}

/** How a close reports the first error the socket emitted while it ran. */
function errorOutcome(err: NodeJS.ErrnoException): { outcome: 'peer-reset' | 'error'; code: string } {
  return { outcome: isConnectionReset(err) ? 'peer-reset' : 'error', code: normalizeErrorCode(err) ?? err.code ?? 'UNKNOWN' };
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
 * else SO_LINGER {1,0} + `destroy()`). Idempotent: on a socket that is already destroyed it only
 * waits for 'close'. Resolves once 'close' fired.
 *
 * Throws (synchronously, leaving the socket alone) for a socket that is not TCP (a Unix-domain
 * socket has no RST) and where the platform gives no handle for SO_LINGER.
 */
export function resetClose(socket: net.Socket): Promise<ResetCloseReport> {
  validateSocket(socket);
  const start = performance.now();
  const report = (outcome: ResetCloseReport['outcome'], via: ResetCloseReport['via']) =>
    waitClosed(socket).then((): ResetCloseReport => ({ outcome, via, elapsedMs: performance.now() - start }));
  if (socket.destroyed) return report('closed', null);
  if (!streamHandle(socket) && !socket.connecting) {
    socket.destroy();
    return report('closed', null);
  }
  if (!isTcp(socket) && !socket.connecting) {
    throw new NetLingerError('ERR_NET_LINGER_UNSUPPORTED', 'Only a TCP connection can be reset; this socket is not TCP');
  }
  // Errors that race the reset (a write failing on the way down) must not go unhandled.
  const swallow = () => undefined;
  socket.on('error', swallow);
  let via: 'resetAndDestroy' | 'linger-zero';
  try {
    via = resetNow(socket);
  } catch (err) {
    socket.off('error', swallow);
    throw err;
  }
  return report('reset', via).finally(() => socket.off('error', swallow));
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
 * misbehaviour is an outcome, never a rejection. The socket is resumed: stop consuming it
 * yourself before calling. Calling it again while it runs returns the same promise.
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

  const running = gracefulInFlight.get(socket);
  if (running) return running;
  const promise = runGracefulClose(socket, lingeringTime, lingeringTimeout, signal, onTimeout);
  gracefulInFlight.set(socket, promise);
  return promise.finally(() => gracefulInFlight.delete(socket));
}

function runGracefulClose(
  socket: net.Socket,
  lingeringTime: number,
  lingeringTimeout: number,
  signal: AbortSignal | undefined,
  onTimeout: 'reset' | 'close',
): Promise<GracefulCloseReport> {
  const start = performance.now();
  const elapsed = () => performance.now() - start;
  if (socket.destroyed) {
    return waitClosed(socket).then(() => ({ ...closedElsewhere(socket), drainedBytes: 0, elapsedMs: elapsed(), reset: false }));
  }
  return new Promise((resolve) => {
    let drainedBytes = 0;
    let peerEnded = socket.readableEnded;
    let writeDone = socket.writableFinished;
    let outcome: GracefulCloseOutcome | undefined;
    let code: string | undefined;
    let reset = false;
    let idleTimer: NodeJS.Timeout | undefined;
    const totalTimer = setTimeout(() => stop('timeout'), lingeringTime).unref();

    const listeners: DrainListeners = {
      data: (chunk) => {
        drainedBytes += chunk.length;
        idleTimer?.refresh();
      },
      end: () => {
        peerEnded = true;
        finishIfDone();
      },
      finish: () => {
        writeDone = true;
        armIdle();
        finishIfDone();
      },
      error: (err) => {
        if (!outcome) ({ outcome, code } = errorOutcome(err));
      },
    };
    const onAbort = () => stop('aborted');
    const onClose = () => {
      clearTimeout(totalTimer);
      if (idleTimer) clearTimeout(idleTimer);
      stopDrain(socket, listeners, signal, onAbort);
      if (!outcome) {
        if (peerEnded && writeDone) outcome = 'fin';
        else ({ outcome, code } = closedElsewhere(socket));
      }
      const report: GracefulCloseReport = { outcome, drainedBytes, elapsedMs: elapsed(), reset };
      if (code !== undefined) report.code = code;
      resolve(report);
    };

    function armIdle() {
      if (!idleTimer && !outcome) idleTimer = setTimeout(() => stop('timeout'), lingeringTimeout).unref();
    }
    function finishIfDone() {
      if (outcome || !peerEnded || !writeDone) return;
      outcome = 'fin';
      socket.destroy();
    }
    function stop(why: 'timeout' | 'aborted') {
      if (outcome || socket.destroyed) return;
      outcome = why;
      reset = endOnCap(socket, onTimeout === 'reset');
    }

    if (!startDrain(socket, listeners, onClose, signal, onAbort)) return;
    if (writeDone) armIdle();
    finishIfDone();
  });
}

/**
 * What SO_LINGER {1, N} promises, without freezing the event loop: `socket.end()`, then wait
 * (polling `pendingBytes().unacked` with backoff on timers) until the peer has acknowledged every
 * byte and the FIN, or `seconds` pass; then destroy — or, on timeout, as `onTimeout` says
 * ('close' by default: the kernel keeps delivering, as Linux does after a lingering close
 * times out; 'reset': RST). Whatever the peer sends meanwhile is read and discarded, so unread
 * data cannot turn the close into a reset.
 *
 * Throws NetLingerError ERR_NET_LINGER_UNSUPPORTED where the platform cannot report
 * unacknowledged bytes (it does not guess). Resolves, after 'close', to
 * `{ outcome, unackedBytes, drainedBytes, elapsedMs, code?, reset }`. Outcome 'fin': the peer
 * half-closed and Node closed the socket itself (both directions ended) before every byte was
 * acknowledged; the kernel goes on delivering the rest.
 */
export function lingerClose(socket: net.Socket, seconds: number, options?: LingerCloseOptions): Promise<LingerCloseReport> {
  validateSocket(socket);
  if (typeof seconds !== 'number') throw invalidArgType('seconds', 'of type number', seconds);
  const maxSeconds = Math.floor(MAX_TIMER_MS / 1000);
  if (!(seconds >= 0 && seconds <= maxSeconds)) throw outOfRange('seconds', `>= 0 && <= ${maxSeconds}`, seconds);
  const opts = validateOptionsObject(options);
  const onTimeout = validateChoice(opts.onTimeout, 'options.onTimeout', ['reset', 'close'] as const, 'close');
  const signal = validateSignal(opts.signal);

  const running = lingerInFlight.get(socket);
  if (running) return running;
  const start = performance.now();
  if (socket.destroyed) {
    return waitClosed(socket).then(() => ({
      ...closedElsewhere(socket), unackedBytes: null, drainedBytes: 0, elapsedMs: performance.now() - start, reset: false,
    }));
  }
  if (pendingBytes(socket).unacked === null) {
    throw new NetLingerError(
      'ERR_NET_LINGER_UNSUPPORTED',
      'This platform cannot report unacknowledged bytes, so lingerClose cannot know when the peer has them all',
    );
  }
  const promise = runLingerClose(socket, seconds * 1000, signal, onTimeout, start);
  lingerInFlight.set(socket, promise);
  return promise.finally(() => lingerInFlight.delete(socket));
}

function runLingerClose(
  socket: net.Socket,
  limitMs: number,
  signal: AbortSignal | undefined,
  onTimeout: 'reset' | 'close',
  start: number,
): Promise<LingerCloseReport> {
  return new Promise((resolve) => {
    let drainedBytes = 0;
    let unackedBytes: number | null = null;
    let outcome: LingerCloseOutcome | undefined;
    let code: string | undefined;
    let reset = false;
    let pollTimer: NodeJS.Timeout | undefined;
    let pollDelay = FIRST_POLL_MS;
    const deadline = setTimeout(() => stop('timeout'), limitMs).unref();

    const listeners: DrainListeners = {
      data: (chunk) => { drainedBytes += chunk.length; },
      // Node closes the socket by itself once both directions have ended: look one last time.
      end: () => { if (socket.writableFinished) check(); },
      finish: () => {
        check();
        if (!outcome) schedulePoll();
      },
      error: (err) => {
        if (!outcome) ({ outcome, code } = errorOutcome(err));
      },
    };
    const onAbort = () => stop('aborted');
    const onClose = () => {
      clearTimeout(deadline);
      if (pollTimer) clearTimeout(pollTimer);
      stopDrain(socket, listeners, signal, onAbort);
      if (!outcome) {
        if (socket.readableEnded && !resetHere.has(socket)) outcome = 'fin';
        else ({ outcome, code } = closedElsewhere(socket));
      }
      const report: LingerCloseReport = { outcome, unackedBytes, drainedBytes, elapsedMs: performance.now() - start, reset };
      if (code !== undefined) report.code = code;
      resolve(report);
    };

    /** Reads the kernel's count of unacknowledged bytes; closes once it is zero. */
    function check() {
      if (outcome || socket.destroyed) return;
      try {
        unackedBytes = pendingBytes(socket).unacked;
      } catch (err) {
        outcome = 'error';
        code = (err as { code?: string }).code ?? 'UNKNOWN';
        socket.destroy();
        return;
      }
      if (unackedBytes === 0) {
        outcome = 'acked';
        socket.destroy();
      }
    }
    function schedulePoll() {
      pollTimer = setTimeout(() => {
        check();
        if (outcome || socket.destroyed) return;
        pollDelay = Math.min(pollDelay * 2, LONGEST_POLL_MS);
        schedulePoll();
      }, pollDelay).unref();
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
    if (!startDrain(socket, listeners, onClose, signal, onAbort)) return;
    if (finishedBefore) listeners.finish();
  });
}
