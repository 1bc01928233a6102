/**
 * THE scenario table: one row per behaviour, what each side does and what must be observed on
 * each platform. It drives the test suite, the lab (`net-linger lab`) and the README's table.
 * A platform without an expectation is not claimed for that platform.
 *
 * Longer than the other files on purpose: the rows are data, and one table read top to bottom in
 * one file is the point (its types come first; its words are in describe.ts).
 */
import { currentRuntime, type RuntimeInfo } from '../core/node-internals.js';
import { invalidArgType } from '../core/validate.js';

export type Platform = 'linux' | 'darwin' | 'win32';

/** What one side of the connection does, in order. The closer is the side under study. */
export type Step =
  | { actor: 'peer'; do: 'send'; bytes: number }
  | { actor: 'peer'; do: 'pause' }
  | { actor: 'peer'; do: 'resume' }
  | { actor: 'peer'; do: 'wait-eof' }
  | { actor: 'peer'; do: 'end' }
  | { actor: 'peer'; do: 'write-until-error' }
  | { actor: 'peer'; do: 'http-post'; contentLength: number }
  | { actor: 'peer'; do: 'wait-received'; bytes: number }
  | { actor: 'peer'; do: 'http-get'; awaitResponse: boolean }
  | { actor: 'peer'; do: 'http2-post'; contentLength: number }
  | { actor: 'closer'; do: 'pause' }
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
  | { actor: 'closer'; do: 'graceful-close'; lingeringTimeout?: number; onTimeout?: 'reset' | 'close' }
  | { actor: 'closer'; do: 'linger-close'; seconds: number; onTimeout?: 'reset' | 'close' }
  | { actor: 'closer'; do: 'await-close' }
  | { actor: 'closer'; do: 'http-413'; lingering: boolean }
  | { actor: 'closer'; do: 'http-keep-alive' }
  | { actor: 'closer'; do: 'http-idle-timeout' }
  | { actor: 'closer'; do: 'http2-413'; lingering: boolean }
  // Off loopback only (rows with a `condition`): what the network between the two does.
  | { actor: 'network'; do: 'vanish' }
  | { actor: 'network'; do: 'restore' };

/**
 * A network between closer and peer other than loopback (`net-linger lab --condition`): each
 * side in a network namespace of its own, routed through a third that plays the network.
 * 'blackhole': the peer vanishes where a row's `network: vanish` step says (every TCP segment
 * dropped both ways); 'slow': a rate-limited link (tbf); 'lossy': a share of the TCP segments
 * dropped at random each way (nftables).
 */
export type Condition = 'blackhole' | 'slow' | 'lossy';

/**
 * How a side's connection ended up: 'eof' (read returned 0), 'open', or an error code. A side
 * whose client speaks HTTP/2 itself (step 'http2-post') reports that client's request instead:
 * 'eof' for a clean end, 'stalled' for a request that neither ended nor failed, or the error's code.
 */
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
    /** The call that reported the closer's error: 'read' or 'write' (default: not checked). */
    syscall?: 'read' | 'write';
    received?: number;
    /** A TIME_WAIT entry left for this connection on the closer's side (Linux: /proc/net/tcp*). */
    timeWait?: boolean;
    /** close() blocked the calling thread (and so Node's event loop) for at least this long. */
    blockedAtLeastMs?: number;
    /** The closer's TCP state afterwards (Linux: /proc/net/tcp*), e.g. FIN_WAIT1 or 'gone'. */
    state?: string;
    /** What the close helper's report said (resetClose, gracefulClose, lingerClose). */
    report?: ReportExpectation;
  };
  /** What must cross the wire, judged where the row ran with a packet capture (`lab --capture`). */
  wire?: WireExpectation;
  /** A remark on the claim, with its source. */
  note?: string;
}

/** A claim on a close helper's report; elapsed bounds are generous, to tell "capped" from "waited forever". */
export interface ReportExpectation {
  outcome: string;
  reset?: boolean;
  elapsedAtLeastMs?: number;
  elapsedAtMostMs?: number;
}

