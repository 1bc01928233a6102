import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { resetClose } from '../close/reset-close.js';
import { isConnectionReset, normalizeErrorCode } from '../core/errors.js';
import { streamError } from '../core/node-internals.js';
import { restoreEncoding, SocketReader, takeBytes } from '../core/reader.js';
import { warnOnce } from '../core/warnings.js';
import { MAX_TIMER_MS, invalidArgType, invalidArgValue, validateChoice, validateInteger, validateOptionsObject, validateSignal } from '../core/validate.js';

// A faithful TCP relay between two live sockets: bytes both ways with backpressure, and every
// way a connection can end passed on as the same kind of ending.
//
//   the peer of one side ...        the relay does to the other side
//   sends FIN (read returns 0)      end(): FIN after every byte already relayed; the other
//                                   direction keeps flowing
//   sends RST (ECONNRESET)          an RST (resetClose): unsent data discarded
//   any other socket error          an RST too: the stream broke, and a FIN would tell the
//                                   other peer it had everything
//   (closed by other code,          destroy(): a plain close
//    no FIN, no error)
//
// The promise resolves once both sockets have emitted 'close' and never rejects for what a peer
// does; bad arguments throw before either socket is touched.

/** Which way bytes flow: from a to b, or from b to a. */
export type RelayDirection = 'aToB' | 'bToA';

/** How one side's peer ended the connection. */
export type RelayEnd = 'fin' | 'reset' | 'error' | 'closed';

/** How the relay closed a socket. */
export type RelayClose = 'fin' | 'reset' | 'destroy';

export interface RelayOptions {
  /** Stops the relay: both sockets are closed as `onTimeout` says. */
  signal?: AbortSignal;
  /** Milliseconds without a byte in either direction after which both sockets are closed as `onTimeout` says. 0 or absent: never. */
  idleTimeout?: number;
  /**
   * How both sockets are closed when the signal aborts or idleTimeout passes, as in gracefulClose():
   * 'close' (default: a plain close, `destroy()`) or 'reset' (RST, unsent data discarded). 'destroy',
   * this option's former spelling of 'close', still works and warns once (NET_LINGER_DEP_RELAY_DESTROY).
   */
  onTimeout?: 'close' | 'reset' | 'destroy';
}

export interface RelaySideReport {
  /**
   * How this socket's peer ended: 'fin', 'reset' (RST, whatever the platform's number),
   * 'error' (another error: see `code`), 'closed' (destroyed by other code without an error),
   * or null when it did not: the relay closed this socket (because of the other side, the
   * signal or idleTimeout). A reset that follows a FIN reads 'reset', with `fin` true.
   */
  ended: RelayEnd | null;
  /** The peer sent a FIN (also when a reset followed it). */
  fin: boolean;
  /** The normalised error code for 'reset' (always ECONNRESET) and 'error'. */
  code?: string;
  /** What the relay did to this socket: 'fin' (end(), passing the other side's FIN on), 'reset', 'destroy', or null (nothing: it had closed by itself). */
  closedWith: RelayClose | null;
  /** Bytes read from this socket. */
  bytesRead: number;
}

export interface RelayReport {
  /** What became of socket `a` (relay()'s first argument). */
  a: RelaySideReport;
  /** What became of socket `b` (relay()'s second argument). */
  b: RelaySideReport;
  /** Bytes read from one socket and written to the other (a byte that the other side's kernel then lost to a reset still counts). */
  bytes: {
    /** Read from `a`, written to `b`. */
    aToB: number;
    /** Read from `b`, written to `a`. */
    bToA: number;
  };
  /** The side whose peer ended first (by FIN, RST, an error or a close), or null when the relay stopped first. */
  first: 'a' | 'b' | null;
  /** Why the relay closed the connection itself: the signal, idleTimeout; null when the peers ended it. */
  stopped: 'aborted' | 'idle-timeout' | null;
  /** Milliseconds from the call to the last of both sockets' 'close'. */
  elapsedMs: number;
}

/**
 * What a fault injector plugs into a relay (the proxy's faults). Not part of the public API.
 * @internal
 */
export interface RelayPolicy {
  /** A chunk read in a direction: returns the bytes to forward (a slice, or null for none). */
  data?(dir: RelayDirection, chunk: Buffer): Buffer | null;
  /** The source's FIN in a direction: true to let the relay pass it on now; false when the policy does it (later, or never). */
  fin?(dir: RelayDirection): boolean;
  /** The source of a direction ended abruptly or was closed: false to keep the other side open and unaware. */
  propagate?(dir: RelayDirection, how: 'reset' | 'error' | 'closed'): boolean;
  /** Called once before the relay reads anything (a policy may hold a side here), after the sockets are taken over. */
  begin?(): void;
  /** Called once, after both sockets closed, before the report is resolved. */
  done?(): void;
}

