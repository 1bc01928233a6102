import { type ResolvedKeepaliveRace, type KeepaliveRaceOptions, resolveKeepaliveRace } from './keepalive-race.js';
import { type ResolvedToxics, resolveToxics, TOXIC_KEYS, type ToxicOptions } from './toxics.js';
import { type HttpMatch, type ResolvedHttpMatch, resolveHttpMatch } from './http-match.js';
import { MAX_TIMER_MS, invalidArgType, invalidArgValue, outOfRange, validateChoice, validateInteger } from '../core/validate.js';

// The fault proxy's faults: what can be asked for, and how it is checked. What each does to a
// connection is fault-policy.ts; the toxics that shape a stream are toxics.ts.

export type FaultDirection = 'up' | 'down' | 'both';

export interface Faults extends ToxicOptions {
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
  /**
   * The keep-alive race: on a connection that already carried an exchange (the client sent, the
   * upstream answered), the client's next bytes after at least this many ms of silence either way
   * are answered with an RST, as when a server closes an idle keep-alive connection just as the
   * client reuses it. `{ afterIdleMs, close: 'fin' }` answers with a FIN instead, the request
   * unread. Acts on the client whatever `direction` says.
   */
  keepaliveRace?: number | KeepaliveRaceOptions;
  /**
   * HTTP/1.1 rules: the byte thresholds (resetAfter, limitData, blackhole, blackholeAfter) and
   * resetAfterMs wait for the first request on the connection that matches (method, path pattern,
   * place on the connection), and count from it: 'up' from the start of its body, 'down' from the
   * start of its response. The other faults and the toxics act on the whole connection as ever.
   */
  match?: HttpMatch;
}

/** The faults as the proxy applies them: every field present, null where unused. */
export interface ResolvedFaults extends ResolvedToxics {
  /** `direction`; default 'down'. */
  direction: FaultDirection;
  /** `probability`, in [0, 1]; default 1. */
  probability: number;
  /** `resetAfter`, in bytes; null: unset. */
  resetAfter: number | null;
  /** `resetAfterMs`, in ms; null: unset. */
  resetAfterMs: number | null;
  /** `limitData`, in bytes; null: unset. */
  limitData: number | null;
  /** `blackhole`; default false. */
  blackhole: boolean;
  /** `blackholeAfter`, in bytes; null: unset. */
  blackholeAfter: number | null;
  /** `closeUnread` as a byte count (true is 0); null: unset. */
  closeUnread: number | null;
  /** `halfCloseThenReset`, in ms; null: unset. */
  halfCloseThenReset: number | null;
  /** `delayFin`, in ms; null: unset. */
  delayFin: number | null;
  /** `keepaliveRace`, a bare number read as `{ afterIdleMs, close: 'reset' }`; null: unset. */
  keepaliveRace: ResolvedKeepaliveRace | null;
  /** `match`, checked; null: the faults act on the whole connection. */
  match: ResolvedHttpMatch | null;
}

export type FaultName =
  | 'reset-after' | 'reset-after-ms' | 'limit-data' | 'blackhole' | 'blackhole-after'
  | 'close-unread' | 'half-close-then-reset' | 'delay-fin' | 'keepalive-race' | 'timeout' | 'down';

/** Something the proxy did to a connection. */
export interface FaultAction {
  /** Which fault acted (the Faults field in kebab-case: 'reset-after' is resetAfter; 'down' for a connection `down` took). */
  fault: FaultName;
  /** The direction it acted on. */
  direction: 'up' | 'down';
  /** Milliseconds since the connection was accepted. */
  atMs: number;
  /** Bytes relayed in that direction when it acted. */
  atBytes: number;
  /** close-unread: bytes from the victim unread in its kernel buffer when it was closed. */
  unread?: number;
  /** With `match`: the place on the connection of the request that armed the fault (1 for the first). */
  request?: number;
}

const FAULT_KEYS = new Set([
  'direction', 'probability', 'resetAfter', 'resetAfterMs', 'limitData', 'blackhole', 'blackholeAfter',
  'closeUnread', 'halfCloseThenReset', 'delayFin', 'keepaliveRace', 'match', ...TOXIC_KEYS,
]);

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
  const toxics = resolveToxics(f, name);
  if (toxics.down === 'refuse' && probability < 1) {
    throw invalidArgValue(`${name}.down`, f.down, "cannot be combined with a probability below 1: refusing closes the listener for every connect (use 'reset' or 'drop')");
  }
  const match = resolveHttpMatch(f.match, `${name}.match`);
  if (match !== null) {
    if (closeUnread !== null) throw invalidArgValue(`${name}.match`, f.match, 'cannot be combined with closeUnread');
    const gated = ['resetAfter', 'resetAfterMs', 'limitData', 'blackholeAfter'].some((k) => f[k] !== undefined) || f.blackhole === true;
    if (!gated) throw invalidArgValue(`${name}.match`, f.match, 'needs a fault to apply: resetAfter, resetAfterMs, limitData, blackhole or blackholeAfter');
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
    keepaliveRace: resolveKeepaliveRace(f.keepaliveRace, `${name}.keepaliveRace`),
    ...toxics,
    match,
  };
}

/** True when the faults would do anything at all. */
export function anyFault(f: ResolvedFaults): boolean {
  return f.resetAfter !== null || f.resetAfterMs !== null || f.limitData !== null || f.blackhole ||
    f.blackholeAfter !== null || f.closeUnread !== null || f.halfCloseThenReset !== null || f.delayFin !== null ||
    f.keepaliveRace !== null || f.latency !== null || f.jitter !== null || f.bandwidth !== null ||
    f.slicer !== null || f.timeout !== null || f.down !== null;
}