/** Claims on the connection's TCP segments. */
export interface WireExpectation {
  /** The closer's first closing segment: FIN (an orderly close) or RST (an abortive one); 'nothing': neither. */
  closerSends?: 'FIN' | 'RST' | 'nothing';
  /** No RST from either side, ever. */
  noRst?: boolean;
  /** The closer's RST comes after (in answer to) data from the peer. */
  rstAfterPeerData?: boolean;
  /** Off loopback: every RST the closer sent was lost on the way (true), or one reached the peer (false). */
  closerRstLost?: boolean;
}

/** A runtime a claim may depend on: what Node (libuv), Bun or Deno report differs in places. */
export interface RuntimeCondition {
  /** The runtime ('node', 'bun' or 'deno'); any when absent. */
  runtime?: 'node' | 'bun' | 'deno';
  /** libuv older than this version (process.versions.uv). */
  libuvBefore?: string;
}

/** A claim that replaces the row's own for the runtimes it names. */
export interface Variant<E> {
  /** The runtimes it is for: every condition given must hold. */
  when: RuntimeCondition;
  /** The claim for those runtimes, in place of the row's own. */
  expect: E;
  /** Why this runtime differs, with the source. */
  source: string;
}

export interface CallExpectation {
  code: string;
}

export type Expectation = ConnectionExpectation | CallExpectation;

export interface ConnectionScenario {
  kind: 'connection';
  name: string;
  title: string;
  /** Why this row matters, in a sentence. */
  why: string;
  steps: readonly Step[];
  /** Run in a child process: close() blocks its thread on purpose. */
  isolate?: boolean;
  /**
   * On POSIX the peer reads into one fixed buffer of this many bytes (Node's `onread`) instead of
   * Node's default stream reads. libuv's Unix stream code (before 1.52) reports EOF without reading
   * again when a read comes back short and the kernel flags the socket hung up (uv__stream_io), so
   * it matters whether a read can be short. Windows reads through IOCP and has no such shortcut.
   */
  peerReadBuffer?: number;
  /** Played only off loopback, under this condition (`net-linger lab --condition`). */
  condition?: Condition;
  expect: Partial<Record<Platform, ConnectionExpectation>>;
  variants?: Partial<Record<Platform, readonly Variant<ConnectionExpectation>[]>>;
  /** Platforms documented elsewhere but not verified here, with the source. */
  unverified?: Partial<Record<Platform, string>>;
  /**
   * What the Windows cell's run under Wine proves beyond the API and its error codes, with the
   * source for Windows' own behaviour. Wine runs Windows' socket API over Linux's TCP stack, so
   * whatever crossed the wire there was Linux's.
   */
  wine?: string;
}

/** A call on something that is not a connected TCP socket. */
export type CallSubject = 'fd-not-open' | 'not-a-socket' | 'tcp-after-reset' | 'udp-unconnected' | 'tcp-listening';

export interface CallScenario {
  kind: 'call';
  name: string;
  title: string;
  why: string;
  subject: CallSubject;
  call: 'shutdown-write' | 'set-linger' | 'get-linger' | 'pending-bytes';
  /** The normalised code the call must fail with, or 'ok' where it must succeed. */
  expect: Partial<Record<Platform, CallExpectation>>;
  variants?: Partial<Record<Platform, readonly Variant<CallExpectation>[]>>;
  unverified?: Partial<Record<Platform, string>>;
  /**
   * What the Windows cell's run under Wine proves beyond the API and its error codes, with the
   * source for Windows' own behaviour. Wine runs Windows' socket API over Linux's TCP stack, so
   * whatever crossed the wire there was Linux's.
   */
  wine?: string;
}

export type Scenario = ConnectionScenario | CallScenario;

/** The request the peer's 'http-get' step sends, byte for byte. */
export const HTTP_GET_HEAD = 'GET / HTTP/1.1\r\nHost: lab\r\n\r\n';

/** How long 'http2-post' waits for its request to end before it calls the request still open. */
export const HTTP2_REQUEST_WAIT_MS = 2000;

