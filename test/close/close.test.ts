import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { gracefulClose, lingerClose, pendingBytes, resetClose, setLinger } from '../../src/index';
import { tcpState } from '../../src/lab/runner';
import { Peer, fillSendQueue, guardResources, sleep, tcpPair, tlsPair, until } from './support';

guardResources();

const linux = process.platform === 'linux';
const ports = (s: net.Socket) => ({ local: s.localPort!, remote: s.remotePort! });
const code = (c: string) => expect.objectContaining({ code: c });

// A peer that already read our FIN is in CLOSE_WAIT, where Linux turns an incoming RST into
// EPIPE (tcp_reset), not ECONNRESET.
const resetAfterFin = linux ? 'EPIPE' : 'ECONNRESET';

/**
 * The peer was not reading when the RST came. It reads what had reached it, then either gets
 * ECONNRESET or — libuv reports POLLHUP after a short read as EOF (uv__stream_io) — a plain
 * 'end'; its next write then fails ECONNRESET either way. Data that had not reached it is lost.
 */
async function expectResetSeenBy(peer: Peer, sent: number): Promise<void> {
  peer.socket.resume();
  await until(() => peer.settled, 10_000, 'the peer');
  await peer.writeUntilError();
  expect(peer.error).toBe('ECONNRESET');
  expect(peer.received).toBeLessThan(sent);
  peer.socket.destroy();
}

/** The closer's TCP state once the kernel has had a moment (Linux only: /proc/net/tcp). */
async function closerState(p: { local: number; remote: number }): Promise<string | null> {
  await sleep(20);
  return tcpState(p.local, p.remote);
}

// Semantics measured on Linux; elsewhere not verified here (see the README).
const onLinux = describe.skipIf(!linux);

onLinux('resetClose', () => {
  it('resets a net.Socket through Node: the peer loses the unsent data and gets ECONNRESET; no TIME_WAIT', async () => {
    const { closer, peer } = await tcpPair({ peerReads: false });
    const p = ports(closer);
    const sent = await fillSendQueue(closer);
    const report = await resetClose(closer);
    expect(report).toMatchObject({ outcome: 'reset', via: 'resetAndDestroy' });
    expect(closer.closed).toBe(true);
    await expectResetSeenBy(peer, sent);
    if (linux) expect(await closerState(p)).toBe('gone');
  });

  it('resets after end(), where Node refuses (SO_LINGER {1,0} + destroy)', async () => {
    const { closer, peer } = await tcpPair({ peerReads: false });
    const sent = await fillSendQueue(closer);
    closer.end();
    const report = await resetClose(closer);
    expect(report).toMatchObject({ outcome: 'reset', via: 'linger-zero' });
    await expectResetSeenBy(peer, sent);
  });

  it("why: Node's resetAndDestroy() after end() fails EINVAL and never closes the handle (in a child: it leaks)", async () => {
    const script = `
      const net = require('node:net');
      const server = net.createServer({ pauseOnConnect: true }, (socket) => {
        const seen = [];
        socket.on('error', (err) => seen.push(err.code + ' ' + err.syscall));
        socket.on('close', () => seen.push('close'));
        socket.end();
        socket.resetAndDestroy();
        setTimeout(() => { process.stdout.write(JSON.stringify(seen)); process.exit(0); }, 300);
      }).listen(0, '127.0.0.1', () => net.connect(server.address().port, '127.0.0.1').on('error', () => {}));
    `;
    const out = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
    });
    expect(JSON.parse(out)).toEqual(['EINVAL reset']);
  });

  it('resets a tls.TLSSocket (Node throws ERR_INVALID_HANDLE_TYPE there)', async () => {
    const { closer, peer } = await tlsPair();
    expect(() => closer.resetAndDestroy()).toThrow(code('ERR_INVALID_HANDLE_TYPE'));
    const report = await resetClose(closer);
    expect(report).toMatchObject({ outcome: 'reset', via: 'linger-zero' });
    await until(() => peer.settled, 10_000, 'the peer');
    expect(peer.error).toBe('ECONNRESET');
    peer.socket.destroy();
  });

  it('is idempotent and safe on destroyed or never-connected sockets', async () => {
    const { closer, peer } = await tcpPair();
    const [first, second] = await Promise.all([resetClose(closer), resetClose(closer)]);
    expect(first).toMatchObject({ outcome: 'reset' });
    expect(second).toMatchObject({ outcome: 'closed', via: null });
    expect(await resetClose(closer)).toMatchObject({ outcome: 'closed', via: null });
    expect(await resetClose(new net.Socket())).toMatchObject({ outcome: 'closed', via: null });
    await until(() => peer.settled);
    peer.socket.destroy();
  });

  it('refuses a Unix-domain socket (no RST there) and leaves it open', async () => {
    if (process.platform === 'win32') return;
    const file = path.join(os.tmpdir(), `net-linger-${process.pid}-${Date.now()}.sock`);
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(file, resolve));
    const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
    const client = net.connect(file);
    await new Promise((resolve) => client.once('connect', resolve));
    const other = await accepted;
    try {
      expect(() => resetClose(client)).toThrow(code('ERR_NET_LINGER_UNSUPPORTED'));
      expect(client.destroyed).toBe(false);
    } finally {
      client.destroy();
      other.destroy();
      await new Promise((resolve) => server.close(resolve));
      fs.rmSync(file, { force: true });
    }
  });

});

