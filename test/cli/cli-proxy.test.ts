// `net-linger proxy` as users run it: a child process, its stdout lines, its exit code; Python
// and curl as the clients. Forks pool only: the CLI runs in its own process either way.
import { execFile, spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import { describe, expect, it } from 'vitest';
import { peersAvailable, pythonClient, pythonServer } from '../support/peers';
import { requireTools } from '../support/tools';

const cli = path.resolve(__dirname, '..', '..', 'dist', 'cjs', 'cli', 'main.js');

interface Running {
  address: string;
  port: number;
  /** The next stdout line. */
  line(): Promise<string>;
  stop(signal: NodeJS.Signals): Promise<{ code: number | null; rest: string[] }>;
}

async function startProxy(args: string[]): Promise<Running> {
  const child = spawn(process.execPath, [cli, 'proxy', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = readline.createInterface({ input: child.stdout });
  const queue: string[] = [];
  const waiting: ((line: string) => void)[] = [];
  lines.on('line', (l) => { const w = waiting.shift(); if (w) w(l); else queue.push(l); });
  const line = () => new Promise<string>((resolve) => { const l = queue.shift(); if (l !== undefined) resolve(l); else waiting.push(resolve); });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const first = await line();
  const m = /^listening on (.+):(\d+)$/.exec(first);
  if (!m) throw new Error(`unexpected first line: ${first}`);
  return {
    address: m[1], port: Number(m[2]), line,
    async stop(signal) {
      child.kill(signal);
      const code = await exited;
      return { code, rest: queue.splice(0) };
    },
  };
}

function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, 'proxy', ...args], (err, stdout, stderr) => {
      resolve({ code: err ? Number(err.code) : 0, stdout, stderr });
    });
  });
}