/** relay()'s options once checked: onTimeout always set, in its one spelling. @internal */
export type ValidRelayOptions = Omit<RelayOptions, 'onTimeout'> & { onTimeout: 'close' | 'reset' };

const relaying = new WeakSet<net.Socket>();

/** A socket under the relay and what has been seen of it. */
class RelaySide {
  ended: RelayEnd | null = null;
  fin = false;
  code: string | undefined;
  closedWith: RelayClose | null = null;
  bytesRead = 0;
  closed = false;
  /** Reading is held by a policy (not by backpressure): 'drain' does not resume it. */
  held = false;
  /** The other side's write buffer is full: wait for its 'drain'. */
  blocked = false;
  /** Reads the socket whatever mode it was handed over in (a leftover 'readable' listener). */
  readonly reader: SocketReader;
  /** The encoding setEncoding() had set, suspended while relaying; null when none was. */
  encoding: BufferEncoding | null = null;

  constructor(readonly socket: net.Socket, readonly name: 'a' | 'b') {
    this.reader = new SocketReader(socket);
  }

  report(): RelaySideReport {
    const r: RelaySideReport = { ended: this.ended, fin: this.fin, closedWith: this.closedWith, bytesRead: this.bytesRead };
    if (this.code !== undefined) r.code = this.code;
    return r;
  }
}

/**
 * The relay's engine, with the controls a policy uses.
 * @internal
 */
export class Relay {
  readonly a: RelaySide;
  readonly b: RelaySide;
  readonly bytes = { aToB: 0, bToA: 0 };
  first: 'a' | 'b' | null = null;
  stopped: RelayReport['stopped'] = null;
  policy: RelayPolicy = {};
  private readonly start = performance.now();
  private idleTimer: NodeJS.Timeout | undefined;
  private resolve!: (report: RelayReport) => void;
  readonly finished: Promise<RelayReport>;
  private readonly cleanups: Array<() => void> = [];

  constructor(a: net.Socket, b: net.Socket, private readonly options: ValidRelayOptions) {
    this.a = new RelaySide(a, 'a');
    this.b = new RelaySide(b, 'b');
    this.finished = new Promise((resolve) => { this.resolve = resolve; });
  }

  /** The socket that data in `dir` comes from, and the one it goes to. */
  source(dir: RelayDirection): RelaySide { return dir === 'aToB' ? this.a : this.b; }
  target(dir: RelayDirection): RelaySide { return dir === 'aToB' ? this.b : this.a; }
  private other(side: RelaySide): RelaySide { return side === this.a ? this.b : this.a; }
  private dirFrom(side: RelaySide): RelayDirection { return side === this.a ? 'aToB' : 'bToA'; }

  get elapsedMs(): number { return performance.now() - this.start; }

  run(): Promise<RelayReport> {
    // Without allowHalfOpen, Node ends a socket's writable side as soon as its peer's FIN
    // arrives, and the other direction could no longer be relayed. Node reads the flag when the
    // FIN comes (net.js onReadableStreamEnd, streams' endReadableNT), so setting it now is enough.
    for (const side of [this.a, this.b]) side.socket.allowHalfOpen = true;
    // A socket with setEncoding() would hand over decoded text: invalid bytes as U+FFFD, counts
    // in characters. Relay bytes; the encoding is set again when the relay is done.
    for (const side of [this.a, this.b]) side.encoding = takeBytes(side.socket);
    // Before the 'data' listeners: a side held now is never read, not even into Node's buffer.
    this.policy.begin?.();
    for (const side of [this.a, this.b]) this.attach(side);
    const { signal, idleTimeout } = this.options;
    if (idleTimeout) {
      this.idleTimer = setTimeout(() => this.stop('idle-timeout'), idleTimeout).unref();
      this.cleanups.push(() => clearTimeout(this.idleTimer));
    }
    if (signal) {
      const onAbort = () => this.stop('aborted');
      if (signal.aborted) {
        queueMicrotask(onAbort);
      } else {
        signal.addEventListener('abort', onAbort, { once: true });
        this.cleanups.push(() => signal.removeEventListener('abort', onAbort));
      }
    }
    // Sockets that ended or closed before the call: what they already did is passed on now.
    for (const side of [this.a, this.b]) {
      const s = side.socket;
      if (s.closed) this.onClose(side);
      else if (s.destroyed) {
        const errored = streamError(s);
        if (errored) this.onError(side, errored);
      } else if (s.readableEnded) this.onEnd(side);
    }
    for (const side of [this.a, this.b]) if (!side.socket.destroyed && !side.held) side.reader.resume();
    return this.finished;
  }

