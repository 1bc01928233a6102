// relay(a, b) between peers nobody here wrote (Python sockets), plain and TLS, IPv4 and IPv6.
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import { resetClose } from '../../src/index';
import { relay, type RelayReport } from '../../src/relay/index';
import { guardResources, until } from '../close/support';
import { oneShotServer, peersAvailable, pythonClient, pythonServer } from '../support/peers';

const key = fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'key.pem'));
const cert = fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'cert.pem'));
const MB = 1 << 20;

guardResources();

/** A relay on `host` in front of `upstreamPort`; its sockets have no allowHalfOpen of their own. */
async function relayTo(host: string, upstreamPort: number, options?: Parameters<typeof relay>[2]) {
  let handOver!: (p: Promise<RelayReport>) => void;
  const report = new Promise<Promise<RelayReport>>((resolve) => { handOver = resolve; });
  const { port } = await oneShotServer(host, (client) => handOver(relay(client, net.connect(upstreamPort, host), options)));
  return { port, report: (): Promise<RelayReport> => report.then((p) => p) };
}

describe('relay() with bad arguments throws before touching anything', () => {
  it('names the argument, with Node-style codes', async () => {
    const s = new net.Socket();
    const t = new net.Socket();
    expect(() => relay(1 as unknown as net.Socket, s)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', name: 'TypeError' }));
    expect(() => relay(s, {} as net.Socket)).toThrow(/"b" argument/);
    expect(() => relay(s, s)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => relay(s, t, { idleTimeout: -1 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE', name: 'RangeError' }));
    expect(() => relay(s, t, { onTimeout: 'fin' as 'reset' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => relay(s, t, { signal: {} as AbortSignal })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => relay(s, t, 'x' as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    // Nothing was touched: no listener, allowHalfOpen as created.
    expect(s.listenerCount('data') + s.listenerCount('close')).toBe(0);
    expect(s.allowHalfOpen).toBe(false);
    s.destroy();
    t.destroy();
  });

  it('refuses a socket that is already being relayed', async () => {
    const a = new net.Socket();
    const b = new net.Socket();
    const c = new net.Socket();
    const done = relay(a, b);
    expect(() => relay(a, c)).toThrow(/already being relayed/);
    a.destroy();
    b.destroy();
    c.destroy();
    const report = await done;
    expect(report.a.ended).toBe('closed');
  });
});

for (const host of ['127.0.0.1', '::1']) {
  describe.skipIf(!peersAvailable)(`relay() between Python peers over ${host}`, () => {
    it('a client that sends 1 MB then half-closes reads the whole reply and EOF', async () => {
      const server = await pythonServer('server-count', host);
      const r = await relayTo(host, server.port);
      const client = await pythonClient('client-upload', host, r.port, MB);
      const seen = await server.result;
      expect(seen).toEqual({ received: MB, ended: 'eof' });
      expect(client.ended).toBe('eof');
      expect(client.reply).toBe(`${MB} ${client.sha256}`);
      const report = await r.report();
      expect(report.bytes).toEqual({ aToB: MB, bToA: String(client.reply).length });
      expect(report.first).toBe('a');
      expect(report.a).toMatchObject({ ended: 'fin', fin: true, closedWith: 'fin' });
      expect(report.b).toMatchObject({ ended: 'fin', fin: true, closedWith: 'fin' });
    });

    it("an upstream RST reaches the client as ECONNRESET, after the bytes it had sent", async () => {
      const server = await pythonServer('server-reset', host, 1000);
      const r = await relayTo(host, server.port);
      const client = await pythonClient('client-read', host, r.port, 0);
      expect(client.ended).toBe('ECONNRESET');
      const report = await r.report();
      expect(report.b).toMatchObject({ ended: 'reset', code: 'ECONNRESET' });
      expect(report.a).toMatchObject({ ended: null, closedWith: 'reset' });
      expect(report.first).toBe('b');
    });

    it('a FIN from the upstream is a FIN for the client: everything, then EOF', async () => {
      const server = await pythonServer('server-send', host, 300_000);
      const r = await relayTo(host, server.port);
      const client = await pythonClient('client-read', host, r.port, 0);
      expect(client).toEqual({ received: 300_000, ended: 'eof' });
      expect((await r.report()).b.ended).toBe('fin');
    });

    it('a server that closes with the request unread resets the client through the relay (the kernel RST passes on)', async () => {
      const server = await pythonServer('server-unread', host, 100);
      const r = await relayTo(host, server.port);
      const client = await pythonClient('client-read', host, r.port, 200_000);
      expect(client.ended).toBe('ECONNRESET');
      expect((await r.report()).b).toMatchObject({ ended: 'reset' });
    });
  });
}

describe.skipIf(!peersAvailable)('relay() with Node and Python peers', () => {
  it('an upstream that cannot be reached resets the client; the report says why', async () => {
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const deadPort = (closed.address() as net.AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const r = await relayTo('127.0.0.1', deadPort);
    const client = await pythonClient('client-read', '127.0.0.1', r.port, 0);
    // The RST can come so soon after the handshake that Python's connect() itself reports it.
    expect(client.ended ?? client.error).toBe('ECONNRESET');
    const report = await r.report();
    expect(report.b).toMatchObject({ ended: 'error', code: 'ECONNREFUSED' });
    expect(report.a.closedWith).toBe('reset');
  });

  it('keeps backpressure: 16 MB to a slow reader arrive intact without the relay buffering them', async () => {
    const total = 16 * MB;
    const payload = crypto.randomBytes(total);
    let reader!: net.Socket;
    let received = 0;
    const hash = crypto.createHash('sha256');
    const sink = net.createServer({ allowHalfOpen: true }, (s) => {
      reader = s;
      s.on('data', (d: Buffer) => {
        received += d.length;
        hash.update(d);
        // A slow reader: pause a moment every 1 MiB.
        if (received % MB < d.length) {
          s.pause();
          setTimeout(() => s.resume(), 5);
        }
      });
      s.on('end', () => s.end());
    });
    await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
    let upstream!: net.Socket;
    const front = await oneShotServer('127.0.0.1', (client) => {
      upstream = net.connect((sink.address() as net.AddressInfo).port, '127.0.0.1');
      reports.push(relay(client, upstream));
    });
    const reports: Promise<RelayReport>[] = [];
    const client = net.connect(front.port, '127.0.0.1');
    let worst = 0;
    const sample = setInterval(() => { if (upstream) worst = Math.max(worst, upstream.writableLength); }, 1);
    client.end(payload);
    await new Promise((resolve) => client.on('close', resolve).resume());
    clearInterval(sample);
    sink.close();
    expect(received).toBe(total);
    expect(hash.digest('hex')).toBe(crypto.createHash('sha256').update(payload).digest('hex'));
    // At most a high-water mark plus one read (64 KiB) waits in Node's buffer.
    expect(worst).toBeLessThanOrEqual(upstream.writableHighWaterMark + 64 * 1024);
    const report = await reports[0];
    expect(report.bytes.aToB).toBe(total);
    void reader;
  });

  it('TLS on the client side: half-close, reply after EOF, and a reset passed on', async () => {
    const server = await pythonServer('server-count', '127.0.0.1');
    const reports: Promise<RelayReport>[] = [];
    const front = tls.createServer({ key, cert }, (client) => {
      front.close();
      reports.push(relay(client, net.connect(server.port, '127.0.0.1')));
    });
    await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
    const client = tls.connect({ port: (front.address() as net.AddressInfo).port, host: '127.0.0.1', rejectUnauthorized: false, allowHalfOpen: true } as tls.ConnectionOptions);
    let reply = '';
    client.on('data', (d) => { reply += d; });
    const ended = new Promise((resolve) => client.on('end', resolve));
    await new Promise((resolve) => client.once('secureConnect', resolve));
    client.end(Buffer.alloc(100_000, 7));
    await ended;
    expect(reply).toMatch(/^100000 [0-9a-f]{64}$/);
    const report = await reports[0];
    expect(report.a).toMatchObject({ ended: 'fin', closedWith: 'fin' });
    expect(report.b).toMatchObject({ ended: 'fin', closedWith: 'fin' });
  });

  it('TLS on the upstream side: an upstream RST reaches a plain client as ECONNRESET', async () => {
    const tlsServer = tls.createServer({ key, cert }, (s) => {
      tlsServer.close();
      s.on('error', () => undefined);
      s.write('hello', () => setTimeout(() => { void resetClose(s); }, 50));
    });
    await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
    const reports: Promise<RelayReport>[] = [];
    const front = await oneShotServer('127.0.0.1', (client) => {
      reports.push(relay(client, tls.connect({ port: (tlsServer.address() as net.AddressInfo).port, host: '127.0.0.1', rejectUnauthorized: false })));
    });
    const client = await pythonClient('client-read', '127.0.0.1', front.port, 0);
    expect(client.received).toBe(5);
    expect(client.ended).toBe('ECONNRESET');
    expect((await reports[0]).b.ended).toBe('reset');
  });

  it('idleTimeout and signal end a relay both peers left open; onTimeout reset makes it an RST', async () => {
    for (const [options, stopped, code] of [
      [{ idleTimeout: 100 }, 'idle-timeout', 'eof'],
      [{ idleTimeout: 100, onTimeout: 'close' }, 'idle-timeout', 'eof'],
      [{ idleTimeout: 100, onTimeout: 'reset' }, 'idle-timeout', 'ECONNRESET'],
    ] as const) {
      const server = await pythonServer('server-count', '127.0.0.1');
      const r = await relayTo('127.0.0.1', server.port, options);
      // A client that sends nothing and never half-closes: only the relay's timeout ends it.
      const client = await pythonClient('client-read', '127.0.0.1', r.port, 0);
      expect(client.ended).toBe(code);
      const report = await r.report();
      expect(report.stopped).toBe(stopped);
      expect(report.first).toBe(null);
      server.kill();
    }
    const controller = new AbortController();
    const server = await pythonServer('server-count', '127.0.0.1');
    const r = await relayTo('127.0.0.1', server.port, { signal: controller.signal });
    const client = pythonClient('client-read', '127.0.0.1', r.port, 0);
    setTimeout(() => controller.abort(), 100);
    expect((await client).ended).toBe('eof');
    expect((await r.report()).stopped).toBe('aborted');
    server.kill();
  });

  it("onTimeout: 'destroy', the former spelling of 'close', still closes plainly and warns once (a DeprecationWarning)", async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => { if ((w as { code?: string }).code === 'NET_LINGER_DEP_RELAY_DESTROY') warnings.push(w); };
    process.on('warning', onWarning);
    try {
      for (let i = 0; i < 2; i++) {
        const server = await pythonServer('server-count', '127.0.0.1');
        const r = await relayTo('127.0.0.1', server.port, { idleTimeout: 100, onTimeout: 'destroy' });
        const client = await pythonClient('client-read', '127.0.0.1', r.port, 0);
        expect(client.ended).toBe('eof');
        const report = await r.report();
        expect(report.stopped).toBe('idle-timeout');
        expect([report.a.closedWith, report.b.closedWith]).toEqual(['destroy', 'destroy']);
        server.kill();
      }
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatchObject({ name: 'DeprecationWarning', message: expect.stringContaining("'close'") });
    } finally {
      process.off('warning', onWarning);
    }
  });
});
