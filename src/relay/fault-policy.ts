import { performance } from 'node:perf_hooks';
import { type Relay, type RelayDirection, type RelayPolicy } from './relay.js';
import { pendingBytes } from '../core/socket-ops.js';
import { pollWithBackoff } from '../core/poll.js';
import { MAX_TIMER_MS, invalidArgType, invalidArgValue, outOfRange, validateChoice, validateInteger } from '../core/validate.js';

// The fault proxy's policy: which faults exist, how they are checked, and what they do to one
// relayed connection. The proxy itself (listening, connecting upstream, reports) is fault-proxy.ts.
// "up" is the client-to-upstream direction, "down" upstream-to-client.
//
// Order, per connection (docs/proxy.md says the same):
//   0. probability: one draw per connection; a connection that loses it is relayed untouched.
//   1. close-unread holds reading from the victim from the start (or after N bytes from it).
//   2. Byte thresholds per direction: blackhole (= blackhole-after 0), blackhole-after, limit-data,
//      reset-after. The lowest threshold fires first; on a tie reset-after wins, then limit-data,
//      then blackhole-after. After limit-data or blackhole-after no byte more passes that way,
//      so a higher threshold in the same direction never fires.
//   3. reset-after-ms: a timer from the first byte read in a faulted direction.
//   4. A FIN passed on in a faulted direction (the peer's own, or limit-data's) waits delay-fin
//      ms, then, once the victim has it, half-close-then-reset resets after its ms.

export type FaultDirection = 'up' | 'down' | 'both';

export interface Faults {
  /** Which way the faults act: 'down' (default: upstream to client, the client is hit), 'up' (client to upstream, the upstream is hit) or 'both'. */
  direction?: FaultDirection;
  /** Chance in [0, 1] that a connection gets the faults (toxiproxy's toxicity); default 1. */
  probability?: number;
  /** RST once this many bytes have been relayed in the direction (and acknowledged by the victim). */
  resetAfter?: number;
  /** RST this many ms after the first byte read in the direction. */
  resetAfterMs?: number;
  /** FIN once this many bytes have been relayed in the direction; the rest of that direction is read and discarded. */
  limitData?: number;
  /** Nothing in the direction reaches the victim: no byte, no FIN, no RST. */
  blackhole?: boolean;
  /** Like blackhole, after this many bytes. */
  blackholeAfter?: number;
  /**
   * Close the victim's socket while its own data sits unread, so that the kernel sends the RST:
   * true (or 0) reads nothing from the victim; a number relays that many of its bytes first.
   */
  closeUnread?: boolean | number;
  /** Once a FIN in the direction has reached the victim, RST after this many ms. */
  halfCloseThenReset?: number;
  /** Hold every FIN in the direction this many ms (toxiproxy's slow_close). */
  delayFin?: number;
}

/** The faults as the proxy applies them: every field present, null where unused. */
export interface ResolvedFaults {
  direction: FaultDirection;
  probability: number;
  resetAfter: number | null;
  resetAfterMs: number | null;
  limitData: number | null;
  blackhole: boolean;
  blackholeAfter: number | null;
  closeUnread: number | null;
  halfCloseThenReset: number | null;
  delayFin: number | null;
}

export type FaultName =
  | 'reset-after' | 'reset-after-ms' | 'limit-data' | 'blackhole' | 'blackhole-after'
  | 'close-unread' | 'half-close-then-reset' | 'delay-fin';

/** Something the proxy did to a connection. */
export interface FaultAction {
  fault: FaultName;
  /** The direction it acted on. */
  direction: 'up' | 'down';
  /** Milliseconds since the connection was accepted. */
  atMs: number;
  /** Bytes relayed in that direction when it acted. */
  atBytes: number;
  /** close-unread: bytes from the victim unread in its kernel buffer when it was closed. */
  unread?: number;
}

const FAULT_KEYS = new Set([
  'direction', 'probability', 'resetAfter', 'resetAfterMs', 'limitData', 'blackhole', 'blackholeAfter',
  'closeUnread', 'halfCloseThenReset', 'delayFin',
]);
/** The longest a reset-after or half-close-then-reset waits for the victim to acknowledge what it was sent. */
const ACK_WAIT_MS = 2000;
const UNREAD_POLL_MS = 5;

