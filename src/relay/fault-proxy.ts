import { EventEmitter } from 'node:events';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { resetClose } from '../close/reset-close.js';
import { NetLingerError, isConnectionReset, normalizeErrorCode } from '../core/errors.js';
import { anyFault, FaultPolicy, type FaultAction, type Faults, type ResolvedFaults, resolveFaults } from './fault-policy.js';
import { type RelaySideReport, startRelay } from './relay.js';
import { MAX_TIMER_MS, invalidArgType, parseAddress, validateInteger, validateOptionsObject } from '../core/validate.js';

// A TCP proxy on loopback (or wherever you point it) that relays faithfully and injects faults
// per connection. "up" is the client-to-upstream direction, "down" upstream-to-client, as in
// toxiproxy's upstream/downstream streams. The faults themselves, and what each does to a
// connection, are in fault-policy.ts.

export {
  resolveFaults, type FaultAction, type FaultDirection, type FaultName, type Faults, type ResolvedFaults,
} from './fault-policy.js';
export { type KeepaliveRaceClose, type KeepaliveRaceOptions, type ResolvedKeepaliveRace } from './keepalive-race.js';
export { type ResolvedToxics, type SlicerOptions, type ToxicOptions } from './toxics.js';
export { type HttpMatch, type ResolvedHttpMatch } from './http-match.js';

/** One end of a proxied connection: its address, and how it ended (see RelaySideReport). */
export interface EndpointReport extends RelaySideReport {
  /** The address: the client's own, or the upstream's. */
  host: string;
  /** Its TCP port. */
  port: number;
}

export interface ProxyConnectionReport {
  /** 1, 2, ... in the order connections were accepted. */
  id: number;
  /** The client's socket: how the client ended, how the proxy closed it. */
  client: EndpointReport;
  /** The upstream socket; `connected` false with the error (ECONNREFUSED...) when it could not connect. */
  upstream: EndpointReport & {
    /** The proxy's connect to the upstream succeeded (false also when `down` kept it from trying). */
    connected: boolean;
  };
  /** The faults this connection got, or null when the probability draw spared it (or none were set). */
  faults: ResolvedFaults | null;
  /** What the faults did, in order. */
  actions: FaultAction[];
  /** Bytes relayed: up (client to upstream) and down (upstream to client). */
  bytes: {
    /** Bytes read from the client and written to the upstream. */
    up: number;
    /** Bytes read from the upstream and written to the client. */
    down: number;
  };
  /** Whose peer ended first, or null when the proxy did (a fault, or close()). */
  first: 'client' | 'upstream' | null;
  /** 'idle-timeout' when the proxy closed the connection because of `idleTimeout`; null otherwise. */
  stopped: 'idle-timeout' | null;
  /** Milliseconds from the accept to the last of both sockets' 'close', to 0.1 ms. */
  elapsedMs: number;
}

/** An address: 'HOST:PORT' ('[::1]:PORT' for IPv6), a port alone, or { host, port }. */
export type AddressInput = string | number | {
  /** An IP address or a name; default 127.0.0.1. */
  host?: string;
  /** A TCP port (0 to listen on a free one). */
  port?: number;
};

export interface FaultProxyOptions {
  /** Where to listen: 'HOST:PORT', '[::1]:PORT', a port (on 127.0.0.1) or { host, port }. Default 127.0.0.1, port 0 (a free one). */
  listen?: AddressInput;
  /** Where to connect: 'HOST:PORT', '[::1]:PORT' or { host, port }. */
  upstream: AddressInput;
  /** The faults new connections get (see Faults); default none: a faithful relay. setFaults() changes them later. */
  faults?: Faults;
  /** The probability draw, for tests that want it repeatable; default Math.random. */
  random?: () => number;
  /**
   * Milliseconds without a byte read from either side after which the proxy closes a connection
   * (plain close of both sockets; the report says `stopped: 'idle-timeout'`). 0 (the default): never,
   * as without the proxy: a connection both peers leave open lives until close().
   */
  idleTimeout?: number;
  /** How many finished connections' reports the proxy keeps (`reports`, and for nextReport()); default 100. */
  keepReports?: number;
}