// Step builders keep the table readable.
export const peer = {
  send: (bytes: number): Step => ({ actor: 'peer', do: 'send', bytes }),
  pause: (): Step => ({ actor: 'peer', do: 'pause' }),
  resume: (): Step => ({ actor: 'peer', do: 'resume' }),
  waitEof: (): Step => ({ actor: 'peer', do: 'wait-eof' }),
  end: (): Step => ({ actor: 'peer', do: 'end' }),
  writeUntilError: (): Step => ({ actor: 'peer', do: 'write-until-error' }),
  /** Sends the head of an HTTP/1.1 POST announcing this many body bytes. */
  httpPost: (contentLength: number): Step => ({ actor: 'peer', do: 'http-post', contentLength }),
  /** Waits until the peer has read this many bytes in all. */
  waitReceived: (bytes: number): Step => ({ actor: 'peer', do: 'wait-received', bytes }),
  /**
   * Sends HTTP_GET_HEAD on the connection as it is (a reused keep-alive connection); with
   * awaitResponse, waits until the whole response (head and Content-Length body) has been read.
   */
  httpGet: (awaitResponse: boolean): Step => ({ actor: 'peer', do: 'http-get', awaitResponse }),
  /**
   * Node's http2 client over the peer's socket (h2c) POSTs a body of this many bytes, writing as
   * fast as flow control lets it, and waits up to HTTP2_REQUEST_WAIT_MS for the request to end; a
   * clean end (the response read to END_STREAM, the stream closed with NO_ERROR) then closes the
   * session. The peer's observation becomes that client's: `received` the response body's bytes,
   * `outcome` 'eof' for a clean end, 'stalled' for a request that neither ended nor failed, else the error's code.
   */
  http2Post: (contentLength: number): Step => ({ actor: 'peer', do: 'http2-post', contentLength }),
};

export const closer = {
  /** Hands the connection to a node:http server that answers 413 + Connection: close on the head. */
  http413: (lingering: boolean): Step => ({ actor: 'closer', do: 'http-413', lingering }),
  /**
   * Hands the connection to a node:http server that answers every request 200 with a short body
   * and keeps the connection alive; its keepAliveTimeout is left long, so the connection stays
   * idle until httpIdleTimeout() fires it.
   */
  httpKeepAlive: (): Step => ({ actor: 'closer', do: 'http-keep-alive' }),
  /** The server's keep-alive timer fires now: Node's own timeout handling closes the idle connection (destroy()). */
  httpIdleTimeout: (): Step => ({ actor: 'closer', do: 'http-idle-timeout' }),
  /**
   * Hands the connection to a node:http2 server (h2c) that answers a POST 413 on its headers,
   * without reading the body, then destroys the session; with `lingering`, under enableLingeringClose().
   */
  http2413: (lingering: boolean): Step => ({ actor: 'closer', do: 'http2-413', lingering }),
  /** Stops reading: on a connection node:http owns, Node's own 'pause' handling stops its handle reading. */
  pause: (): Step => ({ actor: 'closer', do: 'pause' }),
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
  gracefulClose: (options: { lingeringTimeout?: number; onTimeout?: 'reset' | 'close' } = {}): Step =>
    ({ actor: 'closer', do: 'graceful-close', ...options }),
  /** Starts lingerClose(); awaitClose() waits for it. */
  lingerClose: (seconds: number, onTimeout?: 'reset' | 'close'): Step =>
    ({ actor: 'closer', do: 'linger-close', seconds, ...(onTimeout ? { onTimeout } : {}) }),
  awaitClose: (): Step => ({ actor: 'closer', do: 'await-close' }),
};

export const network = {
  /** The peer vanishes: from here on every TCP segment between the two is dropped, both ways. */
  vanish: (): Step => ({ actor: 'network', do: 'vanish' }),
  /** The network comes back. */
  restore: (): Step => ({ actor: 'network', do: 'restore' }),
};

// Why Bun observes some rows differently; each is asserted where it applies (npm run test:matrix).
const BUN_READS_AFTER_EOF = 'Bun keeps reading after EOF, so its read meets the reset before the next write does';

const BUN_PARTIAL_WRITES = 'Bun does not say how much of a partly written chunk reached the kernel, so "all data" cannot be counted';

