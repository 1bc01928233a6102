import os from 'node:os';
import { invalidArgType } from './validate.js';

/** The platforms whose error numbers this package knows how to read. */
export type ErrnoPlatform = 'linux' | 'darwin' | 'win32';

/** One normalised code and every spelling of it on every platform. */
export interface ErrorCodeEntry {
  readonly code: string;
  readonly linux: number;
  readonly darwin: number;
  /** Winsock numbers (10000+), unambiguous on every platform. */
  readonly winsock: readonly number[];
  /** Win32 system error numbers that libuv maps to this code (read only for 'win32'). */
  readonly win32: readonly number[];
  /** Node's `errno` on Windows (libuv's own numbers). */
  readonly libuvWindows: number;
  /** Other names for the same condition. */
  readonly aliases: readonly string[];
  readonly meaning: string;
}

/**
 * The connection-level errors this package normalises.
 * Sources: Linux and macOS errno.h, winerror.h, libuv include/uv/errno.h and src/win/error.c.
 */
export const ERROR_CODES: readonly ErrorCodeEntry[] = [
  {
    code: 'ECONNRESET', linux: 104, darwin: 54, winsock: [10054], win32: [64], libuvWindows: -4077,
    aliases: ['WSAECONNRESET', 'ERROR_NETNAME_DELETED'],
    meaning: 'the peer reset the connection (it sent RST)',
  },
  {
    code: 'ECONNABORTED', linux: 103, darwin: 53, winsock: [10053], win32: [1236], libuvWindows: -4079,
    aliases: ['WSAECONNABORTED', 'ERROR_CONNECTION_ABORTED'],
    meaning: 'the connection was aborted by this host (timeout or protocol error)',
  },
  {
    code: 'ENOTCONN', linux: 107, darwin: 57, winsock: [10057], win32: [], libuvWindows: -4053,
    aliases: ['WSAENOTCONN'],
    meaning: 'the socket is not connected (never was, or was reset)',
  },
  {
    code: 'ENOTSOCK', linux: 88, darwin: 38, winsock: [10038], win32: [], libuvWindows: -4050,
    aliases: ['WSAENOTSOCK'],
    meaning: 'the descriptor is not a socket',
  },
  {
    code: 'EPIPE', linux: 32, darwin: 32, winsock: [10058], win32: [], libuvWindows: -4047,
    aliases: ['WSAESHUTDOWN'],
    meaning: 'writing after this side shut down sending, or after the connection ended',
  },
  {
    code: 'EBADF', linux: 9, darwin: 9, winsock: [10009], win32: [], libuvWindows: -4083,
    aliases: ['WSAEBADF'],
    meaning: 'the descriptor is not open',
  },
];

// Winsock errors outside the table that the native calls can still return.
const OTHER_WINSOCK: Readonly<Record<number, string>> = {
  10004: 'EINTR', 10013: 'EACCES', 10014: 'EFAULT', 10022: 'EINVAL', 10024: 'EMFILE',
  10035: 'EAGAIN', 10036: 'EINPROGRESS', 10037: 'EALREADY', 10040: 'EMSGSIZE',
  10042: 'ENOPROTOOPT', 10043: 'EPROTONOSUPPORT', 10045: 'ENOTSUP', 10047: 'EAFNOSUPPORT',
  10048: 'EADDRINUSE', 10049: 'EADDRNOTAVAIL', 10050: 'ENETDOWN', 10051: 'ENETUNREACH',
  10055: 'ENOBUFS', 10056: 'EISCONN', 10060: 'ETIMEDOUT', 10061: 'ECONNREFUSED',
  10065: 'EHOSTUNREACH', 10093: 'EINVAL',
};

const byName = new Map<string, string>();
const byWinsock = new Map<number, string>();
const byWin32 = new Map<number, string>();
const byLibuvWindows = new Map<number, string>();
const byPosix: Record<'linux' | 'darwin', Map<number, string>> = { linux: new Map(), darwin: new Map() };
for (const entry of ERROR_CODES) {
  byName.set(entry.code, entry.code);
  for (const alias of entry.aliases) byName.set(alias, entry.code);
  for (const n of entry.winsock) byWinsock.set(n, entry.code);
  for (const n of entry.win32) byWin32.set(n, entry.code);
  byLibuvWindows.set(entry.libuvWindows, entry.code);
  byPosix.linux.set(entry.linux, entry.code);
  byPosix.darwin.set(entry.darwin, entry.code);
}
for (const [n, code] of Object.entries(OTHER_WINSOCK)) byWinsock.set(Number(n), code);

