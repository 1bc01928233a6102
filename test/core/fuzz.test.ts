// Property-based fuzzing of every exported function: each call returns a value of the promised
// shape or throws a typed error, the process never crashes, and no descriptor the test does not
// own is touched. Descriptor numbers reach the OS only if they belong to this test or can never
// be open (at or above the descriptor limit), so fds 0-2 and anything another test or thread
// holds are never passed.
import { execFileSync } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { isMainThread } from 'node:worker_threads';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import * as api from '../../src/index';
import * as lab from '../../src/lab/index';
import { binding } from '../../src/core/binding';
import { connection, type Connection } from '../support/helpers';

// The full count runs in the forks project; the threads project repeats a quarter of it to show
// the same in a worker thread, keeping npm test quick.
const RUNS = Number(process.env.NET_LINGER_FUZZ_RUNS ?? (isMainThread ? 100_000 : 25_000));
const SEED = Number(process.env.NET_LINGER_FUZZ_SEED ?? 0x6e6c);
const ARG_CODES = new Set(['ERR_INVALID_ARG_TYPE', 'ERR_INVALID_ARG_VALUE', 'ERR_OUT_OF_RANGE']);

const fdOf = (s: { _handle?: { fd?: number } | null }) => s._handle?.fd ?? -1;

/** The soft RLIMIT_NOFILE: no descriptor at or above it can be open in this process. */
function fdLimit(): number {
  const line = fs.readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
  const soft = Number(line?.split(/\s+/)[3]);
  return Number.isFinite(soft) && soft > 0 ? soft : 1 << 20;
}

function openFds(): Map<number, string> {
  const out = new Map<number, string>();
  for (const name of fs.readdirSync('/proc/self/fd')) {
    try { out.set(Number(name), fs.readlinkSync(`/proc/self/fd/${name}`)); } catch { /* closed meanwhile */ }
  }
  return out;
}

interface Owned {
  sockets: net.Socket[];
  fds: number[];
  cleanup: Array<() => void>;
}