onLinux('gracefulClose', () => {
  it('drains what the peer sent unread, sends everything, and the peer reads EOF, not a reset', async () => {
    const { closer, peer } = await tcpPair();
    peer.socket.write(Buffer.alloc(64 * 1024));
    await until(() => pendingBytes(closer).unread === 64 * 1024, 10_000, 'unread data');
    closer.write(Buffer.alloc(1000, 0x61));
    const p = ports(closer);
    const closing = gracefulClose(closer);
    await until(() => peer.eof, 10_000, 'EOF');
    peer.socket.end();
    const report = await closing;
    expect(report).toMatchObject({ outcome: 'fin', drainedBytes: 64 * 1024, reset: false });
    expect(report.code).toBeUndefined();
    expect(peer.received).toBe(1000);
    expect(peer.error).toBeUndefined();
    if (linux) expect(await closerState(p)).toBe('TIME_WAIT');
  });

  it('first lets every queued write reach the peer (a slow reader gets it all)', async () => {
    const { closer, peer } = await tcpPair({ peerReads: false });
    const sent = await fillSendQueue(closer);
    closer.write(Buffer.alloc(1024 * 1024));
    const closing = gracefulClose(closer, { lingeringTimeout: 60_000 });
    await sleep(50);
    peer.socket.resume();
    await until(() => peer.eof, 20_000, 'EOF');
    peer.socket.end();
    expect(await closing).toMatchObject({ outcome: 'fin', drainedBytes: 0 });
    expect(peer.received).toBe(sent + 1024 * 1024);
    expect(peer.error).toBeUndefined();
  });

  it('the peer half-closed first: FIN both ways, nothing drained', async () => {
    const { closer, peer } = await tcpPair();
    peer.socket.end();
    closer.resume();
    await until(() => closer.readableEnded, 10_000, "the peer's FIN");
    closer.write('bye');
    const report = await gracefulClose(closer);
    expect(report).toMatchObject({ outcome: 'fin', drainedBytes: 0 });
    await until(() => peer.eof);
    expect(peer.received).toBe(3);
  });

  it('allowHalfOpen false: Node ends the write side itself on the peer\'s FIN; still a clean close', async () => {
    const { closer, peer } = await tcpPair({ allowHalfOpen: false });
    closer.write(Buffer.alloc(10_000));
    const closing = gracefulClose(closer);
    peer.socket.write(Buffer.alloc(5000));
    await until(() => peer.eof, 10_000, 'EOF');
    peer.socket.end();
    expect(await closing).toMatchObject({ outcome: 'fin', drainedBytes: 5000 });
    expect(peer.received).toBe(10_000);
    expect(peer.error).toBeUndefined();
  });

  it('works on a socket already ended by its owner', async () => {
    const { closer, peer } = await tcpPair();
    closer.end('last words');
    const closing = gracefulClose(closer);
    await until(() => peer.eof);
    peer.socket.end();
    expect(await closing).toMatchObject({ outcome: 'fin' });
    expect(peer.received).toBe('last words'.length);
  });

  it('the peer resets while we drain: outcome peer-reset with the one code, not a rejection', async () => {
    const { closer, peer } = await tcpPair();
    const closing = gracefulClose(closer);
    peer.socket.write(Buffer.alloc(256 * 1024));
    await until(() => peer.eof, 10_000, 'EOF');
    // Reset once the closer has read it all: an RST that finds bytes still queued may reach
    // Node as EOF (libuv's POLLHUP after a short read), which would make this a 'fin'.
    await until(() => closer.bytesRead === 256 * 1024, 10_000, 'the drain');
    setLinger(peer.socket, true, 0);
    peer.socket.destroy();
    const report = await closing;
    expect(report).toMatchObject({ outcome: 'peer-reset', code: 'ECONNRESET', reset: false });
    expect(report.drainedBytes).toBeGreaterThan(0);
  });

  it('the peer never sends FIN: lingeringTimeout ends it, by reset when asked', async () => {
    const { closer, peer } = await tcpPair();
    const report = await gracefulClose(closer, { lingeringTimeout: 150, onTimeout: 'reset' });
    expect(report).toMatchObject({ outcome: 'timeout', reset: true, drainedBytes: 0 });
    expect(report.elapsedMs).toBeGreaterThanOrEqual(140);
    expect(peer.eof).toBe(true);
    await peer.writeUntilError();
    expect(peer.error).toBe(resetAfterFin);
    peer.socket.destroy();
  });

  it("the peer never sends FIN: onTimeout 'close' closes plainly (no RST while nothing is unread)", async () => {
    const { closer, peer } = await tcpPair();
    const report = await gracefulClose(closer, { lingeringTimeout: 100 });
    expect(report).toMatchObject({ outcome: 'timeout', reset: false });
    await until(() => peer.eof);
    await sleep(50);
    expect(peer.error).toBeUndefined();
    peer.socket.destroy();
  });

  it('the peer keeps sending megabytes: drained and counted, and lingeringTime caps it', async () => {
    const { closer, peer } = await tcpPair();
    let flooding = true;
    const chunk = Buffer.alloc(256 * 1024);
    const flood = () => { while (flooding && !peer.socket.destroyed && peer.socket.write(chunk)); };
    peer.socket.on('drain', flood);
    flood();
    const report = await gracefulClose(closer, { lingeringTime: 400, lingeringTimeout: 60_000, onTimeout: 'reset' });
    flooding = false;
    expect(report).toMatchObject({ outcome: 'timeout', reset: true });
    expect(report.drainedBytes).toBeGreaterThan(1024 * 1024);
    expect(report.elapsedMs).toBeGreaterThanOrEqual(390);
    expect(report.elapsedMs).toBeLessThan(30_000);
    await until(() => peer.settled, 10_000, 'the peer');
    peer.socket.destroy();
  });

  it('the peer sends megabytes then FIN: every byte is drained', async () => {
    const { closer, peer } = await tcpPair();
    const closing = gracefulClose(closer);
    const total = 16 * 1024 * 1024;
    peer.socket.end(Buffer.alloc(total));
    expect(await closing).toMatchObject({ outcome: 'fin', drainedBytes: total });
  });

  it('an AbortSignal stops the wait; an already aborted one stops it at once', async () => {
    const first = await tcpPair();
    const controller = new AbortController();
    const closing = gracefulClose(first.closer, { signal: controller.signal, onTimeout: 'reset' });
    await sleep(30);
    controller.abort();
    expect(await closing).toMatchObject({ outcome: 'aborted', reset: true });

    const second = await tcpPair();
    const report = await gracefulClose(second.closer, { signal: AbortSignal.abort() });
    expect(report).toMatchObject({ outcome: 'aborted', reset: false });
    for (const { peer } of [first, second]) {
      await until(() => peer.settled);
      peer.socket.destroy();
    }
  });

  it('a destroyed socket: reported, not thrown; a socket reset earlier says so', async () => {
    const a = await tcpPair();
    a.closer.destroy();
    expect(await gracefulClose(a.closer)).toMatchObject({ outcome: 'error', code: 'ERR_SOCKET_CLOSED', drainedBytes: 0 });

    const b = await tcpPair();
    b.closer.on('error', () => undefined);
    b.closer.resume();
    setLinger(b.peer.socket, true, 0);
    b.peer.socket.destroy();
    await until(() => b.closer.destroyed, 10_000, 'the reset');
    expect(await gracefulClose(b.closer)).toMatchObject({ outcome: 'peer-reset', code: 'ECONNRESET' });
    a.peer.socket.destroy();
  });

  it('a second call returns the same close; resetClose during it reports aborted', async () => {
    const { closer, peer } = await tcpPair();
    const one = gracefulClose(closer);
    const two = gracefulClose(closer);
    await sleep(20);
    expect(await resetClose(closer)).toMatchObject({ outcome: 'reset' });
    const [r1, r2] = await Promise.all([one, two]);
    expect(r1).toEqual(r2);
    expect(r1.outcome).toBe('aborted');
    await until(() => peer.settled);
    peer.socket.destroy();
  });

  it('TLS: close_notify and FIN, drained until the peer closes', async () => {
    const { closer, peer } = await tlsPair();
    closer.write('response');
    const closing = gracefulClose(closer);
    peer.socket.write(Buffer.alloc(100_000));
    await until(() => peer.eof, 10_000, 'EOF');
    peer.socket.end();
    expect(await closing).toMatchObject({ outcome: 'fin', drainedBytes: 100_000 });
    expect(peer.received).toBe('response'.length);
    expect(peer.error).toBeUndefined();
  });

  it('TLS: a peer that never closes is reset on timeout', async () => {
    const { closer, peer } = await tlsPair();
    const report = await gracefulClose(closer, { lingeringTimeout: 100, onTimeout: 'reset' });
    expect(report).toMatchObject({ outcome: 'timeout', reset: true });
    await until(() => peer.eof);
    await peer.writeUntilError();
    expect(peer.error).toBe(resetAfterFin);
    peer.socket.destroy();
  });

});