// The running POSIX platform's own errno names, for numbers outside the table.
let runningErrnoNames: Map<number, string> | undefined;
function runningErrnoName(n: number): string | undefined {
  if (!runningErrnoNames) {
    runningErrnoNames = new Map();
    for (const [name, value] of Object.entries(os.constants.errno)) {
      if (!runningErrnoNames.has(value)) runningErrnoNames.set(value, name);
    }
  }
  return runningErrnoNames.get(n);
}

function numberToCode(n: number, platform: string): string | undefined {
  if (!Number.isInteger(n) || n === 0) return undefined;
  const winsock = byWinsock.get(n);
  if (winsock) return winsock;
  // libuv's Windows numbers live in -4095..-3000 and collide with nothing.
  if (n <= -3000 && n >= -4095) return byLibuvWindows.get(n);
  if (platform === 'win32') return n > 0 ? byWin32.get(n) : undefined;
  // Node on POSIX reports the negated errno.
  const errno = Math.abs(n);
  if (platform === 'linux' || platform === 'darwin') {
    const known = byPosix[platform].get(errno);
    if (known) return known;
  }
  return platform === process.platform ? runningErrnoName(errno) : undefined;
}

function stringToCode(s: string, platform: string): string | undefined {
  const trimmed = s.trim();
  if (/^[+-]?\d+$/.test(trimmed)) return numberToCode(Number(trimmed), platform);
  const upper = trimmed.toUpperCase();
  const known = byName.get(upper);
  if (known) return known;
  if (/^WSAE[A-Z0-9]+$/.test(upper)) return upper.slice(3);
  return /^E[A-Z0-9]+$/.test(upper) ? upper : undefined;
}

/**
 * The one code for any spelling of a socket error: a number (read for `platform`, default the
 * running one, because 104 and 54 mean different things on Linux and macOS; Winsock numbers
 * and libuv's Windows numbers are unambiguous), a string (`'ECONNRESET'`, `'WSAECONNRESET'`,
 * `'104'`), or an error object (its `code`, else its `errno`, else its `cause`).
 * Returns undefined when the input names no error.
 */
export function normalizeErrorCode(input: unknown, platform: string = process.platform): string | undefined {
  return toCode(input, platform, 0);
}

function toCode(input: unknown, platform: string, depth: number): string | undefined {
  if (typeof input === 'number') return numberToCode(input, platform);
  if (typeof input === 'string') return stringToCode(input, platform);
  if (typeof input !== 'object' || input === null || depth > 4) return undefined;
  const { code, errno, cause } = input as { code?: unknown; errno?: unknown; cause?: unknown };
  const fromCode = typeof code === 'string' ? stringToCode(code, platform) : undefined;
  if (fromCode) return fromCode;
  const fromErrno = typeof errno === 'number' ? numberToCode(errno, platform) : undefined;
  if (fromErrno) return fromErrno;
  return cause === undefined ? undefined : toCode(cause, platform, depth + 1);
}

/** True for every spelling of "the peer reset the connection". */
export function isConnectionReset(input: unknown, platform: string = process.platform): boolean {
  return normalizeErrorCode(input, platform) === 'ECONNRESET';
}

/** An OS failure, shaped like Node's SystemError: `code`, `errno` (the OS's own number), `syscall`. */
export class SocketError extends Error {
  readonly code: string;
  readonly errno: number;
  readonly syscall: string;

  constructor(syscall: string, errno: number, platform: string = process.platform) {
    if (typeof syscall !== 'string') throw invalidArgType('syscall', 'of type string', syscall);
    if (typeof errno !== 'number') throw invalidArgType('errno', 'of type number', errno);
    const code = numberToCode(errno, platform) ?? 'UNKNOWN';
    super(`${syscall} ${code}`);
    this.name = 'SocketError';
    this.code = code;
    this.errno = errno;
    this.syscall = syscall;
  }
}

/** A failure that is not the OS's: no handle to act on, or an operation this platform cannot do. */
export class NetLingerError extends Error {
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.name = 'NetLingerError';
    this.code = code;
  }
}