function optionalCount(value: unknown, name: string): number | null {
  return value === undefined ? null : validateInteger(value, name, 0, Number.MAX_SAFE_INTEGER);
}

function optionalMs(value: unknown, name: string): number | null {
  return value === undefined ? null : validateInteger(value, name, 0, MAX_TIMER_MS);
}

/** Checks a faults object; throws Node-style errors naming the field. */
export function resolveFaults(faults: unknown, name = 'faults'): ResolvedFaults {
  if (faults !== undefined && (typeof faults !== 'object' || faults === null || Array.isArray(faults))) {
    throw invalidArgType(name, 'of type object', faults);
  }
  const f = (faults ?? {}) as Record<string, unknown>;
  for (const key of Object.keys(f)) {
    if (!FAULT_KEYS.has(key)) throw invalidArgValue(`${name}.${key}`, f[key], `is not a fault (expected one of ${[...FAULT_KEYS].join(', ')})`);
  }
  let probability = 1;
  if (f.probability !== undefined) {
    if (typeof f.probability !== 'number') throw invalidArgType(`${name}.probability`, 'of type number', f.probability);
    if (!(f.probability >= 0 && f.probability <= 1)) throw outOfRange(`${name}.probability`, '>= 0 && <= 1', f.probability);
    probability = f.probability;
  }
  if (f.blackhole !== undefined && typeof f.blackhole !== 'boolean') throw invalidArgType(`${name}.blackhole`, 'of type boolean', f.blackhole);
  let closeUnread: number | null = null;
  if (f.closeUnread === true) closeUnread = 0;
  else if (f.closeUnread !== undefined && f.closeUnread !== false) {
    if (typeof f.closeUnread !== 'number') throw invalidArgType(`${name}.closeUnread`, 'of type boolean or number', f.closeUnread);
    closeUnread = validateInteger(f.closeUnread, `${name}.closeUnread`, 0, Number.MAX_SAFE_INTEGER);
  }
  return {
    direction: validateChoice(f.direction, `${name}.direction`, ['up', 'down', 'both'] as const, 'down'),
    probability,
    resetAfter: optionalCount(f.resetAfter, `${name}.resetAfter`),
    resetAfterMs: optionalMs(f.resetAfterMs, `${name}.resetAfterMs`),
    limitData: optionalCount(f.limitData, `${name}.limitData`),
    blackhole: f.blackhole === true,
    blackholeAfter: optionalCount(f.blackholeAfter, `${name}.blackholeAfter`),
    closeUnread,
    halfCloseThenReset: optionalMs(f.halfCloseThenReset, `${name}.halfCloseThenReset`),
    delayFin: optionalMs(f.delayFin, `${name}.delayFin`),
  };
}

/** True when the faults would do anything at all. */
export function anyFault(f: ResolvedFaults): boolean {
  return f.resetAfter !== null || f.resetAfterMs !== null || f.limitData !== null || f.blackhole ||
    f.blackholeAfter !== null || f.closeUnread !== null || f.halfCloseThenReset !== null || f.delayFin !== null;
}
const DIR_NAME: Readonly<Record<RelayDirection, 'up' | 'down'>> = { aToB: 'up', bToA: 'down' };

type Threshold = { at: number; fault: 'reset-after' | 'limit-data' | 'blackhole' | 'blackhole-after' };

interface DirState {
  dir: RelayDirection;
  faulted: boolean;
  thresholds: Threshold[];
  forwarded: number;
  /** 'flow': relaying; 'limited': limit-data sent its FIN; 'blackhole': swallowing everything. */
  mode: 'flow' | 'limited' | 'blackhole';
}

/** The per-connection fault logic, plugged into the relay (a = client, b = upstream). */
export class FaultPolicy implements RelayPolicy {
  readonly actions: FaultAction[] = [];
  private readonly dirs: Record<RelayDirection, DirState>;
  private resetting = false;
  private resetTimer: NodeJS.Timeout | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();
  /** close-unread: bytes still to relay from each victim before reading stops; undefined where it does not apply. */
  private readonly unreadAfter: Partial<Record<RelayDirection, number>> = {};
  private readonly start = performance.now();

