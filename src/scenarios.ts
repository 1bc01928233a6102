/**
 * THE scenario table: one row per behaviour, what each side does and what must be observed on
 * each platform. It drives the test suite, the lab (`net-linger lab`) and the README's table.
 * A platform without an expectation is not claimed for that platform.
 */

export type Platform = 'linux' | 'darwin' | 'win32';

/** What one side of the connection does, in order. The closer is the side under study. */
export type Step =
  | { actor: 'peer'; do: 'send'; bytes: number }
  | { actor: 'peer'; do: 'pause' }
  | { actor: 'peer'; do: 'resume' }
  | { actor: 'peer'; do: 'wait-eof' }
  | { actor: 'peer'; do: 'end' }
  | { actor: 'peer'; do: 'write-until-error' }
  | { actor: 'closer'; do: 'send'; bytes: number }
  | { actor: 'closer'; do: 'fill-send-queue' }
  | { actor: 'closer'; do: 'wait-unread'; bytes: number }
  | { actor: 'closer'; do: 'set-linger'; onoff: 0 | 1; seconds: number }
  | { actor: 'closer'; do: 'shutdown'; how: 'read' | 'write' | 'both' }
  | { actor: 'closer'; do: 'read'; bytes: number }
  | { actor: 'closer'; do: 'read-until-fin' }
  | { actor: 'closer'; do: 'close' }
  | { actor: 'closer'; do: 'end' }
  | { actor: 'closer'; do: 'reset-close' }
  | { actor: 'closer'; do: 'graceful-close'; lingeringTimeout?: number; onTimeout?: 'reset' | 'destroy' }
  | { actor: 'closer'; do: 'linger-close'; seconds: number; onTimeout?: 'reset' | 'close' }
  | { actor: 'closer'; do: 'await-close' };

/** How a side's connection ended up: 'eof' (read returned 0), 'open', or an error code. */
export type Outcome = 'eof' | 'open' | string;

export interface ConnectionExpectation {
  peer: {
    outcome: Outcome;
    /** 'all': every byte the closer handed to its kernel; 'partial': some but not all; 'none'. */
    received?: 'all' | 'partial' | 'none';
    /** The call that reported the error: 'read' or 'write'. */
    syscall?: 'read' | 'write';
  };
  closer?: {
    outcome?: Outcome;
    received?: number;
    /** A TIME_WAIT entry left for this connection on the closer's side (Linux: /proc/net/tcp*). */
    timeWait?: boolean;
    /** close() blocked the calling thread (and so Node's event loop) for at least this long. */
    blockedAtLeastMs?: number;
  };
}

export interface ConnectionScenario {
  kind: 'connection';
  name: string;
  title: string;
  /** Why this row matters, in a sentence. */
  why: string;
  steps: readonly Step[];
  /** Run in a child process: close() blocks its thread on purpose. */
  isolate?: boolean;
  expect: Partial<Record<Platform, ConnectionExpectation>>;
  /** Platforms documented elsewhere but not verified here, with the source. */
  unverified?: Partial<Record<Platform, string>>;
}

/** A call on something that is not a connected TCP socket. */
export type CallSubject = 'fd-not-open' | 'not-a-socket' | 'tcp-after-reset' | 'udp-unconnected';

export interface CallScenario {
  kind: 'call';
  name: string;
  title: string;
  why: string;
  subject: CallSubject;
  call: 'shutdown-write' | 'set-linger' | 'get-linger' | 'pending-bytes';
  /** The normalised code the call must fail with. */
  expect: Partial<Record<Platform, { code: string }>>;
  unverified?: Partial<Record<Platform, string>>;
}

export type Scenario = ConnectionScenario | CallScenario;