export const SCENARIOS: readonly Scenario[] = [
  {
    kind: 'connection',
    name: 'plain-close',
    wine: "the FIN was Linux's; Windows sends FIN on a graceful closesocket() (Microsoft: Graceful shutdown, linger options, and socket closure)",
    title: 'Plain close',
    why: 'The normal active close: FIN, the peer reads everything then EOF, and the closer keeps TIME_WAIT.',
    steps: [closer.send(1000), closer.close(), peer.waitEof(), peer.end()],
    expect: {
      linux: { peer: { outcome: 'eof', received: 'all' }, closer: { timeWait: true }, wire: { closerSends: 'FIN', noRst: true } },
      win32: { peer: { outcome: 'eof', received: 'all' } },
    },
  },
  {
    kind: 'connection',
    name: 'close-with-unread-data',
    wine: "the RST was Linux's; Windows resets a connection closed with unread data as RFC 1122 4.2.2.13 asks (not verified on Windows' own stack)",
    title: 'Close with unread data',
    why: 'The classic cause of ECONNRESET: closing while the receive buffer still holds data sends RST, not FIN.',
    steps: [peer.send(1000), closer.waitUnread(1000), closer.close()],
    expect: {
      linux: { peer: { outcome: 'ECONNRESET', syscall: 'read' }, closer: { timeWait: false }, wire: { closerSends: 'RST' } },
      win32: { peer: { outcome: 'ECONNRESET', syscall: 'read' } },
    },
  },
  {
    kind: 'connection',
    name: 'linger-zero',
    wine: "the RST was Linux's; Windows: Microsoft closesocket() docs (l_onoff nonzero, l_linger 0: a hard, abortive close)",
    title: 'SO_LINGER {1,0} + close',
    why: 'The deterministic abortive close: RST at once, unsent data thrown away, no TIME_WAIT. The peer reads one byte at a time, as a recv() loop would, so every read is full and the reset is seen.',
    peerReadBuffer: 1,
    steps: [peer.pause(), closer.fillSendQueue(), closer.setLinger(1, 0), closer.close(), peer.resume()],
    expect: {
      linux: { peer: { outcome: 'ECONNRESET', received: 'partial' }, closer: { timeWait: false }, wire: { closerSends: 'RST' } },
      // Winsock reports WSAECONNRESET (10054); Node's own error says errno -4077.
      win32: {
        peer: { outcome: 'ECONNRESET' },
        note: 'lost data is not claimed: under Wine the peer\'s posted reads can take every byte before the reset arrives',
      },
    },
  },
  {
    kind: 'connection',
    name: 'reset-reported-as-eof',
    title: 'A reset reported as EOF (libuv before 1.52)',
    why: 'The RST arrives while data is still queued and the last read comes back short: libuv before 1.52 reports EOF and never reads the pending ECONNRESET, so the peer sees a clean end of a truncated stream.',
    peerReadBuffer: 1 << 20,
    steps: [peer.pause(), closer.fillSendQueue(), closer.setLinger(1, 0), closer.close(), peer.resume()],
    expect: {
      linux: { peer: { outcome: 'ECONNRESET', received: 'partial' }, closer: { timeWait: false }, wire: { closerSends: 'RST' } },
    },
    variants: {
      linux: [{
        when: { runtime: 'node', libuvBefore: '1.52.0' },
        expect: { peer: { outcome: 'eof', received: 'partial' }, closer: { timeWait: false }, wire: { closerSends: 'RST' } },
        source: 'libuv src/unix/stream.c uv__stream_io reads POLLHUP after a short read as EOF; changed by libuv PR #4997. Seen here: Node 22 (libuv 1.51.0) reports EOF, Node 24 (libuv 1.52.1) the reset',
      }],
    },
  },
  {
    kind: 'connection',
    name: 'shutdown-write',
    wine: "the FIN was Linux's and WSAESHUTDOWN is Wine's mapping; Windows: Microsoft shutdown() docs (SD_SEND sends FIN; later sends fail WSAESHUTDOWN)",
    title: 'shutdown(write): half-close',
    why: 'FIN without closing: the peer reads EOF and can still send; the closer still receives but can no longer send.',
    steps: [closer.shutdown('write'), peer.waitEof(), peer.send(100), closer.read(100), closer.send(10)],
    expect: {
      linux: { peer: { outcome: 'eof' }, closer: { received: 100, outcome: 'EPIPE' }, wire: { closerSends: 'FIN', noRst: true } },
      // The closer's send fails WSAESHUTDOWN (10058), which libuv reports as EPIPE (-4047).
      win32: { peer: { outcome: 'eof' }, closer: { received: 100, outcome: 'EPIPE' } },
    },
  },
  {
    kind: 'connection',
    name: 'orderly-close',
    wine: "the FINs were Linux's; Windows: Microsoft shutdown() and closesocket() docs (the graceful sequence)",
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
      linux: { peer: { outcome: 'eof', received: 'all' }, closer: { outcome: 'eof', timeWait: true }, wire: { closerSends: 'FIN', noRst: true } },
      win32: { peer: { outcome: 'eof', received: 'all' }, closer: { outcome: 'eof' } },
    },
  },
  {
    kind: 'connection',
    name: 'shutdown-read',
    wine: "Wine's SD_RECEIVE only marks the socket (Wine server/sock.c): the closer's read fails, Node closes with data unread, and Linux sends the RST; Windows' own stack resets on data queued or arriving after SD_RECEIVE (Microsoft shutdown() docs)",
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
      linux: { peer: { outcome: 'open' }, closer: { outcome: 'eof', received: 200 }, wire: { closerSends: 'nothing', noRst: true } },
      // Data after SD_RECEIVE resets the connection; libuv then fails the closer's read with EPIPE.
      win32: { peer: { outcome: 'ECONNRESET', syscall: 'read' }, closer: { outcome: 'EPIPE', syscall: 'read', received: 0 } },
    },
  },
  {
    kind: 'connection',
    name: 'shutdown-both-then-peer-sends',
    title: 'shutdown(both), then the peer sends',
    why: 'After both directions are shut, data from the peer is answered with RST.',
    steps: [closer.shutdown('both'), peer.waitEof(), peer.writeUntilError()],
    expect: {
      linux: { peer: { outcome: 'EPIPE', syscall: 'write' }, wire: { closerSends: 'FIN', rstAfterPeerData: true } },
    },
    variants: {
      linux: [{
        when: { runtime: 'bun' },
        expect: { peer: { outcome: 'EPIPE', syscall: 'read' } },
        source: BUN_READS_AFTER_EOF,
      }],
    },
    unverified: {
      win32: 'Microsoft shutdown() docs: data arriving after SD_BOTH resets the connection; Wine sends no RST while the closer does not read',
    },
  },
  {
    kind: 'connection',
    name: 'send-after-reset',
    wine: "the RST was Linux's; Windows: Microsoft send() docs (WSAECONNRESET after a hard close by the remote side)",
    title: 'Send after a reset',
    why: 'A peer that is not reading learns of the RST on its next send.',
    steps: [peer.pause(), closer.setLinger(1, 0), closer.close(), peer.writeUntilError()],
    expect: {
      linux: { peer: { outcome: 'ECONNRESET', syscall: 'write' }, closer: { timeWait: false }, wire: { closerSends: 'RST' } },
      win32: { peer: { outcome: 'ECONNRESET', syscall: 'write' } },
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
      linux: { peer: { outcome: 'eof', received: 'all' }, closer: { blockedAtLeastMs: 1500 }, wire: { closerSends: 'FIN', noRst: true } },
    },
    variants: {
      linux: [{
        when: { runtime: 'bun' },
        expect: { peer: { outcome: 'eof' }, closer: { blockedAtLeastMs: 1500 } },
        source: BUN_PARTIAL_WRITES,
      }],
    },
    unverified: {
      darwin: 'XNU bsd/kern/uipc_socket.c soclose_locked: a non-blocking socket does not wait for the linger time',
      win32: 'Microsoft closesocket() docs: a non-blocking socket with a nonzero linger time fails WSAEWOULDBLOCK; refused for Node sockets (ERR_NET_LINGER_UNSUPPORTED)',
    },
  },
  {
    kind: 'call',
    name: 'error-fd-not-open',
    title: 'Descriptor not open',
    why: 'A handle that is not open fails loudly instead of acting on whatever reuses the number.',
    subject: 'fd-not-open',
    call: 'shutdown-write',
    // A number that is no open SOCKET is WSAENOTSOCK (10038) on Windows: there is no EBADF for sockets.
    expect: { linux: { code: 'EBADF' }, win32: { code: 'ENOTSOCK' } },
  },
  {
    kind: 'call',
    name: 'error-not-a-socket',
    title: 'Not a socket (/dev/null)',
    why: 'A file descriptor that is not a socket.',
    subject: 'not-a-socket',
    call: 'set-linger',
    // Windows: a C runtime file descriptor of the NUL device, passed as a SOCKET: WSAENOTSOCK (10038).
    expect: { linux: { code: 'ENOTSOCK' }, win32: { code: 'ENOTSOCK' } },
  },
  {
    kind: 'call',
    name: 'error-tcp-unconnected',
    title: 'shutdown on a TCP socket that is no longer connected (the peer reset it)',
    why: 'After an RST the socket is in CLOSE: shutdown has nothing to shut.',
    subject: 'tcp-after-reset',
    call: 'shutdown-write',
    expect: { linux: { code: 'ENOTCONN' } },
    variants: {
      linux: [{
        when: { runtime: 'bun' },
        expect: { code: 'ERR_SOCKET_NO_HANDLE' },
        source: 'Bun destroys a socket as soon as an RST arrives, even while it is paused; the package then refuses with its typed error',
      }],
    },
    unverified: {
      win32: 'Microsoft shutdown() docs: WSAENOTCONN (10057); Wine returns success while the reset is unread',
    },
  },
  {
    kind: 'call',
    name: 'error-udp-unconnected',
    title: 'shutdown on an unconnected UDP socket',
    why: 'shutdown needs a connection.',
    subject: 'udp-unconnected',
    call: 'shutdown-write',
    expect: { linux: { code: 'ENOTCONN' } },
    unverified: {
      win32: 'Microsoft shutdown() docs list WSAENOTCONN (10057) for connection-oriented sockets only; Wine returns success',
    },
  },
  {
    kind: 'call',
    name: 'shutdown-listening',
    title: 'shutdown(write) on a listening socket',
    why: 'A listener has no connection to shut: Linux accepts the call and changes nothing, Winsock refuses it.',
    subject: 'tcp-listening',
    call: 'shutdown-write',
    // Winsock: WSAENOTCONN (10057).
    expect: { linux: { code: 'ok' }, win32: { code: 'ENOTCONN' } },
  },
  {
    kind: 'connection',
    name: 'reset-close',
    title: 'resetClose(): abortive close of a live Node socket',
    why: "Node's own resetAndDestroy(): RST at once, unsent data thrown away, no TIME_WAIT. (A Node peer that was not reading may read EOF first: libuv takes POLLHUP after a short read for EOF; its next write fails.)",
    steps: [peer.pause(), closer.fillSendQueue(), closer.resetClose(), peer.resume(), peer.waitEof(), peer.writeUntilError()],
    expect: {
      linux: { peer: { outcome: 'ECONNRESET', received: 'partial' }, closer: { timeWait: false }, wire: { closerSends: 'RST' } },
    },
  },
  {
    kind: 'connection',
    name: 'reset-close-after-end',
    title: 'resetClose() after end(), where resetAndDestroy() is refused',
    why: 'After end() libuv refuses a reset (EINVAL) and Node never closes the handle; SO_LINGER {1,0} + destroy() still resets.',
    steps: [peer.pause(), closer.fillSendQueue(), closer.end(), closer.resetClose(), peer.resume(), peer.waitEof(), peer.writeUntilError()],
    expect: {
      linux: { peer: { outcome: 'ECONNRESET', received: 'partial' }, closer: { timeWait: false }, wire: { closerSends: 'RST' } },
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
      linux: { peer: { outcome: 'eof', received: 'all' }, closer: { outcome: 'eof', received: 64 * 1024, timeWait: true }, wire: { closerSends: 'FIN', noRst: true } },
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
      linux: { peer: { outcome: 'EPIPE', syscall: 'write' }, closer: { timeWait: false }, wire: { closerSends: 'FIN' } },
    },
    variants: {
      linux: [{
        when: { runtime: 'bun' },
        expect: { peer: { outcome: 'EPIPE', syscall: 'read' }, closer: { timeWait: false } },
        source: BUN_READS_AFTER_EOF,
      }],
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
      linux: { peer: { outcome: 'eof', received: 'all' }, wire: { closerSends: 'FIN', noRst: true } },
    },
  },
  {
    kind: 'connection',
    name: 'linger-close-timeout',
    title: 'lingerClose() when the time runs out',
    why: "Like Linux's SO_LINGER timeout, without freezing the loop: closed after 1 s, and what the kernel holds is still delivered.",
    steps: [peer.pause(), closer.fillSendQueue(), closer.lingerClose(1), closer.awaitClose(), peer.resume(), peer.waitEof()],
    expect: {
      linux: { peer: { outcome: 'eof', received: 'all' }, wire: { closerSends: 'FIN', noRst: true } },
    },
    variants: {
      linux: [{
        when: { runtime: 'bun' },
        expect: { peer: { outcome: 'eof' } },
        source: BUN_PARTIAL_WRITES,
      }],
    },
  },
  {
    kind: 'connection',
    name: 'http-413-early',
    title: 'node:http answers 413 before reading an upload',
    why: "Node's own close after a last response (destroySoon) leaves the upload unread: the kernel resets, the client's next write fails and the 413 it had not read yet is gone, as Python's http.client sees it (BrokenPipeError).",
    steps: [peer.pause(), closer.http413(false), peer.httpPost(8 * 1024 * 1024), peer.send(64 * 1024), peer.writeUntilError(), peer.resume(), peer.waitEof()],
    expect: {
      linux: { peer: { outcome: 'EPIPE', syscall: 'write', received: 'none' }, wire: { closerSends: 'FIN', rstAfterPeerData: true } },
    },
  },
  {
    kind: 'connection',
    name: 'http-413-lingering',
    title: 'The same 413 with enableLingeringClose(server)',
    why: "The server half-closes after the response and reads and discards the upload until the client's FIN: every write succeeds, and the client reads the whole 413, then EOF.",
    steps: [peer.pause(), closer.http413(true), peer.httpPost(8 * 1024 * 1024), peer.send(64 * 1024), peer.send(1024 * 1024), peer.resume(), peer.waitEof(), peer.end()],
    expect: {
      linux: { peer: { outcome: 'eof', received: 'all' }, wire: { closerSends: 'FIN', noRst: true } },
    },
  },
  {
    kind: 'connection',
    name: 'keepalive-race-reset',
    title: "The keep-alive race: the server's idle close crosses the next request",
    why: "A server closes an idle keep-alive connection just as the client reuses it (nodejs/node#20256, #47130): the request arrived but was not read yet when the keep-alive timer fired, so the close finds it unread and resets. The client's reused request fails with ECONNRESET (Node's Agent: with req.reusedSocket true, as the fault proxy's keepaliveRace shows against any client).",
    steps: [
      closer.httpKeepAlive(), peer.httpGet(true), closer.pause(), peer.httpGet(false),
      closer.waitUnread(HTTP_GET_HEAD.length), closer.httpIdleTimeout(), peer.waitEof(),
    ],
    expect: {
      linux: { peer: { outcome: 'ECONNRESET', syscall: 'read', received: 'all' }, closer: { timeWait: false }, wire: { closerSends: 'RST', rstAfterPeerData: true } },
    },
  },
  {
    kind: 'connection',
    name: 'keepalive-idle-close',
    title: "The keep-alive race lost by nobody: the server's FIN arrives before the reuse",
    why: "The same idle close with no request in its way: a FIN, and a client that reads the EOF before it would reuse the connection does not send on it. No RST.",
    steps: [closer.httpKeepAlive(), peer.httpGet(true), closer.httpIdleTimeout(), peer.waitEof(), peer.end()],
    expect: {
      linux: { peer: { outcome: 'eof', received: 'all' }, closer: { timeWait: true }, wire: { closerSends: 'FIN', noRst: true } },
    },
  },
  {
    kind: 'connection',
    name: 'keepalive-send-after-fin',
    title: "The keep-alive race, FIN first: the client reuses the connection after the server's FIN",
    why: "A client that sends on a connection whose FIN it has already received: the kernel takes the request (the client may still send), the server, fully closed, answers it with RST, and the client's next write fails; the request was never read, and no response comes.",
    steps: [closer.httpKeepAlive(), peer.httpGet(true), closer.httpIdleTimeout(), peer.waitEof(), peer.httpGet(false), peer.writeUntilError()],
    expect: {
      linux: { peer: { outcome: 'EPIPE', syscall: 'write', received: 'all' }, wire: { closerSends: 'FIN', rstAfterPeerData: true } },
    },
  },
  {
    kind: 'connection',
    name: 'http2-413-destroy',
    title: 'node:http2 answers 413 before reading an upload, then destroys the session',
    why: "HTTP/2 without the integration: the session's FIN follows the 413, the client's next frames meet a closed socket and draw an RST, and Node's http2 client does not end its request: no 'close', no error.",
    steps: [closer.http2413(false), peer.http2Post(8 * 1024 * 1024)],
    expect: {
      linux: {
        peer: { outcome: 'stalled' },
        wire: { closerSends: 'FIN', rstAfterPeerData: true },
        note: "the peer's bytes and outcome are its http2 client's: the request neither ended nor failed within 2 s. How much of the 413 came first depends on the server's Node, so it is not claimed: with Node 20 the whole 413; Node 24 sends only GOAWAY and FIN (not verified here; docs/http2.md)",
      },
    },
  },
  {
    kind: 'connection',
    name: 'http2-413-lingering',
    title: 'The same HTTP/2 413 with enableLingeringClose(server)',
    why: 'The response, its END_STREAM and RST_STREAM(NO_ERROR) leave before the GOAWAY and the FIN, and the connection lingers until the client has gone: the client reads the whole 413, its request ends cleanly and it closes its session. No RST.',
    steps: [closer.http2413(true), peer.http2Post(8 * 1024 * 1024)],
    expect: {
      linux: {
        peer: { outcome: 'eof', received: 'all' },
        wire: { closerSends: 'FIN', noRst: true },
        note: "the peer's bytes and outcome are its http2 client's: all data is the whole 413 body, EOF a request ended cleanly (the 413 read to END_STREAM, the stream closed with NO_ERROR)",
      },
    },
  },
];