/** What the 'connection' event carries: a connection just accepted. */
export interface ProxyConnectionInfo {
  /** The id its report will have. */
  id: number;
  /** The client's address. */
  client: {
    /** Its IP address. */
    host: string;
    /** Its TCP port. */
    port: number;
  };
  /** The faults it got, or null when none were set or the probability draw spared it. */
  faults: ResolvedFaults | null;
}

/** The proxy's events and what each listener gets. */
export interface FaultProxyEvents {
  /** A connection was accepted. */
  connection: [info: ProxyConnectionInfo];
  /** A connection has closed: its report. */
  report: [report: ProxyConnectionReport];
  /** A 'connection' or 'report' listener threw (or an async one rejected): what it threw. */
  error: [err: unknown];
}

type FaultProxyListener<E extends keyof FaultProxyEvents> = (...args: FaultProxyEvents[E]) => unknown;
type ListenerMethods = 'on' | 'once' | 'off' | 'addListener' | 'removeListener' | 'prependListener' | 'prependOnceListener' | 'emit' | 'listenerCount' | 'removeAllListeners';

/**
 * The proxy, an EventEmitter whose events are typed: a misspelled event name or a listener of
 * the wrong shape does not compile (FaultProxyEvents lists them).
 */
export interface FaultProxy extends Omit<EventEmitter, ListenerMethods> {
  /** Calls `listener` for each `event` ('connection', 'report', 'error'), as EventEmitter's on(). */
  on<E extends keyof FaultProxyEvents>(event: E, listener: FaultProxyListener<E>): this;
  /** Calls `listener` for the next `event` only, as EventEmitter's once(). */
  once<E extends keyof FaultProxyEvents>(event: E, listener: FaultProxyListener<E>): this;
  /** Removes a listener, as EventEmitter's off(). */
  off<E extends keyof FaultProxyEvents>(event: E, listener: FaultProxyListener<E>): this;
  /** The same as on(). */
  addListener<E extends keyof FaultProxyEvents>(event: E, listener: FaultProxyListener<E>): this;
  /** The same as off(). */
  removeListener<E extends keyof FaultProxyEvents>(event: E, listener: FaultProxyListener<E>): this;
  /** on(), the listener called before those already there. */
  prependListener<E extends keyof FaultProxyEvents>(event: E, listener: FaultProxyListener<E>): this;
  /** once(), the listener called before those already there. */
  prependOnceListener<E extends keyof FaultProxyEvents>(event: E, listener: FaultProxyListener<E>): this;
  /** Calls the event's listeners with `args`, as EventEmitter's emit(); true when it had any. */
  emit<E extends keyof FaultProxyEvents>(event: E, ...args: FaultProxyEvents[E]): boolean;
  /** How many listeners the event has. */
  listenerCount(event: keyof FaultProxyEvents): number;
  /** Removes every listener of the event, or of every event. */
  removeAllListeners(event?: keyof FaultProxyEvents): this;
  /** The address the proxy listens on (the port picked when 0 was asked); the same while `down: 'refuse'` holds the listener closed. */
  readonly address: {
    /** The IP address. */
    host: string;
    /** The TCP port. */
    port: number;
    /** 4 or 6. */
    family: 4 | 6;
  };
  /** 'HOST:PORT' of the listener, brackets around IPv6. */
  readonly hostPort: string;
  /** Where the proxy connects for each client. */
  readonly upstream: {
    /** The upstream's IP address or name. */
    host: string;
    /** Its TCP port. */
    port: number;
  };
  /** The faults new connections get. */
  readonly faults: ResolvedFaults;
  /**
   * Replaces the faults. Connections accepted from now on get them all; live connections get the
   * toxics that work live (latency, jitter, bandwidth, slicer, timeout), each after a new
   * probability draw, and lose the ones no longer set; the other faults of a live connection stay
   * as they were when it was accepted. Validated like createFaultProxy's (bad faults throw, and
   * nothing changes). `down: 'refuse'` closes the listener at once; taking it off opens the
   * listener again on the same address. The promise resolves once the listener is as the faults
   * say (closed, or listening again), and rejects with Node's error (EADDRINUSE...) when the
   * address cannot be listened on again; it is never an unhandled rejection when ignored (the
   * failure is then a process warning, NET_LINGER_PROXY_LISTEN), and a later setFaults() tries again.
   */
  setFaults(faults: Faults): Promise<void>;
  /** The listener accepts connections: false while `down: 'refuse'` holds it closed (or reopening it failed). */
  readonly listening: boolean;
  /**
   * The report of the next connection, in accept order, each connection's report given once;
   * waits for a connection that has not been accepted yet. At most `keepReports` connections'
   * reports wait to be asked for: beyond that the oldest are let go, and nextReport() starts at the
   * oldest one kept. Rejects (ERR_NET_LINGER_PROXY_CLOSED) only when the proxy closes before that
   * connection exists.
   */
  nextReport(): Promise<ProxyConnectionReport>;
  /** Reports of the last `keepReports` connections that finished (default 100), in the order they finished. */
  readonly reports: readonly ProxyConnectionReport[];
  /** How many connections have finished since the proxy started (also those whose reports were let go). */
  readonly reportCount: number;
  /** Connections open now. */
  readonly active: number;
  /** Stops accepting, closes live connections (plain close), resolves once every report is in. Idempotent. */
  close(): Promise<void>;
}

