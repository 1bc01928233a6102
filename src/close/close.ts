import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { NetLingerError, isConnectionReset, normalizeErrorCode } from '../core/errors.js';
import { pendingBytes } from '../core/socket-ops.js';
import { streamError } from '../core/node-internals.js';
import { DEFAULT_LINGERING_TIME, DEFAULT_LINGERING_TIMEOUT, Drain, type DrainHooks } from './drain.js';
import { pollWithBackoff } from '../core/poll.js';
import { MAX_TIMER_MS, invalidArgType, outOfRange, validateChoice, validateInteger, validateOptionsObject, validateSignal, validateSocket } from '../core/validate.js';
import { wasResetHere, refuseResetOfNonTcp, refuseHttp2, waitClosed, resetNow, disarmLinger, hasNoConnection } from './reset-close.js';

// Closing live Node sockets on purpose, without blocking the event loop: gracefulClose and
// lingerClose, which share their refusals, bookkeeping and report rules here (some 450 lines
// for that reason); resetClose is in reset-close.ts, the draining itself in drain.ts.
//
// Contract shared by the three helpers: everything that can be refused is refused before the
// socket is touched, by a synchronous throw (bad arguments: Node's TypeError/RangeError; a close
// this platform or socket cannot do: NetLingerError). Once a helper has started acting, it
// reports through its promise, which resolves after the socket's 'close' event and never
// rejects for what the peer does.

/** How a gracefulClose() ended up (see GracefulCloseReport.outcome for each value). */
export type GracefulCloseOutcome = 'fin' | 'timeout' | 'aborted' | 'peer-reset' | 'error' | 'closed';

/** How a lingerClose() ended up (see LingerCloseReport.outcome for each value). */
export type LingerCloseOutcome = 'acked' | 'fin' | 'timeout' | 'aborted' | 'peer-reset' | 'error' | 'closed';

export interface GracefulCloseOptions {
  /** Upper bound for the whole close, in ms (nginx lingering_time). Default 30000. */
  lingeringTime?: number;
  /** Longest wait for the peer between two reads once the write side is done, in ms (nginx lingering_timeout; ms, as Node's own `server.keepAliveTimeout`). Default 5000. */
  lingeringTimeout?: number;
  /** Stops waiting; the close then ends as `onTimeout` says (outcome 'aborted'). */
  signal?: AbortSignal;
  /** How the close ends when a cap is hit or the signal aborts: 'close' (default, a plain close) or 'reset' (RST). */
  onTimeout?: 'reset' | 'close';
}

export interface GracefulCloseReport {
  /**
   * How the close ended: 'fin' (the clean end: everything written, the peer's FIN read),
   * 'timeout' (lingeringTime or lingeringTimeout ran out; ended as `onTimeout` says), 'aborted'
   * (the signal aborted, or resetClose() took the socket over), 'peer-reset' (the peer reset the
   * connection, also after its own FIN; `code` ECONNRESET), 'error' (another socket error, or the
   * socket was destroyed by other code; see `code`), 'closed' (at once: the socket had no handle
   * or was still connecting, so there was no connection to close).
   */
  outcome: GracefulCloseOutcome;
  /** Bytes (not characters, whatever the socket's encoding) read and discarded after the call. */
  drainedBytes: number;
  /** Milliseconds from the call to the socket's 'close'. */
  elapsedMs: number;
  /** The normalised error code, for 'peer-reset' (always ECONNRESET) and 'error'. */
  code?: string;
  /** This call ended the connection with an RST. */
  reset: boolean;
}

export interface LingerCloseOptions {
  /** How the close ends when the time runs out or the signal aborts: 'close' (default, the kernel keeps delivering in the background, as Linux's SO_LINGER does) or 'reset' (RST, unsent data discarded). */
  onTimeout?: 'reset' | 'close';
  /** Stops waiting before `seconds` run out; the close then ends as `onTimeout` says (outcome 'aborted'). */
  signal?: AbortSignal;
  /**
   * Once the peer has acknowledged everything: how long it may stay silent, in ms, before the
   * close takes that silence as "done sending" (its FIN ends the wait at once). Default 1000
   * (shorter than gracefulClose's 5000: the peer has already taken everything we sent).
   */
  lingeringTimeout?: number;
}

