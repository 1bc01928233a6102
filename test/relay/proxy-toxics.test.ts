// toxiproxy's toxics in createFaultProxy(): latency (with jitter), bandwidth, slicer, down and
// timeout, as the peer observes them (times, separate reads, resets), and the ones that change
// on live connections. Bounds are generous: they tell "applied" from "not applied", no more.
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { request as undiciRequest } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isConnectionReset } from '../../src/index';
import { resolveFaults } from '../../src/relay/fault-policy';
import { createFaultProxy, type FaultProxy, type Faults } from '../../src/testing/index';
import { guardResources } from '../close/support';
import { missingTools, requireTools } from '../support/tools';

guardResources();

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const BIG = 256 * 1024;
let payload: Buffer;

let echo: net.Server;
let echoPort: number;
let echoAccepted = 0;
/** Answers "big" with BIG bytes and a FIN, "slice" with 10000 bytes in one write, anything else with itself. */
let web: http.Server;
let webPort: number;

beforeAll(async () => {
  payload = crypto.randomBytes(BIG);
  echo = net.createServer((socket) => {
    echoAccepted++;
    socket.on('error', () => undefined);
    socket.on('data', (d: Buffer) => {
      const text = d.toString();
      if (text === 'big') socket.end(payload);
      else if (text === 'slice') socket.end(payload.subarray(0, 10_000));
      else socket.write(d);
    });
    socket.on('end', () => socket.end());
  });
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  echoPort = (echo.address() as net.AddressInfo).port;
  web = http.createServer((_req, res) => res.end('hello'));
  await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
  webPort = (web.address() as net.AddressInfo).port;
});
afterAll(async () => {
  web.closeAllConnections();
  await Promise.all([new Promise((r) => echo.close(r)), new Promise((r) => web.close(r))]);
});

async function withProxy<T>(faults: Faults, fn: (p: FaultProxy) => Promise<T>, extra: { random?: () => number; port?: number } = {}): Promise<T> {
  const proxy = await createFaultProxy({ upstream: { host: '127.0.0.1', port: extra.port ?? echoPort }, faults, random: extra.random });
  try {
    return await fn(proxy);
  } finally {
    await proxy.close();
  }
}

/** A client on the proxy: what it reads, each read, EOF, the error. */
class Client {
  readonly socket: net.Socket;
  readonly chunks: Buffer[] = [];
  eofAt: number | undefined;
  error: NodeJS.ErrnoException | undefined;
  closed = false;
  readonly connected: Promise<void>;

  constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1');
    this.connected = new Promise((resolve) => this.socket.once('connect', () => resolve()));
    this.socket.on('data', (d: Buffer) => this.chunks.push(d));
    this.socket.on('end', () => { this.eofAt = performance.now(); this.socket.end(); });
    this.socket.on('error', (err) => { this.error = err; });
    this.socket.on('close', () => { this.closed = true; });
  }

  get received(): Buffer { return Buffer.concat(this.chunks); }

  /** Sends `text`, resolves once `bytes` bytes more have come back: the time it took. */
  async roundTrip(text: string, bytes = text.length): Promise<number> {
    const start = performance.now();
    const before = this.received.length;
    this.socket.write(text);
    while (this.received.length < before + bytes) {
      if (this.error || this.closed) throw new Error(`connection ended: ${this.error?.code ?? 'closed'}`);
      await sleep(2);
    }
    return performance.now() - start;
  }

  async waitClosed(ms = 5000): Promise<void> {
    const deadline = performance.now() + ms;
    while (!this.closed && performance.now() < deadline) await sleep(5);
  }

  destroy(): void { this.socket.destroy(); }
}