/** 'HOST:PORT' with brackets around IPv6. */
export function formatHostPort(host: string, port: number): string {
  return net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

class FaultProxyImpl extends EventEmitter implements FaultProxy {
  address!: { host: string; port: number; family: 4 | 6 };
  private current: ResolvedFaults;
  private readonly server: net.Server;
  private nextId = 1;
  private readonly live = new Map<number, { client: net.Socket; upstream?: net.Socket; policy?: FaultPolicy }>();
  private readonly pending: Promise<ProxyConnectionReport>[] = [];
  private readonly waiters: Array<{ resolve: (p: Promise<ProxyConnectionReport>) => void; reject: (e: Error) => void }> = [];
  private readonly finished: ProxyConnectionReport[] = [];
  private finishedCount = 0;
  private readonly inFlight = new Set<Promise<ProxyConnectionReport>>();
  private closing: Promise<void> | undefined;
  /** Listener changes, one after the other (each reads the faults of its time). */
  private listenerChanges: Promise<void> = Promise.resolve();

  constructor(
    private readonly listenAt: { host: string; port: number },
    readonly upstream: { host: string; port: number },
    faults: ResolvedFaults,
    private readonly random: () => number,
    private readonly idleTimeout: number,
    private readonly keepReports: number,
  ) {
    // A listener's exception never reaches the proxy's machinery: see listenerFailed(). With
    // captureRejections, an async listener's rejection comes to the same place.
    super({ captureRejections: true });
    this.current = faults;
    this.server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (socket) => this.accept(socket));
    // A listener error once listening (none is expected) must not crash the process; listen()
    // takes the errors of its own attempts.
    this.server.on('error', () => undefined);
  }

  get faults(): ResolvedFaults { return this.current; }
  get reports(): readonly ProxyConnectionReport[] { return this.finished; }
  get reportCount(): number { return this.finishedCount; }
  get active(): number { return this.live.size; }
  get hostPort(): string { return formatHostPort(this.address.host, this.address.port); }
  get listening(): boolean { return this.server.listening; }

  setFaults(faults: Faults): Promise<void> {
    this.current = resolveFaults(faults);
    for (const { policy } of this.live.values()) policy?.update(this.draw(this.current) ? this.current : null);
    const change = this.matchListener();
    // Awaited, it rejects for the caller; ignored, the failure is a warning, not an unhandled rejection.
    change.catch((err: NodeJS.ErrnoException) => {
      process.emitWarning(`The fault proxy could not listen on ${this.hostPort} again: ${err.code ?? err.message}; new connects are refused`, {
        type: 'NetLingerWarning', code: 'NET_LINGER_PROXY_LISTEN',
      });
    });
    return change;
  }

  /**
   * Closes the listener while the faults say `down: 'refuse'` and opens it again on the same
   * address once they no longer do, as toxiproxy's Stop() and Start() close and reopen theirs.
   * Closing is synchronous (the descriptor is closed before this returns), so a connect made after
   * setFaults() is refused; live connections are not the listener's and go on.
   */
  matchListener(): Promise<void> {
    const change = this.listenerChanges.then(async () => {
      const refuse = this.current.down === 'refuse';
      if (this.closing) return;
      if (refuse && this.server.listening) this.server.close();
      else if (!refuse && !this.server.listening) await this.listen({ host: this.address.host, port: this.address.port });
    });
    this.listenerChanges = change.catch(() => undefined);
    if (this.current.down === 'refuse' && this.server.listening && !this.closing) this.server.close();
    return change;
  }

  /** One probability draw: true when a connection gets `faults`. */
  private draw(faults: ResolvedFaults): boolean {
    return anyFault(faults) && (faults.probability >= 1 || (faults.probability > 0 && this.random() < faults.probability));
  }

  /** Listens on `at` (first the address asked for; later the one it got, to listen there again). */
  listen(at: { host: string; port: number } = this.listenAt): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => {
        this.server.off('listening', onListening);
        reject(err);
      };
      const onListening = () => {
        this.server.off('error', onError);
        const a = this.server.address() as net.AddressInfo;
        this.address = { host: a.address, port: a.port, family: a.family === 'IPv6' || (a.family as unknown) === 6 ? 6 : 4 };
        resolve();
      };
      this.server.once('error', onError);
      this.server.once('listening', onListening);
      this.server.listen(at.port, at.host);
    });
  }

  private accept(client: net.Socket): void {
    const id = this.nextId++;
    const faults = this.current;
    const apply = this.draw(faults);
    client.setNoDelay(true);
    const clientAddr = { host: client.remoteAddress ?? '', port: client.remotePort ?? 0 };
    // 'refuse' has closed the listener: a connection accepted just before that is relayed as usual.
    if (apply && faults.down !== null && faults.down !== 'refuse') {
      this.live.set(id, { client });
      this.track(id, clientAddr, faults, downConnection(client, faults.down, this.upstream, this.idleTimeout));
      return;
    }
    const upstream = net.connect({ host: this.upstream.host, port: this.upstream.port, allowHalfOpen: true });
    upstream.setNoDelay(true);
    let connected = false;
    upstream.once('connect', () => { connected = true; });
    // Every connection gets a policy, so that toxics set later reach it too.
    const entry: { client: net.Socket; upstream: net.Socket; policy?: FaultPolicy } = { client, upstream };
    this.live.set(id, entry);
    const { report } = startRelay(client, upstream, { onTimeout: 'close', idleTimeout: this.idleTimeout },
      (r) => (entry.policy = new FaultPolicy(r, apply ? faults : NO_FAULTS, this.random)));
    this.track(id, clientAddr, apply ? faults : null, report.then((r): ProxyConnectionReport => ({
      id,
      client: { ...clientAddr, ...r.a },
      upstream: { ...this.upstream, connected, ...r.b },
      faults: apply ? faults : null,
      actions: entry.policy?.actions ?? [],
      bytes: { up: r.bytes.aToB, down: r.bytes.bToA },
      first: r.first === 'a' ? 'client' : r.first === 'b' ? 'upstream' : null,
      stopped: r.stopped === 'idle-timeout' ? 'idle-timeout' : null,
      elapsedMs: Math.round(r.elapsedMs * 10) / 10,
    })));
  }

  /** Files a connection's report once it is done; announces the connection. */
  private track(id: number, clientAddr: { host: string; port: number }, faults: ResolvedFaults | null, report: Promise<ProxyConnectionReport>): void {
    const done = report.then((r) => {
      const out: ProxyConnectionReport = { ...r, id, faults, client: { ...r.client, ...clientAddr } };
      this.live.delete(id);
      this.finishedCount++;
      this.finished.push(out);
      if (this.finished.length > this.keepReports) this.finished.shift();
      this.safeEmit('report', out);
      return out;
    });
    this.inFlight.add(done);
    void done.then(() => this.inFlight.delete(done));
    const waiter = this.waiters.shift();
    if (waiter) waiter.resolve(done);
    else {
      this.pending.push(done);
      if (this.pending.length > this.keepReports) this.pending.shift();
    }
    this.safeEmit('connection', { id, client: clientAddr, faults });
  }

  /** emit() from inside the proxy (a connection's callbacks, a promise): a listener's exception goes to listenerFailed(). */
  private safeEmit(event: 'report' | 'connection', value: unknown): void {
    try {
      this.emit(event, value);
    } catch (err) {
      this.listenerFailed(err, event);
    }
  }

  /**
   * A listener threw (or an async one rejected). The proxy emits from its own machinery, where
   * an exception would become an unhandled rejection or an uncaught exception: it goes to the
   * proxy's 'error' listeners when there are any, else (and when an 'error' listener throws
   * itself) it becomes a process warning, NET_LINGER_PROXY_LISTENER. The proxy goes on either way.
   */
  private listenerFailed(err: unknown, event: string | symbol): void {
    if (event !== 'error' && this.listenerCount('error') > 0) {
      try {
        this.emit('error', err);
        return;
      } catch (again) {
        err = again;
        event = 'error';
      }
    }
    const name = String(event);
    const message = err instanceof Error ? err.message : String(err);
    process.emitWarning(`A${/^[aeiou]/.test(name) ? 'n' : ''} '${name}' listener of the fault proxy threw: ${message}`, {
      type: 'NetLingerWarning',
      code: 'NET_LINGER_PROXY_LISTENER',
      detail: err instanceof Error ? err.stack : undefined,
    });
  }

  /** Where EventEmitter's captureRejections sends an async listener's rejection. */
  [EventEmitter.captureRejectionSymbol](err: unknown, event: string | symbol): void {
    this.listenerFailed(err, event);
  }

  nextReport(): Promise<ProxyConnectionReport> {
    const ready = this.pending.shift();
    if (ready) return ready;
    if (this.closing) return Promise.reject(closedError());
    return new Promise<Promise<ProxyConnectionReport>>((resolve, reject) => this.waiters.push({ resolve, reject })).then((p) => p);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      // A listener being opened again is open before it is closed here.
      await this.listenerChanges;
      // server.close()'s callback waits for every connection: they are destroyed right after.
      // (Also when 'refuse' had closed the listener: then the callback comes with an error, ignored.)
      const stopped = new Promise<void>((resolve) => this.server.close(() => resolve()));
      for (const { reject } of this.waiters.splice(0)) reject(closedError());
      for (const { client, upstream } of this.live.values()) {
        client.destroy();
        upstream?.destroy();
      }
      await Promise.all([stopped, ...this.inFlight]);
    })();
    return this.closing;
  }
}

