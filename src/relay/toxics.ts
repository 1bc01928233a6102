import { performance } from 'node:perf_hooks';
import { type Relay, type RelayDirection } from './relay.js';
import { MAX_TIMER_MS, invalidArgType, invalidArgValue, validateInteger } from '../core/validate.js';

// toxiproxy's toxics that shape the stream rather than end it: latency (with jitter), bandwidth
// and slicer. They hold a direction's bytes in a queue and release them in order, each piece at
// its time; the FIN waits behind the queue. Unlike the faults that decide how a connection ends,
// these can be changed on live connections (FaultProxy.setFaults): the new shape applies to the
// bytes read from then on.

export interface SlicerOptions {
  /** Bytes per segment (toxiproxy's average_size), >= 1. */
  size: number;
  /** Milliseconds between segments (default 0: each segment is still its own write). */
  delayMs?: number;
}

/** The toxics in a Faults object: each acts in the faults' `direction`, on a connection that wins the `probability` draw (`down` excepted). */
export interface ToxicOptions {
  /** Delay every chunk in the direction this many ms (toxiproxy's latency); order is kept. Live. */
  latency?: number;
  /** Add a random ± this many ms to each chunk's latency (never below 0; order is kept). Live. */
  jitter?: number;
  /** At most this many bytes per second in the direction (toxiproxy's bandwidth, in bytes). Live. */
  bandwidth?: number;
  /** Split what passes into segments of this many bytes, or { size, delayMs } with a pause between (toxiproxy's slicer). Live. */
  slicer?: number | SlicerOptions;
  /**
   * Stop the direction's data (bytes and FIN are swallowed), then close both sides (a plain close)
   * after this many ms; 0: never close (toxiproxy's timeout). Live: the timer starts when it is set.
   */
  timeout?: number;
  /**
   * The proxy is down for new connections; live ones go on. 'refuse' (or true), as toxiproxy's
   * disabled proxy: the listener is closed, so a new connect fails with ECONNREFUSED, and it is
   * opened again on the same address once `down` is no longer set (FaultProxy.setFaults); no
   * report is made for a refused connect. 'reset' accepts each new connection and resets it at
   * once (ECONNRESET); 'drop' accepts it and never answers (its bytes are read and discarded).
   * The upstream is never contacted. 'refuse' acts on every connect: it takes no `probability`
   * below 1. Default: not set (up).
   */
  down?: boolean | 'refuse' | 'reset' | 'drop';
}

/** The toxics as the proxy applies them: each field present, null where unset (see ToxicOptions). */
export interface ResolvedToxics {
  /** `latency`, in ms; null: none. */
  latency: number | null;
  /** `jitter`, in ms; null: none. */
  jitter: number | null;
  /** `bandwidth`, in bytes per second; null: unlimited. */
  bandwidth: number | null;
  /** `slicer`, a bare number read as `{ size, delayMs: 0 }`; null: no slicing. */
  slicer: {
    /** Bytes per segment. */
    size: number;
    /** Milliseconds between segments. */
    delayMs: number;
  } | null;
  /** `timeout`, in ms (0: never close); null: no timeout. */
  timeout: number | null;
  /** `down`, `true` read as 'refuse'; null: up. */
  down: 'refuse' | 'reset' | 'drop' | null;
}

export const TOXIC_KEYS = ['latency', 'jitter', 'bandwidth', 'slicer', 'timeout', 'down'] as const;

const ms = (v: unknown, name: string) => (v === undefined ? null : validateInteger(v, name, 0, MAX_TIMER_MS));

/** Checks the toxics of a faults object; Node-style errors naming the field. */
export function resolveToxics(f: Record<string, unknown>, name: string): ResolvedToxics {
  let slicer: ResolvedToxics['slicer'] = null;
  if (typeof f.slicer === 'number') {
    slicer = { size: validateInteger(f.slicer, `${name}.slicer`, 1, Number.MAX_SAFE_INTEGER), delayMs: 0 };
  } else if (f.slicer !== undefined) {
    if (typeof f.slicer !== 'object' || f.slicer === null || Array.isArray(f.slicer)) throw invalidArgType(`${name}.slicer`, 'of type number or object', f.slicer);
    const s = f.slicer as Record<string, unknown>;
    for (const key of Object.keys(s)) {
      if (key !== 'size' && key !== 'delayMs') throw invalidArgValue(`${name}.slicer.${key}`, s[key], 'is not an option (expected size, delayMs)');
    }
    slicer = {
      size: validateInteger(s.size, `${name}.slicer.size`, 1, Number.MAX_SAFE_INTEGER),
      delayMs: validateInteger(s.delayMs ?? 0, `${name}.slicer.delayMs`, 0, MAX_TIMER_MS),
    };
  }
  let down: ResolvedToxics['down'] = null;
  if (f.down === true || f.down === 'refuse') down = 'refuse';
  else if (f.down === 'reset' || f.down === 'drop') down = f.down;
  else if (f.down !== undefined && f.down !== false) {
    if (typeof f.down !== 'string' && typeof f.down !== 'boolean') throw invalidArgType(`${name}.down`, "of type boolean or one of 'refuse', 'reset', 'drop'", f.down);
    throw invalidArgValue(`${name}.down`, f.down, "must be true, false, 'refuse', 'reset' or 'drop'");
  }
  return {
    latency: ms(f.latency, `${name}.latency`),
    jitter: ms(f.jitter, `${name}.jitter`),
    bandwidth: f.bandwidth === undefined ? null : validateInteger(f.bandwidth, `${name}.bandwidth`, 1, Number.MAX_SAFE_INTEGER),
    slicer,
    timeout: ms(f.timeout, `${name}.timeout`),
    down,
  };
}

