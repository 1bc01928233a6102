// Leaks under load: many loopback connections, each closed one of Node's ways while a fault is
// injected (the peer resets, stays silent, half-closes, the closer aborts), with setLinger /
// getLinger / shutdown / pendingBytes called on the sockets as they are reset, half-closed and
// destroyed. Afterwards the descriptors, active handles and timers are back to where they
// started, and RSS stays flat from round to round.
// NET_LINGER_LEAK_CONNECTIONS sets the total (npm test: 2,000; npm run test:leaks: 10,000).
import fs from 'node:fs';
import net from 'node:net';
import v8 from 'node:v8';
import vm from 'node:vm';
import { describe, expect, it, vi } from 'vitest';
import { NetLingerError, SocketError, getLinger, gracefulClose, lingerClose, pendingBytes, resetClose, setLinger, shutdown } from '../../src/index';

const TOTAL = Number(process.env.NET_LINGER_LEAK_CONNECTIONS ?? 2000);
const PER_ROUND = Math.min(TOTAL <= 2000 ? 500 : 1000, TOTAL);
const ROUNDS = Math.max(2, Math.ceil(TOTAL / PER_ROUND));

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

type Fault = 'none' | 'peer-resets' | 'peer-silent' | 'peer-half-closes' | 'abort';
const FAULTS: Fault[] = ['none', 'peer-resets', 'peer-silent', 'peer-half-closes', 'abort'];

const closed = (s: net.Socket) => new Promise<void>((resolve) => (s.closed ? resolve() : s.once('close', () => resolve())));

/** How the closer closes; each resolves once Node reports the socket closed. */
const CLOSERS: Array<{ name: string; close: (s: net.Socket) => Promise<void> }> = [
  { name: 'resetClose()', close: (s) => resetClose(s).then(() => undefined) },
  // A silent peer never sends its FIN: the helper's own caps end the close.
  { name: 'gracefulClose()', close: (s) => gracefulClose(s, { lingeringTime: 300, lingeringTimeout: 200 }).then(() => undefined) },
  { name: 'lingerClose(s, 1)', close: (s) => lingerClose(s, 1, { onTimeout: 'reset' }).then(() => undefined) },
  { name: 'resetAndDestroy()', close: (s) => { s.resetAndDestroy(); return closed(s); } },
  { name: 'destroy()', close: (s) => { s.destroy(); return closed(s); } },
  { name: 'setLinger(on, 0) + destroy()', close: (s) => { try { setLinger(s, true, 0); } catch (e) { expectTyped(e); } s.destroy(); return closed(s); } },
  {
    // A silent peer never answers the FIN, so a graceful close needs a deadline, as any server has.
    name: 'end(), destroy() after 200 ms',
    close: (s) => {
      s.end();
      const deadline = setTimeout(() => s.destroy(), 200);
      return closed(s).then(() => clearTimeout(deadline));
    },
  },
];

function expectTyped(e: unknown): void {
  if (e instanceof SocketError || e instanceof NetLingerError) return;
  throw e;
}

/** Every call the package offers, on a socket in whatever state it is in; typed errors are fine. */
function poke(s: net.Socket): void {
  for (const call of [() => pendingBytes(s), () => getLinger(s), () => setLinger(s, true, 0)]) {
    try { call(); } catch (e) { expectTyped(e); }
  }
}

function fdCount(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

function resources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const name of process.getActiveResourcesInfo()) counts[name] = (counts[name] ?? 0) + 1;
  return counts;
}

async function settle(check: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
}

async function round(count: number, roundIndex: number): Promise<void> {
  const listener = net.createServer({ pauseOnConnect: true });
  listener.maxConnections = count + 10;
  await new Promise<void>((resolve) => listener.listen({ port: 0, host: '127.0.0.1', backlog: 1024 }, resolve));
  const port = (listener.address() as net.AddressInfo).port;
  const peers: net.Socket[] = [];
  listener.on('connection', (s) => { s.on('error', () => undefined); peers.push(s); });
  const work: Array<Promise<void>> = [];
  const lanes = 64;
  let next = 0;
  async function lane(): Promise<void> {
    while (next < count) {
      const i = next++;
      const fault = FAULTS[i % FAULTS.length];
      const closer = CLOSERS[(i + roundIndex) % CLOSERS.length];
      const abort = new AbortController();
      const client = new net.Socket({ signal: abort.signal });
      client.on('error', () => undefined);
      await new Promise<void>((resolve) => {
        client.once('connect', resolve);
        client.once('close', resolve);
        client.connect(port, '127.0.0.1');
      });
      // Wait for this connection's accepted end.
      await settle(() => peers.length > i, 2000);
      const peer = peers[i];
      poke(client);
      work.push(inject(fault, client, peer, abort).then(() => closer.close(client)).then(() => {
        poke(client); // destroyed: typed ERR_SOCKET_NO_HANDLE, never a crash
        peer.destroy();
      }));
    }
  }
  await Promise.all(Array.from({ length: lanes }, lane));
  await Promise.all(work);
  // A connection left open would keep close() waiting: give up after a while and let the counts tell.
  await new Promise<void>((resolve) => {
    const deadline = setTimeout(resolve, 5000);
    listener.close(() => { clearTimeout(deadline); resolve(); });
  });
}

async function inject(fault: Fault, client: net.Socket, peer: net.Socket | undefined, abort: AbortController): Promise<void> {
  switch (fault) {
    case 'peer-resets':
      peer?.resetAndDestroy();
      await settle(() => client.destroyed || client.readableEnded, 50);
      poke(client);
      return;
    case 'peer-silent':
      client.write(Buffer.alloc(64 * 1024));
      poke(client);
      return;
    case 'peer-half-closes':
      peer?.resume();
      peer?.end();
      await settle(() => client.readableEnded || client.destroyed, 200);
      poke(client);
      if (!client.destroyed) { try { shutdown(client, 'read'); } catch (e) { expectTyped(e); } }
      return;
    case 'abort':
      abort.abort();
      poke(client);
      return;
    default:
      peer?.resume();
      poke(client);
  }
}

// Descriptor and handle counts are per process: in the threads pool other files share them.
describe.skipIf(process.platform !== 'linux')('leaks under load', () => {
  it(`${(ROUNDS * PER_ROUND).toLocaleString('en-US')} connections with injected faults leave no descriptor, handle, timer or RSS growth`, async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      await round(50, 0); // warm up: first-use allocations are not leaks
      gc();
      await settle(() => !('TCPSocketWrap' in resources()) && !('TCPServerWrap' in resources()));
      const fdsBefore = fdCount();
      const before = resources();
      const rss: number[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        await round(PER_ROUND, r);
        gc();
        rss.push(process.memoryUsage.rss());
      }
      await settle(() => fdCount() <= fdsBefore);
      expect(fdCount()).toBeLessThanOrEqual(fdsBefore);
      await settle(() => JSON.stringify(resources()) === JSON.stringify(before));
      expect(resources()).toEqual(before);
      // Flat: after the first round, RSS grows by no more than a generous margin (allocator noise).
      // Under AddressSanitizer freed memory sits in its quarantine, so RSS says nothing there.
      if (process.env.ASAN_OPTIONS) return;
      const growthMiB = (Math.max(...rss.slice(1)) - rss[0]) / 2 ** 20;
      expect(growthMiB, `RSS per round (MiB): ${rss.map((b) => (b / 2 ** 20).toFixed(1)).join(', ')}`).toBeLessThan(32);
    } finally {
      warn.mockRestore();
    }
  }, 120_000);
});
