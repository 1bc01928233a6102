/**
 * The rows that exist only off loopback (`net-linger lab --condition`): the same kind of row,
 * claims and variants as src/lab/scenarios.ts, each with the condition it is played under.
 * Loopback has no round-trip time and no loss, so a peer that vanished, a slow link or a lost
 * segment never happen there. Normal `net-linger lab` never runs these.
 */
import { closer, network, peer, type Condition, type ConnectionScenario } from './scenarios.js';

const XNU_NONBLOCKING_LINGER = 'XNU bsd/kern/uipc_socket.c soclose_locked: a non-blocking socket does not wait for the linger time';
const WINSOCK_NONBLOCKING_LINGER = 'Microsoft closesocket() docs: a non-blocking socket with a nonzero linger time fails WSAEWOULDBLOCK; refused for Node sockets (ERR_NET_LINGER_UNSUPPORTED)';
const NO_NAMESPACES = 'needs network namespaces, which only Linux has';

export const CONDITION_SCENARIOS: readonly (ConnectionScenario & { condition: Condition })[] = [
  {
    kind: 'connection',
    condition: 'blackhole',
    name: 'vanished-linger-timeout',
    title: 'SO_LINGER {1,1} + close against a peer that vanished',
    why: 'The case SO_LINGER is for: nothing can be acknowledged, so close() holds the thread the whole second; when the time runs out Linux sends no RST and keeps retransmitting (FIN_WAIT1) as an orphan.',
    steps: [
      closer.send(16 * 1024),
      peer.waitReceived(16 * 1024),
      network.vanish(),
      closer.send(4096),
      closer.setLinger(1, 1),
      closer.close(),
    ],
    expect: {
      linux: {
        peer: { outcome: 'open', received: 'partial' },
        closer: { blockedAtLeastMs: 900, state: 'FIN_WAIT1' },
        wire: { closerSends: 'FIN', noRst: true },
        note: 'tcp_close() in net/ipv4/tcp.c queues the FIN, waits in sk_stream_wait_close(), then orphans the socket',
      },
    },
    unverified: { darwin: XNU_NONBLOCKING_LINGER, win32: WINSOCK_NONBLOCKING_LINGER },
  },
  {
    kind: 'connection',
    condition: 'blackhole',
    name: 'vanished-linger-close',
    title: 'lingerClose(1 s) against a peer that vanished',
    why: 'The same wait on timers: the report says timeout after 1 s, the event loop never froze, and (onTimeout close) the kernel keeps the unacknowledged data and FIN in FIN_WAIT1.',
    steps: [
      closer.send(16 * 1024),
      peer.waitReceived(16 * 1024),
      network.vanish(),
      closer.send(4096),
      closer.lingerClose(1),
      closer.awaitClose(),
    ],
    expect: {
      linux: {
        peer: { outcome: 'open', received: 'partial' },
        closer: { state: 'FIN_WAIT1', report: { outcome: 'timeout', reset: false, elapsedAtLeastMs: 900, elapsedAtMostMs: 3000 } },
        wire: { closerSends: 'FIN', noRst: true },
      },
    },
    unverified: { darwin: NO_NAMESPACES, win32: NO_NAMESPACES },
  },
  {
    kind: 'connection',
    condition: 'blackhole',
    name: 'vanished-graceful-close',
    title: 'gracefulClose() against a peer that vanished, onTimeout reset',
    why: 'The peer never sends its FIN: lingeringTimeout ends the wait, and the RST (lost on the way) frees the connection at once instead of leaving an orphan retransmitting for minutes.',
    steps: [
      closer.send(16 * 1024),
      peer.waitReceived(16 * 1024),
      network.vanish(),
      closer.gracefulClose({ lingeringTimeout: 500, onTimeout: 'reset' }),
      closer.awaitClose(),
    ],
    expect: {
      linux: {
        peer: { outcome: 'open', received: 'all' },
        closer: { state: 'gone', report: { outcome: 'timeout', reset: true, elapsedAtLeastMs: 400, elapsedAtMostMs: 3000 } },
        wire: { closerSends: 'FIN', closerRstLost: true },
      },
    },
    unverified: { darwin: NO_NAMESPACES, win32: NO_NAMESPACES },
  },
  {
    kind: 'connection',
    condition: 'blackhole',
    name: 'reset-lost',
    title: 'A reset lost on the way (close with unread data)',
    why: 'The close that resets the peer on loopback (close-with-unread-data): here its one RST is lost, TCP never sends it again, and the peer never learns; the closer keeps nothing.',
    steps: [peer.send(1000), closer.waitUnread(1000), network.vanish(), closer.close()],
    expect: {
      linux: { peer: { outcome: 'open' }, closer: { state: 'gone', timeWait: false }, wire: { closerSends: 'RST', closerRstLost: true } },
    },
    unverified: { darwin: NO_NAMESPACES, win32: NO_NAMESPACES },
  },
  {
    kind: 'connection',
    condition: 'blackhole',
    name: 'reset-lost-then-peer-sends',
    title: 'A lost reset, then the network is back and the peer sends',
    why: 'The peer learns only when it next sends: the closer\'s kernel has no connection left and answers with an RST of its own.',
    steps: [peer.send(1000), closer.waitUnread(1000), network.vanish(), closer.close(), network.restore(), peer.writeUntilError()],
    expect: {
      linux: { peer: { outcome: 'ECONNRESET' }, closer: { state: 'gone' }, wire: { closerSends: 'RST', closerRstLost: false } },
    },
    unverified: { darwin: NO_NAMESPACES, win32: NO_NAMESPACES },
  },
  {
    kind: 'connection',
    condition: 'slow',
    name: 'slow-linger-timeout',
    title: 'SO_LINGER {1,1} + close with more queued than the link carries in a second',
    why: 'close() blocks the whole second; when the time runs out Linux sends no RST: what the kernel holds still drains afterwards, and the peer reads all of it, then EOF.',
    steps: [closer.send(512 * 1024), closer.setLinger(1, 1), closer.close(), peer.waitEof()],
    expect: {
      linux: { peer: { outcome: 'eof', received: 'all' }, closer: { blockedAtLeastMs: 900 }, wire: { closerSends: 'FIN', noRst: true } },
    },
    unverified: { darwin: XNU_NONBLOCKING_LINGER, win32: WINSOCK_NONBLOCKING_LINGER },
  },
  {
    kind: 'connection',
    condition: 'slow',
    name: 'slow-linger-close',
    title: 'lingerClose(2 s) over a slow link',
    why: 'lingerClose waits as long as the link needs (128 KiB at 2 Mbit/s: about half a second from the first byte), on timers, then closes once everything is acknowledged.',
    steps: [closer.send(128 * 1024), closer.lingerClose(2), closer.awaitClose(), peer.waitEof()],
    expect: {
      linux: {
        peer: { outcome: 'eof', received: 'all' },
        closer: { report: { outcome: 'acked', reset: false, elapsedAtLeastMs: 200, elapsedAtMostMs: 2000 } },
        wire: { closerSends: 'FIN', noRst: true },
      },
    },
    unverified: { darwin: NO_NAMESPACES, win32: NO_NAMESPACES },
  },
  {
    kind: 'connection',
    condition: 'lossy',
    name: 'lossy-plain-close',
    title: 'Plain close over a lossy link',
    why: 'Lost segments, FIN included, are sent again: the peer still reads every byte, then EOF.',
    steps: [closer.send(64 * 1024), closer.close(), peer.waitEof(), peer.end()],
    expect: {
      linux: { peer: { outcome: 'eof', received: 'all' }, wire: { closerSends: 'FIN', noRst: true } },
    },
    unverified: { darwin: NO_NAMESPACES, win32: NO_NAMESPACES },
  },
  {
    kind: 'connection',
    condition: 'lossy',
    name: 'lossy-graceful-close',
    title: 'gracefulClose() with unread data over a lossy link',
    why: 'Drained until the peer\'s FIN, with segments lost both ways: no RST, the peer reads everything and EOF.',
    steps: [
      peer.send(16 * 1024),
      closer.waitUnread(16 * 1024),
      closer.send(16 * 1024),
      closer.gracefulClose(),
      peer.waitEof(),
      peer.end(),
      closer.awaitClose(),
    ],
    expect: {
      linux: {
        peer: { outcome: 'eof', received: 'all' },
        closer: { outcome: 'eof', received: 16 * 1024, report: { outcome: 'fin', reset: false } },
        wire: { closerSends: 'FIN', noRst: true },
      },
    },
    unverified: { darwin: NO_NAMESPACES, win32: NO_NAMESPACES },
  },
  {
    kind: 'connection',
    condition: 'lossy',
    name: 'lossy-linger-close',
    title: 'lingerClose(2 s) over a lossy link',
    why: 'Every byte acknowledged despite the losses, well within the time: the report says acked.',
    steps: [closer.send(32 * 1024), closer.lingerClose(2), closer.awaitClose(), peer.waitEof()],
    expect: {
      linux: { peer: { outcome: 'eof', received: 'all' }, closer: { report: { outcome: 'acked', reset: false } }, wire: { closerSends: 'FIN', noRst: true } },
    },
    unverified: { darwin: NO_NAMESPACES, win32: NO_NAMESPACES },
  },
];