const NO_FAULTS = resolveFaults({});

/**
 * A connection that the `down` toxic takes: 'reset' resets it at once; 'drop' reads and discards
 * what it sends and never answers, until the client closes it (or the proxy closes). The upstream
 * is never contacted.
 */
function downConnection(client: net.Socket, how: 'reset' | 'drop', upstream: { host: string; port: number }, idleTimeout: number): Promise<ProxyConnectionReport> {
  const start = performance.now();
  let stopped: 'idle-timeout' | null = null;
  const side: RelaySideReport = { ended: null, fin: false, closedWith: null, bytesRead: 0 };
  client.on('error', (err: NodeJS.ErrnoException) => {
    if (side.closedWith !== null) return;
    side.ended = isConnectionReset(err) ? 'reset' : 'error';
    side.code = normalizeErrorCode(err) ?? err.code ?? 'UNKNOWN';
  });
  client.on('data', (chunk: Buffer) => { side.bytesRead += chunk.length; });
  client.on('end', () => {
    side.fin = true;
    side.ended ??= 'fin';
    client.destroy();
  });
  const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
  if (how === 'reset') {
    side.closedWith = 'reset';
    try {
      void resetClose(client);
    } catch {
      side.closedWith = 'destroy';
      client.destroy();
    }
  } else {
    client.resume();
    if (idleTimeout > 0) {
      client.setTimeout(idleTimeout, () => {
        stopped = 'idle-timeout';
        client.destroy();
      });
    }
  }
  return closed.then(() => {
    const elapsedMs = Math.round((performance.now() - start) * 10) / 10;
    if (how === 'drop' && side.ended === null) side.closedWith = 'destroy';
    return {
      id: 0, // track() sets id, faults and the client's address
      client: { host: '', port: 0, ...side },
      upstream: { ...upstream, connected: false, ended: null, fin: false, closedWith: null, bytesRead: 0 },
      faults: null,
      actions: [{ fault: 'down', direction: 'down', atMs: 0, atBytes: 0 }],
      bytes: { up: 0, down: 0 },
      first: how === 'drop' && side.ended !== null ? 'client' : null,
      stopped,
      elapsedMs,
    };
  });
}

