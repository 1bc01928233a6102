// net-linger probe against servers nobody here wrote the close of: Node's own http server,
// a Python socket server, nginx; as users run it (the CLI: exit code, JSON, stderr) and as an API.
// Everything listens on 127.0.0.1 and is started and stopped by this file.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { getEventListeners } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { classifyConnectionError, gracefulClose } from '../../src/index';
import { enableLingeringClose } from '../../src/http/index';
import { probeServer, type ProbeProgress, type ProbeReport } from '../../src/testing/index';
import { until } from '../support/helpers';
import { requireTools, toolPath } from '../support/tools';

const root = path.resolve(__dirname, '..', '..');
const cli = path.join(root, 'dist', 'cjs', 'cli', 'main.js');
const fixture = (name: string) => path.join(__dirname, '..', 'fixtures', name);
const linux = process.platform === 'linux';

interface Run { code: number; stdout: string; stderr: string }

function run(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    // Colour as on a plain pipe, whatever the runner's environment says (FORCE_COLOR would colour the verdict).
    const env = { ...process.env, FORCE_COLOR: undefined, NO_COLOR: undefined };
    execFile(process.execPath, [cli, 'probe', ...args], { cwd: root, env, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

async function probeJson(args: string[]): Promise<{ code: number; report: ProbeReport; stderr: string }> {
  const result = await run([...args, '--json']);
  let report: ProbeReport;
  try {
    report = JSON.parse(result.stdout) as ProbeReport;
  } catch {
    throw new Error(`not JSON (exit ${result.code}): ${result.stdout}\n${result.stderr}`);
  }
  return { code: result.code, report, stderr: result.stderr };
}

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)));
}

function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => {
    (server as http.Server).closeAllConnections?.();
    server.close(() => resolve());
  });
}

/** Node's default http server answering 413 + Connection: close before reading the body: what frameworks do. */
function tooLargeNodeServer(): http.Server {
  return http.createServer((req, res) => {
    res.writeHead(413, { connection: 'close', 'content-type': 'text/plain' });
    res.end('request body too large\n');
  });
}

/** The Python fixture that closes with unread data; resolves to its port. */
async function pythonServer(mode: 'http' | 'tcp'): Promise<{ port: number; stop: () => Promise<void> }> {
  const child = spawn('python3', [fixture('close-unread-server.py'), mode], { stdio: ['pipe', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(Number(out.trim()));
    });
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`python3 exited ${code}`)));
  });
  return {
    port,
    stop: async () => {
      child.stdin.end();
      if (child.exitCode === null) await new Promise((resolve) => child.once('exit', resolve));
    },
  };
}

// ---- nginx, started here with its own prefix and config ------------------------------------
const nginxBinary = () => toolPath('nginx');
// nginx is not under test: it runs without a sanitizer runtime the suite may have preloaded (test:asan).
const { LD_PRELOAD: _preload, ...envWithoutPreload } = process.env;

async function freePort(): Promise<number> {
  const server = net.createServer();
  const port = await listen(server);
  await closeServer(server);
  return port;
}

async function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}

interface Nginx { port: number; dir: string; child: ChildProcess; stop(): Promise<void> }