onLinux('lingerClose', () => {
  it('waits, without blocking, until the peer has acknowledged every byte, then closes', async () => {
    const { closer, peer } = await tcpPair({ peerReads: false });
    const sent = await fillSendQueue(closer);
    const closing = lingerClose(closer, 20);
    await sleep(100);
    expect(closer.destroyed).toBe(false);
    peer.socket.resume();
    const report = await closing;
    expect(report).toMatchObject({ outcome: 'acked', unackedBytes: 0, reset: false });
    await until(() => peer.eof, 10_000, 'EOF');
    expect(peer.received).toBe(sent);
    peer.socket.end();
  });

  it("time runs out: 'close' (default) lets the kernel go on delivering, like Linux's SO_LINGER", async () => {
    const { closer, peer } = await tcpPair({ peerReads: false });
    const sent = await fillSendQueue(closer);
    const report = await lingerClose(closer, 0.2);
    expect(report).toMatchObject({ outcome: 'timeout', reset: false });
    expect(report.unackedBytes).toBeGreaterThan(0);
    expect(report.elapsedMs).toBeGreaterThanOrEqual(190);
    peer.socket.resume();
    await until(() => peer.settled, 20_000, 'the peer');
    // Only what had reached the kernel is still delivered; libuv's queue went with the socket.
    expect(peer.error).toBeUndefined();
    expect(peer.eof).toBe(true);
    expect(peer.received).toBeGreaterThan(0);
    expect(peer.received).toBeLessThan(sent);
    peer.socket.destroy();
  });

  it("time runs out: 'reset' discards the rest and resets the peer", async () => {
    const { closer, peer } = await tcpPair({ peerReads: false });
    const sent = await fillSendQueue(closer);
    const report = await lingerClose(closer, 0.2, { onTimeout: 'reset' });
    expect(report).toMatchObject({ outcome: 'timeout', reset: true });
    await expectResetSeenBy(peer, sent);
  });

  it('reads and discards what the peer sends meanwhile, so the close is not a reset', async () => {
    const { closer, peer } = await tcpPair();
    peer.socket.write(Buffer.alloc(50_000));
    await until(() => pendingBytes(closer).unread === 50_000);
    closer.write(Buffer.alloc(1000));
    const report = await lingerClose(closer, 5);
    expect(report).toMatchObject({ outcome: 'acked', drainedBytes: 50_000 });
    await until(() => peer.eof);
    await sleep(30);
    expect(peer.error).toBeUndefined();
    expect(peer.received).toBe(1000);
    peer.socket.destroy();
  });

  it("the peer half-closes before acknowledging: Node closes the socket itself ('fin'); the kernel still delivers", async () => {
    const { closer, peer } = await tcpPair({ peerReads: false });
    const sent = await fillSendQueue(closer);
    peer.socket.end();
    const closing = lingerClose(closer, 20);
    await sleep(50);
    peer.socket.resume();
    const report = await closing;
    expect(['fin', 'acked']).toContain(report.outcome);
    if (report.outcome === 'fin') expect(report.unackedBytes).toBeGreaterThan(0);
    await until(() => peer.eof, 20_000, 'EOF');
    expect(peer.received).toBe(sent);
    peer.socket.destroy();
  });

  it('the peer resets while we wait: peer-reset, not a rejection', async () => {
    const { closer, peer } = await tcpPair({ peerReads: false });
    await fillSendQueue(closer);
    const closing = lingerClose(closer, 20);
    await sleep(50);
    setLinger(peer.socket, true, 0);
    peer.socket.destroy();
    expect(await closing).toMatchObject({ outcome: 'peer-reset', code: 'ECONNRESET' });
  });

  it('TLS sockets, AbortSignal, destroyed sockets', async () => {
    const t = await tlsPair();
    t.closer.write('tls bytes');
    expect(await lingerClose(t.closer, 5)).toMatchObject({ outcome: 'acked', unackedBytes: 0 });
    await until(() => t.peer.eof);
    expect(t.peer.received).toBe('tls bytes'.length);
    t.peer.socket.destroy();

    const a = await tcpPair({ peerReads: false });
    await fillSendQueue(a.closer);
    const controller = new AbortController();
    const closing = lingerClose(a.closer, 20, { signal: controller.signal, onTimeout: 'reset' });
    setTimeout(() => controller.abort(), 30);
    expect(await closing).toMatchObject({ outcome: 'aborted', reset: true });
    a.peer.socket.destroy();

    const d = await tcpPair();
    d.closer.destroy();
    expect(await lingerClose(d.closer, 1)).toMatchObject({ outcome: 'error', code: 'ERR_SOCKET_CLOSED' });
    d.peer.socket.destroy();
  });
});