// Step builders keep the table readable.
export const peer = {
  send: (bytes: number): Step => ({ actor: 'peer', do: 'send', bytes }),
  pause: (): Step => ({ actor: 'peer', do: 'pause' }),
  resume: (): Step => ({ actor: 'peer', do: 'resume' }),
  waitEof: (): Step => ({ actor: 'peer', do: 'wait-eof' }),
  end: (): Step => ({ actor: 'peer', do: 'end' }),
  writeUntilError: (): Step => ({ actor: 'peer', do: 'write-until-error' }),
};
export const closer = {
  send: (bytes: number): Step => ({ actor: 'closer', do: 'send', bytes }),
  fillSendQueue: (): Step => ({ actor: 'closer', do: 'fill-send-queue' }),
  waitUnread: (bytes: number): Step => ({ actor: 'closer', do: 'wait-unread', bytes }),
  setLinger: (onoff: 0 | 1, seconds: number): Step => ({ actor: 'closer', do: 'set-linger', onoff, seconds }),
  shutdown: (how: 'read' | 'write' | 'both'): Step => ({ actor: 'closer', do: 'shutdown', how }),
  read: (bytes: number): Step => ({ actor: 'closer', do: 'read', bytes }),
  readUntilFin: (): Step => ({ actor: 'closer', do: 'read-until-fin' }),
  close: (): Step => ({ actor: 'closer', do: 'close' }),
  end: (): Step => ({ actor: 'closer', do: 'end' }),
  resetClose: (): Step => ({ actor: 'closer', do: 'reset-close' }),
  /** Starts gracefulClose(); awaitClose() waits for it. */
  gracefulClose: (options: { lingeringTimeout?: number; onTimeout?: 'reset' | 'destroy' } = {}): Step =>
    ({ actor: 'closer', do: 'graceful-close', ...options }),
  /** Starts lingerClose(); awaitClose() waits for it. */
  lingerClose: (seconds: number, onTimeout?: 'reset' | 'close'): Step =>
    ({ actor: 'closer', do: 'linger-close', seconds, ...(onTimeout ? { onTimeout } : {}) }),
  awaitClose: (): Step => ({ actor: 'closer', do: 'await-close' }),
};

