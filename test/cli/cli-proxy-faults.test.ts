// `net-linger proxy` with the faults added beside toxiproxy's: a child process, a Node server
// upstream, Node's own clients. Forks pool only: the CLI runs in its own process.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import path from 'node:path';
import readline from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const cli = path.resolve(__dirname, '..', '..', 'dist', 'cjs', 'cli', 'main.js');
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

let server: http.Server;
let upstream: number;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.end(req.url === '/big' ? Buffer.alloc(20_000, 0x61) : 'hello'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  upstream = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

/** Starts `net-linger proxy ... --json`; runs fn with its port; returns the report lines. */
async function withCli(args: string[], fn: (port: number, child: ChildProcess) => Promise<void>): Promise<Record<string, unknown>[]> {
  const child = spawn(process.execPath, [cli, 'proxy', '--upstream', `127.0.0.1:${upstream}`, '--json', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const lines: string[] = [];
  const rl = readline.createInterface({ input: child.stdout });
  const first = new Promise<string>((resolve) => rl.once('line', resolve));
  try {
    const m = /^listening on 127\.0\.0\.1:(\d+)$/.exec(await first);
    expect(m).not.toBeNull();
    rl.on('line', (l) => lines.push(l));
    await fn(Number(m![1]), child);
    await sleep(100);
  } finally {
    child.kill('SIGTERM');
  }
  // SIGTERM ends it with exit 0 where a process can catch it; Windows terminates it outright.
  expect(await exited).toBe(process.platform === 'win32' ? null : 0);
  return lines.map((l) => JSON.parse(l) as Record<string, unknown>);
}

function get(port: number, agent: http.Agent): Promise<{ status?: number; code?: string; reused: boolean }> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, reused: req.reusedSocket }));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ code: err.code, reused: req.reusedSocket }));
  });
}

