import { performance } from 'node:perf_hooks';
import { type RelayDirection } from './relay.js';
import { MAX_TIMER_MS, invalidArgType, invalidArgValue, validateChoice, validateInteger } from '../core/validate.js';

// The keep-alive race, on demand: a server closes an idle keep-alive connection just as the
// client sends its next request on it (nodejs/node#20256, #47130). Here it is deterministic: on
// a connection that already carried an exchange (the client sent, the upstream answered), the
// first bytes the client sends after at least `afterIdleMs` of silence either way are never
// delivered; the client gets an RST ('reset') or a FIN ('fin'), the upstream a plain close.

/** How the proxy answers the request that comes after the silence. */
export type KeepaliveRaceClose = 'reset' | 'fin';

export interface KeepaliveRaceOptions {
  /** Milliseconds of silence (no byte either way) after an exchange before the client's next bytes trigger the race. */
  afterIdleMs: number;
  /** 'reset' (default): an RST answers the request; 'fin': a FIN, the request never read by anyone. */
  close?: KeepaliveRaceClose;
}

/** `keepaliveRace` as the proxy applies it. */
export interface ResolvedKeepaliveRace {
  /** Milliseconds of silence after an exchange before the client's next bytes trigger the race. */
  afterIdleMs: number;
  /** 'reset' (an RST answers the request) or 'fin' (a FIN, the request unread). */
  close: KeepaliveRaceClose;
}

/** Checks `keepaliveRace` (a number of ms, or { afterIdleMs, close }); null when absent. */
export function resolveKeepaliveRace(value: unknown, name: string): ResolvedKeepaliveRace | null {
  if (value === undefined) return null;
  if (typeof value === 'number') return { afterIdleMs: validateInteger(value, name, 0, MAX_TIMER_MS), close: 'reset' };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidArgType(name, 'of type number or object', value);
  const o = value as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (key !== 'afterIdleMs' && key !== 'close') throw invalidArgValue(`${name}.${key}`, o[key], 'is not an option (expected afterIdleMs, close)');
  }
  if (o.afterIdleMs === undefined) throw invalidArgType(`${name}.afterIdleMs`, 'of type number', undefined);
  return {
    afterIdleMs: validateInteger(o.afterIdleMs, `${name}.afterIdleMs`, 0, MAX_TIMER_MS),
    close: validateChoice(o.close, `${name}.close`, ['reset', 'fin'] as const, 'reset'),
  };
}

/** Watches one connection for the moment the race applies. */
export class KeepaliveRaceWatch {
  private sent = false;
  private exchanged = false;
  private last = performance.now();

  constructor(private readonly afterIdleMs: number) {}

  /**
   * A chunk read in `dir` (aToB: from the client). True when it is the request that races the
   * server's close: the connection carried an exchange, then was silent for afterIdleMs.
   */
  fires(dir: RelayDirection): boolean {
    const now = performance.now();
    const idle = now - this.last;
    this.last = now;
    if (dir === 'aToB') {
      if (this.exchanged && idle >= this.afterIdleMs) return true;
      this.sent = true;
    } else if (this.sent) {
      this.exchanged = true;
    }
    return false;
  }
}