  constructor(private readonly relay: Relay, private readonly f: ResolvedFaults) {
    const faulted = (dir: RelayDirection) => f.direction === 'both' || DIR_NAME[dir] === f.direction;
    const thresholds: Threshold[] = [];
    if (f.resetAfter !== null) thresholds.push({ at: f.resetAfter, fault: 'reset-after' });
    if (f.limitData !== null) thresholds.push({ at: f.limitData, fault: 'limit-data' });
    if (f.blackhole) thresholds.push({ at: 0, fault: 'blackhole' });
    if (f.blackholeAfter !== null) thresholds.push({ at: f.blackholeAfter, fault: 'blackhole-after' });
    // Stable sort: on a tie the order of the pushes above decides (reset-after, limit-data, blackhole).
    thresholds.sort((x, y) => x.at - y.at);
    const state = (dir: RelayDirection): DirState => ({
      dir, faulted: faulted(dir), thresholds: faulted(dir) ? [...thresholds] : [], forwarded: 0, mode: 'flow',
    });
    this.dirs = { aToB: state('aToB'), bToA: state('bToA') };
    if (f.closeUnread !== null) {
      // The victim of a direction is the side it delivers to; its unread data flows the other way.
      for (const dir of ['aToB', 'bToA'] as const) {
        if (!this.dirs[dir].faulted) continue;
        const fromVictim: RelayDirection = dir === 'aToB' ? 'bToA' : 'aToB';
        this.unreadAfter[fromVictim] = f.closeUnread;
      }
    }
  }

  /** Acts on what is due before any byte: thresholds at 0 and close-unread 0. The relay calls it before it reads. */
  begin(): void {
    for (const st of Object.values(this.dirs)) this.crossThresholds(st);
    for (const [dir, n] of Object.entries(this.unreadAfter) as [RelayDirection, number][]) {
      if (n === 0) this.holdVictim(dir);
    }
  }

  private elapsed(): number { return performance.now() - this.start; }

  private record(fault: FaultName, dir: RelayDirection, extra: Partial<FaultAction> = {}): void {
    this.actions.push({ fault, direction: DIR_NAME[dir], atMs: Math.round(this.elapsed() * 10) / 10, atBytes: this.dirs[dir].forwarded, ...extra });
  }

  private timer(ms: number, fn: () => void): void {
    const t = setTimeout(() => { this.timers.delete(t); fn(); }, ms);
    this.timers.add(t);
  }

  private get over(): boolean {
    return this.resetting || (this.relay.a.closed && this.relay.b.closed);
  }

  data(dir: RelayDirection, chunk: Buffer): Buffer | null {
    if (this.resetting) return null;
    const st = this.dirs[dir];
    if (st.faulted && this.f.resetAfterMs !== null && !this.resetTimer) {
      const ms = this.f.resetAfterMs;
      this.resetTimer = setTimeout(() => {
        if (this.over) return;
        this.record('reset-after-ms', dir);
        this.resetBoth();
      }, ms);
      this.timers.add(this.resetTimer);
    }
    let out: Buffer | null = chunk;
    const budget = this.unreadAfter[dir];
    if (budget !== undefined) {
      // close-unread: relay up to the budget from the victim, then stop reading it.
      if (chunk.length >= budget) {
        out = chunk.subarray(0, budget);
        this.unreadAfter[dir] = 0;
        this.holdVictim(dir);
      } else {
        this.unreadAfter[dir] = budget - chunk.length;
      }
    }
    if (!out || out.length === 0 || st.mode !== 'flow') return null;
    if (st.thresholds.length === 0) {
      st.forwarded += out.length;
      return out;
    }
    // Relay up to the next threshold, act on it, and so on (several can fall in one chunk).
    let rest = out;
    while (rest.length > 0 && st.mode === 'flow' && !this.resetting) {
      const next = st.thresholds[0];
      const room = next ? next.at - st.forwarded : Infinity;
      const piece = rest.length <= room ? rest : rest.subarray(0, room);
      rest = rest.subarray(piece.length);
      if (piece.length > 0) {
        st.forwarded += piece.length;
        this.relay.write(dir, piece);
      }
      this.crossThresholds(st);
    }
    return null;
  }

