import type net from 'node:net';
import { performance } from 'node:perf_hooks';
import { decoderHeldBytes } from '../core/node-internals.js';
import { readIntoUserBuffer } from '../core/node-internals-read.js';
import { SocketReader } from '../core/reader.js';

// The one drain engine: after our FIN, read and discard what the peer still sends until its FIN,
// bounded by a total time and a silence timeout (nginx's lingering close: lingering_time,
// lingering_timeout). gracefulClose, lingerClose and enableLingeringClose all run on it. It
// never blocks the event loop (reads through Node's own stream, one unref'd timer), keeps one
// clock (performance.now()) and owns the defaults. How a close ends (a plain destroy, an RST,
// a report) stays with the caller: the engine only says what happened.
//
// Discarding costs what nginx's does: on Node's TCP sockets every read of every draining socket
// lands in the one DISCARD buffer below (Node's user-buffer read path, node-internals-read.ts)
// instead of a fresh 64 KiB Buffer per read left to the GC. Elsewhere (TLS, Bun, Deno), and
// where other code still listens for 'data', the socket is read as any stream is, and the chunks
// are dropped.

/**
 * The one buffer every draining socket reads into and nobody reads from: shared, since each read
 * is reported and forgotten synchronously; 64 KiB, Node's own read size, so a drain makes no more
 * reads than before. Held for the life of the process (a handle does not keep it alive).
 */
const DISCARD = new Uint8Array(64 * 1024);

/** nginx's lingering_time: upper bound for the whole drain, in ms. */
export const DEFAULT_LINGERING_TIME = 30_000;
/** nginx's lingering_timeout: longest silence from the peer once our write side is done, in ms. */
export const DEFAULT_LINGERING_TIMEOUT = 5_000;
/** setTimeout's own ceiling: a longer delay would fire at once. */

export interface DrainCaps {
  /** Upper bound for the whole drain, ms from start(). */
  lingeringTime: number;
  /** Longest silence, ms, counted once the write side is done (since then, or the last read); null: none. */
  lingeringTimeout: number | null;
  /** Stops the drain early (the `aborted` hook). */
  signal?: AbortSignal;
}

export interface DrainHooks {
  /** Bytes arrived (and were discarded). */
  data?: () => void;
  /** The peer's FIN. */
  end?: () => void;
  /** Our write side finished (every queued byte and the FIN handed to the kernel). */
  finish?: () => void;
  /** Both directions are done: the peer's FIN came and our FIN has left. The caller closes. */
  done?: () => void;
  /** The first and later socket errors. */
  error: (err: NodeJS.ErrnoException) => void;
  /** lingeringTime or lingeringTimeout ran out. The caller closes; the timer is not re-armed. */
  cap?: () => void;
  /** The signal aborted (at once in start() if it already had). */
  aborted?: () => void;
  /** The socket closed; the engine has taken its listeners off. */
  close: () => void;
}

export interface DrainStartOptions {
  /** Half-closes after every queued write. Default `socket.end()` (skipped when already ended). */
  halfClose?: () => void;
  /** Starts reading. Default: a SocketReader (resume(), or read() for a leftover 'readable' listener). */
  startReading?: () => void;
}

// One 'abort' listener per signal, fanning out to every drain waiting on it: a server's one
// shutdown signal shared by thousands of closes adds no listener per close (no
// MaxListenersExceededWarning) and aborts them in one pass.
interface SignalWatch {
  closes: Set<() => void>;
  listener: () => void;
}
const signalWatches = new WeakMap<AbortSignal, SignalWatch>();

function watchSignal(signal: AbortSignal, onAbort: () => void): void {
  let watch = signalWatches.get(signal);
  if (!watch) {
    const closes = new Set<() => void>();
    const listener = () => {
      signalWatches.delete(signal);
      for (const close of closes) close();
    };
    watch = { closes, listener };
    signalWatches.set(signal, watch);
    signal.addEventListener('abort', listener, { once: true });
  }
  watch.closes.add(onAbort);
}

function unwatchSignal(signal: AbortSignal, onAbort: () => void): void {
  const watch = signalWatches.get(signal);
  if (!watch) return;
  watch.closes.delete(onAbort);
  if (watch.closes.size === 0) {
    signalWatches.delete(signal);
    signal.removeEventListener('abort', watch.listener);
  }
}

