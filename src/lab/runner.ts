import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { packageRoot } from '../core/binding.js';
import { gracefulClose, lingerClose, resetClose } from '../close/close.js';
import { enableLingeringClose } from '../http/lingering-close.js';
import { NetLingerError, normalizeErrorCode } from '../core/errors.js';
import { getLinger, pendingBytes, setLinger, shutdown } from '../core/socket-ops.js';
import { listenLoopback, loopbackHost, loopbackPair, type Via } from './loopback.js';
import { assertScenario, claimFor, describeStep } from './scenarios.js';
import { startCapture, type Capture, type RawSegment, type WireSegment } from './capture.js';
import { tcpState } from './tcp-state.js';
export type { Via } from './loopback.js';
import { findWindowsSocket, resolveHandle } from '../core/handle.js';
import { dgramFd, foreignHttpRuntime, handleFd, runtimeName, scriptArgs, writeQueueSize } from '../core/node-internals.js';
import { ADDRESSES, type LabNetwork } from './netns.js';
import type {
  CallScenario, Condition, ConnectionExpectation, ConnectionScenario, Outcome, Platform, Scenario, Step, WireExpectation,
} from './scenarios.js';

export type Family = 4 | 6;

export interface SideObservation {
  /** Bytes this side read from the connection. */
  received: number;
  /** Bytes this side handed to its kernel. */
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
  name: string;
  family: Family;
  platform: string;
  /** false where the table claims nothing for this platform: the observation is shown, not judged. */
  claimed: boolean;
  observed: Observation | null;
  mismatches: string[];
  passed: boolean;
  /** Set when the scenario could not be run at all. */
  error?: string;
  /** The code of that error, when it had one (e.g. ERR_NET_LINGER_UNSUPPORTED: a typed refusal). */
  errorCode?: string;
  durationMs: number;
}

export interface RunOptions {
  family?: Family;
  platform?: string;
  /** Upper bound for every wait inside a scenario. */
  stepTimeoutMs?: number;
  /**
   * Run rows that block their thread in this process too, instead of a child (for hosts that cannot
   * start a child of the same runtime, e.g. a foreign-architecture binary under qemu-user). This
   * process is then frozen while such a row runs.
   */
  inProcess?: boolean;
  /** Off loopback: the namespaces a row with a `condition` is played across (see runLab's `condition`). */
  network?: LabNetwork;
  /** Record each connection's segments (Linux, CAP_NET_RAW: see capture.ts); wire claims are judged only then. */
  capture?: boolean;
  /**
   * Called with the listener's port before the peer connects, and awaited (e.g. to start another
   * capture on that port). Not for rows that run in a child process.
   */
  onListening?: (port: number) => void | Promise<void>;
  /**
   * A middlebox between the two sides (a relay, a proxy): given the closer's listening address,
   * resolves to the address the peer connects to instead. Rows then run in this process.
   */
  via?: Via;
}

const HTTP_413_BODY = 'request body too large';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(2);
  }
}

/** Records what one Node socket observes, without ever letting an error go unhandled. */
export class Side {
  received = 0;
  sent = 0;
  eof = false;
  error: NodeJS.ErrnoException | undefined;
  closed = false;

  constructor(readonly socket: net.Socket) {
    // With an `onread` buffer Node counts through its callback and emits no 'data'; a runtime
    // that ignores `onread` emits 'data' instead. Counting both never counts twice.
    socket.on('data', (chunk: Buffer) => { this.received += chunk.length; });
    socket.on('end', () => { this.eof = true; });
    socket.on('error', (err: NodeJS.ErrnoException) => { this.error ??= err; });
    socket.on('close', () => { this.closed = true; });
  }

  get settled(): boolean {
    return this.eof || this.error !== undefined || this.closed;
  }

  write(bytes: number): Promise<void> {
    if (this.socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.write(Buffer.alloc(bytes, 0x61), (err) => {
        if (!err) this.sent += bytes;
        resolve();
      });
    });
  }

  observe(): SideObservation {
    const obs: SideObservation = { received: this.received, sent: this.sent, outcome: this.eof ? 'eof' : 'open' };
    if (this.error) {
      obs.outcome = normalizeErrorCode(this.error) ?? this.error.code ?? 'UNKNOWN';
      if (typeof this.error.errno === 'number') obs.errno = this.error.errno;
      if (this.error.syscall) obs.syscall = this.error.syscall;
    }
    return obs;
  }
}