describe('refusals are synchronous and touch nothing', () => {
  it('lingerClose: where unacknowledged bytes cannot be counted, ERR_NET_LINGER_UNSUPPORTED rather than a guess', async () => {
    const { closer, peer } = await tcpPair();
    let countable: boolean;
    try {
      countable = pendingBytes(closer).unacked !== null;
    } catch (err) {
      if ((err as { code?: string }).code !== 'ERR_NET_LINGER_UNSUPPORTED') throw err;
      countable = false;
    }
    // Linux counts them (SIOCOUTQ); elsewhere this is the refusal the README promises.
    if (linux) expect(countable).toBe(true);
    if (!countable) expect(() => lingerClose(closer, 1)).toThrow(code('ERR_NET_LINGER_UNSUPPORTED'));
    expect(closer.writableEnded).toBe(false);
    closer.destroy();
    peer.socket.destroy();
  });

  it('rejects what is not a socket, synchronously', () => {
    expect(() => resetClose(3 as unknown as net.Socket)).toThrow(code('ERR_INVALID_ARG_TYPE'));
    expect(() => resetClose(undefined as unknown as net.Socket)).toThrow(TypeError);
  });

  it('gracefulClose: bad arguments', async () => {
    const { closer, peer } = await tcpPair();
    const bad: [unknown, string][] = [
      [5, 'ERR_INVALID_ARG_TYPE'],
      [null, 'ERR_INVALID_ARG_TYPE'],
      [{ lingeringTime: -1 }, 'ERR_OUT_OF_RANGE'],
      [{ lingeringTime: 1.5 }, 'ERR_OUT_OF_RANGE'],
      [{ lingeringTime: 2 ** 31 }, 'ERR_OUT_OF_RANGE'],
      [{ lingeringTimeout: '5' }, 'ERR_INVALID_ARG_TYPE'],
      [{ lingeringTimeout: Number.NaN }, 'ERR_OUT_OF_RANGE'],
      [{ signal: {} }, 'ERR_INVALID_ARG_TYPE'],
      [{ onTimeout: 'destroy' }, 'ERR_INVALID_ARG_VALUE'],
      [{ onTimeout: 1 }, 'ERR_INVALID_ARG_TYPE'],
    ];
    for (const [options, expected] of bad) {
      expect(() => gracefulClose(closer, options as never), JSON.stringify(options)).toThrow(code(expected));
    }
    expect(() => gracefulClose({} as net.Socket)).toThrow(code('ERR_INVALID_ARG_TYPE'));
    expect(closer.writableEnded).toBe(false);
    expect(closer.destroyed).toBe(false);
    closer.destroy();
    peer.socket.destroy();
  });

  it('lingerClose: bad arguments', async () => {
    const { closer, peer } = await tcpPair();
    const bad: [unknown, unknown, string][] = [
      ['1', undefined, 'ERR_INVALID_ARG_TYPE'],
      [-1, undefined, 'ERR_OUT_OF_RANGE'],
      [Number.NaN, undefined, 'ERR_OUT_OF_RANGE'],
      [Number.POSITIVE_INFINITY, undefined, 'ERR_OUT_OF_RANGE'],
      [3_000_000, undefined, 'ERR_OUT_OF_RANGE'],
      [1, { onTimeout: 'destroy' }, 'ERR_INVALID_ARG_VALUE'],
      [1, { signal: 'x' }, 'ERR_INVALID_ARG_TYPE'],
      [1, 'x', 'ERR_INVALID_ARG_TYPE'],
    ];
    for (const [seconds, options, expected] of bad) {
      expect(() => lingerClose(closer, seconds as number, options as never), String(seconds)).toThrow(code(expected));
    }
    expect(() => lingerClose(null as unknown as net.Socket, 1)).toThrow(code('ERR_INVALID_ARG_TYPE'));
    expect(closer.writableEnded).toBe(false);
    closer.destroy();
    peer.socket.destroy();
  });
});