describe('toxics: validation', () => {
  it('each option is checked with a Node-style typed error naming it', () => {
    expect(resolveFaults({ latency: 10, jitter: 5, bandwidth: 1000, slicer: 100, timeout: 0, down: true })).toMatchObject({
      latency: 10, jitter: 5, bandwidth: 1000, slicer: { size: 100, delayMs: 0 }, timeout: 0, down: 'refuse',
    });
    expect(resolveFaults({ down: 'refuse' }).down).toBe('refuse');
    expect(resolveFaults({ down: 'reset' }).down).toBe('reset');
    expect(resolveFaults({ slicer: { size: 10, delayMs: 3 }, down: 'drop' })).toMatchObject({ slicer: { size: 10, delayMs: 3 }, down: 'drop' });
    expect(resolveFaults({ down: false }).down).toBeNull();
    const bad: [Faults, string, string][] = [
      [{ latency: -1 }, 'ERR_OUT_OF_RANGE', 'faults.latency'],
      [{ latency: 1.5 }, 'ERR_OUT_OF_RANGE', 'faults.latency'],
      [{ jitter: '5' as never }, 'ERR_INVALID_ARG_TYPE', 'faults.jitter'],
      [{ bandwidth: 0 }, 'ERR_OUT_OF_RANGE', 'faults.bandwidth'],
      [{ slicer: 0 }, 'ERR_OUT_OF_RANGE', 'faults.slicer'],
      [{ slicer: {} as never }, 'ERR_INVALID_ARG_TYPE', 'faults.slicer.size'],
      [{ slicer: { size: 1, delayMs: -1 } }, 'ERR_OUT_OF_RANGE', 'faults.slicer.delayMs'],
      [{ slicer: { size: 1, pause: 1 } as never }, 'ERR_INVALID_ARG_VALUE', 'faults.slicer.pause'],
      [{ slicer: null as never }, 'ERR_INVALID_ARG_TYPE', 'faults.slicer'],
      [{ timeout: 2 ** 31 }, 'ERR_OUT_OF_RANGE', 'faults.timeout'],
      [{ down: 'refused' as never }, 'ERR_INVALID_ARG_VALUE', 'faults.down'],
      [{ down: true, probability: 0.5 }, 'ERR_INVALID_ARG_VALUE', 'faults.down'],
      [{ down: 1 as never }, 'ERR_INVALID_ARG_TYPE', 'faults.down'],
    ];
    for (const [faults, code, name] of bad) {
      expect(() => resolveFaults(faults), JSON.stringify(faults)).toThrow(expect.objectContaining({ code, message: expect.stringContaining(name) }));
    }
  });

  it('setFaults() validates before it changes anything', async () => {
    await withProxy({ latency: 5 }, async (p) => {
      expect(() => p.setFaults({ bandwidth: -1 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
      expect(p.faults.latency).toBe(5);
    });
  });
});

describe('toxics as the peer observes them', () => {
  it('latency: each round trip takes at least the latency; without it, far less', async () => {
    await withProxy({ latency: 200 }, async (p) => {
      const c = new Client(p.address.port);
      await c.connected;
      for (let i = 0; i < 3; i++) expect(await c.roundTrip(`ping${i}`)).toBeGreaterThanOrEqual(195);
      c.destroy();
    });
    await withProxy({}, async (p) => {
      const c = new Client(p.address.port);
      await c.connected;
      expect(await c.roundTrip('ping')).toBeLessThan(150);
      c.destroy();
    });
  });

  it('latency with direction both delays each way: a round trip takes twice the latency', async () => {
    await withProxy({ latency: 120, direction: 'both' }, async (p) => {
      const c = new Client(p.address.port);
      await c.connected;
      expect(await c.roundTrip('ping')).toBeGreaterThanOrEqual(235);
      c.destroy();
    });
  });

  it('jitter: latency ± jitter, drawn per chunk (here from the given random)', async () => {
    await withProxy({ latency: 200, jitter: 150 }, async (p) => {
      const c = new Client(p.address.port);
      await c.connected;
      expect(await c.roundTrip('low')).toBeLessThan(180); // 200 - 150
      c.destroy();
    }, { random: () => 0 });
    await withProxy({ latency: 200, jitter: 150 }, async (p) => {
      const c = new Client(p.address.port);
      await c.connected;
      expect(await c.roundTrip('high')).toBeGreaterThanOrEqual(340); // 200 + ~150
      c.destroy();
    }, { random: () => 0.999 });
  });

  it('latency: curl against an HTTP server takes at least the latency, and gets the body', async (ctx) => {
    requireTools(ctx, 'curl');
    await withProxy({ latency: 300 }, async (p) => {
      const out = await new Promise<{ code: number; stdout: string }>((resolve) => {
        execFile('curl', ['-sS', '--max-time', '5', '-w', '\n%{time_total}', `http://${p.hostPort}/`], (err, stdout) => {
          resolve({ code: err ? Number(err.code) : 0, stdout });
        });
      });
      expect(out.code).toBe(0);
      const [body, total] = out.stdout.split('\n');
      expect(body).toBe('hello');
      expect(Number(total)).toBeGreaterThanOrEqual(0.29);
    }, { port: webPort });
  });

  it('latency keeps the FIN behind the data: every byte, then EOF', async () => {
    await withProxy({ latency: 50, jitter: 40 }, async (p) => {
      const c = new Client(p.address.port);
      await c.connected;
      c.socket.write('big');
      await c.waitClosed();
      expect(c.eofAt).toBeDefined();
      expect(c.received.equals(payload)).toBe(true);
    });
  });

  it('bandwidth: 256 KiB at 512 KiB/s takes at least ~0.4 s, intact; unlimited, far less', async () => {
    const fetchBig = async (p: FaultProxy) => {
      const c = new Client(p.address.port);
      await c.connected;
      const start = performance.now();
      c.socket.write('big');
      await c.waitClosed(10_000);
      expect(c.received.equals(payload)).toBe(true);
      return performance.now() - start;
    };
    expect(await withProxy({ bandwidth: 512 * 1024 }, fetchBig)).toBeGreaterThanOrEqual(400);
    expect(await withProxy({}, fetchBig)).toBeLessThan(400);
  });

  // Seen from the sender's write queue, which only fills where the OS's socket buffers are bounded:
  // under Wine a sender's writes all leave its queue at once (not claimed for Windows).
  it.skipIf(process.platform === 'win32')('bandwidth: the proxy stops reading a fast sender instead of holding all it sends', async () => {
    const sender = net.createServer((socket) => {
      socket.on('error', () => undefined);
      socket.write(Buffer.alloc(32 << 20));
      senderSocket = socket;
    });
    let senderSocket: net.Socket | undefined;
    await new Promise<void>((resolve) => sender.listen(0, '127.0.0.1', resolve));
    try {
      await withProxy({ bandwidth: 64 * 1024 }, async (p) => {
        const c = new Client(p.address.port);
        await c.connected;
        await sleep(500);
        // Kernel buffers take a few MiB; the rest waits in the sender's own buffer.
        expect(senderSocket!.writableLength).toBeGreaterThan(16 << 20);
        c.destroy();
      }, { port: (sender.address() as net.AddressInfo).port });
    } finally {
      senderSocket?.destroy();
      await new Promise((r) => sender.close(r));
    }
  });

  // The slices leave 25 ms apart; a client whose loop is late by more than that finds two of them
  // coalesced in its kernel buffer, so the count and size are asserted for most reads, not all.
  it('slicer: one 10000-byte write reaches the client as separate reads, most of them one slice of at most 1000 bytes', async () => {
    await withProxy({ slicer: { size: 1000, delayMs: 25 } }, async (p) => {
      const c = new Client(p.address.port);
      await c.connected;
      c.socket.write('slice');
      await c.waitClosed();
      expect(c.received.equals(payload.subarray(0, 10_000))).toBe(true);
      expect(c.chunks.length).toBeGreaterThanOrEqual(7);
      const sizes = c.chunks.map((b) => b.length).sort((a, b) => a - b);
      expect(sizes[Math.floor(sizes.length / 2)]).toBeLessThanOrEqual(1000);
    });
  });

  it("down (reset): new connections are reset without reaching the upstream; a live one goes on", async () => {
    await withProxy({}, async (p) => {
      const live = new Client(p.address.port);
      await live.connected;
      expect(await live.roundTrip('before')).toBeLessThan(1000);
      await (async () => { while (p.active < 1) await sleep(2); })();
      const accepted = echoAccepted;
      void p.setFaults({ down: 'reset' });
      const fresh = new Client(p.address.port);
      await fresh.waitClosed();
      expect(isConnectionReset(fresh.error)).toBe(true);
      expect(echoAccepted).toBe(accepted);
      expect(await live.roundTrip('after')).toBeLessThan(1000);
      live.destroy();
      expect((await p.nextReport()).actions).toEqual([]);
      const r = await p.nextReport();
      expect(r).toMatchObject({ id: 2, actions: [expect.objectContaining({ fault: 'down' })], upstream: { connected: false }, client: { closedWith: 'reset' } });
    });
  });

  it('down (drop): a new connection is accepted and never answered; the upstream never sees it', async () => {
    await withProxy({ down: 'drop' }, async (p) => {
      const accepted = echoAccepted;
      const c = new Client(p.address.port);
      await c.connected;
      c.socket.write('anyone?');
      await sleep(300);
      expect(c.received.length).toBe(0);
      expect(c.closed).toBe(false);
      expect(echoAccepted).toBe(accepted);
      c.socket.end();
      const r = await p.nextReport();
      expect(r).toMatchObject({ bytes: { up: 0, down: 0 }, upstream: { connected: false }, client: { ended: 'fin', bytesRead: 7 } });
    });
  });

  it("down (drop) with idleTimeout: the unanswered connection is closed once idle that long", async () => {
    const proxy = await createFaultProxy({ upstream: { host: '127.0.0.1', port: echoPort }, faults: { down: 'drop' }, idleTimeout: 150 });
    try {
      const c = new Client(proxy.address.port);
      await c.connected;
      await c.waitClosed();
      expect(c.closed).toBe(true);
      expect(await proxy.nextReport()).toMatchObject({ stopped: 'idle-timeout', client: { closedWith: 'destroy' } });
    } finally {
      await proxy.close();
    }
  });

  it('timeout: no byte passes, then both sides are closed after T ms (the client reads EOF)', async () => {
    await withProxy({ timeout: 250 }, async (p) => {
      const c = new Client(p.address.port);
      await c.connected;
      const start = performance.now();
      c.socket.write('hello?');
      await c.waitClosed();
      expect(c.received.length).toBe(0);
      expect(c.eofAt! - start).toBeGreaterThanOrEqual(200);
      expect((await p.nextReport()).actions.map((a) => a.fault)).toEqual(['timeout']);
    });
  });

  it('timeout 0: no byte passes, and the connection stays open', async () => {
    await withProxy({ timeout: 0 }, async (p) => {
      const c = new Client(p.address.port);
      await c.connected;
      c.socket.write('hello?');
      await sleep(300);
      expect(c.received.length).toBe(0);
      expect(c.closed).toBe(false);
      c.destroy();
    });
  });
});

describe('toxics on live connections', () => {
  it('latency set, then cleared, on a connection already open', async () => {
    await withProxy({}, async (p) => {
      const c = new Client(p.address.port);
      await c.connected;
      expect(await c.roundTrip('a')).toBeLessThan(150);
      p.setFaults({ latency: 250 });
      expect(await c.roundTrip('b')).toBeGreaterThanOrEqual(245);
      p.setFaults({});
      expect(await c.roundTrip('c')).toBeLessThan(150);
      c.destroy();
    });
  });

  it('bandwidth set on a live connection slows what it reads from then on', async () => {
    await withProxy({}, async (p) => {
      const c = new Client(p.address.port);
      await c.connected;
      await c.roundTrip('x');
      p.setFaults({ bandwidth: 512 * 1024 });
      const start = performance.now();
      c.socket.write('big');
      await c.waitClosed(10_000);
      expect(performance.now() - start).toBeGreaterThanOrEqual(400);
      expect(c.received.subarray(1).equals(payload)).toBe(true);
    });
  });

  it('timeout set on a live connection stops its data and closes it after T ms', async () => {
    await withProxy({}, async (p) => {
      const c = new Client(p.address.port);
      await c.connected;
      await c.roundTrip('x');
      const start = performance.now();
      p.setFaults({ timeout: 200 });
      c.socket.write('lost');
      await c.waitClosed();
      expect(c.received.toString()).toBe('x');
      expect(c.eofAt! - start).toBeGreaterThanOrEqual(190);
    });
  });

  it('a live connection gets new toxics only if it wins a new draw', async () => {
    await withProxy({}, async (p) => {
      const c = new Client(p.address.port);
      await c.connected;
      p.setFaults({ latency: 300, probability: 0.5 });
      expect(await c.roundTrip('spared')).toBeLessThan(150);
      c.destroy();
    }, { random: () => 0.9 });
  });
});

/** What each real client makes of GET http://hostPort/: 'refused' (ECONNREFUSED), the body, or what else it said. */
async function realClients(hostPort: string, withCurl: boolean): Promise<Record<string, string>> {
  const url = `http://${hostPort}/`;
  const nodeHttp = new Promise<string>((resolve) => {
    http.get(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => { body += d; }).on('end', () => resolve(body));
    }).on('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED' ? 'refused' : String(err.code)));
  });
  const viaFetch = fetch(url, { headers: { connection: 'close' } }).then((r) => r.text(), (err: { cause?: { code?: string } }) =>
    err.cause?.code === 'ECONNREFUSED' ? 'refused' : String(err.cause?.code ?? err));
  const viaUndici = undiciRequest(url, { reset: true }).then((r) => r.body.text(), (err: NodeJS.ErrnoException) =>
    err.code === 'ECONNREFUSED' ? 'refused' : String(err.code ?? err));
  const python = new Promise<string>((resolve) => {
    const script = [
      'import sys, urllib.request, urllib.error',
      'try:',
      '    print(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode(), end="")',
      'except urllib.error.URLError as e:',
      '    print("refused" if isinstance(e.reason, ConnectionRefusedError) else repr(e.reason), end="")',
    ].join('\n');
    execFile('python3', ['-c', script, url], (_err, stdout) => resolve(stdout));
  });
  const curl = !withCurl ? Promise.resolve('not run') : new Promise<string>((resolve) => {
    execFile('curl', ['-sSv', '--max-time', '10', url], (err, stdout, stderr) => {
      // curl's exit code 7 is "failed to connect"; its verbose lines name the refusal.
      if ((err as { code?: number } | null)?.code === 7 && /Connection refused/.test(stderr)) resolve('refused');
      else resolve(err ? stderr.trim().split('\n').pop()! : stdout);
    });
  });
  const [h, f, u, p, c] = await Promise.all([nodeHttp, viaFetch, viaUndici, python, curl]);
  return { http: h, fetch: f, undici: u, python: p, curl: c };
}