  private attach(side: RelaySide): void {
    const s = side.socket;
    // A string only if other code calls setEncoding() during the relay: back to its bytes.
    const onData = (chunk: Buffer | string) => this.onData(side, typeof chunk === 'string' ? Buffer.from(chunk, s.readableEncoding ?? 'utf8') : chunk);
    const onEnd = () => this.onEnd(side);
    const onError = (err: NodeJS.ErrnoException) => this.onError(side, err);
    const onClose = () => this.onClose(side);
    const onDrain = () => {
      const from = this.other(side);
      from.blocked = false;
      if (!from.held && !from.socket.destroyed) from.reader.resume();
    };
    s.on('data', onData);
    s.on('end', onEnd);
    s.on('error', onError);
    s.on('close', onClose);
    s.on('drain', onDrain);
    this.cleanups.push(() => {
      s.off('data', onData);
      s.off('end', onEnd);
      s.off('error', onError);
      s.off('close', onClose);
      s.off('drain', onDrain);
    });
  }

  private onData(side: RelaySide, chunk: Buffer): void {
    side.bytesRead += chunk.length;
    this.idleTimer?.refresh();
    const dir = this.dirFrom(side);
    const out = this.policy.data ? this.policy.data(dir, chunk) : chunk;
    if (out && out.length > 0) this.write(dir, out);
  }

  /** Writes to the target of `dir`, pausing the source while the target's buffer is full. Returns false when the target cannot take it. */
  write(dir: RelayDirection, data: Buffer, callback?: (err?: Error | null) => void): boolean {
    const from = this.source(dir);
    const to = this.target(dir);
    const t = to.socket;
    if (t.destroyed || t.writableEnded) return false;
    this.bytes[dir] += data.length;
    if (!t.write(data, callback)) {
      from.blocked = true;
      from.reader.pause();
    }
    return true;
  }

  private onEnd(side: RelaySide): void {
    if (side.fin) return;
    side.fin = true;
    side.ended ??= 'fin';
    this.first ??= side.name;
    const dir = this.dirFrom(side);
    if (!this.policy.fin || this.policy.fin(dir)) this.forwardFin(dir);
    // The other side is gone (a policy kept its ending from this one): nothing more can come
    // here, and this peer sends nothing more either.
    if (this.other(side).closed && !side.socket.writableEnded) this.destroySide(side);
  }

  /** Passes a FIN on in `dir`: end() on the target, after every byte already written to it. */
  forwardFin(dir: RelayDirection): void {
    const to = this.target(dir);
    if (to.socket.destroyed || to.socket.writableEnded) return;
    to.closedWith ??= 'fin';
    to.socket.end();
  }

  private onError(side: RelaySide, err: NodeJS.ErrnoException): void {
    if (side.ended === 'reset' || side.ended === 'error') return;
    // An error after the relay closed this side itself (a write racing its reset) is ours, not the peer's.
    if (side.closedWith === 'reset' || side.closedWith === 'destroy') return;
    const reset = isConnectionReset(err);
    side.ended = reset ? 'reset' : 'error';
    side.code = normalizeErrorCode(err) ?? err.code ?? 'UNKNOWN';
    this.first ??= side.name;
    const how = reset ? 'reset' : 'error';
    if (this.policy.propagate && !this.policy.propagate(this.dirFrom(side), how)) return;
    this.resetSide(this.other(side));
  }

  private onClose(side: RelaySide): void {
    if (side.closed) return;
    side.closed = true;
    const byRelay = side.closedWith === 'reset' || side.closedWith === 'destroy';
    if (side.ended === null && !byRelay) {
      // Closed without a FIN or an error, and not by the relay: other code destroyed it.
      side.ended = 'closed';
      this.first ??= side.name;
    }
    const other = this.other(side);
    // The other peer sent everything and has this side's FIN: it closes by itself once its writes are out.
    const otherDone = other.fin && other.socket.writableEnded;
    const errored = side.ended === 'reset' || side.ended === 'error';
    if (!other.closed && other.fin && !other.socket.writableEnded) {
      // The other peer is done sending and nothing more can come to it from here (a policy kept
      // this side's ending from it): close it, or it would stay half-open for ever.
      this.destroySide(other);
    } else if (!other.closed && !byRelay && !otherDone && !errored) {
      // Nothing more can be delivered to this side, and it sends nothing more: a plain close.
      if (!this.policy.propagate || this.policy.propagate(this.dirFrom(side), 'closed')) this.destroySide(other);
    }
    if (this.a.closed && this.b.closed) this.finish();
  }

  /** Resets one side (RST); a socket that cannot be reset (not TCP) is destroyed. */
  resetSide(side: RelaySide): void {
    if (side.socket.destroyed) return;
    side.closedWith = 'reset';
    try {
      void resetClose(side.socket);
    } catch {
      side.closedWith = 'destroy';
      side.socket.destroy();
    }
  }

  destroySide(side: RelaySide): void {
    if (side.socket.destroyed) return;
    side.closedWith = 'destroy';
    side.socket.destroy();
  }

