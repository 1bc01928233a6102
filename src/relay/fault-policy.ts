import { performance } from 'node:perf_hooks';
import { type Relay, type RelayDirection, type RelayPolicy } from './relay.js';
import { pendingBytes } from '../core/socket-ops.js';
import { pollWithBackoff } from '../core/poll.js';
import { type FaultAction, type FaultName, type ResolvedFaults } from './faults.js';
import { matches, RequestTracker } from './http-match.js';
import { KeepaliveRaceWatch } from './keepalive-race.js';
import { Shaper } from './toxics.js';

export {
  anyFault, resolveFaults, type FaultAction, type FaultDirection, type FaultName, type Faults, type ResolvedFaults,
} from './faults.js';

// What the faults (faults.ts) do to one relayed connection. The proxy itself (listening,
// connecting upstream, reports) is fault-proxy.ts.
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
//   4. keepalive-race: once the connection carried an exchange, the client's first bytes after
//      the silence are never delivered: an RST (or a FIN) to the client, a plain close upstream.
//   5. timeout swallows a direction's bytes (and its FIN), and closes both sides after its ms.
//   6. The shaping toxics (latency, jitter, bandwidth, slicer) delay what passes, in order;
//      a FIN waits behind the bytes queued before it. They, and timeout, also change on live
//      connections (update()).
//   7. A FIN passed on in a faulted direction (the peer's own, or limit-data's) waits delay-fin
//      ms, then, once the victim has it, half-close-then-reset resets after its ms.

