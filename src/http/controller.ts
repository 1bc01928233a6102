// What enableLingeringClose's handle is for any server, HTTP/1 or HTTP/2: the options, the counts,
// the sockets lingering now, and the one listener it adds. Each protocol's controller adopts the
// connections (lingering-close.ts, http2.ts).
import type net from 'node:net';
import tls from 'node:tls';
import { Drain, type DrainStartOptions } from '../close/drain.js';
import { resetClose } from '../close/reset-close.js';
import { NetLingerError, isConnectionReset } from '../core/errors.js';
import { DEFAULTS, validateOptions } from './options.js';
import type { LingeringCloseCounts, LingeringCloseOptions } from './lingering-close.js';

/** Why a lingering connection ended. */
export type EndReason = 'fin' | 'cap' | 'reset' | 'error' | 'close';

/** What every protocol keeps per lingering socket. */
export interface LingerState {
  /** Set when the controller ends the lingering close itself. */
  ending?: boolean;
  reason?: EndReason;
}

export abstract class ServerController<Counts extends LingeringCloseCounts> {
  enabled = true;
  readonly active = new Set<net.Socket>();
  abstract readonly totals: Counts;
  /** A TLS server hands its requests the TLSSocket of 'secureConnection', not the raw TCP socket. */
  protected readonly event: 'connection' | 'secureConnection';
  protected readonly onConnection = (socket: net.Socket) => this.adopt(socket);

  constructor(readonly server: net.Server, public opts: Required<LingeringCloseOptions>) {
    this.event = server instanceof tls.Server ? 'secureConnection' : 'connection';
  }

  get lingering(): number {
    return this.active.size;
  }

  get options(): Readonly<Required<LingeringCloseOptions>> {
    return { ...this.opts };
  }

  get counts(): Readonly<Counts> {
    return { ...this.totals };
  }

  install(): void {
    this.enabled = true;
    if (!this.server.listeners(this.event).includes(this.onConnection)) this.server.on(this.event, this.onConnection);
  }

  disable(): void {
    if (!this.enabled) return;
    this.enabled = false;
    this.server.off(this.event, this.onConnection);
  }

  /** Ends a lingering connection: a plain close, or an RST for a cap with onTimeout 'reset'. */
  endLinger(socket: net.Socket, state: LingerState, reason: EndReason): void {
    if (state.ending || socket.destroyed) return;
    state.ending = true;
    this.active.delete(socket); // no longer lingering, even before 'close'
    state.reason ??= reason;
    if (reason === 'cap' && this.opts.onTimeout === 'reset') {
      try {
        void resetClose(socket);
        return;
      } catch {
        // No RST possible here (a TLS socket without the native binary): a plain close.
      }
    }
    // The prototype's destroy: the socket's own is overridden while it lingers.
    (Object.getPrototypeOf(socket) as net.Socket).destroy.call(socket);
  }

  /**
   * Drains a socket that lingers from now on, on the engine gracefulClose uses (close/drain.ts,
   * which discards into one shared buffer): ends it at the client's FIN once the response has
   * left, or at a cap; counts how it ended once it has closed, then calls `closed`.
   */
  protected drain(socket: net.Socket, state: LingerState, start: DrainStartOptions, closed?: () => void): void {
    const { lingeringTime, lingeringTimeout } = this.opts;
    const drain: Drain = new Drain(socket, { lingeringTime, lingeringTimeout }, {
      // The client's FIN, once the response has left: everything it sent has been read.
      done: () => this.endLinger(socket, state, 'fin'),
      error: (err) => { state.reason ??= isConnectionReset(err) ? 'reset' : 'error'; },
      cap: () => this.endLinger(socket, state, 'cap'),
      close: () => {
        if (drain.peerEnded && drain.writeDone) state.reason ??= 'fin';
        this.active.delete(socket);
        const t = this.totals;
        switch (state.reason) {
          case 'fin': t.endedByFin++; break;
          case 'cap': t.endedByCap++; break;
          case 'reset': t.endedByReset++; break;
          case 'close': t.endedByClose++; break;
          default: t.endedByError++;
        }
        closed?.();
      },
    });
    drain.start(start);
  }

  /** A new connection of the server's: hang the close overrides on it. */
  protected abstract adopt(socket: net.Socket): void;
}

/**
 * enableLingeringClose's steps for any server: refuse a runtime without the internals it needs
 * (after checking the options, so bad input still gets its TypeError/RangeError), else update the
 * server's handle and enable it again, else make one.
 */
export function controllerFor<S extends object, C extends ServerController<LingeringCloseCounts>>(
  registry: WeakMap<S, C>, server: S, options: unknown, unsupported: string | undefined,
  create: (opts: Required<LingeringCloseOptions>) => C,
): C {
  const existing = registry.get(server);
  if (unsupported) {
    validateOptions(options, DEFAULTS);
    throw new NetLingerError('ERR_NET_LINGER_UNSUPPORTED', unsupported);
  }
  const opts = validateOptions(options, existing?.opts ?? DEFAULTS);
  if (existing) {
    existing.opts = opts;
    existing.install();
    return existing;
  }
  const controller = create(opts);
  registry.set(server, controller);
  return controller;
}