/** One keep-alive HTTP/1.1 connection through the proxy: each get() is a request on it. */
class KeepAlive {
  private readonly client: Client;
  constructor(port: number) { this.client = new Client(port); }
  async get(): Promise<string> {
    await this.client.connected;
    const before = this.client.received.length;
    this.client.socket.write('GET / HTTP/1.1\r\nHost: proxy\r\n\r\n');
    const deadline = performance.now() + 5000;
    while (!this.client.received.subarray(before).toString().endsWith('hello') && performance.now() < deadline) await sleep(5);
    return this.client.received.subarray(before).toString().split('\r\n\r\n')[1] ?? '';
  }
  destroy(): void { this.client.destroy(); }
}

describe("down (refuse), as toxiproxy's disabled proxy: the listener is closed, real clients are refused", () => {
  it('curl, Node http, fetch, undici and Python urllib get ECONNREFUSED while down; a live connection goes on; back up on the same port, they all get through', async (ctx) => {
    const withCurl = !missingTools('curl');
    if (!withCurl) requireTools(ctx, 'curl');
    await withProxy({}, async (p) => {
      const port = p.address.port;
      const live = new KeepAlive(port);
      expect(await live.get()).toBe('hello');
      expect(await realClients(p.hostPort, withCurl)).toEqual({ http: 'hello', fetch: 'hello', undici: 'hello', python: 'hello', curl: withCurl ? 'hello' : 'not run' });
      const served = p.reportCount;

      await p.setFaults({ down: true });
      expect(p.listening).toBe(false);
      expect(await realClients(p.hostPort, withCurl)).toEqual({ http: 'refused', fetch: 'refused', undici: 'refused', python: 'refused', curl: withCurl ? 'refused' : 'not run' });
      expect(await live.get()).toBe('hello'); // accepted before: not the listener's, it goes on
      expect(p.reportCount).toBe(served); // a refused connect never reached the proxy: no report

      await p.setFaults({});
      expect(p.listening).toBe(true);
      expect(p.address.port).toBe(port);
      expect(await realClients(p.hostPort, withCurl)).toEqual({ http: 'hello', fetch: 'hello', undici: 'hello', python: 'hello', curl: withCurl ? 'hello' : 'not run' });
      expect(await live.get()).toBe('hello');
      live.destroy();
    }, { port: webPort });
  });

  it('a connect right after setFaults({ down: true }) returns is refused, without awaiting it', async () => {
    await withProxy({}, async (p) => {
      void p.setFaults({ down: true });
      const c = new Client(p.address.port);
      await c.waitClosed();
      expect(c.error?.code).toBe('ECONNREFUSED');
    });
  });

  it('a proxy created down listens only to learn its port, and opens there once up', async () => {
    await withProxy({ down: 'refuse' }, async (p) => {
      expect(p.listening).toBe(false);
      expect(p.address.port).toBeGreaterThan(0);
      const c = new Client(p.address.port);
      await c.waitClosed();
      expect(c.error?.code).toBe('ECONNREFUSED');
      await p.setFaults({ latency: 0 });
      expect(p.listening).toBe(true);
      const d = new Client(p.address.port);
      expect(await d.roundTrip('up again')).toBeLessThan(5000);
      d.destroy();
    });
  });

  it('when another program took the port meanwhile, setFaults() rejects with EADDRINUSE (ignored: a warning, no unhandled rejection), and a later one retries', async () => {
    await withProxy({ down: true }, async (p) => {
      const squatter = net.createServer();
      await new Promise<void>((resolve) => squatter.listen(p.address.port, '127.0.0.1', resolve));
      try {
        await expect(p.setFaults({})).rejects.toMatchObject({ code: 'EADDRINUSE' });
        expect(p.listening).toBe(false);
        const warned = new Promise<Error>((resolve) => {
          const onWarning = (w: Error) => {
            if ((w as { code?: string }).code !== 'NET_LINGER_PROXY_LISTEN') return;
            process.off('warning', onWarning);
            resolve(w);
          };
          process.on('warning', onWarning);
        });
        void p.setFaults({});
        expect((await warned).message).toContain('EADDRINUSE');
      } finally {
        await new Promise((resolve) => squatter.close(resolve));
      }
      await p.setFaults({});
      expect(p.listening).toBe(true);
    });
  });

  it('close() while down, and while the listener is being opened again, resolves and leaves nothing listening', async () => {
    const down = await createFaultProxy({ upstream: { host: '127.0.0.1', port: echoPort }, faults: { down: true } });
    await down.close();
    const reopening = await createFaultProxy({ upstream: { host: '127.0.0.1', port: echoPort }, faults: { down: true } });
    const port = reopening.address.port;
    const up = reopening.setFaults({});
    await reopening.close();
    await up;
    expect(reopening.listening).toBe(false);
    const c = new Client(port);
    await c.waitClosed();
    expect(c.error?.code).toBe('ECONNREFUSED');
  });
});
