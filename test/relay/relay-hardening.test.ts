// relay() with sockets other code has touched first: a 'readable' listener left by a protocol
// sniffer, and setEncoding(). Real TCP connections on loopback; Node peers that read and write
// raw bytes.
import crypto from 'node:crypto';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { relay, type RelayReport } from '../../src/relay/index';
import { listenPort } from '../support/helpers';
import { guardResources, sleep, until } from '../close/support';

guardResources();

const listen = listenPort;

/** Rejects after `ms` with what did not happen, so that a hang fails the test instead of timing it out. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const t = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new Error(`hung: ${what}`)), ms); });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** Everything a socket reads until its EOF, as bytes. */
function readAll(socket: net.Socket): Promise<Buffer> {
  const parts: Buffer[] = [];
  socket.on('data', (c: Buffer) => parts.push(c));
  return new Promise((resolve, reject) => {
    socket.once('end', () => resolve(Buffer.concat(parts)));
    socket.once('error', reject);
  });
}

/** Equal bytes; on a mismatch says where, without printing megabytes. */
function expectSameBytes(got: Buffer, want: Buffer): void {
  let i = 0;
  while (i < got.length && i < want.length && got[i] === want[i]) i++;
  const at = i === got.length && i === want.length ? null : { at: i, got: got.subarray(i, i + 8).toString('hex'), want: want.subarray(i, i + 8).toString('hex') };
  expect({ length: got.length, firstDifference: at }).toEqual({ length: want.length, firstDifference: null });
}

const sha = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');

/** Counts what arrives until the FIN, then answers "<bytes> <sha256>" and ends. */
async function countingUpstream(): Promise<{ port: number; server: net.Server }> {
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    void readAll(s).then((all) => s.end(`${all.length} ${sha(all)}`), () => s.destroy());
  });
  return { port: await listen(server), server };
}

describe("relay() of a socket with a leftover 'readable' listener", () => {
  it('relays its data and its FIN; the reply comes back (the sniffer peeked and put the bytes back)', async () => {
    const up = await countingUpstream();
    let handed!: (p: Promise<RelayReport>) => void;
    const report = new Promise<Promise<RelayReport>>((resolve) => { handed = resolve; });
    let sniffed: Buffer | null = null;
    const front = net.createServer((s) => {
      // A protocol sniffer: looks at the first bytes through 'readable', puts them back, hands
      // the socket over and leaves its listener behind (it does nothing any more).
      s.on('readable', () => {
        if (sniffed) return;
        const head = s.read(4) as Buffer | null;
        if (head === null) return;
        sniffed = head;
        s.unshift(head);
        handed(relay(s, net.connect(up.port, '127.0.0.1')));
      });
    });
    const port = await listen(front);
    const payload = crypto.randomBytes(300_000);
    const client = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    const reply = readAll(client);
    client.end(payload);
    const got = (await within(reply, 5000, 'the reply through the relay')).toString();
    expect(got).toBe(`${payload.length} ${sha(payload)}`);
    expect(sniffed!.equals(payload.subarray(0, 4))).toBe(true);
    const r = await within(report.then((p) => p), 5000, 'the report');
    expect(r.bytes).toEqual({ aToB: payload.length, bToA: got.length });
    expect(r.a).toMatchObject({ ended: 'fin', fin: true, closedWith: 'fin', bytesRead: payload.length });
    client.destroy();
    front.close();
    up.server.close();
  });

  it('a client that reads late still gets every byte, in order (reading pauses for backpressure and resumes)', async () => {
    // The upstream sends 8 MB at once; the client reads it only after a pause.
    const big = crypto.randomBytes(8 << 20);
    const upstream = net.createServer((s) => { s.end(big); });
    const upPort = await listen(upstream);
    let handed!: (p: Promise<RelayReport>) => void;
    const report = new Promise<Promise<RelayReport>>((resolve) => { handed = resolve; });
    const front = net.createServer((s) => {
      const upSock = net.connect(upPort, '127.0.0.1');
      upSock.on('readable', () => undefined);
      handed(relay(s, upSock));
    });
    const port = await listen(front);
    const client = net.connect(port, '127.0.0.1');
    client.pause();
    await sleep(300);
    const r0 = await Promise.race([report.then((p) => p), sleep(0).then(() => null)]);
    expect(r0).toBeNull();
    client.resume();
    const got = await within(readAll(client), 10_000, 'the download');
    expect(got.length).toBe(big.length);
    expect(got.equals(big)).toBe(true);
    expect((await report.then((p) => p)).bytes.bToA).toBe(big.length);
    client.destroy();
    front.close();
    upstream.close();
  });
});

