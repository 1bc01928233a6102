// The per-call paths: the fast path for arguments already of the right type must answer exactly
// as the checked path does, the CommonJS entries hold plain data properties (fast to call
// through), and the blocking-close warning is printed once per process, worker threads included.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { getLinger, maxLingerSeconds, pendingBytes, setLinger, shutdown } from '../../src/index';
import { resolveHandle } from '../../src/core/handle';
import { connection, type Connection } from '../support/helpers';

const root = path.resolve(__dirname, '..', '..');
let conn: Connection;
beforeEach(async () => { conn = await connection(); });
afterEach(() => conn.close());

const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (err) {
    return `${(err as Error).name} ${(err as { code?: string }).code}`;
  }
  return undefined;
};

describe('setLinger with a number target', () => {
  it('rejects what the checked path rejects, before touching the socket', () => {
    const fd = Number(resolveHandle(conn.client));
    const max = maxLingerSeconds();
    const cases: [unknown, unknown, unknown, string][] = [
      [-1, true, 0, 'RangeError ERR_OUT_OF_RANGE'],
      [1.5, true, 0, 'RangeError ERR_OUT_OF_RANGE'],
      [Number.NaN, true, 0, 'RangeError ERR_OUT_OF_RANGE'],
      [2 ** 53, true, 0, 'RangeError ERR_OUT_OF_RANGE'],
      [fd, true, -1, 'RangeError ERR_OUT_OF_RANGE'],
      [fd, true, 0.5, 'RangeError ERR_OUT_OF_RANGE'],
      [fd, true, max + 1, 'RangeError ERR_OUT_OF_RANGE'],
      [fd, true, Number.POSITIVE_INFINITY, 'RangeError ERR_OUT_OF_RANGE'],
      [fd, true, '1', 'TypeError ERR_INVALID_ARG_TYPE'],
      [fd, 'yes', 0, 'TypeError ERR_INVALID_ARG_TYPE'],
      [fd, 2, 0, 'TypeError ERR_INVALID_ARG_VALUE'],
    ];
    for (const [target, onoff, seconds, expected] of cases) {
      expect(codeOf(() => setLinger(target as never, onoff as never, seconds as never)), `${String(target)} ${String(onoff)} ${String(seconds)}`).toBe(expected);
    }
    expect(getLinger(conn.client)).toEqual({ onoff: false, seconds: 0 });
    // A closed descriptor number is an OS error, from the fast path as from the checked one.
    expect(codeOf(() => setLinger(0x7fffffff, true, 0))).toBe(`SocketError ${process.platform === 'win32' ? 'ENOTSOCK' : 'EBADF'}`);
  });

  it('sets exactly what the checked path sets, for every onoff spelling', () => {
    const fd = Number(resolveHandle(conn.client));
    setLinger(fd, true, 3);
    expect(getLinger(fd)).toEqual({ onoff: true, seconds: 3 });
    setLinger(fd, 0);
    expect(getLinger(fd).onoff).toBe(false);
    setLinger(fd, 1, 0);
    expect(getLinger(fd)).toEqual({ onoff: true, seconds: 0 });
    setLinger(fd, false);
    expect(getLinger(conn.client).onoff).toBe(false);
  });

  it('shutdown and pendingBytes take the same number fast path and the same checks', () => {
    const fd = Number(resolveHandle(conn.client));
    expect(pendingBytes(fd)).toEqual(pendingBytes(conn.client));
    expect(codeOf(() => shutdown(fd, 3 as never))).toBe('TypeError ERR_INVALID_ARG_VALUE');
    expect(codeOf(() => shutdown(-1, 'write'))).toBe('RangeError ERR_OUT_OF_RANGE');
    expect(codeOf(() => pendingBytes(-1))).toBe('RangeError ERR_OUT_OF_RANGE');
    expect(codeOf(() => getLinger(0.5))).toBe('RangeError ERR_OUT_OF_RANGE');
  });
});

describe('the CommonJS entries', () => {
  it.each(['index', 'http/index', 'relay/index', 'testing/index', 'lab/index'])('dist/cjs/%s.js exports plain data properties, no getters', (entry) => {
    const exportsObject = require(path.join(root, 'dist', 'cjs', `${entry}.js`)) as object;
    const getters = Object.entries(Object.getOwnPropertyDescriptors(exportsObject))
      .filter(([, d]) => d.get !== undefined).map(([name]) => name);
    expect(getters).toEqual([]);
  });
});

// Runs in its own process: the flag is process-wide, so an earlier test may already have claimed it here.
const warningScript = `
const { Worker, isMainThread } = require('node:worker_threads');
const net = require('node:net');
const lib = require(process.env.ENTRY);
function lingerOnce(done) {
  const server = net.createServer((s) => s.on('error', () => {})).listen(0, '127.0.0.1', () => {
    const client = net.connect(server.address().port, '127.0.0.1', () => {
      lib.setLinger(client, true, 1);
      lib.setLinger(client, true, 2);
      lib.setLinger(client, false, 0); // never close with a linger time: that would block
      client.destroy();
      server.close(done);
    });
  });
}
if (isMainThread) {
  let pending = 3;
  for (let i = 0; i < 3; i++) {
    new Worker(__filename).once('exit', () => { if (--pending === 0) lingerOnce(() => {}); });
  }
} else {
  lingerOnce(() => {});
}
`;

describe('the blocking-close warning', () => {
  it.runIf(process.platform === 'linux')('prints once per process: main thread and 3 worker threads, each lingering twice', () => {
    const dir = execFileSync(process.execPath, ['-e', 'process.stdout.write(require("os").tmpdir())'], { encoding: 'utf8' });
    const file = path.join(dir, `net-linger-warning-${process.pid}-${Date.now()}.js`);
    require('node:fs').writeFileSync(file, warningScript);
    try {
      const result = require('node:child_process').spawnSync(process.execPath, [file], {
        encoding: 'utf8', env: { ...process.env, ENTRY: path.join(root, 'dist', 'cjs', 'index.js') }, timeout: 20_000,
      });
      expect(result.status).toBe(0);
      expect(result.stderr.match(/NET_LINGER_BLOCKING_CLOSE/g) ?? []).toHaveLength(1);
    } finally {
      require('node:fs').rmSync(file, { force: true });
    }
  });
});

describe('the descriptor or SOCKET remembered for a handle object', () => {
  it('answers repeated calls, never for a destroyed socket, never for a new connection that reuses the value', async () => {
    const first = Number(resolveHandle(conn.client));
    expect(Number(resolveHandle(conn.client))).toBe(first);
    expect(Number(resolveHandle(conn.server))).not.toBe(first);
    conn.close();
    expect(codeOf(() => resolveHandle(conn.client))).toBe('NetLingerError ERR_SOCKET_NO_HANDLE');
    // New connections get the closed descriptor or SOCKET values back: each must resolve to its own.
    for (let round = 0; round < 5; round++) {
      const next = await connection();
      try {
        setLinger(next.client, true, 0);
        expect(getLinger(resolveHandle(next.client))).toEqual({ onoff: true, seconds: 0 });
        expect(getLinger(resolveHandle(next.server))).toEqual({ onoff: false, seconds: 0 });
        expect(getLinger(next.server)).toEqual({ onoff: false, seconds: 0 });
      } finally {
        next.close();
      }
    }
    conn = await connection(); // for afterEach
  });
});
