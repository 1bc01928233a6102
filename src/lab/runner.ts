import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { packageRoot } from '../binding';
import { gracefulClose, lingerClose, resetClose } from '../close';
import { enableLingeringClose } from '../http';
import { NetLingerError, normalizeErrorCode } from '../errors';
import { getLinger, pendingBytes, setLinger, shutdown } from '../socket-ops';
import { listenLoopback, loopbackHost, loopbackPair } from './loopback';
import { assertScenario, claimFor } from './scenarios';
import { findWindowsSocket, resolveHandle } from '../handle';
import { dgramFd, foreignHttpRuntime, handleFd, runtimeName, scriptArgs, writeQueueSize } from '../node-internals';
import type {
  CallScenario, ConnectionExpectation, ConnectionScenario, Outcome, Platform, Scenario, Step,
} from './scenarios';

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
  };
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
class Side {
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
async function connectPair(family: Family, peerReadBuffer?: number): Promise<Pair> {
  let peer: Side | undefined;
  // The shortcut a fixed read size avoids is in libuv's Unix stream code; Windows reads through
  // IOCP, where reading one byte at a time only makes the peer slow.
  const fixedReads = peerReadBuffer !== undefined && process.platform !== 'win32';
  const onread = !fixedReads ? undefined : {
    buffer: Buffer.alloc(peerReadBuffer),
    callback: (bytes: number) => { peer!.received += bytes; return true; },
  };
  const { accepted } = await loopbackPair({
    family, client: onread ? { onread } : {}, onClient: (client) => { peer = new Side(client); },
  });
  return {
    closer: new Side(accepted),
    peer: peer!,
    closerPorts: { local: accepted.localPort!, remote: accepted.remotePort! },
  };
}

const TCP_STATES: Readonly<Record<string, string>> = {
  '01': 'ESTABLISHED', '02': 'SYN_SENT', '03': 'SYN_RECV', '04': 'FIN_WAIT1', '05': 'FIN_WAIT2',
  '06': 'TIME_WAIT', '07': 'CLOSE', '08': 'CLOSE_WAIT', '09': 'LAST_ACK', '0A': 'LISTEN', '0B': 'CLOSING',
};

/**
 * The kernel's state for the connection with these ports, from /proc/net/tcp and tcp6 (Linux);
 * 'gone' when no entry is left, null where the platform has no such table.
 */
export function tcpState(localPort: number, remotePort: number): string | null {
  if (process.platform !== 'linux') return null;
  const local = `:${localPort.toString(16).toUpperCase().padStart(4, '0')}`;
  const remote = `:${remotePort.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'latin1');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length > 3 && fields[1].endsWith(local) && fields[2].endsWith(remote)) {
        return TCP_STATES[fields[3]] ?? fields[3];
      }
    }
  }
  return 'gone';
}

// States that last only until an ACK arrives (immediate on loopback). FIN_WAIT2 is not one of
// them: it waits for the peer's FIN, which may never come.
const AWAITING_ACK = new Set(['FIN_WAIT1', 'LAST_ACK', 'CLOSING']);

/** The closer's TCP state once it has stopped waiting for ACKs. */
async function settledState(ports: { local: number; remote: number }): Promise<string | null> {
  const deadline = performance.now() + 1000;
  for (;;) {
    const state = tcpState(ports.local, ports.remote);
    if (state === null || !AWAITING_ACK.has(state) || performance.now() > deadline) return state;
    await sleep(5);
  }
}

async function settlePeer(peer: Side, timeoutMs: number): Promise<void> {
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
const closesUnderWay = new WeakMap<net.Socket, Promise<unknown>>();

async function runStep(step: Step, pair: Pair, timeoutMs: number, state: { blockedMs: number | null }): Promise<void> {
  const { closer, peer } = pair;
  const side = step.actor === 'peer' ? peer : closer;
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
      await resetClose(side.socket);
      return;
    case 'graceful-close':
      closesUnderWay.set(side.socket, gracefulClose(side.socket, {
        ...(step.lingeringTimeout === undefined ? {} : { lingeringTimeout: step.lingeringTimeout }),
        ...(step.onTimeout ? { onTimeout: step.onTimeout } : {}),
      }));
      return;
    case 'linger-close':
      closesUnderWay.set(side.socket, lingerClose(side.socket, step.seconds, step.onTimeout ? { onTimeout: step.onTimeout } : {}));
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
      void closing.then(() => { finished = true; });
      return waitFor(() => finished, timeoutMs, 'the close helper');
    }
  }
}

async function runConnection(scenario: ConnectionScenario, family: Family, timeoutMs: number): Promise<ConnectionObservation> {
  const pair = await connectPair(family, scenario.peerReadBuffer);
  const state: { blockedMs: number | null } = { blockedMs: null };
  try {
    // A runtime that cannot give the closer's descriptor refuses here, before any step.
    resolveHandle(pair.closer.socket);
    for (const step of scenario.steps) await runStep(step, pair, timeoutMs, state);
    // Let the peer see what is coming (EOF or RST) while it still makes progress; a peer that
    // stays open and receives nothing more for 500 ms is an outcome too.
    await settlePeer(pair.peer, timeoutMs);
    const closerState = await settledState(pair.closerPorts);
    return {
      kind: 'connection',
      peer: pair.peer.observe(),
      closer: {
        ...pair.closer.observe(),
        state: closerState,
        timeWait: closerState === null ? null : closerState === 'TIME_WAIT',
        closeBlockedMs: state.blockedMs,
      },
    };
  } finally {
    pair.peer.socket.destroy();
    pair.closer.socket.destroy();
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
    problems.push(`closer TIME_WAIT: expected ${c.timeWait ? 'yes' : 'none'}, observed ${obs.closer.timeWait ? 'yes' : 'none'}`);
  }
  if (c?.blockedAtLeastMs !== undefined && !((obs.closer.closeBlockedMs ?? 0) >= c.blockedAtLeastMs)) {
    problems.push(`close() blocked ${Math.round(obs.closer.closeBlockedMs ?? 0)} ms, expected at least ${c.blockedAtLeastMs} ms`);
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
function runIsolated(name: string, family: Family): Promise<Observation> {
  const entry = path.join(packageRoot(), 'dist', 'cjs', 'lab', 'child.js');
  if (!fs.existsSync(entry)) throw new Error(`${entry} is missing: run "npm run build:ts"`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...scriptArgs(), entry, name, String(family)], { stdio: ['ignore', 'pipe', 'pipe'] });
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

/** Runs one row in this process and returns what was observed. */
export async function observe(scenario: Scenario, family: Family, stepTimeoutMs = 5000): Promise<Observation> {
  return scenario.kind === 'call' ? runCall(scenario, family) : runConnection(scenario, family, stepTimeoutMs);
}

/** Runs one row on loopback and judges it against the table. Never rejects: failures are results. */
export async function runScenario(scenario: Scenario, options: RunOptions = {}): Promise<ScenarioResult> {
  assertScenario(scenario);
  const family = options.family ?? 4;
  const platform = options.platform ?? process.platform;
  const start = performance.now();
  const claimed = scenario.expect[platform as Platform] !== undefined;
  try {
    const observed = scenario.kind === 'connection' && scenario.isolate && !options.inProcess
      ? await runIsolated(scenario.name, family)
      : await observe(scenario, family, options.stepTimeoutMs);
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