/** The engine's socket listeners, each calling one method of the socket's drain. */
interface DrainListeners {
  end: (this: net.Socket) => void;
  finish: (this: net.Socket) => void;
  error: (this: net.Socket, err: NodeJS.ErrnoException) => void;
  close: (this: net.Socket) => void;
  /** Node's kBufferCb: a read that landed in the shared buffer. */
  discarded: (this: net.Socket) => void;
}

// Thousands of closes may be in flight at once, and every object a close keeps alive is copied
// by each GC until it ends: so one set of listener functions serves every socket (EventEmitter
// calls them with the socket as `this`, which finds its drain under DRAIN) instead of a closure
// per listener per close. A second drain on a socket whose first still runs gets listeners of
// its own (SHARED would find the first).
const DRAIN = Symbol('netLinger.drain');
interface DrainedSocket {
  [DRAIN]?: Drain | undefined;
}
const drainOf = (socket: net.Socket): Drain | undefined => (socket as DrainedSocket)[DRAIN];
const SHARED: DrainListeners = {
  end() { drainOf(this)?.onEnd(); },
  finish() { drainOf(this)?.onFinish(); },
  error(err) { drainOf(this)?.onError(err); },
  close() { drainOf(this)?.onClose(); },
  discarded() { drainOf(this)?.onDiscarded(); },
};

function ownListeners(drain: Drain): DrainListeners {
  return {
    end: () => drain.onEnd(),
    finish: () => drain.onFinish(),
    error: (err) => drain.onError(err),
    close: () => drain.onClose(),
    discarded: () => drain.onDiscarded(),
  };
}

/** setTimeout's callback: the drain comes as its argument, not in a closure. */
function drainTimer(drain: Drain): void {
  drain.onTimer();
}

export class Drain {
  /** performance.now() at construction: the one clock every cap is measured on. */
  readonly startedAt = performance.now();
  /** The peer's FIN has arrived. */
  peerEnded: boolean;
  /** Our write side has finished. */
  writeDone: boolean;
  private lastActivity: number;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private capped = false;
  /** Bytes read from the handle since the start; plus what Node had buffered unread then. */
  private readonly bytesReadAtStart: number;
  private bufferedBytes: number;
  /** Characters still to come of what Node had buffered, decoded, at the start. */
  private bufferedChars: number;
  private readonly encoding: BufferEncoding | null;
  /** Only for a socket a leftover 'readable' listener keeps in paused mode; else plain resume(). */
  private readonly reader: SocketReader | null;
  /** Reads land in the shared discard buffer (no Buffer per read); false: read as a stream. */
  inPlace = false;
  // Listeners made only where they are needed: thousands of closes may be in flight at once, and
  // every object a close keeps alive is copied by each GC until the close ends.
  private onData: ((chunk: Buffer | string) => void) | null = null;
  private onAbort: (() => void) | null = null;
  private listeners: DrainListeners = SHARED;

  constructor(
    private readonly socket: net.Socket,
    private readonly caps: DrainCaps,
    private readonly hooks: DrainHooks,
  ) {
    this.peerEnded = socket.readableEnded;
    this.writeDone = socket.writableFinished;
    this.lastActivity = this.startedAt;
    this.encoding = socket.readableEncoding;
    this.bytesReadAtStart = socket.bytesRead;
    // With an encoding, bytesRead already counts the start of a character the decoder holds.
    this.bufferedBytes = this.encoding ? decoderHeldBytes(socket) : socket.readableLength;
    this.bufferedChars = this.encoding ? socket.readableLength : 0;
    // A socket a leftover 'readable' listener keeps in paused mode needs the reader (see SocketReader).
    this.reader = socket.listenerCount('readable') > 0 ? new SocketReader(socket) : null;
  }

  /** Bytes (not characters, whatever the socket's encoding) read and discarded since the start. */
  drained(): number {
    return this.bufferedBytes + this.socket.bytesRead - this.bytesReadAtStart;
  }