  /** Fires every threshold the direction has reached. */
  private crossThresholds(st: DirState): void {
    while (st.thresholds.length > 0 && st.thresholds[0].at <= st.forwarded && st.mode === 'flow' && !this.resetting) {
      const { fault } = st.thresholds.shift()!;
      if (fault === 'reset-after') {
        this.record('reset-after', st.dir);
        this.resetting = true;
        // An RST discards what the victim has not acknowledged: wait until it has the N bytes.
        this.whenDelivered(st.dir, false, () => this.resetBoth());
      } else if (fault === 'limit-data') {
        this.record('limit-data', st.dir);
        st.mode = 'limited';
        this.passFin(st.dir);
      } else {
        this.record(fault, st.dir);
        st.mode = 'blackhole';
      }
    }
  }

  fin(dir: RelayDirection): boolean {
    const st = this.dirs[dir];
    if (!st.faulted) return !this.resetting;
    if (this.resetting || st.mode !== 'flow') return false;
    this.passFin(dir);
    return false;
  }

  /** A FIN in a faulted direction: delay-fin, then end(), then half-close-then-reset. */
  private passFin(dir: RelayDirection): void {
    const send = () => {
      if (this.over) return;
      this.relay.forwardFin(dir);
      const ms = this.f.halfCloseThenReset;
      if (ms === null) return;
      this.whenDelivered(dir, true, () => {
        this.timer(ms, () => {
          if (this.over) return;
          this.record('half-close-then-reset', dir);
          this.resetBoth();
        });
      });
    };
    if (this.f.delayFin !== null && this.f.delayFin > 0) {
      this.record('delay-fin', dir);
      this.timer(this.f.delayFin, send);
    } else {
      send();
    }
  }

  propagate(dir: RelayDirection): boolean {
    if (this.resetting) return false;
    const st = this.dirs[dir];
    return !(st.faulted && st.mode === 'blackhole');
  }

  /** close-unread: stop reading the victim (the source of `fromVictim`), then close it once its data sits unread. */
  private holdVictim(fromVictim: RelayDirection): void {
    const victim = this.relay.source(fromVictim);
    this.relay.hold(victim, true);
    const poll = () => {
      if (this.over || victim.socket.destroyed) return;
      let unread = 0;
      try {
        unread = pendingBytes(victim.socket).unread;
      } catch {
        return;
      }
      if (unread > 0) {
        // The direction toward the victim is the one the fault was set on.
        const toVictim: RelayDirection = fromVictim === 'aToB' ? 'bToA' : 'aToB';
        this.record('close-unread', toVictim, { unread });
        this.relay.destroySide(victim);
        // The other side gets a FIN after what was relayed to it.
        this.relay.forwardFin(fromVictim);
        return;
      }
      this.timer(UNREAD_POLL_MS, poll);
    };
    // Not at once: the bytes relayed before the hold are written first.
    if (victim.socket.connecting) victim.socket.once('connect', poll);
    else this.timer(0, poll);
  }

  /**
   * Calls `then` once the target of `dir` has every byte written to it (and, with `fin`, the FIN)
   * in its kernel and acknowledged by its peer, or after ACK_WAIT_MS.
   */
  private whenDelivered(dir: RelayDirection, fin: boolean, then: () => void): void {
    const socket = this.relay.target(dir).socket;
    const deadline = performance.now() + ACK_WAIT_MS;
    const delivered = (delay: number): boolean => {
      if (socket.destroyed) return true;
      const handed = fin ? socket.writableFinished : socket.writableLength === 0 && !socket.connecting;
      let acked: boolean | null = null;
      if (handed) {
        try {
          const { unacked } = pendingBytes(socket);
          acked = unacked === null ? null : unacked === 0;
        } catch {
          acked = true;
        }
      }
      // Where the OS cannot count unacknowledged bytes, a short grace (~15 ms) after the kernel took them.
      return (handed && acked !== false && (acked === true || delay >= 8)) || performance.now() > deadline;
    };
    if (delivered(0)) return then();
    pollWithBackoff((delay) => delivered(delay) && (then(), true), (ms, fn) => this.timer(ms, fn));
  }

  private resetBoth(): void {
    this.resetting = true;
    this.relay.resetSide(this.relay.a);
    this.relay.resetSide(this.relay.b);
  }

  done(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}
