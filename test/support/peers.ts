// Python peers (test/fixtures/peers.py) as promises: a server on an ephemeral loopback port, a
// client that prints what it observed.
import { execFile, spawn, spawnSync } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';

const script = path.join(__dirname, '..', 'fixtures', 'peers.py');

/**
 * python3 on PATH (a prerequisite everywhere but Windows: Windows' Python is not python3, and the
 * Wine leg runs node.exe alone, so there the suites that need these peers are skipped). Legs that
 * also need curl ask test/support/tools.ts for it.
 */
export const peersAvailable = process.platform !== 'win32' &&
  spawnSync('python3', ['-c', ''], { stdio: 'ignore' }).status === 0;

export interface PythonServer {
  port: number;
  /** What the server observed, once it has served its one connection. */
  result: Promise<Record<string, unknown>>;
  kill(): void;
}

export function pythonServer(mode: string, host: string, ...args: (string | number)[]): Promise<PythonServer> {
  const child = spawn('python3', [script, mode, host, ...args.map(String)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: child.stdout });
  const iterator = lines[Symbol.asyncIterator]();
  return (async () => {
    const first = await iterator.next();
    if (first.done) throw new Error(`python ${mode} did not start`);
    const result = iterator.next().then((r) => (r.done ? {} : JSON.parse(r.value) as Record<string, unknown>));
    return { port: Number(first.value), result, kill: () => child.kill() };
  })();
}

export function pythonClient(mode: string, host: string, port: number, n: number): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    execFile('python3', [script, mode, host, String(port), String(n)], { timeout: 20_000 }, (err, stdout, stderr) => {
      if (err && !stdout) return reject(new Error(`python ${mode}: ${stderr || err.message}`));
      resolve(JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, unknown>);
    });
  });
}

/** A loopback server whose one accepted connection is handed to `onConnection`, the way a careless proxy makes it (no allowHalfOpen). */
export async function oneShotServer(host: string, onConnection: (socket: net.Socket) => void): Promise<{ port: number }> {
  const server = net.createServer((socket) => {
    server.close();
    onConnection(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return { port: (server.address() as net.AddressInfo).port };
}