async function startNginx(): Promise<Nginx> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'net-linger-nginx-'));
  fs.mkdirSync(path.join(dir, 'logs'));
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const conf = `daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log info;
events { worker_connections 64; }
http {
  access_log ${dir}/logs/access.log;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  client_max_body_size 1m;
  lingering_close on;
  server {
    listen 127.0.0.1:${port};
    location / { return 200 "ok\\n"; }
  }
}
`;
    fs.writeFileSync(path.join(dir, 'nginx.conf'), conf);
    const child = spawn(nginxBinary()!, ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', path.join(dir, 'logs', 'error.log')], { stdio: 'ignore', env: envWithoutPreload });
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && child.exitCode === null && !(await canConnect(port))) await new Promise((r) => setTimeout(r, 50));
    if (child.exitCode === null && (await canConnect(port))) {
      return {
        port, dir, child,
        stop: async () => {
          if (child.exitCode === null) {
            const exited = new Promise((resolve) => child.once('exit', resolve));
            child.kill('SIGTERM');
            await exited;
          }
          fs.rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    child.kill('SIGKILL');
    if (attempt >= 2) {
      const log = fs.readFileSync(path.join(dir, 'logs', 'error.log'), 'utf8');
      throw new Error(`nginx did not start: ${log}`);
    }
  }
}

// The probe runs a child process per case, and nginx and Python are processes too: once, in the
// forks project. Behaviour observed on Linux; the CLI's usage checks hold everywhere.
describe('net-linger probe', () => {
  describe.skipIf(!linux)('servers that reset an upload they refuse: exit 1', () => {
    it("Node's default http server answering 413 with Connection: close before reading the body", async () => {
      const server = tooLargeNodeServer();
      const port = await listen(server);
      try {
        const { code, report } = await probeJson([`http://127.0.0.1:${port}/upload`]);
        const seen = JSON.stringify(report);
        expect(code, seen).toBe(1);
        expect(report, seen).toMatchObject({ verdict: 'reset', serverClose: 'reset', uploadComplete: false });
        expect(['ECONNRESET', 'EPIPE'], seen).toContain(report.error?.code);
        expect(report.acknowledgedBytes, seen).toBeLessThan(report.size);
        expect(report.advice).toContain('enableLingeringClose');
        // Reading while sending, the probe gets the answer; whether it got it before the RST is a race it reports, not one it asserts.
        if (report.response) expect(report.response.status, seen).toBe(413);
        // The human form says the same.
        const text = await run([`http://127.0.0.1:${port}/upload`]);
        expect(text.code, text.stdout).toBe(1);
        expect(text.stdout).toMatch(/server close +RST/);
        expect(text.stdout).toMatch(/verdict +RESET/);
        expect(text.stdout.split('\n').every((line) => line.length <= 100), text.stdout).toBe(true);
      } finally {
        await closeServer(server);
      }
    });

    it('a Python socket server that answers 413 and closes with the body unread', async () => {
      const py = await pythonServer('http');
      try {
        const { code, report } = await probeJson([`http://127.0.0.1:${py.port}/upload`, '--size', '8m']);
        expect(code, JSON.stringify(report)).toBe(1);
        expect(report.verdict).toBe('reset');
        expect(report.serverClose).toBe('reset');
        expect(report.acknowledgedBytes).toBeLessThan(8 * 2 ** 20);
      } finally {
        await py.stop();
      }
    });

    it('raw TCP: a Python server that reads 1000 bytes and closes', async () => {
      const py = await pythonServer('tcp');
      try {
        const { code, report } = await probeJson([`127.0.0.1:${py.port}`, '--size', '4m']);
        expect(code, JSON.stringify(report)).toBe(1);
        expect(report.target.kind).toBe('tcp');
        expect(report.verdict).toBe('reset');
        expect(report.serverClose).toBe('reset');
        expect(report.acknowledgedBytes).toBeGreaterThanOrEqual(1000);
        expect(report.acknowledgedBytes).toBeLessThan(4 * 2 ** 20);
        expect(report.response).toBeNull();
      } finally {
        await py.stop();
      }
    });
  });

  describe.skipIf(!linux)('servers that close cleanly: exit 0', () => {
    it('the same Node server with enableLingeringClose: 413 read whole, FIN, no reset', async () => {
      const server = tooLargeNodeServer();
      const lingering = enableLingeringClose(server);
      const port = await listen(server);
      try {
        const { code, report } = await probeJson([`http://127.0.0.1:${port}/upload`]);
        const seen = JSON.stringify(report);
        expect(code, seen).toBe(0);
        expect(report, seen).toMatchObject({ verdict: 'clean', serverClose: 'fin', error: null, advice: null });
        expect(report.response, seen).toMatchObject({ status: 413, complete: true });
        const text = await run([`http://127.0.0.1:${port}/upload`, '--chunked']);
        expect(text.code, text.stdout).toBe(0);
        expect(text.stdout).toMatch(/server close +FIN/);
        expect(text.stdout).toMatch(/verdict +CLEAN/);
      } finally {
        lingering.disable();
        await closeServer(server);
      }
    });

    it('nginx with lingering_close on and client_max_body_size 1m: 413, FIN, no reset', async (ctx) => {
      requireTools(ctx, 'nginx');
      const nginx = await startNginx();
      try {
        const { code, report } = await probeJson([`http://127.0.0.1:${nginx.port}/upload`]);
        expect(code, JSON.stringify(report)).toBe(0);
        expect(report.verdict).toBe('clean');
        expect(report.serverClose).toBe('fin');
        expect(report.error).toBeNull();
        expect(report.response).toMatchObject({ status: 413, complete: true });
        expect(report.advice).toBeNull();
        // Under the limit nginx reads the body and answers 200; the probe then closes its side.
        const small = await probeJson([`http://127.0.0.1:${nginx.port}/upload`, '--size', '100k']);
        expect(small.code, JSON.stringify(small.report)).toBe(0);
        expect(small.report.response).toMatchObject({ status: 200, complete: true });
        expect(small.report.acknowledgedBytes).toBe(100 * 1024);
      } finally {
        await nginx.stop();
      }
    });

    it('Node http server that reads the whole chunked upload before answering 200', async () => {
      const server = http.createServer((req, res) => {
        let got = 0;
        req.on('data', (d: Buffer) => { got += d.length; });
        req.on('end', () => res.end(`got ${got}\n`));
      });
      const port = await listen(server);
      try {
        const { code, report } = await probeJson([`http://127.0.0.1:${port}/`, '--size', '3m', '--chunked']);
        expect(code, JSON.stringify(report)).toBe(0);
        expect(report.verdict).toBe('clean');
        expect(report.response).toMatchObject({ status: 200, complete: true, bodyBytes: `got ${3 * 2 ** 20}\n`.length });
        expect(report.uploadComplete).toBe(true);
        expect(report.acknowledgedBytes).toBe(3 * 2 ** 20);
      } finally {
        await closeServer(server);
      }
    });

    it('raw TCP: a server that stops early with gracefulClose (FIN, then drains): FIN, no reset', async () => {
      const server = net.createServer((socket) => {
        socket.on('error', () => undefined);
        let got = 0;
        const onData = (d: Buffer) => {
          got += d.length;
          if (got < 100_000) return;
          socket.off('data', onData);
          void gracefulClose(socket, { lingeringTimeout: 5000 });
        };
        socket.on('data', onData);
      });
      const port = await listen(server);
      try {
        const { code, report } = await probeJson([`127.0.0.1:${port}`, '--size', '16m']);
        expect(code, JSON.stringify(report)).toBe(0);
        expect(report.verdict).toBe('clean');
        expect(report.serverClose).toBe('fin');
      } finally {
        await closeServer(server);
      }
    });

    it('raw TCP: a server that reads everything and answers our FIN with its own', async () => {
      let total = 0;
      const server = net.createServer((socket) => {
        socket.on('data', (d: Buffer) => { total += d.length; });
        socket.on('error', () => undefined);
      });
      const port = await listen(server);
      try {
        const { code, report } = await probeJson([`tcp://127.0.0.1:${port}`, '--size', '2m']);
        expect(code, JSON.stringify(report)).toBe(0);
        expect(report).toMatchObject({ verdict: 'clean', serverClose: 'fin', uploadComplete: true, acknowledgedBytes: 2 * 2 ** 20 });
        expect(total).toBe(2 * 2 ** 20);
      } finally {
        await closeServer(server);
      }
    });
  });

  // What real clients meet: Python's http.client sends the whole body before it reads, so a server
  // that stops reading without closing stalls it until the server resets the connection. The
  // probe, by default, uploads the same way and must report what Python reports.
  describe.skipIf(!linux)('the probe meets what Python http.client meets', () => {
    /** A real Python http.client upload of 8 MiB: the status it read, or the error it got. */
    function pythonUpload(port: number): Promise<{ status?: number; error?: string; seconds: number }> {
      const script = [
        'import http.client, json, sys, time',
        't = time.time()',
        `c = http.client.HTTPConnection("127.0.0.1", ${port}, timeout=20)`,
        'try:',
        '    c.request("POST", "/upload", body=b"a" * (8 << 20))',
        '    r = c.getresponse(); r.read()',
        '    print(json.dumps({"status": r.status, "seconds": time.time() - t}))',
        'except Exception as e:',
        '    print(json.dumps({"error": type(e).__name__, "seconds": time.time() - t}))',
      ].join('\n');
      return new Promise((resolve, reject) => {
        execFile('python3', ['-c', script], { timeout: 30_000 }, (err, stdout) => {
          if (err) reject(err); else resolve(JSON.parse(stdout));
        });
      });
    }

    it('a server that answers, shuts down writing, then stops reading and resets 3 s later: Python and the probe both meet the reset', async () => {
      // What a lingering close whose socket got paused does (issue: res.end(); req.destroy() under
      // enableLingeringClose), written plainly: the answer and a FIN, then no more reading.
      const server = net.createServer((socket) => {
        socket.on('error', () => undefined);
        let head = '';
        const onData = (d: Buffer) => {
          head += d.toString('latin1');
          if (!head.includes('\r\n\r\n')) return;
          socket.off('data', onData);
          socket.pause();
          socket.end('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n');
          setTimeout(() => socket.destroy(), 3000);
        };
        socket.on('data', onData);
      });
      const port = await listen(server);
      try {
        const python = await pythonUpload(port);
        expect(python.error, JSON.stringify(python)).toMatch(/BrokenPipeError|ConnectionResetError/);
        const { code, report } = await probeJson([`http://127.0.0.1:${port}/upload`, '--size', '8m']);
        const seen = JSON.stringify(report);
        expect(code, seen).toBe(1);
        expect(report, seen).toMatchObject({ verdict: 'reset', serverClose: 'reset', mode: 'send-all', order: 'together', uploadComplete: false });
        expect(report.elapsedMs, seen).toBeGreaterThan(2500);
        expect(report.response, seen).toMatchObject({ status: 200, complete: true });
        // Stopping early, as curl does, the stall goes unseen: the reason the default sends it all.
        const early = await probeJson([`http://127.0.0.1:${port}/upload`, '--size', '8m', '--stop-early']);
        expect(early.report.verdict, JSON.stringify(early.report)).toBe('clean');
      } finally {
        await closeServer(server);
      }
    }, 60_000);

    it('a server that answers, then stops reading and never closes: the probe says the upload stalled', async () => {
      const sockets: net.Socket[] = [];
      const server = net.createServer({ allowHalfOpen: true }, (socket) => {
        sockets.push(socket);
        socket.on('error', () => undefined);
        socket.once('data', () => {
          socket.pause();
          socket.write('HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n');
        });
      });
      const port = await listen(server);
      try {
        const { code, report } = await probeJson([`http://127.0.0.1:${port}/upload`, '--size', '8m', '--timeout', '2000']);
        const seen = JSON.stringify(report);
        expect(code, seen).toBe(1);
        expect(report, seen).toMatchObject({ verdict: 'timeout', serverClose: 'none', uploadComplete: false, response: { status: 200, complete: true } });
        expect(report.summary, seen).toContain('the upload stalled');
        expect(report.advice, seen).toContain('stopped reading the upload without closing');
      } finally {
        for (const s of sockets) s.destroy();
        await closeServer(server);
      }
    });

    it('a plain node:http server whose handler does res.end(); req.destroy(): Python gets an error, the probe a reset', async () => {
      const server = http.createServer((req, res) => {
        res.end('nope\n');
        req.destroy();
      });
      const port = await listen(server);
      try {
        const python = await pythonUpload(port);
        expect(python.error, JSON.stringify(python)).toMatch(/BrokenPipeError|ConnectionResetError/);
        for (const args of [[], ['--head-first'], ['--chunked']]) {
          const { code, report } = await probeJson([`http://127.0.0.1:${port}/upload`, '--size', '8m', ...args]);
          expect(code, JSON.stringify(report)).toBe(1);
          expect(report.verdict, JSON.stringify(report)).toBe('reset');
        }
      } finally {
        await closeServer(server);
      }
    }, 60_000);

    it('the head goes out with the first body bytes by default, alone with --head-first', async () => {
      const firstReads: Buffer[] = [];
      const server = net.createServer((socket) => {
        socket.on('error', () => undefined);
        socket.once('data', (d: Buffer) => firstReads.push(d));
        let got = 0;
        socket.on('data', (d: Buffer) => {
          got += d.length;
          if (got >= 100 * 1024) socket.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
        });
      });
      const port = await listen(server);
      try {
        await probeJson([`http://127.0.0.1:${port}/`, '--size', '100k']);
        await probeJson([`http://127.0.0.1:${port}/`, '--size', '100k', '--head-first', '--head-pause', '50']);
        const headEnd = (b: Buffer) => b.indexOf('\r\n\r\n') + 4;
        expect(firstReads[0].length).toBeGreaterThan(headEnd(firstReads[0]));
        expect(firstReads[1].length).toBe(headEnd(firstReads[1]));
      } finally {
        await closeServer(server);
      }
    });
  });

  describe.skipIf(!linux)('servers whose answer is not HTTP, or never ends', () => {
    it('an SSH banner, then FIN: the answer is "not an HTTP response", not a cut-off to fix with enableLingeringClose', async () => {
      const server = net.createServer((socket) => {
        socket.on('error', () => undefined);
        socket.resume(); // reads and drops what the client sends, so it sees the client's close
        socket.end('SSH-2.0-OpenSSH_9.6\r\n');
      });
      const port = await listen(server);
      try {
        const { code, report } = await probeJson([`http://127.0.0.1:${port}/`, '--size', '1m']);
        const seen = JSON.stringify(report);
        expect(code, seen).toBe(1);
        expect(report.verdict, seen).toBe('bad-response');
        expect(report.responseError, seen).toBe('not an HTTP response: "SSH-2.0-OpenSSH_9.6"');
        expect(report.summary, seen).toContain('not an HTTP response');
        expect(report.advice, seen).not.toContain('enableLingeringClose');
        const text = await run([`http://127.0.0.1:${port}/`, '--size', '1m']);
        expect(text.stdout).toMatch(/response +unreadable: not an HTTP response/);
        expect(text.stdout).toMatch(/verdict +BAD-RESPONSE/);
      } finally {
        await closeServer(server);
      }
    });

    it('a response head over 64 KiB from a server that never closes: the summary agrees with serverClose and error', async () => {
      const sockets: net.Socket[] = [];
      const server = net.createServer({ allowHalfOpen: true }, (socket) => {
        sockets.push(socket);
        socket.on('error', () => undefined);
        socket.resume();
        socket.write(`HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(70_000)}\r\n`);
      });
      const port = await listen(server);
      try {
        const { code, report } = await probeJson([`http://127.0.0.1:${port}/`, '--size', '1k', '--timeout', '20000']);
        const seen = JSON.stringify(report);
        expect(code, seen).toBe(1);
        expect(report, seen).toMatchObject({ verdict: 'bad-response', serverClose: 'none', error: null, responseError: 'response head longer than 64 KiB' });
        expect(report.summary, seen).toContain('it did not close');
        expect(report.summary, seen).not.toMatch(/closed \(/);
        // The upload was over and the answer unreadable: no waiting for --timeout.
        expect(report.elapsedMs, seen).toBeLessThan(10_000);
      } finally {
        for (const s of sockets) s.destroy();
        await closeServer(server);
      }
    });

    it('an unreadable answer after the whole upload, connection kept open: done without waiting for --timeout', async () => {
      const sockets: net.Socket[] = [];
      const server = net.createServer({ allowHalfOpen: true }, (socket) => {
        sockets.push(socket);
        socket.on('error', () => undefined);
        let got = 0;
        socket.on('data', (d: Buffer) => {
          const before = got;
          got += d.length;
          if (before < 100 && got >= 100) socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n');
        });
      });
      const port = await listen(server);
      try {
        const { report } = await probeJson([`http://127.0.0.1:${port}/`, '--size', '100', '--timeout', '20000']);
        const seen = JSON.stringify(report);
        expect(report, seen).toMatchObject({ verdict: 'bad-response', uploadComplete: true });
        expect(report.responseError, seen).toMatch(/bad chunk size line/);
        expect(report.elapsedMs, seen).toBeLessThan(10_000);
      } finally {
        for (const s of sockets) s.destroy();
        await closeServer(server);
      }
    });

    it("-H 'Host: x' sends one Host header, the user's", async () => {
      const heads: string[] = [];
      const server = net.createServer((socket) => {
        socket.on('error', () => undefined);
        let text = '';
        socket.on('data', (d: Buffer) => {
          text += d.toString('latin1');
          const end = text.indexOf('\r\n\r\n');
          if (end < 0 || heads.length) return;
          heads.push(text.slice(0, end));
          socket.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
        });
      });
      const port = await listen(server);
      try {
        await probeJson([`http://127.0.0.1:${port}/`, '--size', '0', '-H', 'Host: x', '--header', 'user-agent: mine']);
        const lines = heads[0].split('\r\n');
        expect(lines.filter((l) => /^host:/i.test(l))).toEqual(['Host: x']);
        expect(lines.filter((l) => /^user-agent:/i.test(l))).toEqual(['user-agent: mine']);
      } finally {
        await closeServer(server);
      }
    });
  });

  describe('bad usage: exit 2 with a message on stderr', () => {
    const cases: [string, string[], RegExp][] = [
      ['no target', [], /needs a target/],
      ['two targets', ['127.0.0.1:1', '127.0.0.1:2'], /one target/],
      ['an unknown option', ['127.0.0.1:1', '--bogus'], /unknown option --bogus/],
      ['a size that is not one', ['127.0.0.1:1', '--size', 'lots'], /--size/],
      ['a missing value', ['127.0.0.1:1', '--size'], /--size needs a value/],
      ['a timeout of 0', ['127.0.0.1:1', '--timeout', '0'], /--timeout/],
      ['https', ['https://127.0.0.1:1/'], /https is not supported/],
      ['no port', ['127.0.0.1'], /host:port/],
      ['port 0', ['127.0.0.1:0'], /invalid port/],
      ['port 0 in a URL', ['http://127.0.0.1:0/'], /invalid port/],
      ['port 0 in a tcp:// URL', ['tcp://127.0.0.1:0'], /invalid port/],
      ['--head-pause without --head-first', ['http://127.0.0.1:1/', '--head-pause', '5'], /only with --head-first/],
      ['a target after --, and a second one', ['--', '127.0.0.1:1', '--json'], /one target/],
      ['port 70000', ['127.0.0.1:70000'], /invalid port/],
      ['HTTP options for a TCP target', ['127.0.0.1:1', '--chunked'], /only for an http/],
      ['a header without a colon', ['http://127.0.0.1:1/', '-H', 'nonsense'], /Name: value/],
      ['a bad method', ['http://127.0.0.1:1/', '--method', 'GE T'], /method/],
    ];
    for (const [name, args, message] of cases) {
      it(name, async () => {
        const { code, stdout, stderr } = await run(args);
        expect(code).toBe(2);
        expect(stdout).toBe('');
        expect(stderr).toMatch(message);
        expect(stderr).toContain('net-linger probe --help');
      });
    }

    it('--help prints the usage and exits 0', async () => {
      const { code, stdout } = await run(['--help']);
      expect(code).toBe(0);
      expect(stdout).toContain('Usage: net-linger probe');
      expect(stdout.split('\n').every((line) => line.length <= 100)).toBe(true);
      const viaHelp = await new Promise<string>((resolve) => execFile(process.execPath, [cli, 'help', 'probe'], (_e, out) => resolve(out)));
      expect(viaHelp).toBe(stdout);
    });
  });
});

describe('probeServer()', () => {
  it('refuses bad arguments with Node-style errors before connecting', () => {
    expect(() => probeServer(42 as unknown as string)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => probeServer('ftp://127.0.0.1:21/')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => probeServer('127.0.0.1:1', { size: -1 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE', name: 'RangeError' }));
    expect(() => probeServer('127.0.0.1:1', { size: 1.5 })).toThrow(RangeError);
    expect(() => probeServer('127.0.0.1:1', { timeout: 0 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => probeServer('127.0.0.1:1', { chunked: true })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => probeServer('http://127.0.0.1:1/', { headers: { 'content-length': '1' } })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => probeServer('http://127.0.0.1:1/', { headers: { x: 'a\r\nb' } })).toThrow(TypeError);
    expect(() => probeServer({ host: '127.0.0.1', port: 0 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => probeServer('127.0.0.1:1', { signal: 'abort' as unknown as AbortSignal })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', name: 'TypeError' }));
    expect(() => probeServer('127.0.0.1:1', { signal: new AbortController() as unknown as AbortSignal })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => probeServer('127.0.0.1:1', { onProgress: 'log' as unknown as () => void })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', name: 'TypeError' }));
    // Bad arguments beat an aborted signal: the caller's mistake is reported first, synchronously.
    expect(() => probeServer('127.0.0.1:1', { size: -1, signal: AbortSignal.abort() })).toThrow(RangeError);
  });

  describe('signal and onProgress', () => {
    /** A server that counts connections and never reads: an upload to it stalls. */
    async function stalling() {
      const accepted: net.Socket[] = [];
      const server = net.createServer({ pauseOnConnect: true }, (s) => { accepted.push(s); s.on('error', () => undefined); });
      const port = await listen(server);
      const connections = () => new Promise<number>((resolve, reject) => server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
      return { server, port, accepted, connections };
    }
    const handles = (kind: string) => process.getActiveResourcesInfo().filter((r) => r === kind).length;

    it('an already-aborted signal refuses before connecting: an AbortError as Node shapes it, the reason as its cause', async () => {
      const { server, port, accepted } = await stalling();
      try {
        const reason = new Error('the caller gave up');
        const sockets = handles('TCPSocketWrap');
        const refused = probeServer(`http://127.0.0.1:${port}/`, { signal: AbortSignal.abort(reason), size: 1000 });
        // Nothing was opened, not even for a moment.
        expect(handles('TCPSocketWrap')).toBe(sockets);
        await expect(refused).rejects.toMatchObject({ name: 'AbortError', code: 'ABORT_ERR', message: 'The operation was aborted', cause: reason });
        await expect(refused).rejects.toBeInstanceOf(Error);
        // The next connection this server accepts is the first: the refused probe never connected.
        const report = await probeServer(`http://127.0.0.1:${port}/`, { size: 0, timeout: 300 });
        expect(report.verdict).toBe('timeout');
        expect(accepted).toHaveLength(1);
      } finally {
        for (const s of accepted) s.destroy();
        await closeServer(server);
      }
    });

    it('aborting mid-upload rejects at once and leaves nothing open: no socket, no timer, no listener', async () => {
      const { server, port, accepted, connections } = await stalling();
      try {
        const timers = handles('Timeout');
        const controller = new AbortController();
        const heard: ProbeProgress[] = [];
        // head-first with a long pause and a long timeout: every timer the probe could own is armed.
        const probe = probeServer(`http://127.0.0.1:${port}/`, {
          size: 64 * 2 ** 20, timeout: 600_000, order: 'head-first', headPause: 600_000, signal: controller.signal,
          onProgress: (p) => heard.push(p),
        });
        // Within a step onProgress hears again, never sooner than 100 ms after the last time.
        while (accepted.length === 0 || heard.filter((p) => p.step === 'upload').length < 3) await new Promise((r) => setTimeout(r, 5));
        const uploads = heard.filter((p) => p.step === 'upload');
        for (let i = 1; i < uploads.length; i++) expect(uploads[i].elapsedMs - uploads[i - 1].elapsedMs).toBeGreaterThanOrEqual(100);
        const steps = heard.map((p) => p.step).filter((step, i, all) => step !== all[i - 1]);
        const closed = new Promise((resolve) => accepted[0].once('close', resolve));
        accepted[0].resume();
        const sockets = handles('TCPSocketWrap'); // the probe's and the one this server accepted among them
        expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
        controller.abort();
        const error = await probe.then(() => undefined, (err: unknown) => err);
        expect(error).toMatchObject({ name: 'AbortError', code: 'ABORT_ERR', cause: controller.signal.reason });
        expect(classifyConnectionError(error)).toBe('aborted');
        expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
        expect(handles('Timeout')).toBeLessThanOrEqual(timers);
        await closed; // the server saw the connection end
        expect(await connections()).toBe(0);
        // A handle goes once libuv has closed it: at once on Linux, a turn or more later on Windows.
        await until(() => handles('TCPSocketWrap') <= sockets - 2, 5_000, 'the probe\'s socket and the accepted one released');
        expect(steps).toEqual(['connect', 'upload']);
      } finally {
        for (const s of accepted) s.destroy();
        await closeServer(server);
      }
    });

    it('a probe that ends on its own leaves no listener on the signal, and a later abort changes nothing', async () => {
      const server = net.createServer((s) => { s.resume(); s.on('error', () => undefined); });
      const port = await listen(server);
      try {
        const controller = new AbortController();
        const progress: ProbeProgress[] = [];
        let returned = false;
        let calledEarly = false;
        const probe = probeServer(`127.0.0.1:${port}`, {
          size: 4 * 2 ** 20, signal: controller.signal,
          onProgress: (p) => { calledEarly ||= !returned; progress.push(p); },
        });
        returned = true;
        const report = await probe;
        expect(calledEarly).toBe(false);
        expect(report.verdict).toBe('clean');
        expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
        controller.abort();
        // What onProgress heard: the steps in order, bytes that only grow, the size and timeout given.
        const steps = progress.map((p) => p.step).filter((step, i, all) => step !== all[i - 1]);
        expect(steps[0]).toBe('connect');
        expect(steps.at(-1)).toBe('wait');
        expect(['connect', 'upload', 'wait'].filter((s) => steps.includes(s as ProbeProgress['step']))).toEqual(steps);
        for (const [i, p] of progress.entries()) {
          expect(p).toMatchObject({ size: 4 * 2 ** 20, timeout: 30_000 });
          expect(p.sentBytes).toBeLessThanOrEqual(p.size);
          if (i > 0) {
            expect(p.sentBytes).toBeGreaterThanOrEqual(progress[i - 1].sentBytes);
            expect(p.elapsedMs).toBeGreaterThanOrEqual(progress[i - 1].elapsedMs);
          }
        }
        expect(progress.at(-1)!.sentBytes).toBeLessThanOrEqual(report.sentBytes);
      } finally {
        await closeServer(server);
      }
    });

    it('onProgress hears the connect step of an unreachable server; its verdict is still a report', async () => {
      const port = await freePort();
      const steps: string[] = [];
      const report = await probeServer({ host: '127.0.0.1', port }, { size: 1000, onProgress: (p) => steps.push(p.step) });
      expect(report.verdict).toBe('unreachable');
      expect(steps.every((s) => s === 'connect')).toBe(true);
    });

    it('an onProgress that throws stops the probe: the promise rejects with its error, the connection is closed', async () => {
      const { server, port, accepted, connections } = await stalling();
      try {
        const oops = new Error('display failed');
        let calls = 0;
        const probe = probeServer(`http://127.0.0.1:${port}/`, {
          size: 64 * 2 ** 20, timeout: 600_000,
          onProgress: (p) => { calls++; if (p.step === 'upload') throw oops; },
        });
        await expect(probe).rejects.toBe(oops);
        const after = calls;
        while (accepted.length === 0) await new Promise((r) => setTimeout(r, 5));
        accepted[0].resume();
        if (!accepted[0].destroyed) await new Promise((resolve) => accepted[0].once('close', resolve));
        expect(await connections()).toBe(0);
        await new Promise((r) => setTimeout(r, 150));
        expect(calls).toBe(after); // not called again once stopped
      } finally {
        for (const s of accepted) s.destroy();
        await closeServer(server);
      }
    });
  });

  it('an unreachable server is a verdict, not a rejection', async () => {
    const port = await freePort();
    const report = await probeServer({ host: '127.0.0.1', port }, { size: 1000 });
    expect(report.verdict).toBe('unreachable');
    expect(report.error?.code).toBe('ECONNREFUSED');
    expect(report.serverClose).toBe('none');
  });

  it('a server that never answers or closes: timeout', async () => {
    const sockets: net.Socket[] = [];
    const server = net.createServer({ pauseOnConnect: true }, (s) => { sockets.push(s); s.on('error', () => undefined); });
    const port = await listen(server);
    try {
      const report = await probeServer(`http://127.0.0.1:${port}/`, { size: 64 * 2 ** 20, timeout: 500 });
      expect(report.verdict).toBe('timeout');
      expect(report.response).toBeNull();
      expect(report.uploadComplete).toBe(false);
    } finally {
      for (const s of sockets) s.destroy();
      await closeServer(server);
    }
  });

  it('accepts a URL object and IPv6 literals', async () => {
    const server = net.createServer((s) => { s.resume(); s.on('error', () => undefined); });
    await new Promise<void>((resolve) => server.listen(0, '::1', resolve));
    const { port } = server.address() as net.AddressInfo;
    try {
      const report = await probeServer(`[::1]:${port}`, { size: 1000 });
      // Windows' counter leaves out bytes still queued, so the probe does not claim a count there.
      expect(report).toMatchObject({ verdict: 'clean', serverClose: 'fin', acknowledgedBytes: process.platform === 'win32' ? null : 1000 });
      expect(report.target).toMatchObject({ kind: 'tcp', host: '::1', port });
    } finally {
      await closeServer(server);
    }
    const closed = await freePort();
    const viaUrl = await probeServer(new URL(`http://127.0.0.1:${closed}/x?y=1`), { size: 0 });
    expect(viaUrl).toMatchObject({ verdict: 'unreachable', target: { kind: 'http', url: `http://127.0.0.1:${closed}/x?y=1` } });
  });
});