/** The shaping toxics are set: latency, jitter, bandwidth or slicer. */
export function shapes(t: ResolvedToxics): boolean {
  return t.latency !== null || t.jitter !== null || t.bandwidth !== null || t.slicer !== null;
}

/** Bytes a shaped direction holds before it stops reading its source (backpressure). */
const QUEUE_HIGH = 256 * 1024;
/** A bandwidth-limited piece carries at most this many milliseconds' worth of bytes, so the rate is smooth. */
const BANDWIDTH_STEP_MS = 20;

interface Piece { at: number; data: Buffer }

interface Lane {
  queue: Piece[];
  queued: number;
  /** When the last queued piece goes out: order is kept whatever the jitter. */
  lastAt: number;
  /** bandwidth: when the link is free again. */
  freeAt: number;
  timer: NodeJS.Timeout | undefined;
  /** Called once the queue is empty (a FIN waiting behind it). */
  drained: Array<() => void>;
  paused: boolean;
}

/** The shaping of one connection's two directions. */
export class Shaper {
  private readonly lanes: Record<RelayDirection, Lane>;
  private config: Record<RelayDirection, ResolvedToxics | null> = { aToB: null, bToA: null };
  private stopped = false;

  constructor(private readonly relay: Relay, private readonly random: () => number = Math.random) {
    const lane = (): Lane => ({ queue: [], queued: 0, lastAt: 0, freeAt: 0, timer: undefined, drained: [], paused: false });
    this.lanes = { aToB: lane(), bToA: lane() };
  }

  /** Sets (or clears, with null) the shaping of a direction; bytes already queued keep their times. */
  configure(dir: RelayDirection, toxics: ResolvedToxics | null): void {
    this.config[dir] = toxics && shapes(toxics) ? toxics : null;
  }

  /** Bytes of `dir` not yet written to its target. */
  pending(dir: RelayDirection): number { return this.lanes[dir].queued; }

  /** True when `dir` goes through the queue (shaped now, or bytes still queued). */
  active(dir: RelayDirection): boolean { return this.config[dir] !== null || this.lanes[dir].queue.length > 0; }

  /** Queues bytes of `dir` to go out at their times. */
  push(dir: RelayDirection, data: Buffer): void {
    const lane = this.lanes[dir];
    const t = this.config[dir];
    const now = performance.now();
    if (!t) {
      // Shaping was switched off with bytes still queued: these go right after them.
      this.enqueue(lane, { at: Math.max(lane.lastAt, now), data });
    } else {
      const jitter = t.jitter ? (this.random() * 2 - 1) * t.jitter : 0;
      let at = Math.max(lane.lastAt, now + Math.max(0, (t.latency ?? 0) + jitter));
      const size = Math.min(
        t.slicer?.size ?? Infinity,
        t.bandwidth !== null ? Math.max(1, Math.floor((t.bandwidth * BANDWIDTH_STEP_MS) / 1000)) : Infinity,
      );
      for (let offset = 0, first = true; offset < data.length; offset += size, first = false) {
        const piece = data.subarray(offset, Math.min(data.length, offset + size));
        if (!first && t.slicer) at += t.slicer.delayMs;
        if (t.bandwidth !== null) {
          at = Math.max(at, lane.freeAt);
          lane.freeAt = at + (piece.length * 1000) / t.bandwidth;
        }
        this.enqueue(lane, { at, data: piece });
      }
    }
    if (lane.queued > QUEUE_HIGH && !lane.paused) {
      lane.paused = true;
      this.relay.source(dir).reader.pause();
    }
    this.schedule(dir);
  }

  /** Runs `fn` once every byte queued in `dir` has been written (at once when none is). */
  afterQueue(dir: RelayDirection, fn: () => void): void {
    if (this.lanes[dir].queue.length === 0) fn();
    else this.lanes[dir].drained.push(fn);
  }

  private enqueue(lane: Lane, piece: Piece): void {
    lane.queue.push(piece);
    lane.queued += piece.data.length;
    lane.lastAt = piece.at;
  }

  private schedule(dir: RelayDirection): void {
    const lane = this.lanes[dir];
    if (lane.timer || this.stopped || lane.queue.length === 0) return;
    const wait = Math.max(0, lane.queue[0].at - performance.now());
    lane.timer = setTimeout(() => {
      lane.timer = undefined;
      this.release(dir);
    }, Math.ceil(wait));
    lane.timer.unref();
  }

  private release(dir: RelayDirection): void {
    const lane = this.lanes[dir];
    const now = performance.now();
    while (lane.queue.length > 0 && lane.queue[0].at <= now + 0.5) {
      const { data } = lane.queue.shift()!;
      lane.queued -= data.length;
      this.relay.write(dir, data);
    }
    const source = this.relay.source(dir);
    if (lane.paused && lane.queued <= QUEUE_HIGH / 2) {
      lane.paused = false;
      if (!source.held && !source.blocked && !source.socket.destroyed) source.reader.resume();
    }
    if (lane.queue.length === 0) {
      for (const fn of lane.drained.splice(0)) fn();
    } else {
      this.schedule(dir);
    }
  }

  /** Drops what is queued and every timer (the connection is over). */
  stop(): void {
    this.stopped = true;
    for (const lane of Object.values(this.lanes)) {
      clearTimeout(lane.timer);
      lane.timer = undefined;
      lane.queue.length = 0;
      lane.queued = 0;
      lane.drained.length = 0;
    }
  }
}