interface Pair {
  closer: Side;
  peer: Side;
  closerPorts: { local: number; remote: number };
}

/**
 * A loopback connection: the closer is the accepted side, paused so it reads nothing unasked.
 * With `peerReadBuffer` the peer reads into one fixed buffer of that size.
 */
async function connectPair(family: Family, peerReadBuffer?: number, beforeConnect?: (port: number) => unknown, via?: Via): Promise<Pair> {
  let peer: Side | undefined;
  // The shortcut a fixed read size avoids is in libuv's Unix stream code; Windows reads through
  // IOCP, where reading one byte at a time only makes the peer slow.
  const fixedReads = peerReadBuffer !== undefined && process.platform !== 'win32';
  const onread = !fixedReads ? undefined : {
    buffer: Buffer.alloc(peerReadBuffer),
    callback: (bytes: number) => { peer!.received += bytes; return true; },
  };
  const { accepted } = await loopbackPair({
    family, beforeConnect, via, client: onread ? { onread } : {}, onClient: (client) => { peer = new Side(client); },
  });
  return {
    closer: new Side(accepted),
    peer: peer!,
    closerPorts: { local: accepted.localPort!, remote: accepted.remotePort! },
  };
}

export { tcpState };

// States that last only until an ACK arrives (immediate on loopback). FIN_WAIT2 is not one of
// them: it waits for the peer's FIN, which may never come.
const AWAITING_ACK = new Set(['FIN_WAIT1', 'LAST_ACK', 'CLOSING']);

/** The closer's TCP state once it has stopped waiting for ACKs. */
export async function settledState(ports: { local: number; remote: number }, waitMs = 1000): Promise<string | null> {
  const deadline = performance.now() + waitMs;
  for (;;) {
    const state = tcpState(ports.local, ports.remote);
    if (state === null || !AWAITING_ACK.has(state) || performance.now() > deadline) return state;
    await sleep(5);
  }
}

export async function settlePeer(peer: Side, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let lastReceived = peer.received;
  let quietSince = performance.now();
  while (!peer.settled && performance.now() < deadline) {
    if (peer.received !== lastReceived) {
      lastReceived = peer.received;
      quietSince = performance.now();
    } else if (performance.now() - quietSince > 500) {
      return;
    }
    await sleep(5);
  }
}

// The close helpers run while the peer's later steps play; 'await-close' joins them.
const closesUnderWay = new WeakMap<net.Socket, Promise<CloseReport>>();

/** What a closer's steps leave to observe: how long close() held the thread, a close helper's report. */
export interface CloserState {
  blockedMs: number | null;
  report?: CloseReport;
}