  /**
   * Listens, arms the caps, honours the signal, then half-closes and reads. Returns false, having
   * called the `aborted` hook, when the signal had already fired (nothing else was done but
   * listening: the caller closes, and 'close' still reaches the `close` hook).
   */
  start(options?: DrainStartOptions): boolean {
    const { socket, caps } = this;
    if (drainOf(socket) === undefined) (socket as DrainedSocket)[DRAIN] = this;
    else this.listeners = ownListeners(this);
    const on = this.listeners;
    socket.on('end', on.end);
    socket.on('finish', on.finish);
    socket.on('error', on.error);
    // on(), not once(): stop() takes it off, and once() would add a wrapper and its state per close.
    socket.on('close', on.close);
    const first = caps.lingeringTimeout === null ? caps.lingeringTime : Math.min(caps.lingeringTime, caps.lingeringTimeout);
    this.timer = setTimeout(drainTimer, first, this).unref();
    if (caps.signal) {
      if (caps.signal.aborted) {
        this.hooks.aborted?.();
        return false;
      }
      this.onAbort = () => this.hooks.aborted?.();
      watchSignal(caps.signal, this.onAbort);
    }
    // Before reading starts: what the stream already holds still comes as 'data', later reads
    // go to the shared buffer (and restart the handle's reads where Node 18/20's http stopped them).
    // Unless other code still listens for 'data': it keeps seeing every chunk, read the usual way.
    this.inPlace = socket.listenerCount('data') === 0 && readIntoUserBuffer(socket, DISCARD, on.discarded);
    // Then 'data' can only bring what the stream already held: without any, no listener at all.
    if (!this.inPlace || socket.readableLength > 0) {
      this.onData = (chunk) => this.data(chunk);
      socket.on('data', this.onData);
    }
    if (options?.startReading) options.startReading();
    else if (this.reader) this.reader.resume();
    else socket.resume();
    if (options?.halfClose) options.halfClose();
    else if (!socket.writableEnded) socket.end();
    this.checkDone();
    return true;
  }

  /** Takes every listener and the timer off (done by itself on 'close'). */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    const { socket } = this;
    if (this.timer) clearTimeout(this.timer);
    if (this.onAbort && this.caps.signal) unwatchSignal(this.caps.signal, this.onAbort);
    if (this.onData) socket.off('data', this.onData);
    const on = this.listeners;
    socket.off('end', on.end);
    socket.off('finish', on.finish);
    socket.off('error', on.error);
    socket.off('close', on.close);
    // Set, not deleted: deleting a property would turn the socket into a slow dictionary object.
    if (drainOf(socket) === this) (socket as DrainedSocket)[DRAIN] = undefined;
    this.reader?.stop();
  }

  private checkDone(): void {
    if (this.peerEnded && this.writeDone && !this.stopped) this.hooks.done?.();
  }

  private data(chunk: Buffer | string): void {
    if (this.bufferedChars > 0 && typeof chunk === 'string') {
      const take = Math.min(chunk.length, this.bufferedChars);
      this.bufferedBytes += Buffer.byteLength(take === chunk.length ? chunk : chunk.slice(0, take), this.encoding ?? 'utf8');
      this.bufferedChars -= take;
    }
    this.lastActivity = performance.now();
    this.hooks.data?.();
  }

  // The listeners' work (called through SHARED or ownListeners: internal to this module).

  /** A read that landed in the shared buffer (bytesRead counts it). */
  onDiscarded(): void {
    this.lastActivity = performance.now();
    this.hooks.data?.();
  }

  onEnd(): void {
    this.peerEnded = true;
    this.hooks.end?.();
    this.checkDone();
  }

  onFinish(): void {
    this.writeDone = true;
    this.lastActivity = performance.now();
    this.hooks.finish?.();
    this.checkDone();
  }

  onError(err: NodeJS.ErrnoException): void {
    this.hooks.error(err);
  }

  onClose(): void {
    this.stop();
    this.hooks.close();
  }

  onTimer(): void {
    if (this.stopped || this.capped) return;
    const now = performance.now();
    const totalLeft = this.caps.lingeringTime - (now - this.startedAt);
    const quiet = this.caps.lingeringTimeout;
    // The silence counts once the write side is done: since then, or since the last read.
    // Until then, look again within lingeringTimeout, so its expiry is never seen late.
    const idleLeft = quiet === null
      ? Infinity
      : this.writeDone ? quiet - (now - this.lastActivity) : Math.max(quiet, 1);
    if (totalLeft <= 0 || idleLeft <= 0) {
      this.capped = true;
      this.hooks.cap?.();
      return;
    }
    this.timer = setTimeout(drainTimer, Math.ceil(Math.min(totalLeft, idleLeft)), this).unref();
  }
}