/** Reports kept by default: a long-running proxy keeps about that many, not one per connection ever made. */
const DEFAULT_KEEP_REPORTS = 100;

function closedError(): NetLingerError {
  return new NetLingerError('ERR_NET_LINGER_PROXY_CLOSED', 'The proxy closed before another connection arrived');
}

/**
 * A TCP proxy that relays every connection faithfully (see relay()) and injects `faults`
 * into it. Resolves once listening; rejects only when it cannot listen (EADDRINUSE...), with
 * Node's own error. Bad options throw before anything is opened (TypeError/RangeError with `code`).
 * An upstream that cannot be reached is that connection's outcome (its report says
 * `upstream.connected: false` and the code; the client gets an RST), never the proxy's.
 */
export async function createFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw invalidArgType('options', 'of type object', options);
  const opts = validateOptionsObject(options);
  const listen = parseAddress(opts.listen ?? { host: '127.0.0.1', port: 0 }, 'options.listen', { host: '127.0.0.1', minPort: 0 });
  if (opts.upstream === undefined) throw invalidArgType('options.upstream', "of type string ('HOST:PORT'), number or object", undefined);
  const upstream = parseAddress(opts.upstream, 'options.upstream', { host: '127.0.0.1', minPort: 1 });
  const faults = resolveFaults(opts.faults, 'options.faults');
  if (opts.random !== undefined && typeof opts.random !== 'function') throw invalidArgType('options.random', 'of type function', opts.random);
  const idleTimeout = opts.idleTimeout === undefined ? 0 : validateInteger(opts.idleTimeout, 'options.idleTimeout', 0, MAX_TIMER_MS);
  const keepReports = opts.keepReports === undefined
    ? DEFAULT_KEEP_REPORTS
    : validateInteger(opts.keepReports, 'options.keepReports', 0, Number.MAX_SAFE_INTEGER);
  const proxy = new FaultProxyImpl(listen, upstream, faults, (opts.random as (() => number) | undefined) ?? Math.random, idleTimeout, keepReports);
  // Listening first, also for `down: 'refuse'`: that is how the port (when 0 was asked) is known,
  // to open the listener there once the proxy is up.
  await proxy.listen();
  await proxy.matchListener();
  return proxy;
}
