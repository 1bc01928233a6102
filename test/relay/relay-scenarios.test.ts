// Transparency: every connection row of the scenario table played with relay() in the middle,
// judged by the same claims as the direct run (test/scenarios-ipv4/6 play them directly): bytes,
// half-close, FIN, RST, the error and the call that reported it, the closer's TIME_WAIT. The few
// rows where one hop more changes what can be observed say why, and what is seen instead.
// Forks pool only: the relay is plain JavaScript, and the rows are already played in both pools.
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { relay, type RelayReport } from '../../src/relay/relay';
import { runScenario, type Via } from '../../src/lab/runner';
import { type ConnectionObservation, type Family } from '../../src/lab/observation';
import { SCENARIOS, currentRuntime, type ConnectionScenario, type Platform } from '../../src/lab/scenarios';
import { guardResources } from '../close/support';

const platform = process.platform as Platform;
const rows = SCENARIOS.filter((s): s is ConnectionScenario => s.kind === 'connection');

guardResources();

/**
 * A relay on loopback in front of the closer. Its sockets are created the way a careless proxy
 * creates them, without allowHalfOpen: relay() must half-close them anyway.
 */
function relayVia(family: Family, reports: Promise<RelayReport>[]): Via {
  return async (closer) => {
    const server = net.createServer((client) => {
      server.close();
      reports.push(relay(client, net.connect(closer.port, closer.host)));
    });
    await new Promise<void>((resolve) => server.listen(0, family === 6 ? '::1' : '127.0.0.1', resolve));
    return { host: closer.host, port: (server.address() as net.AddressInfo).port };
  };
}

const oldLibuv = currentRuntime().name === 'node' && (() => {
  const [major, minor] = (process.versions.uv ?? '0.0').split('.').map(Number);
  return major === 1 && minor < 52;
})();

interface Difference {
  /** Why the relay cannot make this row look exactly as it does directly. */
  why: string;
  /** What is observed through the relay instead. */
  check(relayed: ConnectionObservation): void;
}

/**
 * Rows where one hop more changes what a side can observe, with what it observes instead.
 * Nothing else may differ.
 */
const DIFFERENCES: Readonly<Record<string, Difference>> = {
  'send-after-reset': {
    why: 'The RST reaches the peer one event-loop turn later than directly: the peer\'s first write is taken by the relay, so the reset is reported by its next read. Same code, other call.',
    check(relayed) {
      expect(relayed.peer).toMatchObject({ outcome: 'ECONNRESET', syscall: 'read', received: 0 });
    },
  },
  'linger-zero': {
    why: "The relay's buffers can hold everything the closer's kernel had accepted, so the RST may find nothing left to discard: the peer reads part or all of the data, then ECONNRESET. On libuv before 1.52 the relay's own socket may be told EOF for the closer's RST (it arrives with data queued), and the relay passes on the FIN it was told of.",
    check(relayed) {
      expect(oldLibuv ? ['ECONNRESET', 'eof'] : ['ECONNRESET']).toContain(relayed.peer.outcome);
      expect(relayed.peer.received).toBeLessThanOrEqual(relayed.closer.sent);
      // Only Linux can tell (null elsewhere).
      if (relayed.closer.timeWait !== null) expect(relayed.closer.timeWait).toBe(false);
    },
  },
  'linger-close-timeout': {
    why: "The relay's own buffers take bytes the closer's send queue still held when lingerClose gave up: the peer reads every byte and EOF, more than the closer counted as handed to its kernel.",
    check(relayed) {
      expect(relayed.peer.outcome).toBe('eof');
      expect(relayed.peer.received).toBeGreaterThanOrEqual(relayed.closer.sent);
    },
  },
  'reset-close': {
    why: 'libuv before 1.52 may report the RST as EOF after a short read (timing decides); the peer\'s next write then fails EPIPE, as Linux reports a reset in CLOSE_WAIT. As for linger-zero, the relay\'s buffers may leave the RST nothing to discard.',
    check(relayed) {
      expect(['ECONNRESET', 'EPIPE']).toContain(relayed.peer.outcome);
      expect(relayed.peer.received).toBeLessThanOrEqual(relayed.closer.sent);
    },
  },
  'reset-close-after-end': {
    why: 'As reset-close.',
    check(relayed) {
      expect(['ECONNRESET', 'EPIPE']).toContain(relayed.peer.outcome);
      expect(relayed.peer.received).toBeLessThanOrEqual(relayed.closer.sent);
    },
  },
  ...(oldLibuv ? {
    // libuv before 1.52 (uv__stream_io) reads POLLHUP after a short read as EOF. Directly, the RST
    // lands while the peer's queue is full; through the relay it comes later, on its own.
    'reset-reported-as-eof': {
      why: 'libuv before 1.52 hides an RST that arrives with the data as EOF; through the relay the RST arrives after the data, and the peer sees the reset that was really sent.',
      check(relayed) {
        expect(['eof', 'ECONNRESET']).toContain(relayed.peer.outcome);
        expect(relayed.peer.received).toBeLessThanOrEqual(relayed.closer.sent);
      },
    },
  } : {}),
};

for (const family of [4, 6] as const) {
  // Linux and Windows (run under Wine 10 by npm run test:windows): the platforms the table claims.
  describe.skipIf(!['linux', 'win32'].includes(platform))(`relay() in the middle of the scenario table over IPv${family}`, () => {
    for (const row of rows) {
      const claimed = row.expect[platform] !== undefined;
      (claimed ? it : it.skip)(`${row.name}: each side observes what it observes directly`, async () => {
        const reports: Promise<RelayReport>[] = [];
        const relayed = await runScenario(row, { family, via: relayVia(family, reports) });
        const r = relayed.observed as ConnectionObservation;
        expect(r, relayed.error).not.toBeNull();
        const difference = DIFFERENCES[row.name];
        if (difference) difference.check(r);
        else expect(relayed.mismatches, `through the relay: ${JSON.stringify(r)}`).toEqual([]);
        // The relay finished: both of its sockets closed, the report in.
        expect(reports).toHaveLength(1);
        const report = await reports[0];
        expect(report.bytes.aToB + report.bytes.bToA).toBeGreaterThanOrEqual(0);
      });
    }
  });
}