/** The longest a reset-after or half-close-then-reset waits for the victim to acknowledge what it was sent. */
const ACK_WAIT_MS = 2000;
const UNREAD_POLL_MS = 5;
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
  private readonly race: KeepaliveRaceWatch | null;
  /** keepalive-race 'fin' fired: nothing more is relayed either way. */
  private raced = false;
  /** match: follows the client's requests until one matches; then the thresholds are armed. */
  private tracker: RequestTracker | null = null;
  private armWith: Threshold[] = [];
  /** match: the request that armed the faults; null before. */
  private armedBy: number | null = null;
  private readonly shaper: Shaper;
  /** timeout: the directions whose data is swallowed now. */
  private readonly stalled: Record<RelayDirection, boolean> = { aToB: false, bToA: false };
  private stallTimer: NodeJS.Timeout | undefined;

  constructor(private readonly relay: Relay, private readonly f: ResolvedFaults, random: () => number = Math.random) {
    this.shaper = new Shaper(relay, random);
    this.race = f.keepaliveRace ? new KeepaliveRaceWatch(f.keepaliveRace.afterIdleMs) : null;
    const faulted = (dir: RelayDirection) => f.direction === 'both' || DIR_NAME[dir] === f.direction;
    const thresholds: Threshold[] = [];
    if (f.resetAfter !== null) thresholds.push({ at: f.resetAfter, fault: 'reset-after' });
    if (f.limitData !== null) thresholds.push({ at: f.limitData, fault: 'limit-data' });
    if (f.blackhole) thresholds.push({ at: 0, fault: 'blackhole' });
    if (f.blackholeAfter !== null) thresholds.push({ at: f.blackholeAfter, fault: 'blackhole-after' });
    // Stable sort: on a tie the order of the pushes above decides (reset-after, limit-data, blackhole).
    thresholds.sort((x, y) => x.at - y.at);
    const state = (dir: RelayDirection): DirState => ({
      dir, faulted: faulted(dir), thresholds: faulted(dir) && !f.match ? [...thresholds] : [], forwarded: 0, mode: 'flow',
    });
    this.dirs = { aToB: state('aToB'), bToA: state('bToA') };
    if (f.match) {
      this.tracker = new RequestTracker();
      this.armWith = thresholds;
    }
    if (f.closeUnread !== null) {
      // The victim of a direction is the side it delivers to; its unread data flows the other way.
      for (const dir of ['aToB', 'bToA'] as const) {
        if (!this.dirs[dir].faulted) continue;
        const fromVictim: RelayDirection = dir === 'aToB' ? 'bToA' : 'aToB';
        this.unreadAfter[fromVictim] = f.closeUnread;
      }
    }
  }

  /**
   * Applies the toxics that work on live connections (latency, jitter, bandwidth, slicer,
   * timeout) as `t` says, in `t.direction`; null clears them.
   */
  update(t: ResolvedFaults | null): void {
    for (const dir of ['aToB', 'bToA'] as const) {
      const on = t !== null && (t.direction === 'both' || DIR_NAME[dir] === t.direction);
      this.shaper.configure(dir, on ? t : null);
      const stall = on && t.timeout !== null;
      if (stall && !this.stalled[dir]) this.record('timeout', dir);
      this.stalled[dir] = stall;
    }
    clearTimeout(this.stallTimer);
    this.stallTimer = undefined;
    if (t?.timeout) {
      this.stallTimer = setTimeout(() => {
        if (this.over) return;
        this.resetting = true;
        this.relay.destroySide(this.relay.a);
        this.relay.destroySide(this.relay.b);
      }, t.timeout);
      this.timers.add(this.stallTimer);
    }
  }

  /** Acts on what is due before any byte: thresholds at 0 and close-unread 0. The relay calls it before it reads. */
  begin(): void {
    this.update(this.f);
    for (const st of Object.values(this.dirs)) this.crossThresholds(st);
    for (const [dir, n] of Object.entries(this.unreadAfter) as [RelayDirection, number][]) {
      if (n === 0) this.holdVictim(dir);
    }
  }

  private elapsed(): number { return performance.now() - this.start; }

  private record(fault: FaultName, dir: RelayDirection, extra: Partial<FaultAction> = {}): void {
    const request = this.armedBy === null ? {} : { request: this.armedBy };
    this.actions.push({ fault, direction: DIR_NAME[dir], atMs: Math.round(this.elapsed() * 10) / 10, atBytes: this.dirs[dir].forwarded, ...request, ...extra });
  }

  private timer(ms: number, fn: () => void): void {
    const t = setTimeout(() => { this.timers.delete(t); fn(); }, ms);
    this.timers.add(t);
  }

  private get over(): boolean {
    return this.resetting || (this.relay.a.closed && this.relay.b.closed);
  }

  data(dir: RelayDirection, chunk: Buffer): Buffer | null {
    if (this.resetting || this.raced) return null;
    if (this.race?.fires(dir)) {
      this.raceClose();
      return null;
    }
    if (this.stalled[dir]) return null;
    if (this.tracker && dir === 'aToB') this.follow(chunk);
    const st = this.dirs[dir];
    if (st.faulted && this.f.resetAfterMs !== null && !this.resetTimer && (!this.f.match || this.armedBy !== null)) {
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
      if (!this.shaper.active(dir)) return out;
      this.shaper.push(dir, out);
      return null;
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
        this.send(dir, piece);
      }
      this.crossThresholds(st);
    }
    return null;
  }

  /**
   * match: reads the client's chunk for request heads; the first request that matches arms the
   * thresholds, counted from the start of its body (up) and of its response (down).
   */
  private follow(chunk: Buffer): void {
    const hit = this.tracker!.feed(chunk).find((r) => matches(this.f.match!, r));
    if (!hit) return;
    this.tracker = null;
    this.armedBy = hit.index;
    const base: Record<RelayDirection, number> = {
      aToB: this.dirs.aToB.forwarded + hit.bodyOffset,
      bToA: this.dirs.bToA.forwarded,
    };
    for (const st of Object.values(this.dirs)) {
      if (!st.faulted) continue;
      st.thresholds = this.armWith.map((t) => ({ ...t, at: base[st.dir] + t.at }));
      // Down: what is due at once (limitData 0: a FIN before the response) fires now.
      if (st.dir === 'bToA') this.crossThresholds(st);
    }
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

  /** Bytes on their way to the target of `dir`: through the shaping toxics when they apply. */
  private send(dir: RelayDirection, data: Buffer): void {
    if (this.shaper.active(dir)) this.shaper.push(dir, data);
    else this.relay.write(dir, data);
  }

  /** end() on the target of `dir`, behind the bytes the shaping toxics still hold. */
  private finAfterQueue(dir: RelayDirection): void {
    this.shaper.afterQueue(dir, () => this.relay.forwardFin(dir));
  }

  fin(dir: RelayDirection): boolean {
    if (this.raced || this.stalled[dir]) return false;
    if (this.shaper.pending(dir) > 0) {
      this.shaper.afterQueue(dir, () => {
        if (this.finNow(dir)) this.relay.forwardFin(dir);
      });
      return false;
    }
    return this.finNow(dir);
  }

  private finNow(dir: RelayDirection): boolean {
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
      this.finAfterQueue(dir);
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
        this.finAfterQueue(fromVictim);
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
      const handed = this.shaper.pending(dir) === 0 && (fin ? socket.writableFinished : socket.writableLength === 0 && !socket.connecting);
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

  /** keepalive-race: the request just read goes nowhere; the client gets an RST or a FIN, the upstream a plain close. */
  private raceClose(): void {
    const { a, b } = this.relay;
    this.actions.push({ fault: 'keepalive-race', direction: 'down', atMs: Math.round(this.elapsed() * 10) / 10, atBytes: this.dirs.bToA.forwarded });
    if (this.f.keepaliveRace!.close === 'reset') {
      this.resetting = true;
      this.relay.resetSide(a);
    } else {
      this.raced = true;
      this.relay.forwardFin('bToA');
    }
    this.relay.destroySide(b);
  }

  private resetBoth(): void {
    this.resetting = true;
    this.relay.resetSide(this.relay.a);
    this.relay.resetSide(this.relay.b);
  }

  done(): void {
    this.shaper.stop();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}