/** One step of one side, on that side's socket. Network steps are played by whoever owns the network. */
export async function runSideStep(step: Step, side: Side, timeoutMs: number, state: CloserState): Promise<void> {
  switch (step.do) {
    case 'send':
      return side.write(step.bytes);
    case 'pause':
      side.socket.pause();
      return;
    case 'resume':
      side.socket.resume();
      return;
    case 'end':
      if (!side.socket.destroyed) side.socket.end();
      // libuv sends the FIN on a later turn of the loop: wait for it, or the closer's state may be
      // read before it arrives (seen under load as FIN_WAIT2 instead of TIME_WAIT).
      if (step.actor === 'peer') {
        await waitFor(() => side.socket.writableFinished || side.socket.destroyed, timeoutMs, 'the FIN').catch(() => undefined);
      }
      return;
    case 'wait-eof':
      return waitFor(() => side.settled, timeoutMs, `${step.actor} EOF`);
    case 'write-until-error':
      for (let i = 0; i < 100 && !side.error && !side.socket.destroyed; i++) {
        await side.write(100);
        await sleep(10);
      }
      return;
    case 'fill-send-queue': {
      // Write until the kernel refuses more and the runtime starts queueing: the peer must not be
      // reading. Node tells the exact bytes libuv still holds (writeQueueSize); other runtimes
      // only how much of their stream buffer is unwritten.
      const unwritten = () => writeQueueSize(side.socket) ?? side.socket.writableLength;
      const chunk = Buffer.alloc(64 * 1024, 0x62);
      for (let total = 0; total < 256 * 1024 * 1024; total += chunk.length) {
        side.socket.write(chunk);
        const left = unwritten();
        if (left > 0) {
          side.sent += chunk.length - left;
          return;
        }
        side.sent += chunk.length;
        if (total % (4 * 1024 * 1024) === 0) await sleep(1);
      }
      throw new Error('the send queue never filled');
    }
    case 'wait-received':
      return waitFor(() => side.received >= step.bytes, timeoutMs, `${step.bytes} bytes read`);
    case 'wait-unread':
      return waitFor(() => pendingBytes(side.socket).unread >= step.bytes, timeoutMs, `${step.bytes} unread bytes`);
    case 'set-linger':
      setLinger(side.socket, step.onoff, step.seconds);
      return;
    case 'shutdown':
      shutdown(side.socket, step.how);
      return;
    case 'read': {
      const target = side.received + step.bytes;
      side.socket.resume();
      await waitFor(() => side.received >= target || side.settled, timeoutMs, `${step.bytes} bytes`);
      side.socket.pause();
      return;
    }
    case 'read-until-fin':
      side.socket.resume();
      return waitFor(() => side.settled, timeoutMs, 'FIN');
    case 'close': {
      const start = performance.now();
      side.socket.destroy();
      state.blockedMs = performance.now() - start;
      return;
    }
    case 'reset-close':
      state.report = summarise('resetClose', await resetClose(side.socket));
      return;
    case 'graceful-close':
      closesUnderWay.set(side.socket, gracefulClose(side.socket, {
        ...(step.lingeringTimeout === undefined ? {} : { lingeringTimeout: step.lingeringTimeout }),
        ...(step.onTimeout ? { onTimeout: step.onTimeout } : {}),
      }).then((report) => summarise('gracefulClose', report)));
      return;
    case 'linger-close':
      closesUnderWay.set(side.socket, lingerClose(side.socket, step.seconds, step.onTimeout ? { onTimeout: step.onTimeout } : {})
        .then((report) => summarise('lingerClose', report)));
      return;
    case 'http-post': {
      const head = `POST /upload HTTP/1.1\r\nHost: lab\r\nContent-Type: application/octet-stream\r\nContent-Length: ${step.contentLength}\r\n\r\n`;
      await new Promise<void>((resolve) => side.socket.write(head, () => resolve()));
      return;
    }
    case 'http-413': {
      const foreign = foreignHttpRuntime();
      if (foreign) throw new NetLingerError('ERR_NET_LINGER_UNSUPPORTED', `the HTTP rows need Node's own node:http; ${foreign} has its own`);
      // A node:http server that never listens: the accepted connection is handed to it, as Node
      // documents for 'connection'. What it writes (the 413) is what the peer must receive.
      const server = http.createServer((_req, res) => {
        res.writeHead(413, { connection: 'close', 'content-type': 'text/plain', 'content-length': HTTP_413_BODY.length });
        res.end(HTTP_413_BODY);
        res.on('finish', () => { side.sent = side.socket.bytesWritten; });
      });
      server.on('clientError', (_err, socket: net.Socket) => socket.destroy());
      if (step.lingering) enableLingeringClose(server, { lingeringTimeout: 2000, lingeringTime: 5000 });
      server.emit('connection', side.socket);
      side.socket.resume();
      return;
    }
    case 'await-close': {
      const closing = closesUnderWay.get(side.socket);
      if (!closing) throw new Error('no close helper was started');
      let finished = false;
      void closing.then((report) => {
        state.report = report;
        finished = true;
      });
      return waitFor(() => finished, timeoutMs, 'the close helper');
    }
    case 'vanish':
    case 'restore':
      throw new Error(`"${describeStep(step)}" needs a network between the two: run the row with its condition (net-linger lab --condition)`);
  }
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

function summarise(
  helper: CloseReport['helper'],
  report: { outcome: string; elapsedMs: number; reset?: boolean; via?: unknown; unackedBytes?: number | null; code?: string },
): CloseReport {
  const summary: CloseReport = {
    helper,
    outcome: report.outcome,
    elapsedMs: Math.round(report.elapsedMs * 10) / 10,
    reset: helper === 'resetClose' ? report.outcome === 'reset' : report.reset === true,
  };
  if (report.unackedBytes !== undefined) summary.unackedBytes = report.unackedBytes;
  if (report.code !== undefined) summary.code = report.code;
  return summary;
}

async function runStep(step: Step, pair: Pair, timeoutMs: number, state: CloserState): Promise<void> {
  return runSideStep(step, step.actor === 'peer' ? pair.peer : pair.closer, timeoutMs, state);
}

async function runConnection(
  scenario: ConnectionScenario, family: Family, timeoutMs: number, options: ObserveOptions,
): Promise<ConnectionObservation> {
  let capture: Capture | undefined;
  let pair: Pair;
  try {
    pair = await connectPair(family, scenario.peerReadBuffer, async (port) => {
      if (options.capture) {
        capture = startCapture({ port });
        await capture.ready;
      }
      await options.onListening?.(port);
    }, options.via);
  } catch (err) {
    capture?.stop();
    throw err;
  }
  const state: CloserState = { blockedMs: null };
  try {
    // A runtime that cannot give the closer's descriptor refuses here, before any step.
    resolveHandle(pair.closer.socket);
    for (const step of scenario.steps) await runStep(step, pair, timeoutMs, state);
    // Let the peer see what is coming (EOF or RST) while it still makes progress; a peer that
    // stays open and receives nothing more for 500 ms is an outcome too.
    await settlePeer(pair.peer, timeoutMs);
    const closerState = await settledState(pair.closerPorts);
    const wire = capture ? recordWire(capture, pair) : {};
    return {
      kind: 'connection',
      peer: pair.peer.observe(),
      closer: {
        ...pair.closer.observe(),
        state: closerState,
        timeWait: closerState === null ? null : closerState === 'TIME_WAIT',
        closeBlockedMs: state.blockedMs,
        ...(state.report ? { report: state.report } : {}),
      },
      ...wire,
    };
  } finally {
    pair.peer.socket.destroy();
    pair.closer.socket.destroy();
    capture?.stop();
  }
}

/** The connection's segments once everything the steps caused has crossed (loopback: at once). */
function recordWire(capture: Capture, pair: Pair): Pick<ConnectionObservation, 'wire' | 'wireDropped'> {
  capture.stop();
  const wire = capture.segments({ closerPort: pair.closerPorts.local, peerPort: pair.closerPorts.remote });
  return capture.drops > 0 ? { wire, wireDropped: capture.drops } : { wire };
}

/** A captured segment; off loopback `lost` marks one that left its sender and never reached the other side. */
export type ObservedSegment = WireSegment & { lost?: true };

/**
 * Off loopback, from a capture on each side's link: every segment as it left its sender (the
 * closer's from the closer's link, the peer's from the peer's), marked `lost` when the other
 * side's link never saw it (each arrival matched with the latest copy sent before it).
 * Both captures carry kernel times from the same clock. ACK-only segments are folded away.
 */
export function mergeWire(closerLink: readonly RawSegment[], peerLink: readonly RawSegment[], ports: { closer: number; peer: number }): ObservedSegment[] {
  const ofConnection = (s: RawSegment) =>
    (s.srcPort === ports.closer && s.dstPort === ports.peer) || (s.srcPort === ports.peer && s.dstPort === ports.closer);
  const key = (s: RawSegment) => `${s.srcPort}/${s.seq}/${s.ack}/${s.flags.join('+')}/${s.bytes}`;
  const sent = [
    ...closerLink.filter((s) => ofConnection(s) && s.srcPort === ports.closer),
    ...peerLink.filter((s) => ofConnection(s) && s.srcPort === ports.peer),
  ].sort((a, b) => a.timeMs - b.timeMs);
  // Each copy that arrived belongs to the latest copy sent before it (a retransmission arrives,
  // the first copy was lost); a sent copy no arrival belongs to is lost.
  const arrivals = [
    ...closerLink.filter((x) => ofConnection(x) && x.srcPort === ports.peer),
    ...peerLink.filter((x) => ofConnection(x) && x.srcPort === ports.closer),
  ].sort((a, b) => a.timeMs - b.timeMs);
  const delivered = new Set<RawSegment>();
  for (const arrival of arrivals) {
    const copy = sent.filter((s) => key(s) === key(arrival) && !delivered.has(s) && s.timeMs <= arrival.timeMs + 1).pop();
    if (copy) delivered.add(copy);
  }
  const t0 = sent[0]?.timeMs ?? 0;
  const out: ObservedSegment[] = [];
  for (const s of sent) {
    if (!(s.bytes > 0 || s.flags.some((f) => f === 'SYN' || f === 'FIN' || f === 'RST'))) continue;
    out.push({
      from: s.srcPort === ports.closer ? 'closer' : 'peer',
      flags: s.flags,
      bytes: s.bytes,
      tMs: Math.round(Math.max(0, s.timeMs - t0) * 1000) / 1000,
      ...(delivered.has(s) ? {} : { lost: true as const }),
    });
  }
  return out;
}

/**
 * A row across the lab's network namespaces: each side's steps are played by that side's process, the
 * network's by this one. The closer's state is read once it stops waiting for ACKs, unless the
 * peer vanished (those ACKs never come).
 */
async function runAcross(
  scenario: ConnectionScenario, family: Family, network: LabNetwork, timeoutMs: number, options: ObserveOptions,
): Promise<ConnectionObservation> {
  const closer = network.agent('closer');
  const peer = network.agent('peer');
  const address = ADDRESSES[family];
  let vanished = false;
  const captures: Capture[] = [];
  try {
    const { port } = await closer.call<{ port: number }>('listen', { host: address.closer });
    if (options.capture) {
      // One capture on each side's link, opened in that side's namespace before the SYN.
      for (const role of ['closer', 'peer'] as const) {
        captures.push(startCapture({ port, interface: network.devices[role], netns: network.path(role) }));
      }
      await Promise.all(captures.map((c) => c.ready));
    }
    await options.onListening?.(port);
    const connecting = peer.call('connect', { host: address.closer, port, peerReadBuffer: scenario.peerReadBuffer });
    const { remote: peerPort } = await closer.call<{ local: number; remote: number }>('accept', {}, timeoutMs);
    await connecting;
    await network.connected();
    // A step may hold its side's thread (a lingering close): allow for that beyond the step's own bound.
    const stepBound = timeoutMs + 10_000;
    for (const step of scenario.steps) {
      if (step.actor === 'network') {
        if (step.do === 'vanish') {
          await network.vanish();
          vanished = true;
        } else {
          await network.restore();
          vanished = false;
        }
      } else {
        await network.agent(step.actor).call('step', { step, timeoutMs }, stepBound);
      }
    }
    await peer.call('settle', { timeoutMs }, stepBound);
    const dropped = await network.dropped();
    const peerObserved = await peer.call<SideObservation>('observe');
    const closerObserved = await closer.call<ConnectionObservation['closer']>('observe', { waitAckMs: vanished ? 0 : 3000 });
    const observed: ConnectionObservation = { kind: 'connection', peer: peerObserved, closer: closerObserved };
    if (captures.length) {
      for (const c of captures) c.stop();
      observed.wire = mergeWire(captures[0].raw(), captures[1].raw(), { closer: port, peer: peerPort });
      const lost = captures[0].drops + captures[1].drops;
      if (lost > 0) observed.wireDropped = lost;
    }
    observed.network = { condition: network.condition, dropped };
    return observed;
  } finally {
    for (const c of captures) c.stop();
    await network.endRow();
  }
}

/**
 * The handle of a socket with no peer (a bound UDP socket, a listener): the descriptor where the
 * runtime exposes it; on Windows, where Node reports none, the one SOCKET with this address.
 */
function unconnectedHandle(
  datagram: boolean, { address, port }: net.AddressInfo, fd: unknown, what: { js: string; os: string },
): number | bigint {
  if (process.platform === 'win32') return findWindowsSocket(datagram, address, port, null, 0, what.js);
  if (typeof fd !== 'number' || fd < 0) {
    throw new NetLingerError('ERR_NET_LINGER_UNSUPPORTED', `${runtimeName()} does not expose the OS descriptor of a ${what.os}`);
  }
  return fd;
}

/** A dgram socket's handle (Node keeps its descriptor behind an internal symbol). */
function dgramHandle(socket: dgram.Socket): number | bigint {
  return unconnectedHandle(true, socket.address(), dgramFd(socket), { js: 'dgram.Socket', os: 'UDP socket' });
}

function serverHandle(server: net.Server): number | bigint {
  return unconnectedHandle(false, server.address() as net.AddressInfo, handleFd(server), { js: 'net.Server', os: 'listening socket' });
}

function callOn(call: CallScenario['call'], target: number | bigint | net.Socket): CallObservation {
  try {
    if (call === 'shutdown-write') shutdown(target, 'write');
    else if (call === 'set-linger') setLinger(target, true, 0);
    else if (call === 'get-linger') getLinger(target);
    else pendingBytes(target);
    return { kind: 'call', outcome: 'ok' };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return { kind: 'call', outcome: e.code ?? 'UNKNOWN', errno: e.errno, syscall: e.syscall };
  }
}

async function runCall(scenario: CallScenario, family: Family): Promise<CallObservation> {
  switch (scenario.subject) {
    case 'fd-not-open':
      // Never a real closed descriptor: another thread could reuse its number meanwhile.
      return callOn(scenario.call, 0x7fffffff);
    case 'not-a-socket': {
      const fd = fs.openSync(os.devNull, 'r');
      try {
        return callOn(scenario.call, fd);
      } finally {
        fs.closeSync(fd);
      }
    }
    case 'tcp-after-reset': {
      const pair = await connectPair(family);
      try {
        setLinger(pair.peer.socket, true, 0);
        pair.peer.socket.destroy();
        await waitFor(() => ['CLOSE', 'gone', null].includes(tcpState(pair.closerPorts.local, pair.closerPorts.remote)), 1000, 'the reset')
          .catch(() => undefined);
        await sleep(20);
        return callOn(scenario.call, pair.closer.socket);
      } finally {
        pair.closer.socket.destroy();
      }
    }
    case 'tcp-listening': {
      const server = await listenLoopback(net.createServer(), family);
      try {
        return callOn(scenario.call, serverHandle(server));
      } finally {
        server.close();
      }
    }
    case 'udp-unconnected': {
      const socket = dgram.createSocket(family === 6 ? 'udp6' : 'udp4');
      await new Promise<void>((resolve) => socket.bind(0, loopbackHost(family), resolve));
      try {
        return callOn(scenario.call, dgramHandle(socket));
      } finally {
        socket.close();
      }
    }
  }
}

function checkConnection(expect: ConnectionExpectation, obs: ConnectionObservation): string[] {
  const problems: string[] = [];
  const p = expect.peer;
  if (obs.peer.outcome !== p.outcome) problems.push(`peer outcome: expected ${p.outcome}, observed ${obs.peer.outcome}`);
  if (p.syscall && obs.peer.syscall !== p.syscall) problems.push(`peer error from ${obs.peer.syscall ?? 'nothing'}, expected ${p.syscall}`);
  if (p.received) {
    const got = obs.peer.received;
    const sent = obs.closer.sent;
    const ok = p.received === 'all' ? got === sent : p.received === 'none' ? got === 0 : got < sent;
    if (!ok) problems.push(`peer received ${got} of ${sent} bytes, expected ${p.received}`);
  }
  const c = expect.closer;
  if (c?.outcome !== undefined && obs.closer.outcome !== c.outcome) {
    problems.push(`closer outcome: expected ${c.outcome}, observed ${obs.closer.outcome}`);
  }
  if (c?.syscall && obs.closer.syscall !== c.syscall) problems.push(`closer error from ${obs.closer.syscall ?? 'nothing'}, expected ${c.syscall}`);
  if (c?.received !== undefined && obs.closer.received !== c.received) {
    problems.push(`closer received ${obs.closer.received} bytes, expected ${c.received}`);
  }
  if (c?.timeWait !== undefined && obs.closer.timeWait !== null && obs.closer.timeWait !== c.timeWait) {
    problems.push(`closer TIME_WAIT: expected ${c.timeWait ? 'yes' : 'none'}, observed ${obs.closer.timeWait ? 'yes' : 'none'}${c.timeWait ? timeWaitTableFull() : ''}`);
  }
  if (c?.blockedAtLeastMs !== undefined && !((obs.closer.closeBlockedMs ?? 0) >= c.blockedAtLeastMs)) {
    problems.push(`close() blocked ${Math.round(obs.closer.closeBlockedMs ?? 0)} ms, expected at least ${c.blockedAtLeastMs} ms`);
  }
  if (c?.state !== undefined && obs.closer.state !== null && obs.closer.state !== c.state) {
    problems.push(`closer state: expected ${c.state}, observed ${obs.closer.state}`);
  }
  if (c?.report) {
    const r = obs.closer.report;
    if (!r) problems.push(`no close helper report, expected ${c.report.outcome}`);
    else {
      if (r.outcome !== c.report.outcome) problems.push(`${r.helper} outcome: expected ${c.report.outcome}, observed ${r.outcome}`);
      if (c.report.reset !== undefined && r.reset !== c.report.reset) {
        problems.push(`${r.helper} ${r.reset ? 'reset' : 'did not reset'} the connection, expected ${c.report.reset ? 'a reset' : 'none'}`);
      }
      if (c.report.elapsedAtLeastMs !== undefined && !(r.elapsedMs >= c.report.elapsedAtLeastMs)) {
        problems.push(`${r.helper} took ${Math.round(r.elapsedMs)} ms, expected at least ${c.report.elapsedAtLeastMs} ms`);
      }
      if (c.report.elapsedAtMostMs !== undefined && !(r.elapsedMs <= c.report.elapsedAtMostMs)) {
        problems.push(`${r.helper} took ${Math.round(r.elapsedMs)} ms, expected at most ${c.report.elapsedAtMostMs} ms`);
      }
    }
  }
  if (expect.wire && obs.wire) problems.push(...checkWire(expect.wire, obs.wire, obs.wireDropped));
  return problems;
}

/**
 * Linux keeps at most net.ipv4.tcp_max_tw_buckets TIME_WAIT entries; past that a closing socket
 * goes straight to CLOSED (and answers a late FIN with RST). On a busy machine that, not the row,
 * explains a missing TIME_WAIT: say so.
 */
function timeWaitTableFull(): string {
  if (process.platform !== 'linux') return '';
  try {
    const max = Number(fs.readFileSync('/proc/sys/net/ipv4/tcp_max_tw_buckets', 'utf8'));
    const tw = Number(/\btw (\d+)/.exec(fs.readFileSync('/proc/net/sockstat', 'utf8'))?.[1]);
    return tw >= max * 0.95 ? ` (the kernel's TIME_WAIT table is full: ${tw} of net.ipv4.tcp_max_tw_buckets ${max})` : '';
  } catch {
    return '';
  }
}

/** Wire claims, judged only where the row was captured. */
export function checkWire(claim: WireExpectation, wire: readonly ObservedSegment[], dropped = 0): string[] {
  const problems: string[] = [];
  if (dropped > 0) return [`the capture lost ${dropped} packets, so the wire claims cannot be judged`];
  if (!wire.some((s) => s.flags.includes('SYN'))) return ['the capture holds no SYN for this connection, so the wire claims cannot be judged'];
  const ending = wire.findIndex((s) => s.from === 'closer' && (s.flags.includes('FIN') || s.flags.includes('RST')));
  const closerEnd = ending < 0 ? 'nothing' : wire[ending].flags.includes('RST') ? 'RST' : 'FIN';
  if (claim.closerSends && closerEnd !== claim.closerSends) {
    problems.push(`wire: the closer's first closing segment was ${closerEnd}, expected ${claim.closerSends}`);
  }
  if (claim.noRst) {
    const resets = wire.filter((s) => s.flags.includes('RST'));
    if (resets.length) problems.push(`wire: expected no RST, saw ${resets.length} (${[...new Set(resets.map((s) => s.from))].join(' and ')})`);
  }
  if (claim.rstAfterPeerData) {
    const reset = wire.findIndex((s) => s.from === 'closer' && s.flags.includes('RST'));
    const peerData = wire.findIndex((s) => s.from === 'peer' && s.bytes > 0);
    if (reset < 0) problems.push('wire: expected an RST from the closer, saw none');
    else if (peerData < 0 || peerData > reset) problems.push('wire: expected the closer\'s RST to answer data from the peer, but no peer data came before it');
  }
  if (claim.closerRstLost !== undefined) {
    const resets = wire.filter((s) => s.from === 'closer' && s.flags.includes('RST'));
    const allLost = resets.every((s) => s.lost === true);
    if (!resets.length) problems.push('wire: expected an RST from the closer, saw none');
    else if (allLost !== claim.closerRstLost) {
      problems.push(claim.closerRstLost ? 'wire: expected the closer\'s RST to be lost, but one reached the peer' : 'wire: expected an RST from the closer to reach the peer, but every one was lost');
    }
  }
  return problems;
}

/** The mismatches between what the table expects on `platform` and what was observed. */
export function check(scenario: Scenario, obs: Observation, platform: string): string[] | null {
  const expected = claimFor(scenario, platform as Platform)?.expect;
  if (!expected) return null;
  if (scenario.kind === 'call') {
    const code = (expected as { code: string }).code;
    return obs.kind === 'call' && obs.outcome === code ? [] : [`expected ${code}, observed ${obs.kind === 'call' ? obs.outcome : obs.kind}`];
  }
  return obs.kind === 'connection' ? checkConnection(expected as ConnectionExpectation, obs) : ['observed a call, not a connection'];
}

/** Runs a row in a child process (for rows that block their thread on purpose). */
function runIsolated(name: string, family: Family, capture: boolean): Promise<Observation> {
  const entry = path.join(packageRoot(), 'dist', 'cjs', 'lab', 'child.js');
  if (!fs.existsSync(entry)) throw new Error(`${entry} is missing: run "npm run build:ts"`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...scriptArgs(), entry, name, String(family), ...(capture ? ['capture'] : [])], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.on('error', reject);
    child.on('close', (status) => {
      let reply: { observation?: Observation; error?: string; code?: string } = {};
      try {
        reply = JSON.parse(out);
      } catch {
        // no reply: reported below with whatever the child printed
      }
      if (reply.observation) return resolve(reply.observation);
      const message = reply.error ?? `the isolated run of ${name} failed (exit ${status}): ${err.trim() || out.trim()}`;
      reject(Object.assign(new Error(message), reply.code ? { code: reply.code } : {}));
    });
  });
}