export const SCENARIOS: readonly Scenario[] = [
  {
    kind: 'connection',
    name: 'plain-close',
    title: 'Plain close',
    why: 'The normal active close: FIN, the peer reads everything then EOF, and the closer keeps TIME_WAIT.',
    steps: [closer.send(1000), closer.close(), peer.waitEof(), peer.end()],
    expect: {
      linux: { peer: { outcome: 'eof', received: 'all' }, closer: { timeWait: true } },
    },
  },
  {
    kind: 'connection',
    name: 'close-with-unread-data',
    title: 'Close with unread data',
    why: 'The classic cause of ECONNRESET: closing while the receive buffer still holds data sends RST, not FIN.',
    steps: [peer.send(1000), closer.waitUnread(1000), closer.close()],
    expect: {
      linux: { peer: { outcome: 'ECONNRESET', syscall: 'read' }, closer: { timeWait: false } },
    },
  },
  {
    kind: 'connection',
    name: 'linger-zero',
    title: 'SO_LINGER {1,0} + close',
    why: 'The deterministic abortive close: RST at once, unsent data thrown away, no TIME_WAIT.',
    steps: [peer.pause(), closer.fillSendQueue(), closer.setLinger(1, 0), closer.close(), peer.resume()],
    expect: {
      linux: { peer: { outcome: 'ECONNRESET', received: 'partial' }, closer: { timeWait: false } },
    },
  },
  {
    kind: 'connection',
    name: 'shutdown-write',
    title: 'shutdown(write): half-close',
    why: 'FIN without closing: the peer reads EOF and can still send; the closer still receives but can no longer send.',
    steps: [closer.shutdown('write'), peer.waitEof(), peer.send(100), closer.read(100), closer.send(10)],
    expect: {
      linux: { peer: { outcome: 'eof' }, closer: { received: 100, outcome: 'EPIPE' } },
    },
  },
  {
    kind: 'connection',
    name: 'orderly-close',
    title: 'Orderly close (send all, shutdown(write), read until FIN, close)',
    why: 'The cure for ECONNRESET: even when the peer sent data the closer never wanted, draining until its FIN avoids the reset.',
    steps: [
      peer.send(64 * 1024),
      closer.waitUnread(64 * 1024),
      closer.send(1000),
      closer.shutdown('write'),
      peer.waitEof(),
      peer.end(),
      closer.readUntilFin(),
      closer.close(),
    ],
    expect: {
      linux: { peer: { outcome: 'eof', received: 'all' }, closer: { outcome: 'eof', timeWait: true } },
    },
  },
  {
    kind: 'connection',
    name: 'shutdown-read',
    title: 'shutdown(read)',
    why: 'Linux sends nothing: the peer may keep sending, every queued byte (even one that arrived after the shutdown) is still returned, then reads return 0.',
    steps: [
      peer.send(100),
      closer.waitUnread(100),
      closer.shutdown('read'),
      peer.send(100),
      closer.waitUnread(200),
      closer.readUntilFin(),
    ],
    expect: {
      linux: { peer: { outcome: 'open' }, closer: { outcome: 'eof', received: 200 } },
    },
    unverified: {
      win32: 'Microsoft shutdown() docs: SD_RECEIVE with data queued or arriving later resets the connection',
    },
  },
  {
    kind: 'connection',
    name: 'shutdown-both-then-peer-sends',
    title: 'shutdown(both), then the peer sends',
    why: 'After both directions are shut, data from the peer is answered with RST.',
    steps: [closer.shutdown('both'), peer.waitEof(), peer.writeUntilError()],
    expect: {
      linux: { peer: { outcome: 'EPIPE', syscall: 'write' } },
    },
  },
  {
    kind: 'connection',
    name: 'send-after-reset',
    title: 'Send after a reset',
    why: 'A peer that is not reading learns of the RST on its next send.',
    steps: [peer.pause(), closer.setLinger(1, 0), closer.close(), peer.writeUntilError()],
    expect: {
      linux: { peer: { outcome: 'ECONNRESET', syscall: 'write' }, closer: { timeWait: false } },
    },
  },
  {
    kind: 'connection',
    name: 'linger-timeout-blocks',
    title: 'SO_LINGER {1,2} + close with unacknowledged data',
    why: 'A lingering close blocks the closing thread, even on a non-blocking socket: in Node, the whole event loop.',
    isolate: true,
    steps: [peer.pause(), closer.fillSendQueue(), closer.setLinger(1, 2), closer.close(), peer.resume(), peer.waitEof()],
    expect: {
      linux: { peer: { outcome: 'eof', received: 'all' }, closer: { blockedAtLeastMs: 1500 } },
    },
    unverified: {
      darwin: 'XNU bsd/kern/uipc_socket.c soclose_locked: a non-blocking socket does not wait for the linger time',
    },
  },
  {
    kind: 'call',
    name: 'error-fd-not-open',
    title: 'Descriptor not open',
    why: 'A handle that is not open fails loudly instead of acting on whatever reuses the number.',
    subject: 'fd-not-open',
    call: 'shutdown-write',
    expect: { linux: { code: 'EBADF' } },
  },
  {
    kind: 'call',
    name: 'error-not-a-socket',
    title: 'Not a socket (/dev/null)',
    why: 'A file descriptor that is not a socket.',
    subject: 'not-a-socket',
    call: 'set-linger',
    expect: { linux: { code: 'ENOTSOCK' } },
  },
  {
    kind: 'call',
    name: 'error-tcp-unconnected',
    title: 'shutdown on a TCP socket that is no longer connected (the peer reset it)',
    why: 'After an RST the socket is in CLOSE: shutdown has nothing to shut.',
    subject: 'tcp-after-reset',
    call: 'shutdown-write',
    expect: { linux: { code: 'ENOTCONN' } },
  },
  {
    kind: 'call',
    name: 'error-udp-unconnected',
    title: 'shutdown on an unconnected UDP socket',
    why: 'shutdown needs a connection.',
    subject: 'udp-unconnected',
    call: 'shutdown-write',
    expect: { linux: { code: 'ENOTCONN' } },
  },
  {
    kind: 'connection',
    name: 'reset-close',
    title: 'resetClose(): abortive close of a live Node socket',
    why: "Node's own resetAndDestroy(): RST at once, unsent data thrown away, no TIME_WAIT. (A Node peer that was not reading may read EOF first: libuv takes POLLHUP after a short read for EOF; its next write fails.)",
    steps: [peer.pause(), closer.fillSendQueue(), closer.resetClose(), peer.resume(), peer.waitEof(), peer.writeUntilError()],
    expect: {
      linux: { peer: { outcome: 'ECONNRESET', received: 'partial' }, closer: { timeWait: false } },
    },
  },
  {
    kind: 'connection',
    name: 'reset-close-after-end',
    title: 'resetClose() after end(), where resetAndDestroy() is refused',
    why: 'After end() libuv refuses a reset (EINVAL) and Node never closes the handle; SO_LINGER {1,0} + destroy() still resets.',
    steps: [peer.pause(), closer.fillSendQueue(), closer.end(), closer.resetClose(), peer.resume(), peer.waitEof(), peer.writeUntilError()],
    expect: {
      linux: { peer: { outcome: 'ECONNRESET', received: 'partial' }, closer: { timeWait: false } },
    },
  },
  {
    kind: 'connection',
    name: 'graceful-close',
    title: 'gracefulClose() with unread data from the peer',
    why: 'The same unread data that makes a plain close reset the peer: drained until its FIN, the peer reads everything and EOF.',
    steps: [
      peer.send(64 * 1024),
      closer.waitUnread(64 * 1024),
      closer.send(1000),
      closer.gracefulClose(),
      peer.waitEof(),
      peer.end(),
      closer.awaitClose(),
    ],
    expect: {
      linux: { peer: { outcome: 'eof', received: 'all' }, closer: { outcome: 'eof', received: 64 * 1024, timeWait: true } },
    },
  },
  {
    kind: 'connection',
    name: 'graceful-close-timeout',
    title: 'gracefulClose() when the peer never sends FIN',
    why: 'lingeringTimeout ends the wait; onTimeout reset frees the connection at once. The peer, already past our FIN, sees the reset as EPIPE on Linux.',
    steps: [
      closer.gracefulClose({ lingeringTimeout: 200, onTimeout: 'reset' }),
      peer.waitEof(),
      closer.awaitClose(),
      peer.writeUntilError(),
    ],
    expect: {
      linux: { peer: { outcome: 'EPIPE', syscall: 'write' }, closer: { timeWait: false } },
    },
  },
  {
    kind: 'connection',
    name: 'linger-close',
    title: 'lingerClose(): SO_LINGER {1,N} without blocking',
    why: 'Waits on timers until the peer has acknowledged every byte, then closes: the promise of a lingering close, the event loop free.',
    steps: [
      peer.pause(),
      closer.send(512 * 1024),
      closer.lingerClose(10),
      peer.resume(),
      peer.waitEof(),
      peer.end(),
      closer.awaitClose(),
    ],
    expect: {
      linux: { peer: { outcome: 'eof', received: 'all' } },
    },
  },
  {
    kind: 'connection',
    name: 'linger-close-timeout',
    title: 'lingerClose() when the time runs out',
    why: "Like Linux's SO_LINGER timeout, without freezing the loop: closed after 1 s, and what the kernel holds is still delivered.",
    steps: [peer.pause(), closer.fillSendQueue(), closer.lingerClose(1), closer.awaitClose(), peer.resume(), peer.waitEof()],
    expect: {
      linux: { peer: { outcome: 'eof', received: 'all' } },
    },
  },
];