async function ownResources(dir: string): Promise<Owned> {
  const cleanup: Array<() => void> = [];
  const sockets: net.Socket[] = [];
  const fds: number[] = [];
  const conns: Connection[] = [await connection('127.0.0.1'), await connection('::1')];
  for (const c of conns) {
    sockets.push(c.client, c.server);
    cleanup.push(() => {
      // Back to an abortive close first: a lingering time left by the fuzz would block destroy().
      for (const s of [c.client, c.server]) { try { binding().setLinger(fdOf(s as never), true, 0); } catch { /* gone */ } }
      c.close();
    });
  }
  const listener = net.createServer();
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  fds.push(fdOf(listener as never));
  cleanup.push(() => listener.close());
  const unixPath = path.join(dir, 'fuzz.sock');
  const unixServer = net.createServer((s) => { s.on('error', () => undefined); cleanup.push(() => s.destroy()); });
  await new Promise<void>((resolve) => unixServer.listen(unixPath, resolve));
  const unixClient = net.connect(unixPath);
  unixClient.on('error', () => undefined);
  await new Promise((resolve) => unixClient.once('connect', resolve));
  sockets.push(unixClient);
  cleanup.push(() => { unixClient.destroy(); unixServer.close(); });
  for (const type of ['udp4', 'udp6'] as const) {
    const udp = dgram.createSocket(type);
    await new Promise<void>((resolve) => udp.bind(0, type === 'udp4' ? '127.0.0.1' : '::1', resolve));
    const quiet = process.noDeprecation;
    process.noDeprecation = true; // dgram's _handle is deprecated but is the only way to its descriptor
    try { fds.push(fdOf(udp as never)); } finally { process.noDeprecation = quiet; }
    cleanup.push(() => udp.close());
  }
  const file = fs.openSync(path.join(dir, 'plain-file'), 'w+');
  const devNull = fs.openSync('/dev/null', 'r');
  const fifoPath = path.join(dir, 'fifo');
  execFileSync('mkfifo', [fifoPath]);
  const fifo = fs.openSync(fifoPath, fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
  fds.push(file, devNull, fifo);
  cleanup.push(() => { for (const fd of [file, devNull, fifo]) fs.closeSync(fd); });
  fds.push(...sockets.map((s) => fdOf(s as never)));
  // A socket that never connected, one destroyed, one half-closed.
  const unconnected = new net.Socket();
  const destroyed = (await connection()).client;
  destroyed.destroy();
  const halfClosed = await connection();
  halfClosed.client.end();
  cleanup.push(() => { try { binding().setLinger(fdOf(halfClosed.client as never), true, 0); } catch { /* gone */ } halfClosed.close(); });
  sockets.push(unconnected, destroyed, halfClosed.client);
  for (const fd of fds) expect(fd).toBeGreaterThan(2);
  return { sockets, fds: fds.filter((fd) => fd > 2), cleanup };
}

function isTypedError(e: unknown): boolean {
  if (e instanceof api.SocketError) {
    return typeof e.errno === 'number' && typeof e.syscall === 'string' && e.code !== 'UNKNOWN' && /^E[A-Z0-9]+$/.test(e.code);
  }
  if (e instanceof api.NetLingerError) return /^ERR_[A-Z_]+$/.test(e.code);
  if (e instanceof TypeError || e instanceof RangeError) return ARG_CODES.has((e as { code?: string }).code ?? '');
  return false;
}

// Its guard that no foreign descriptor is touched reads the POSIX descriptor table (fds 0-2 and
// /proc/self/fd); Windows has no such table to check against.
describe.skipIf(process.platform === 'win32')('fuzz: every exported function, generated arguments', () => {
  let owned: Owned;
  let dir: string;
  let limit: number;
  let before: Map<number, string>;
  let std: fs.Stats[];

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'net-linger-fuzz-'));
    limit = fdLimit();
    owned = await ownResources(dir);
    before = openFds();
    std = [0, 1, 2].map((fd) => fs.fstatSync(fd));
  });

  afterAll(() => {
    for (const fn of owned?.cleanup ?? []) { try { fn(); } catch { /* best effort */ } }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  // Descriptor-like values that are safe to hand to the OS.
  const ownedFd = () => fc.constantFrom(...owned.fds);
  const neverOpen = () => fc.oneof(
    fc.integer({ min: limit, max: 2 ** 31 - 1 }),
    fc.constantFrom(2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1),
    fc.double({ min: 2 ** 31, max: 2 ** 53 - 1, noNaN: true }).map(Math.floor),
  );
  /** Any value, with integers that could name someone else's open descriptor replaced by safe ones. */
  const isUnsafeFd = (v: unknown) => (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < limit && !owned.fds.includes(v))
    || (typeof v === 'bigint' && v >= 0n && v < BigInt(limit) && !owned.fds.includes(Number(v)));
  const weird = () => fc.oneof(
    fc.constantFrom<unknown>(NaN, -0, Infinity, -Infinity, -1, -(2 ** 31), 1.5, Number.MAX_VALUE, Number.MIN_VALUE,
      -(2 ** 53), null, undefined, '', '3', '0x10', 'both', 'read', 'write', 'RDWR', true, false, 0, 1, 2, 3,
      Symbol('fuzz'), [], [1], {}, () => 1, new Int32Array(2), new Float64Array(3), new Int32Array(1),
      new Float64Array(2), new Uint32Array(2), new DataView(new ArrayBuffer(8)), Buffer.alloc(8), new Date(),
      Object.create(null), 2n ** 64n, 2n ** 64n - 1n, -1n, new Error('x'), Promise.resolve(1)),
    fc.double(), fc.integer(), fc.bigInt(), fc.string(), fc.anything(),
    fc.record({ code: fc.string(), errno: fc.oneof(fc.integer(), fc.double()), cause: fc.anything() }, { requiredKeys: [] }),
    fc.integer().map((n) => ({ get fd() { return n; }, get code() { return n; }, valueOf() { return n; } })),
  );
  const fakeSocket = () => fc.record({
    fd: fc.oneof(ownedFd(), neverOpen(), fc.constantFrom<unknown>(-1, NaN, '5', undefined, null, 1.5, -2)),
    hasHandle: fc.boolean(),
    destroyed: fc.boolean(),
  }).map(({ fd, hasHandle, destroyed }) => Object.create(net.Socket.prototype, {
    _handle: { get: () => (hasHandle ? { fd } : null) },
    destroyed: { value: destroyed },
  }) as net.Socket);
  const target = () => fc.oneof(
    { arbitrary: ownedFd(), weight: 4 },
    { arbitrary: ownedFd().map(BigInt), weight: 1 },
    { arbitrary: neverOpen(), weight: 2 },
    { arbitrary: neverOpen().map(BigInt), weight: 1 },
    { arbitrary: fc.constantFrom(...owned.sockets), weight: 4 },
    { arbitrary: fakeSocket(), weight: 2 },
    { arbitrary: weird().map((v) => (isUnsafeFd(v) ? 2 ** 31 - 1 : v)), weight: 3 },
  );
  const any = () => fc.oneof(weird(), fc.constantFrom<unknown>(true, false, 0, 1, 'read', 'write', 'both', 0, 2, 7, 2 ** 31 - 1));
  const onoff = () => fc.oneof({ arbitrary: fc.constantFrom<unknown>(true, false, 0, 1), weight: 3 }, { arbitrary: any(), weight: 1 });
  const seconds = () => fc.oneof({ arbitrary: fc.integer({ min: 0, max: 600 }), weight: 3 }, { arbitrary: any(), weight: 1 });
  const how = () => fc.oneof({ arbitrary: fc.constantFrom<unknown>('read', 'write', 'both', 0, 1, 2), weight: 3 }, { arbitrary: any(), weight: 1 });
  const outArray = () => fc.oneof({ arbitrary: fc.constantFrom<unknown>(new Int32Array(2), new Float64Array(3)), weight: 3 }, { arbitrary: any(), weight: 1 });
  const platform = () => fc.oneof(fc.constantFrom<unknown>('linux', 'darwin', 'win32', 'aix', undefined), any());

  // [name, call(args), what a successful return must look like]
  type Case = { name: string; args: () => fc.Arbitrary<unknown[]>; call: (args: unknown[]) => unknown; returns: (r: unknown) => boolean };
  const cases = (): Case[] => [
    { name: 'setLinger', args: () => fc.tuple(target(), onoff(), seconds()), call: (a) => api.setLinger(a[0] as never, a[1] as never, a[2] as never), returns: (r) => r === undefined },
    { name: 'setLinger (2 args)', args: () => fc.tuple(target(), onoff()), call: (a) => api.setLinger(a[0] as never, a[1] as never), returns: (r) => r === undefined },
    { name: 'getLinger', args: () => fc.tuple(target()), call: (a) => api.getLinger(a[0] as never),
      returns: (r) => typeof (r as api.LingerSetting).onoff === 'boolean' && Number.isInteger((r as api.LingerSetting).seconds) },
    { name: 'shutdown', args: () => fc.tuple(target(), how()), call: (a) => api.shutdown(a[0] as never, a[1] as never), returns: (r) => r === undefined },
    { name: 'pendingBytes', args: () => fc.tuple(target()), call: (a) => api.pendingBytes(a[0] as never),
      returns: (r) => Number.isInteger((r as api.PendingBytes).unread) && ((r as api.PendingBytes).unacked === null || Number.isInteger((r as api.PendingBytes).unacked)) },
    { name: 'maxLingerSeconds', args: () => fc.array(any(), { maxLength: 2 }), call: (a) => (api.maxLingerSeconds as (...x: unknown[]) => number)(...a), returns: (r) => r === 2 ** 31 - 1 || r === 327 || r === 65535 },
    { name: 'normalizeErrorCode', args: () => fc.tuple(any(), platform()), call: (a) => api.normalizeErrorCode(a[0], a[1] as string),
      returns: (r) => r === undefined || (typeof r === 'string' && /^E[A-Z0-9]+$/.test(r)) },
    { name: 'isConnectionReset', args: () => fc.tuple(any(), platform()), call: (a) => api.isConnectionReset(a[0], a[1] as string), returns: (r) => typeof r === 'boolean' },
    // The raw addon under the API: its own checks must hold for anything that gets past TypeScript.
    { name: 'native setLinger', args: () => fc.tuple(target(), onoff(), seconds()), call: (a) => binding().setLinger(a[0] as never, a[1] as never, a[2] as never), returns: (r) => Number.isInteger(r) },
    { name: 'native getLinger', args: () => fc.tuple(target(), outArray()), call: (a) => binding().getLinger(a[0] as never, a[1] as never), returns: (r) => Number.isInteger(r) },
    { name: 'native shutdown', args: () => fc.tuple(target(), how()), call: (a) => binding().shutdown(a[0] as never, a[1] as never), returns: (r) => Number.isInteger(r) },
    { name: 'native pendingBytes', args: () => fc.tuple(target(), outArray()), call: (a) => binding().pendingBytes(a[0] as never, a[1] as never), returns: (r) => Number.isInteger(r) },
  ];

  it(`${RUNS.toLocaleString('en-US')} generated calls: each returns its promised shape or throws a typed error`, () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const all = cases();
    const counts = new Map<string, number>(all.map((c) => [c.name, 0]));
    const outcomes = new Map<string, number>();
    const tally = (key: string) => outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
    // Native fds of raw targets must be owned or never-open: checked on every generated call.
    const safeTarget = (t: unknown) => typeof t !== 'number' && typeof t !== 'bigint'
      ? true
      : !isUnsafeFd(t) || (typeof t === 'number' && !Number.isInteger(t));
    try {
      fc.assert(
        fc.property(fc.oneof(...all.map((c) => c.args().map((args) => ({ c, args })))), ({ c, args }) => {
          if (c.name !== 'maxLingerSeconds' && c.name !== 'normalizeErrorCode' && c.name !== 'isConnectionReset') expect(safeTarget(args[0])).toBe(true);
          counts.set(c.name, (counts.get(c.name) ?? 0) + 1);
          let result: unknown;
          try {
            result = c.call(args);
          } catch (e) {
            if (!isTypedError(e)) throw new Error(`${c.name} threw an untyped error: ${String((e as Error)?.stack ?? e)}`);
            tally(`${c.name}: ${(e as { code: string }).code}`);
            return;
          }
          if (!c.returns(result)) throw new Error(`${c.name} returned ${String(result)}`);
          tally(`${c.name}: returned`);
        }),
        { numRuns: RUNS, seed: SEED },
      );
    } finally {
      warn.mockRestore();
    }
    for (const [name, count] of counts) expect(count, name).toBeGreaterThan(RUNS / (all.length * 4));
    if (process.env.NET_LINGER_FUZZ_VERBOSE) console.log(Object.fromEntries([...outcomes].sort()));
    // The fuzz reached the OS, both ways, for every socket function.
    if (RUNS >= 10_000) {
      for (const name of ['setLinger', 'getLinger', 'shutdown', 'pendingBytes']) {
        expect(outcomes.get(`${name}: returned`), name).toBeGreaterThan(0);
        expect(outcomes.get(`${name}: EBADF`), name).toBeGreaterThan(0);
        expect(outcomes.get(`${name}: ${name === 'pendingBytes' ? 'ENOTTY' : 'ENOTSOCK'}`), name).toBeGreaterThan(0);
        expect(outcomes.get(`${name}: ERR_INVALID_ARG_TYPE`), name).toBeGreaterThan(0);
      }
    }
  });

  it('disturbed no descriptor it did not own (and fds 0-2 are the same files)', () => {
    [0, 1, 2].forEach((fd, i) => {
      const now = fs.fstatSync(fd);
      expect([now.dev, now.ino]).toEqual([std[i].dev, std[i].ino]);
    });
    // Other test files share the descriptor table in the threads pool, so only a forked worker
    // can compare the whole table.
    if (!isMainThread) return;
    const after = openFds();
    for (const [fd, target] of before) {
      if (owned.fds.includes(fd)) continue;
      if (!after.has(fd)) continue; // vitest may close its own (e.g. a finished pipe); we never pass such numbers
      expect(after.get(fd), `fd ${fd}`).toBe(target);
    }
    for (const fd of owned.fds) expect(after.has(fd), `owned fd ${fd} still open`).toBe(true);
  });
});

