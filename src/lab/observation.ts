// What the lab observes of a row: the shapes every part of the lab (steps, judge, runner, report,
// capture, the network namespaces) reads and writes, apart from the code that fills them.
import type { WireSegment } from './capture.js';
import type { Condition, Outcome } from './scenarios.js';

export type Family = 4 | 6;

export interface SideObservation {
  /** Bytes this side read from the connection (the HTTP/2 rows' peer: the response body's bytes its http2 client read). */
  received: number;
  /** Bytes this side handed to its kernel (the HTTP/2 rows' closer: the response body's bytes its server sent). */
  sent: number;
  outcome: Outcome;
  /** The OS's number for the error, as Node reported it. */
  errno?: number;
  syscall?: string;
}

export interface ConnectionObservation {
  kind: 'connection';
  peer: SideObservation;
  closer: SideObservation & {
    /** The kernel's TCP state left for the closer's side ('gone' when none); null where the platform cannot tell (only Linux exposes /proc/net/tcp). */
    state: string | null;
    timeWait: boolean | null;
    /** How long close() held the thread. */
    closeBlockedMs: number | null;
    /** What the close helper reported, when the closer used one. */
    report?: CloseReport;
  };
  /** Off loopback: the condition played and how many TCP segments the network dropped. */
  network?: { condition: Condition; dropped: number };
  /**
   * The connection's TCP segments as captured (with RunOptions.capture): SYN, FIN, RST and data;
   * ACK-only segments are folded away. Absent when the row ran without a capture.
   */
  wire?: ObservedSegment[];
  /** Packets the capture lost (its buffer was full); present only when some were: the record is incomplete. */
  wireDropped?: number;
}

export interface CallObservation {
  kind: 'call';
  outcome: 'ok' | string;
  errno?: number;
  syscall?: string;
}

export type Observation = ConnectionObservation | CallObservation;

export interface ScenarioResult {
  /** The scenario's name (its row in the table). */
  name: string;
  /** The address family it was played over: 4 (127.0.0.1) or 6 (::1). */
  family: Family;
  /** The platform whose claims it was judged against. */
  platform: string;
  /** false where the table claims nothing for this platform: the observation is shown, not judged. */
  claimed: boolean;
  /** What was seen on both ends; null when the scenario could not be run. */
  observed: Observation | null;
  /** Each claim the observation broke, in words; empty when it kept them all. */
  mismatches: string[];
  /** No mismatch (an unclaimed row passes whatever it shows). */
  passed: boolean;
  /** Set when the scenario could not be run at all. */
  error?: string;
  /** The code of that error, when it had one (e.g. ERR_NET_LINGER_UNSUPPORTED: a typed refusal). */
  errorCode?: string;
  /** Milliseconds the scenario took to play and judge. */
  durationMs: number;
}

/** A close helper's report as the lab records it. */
export interface CloseReport {
  helper: 'resetClose' | 'gracefulClose' | 'lingerClose';
  outcome: string;
  elapsedMs: number;
  reset: boolean;
  /** lingerClose: bytes the peer had not acknowledged when the socket was closed. */
  unackedBytes?: number | null;
  code?: string;
}

/** A captured segment; off loopback `lost` marks one that left its sender and never reached the other side. */
export type ObservedSegment = WireSegment & { lost?: true };