/** One line saying what a step does, for the lab and the README. */
export function describeStep(step: Step): string {
  switch (step.do) {
    case 'send':
      return `send ${formatBytes(step.bytes)}`;
    case 'fill-send-queue':
      return 'fill the send queue';
    case 'wait-unread':
      return `wait until ${formatBytes(step.bytes)} unread`;
    case 'set-linger':
      return `setLinger(${step.onoff ? 'on' : 'off'}, ${step.seconds})`;
    case 'shutdown':
      return `shutdown(${step.how})`;
    case 'read':
      return `read ${formatBytes(step.bytes)}`;
    case 'read-until-fin':
      return 'read until FIN';
    case 'wait-eof':
      return 'wait for EOF';
    case 'write-until-error':
      return 'write until an error';
    case 'end':
      return step.actor === 'closer' ? 'end()' : 'end';
    case 'reset-close':
      return 'resetClose()';
    case 'graceful-close': {
      const options = [
        step.lingeringTimeout === undefined ? '' : `lingeringTimeout ${step.lingeringTimeout} ms`,
        step.onTimeout ? `onTimeout ${step.onTimeout}` : '',
      ].filter(Boolean);
      return `gracefulClose(${options.join(', ')})`;
    }
    case 'linger-close':
      return `lingerClose(${step.seconds} s${step.onTimeout ? `, onTimeout ${step.onTimeout}` : ''})`;
    case 'await-close':
      return 'wait for it to finish';
    default:
      return step.do;
  }
}

