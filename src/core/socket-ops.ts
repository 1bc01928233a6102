import { binding, ONCE_BLOCKING_CLOSE_WARNING } from './binding.js';
import { NetLingerError, SocketError } from './errors.js';
import { isNodeSocket, resolveHandle, type SocketTarget } from './handle.js';
import { validateHow, validateInteger, validateOnoff } from './validate.js';

export const SHUT_RD = 0;
export const SHUT_WR = 1;
export const SHUT_RDWR = 2;

/** Which direction to shut down: the names, or SHUT_RD / SHUT_WR / SHUT_RDWR (== SD_RECEIVE / SD_SEND / SD_BOTH). */
export type ShutdownHow = 'read' | 'write' | 'both' | typeof SHUT_RD | typeof SHUT_WR | typeof SHUT_RDWR;

export interface LingerSetting {
  /** SO_LINGER's l_onoff: lingering is on (close waits for unsent data, or resets with 0 seconds). */
  onoff: boolean;
  /** SO_LINGER's l_linger, in seconds as the socket call takes it (SO_LINGER_SEC on macOS); 0 with onoff: close resets. */
  seconds: number;
}

export interface PendingBytes {
  /** Bytes received and not yet read by the application (FIONREAD). */
  unread: number;
  /**
   * Bytes the peer has not acknowledged yet; null where the OS cannot say. What each OS counts:
   * Linux SIOCOUTQ and macOS SO_NWRITE count every byte in the send queue, sent or not;
   * Windows SIO_TCP_INFO BytesInFlight counts only bytes already sent (so 0 can still leave
   * bytes queued behind a full window), and fails under Wine (null).
   */
  unacked: number | null;
}


/** The largest linger time this platform stores without wrapping: Linux 2^31-1, macOS 327, Windows 65535. */
export function maxLingerSeconds(): number {
  return binding().maxLingerSeconds;
}

// Where this module armed SO_LINGER, so the close helpers know when a close could block or
// reset without asking the kernel each time (getsockopt costs 2-3 µs per socket when thousands
// are open). A descriptor given as a number cannot be tied to its net.Socket: then every socket
// counts as possibly armed.
const lingerArmedSockets = new WeakSet<object>();
let lingerArmedOnDescriptor = false;

function noteLingerArmed(target: SocketTarget): void {
  if (typeof target === 'object') lingerArmedSockets.add(target);
  else lingerArmedOnDescriptor = true;
}

/** setLinger() may have left SO_LINGER on for this socket (through the socket or a bare descriptor). */
export function lingerMayBeArmed(socket: object): boolean {
  return lingerArmedOnDescriptor || lingerArmedSockets.has(socket);
}

// Reused for every call: the calls are synchronous and each thread has its own module instance.
const lingerOut = new Int32Array(2);
const pendingOut = new Float64Array(3);

/** A descriptor or SOCKET given as a number that needs no further checks. */
function isPlainHandle(target: unknown): target is number {
  return typeof target === 'number' && target >= 0 && Number.isSafeInteger(target);
}

/**
 * SO_LINGER. `onoff` false restores the default close (FIN, unsent data still delivered in the
 * background; on Linux `{0, n}` keeps the previous time). `{true, 0}` makes close() abortive: RST,
 * unsent data discarded, no TIME_WAIT. `{true, n > 0}` makes close() wait up to n s for the data
 * to be acknowledged: on Linux it blocks the closing thread even for a non-blocking socket (a Node
 * socket's destroy() then freezes the event loop); on macOS a non-blocking close does not wait;
 * on Windows closesocket() fails for a non-blocking socket, so it is refused for Node sockets.
 * Use lingerClose() for the same promise without blocking. `seconds` is in seconds, SO_LINGER's own
 * unit (every other duration in this package is in ms).
 */
export function setLinger(target: SocketTarget, onoff: boolean | 0 | 1, seconds = 0): void {
  // A descriptor and a socket go separate ways at once, so that each way sees one type of target
  // and V8 keeps both monomorphic (a program calling with both made the descriptor's call ~10 ns
  // slower: bench/RESULTS.md, "Per call").
  if (typeof target === 'number') setLingerOnNumber(target, onoff, seconds);
  else setLingerOnTarget(target, onoff, seconds);
}

/** onoff and seconds already of the right types, seconds a whole number (its upper bound is the caller's). */
function isPlainLinger(onoff: unknown, seconds: unknown): onoff is boolean {
  return typeof onoff === 'boolean' && typeof seconds === 'number' && seconds >= 0 && Number.isInteger(seconds);
}