export function isStep(value: unknown): value is Step {
  const step = value as Partial<Step> | null;
  return typeof step === 'object' && step !== null && (step.actor === 'peer' || step.actor === 'closer' || step.actor === 'network') &&
    typeof step.do === 'string';
}

/** Throws ERR_INVALID_ARG_TYPE unless the value has the shape of a row of the table. */
export function assertScenario(value: unknown, name = 'scenario'): asserts value is Scenario {
  const row = value as {
    kind?: unknown; name?: unknown; expect?: unknown; steps?: unknown; call?: unknown; subject?: unknown;
  } | null;
  const shaped = typeof row === 'object' && row !== null && typeof row.name === 'string' &&
    typeof row.expect === 'object' && row.expect !== null &&
    (row.kind === 'call'
      ? typeof row.call === 'string' && typeof row.subject === 'string'
      : row.kind === 'connection' && Array.isArray(row.steps) && row.steps.every(isStep));
  if (!shaped) throw invalidArgType(name, 'a row of the scenario table', value);
}

export { currentRuntime, type RuntimeInfo };

function versionBefore(version: string, limit: string): boolean {
  const a = version.split('.').map(Number);
  const b = limit.split('.').map(Number);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) < (b[i] ?? 0);
  }
  return false;
}

function matches(when: RuntimeCondition, runtime: RuntimeInfo): boolean {
  if (when.runtime && when.runtime !== runtime.name) return false;
  if (when.libuvBefore && !(runtime.libuv && versionBefore(runtime.libuv, when.libuvBefore))) return false;
  return true;
}

/** The claim for a platform and runtime: a matching variant's, else the row's own; undefined where there is none. */
export function claimFor(
  scenario: Scenario, platform: Platform, runtime: RuntimeInfo = currentRuntime(),
): { expect: Expectation; source?: string } | undefined {
  const own = scenario.expect[platform];
  if (!own) return undefined;
  const variants = (scenario.variants?.[platform] ?? []) as readonly Variant<Expectation>[];
  const variant = variants.find((v) => matches(v.when, runtime));
  return variant ? { expect: variant.expect, source: variant.source } : { expect: own };
}

/** What a row's steps say about the closer and the peer: the network's steps are shown with the closer's. */
export function isNetworkStep(step: Step): boolean {
  return step.actor === 'network';
}