function formatBytes(n: number): string {
  return n >= 1024 && n % 1024 === 0 ? `${n / 1024} KiB` : `${n} B`;
}

const CALL_TEXT: Readonly<Record<CallScenario['call'], string>> = {
  'shutdown-write': 'shutdown(write)',
  'set-linger': 'setLinger(on, 0)',
  'get-linger': 'getLinger()',
  'pending-bytes': 'pendingBytes()',
};
const SUBJECT_TEXT: Readonly<Record<CallSubject, string>> = {
  'fd-not-open': 'a descriptor that is not open',
  'not-a-socket': `a descriptor that is not a socket (the null device)`,
  'tcp-after-reset': 'a TCP socket the peer has reset',
  'udp-unconnected': 'an unconnected UDP socket',
};

/** What the closer does, as one line. */
export function describeCloser(scenario: Scenario): string {
  if (scenario.kind === 'call') return `${CALL_TEXT[scenario.call]} on ${SUBJECT_TEXT[scenario.subject]}`;
  return scenario.steps.filter((s) => s.actor === 'closer').map(describeStep).join(' → ');
}

/** What the peer does, as one line. */
export function describePeer(scenario: Scenario): string {
  if (scenario.kind === 'call') return '';
  return scenario.steps.filter((s) => s.actor === 'peer').map(describeStep).join(' → ');
}

/** What the table expects on a platform, as one line; undefined where it claims nothing. */
export function describeExpectation(scenario: Scenario, platform: Platform): string | undefined {
  if (scenario.kind === 'call') {
    const expected = scenario.expect[platform];
    return expected && `fails ${expected.code}`;
  }
  const expected = scenario.expect[platform];
  if (!expected) return undefined;
  const { peer: p, closer: c } = expected;
  const parts: string[] = [];
  const received = p.received === 'all' ? 'all data' : p.received === 'partial' ? 'part of the data' : p.received === 'none' ? 'no data' : '';
  if (p.outcome === 'eof') parts.push(`peer reads ${received ? `${received}, then ` : ''}EOF`);
  else if (p.outcome === 'open') parts.push('peer sees nothing (no FIN, no RST)');
  else parts.push(`peer ${received ? `reads ${received}, then ` : ''}gets ${p.outcome}${p.syscall ? ` on ${p.syscall}` : ''}`);
  if (c?.received !== undefined) parts.push(`closer reads ${c.received} B`);
  if (c?.outcome && c.outcome !== 'open') parts.push(c.outcome === 'eof' ? 'closer reads EOF' : `closer's send fails ${c.outcome}`);
  if (c?.timeWait !== undefined) parts.push(c.timeWait ? 'closer keeps TIME_WAIT' : 'no TIME_WAIT');
  if (c?.blockedAtLeastMs !== undefined) parts.push(`close() blocks the thread ≥ ${c.blockedAtLeastMs / 1000} s`);
  return parts.join('; ');
}
