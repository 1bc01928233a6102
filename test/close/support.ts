// Loopback pairs for the close helpers' tests, a peer that records what it observes, and a
// guard that proves nothing (sockets, servers, timers, descriptors) outlives a test file.
import { afterAll, beforeAll } from 'vitest';
import fs from 'node:fs';
import type net from 'node:net';
import path from 'node:path';
import { isMainThread } from 'node:worker_threads';
import { normalizeErrorCode } from '../../src/core/errors';
import { loopbackPair } from '../../src/lab/loopback';
import { until as untilWithin } from '../support/helpers';

export const key = fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'key.pem'));
export const cert = fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'cert.pem'));

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** test/support/helpers.ts's, with a longer default bound for the close suites. */
export function until(condition: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  return untilWithin(condition, timeoutMs, what);
}

/** What the peer saw: bytes, EOF, the normalised error and the call that reported it. */
export class Peer {
  received = 0;
  eof = false;
  error: string | undefined;
  syscall: string | undefined;
  closed = false;

  constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => { this.received += chunk.length; });
    socket.on('end', () => { this.eof = true; });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.error ??= normalizeErrorCode(err) ?? err.code;
      this.syscall ??= err.syscall;
    });
    socket.on('close', () => { this.closed = true; });
  }

  get settled(): boolean {
    return this.eof || this.error !== undefined || this.closed;
  }

  /** Writes until the kernel refuses more or an error comes; resolves with the bytes handed over. */
  async writeUntilError(maxMs = 5000): Promise<void> {
    const chunk = Buffer.alloc(16 * 1024, 0x70);
    const deadline = Date.now() + maxMs;
    while (!this.error && !this.socket.destroyed && Date.now() < deadline) {
      this.socket.write(chunk);
      await sleep(5);
    }
  }
}

export interface Pair {
  /** The side under study (accepted by the server), paused until a helper reads it. */
  closer: net.Socket;
  peer: Peer;
}

const tracked = new Set<string>();

/** Remembers a socket's kernel identity, so the guard can prove it is gone. */
export function track(socket: net.Socket): void {
  if (process.platform !== 'linux') return;
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) return;
  try {
    tracked.add(fs.readlinkSync(`/proc/self/fd/${fd}`));
  } catch {
    // Already closed.
  }
}

function openSocketInodes(): Set<string> {
  const open = new Set<string>();
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      open.add(fs.readlinkSync(`/proc/self/fd/${fd}`));
    } catch {
      // Closed while listing (the listing's own descriptor).
    }
  }
  return open;
}

export interface PairOptions {
  host?: string;
  /** The closer's allowHalfOpen (Node's default is false). */
  allowHalfOpen?: boolean;
  /** The peer reads from the start (default true). */
  peerReads?: boolean;
}

/** A TCP connection on loopback: the closer is the accepted side, paused. */
export async function tcpPair(options: PairOptions = {}): Promise<Pair> {
  let peer: Peer | undefined;
  const { client, accepted: closer } = await loopbackPair({
    family: options.host === '::1' ? 6 : 4,
    allowHalfOpen: options.allowHalfOpen ?? true,
    onClient: (socket) => {
      if (options.peerReads === false) socket.pause();
      peer = new Peer(socket);
    },
  });
  track(client);
  track(closer);
  return { closer, peer: peer! };
}

/** A TLS connection on loopback: the closer is the server's TLSSocket. */
export async function tlsPair(): Promise<Pair> {
  let peer: Peer | undefined;
  const { client, accepted: closer } = await loopbackPair({ tls: { key, cert }, onClient: (socket) => { peer = new Peer(socket); } });
  track(client);
  track(closer);
  return { closer, peer: peer! };
}

/** Writes until libuv has to queue (the kernel's buffers are full); returns the bytes written. */
export async function fillSendQueue(socket: net.Socket): Promise<number> {
  const handle = (socket as unknown as { _handle: { writeQueueSize: number } })._handle;
  const chunk = Buffer.alloc(64 * 1024, 0x62);
  let total = 0;
  while (total < 256 * 1024 * 1024) {
    socket.write(chunk);
    total += chunk.length;
    if (handle.writeQueueSize > 0) return total;
    if (total % (1024 * 1024) === 0) await sleep(1);
  }
  throw new Error('the send queue never filled');
}

const WATCHED = ['TCPSocketWrap', 'TCPServerWrap', 'TLSWrap', 'PipeWrap', 'PipeServerWrap', 'Timeout'];

function countResources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const name of WATCHED) counts[name] = 0;
  for (const name of process.getActiveResourcesInfo()) if (name in counts) counts[name]++;
  return counts;
}

function fdCount(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

/**
 * Snapshot at the start of a file; `verify()` at its end waits (briefly) until every socket the
 * file opened is gone from /proc/self/fd, the active handles and timers are back to the
 * snapshot, and — where this file has the process to itself (the forks pool) — so is the number
 * of open descriptors.
 */
export function resourceGuard(): { verify(): Promise<void> } {
  const linux = process.platform === 'linux';
  const before = countResources();
  const fdsBefore = linux ? fdCount() : 0;
  return {
    async verify() {
      let problems: string[] = [];
      const deadline = Date.now() + 5000;
      do {
        problems = [];
        const now = countResources();
        for (const name of WATCHED) {
          if (now[name] > before[name]) problems.push(`${now[name] - before[name]} ${name} left`);
        }
        if (linux) {
          const open = openSocketInodes();
          const leaked = [...tracked].filter((inode) => open.has(inode));
          if (leaked.length) problems.push(`${leaked.length} sockets still open`);
          if (isMainThread && fdCount() > fdsBefore) problems.push(`${fdCount() - fdsBefore} more descriptors than at the start`);
        }
        if (problems.length === 0) return;
        await sleep(20);
      } while (Date.now() < deadline);
      throw new Error(`resources left behind: ${problems.join(', ')}`);
    },
  };
}

/** resourceGuard() around the whole file: snapshot before its first test, verify after its last. */
export function guardResources(verifyTimeoutMs = 15_000): void {
  let guard: ReturnType<typeof resourceGuard>;
  beforeAll(() => { guard = resourceGuard(); });
  afterAll(async () => { await guard.verify(); }, verifyTimeoutMs);
}