// Every byte value, and byte sequences that are not UTF-8: lone continuation bytes, truncated
// and overlong sequences, an encoded surrogate, 0xFE/0xFF.
const INVALID_UTF8 = Buffer.from([
  0x80, 0xbf, 0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1, 0xf0, 0x90, 0x28, 0xbc, 0xc0, 0xaf,
  0xed, 0xa0, 0x80, 0xf8, 0x88, 0x80, 0x80, 0x80, 0xff, 0xfe, 0xf4, 0x90, 0x80, 0x80,
]);
const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_v, i) => i));

describe('relay() of sockets with setEncoding()', () => {
  for (const encoding of ['utf8', 'hex', 'latin1'] as const) {
    it(`forwards bytes exactly and counts bytes, both ways (setEncoding('${encoding}') on both sockets)`, async () => {
      // Up: 'AB' and the first two bytes of '€' arrive before the relay starts (the front
      // socket's decoder holds the incomplete character), then the rest.
      const upFirst = Buffer.from([0x41, 0x42, 0xe2, 0x82]);
      const upRest = Buffer.concat([Buffer.from([0xac]), ALL_BYTES, INVALID_UTF8, Buffer.from(ALL_BYTES).reverse(), Buffer.from([0xe2])]);
      const upAll = Buffer.concat([upFirst, upRest]);
      // Down: the same kinds of bytes, a 4-byte character split across two writes.
      const downParts = [Buffer.concat([INVALID_UTF8, Buffer.from([0xf0, 0x9f])]), Buffer.concat([Buffer.from([0x98, 0x80]), ALL_BYTES, Buffer.from([0xc3])])];
      const downAll = Buffer.concat(downParts);

      let upstreamGot: Promise<Buffer> | undefined;
      const upstream = net.createServer({ allowHalfOpen: true }, (s) => {
        upstreamGot = readAll(s);
        void (async () => {
          for (const part of downParts) {
            s.write(part);
            await sleep(30);
          }
          s.end();
        })();
      });
      const upPort = await listen(upstream);
      let started!: () => void;
      const relayStarted = new Promise<void>((resolve) => { started = resolve; });
      let handed!: (v: { report: Promise<RelayReport>; front: net.Socket; back: net.Socket }) => void;
      const relayed = new Promise<{ report: Promise<RelayReport>; front: net.Socket; back: net.Socket }>((resolve) => { handed = resolve; });
      const front = net.createServer((s) => {
        s.setEncoding(encoding);
        void until(() => s.readableLength > 0, 5000, 'the first bytes').then(async () => {
          await sleep(20);
          const back = net.connect({ port: upPort, host: '127.0.0.1' });
          back.setEncoding(encoding);
          handed({ report: relay(s, back), front: s, back });
          started();
        });
      });
      const port = await listen(front);
      const client = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
      const clientGot = readAll(client);
      client.write(upFirst);
      await within(relayStarted, 5000, 'the relay start');
      client.end(upRest);

      const down = await within(clientGot, 5000, 'the bytes down');
      await until(() => upstreamGot !== undefined);
      const up = await within(upstreamGot!, 5000, 'the bytes up');
      expectSameBytes(up, upAll);
      expectSameBytes(down, downAll);
      const { report, front: f, back } = await relayed;
      const r = await within(report, 5000, 'the report');
      expect(r.bytes).toEqual({ aToB: upAll.length, bToA: downAll.length });
      expect(r.a.bytesRead).toBe(upAll.length);
      expect(r.b.bytesRead).toBe(downAll.length);
      // The sockets read bytes while relayed; their encoding is set again once the relay is done.
      expect(f.readableEncoding).toBe(encoding);
      expect(back.readableEncoding).toBe(encoding);
      client.destroy();
      front.close();
      upstream.close();
    });
  }
});

describe('relay() of a utf8 socket that had decoded invalid bytes before the call', () => {
  it('gets U+FFFD for those (what the socket already decoded), exact bytes for everything after', async () => {
    let upstreamGot: Promise<Buffer> | undefined;
    const upstream = net.createServer({ allowHalfOpen: true }, (s) => {
      upstreamGot = readAll(s);
      upstreamGot.then(() => s.end(), () => s.destroy());
    });
    const upPort = await listen(upstream);
    let started!: () => void;
    const relayStarted = new Promise<void>((resolve) => { started = resolve; });
    const front = net.createServer((s) => {
      s.setEncoding('utf8');
      void until(() => s.readableLength >= 2, 5000, 'the first bytes').then(() => {
        void relay(s, net.connect(upPort, '127.0.0.1'));
        started();
      });
    });
    const port = await listen(front);
    const client = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    const done = readAll(client);
    client.write(Buffer.from([0xff, 0x41]));
    await within(relayStarted, 5000, 'the relay start');
    client.end(Buffer.from([0xff, 0x42]));
    await within(done, 5000, 'the end');
    await until(() => upstreamGot !== undefined);
    expectSameBytes(await upstreamGot!, Buffer.from([0xef, 0xbf, 0xbd, 0x41, 0xff, 0x42]));
    client.destroy();
    front.close();
    upstream.close();
  });
});