/** Runs one row in this process (or, off loopback, across `options.network`) and returns what was observed. */
export interface ObserveOptions {
  capture?: boolean;
  onListening?: (port: number) => void | Promise<void>;
  network?: LabNetwork;
  via?: Via;
}

export async function observe(scenario: Scenario, family: Family, stepTimeoutMs = 5000, options: ObserveOptions = {}): Promise<Observation> {
  if (scenario.kind === 'connection' && scenario.condition) {
    const { network } = options;
    if (!network || network.condition !== scenario.condition) {
      throw new Error(`${scenario.name} is played off loopback only: net-linger lab --condition ${scenario.condition}`);
    }
    return runAcross(scenario, family, network, stepTimeoutMs, options);
  }
  return scenario.kind === 'call' ? runCall(scenario, family) : runConnection(scenario, family, stepTimeoutMs, options);
}

/** Runs one row (on loopback, or across `options.network` for a row with a condition) and judges it against the table. Never rejects: failures are results. */
export async function runScenario(scenario: Scenario, options: RunOptions = {}): Promise<ScenarioResult> {
  assertScenario(scenario);
  const family = options.family ?? 4;
  const platform = options.platform ?? process.platform;
  const start = performance.now();
  const claimed = scenario.expect[platform as Platform] !== undefined;
  try {
    const observed = scenario.kind === 'connection' && scenario.isolate && !options.inProcess && !scenario.condition && !options.via
      ? await runIsolated(scenario.name, family, options.capture === true)
      : await observe(scenario, family, options.stepTimeoutMs, {
        capture: options.capture, onListening: options.onListening, network: options.network, via: options.via,
      });
    const mismatches = check(scenario, observed, platform) ?? [];
    return { name: scenario.name, family, platform, claimed, observed, mismatches, passed: mismatches.length === 0, durationMs: performance.now() - start };
  } catch (err) {
    const { message, code } = err as NodeJS.ErrnoException;
    return {
      name: scenario.name, family, platform, claimed, observed: null, mismatches: [message], passed: false,
      error: message, ...(typeof code === 'string' ? { errorCode: code } : {}), durationMs: performance.now() - start,
    };
  }
}
