// The request side of a probe: what was queued, handed to the kernel and acknowledged by the
// server's TCP, in wire bytes (head and chunk framing included) and body bytes.
import type net from 'node:net';
import { writeQueueSize } from '../core/node-internals.js';
import { pendingBytes } from '../core/socket-ops.js';

/** Maps request bytes on the wire (head and chunk framing included) to body bytes. */
class WireMap {
  // One entry per write, ascending: where it starts on the wire and in the body, its framing
  // before the body bytes (the head, a chunk-size line), and how many body bytes it carries.
  private readonly writes: { wire: number; body: number; prefix: number; length: number }[] = [];
  private wireEnd = 0;
  private bodyEnd = 0;

  add(prefix: number, length: number, suffix: number): void {
    this.writes.push({ wire: this.wireEnd, body: this.bodyEnd, prefix, length });
    this.wireEnd += prefix + length + suffix;
    this.bodyEnd += length;
  }

  bodyAt(wire: number): number {
    let lo = 0;
    let hi = this.writes.length - 1;
    if (hi < 0) return 0;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.writes[mid].wire <= wire) lo = mid; else hi = mid - 1;
    }
    const w = this.writes[lo];
    return w.body + Math.max(0, Math.min(w.length, wire - w.wire - w.prefix));
  }
}

export function unreadBytes(socket: net.Socket): number {
  try {
    return pendingBytes(socket).unread;
  } catch {
    return 0;
  }
}

// Linux SIOCOUTQ and macOS SO_NWRITE count every byte still in the send queue, so "handed to the
// kernel minus that" is what the server's TCP acknowledged. Windows counts only bytes in flight,
// which would count queued bytes as acknowledged: no figure there.
const ACK_COUNTABLE = process.platform !== 'win32';

export function unacknowledged(socket: net.Socket): number | null {
  if (!ACK_COUNTABLE) return null;
  try {
    return pendingBytes(socket).unacked;
  } catch {
    return null;
  }
}

/** The request side: what was queued, handed to the kernel and acknowledged, in wire and body bytes. */
export class Upload {
  readonly wire = new WireMap();
  bodyQueued = 0;
  private wireDone = 0; // request bytes of writes whose callbacks have run
  private wireInFlight = 0; // of writes still in flight (Node queues at most one here: the pump waits for 'drain')
  private handedMax = 0;
  private ackedWire: number | null = null;

  constructor(private readonly socket: net.Socket) {}

  /** Request bytes in the kernel's hands: the finished writes, and of the one in flight what libuv no longer holds. */
  private handed(): number {
    const s = this.socket;
    return this.wireDone + Math.max(0, this.wireInFlight - (s.destroyed ? this.wireInFlight : writeQueueSize(s) ?? this.wireInFlight));
  }

  /** Takes a reading of what the kernel holds and what the server's TCP acknowledged. */
  sample(): void {
    if (this.socket.destroyed || this.socket.connecting) return;
    const handed = this.handed();
    if (handed > this.handedMax) this.handedMax = handed;
    const unacked = unacknowledged(this.socket);
    if (unacked === null) return;
    const acked = Math.max(0, handed - unacked);
    if (this.ackedWire === null || acked > this.ackedWire) this.ackedWire = acked;
  }

  /** Writes `buffer`: `prefix` framing bytes, then `body` body bytes, then the rest framing. */
  write(buffer: Buffer, prefix: number, body: number): boolean {
    this.bodyQueued += body;
    this.wire.add(prefix, body, buffer.length - prefix - body);
    const size = buffer.length;
    this.wireInFlight += size;
    return this.socket.write(buffer, (err) => {
      if (err) return;
      this.wireInFlight -= size;
      this.wireDone += size;
      this.sample();
    });
  }

  /** Body bytes handed to the kernel and acknowledged, at most `size`. */
  totals(size: number): { sentBytes: number; acknowledgedBytes: number | null } {
    const sentWire = Math.max(this.handedMax, this.socket.destroyed ? 0 : this.handed());
    return {
      sentBytes: Math.min(this.wire.bodyAt(sentWire), size),
      acknowledgedBytes: this.ackedWire === null ? null : Math.min(this.wire.bodyAt(this.ackedWire), size),
    };
  }
}