describe.skipIf(!peersAvailable)('net-linger proxy', () => {
  it('with no fault, a Python client that sends 1 MB then half-closes reads the Python server\'s full reply and EOF', async () => {
    const server = await pythonServer('server-count', '127.0.0.1');
    const proxy = await startProxy(['--listen', '127.0.0.1:0', '--upstream', `127.0.0.1:${server.port}`, '--json']);
    expect(proxy.address).toBe('127.0.0.1');
    const client = await pythonClient('client-upload', '127.0.0.1', proxy.port, 1 << 20);
    expect(client.ended).toBe('eof');
    expect(client.reply).toBe(`${1 << 20} ${client.sha256}`);
    expect(await server.result).toEqual({ received: 1 << 20, ended: 'eof' });
    const report = JSON.parse(await proxy.line());
    expect(report).toMatchObject({
      id: 1, bytes: { up: 1 << 20 }, first: 'client', faults: null,
      client: { ended: 'fin', closedWith: 'fin' }, upstream: { connected: true, ended: 'fin', closedWith: 'fin' },
    });
    expect(await proxy.stop('SIGINT')).toEqual({ code: 0, rest: [] });
  });

  it('an upstream reset reaches the client as ECONNRESET; SIGTERM stops it with exit 0', async () => {
    const server = await pythonServer('server-reset', '127.0.0.1', 500);
    const proxy = await startProxy(['--upstream', `127.0.0.1:${server.port}`]);
    expect(await pythonClient('client-read', '127.0.0.1', proxy.port, 0)).toEqual({ received: 500, ended: 'ECONNRESET' });
    expect(await proxy.line()).toMatch(/^#1 127\.0\.0\.1:\d+: up 0 B, down 500 B; client open until the proxy closed it, got RST; upstream reset \(ECONNRESET\)$/);
    expect((await proxy.stop('SIGTERM')).code).toBe(0);
  });

  it('--reset-after: curl reports "Connection reset by peer" (exit 56), the JSON line says what was done', async (ctx) => {
    requireTools(ctx, 'curl');
    const server = await pythonServer('server-answer', '::1', 50_000);
    const proxy = await startProxy(['--listen', '[::1]:0', '--upstream', `[::1]:${server.port}`, '--reset-after', '2000', '--json']);
    expect(proxy.address).toBe('[::1]');
    const curl = await new Promise<{ code: number; stderr: string }>((resolve) => {
      // The upstream speaks no HTTP: --http0.9 lets curl take its bytes as the body.
      execFile('curl', ['-sS', '--http0.9', '-o', '/dev/null', '--max-time', '5', `http://[::1]:${proxy.port}/`], (err, _out, stderr) => {
        resolve({ code: err ? Number(err.code) : 0, stderr });
      });
    });
    expect(curl.code).toBe(56);
    expect(curl.stderr).toContain('Connection reset by peer');
    const report = JSON.parse(await proxy.line());
    expect(report.actions).toEqual([expect.objectContaining({ fault: 'reset-after', direction: 'down', atBytes: 2000 })]);
    expect(report.bytes.down).toBe(2000);
    await proxy.stop('SIGINT');
  });

  it('once the reader of its stdout has gone (EPIPE), it stops printing and keeps relaying', async () => {
    const echo = net.createServer((socket) => {
      socket.on('error', () => undefined);
      socket.pipe(socket);
    });
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    const echoPort = (echo.address() as net.AddressInfo).port;
    // '--' ends the options: nothing follows, and the proxy starts.
    const child = spawn(process.execPath, [cli, 'proxy', '--upstream', `127.0.0.1:${echoPort}`, '--'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const first = await new Promise<string>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(d.toString())));
      const port = Number(/^listening on 127\.0\.0\.1:(\d+)/.exec(first)?.[1]);
      child.stdout.destroy(); // whoever read the listening line is gone
      const roundTrip = (text: string) => new Promise<string>((resolve, reject) => {
        const socket = net.connect(port, '127.0.0.1');
        let got = '';
        socket.on('data', (d: Buffer) => {
          got += d.toString();
          if (got.length >= text.length) socket.end();
        });
        socket.on('close', () => resolve(got));
        socket.on('error', reject);
        socket.write(text);
      });
      // A connection held open across the failed report.
      const held = net.connect(port, '127.0.0.1');
      held.on('error', () => undefined);
      await new Promise((resolve) => held.once('connect', resolve));
      // The first connection's report line meets the closed pipe; the proxy must live on.
      expect(await roundTrip('one')).toBe('one');
      await new Promise((r) => setTimeout(r, 300));
      const echoed = new Promise<string>((resolve) => held.once('data', (d: Buffer) => resolve(d.toString())));
      held.write('held');
      expect(await echoed).toBe('held');
      held.end();
      expect(await roundTrip('two')).toBe('two');
      expect(await roundTrip('three')).toBe('three');
      expect(child.exitCode).toBeNull();
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(stderr).toBe('');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await new Promise((resolve) => echo.close(resolve));
    }
  });

  it('bad flags, addresses, and a port it cannot listen on exit 2 with a message', async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const takenPort = (taken.address() as net.AddressInfo).port;
    const cases: [string[], RegExp][] = [
      [[], /--upstream HOST:PORT is required/],
      [['--upstream', 'localhost'], /--upstream must be HOST:PORT/],
      [['--upstream', '127.0.0.1:70000'], /port must be 1-65535/],
      [['--upstream', '127.0.0.1:80', '--listen', 'x:y'], /--listen must be HOST:PORT/],
      [['--upstream', '127.0.0.1:80', '--reset-after', 'ten'], /--reset-after needs a whole number/],
      [['--upstream', '127.0.0.1:80', '--reset-after', '-5'], /--reset-after is out of range: "-5"/],
      [['--upstream', '127.0.0.1:80', '--reset-after=-5'], /--reset-after is out of range: "-5"/],
      [['--upstream', '127.0.0.1:80', '--', 'extra'], /unexpected argument "extra"/],
      [['--upstream', '127.0.0.1:80', '--limit-data'], /--limit-data needs a value/],
      [['--upstream', '127.0.0.1:80', '--direction', 'sideways'], /--direction must be up, down or both/],
      [['--upstream', '127.0.0.1:80', '--probability', '1.5'], /--probability must be a number from 0 to 1/],
      [['--upstream', '127.0.0.1:80', '--frobnicate'], /unknown option --frobnicate/],
      [['--upstream', '127.0.0.1:80', '--listen', `127.0.0.1:${takenPort}`], /cannot listen on 127\.0\.0\.1:\d+: EADDRINUSE/],
    ];
    const results = await Promise.all(cases.map(([args]) => runCli(args)));
    results.forEach((r, i) => {
      expect(r.code, cases[i][0].join(' ')).toBe(2);
      expect(r.stderr).toMatch(cases[i][1]);
      expect(r.stdout).toBe('');
    });
    taken.close();
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: net-linger proxy');
  });
});
