// What the CLI shows only to a person, and how it stops: the progress line (on a terminal, never on a
// pipe or with --json), colour (Node's rules: NO_COLOR, FORCE_COLOR, TERM; --color and --no-color
// beat them), and Ctrl-C. Each command runs as a child, on a pipe or on script(1)'s terminal.
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { requireTools } from '../support/tools';
import { cli, onTerminal } from '../support/terminal';

const root = path.resolve(__dirname, '..', '..');
const linux = process.platform === 'linux';
// SGR: a colour or weight; the progress line's own \r\x1b[K is not one.
const SGR = /\x1b\[\d+(;\d+)*m/;

interface Run { code: number; stdout: string; stderr: string }

/** The CLI on pipes, in an environment where nothing but `env` speaks about colour. */
function run(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  const base = { ...process.env, NO_COLOR: undefined, FORCE_COLOR: undefined, NODE_DISABLE_COLORS: undefined };
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], { cwd: root, env: { ...base, ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

/** A server that accepts and never reads: the probe's upload stalls until its --timeout. */
async function stallingServer(): Promise<{ port: number; connections: net.Socket[]; close(): Promise<void> }> {
  const connections: net.Socket[] = [];
  const server = net.createServer({ pauseOnConnect: true }, (socket) => {
    connections.push(socket);
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    connections,
    close: () => new Promise((resolve) => {
      for (const s of connections) s.destroy();
      server.close(() => resolve());
    }),
  };
}

const labRows = ['lab', '--scenario', 'plain-close', '--scenario', 'error-fd-not-open'];

describe('colour: one decision, as Node makes it', () => {
  it.each([
    ['no setting', [], {}, false],
    ['FORCE_COLOR=1', [], { FORCE_COLOR: '1' }, true],
    ['FORCE_COLOR= (empty)', [], { FORCE_COLOR: '' }, true],
    ['FORCE_COLOR=2', [], { FORCE_COLOR: '2' }, true],
    ['FORCE_COLOR=3', [], { FORCE_COLOR: '3' }, true],
    ['FORCE_COLOR=true', [], { FORCE_COLOR: 'true' }, true],
    ['FORCE_COLOR=0', [], { FORCE_COLOR: '0' }, false],
    ['FORCE_COLOR=false', [], { FORCE_COLOR: 'false' }, false],
    ['FORCE_COLOR=1 beats NO_COLOR=1 (as in Node)', [], { FORCE_COLOR: '1', NO_COLOR: '1' }, true],
    ['--color', ['--color'], {}, true],
    ['--color beats NO_COLOR=1', ['--color'], { NO_COLOR: '1' }, true],
    ['--color beats FORCE_COLOR=0', ['--color'], { FORCE_COLOR: '0' }, true],
    ['--no-color beats FORCE_COLOR=1', ['--no-color'], { FORCE_COLOR: '1' }, false],
    ['the last flag wins: --color --no-color', ['--color', '--no-color'], {}, false],
    ['the last flag wins: --no-color --color', ['--no-color', '--color'], {}, true],
  ] as const)('lab on a pipe, %s', async (_name, flags, env, coloured) => {
    const { code, stdout, stderr } = await run([...labRows, ...flags], env);
    expect(stderr).toBe('');
    if (linux) expect(code, stdout).toBe(0);
    if (coloured) {
      expect(stdout).toMatch(linux ? /\x1b\[32mpass *\x1b\[39m/ : SGR);
    } else {
      expect(stdout).not.toMatch(SGR);
    }
  });

  it('lab --list and --json: the list is coloured as the table is, JSON never', async () => {
    expect((await run(['lab', '--list', '--color'])).stdout).toContain('\x1b[1mplain-close');
    expect((await run(['lab', '--list'], { FORCE_COLOR: '1' })).stdout).toContain('\x1b[1mplain-close');
    expect((await run(['lab', '--list', '--no-color'], { FORCE_COLOR: '1' })).stdout).not.toMatch(SGR);
    const json = await run(['lab', '--json', '--scenario', 'error-fd-not-open', '--color']);
    expect(json.stdout).not.toMatch(/\x1b/);
    expect(JSON.parse(json.stdout).rows).toHaveLength(1);
  });

  it('probe: the verdict is coloured with --color or FORCE_COLOR, never with --no-color or --json', async () => {
    const server = await stallingServer();
    try {
      const args = ['probe', `http://127.0.0.1:${server.port}/`, '--size', '64k', '--timeout', '300'];
      const plain = await run(args);
      expect(plain.code).toBe(1);
      expect(plain.stdout).toMatch(/^ {2}verdict {6}TIMEOUT: /m);
      expect(plain.stdout).not.toMatch(SGR);
      const forced = await run(args, { FORCE_COLOR: '1' });
      expect(forced.stdout).toMatch(/^ {2}verdict {6}\x1b\[31mTIMEOUT\x1b\[39m: /m);
      expect((await run([...args, '--color'])).stdout).toContain('\x1b[31mTIMEOUT\x1b[39m');
      expect((await run([...args, '--no-color'], { FORCE_COLOR: '1' })).stdout).not.toMatch(SGR);
      const json = await run([...args, '--json', '--color']);
      expect(json.stdout).not.toMatch(/\x1b/);
      expect(JSON.parse(json.stdout)).toMatchObject({ verdict: 'timeout' });
    } finally {
      await server.close();
    }
  });

  it('commands that never colour refuse the flags rather than ignore them', async () => {
    for (const args of [['explain', 'ECONNRESET', '--color'], ['proxy', '--upstream', '127.0.0.1:1', '--no-color']]) {
      const { code, stderr } = await run(args);
      expect(code).toBe(2);
      expect(stderr).toMatch(/unknown option --(no-)?color/);
    }
  });

  it('--color=yes is refused as every flag given a value is', async () => {
    const { code, stderr } = await run(['lab', '--color=yes']);
    expect(code).toBe(2);
    expect(stderr).toContain('net-linger lab: --color takes no value');
  });
});

describe.runIf(linux)('on a terminal', () => {
  it('lab: a progress line on stderr; colour unless NO_COLOR, FORCE_COLOR=0, TERM=dumb or --no-color', async (ctx) => {
    requireTools(ctx, 'script');
    const coloured = await onTerminal(labRows);
    expect(coloured.code).toBe(0);
    expect(coloured.output).toContain('\r\x1b[Knet-linger lab [1/2] IPv4 plain-close');
    expect(coloured.output).toContain('\x1b[32mpass');
    for (const [args, env] of [
      [[], { NO_COLOR: '1' }],
      [[], { NO_COLOR: '' }], // Node: set at all, even empty
      [[], { FORCE_COLOR: '0' }],
      [[], { TERM: 'dumb' }],
      [['--no-color'], {}],
    ] as const) {
      const plain = await onTerminal([...labRows, ...args], { env });
      expect(plain.output, JSON.stringify({ args, env })).toContain('net-linger lab [2/2] IPv4 error-fd-not-open');
      expect(plain.output, JSON.stringify({ args, env })).not.toMatch(SGR);
    }
    expect((await onTerminal([...labRows, '--color'], { env: { NO_COLOR: '1' } })).output).toContain('\x1b[32mpass');
  });

  it('lab --json: no progress line, nothing but the JSON', async (ctx) => {
    requireTools(ctx, 'script');
    const { code, output } = await onTerminal([...labRows, '--json']);
    expect(code).toBe(0);
    expect(output).not.toContain('net-linger lab [');
    expect(output).not.toMatch(/\x1b/);
    expect(JSON.parse(output).rows).toHaveLength(2);
  });

  it('probe: the progress line rewrites itself on stderr and is cleared before the report', async (ctx) => {
    requireTools(ctx, 'script');
    const server = await stallingServer();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'net-linger-terminal-'));
    try {
      const target = `http://127.0.0.1:${server.port}/upload`;
      const { code, output } = await onTerminal(['probe', target, '--size', '64m', '--timeout', '1500']);
      expect(code).toBe(1);
      const updates = output.match(/\r\x1b\[Knet-linger probe \[\d+\.\d\/1\.5 s\] [^\r]*/g) ?? [];
      expect(updates.length, output).toBeGreaterThan(1);
      expect(updates.some((u) => / sent [\d.]+ (KiB|MiB) of 64\.00 MiB, [\d.]+ (KiB|MiB) ack/.test(u)), output).toBe(true);
      // Cleared, then the report from the start of the line.
      expect(output).toMatch(/\r\x1b\[Knet-linger probe http:\/\/127\.0\.0\.1:\d+\/upload: 64\.00 MiB upload\r\n/);
      expect(output).toContain('\x1b[31mTIMEOUT\x1b[39m');

      // stdout to a file, stderr on the terminal: the progress line still shows, the report has no colour.
      const file = path.join(dir, 'report.txt');
      const split = await onTerminal(['probe', target, '--size', '64m', '--timeout', '1000'], { stdoutTo: file });
      expect(split.code).toBe(1);
      expect(split.output).toMatch(/\r\x1b\[Knet-linger probe \[/);
      expect(split.output.endsWith('\r\x1b[K')).toBe(true);
      const report = fs.readFileSync(file, 'utf8');
      expect(report).toMatch(/^net-linger probe http:/);
      expect(report).not.toMatch(/\x1b/);

      // stderr to a file, stdout on the terminal: no progress line anywhere, the report coloured.
      const errors = path.join(dir, 'stderr.txt');
      const quiet = await onTerminal(['probe', target, '--size', '64m', '--timeout', '500'], { stderrTo: errors });
      expect(quiet.code).toBe(1);
      expect(fs.readFileSync(errors, 'utf8')).toBe('');
      expect(quiet.output).toMatch(/^net-linger probe http:/);
      expect(quiet.output).toContain('\x1b[31mTIMEOUT\x1b[39m');

      // --json: no progress line at all.
      const json = await onTerminal(['probe', target, '--size', '64m', '--timeout', '1000', '--json']);
      expect(json.output).not.toContain('\x1b');
      expect(JSON.parse(json.output)).toMatchObject({ verdict: 'timeout' });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      await server.close();
    }
  });

  it('probe: once the body is sent, the line says it waits for the server', async (ctx) => {
    requireTools(ctx, 'script');
    // Reads the whole upload, never answers: the probe sends everything, then waits until --timeout.
    const sockets: net.Socket[] = [];
    const server = net.createServer((s) => { sockets.push(s); s.resume(); s.on('error', () => undefined); });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as net.AddressInfo;
      const { code, output } = await onTerminal(['probe', `http://127.0.0.1:${port}/`, '--size', '1m', '--timeout', '1000']);
      expect(code).toBe(1);
      expect(output).toMatch(/\r\x1b\[Knet-linger probe \[\d\.\d\/1\.0 s\] waiting for the server \(1\.00 MiB sent/);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('probe on a pipe: no progress line on stderr', async () => {
    const server = await stallingServer();
    try {
      const { code, stdout, stderr } = await run(['probe', `127.0.0.1:${server.port}`, '--size', '64m', '--timeout', '500']);
      expect(code).toBe(1);
      expect(stderr).toBe('');
      expect(stdout).toMatch(/^net-linger probe tcp 127\.0\.0\.1:\d+: 64\.00 MiB upload\n/);
    } finally {
      await server.close();
    }
  });
});

// Ctrl-C reaches every process of the terminal's foreground group: the test does the same with a
// child that leads a group of its own.
describe.skipIf(process.platform === 'win32')('interrupted', () => {
  function spawnGroup(args: string[]) {
    const child = spawn(process.execPath, [cli, ...args], { cwd: root, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) => {
      child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    });
    return { child, exited };
  }

  it.each([['SIGINT', 130], ['SIGTERM', 143]] as const)('probe: %s stops it mid-upload, closes its connection, exits %i', async (signal, exitCode) => {
    const server = await stallingServer();
    try {
      const { child, exited } = spawnGroup(['probe', `http://127.0.0.1:${server.port}/`, '--size', '64m', '--timeout', '60000']);
      while (server.connections.length === 0) await new Promise((r) => setTimeout(r, 10));
      const accepted = server.connections[0];
      const closed = new Promise((resolve) => accepted.once('close', resolve));
      accepted.resume(); // read again, so the probe's close reaches this side as FIN or RST
      process.kill(-child.pid!, signal);
      const result = await exited;
      expect(result.code, result.stderr).toBe(exitCode);
      expect(result.stdout).toBe('');
      expect(result.stderr).toBe(`net-linger probe: stopped by ${signal}; the connection is closed, no verdict\n`);
      await closed; // the server saw the probe's connection end
    } finally {
      await server.close();
    }
  });

  it('lab: Ctrl-C ends it as SIGINT does (a shell reports 130)', async () => {
    const { child, exited } = spawnGroup(['lab', '--both']);
    await new Promise((r) => setTimeout(r, 1000));
    process.kill(-child.pid!, 'SIGINT');
    const result = await exited;
    expect(result.signal ?? result.code, result.stdout).toBe('SIGINT');
  });
});