// Exported helpers that trust their input: bad input surfaces as a plain TypeError with no code.
describe('fuzz: exported helpers without argument validation (known gaps)', () => {
  const garbage = fc.oneof(fc.constantFrom<unknown>(null, undefined, 0, '', Symbol('x')), fc.anything());
  const typedOrReturns = (fn: () => unknown) => {
    try { fn(); } catch (e) { if (!isTypedError(e)) throw e; }
  };

  it('describeStep / describeCloser / describePeer / describeExpectation reject garbage with a typed error', () => {
    fc.assert(fc.property(garbage, garbage, (a, b) => {
      typedOrReturns(() => lab.describeStep(a as never));
      typedOrReturns(() => lab.describeCloser(a as never));
      typedOrReturns(() => lab.describePeer(a as never));
      typedOrReturns(() => lab.describeExpectation(a as never, b as never));
      typedOrReturns(() => lab.describeWireClaim(a as never));
      typedOrReturns(() => lab.formatHtml(a as never));
      // Garbage never opens a capture: a typed refusal before anything is touched.
      typedOrReturns(() => lab.startCapture(a as never).stop());
    }), { numRuns: 200, seed: SEED });
  });

  it('new SocketError(syscall, errno) with a Symbol syscall throws a typed error', () => {
    typedOrReturns(() => new api.SocketError(Symbol('syscall') as never, 104));
  });

  it('runScenario(null) rejects with a typed error', async () => {
    await lab.runScenario(null as never).then(
      () => { throw new Error('resolved'); },
      (e) => { if (!isTypedError(e)) throw e; },
    );
  });
});
