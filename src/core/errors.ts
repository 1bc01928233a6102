import os from 'node:os';
import { invalidArgType } from './validate.js';

/** The platforms whose error numbers this package knows how to read. */
export type ErrnoPlatform = 'linux' | 'darwin' | 'win32';

/** One normalised code and every spelling of it on every platform. */
export interface ErrorCodeEntry {
  /** The normalised code, as Node names it on Linux and macOS ('ECONNRESET', 'EPIPE', ...). */
  readonly code: string;
  /** The errno number on Linux (Node reports it negated: -104 for ECONNRESET). */
  readonly linux: number;
  /** The errno number on macOS (Node reports it negated: -54 for ECONNRESET). */
  readonly darwin: number;
  /** Winsock numbers (10000+), unambiguous on every platform. */
  readonly winsock: readonly number[];
  /** Win32 system error numbers that libuv maps to this code (read only for 'win32'). */
  readonly win32: readonly number[];
  /** Node's `errno` on Windows (libuv's own numbers). */
  readonly libuvWindows: number;
  /** Other names for the same condition. */
  readonly aliases: readonly string[];
  /** What the code means, in one sentence. */
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

/** @internal */
export function numberToCode(n: number, platform: string): string | undefined {
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

/** @internal */
export function stringToCode(s: string, platform: string): string | undefined {
  const trimmed = s.trim();
  if (/^[+-]?\d+$/.test(trimmed)) return numberToCode(Number(trimmed), platform);
  const upper = trimmed.toUpperCase();
  const known = byName.get(upper);
  if (known) return known;
  if (/^WSAE[A-Z0-9]+$/.test(upper)) return upper.slice(3);
  return /^E[A-Z0-9]+$/.test(upper) ? upper : undefined;
}

/**
 * The codes `normalizeErrorCode` knows by name: the table's, and the Winsock errors it maps
 * (10061 is ECONNREFUSED, 10060 ETIMEDOUT…).
 */
export type KnownErrorCode =
  | 'ECONNRESET' | 'ECONNABORTED' | 'ENOTCONN' | 'ENOTSOCK' | 'EPIPE' | 'EBADF'
  | 'EINTR' | 'EACCES' | 'EFAULT' | 'EINVAL' | 'EMFILE' | 'EAGAIN' | 'EINPROGRESS' | 'EALREADY'
  | 'EMSGSIZE' | 'ENOPROTOOPT' | 'EPROTONOSUPPORT' | 'ENOTSUP' | 'EAFNOSUPPORT' | 'EADDRINUSE'
  | 'EADDRNOTAVAIL' | 'ENETDOWN' | 'ENETUNREACH' | 'ENOBUFS' | 'EISCONN' | 'ETIMEDOUT'
  | 'ECONNREFUSED' | 'EHOSTUNREACH';

/**
 * What `normalizeErrorCode` returns: a known code, or another `E…` name (an errno name of the
 * running platform, or one a string spelled). The `& {}` keeps the known names offered by editors.
 */
export type ErrorCode = KnownErrorCode | (`E${string}` & {});

/** How deep `.cause` / `AggregateError.errors` are followed, and how many errors are looked at in all. */
export const ERROR_WALK_LIMITS = Object.freeze({ depth: 32, errors: 256 });

/**
 * Every error object reachable from `input`: itself, then (breadth first) its `cause` and, for an
 * AggregateError, its `errors`. Bounded in depth and count; each object is visited once (cycles end).
 * Properties are read defensively: a getter that throws counts as absent.
 * @internal
 */
export function* walkErrors(input: unknown): Generator<object, void, void> {
  if (typeof input !== 'object' || input === null) return;
  const seen = new Set<object>([input]);
  let level: object[] = [input];
  for (let depth = 0; depth <= ERROR_WALK_LIMITS.depth && level.length > 0; depth++) {
    const next: object[] = [];
    for (const node of level) {
      yield node;
      if (seen.size >= ERROR_WALK_LIMITS.errors) continue;
      const children: unknown[] = [readProperty(node, 'cause')];
      children.push(...aggregated(node));
      for (const child of children) {
        if (typeof child !== 'object' || child === null || seen.has(child)) continue;
        if (seen.size >= ERROR_WALK_LIMITS.errors) break;
        seen.add(child);
        next.push(child);
      }
    }
    level = next;
  }
}

// An AggregateError's errors (at most as many as the walk may visit); none for anything else.
function aggregated(node: object): unknown[] {
  try {
    const errors = (node as { errors?: unknown }).errors;
    if (!Array.isArray(errors)) return [];
    if (!(node instanceof AggregateError) && (node as { name?: unknown }).name !== 'AggregateError') return [];
    return errors.slice(0, ERROR_WALK_LIMITS.errors);
  } catch {
    return [];
  }
}

/** `object[key]`, or undefined when reading it throws (a hostile getter or a revoked Proxy). @internal */
export function readProperty(object: object, key: string): unknown {
  try {
    return (object as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}

/**
 * The code one error object names by itself: its `code` (a string), else its `errno` (a number).
 * @internal
 */
export function ownCode(node: object, platform: string): ErrorCode | undefined {
  const code = readProperty(node, 'code');
  const fromCode = typeof code === 'string' ? stringToCode(code, platform) : undefined;
  if (fromCode) return fromCode as ErrorCode;
  const errno = readProperty(node, 'errno');
  return (typeof errno === 'number' ? numberToCode(errno, platform) : undefined) as ErrorCode | undefined;
}

/**
 * The one code for any spelling of a socket error: a number (read for `platform`, default the
 * running one, because 104 and 54 mean different things on Linux and macOS; Winsock numbers
 * and libuv's Windows numbers are unambiguous), a string (`'ECONNRESET'`, `'WSAECONNRESET'`,
 * `'104'`), or an error object (its `code`, else its `errno`, else the first of its `cause`
 * chain and, for an AggregateError, its `errors` that names one, breadth first; the walk is
 * bounded by `ERROR_WALK_LIMITS` and ends on cycles).
 * Returns undefined when the input names no error.
 */
export function normalizeErrorCode(input: unknown, platform: string = process.platform): ErrorCode | undefined {
  if (typeof input === 'number') return numberToCode(input, platform) as ErrorCode | undefined;
  if (typeof input === 'string') return stringToCode(input, platform) as ErrorCode | undefined;
  for (const node of walkErrors(input)) {
    const code = ownCode(node, platform);
    if (code) return code;
  }
  return undefined;
}

declare const namesAReset: unique symbol;

/**
 * What `isConnectionReset` narrows its input to: the same value, marked (in the types only) as one
 * that names a reset. The mark keeps the guard honest both ways: a `true` narrows `unknown` to a
 * number, a string or an error-like object, and a `false` removes nothing from the input's type.
 */
export type ConnectionResetInput = (
  | number
  | string
  | {
    /** The error's code ('ECONNRESET', 'UND_ERR_SOCKET', ...), as Node and the HTTP clients set it. */
    readonly code?: unknown;
    /** The OS's number (-104, 10054, ...) or, in node-fetch, the code again as a string. */
    readonly errno?: unknown;
    /** The call that failed ('read', 'write', ...). */
    readonly syscall?: unknown;
    /** The message ("socket hang up", "other side closed", ...). */
    readonly message?: unknown;
    /** The error it wraps (fetch's TypeError wraps the socket's error): followed too. */
    readonly cause?: unknown;
  }
) & {
  /** The mark, in the types only: this value names a reset. */
  readonly [namesAReset]: true;
};

/**
 * True for every spelling of ECONNRESET, as Node spells it: this includes the errors Node builds
 * itself when the peer closed with a FIN ("socket hang up", "aborted"); `classifyConnectionError`
 * tells those apart.
 */
export function isConnectionReset(input: unknown, platform: string = process.platform): input is ConnectionResetInput {
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

/**
 * The error a promise rejects with when its AbortSignal fires, shaped as Node's own (fs,
 * timers/promises, events.once): `name` 'AbortError', `code` 'ABORT_ERR', `cause` the signal's
 * reason, so `err.name === 'AbortError'` checks and classifyConnectionError read it as 'aborted'.
 */
export function abortError(signal: AbortSignal): Error & { code: 'ABORT_ERR' } {
  const error = new Error('The operation was aborted', { cause: signal.reason }) as Error & { code: 'ABORT_ERR' };
  error.name = 'AbortError';
  error.code = 'ABORT_ERR';
  return error;
}