  /** Holds or releases reading from a side (backpressure still applies once released). */
  hold(side: RelaySide, held: boolean): void {
    side.held = held;
    if (side.socket.destroyed) return;
    if (held) side.reader.pause();
    else if (!side.blocked) side.reader.resume();
  }

  stop(why: 'aborted' | 'idle-timeout'): void {
    if (this.a.closed && this.b.closed) return;
    this.stopped ??= why;
    for (const side of [this.a, this.b]) {
      if (this.options.onTimeout === 'reset') this.resetSide(side);
      else this.destroySide(side);
    }
  }

  private finish(): void {
    for (const cleanup of this.cleanups.splice(0)) cleanup();
    for (const side of [this.a, this.b]) {
      side.reader.stop();
      restoreEncoding(side.socket, side.encoding);
    }
    relaying.delete(this.a.socket);
    relaying.delete(this.b.socket);
    this.policy.done?.();
    this.resolve({
      a: this.a.report(),
      b: this.b.report(),
      bytes: { ...this.bytes },
      first: this.first,
      stopped: this.stopped,
      elapsedMs: this.elapsedMs,
    });
  }
}

function validateSocket(value: unknown, name: string): asserts value is net.Socket {
  if (!(value instanceof net.Socket)) throw invalidArgType(name, 'an instance of net.Socket or tls.TLSSocket', value);
}

/** Checks relay()'s arguments; throws Node-style errors before anything is touched. @internal */
export function validateRelayArgs(a: unknown, b: unknown, options: unknown): ValidRelayOptions {
  validateSocket(a, 'a');
  validateSocket(b, 'b');
  if (a === b) throw invalidArgValue('b', '<the same socket as a>', 'must be a different socket than a');
  for (const [socket, name] of [[a, 'a'], [b, 'b']] as const) {
    if (relaying.has(socket)) throw invalidArgValue(name, `<a socket>`, 'is already being relayed');
  }
  const opts = validateOptionsObject(options);
  let onTimeout = validateChoice(opts.onTimeout, 'options.onTimeout', ['close', 'reset', 'destroy'] as const, 'close');
  if (onTimeout === 'destroy') {
    warnOnce('NET_LINGER_DEP_RELAY_DESTROY', "relay(): onTimeout: 'destroy' is now spelled 'close', as in gracefulClose() and lingerClose()", 'DeprecationWarning');
    onTimeout = 'close';
  }
  const out: ValidRelayOptions = { onTimeout };
  const signal = validateSignal(opts.signal);
  if (signal) out.signal = signal;
  if (opts.idleTimeout !== undefined) out.idleTimeout = validateInteger(opts.idleTimeout, 'options.idleTimeout', 0, MAX_TIMER_MS);
  return out;
}

/** Starts a relay with a policy; the sockets are taken over at once. @internal */
export function startRelay(a: net.Socket, b: net.Socket, options: ValidRelayOptions, policy?: (relay: Relay) => RelayPolicy): { relay: Relay; report: Promise<RelayReport> } {
  relaying.add(a);
  relaying.add(b);
  const r = new Relay(a, b, options);
  if (policy) r.policy = policy(r);
  return { relay: r, report: r.run() };
}

/**
 * Relays bytes between two sockets in both directions, with backpressure, and passes every
 * ending on as the same kind of ending: a FIN from one side's peer becomes `end()` on the other
 * (the other direction keeps flowing: both sockets are switched to `allowHalfOpen`, so sockets
 * created without it half-close too); an RST (ECONNRESET, whatever the platform's number)
 * becomes an RST on the other side (`resetClose`); any other error also becomes an RST; a socket
 * destroyed by other code becomes a plain close of the other.
 *
 * Works for `net.Socket` and `tls.TLSSocket` on either side, also one still connecting (a failed
 * connect is that side's 'error' ending, and the other side is reset). Data that arrived before
 * the call and sits in a socket's buffer is relayed first; a socket that had already ended or
 * closed has that ending passed on at once.
 * A socket a leftover 'readable' listener keeps in paused mode is read with read(); one with
 * setEncoding() is relayed and counted as bytes, its encoding set again when the relay is done.
 *
 * Resolves, once both sockets have emitted 'close', to `{ a, b, bytes: { aToB, bToA }, first,
 * stopped, elapsedMs }`. Never rejects. Throws (TypeError/RangeError with `code`, touching
 * nothing) for arguments that are not two distinct sockets, a socket already being relayed, or
 * bad options. The relay does not end a half-open connection by itself: `idleTimeout` or
 * `signal` does, closing both sockets as `onTimeout` says ('close' by default, or 'reset').
 */
export function relay(a: net.Socket, b: net.Socket, options?: RelayOptions): Promise<RelayReport> {
  const opts = validateRelayArgs(a, b, options);
  return startRelay(a, b, opts).report;
}