/** The common call on a descriptor, arguments already of the right types: the same checks in fewer steps. */
function setLingerOnNumber(fd: number, onoff: boolean | 0 | 1, seconds: number): void {
  if (isPlainLinger(onoff, seconds) && isPlainHandle(fd)) {
    const native = binding();
    if (seconds <= native.maxLingerSeconds) {
      const errno = native.setLinger(fd, onoff, seconds);
      if (errno !== 0) throw new SocketError(native.syscalls.setLinger, errno);
      if (onoff) noteLingerArmed(fd);
      return;
    }
  }
  setLingerChecked(fd, onoff, seconds);
}

/** The common call on a socket (or a bigint SOCKET): for a Node socket no lingering time, so nothing to refuse or warn about. */
function setLingerOnTarget(target: SocketTarget, onoff: boolean | 0 | 1, seconds: number): void {
  if (isPlainLinger(onoff, seconds) && (!onoff || seconds === 0)) {
    // resolveHandle() checks the target exactly as the checked path would, first.
    const handle = resolveHandle(target);
    const native = binding();
    const errno = native.setLinger(handle, onoff, seconds);
    if (errno !== 0) throw new SocketError(native.syscalls.setLinger, errno);
    if (onoff) noteLingerArmed(target);
    return;
  }
  setLingerChecked(target, onoff, seconds);
}

/** setLinger() with every check, the refusal and the warning: kept apart so the fast path stays small. */
function setLingerChecked(target: unknown, onoff: unknown, seconds: unknown): void {
  const handle = resolveHandle(target);
  const on = validateOnoff(onoff);
  const native = binding();
  const time = validateInteger(seconds, 'seconds', 0, native.maxLingerSeconds);
  const lingering = on && time > 0 && isNodeSocket(target);
  if (lingering && process.platform === 'win32') {
    throw new NetLingerError(
      'ERR_NET_LINGER_UNSUPPORTED',
      'On Windows a lingering close of a non-blocking (Node) socket fails with WSAEWOULDBLOCK and libuv ignores it; use lingerClose() instead',
    );
  }
  const errno = native.setLinger(handle, on, time);
  if (errno !== 0) throw new SocketError(native.syscalls.setLinger, errno);
  if (on) noteLingerArmed(target as SocketTarget);
  // Once per process, across worker threads: the flag lives in the addon, which a process loads once.
  if (lingering && process.platform !== 'darwin' && native.claimOnce(ONCE_BLOCKING_CLOSE_WARNING)) {
    process.emitWarning(
      `SO_LINGER {1, ${time}} on a Node socket: closing it will block the whole event loop for up to ${time} s ` +
        'while unacknowledged data remains. lingerClose() waits for the same thing without blocking.',
      { type: 'NetLingerWarning', code: 'NET_LINGER_BLOCKING_CLOSE' },
    );
  }
}

/** SO_LINGER as the kernel holds it. */
export function getLinger(target: SocketTarget): LingerSetting {
  const native = binding();
  const errno = native.getLinger(isPlainHandle(target) ? target : resolveHandle(target), lingerOut);
  if (errno !== 0) throw new SocketError(native.syscalls.getLinger, errno);
  return { onoff: lingerOut[0] === 1, seconds: lingerOut[1] };
}

/**
 * shutdown(2). 'write' sends FIN after the queued data: the peer reads EOF, this side still
 * receives, and its own later sends fail EPIPE. 'read' on Linux sends nothing: queued bytes are
 * still returned, then reads return 0 (on Windows, data arriving later resets the connection).
 * 'both' then data from the peer: the peer is reset. On a Node socket this acts behind libuv's
 * back; for the write side prefer socket.end(), which Node tracks.
 */
export function shutdown(target: SocketTarget, how: ShutdownHow): void {
  const handle = isPlainHandle(target) ? target : resolveHandle(target);
  const value = typeof how === 'number' && (how === 0 || how === 1 || how === 2) ? how : validateHow(how);
  const native = binding();
  const errno = native.shutdown(handle, value);
  if (errno !== 0) throw new SocketError(native.syscalls.shutdown, errno);
}

/** "Are the buffers empty?": bytes waiting to be read, and bytes the peer has not acknowledged yet. */
export function pendingBytes(target: SocketTarget): PendingBytes {
  const native = binding();
  const errno = native.pendingBytes(isPlainHandle(target) ? target : resolveHandle(target), pendingOut);
  if (errno !== 0) {
    throw new SocketError(pendingOut[2] === 0 ? native.syscalls.pendingUnread : native.syscalls.pendingUnsent, errno);
  }
  return { unread: pendingOut[0], unacked: pendingOut[1] < 0 ? null : pendingOut[1] };
}