export interface LingerCloseReport {
  /**
   * How the close ended: 'acked' (what SO_LINGER promises: every byte and the FIN acknowledged,
   * and the peer done sending), 'fin' (the peer half-closed and Node closed the socket before
   * everything was acknowledged; the kernel delivers the rest), 'timeout' (`seconds` ran out;
   * ended as `onTimeout` says), 'aborted' (the signal aborted, or resetClose() took the socket
   * over), 'peer-reset' (the peer reset the connection; `code` ECONNRESET), 'error' (another
   * socket error, or destroyed by other code; see `code`), 'closed' (at once: no handle, or still
   * connecting).
   */
  outcome: LingerCloseOutcome;
  /** Bytes the peer had not acknowledged when the socket was closed (0 for 'acked'); null for 'closed'. */
  unackedBytes: number | null;
  /** Bytes (not characters) read and discarded after the call. */
  drainedBytes: number;
  /** Milliseconds from the call to the socket's 'close'. */
  elapsedMs: number;
  /** The normalised error code, for 'peer-reset' (always ECONNRESET) and 'error'. */
  code?: string;
  /** This call ended the connection with an RST. */
  reset: boolean;
}

const DEFAULT_LINGER_QUIET = 1_000;

/** The draining close running on a socket: which helper, with which options, and its promise. */
interface RunningClose {
  readonly helper: 'gracefulClose' | 'lingerClose';
  /** The call's options after defaults, compared one by one (the signal by identity). */
  readonly key: readonly unknown[];
  readonly promise: Promise<GracefulCloseReport> | Promise<LingerCloseReport>;
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

/** A report's view of a socket that was already gone, or was closed by other code. */
function closedElsewhere(socket: net.Socket): { outcome: 'aborted' | 'peer-reset' | 'error'; code?: string } {
  if (wasResetHere(socket)) return { outcome: 'aborted' };
  const errored = streamError(socket);
  return errored ? errorOutcome(errored) : { outcome: 'error', code: 'ERR_SOCKET_CLOSED' };
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
  const run = new GracefulCloseRun(socket, key, onTimeout === 'reset', start);
  running.set(socket, run);
  run.drain = new Drain(socket, { lingeringTime, lingeringTimeout, signal }, run);
  run.drain.start();
  return run.promise;
}

/**
 * One gracefulClose() under way: its promise, and the drain's hooks as methods (one object per
 * close rather than a closure per hook: thousands may be in flight, and what each keeps alive is
 * copied by every GC until it ends).
 */
class GracefulCloseRun implements RunningClose, DrainHooks {
  readonly helper = 'gracefulClose';
  readonly promise: Promise<GracefulCloseReport>;
  private resolve!: (report: GracefulCloseReport) => void;
  /** The engine calling these hooks; set by gracefulClose() before it starts. */
  drain!: Drain;
  private outcome: GracefulCloseOutcome | undefined;
  private code: string | undefined;
  private reset = false;

  constructor(
    private readonly socket: net.Socket,
    readonly key: readonly unknown[],
    private readonly resetOnCap: boolean,
    private readonly start: number,
  ) {
    this.promise = new Promise((resolve) => { this.resolve = resolve; });
  }

  done(): void {
    if (this.outcome) return;
    this.outcome = 'fin';
    this.socket.destroy();
  }

  error(err: NodeJS.ErrnoException): void {
    if (!this.outcome) ({ outcome: this.outcome, code: this.code } = errorOutcome(err));
  }

  cap(): void {
    this.stop('timeout');
  }

  aborted(): void {
    this.stop('aborted');
  }

  close(): void {
    const { socket, drain } = this;
    if (!this.outcome) {
      if (drain.peerEnded && drain.writeDone) this.outcome = 'fin';
      else ({ outcome: this.outcome, code: this.code } = closedElsewhere(socket));
    }
    const report: GracefulCloseReport = { outcome: this.outcome, drainedBytes: drain.drained(), elapsedMs: performance.now() - this.start, reset: this.reset };
    if (this.code !== undefined) report.code = this.code;
    running.delete(socket);
    this.resolve(report);
  }

  private stop(why: 'timeout' | 'aborted'): void {
    if (this.outcome || this.socket.destroyed) return;
    this.outcome = why;
    this.reset = endOnCap(this.socket, this.resetOnCap);
  }
}

/**
 * What SO_LINGER {1, N} promises, without freezing the event loop: `socket.end()`, then wait
 * (polling `pendingBytes().unacked` with backoff on timers) until the peer has acknowledged every
 * byte and the FIN, or `seconds` pass (seconds, SO_LINGER's unit, as setLinger() takes them; every
 * other duration in this package is in ms); then destroy — or, on timeout, as `onTimeout` says
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
