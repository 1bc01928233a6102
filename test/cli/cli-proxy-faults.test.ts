// `net-linger proxy` with the faults added beside toxiproxy's: a child process, a Node server
// upstream, Node's own clients. Forks pool only: the CLI runs in its own process.
import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
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
    req.on('end', () => res.end('hello'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  upstream = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

/** Starts `net-linger proxy ... --json`; runs fn with its port; returns the report lines. */
async function withCli(args: string[], fn: (port: number) => Promise<void>): Promise<Record<string, unknown>[]> {
  const child = spawn(process.execPath, [cli, 'proxy', '--upstream', `127.0.0.1:${upstream}`, '--json', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const lines: string[] = [];
  const rl = readline.createInterface({ input: child.stdout });
  const first = new Promise<string>((resolve) => rl.once('line', resolve));
  try {
    const m = /^listening on 127\.0\.0\.1:(\d+)$/.exec(await first);
    expect(m).not.toBeNull();
    rl.on('line', (l) => lines.push(l));
    await fn(Number(m![1]));
    await sleep(100);
  } finally {
    child.kill('SIGTERM');
  }
  expect(await exited).toBe(0);
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
});