describe('net-linger proxy: the faults beside toxiproxy', () => {
  it("--keepalive-race MS: Node's keep-alive Agent gets ECONNRESET on the reused socket", async () => {
    const reports = await withCli(['--keepalive-race', '50'], async (port) => {
      const agent = new http.Agent({ keepAlive: true });
      try {
        expect(await get(port, agent)).toEqual({ status: 200, reused: false });
        await sleep(120);
        expect(await get(port, agent)).toEqual({ code: 'ECONNRESET', reused: true });
      } finally {
        agent.destroy();
      }
    });
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({ actions: [expect.objectContaining({ fault: 'keepalive-race', direction: 'down' })], client: { closedWith: 'reset' } });
  });

  it('--latency MS: a request takes at least MS ms; the JSON line has the fault', async () => {
    const reports = await withCli(['--latency', '250'], async (port) => {
      const agent = new http.Agent();
      const start = performance.now();
      expect(await get(port, agent)).toEqual({ status: 200, reused: false });
      expect(performance.now() - start).toBeGreaterThanOrEqual(245);
    });
    expect(reports[0]).toMatchObject({ faults: { latency: 250 } });
  });

  it('--slice N --slice-delay MS: a 20 kB body reaches the client in many reads, one slice of at most N bytes each unless the client read late', async () => {
    // 20 ms apart: a client whose loop is late by less than that still reads one slice at a time
    // (a later read would find several slices coalesced in the kernel's buffer).
    await withCli(['--slice', '1000', '--slice-delay', '20'], async (port) => {
      const reads: number[] = [];
      await new Promise<void>((resolve) => {
        http.get({ host: '127.0.0.1', port, path: '/big' }, (res) => {
          res.on('data', (d: Buffer) => reads.push(d.length));
          res.on('end', () => resolve());
        });
      });
      expect(reads.reduce((a, b) => a + b, 0)).toBe(20_000);
      expect(reads.length).toBeGreaterThanOrEqual(10);
      // Most reads are one slice; one that came late may hold two or three.
      expect([...reads].sort((a, b) => a - b)[Math.floor(reads.length / 2)]).toBeLessThanOrEqual(1000);
    });
  });

  it('--bandwidth B: 20 kB at 40 kB/s takes at least ~0.4 s', async () => {
    await withCli(['--bandwidth', '40000'], async (port) => {
      const start = performance.now();
      await new Promise<void>((resolve) => {
        http.get({ host: '127.0.0.1', port, path: '/big' }, (res) => {
          res.resume();
          res.on('end', () => resolve());
        });
      });
      expect(performance.now() - start).toBeGreaterThanOrEqual(400);
    });
  });

  it('--down=reset: a new connection is reset at once (ECONNRESET), the upstream never contacted', async () => {
    const reports = await withCli(['--down=reset'], async (port) => {
      expect(await get(port, new http.Agent())).toMatchObject({ code: 'ECONNRESET' });
    });
    expect(reports[0]).toMatchObject({ actions: [expect.objectContaining({ fault: 'down' })], upstream: { connected: false } });
  });

  it('--down: the listener is closed, a connect is refused (ECONNREFUSED), and no connection is reported; the proxy runs on until stopped', async () => {
    const reports = await withCli(['--down'], async (port, child) => {
      expect(await get(port, new http.Agent())).toMatchObject({ code: 'ECONNREFUSED' });
      await sleep(300);
      expect(child.exitCode).toBeNull();
    });
    expect(reports).toEqual([]);
  });

  it('--timeout MS: no byte comes back, and the connection is closed after MS ms', async () => {
    await withCli(['--timeout', '200'], async (port) => {
      const socket = net.connect(port, '127.0.0.1');
      let received = 0;
      socket.on('data', (d: Buffer) => { received += d.length; });
      const start = performance.now();
      socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      await new Promise((resolve) => socket.on('close', resolve));
      expect(received).toBe(0);
      expect(performance.now() - start).toBeGreaterThanOrEqual(190);
    });
  });

  it('bad toxic flags exit 2 with a message', async () => {
    const cases: [string[], RegExp][] = [
      [['--latency', '-1'], /--latency is out of range/],
      [['--bandwidth', '0'], /--bandwidth is out of range/],
      [['--slice', 'x'], /--slice needs a whole number/],
      [['--slice-delay', '5'], /--slice-delay needs --slice/],
      [['--down=maybe'], /--down must be/],
      [['--keepalive-race', 'soon'], /--keepalive-race needs a whole number/],
    ];
    const results = await Promise.all(cases.map(([args]) => new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(process.execPath, [cli, 'proxy', '--upstream', '127.0.0.1:80', ...args], (err, _out, stderr) => {
        resolve({ code: err ? Number(err.code) : 0, stderr });
      });
    })));
    results.forEach((r, i) => {
      expect(r.code, cases[i][0].join(' ')).toBe(2);
      expect(r.stderr).toMatch(cases[i][1]);
    });
  });

  it('--match-request N with --reset-after 0: the Nth request on a connection is reset before its response', async () => {
    const reports = await withCli(['--match-request', '2', '--reset-after', '0'], async (port) => {
      const agent = new http.Agent({ keepAlive: true });
      try {
        expect(await get(port, agent)).toEqual({ status: 200, reused: false });
        expect(await get(port, agent)).toEqual({ code: 'ECONNRESET', reused: true });
      } finally {
        agent.destroy();
      }
    });
    expect(reports[0]).toMatchObject({ actions: [expect.objectContaining({ fault: 'reset-after', request: 2 })], faults: { match: { request: 2 } } });
  });

  it('--match-* without a fault to gate, or with a bad value, exits 2', async () => {
    const run = (args: string[]) => new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(process.execPath, [cli, 'proxy', '--upstream', '127.0.0.1:80', ...args], (err, _out, stderr) => resolve({ code: err ? Number(err.code) : 0, stderr }));
    });
    const none = await run(['--match-method', 'POST']);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/needs a fault to apply/);
    const zero = await run(['--match-request', '0', '--reset-after', '0']);
    expect(zero.code).toBe(2);
    expect(zero.stderr).toMatch(/--match-request is out of range/);
  });
});
