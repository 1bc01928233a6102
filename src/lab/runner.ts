// Running a row of the scenario table: a loopback connection (or one across two network
// namespaces, or a row that blocks its thread in a child process), its steps played on each
// side (steps.ts), its segments captured, and the observation judged (judge.ts).
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { packageRoot } from '../core/binding.js';
import { NetLingerError } from '../core/errors.js';
import { getLinger, pendingBytes, setLinger, shutdown } from '../core/socket-ops.js';
import { listenLoopback, loopbackHost, loopbackPair, type Via } from './loopback.js';
import { assertScenario } from './scenarios.js';
import { startCapture, type Capture, type RawSegment } from './capture.js';
import { tcpState } from './tcp-state.js';
import { findWindowsSocket, resolveHandle } from '../core/handle.js';
import { dgramFd, handleFd, runtimeName, scriptArgs } from '../core/node-internals.js';
import { ADDRESSES, type LabNetwork } from './netns.js';
import type { CallScenario, ConnectionScenario, Platform, Scenario, Step } from './scenarios.js';
import type { Family, SideObservation, ConnectionObservation, CallObservation, Observation, ScenarioResult, ObservedSegment } from './observation.js';
import { sleep, waitFor, Side, settledState, settlePeer, CloserState, runSideStep } from './steps.js';
import { check } from './judge.js';
export type { Via } from './loopback.js';

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
