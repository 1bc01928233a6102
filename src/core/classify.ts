import { ownCode, readProperty, stringToCode, numberToCode, walkErrors } from './errors.js';

/**
 * What happened on the connection, as far as an error can tell:
 * - `'reset'`: the OS saw the peer's RST (ECONNRESET / WSAECONNRESET with the OS's errno or syscall,
 *   or EPIPE: a write into a connection the peer reset).
 * - `'closed-early'`: the peer closed in order (a FIN) before a complete answer. Node's
 *   "socket hang up" and IncomingMessage's "aborted" (code ECONNRESET, but no errno and no syscall:
 *   Node built them itself and no RST was seen), undici's UND_ERR_SOCKET "other side closed",
 *   ERR_STREAM_PREMATURE_CLOSE (node-fetch's "Premature close"), axios's ERR_BAD_RESPONSE
 *   "stream has been aborted". Node raises 'aborted' on a response body cut short by an RST too:
 *   'closed-early' means "ended early, and this error shows no RST".
 * - `'refused'`: nothing listened (ECONNREFUSED: the peer answered the SYN with an RST).
 * - `'timed-out'`: a deadline passed (ETIMEDOUT, axios's ECONNABORTED "timeout of … exceeded",
 *   got's TimeoutError, undici's UND_ERR_*_TIMEOUT, the DOMException TimeoutError of
 *   AbortSignal.timeout(), ws's "Opening handshake has timed out").
 * - `'aborted'`: the caller gave up (AbortError, ABORT_ERR, axios's ERR_CANCELED, undici's
 *   UND_ERR_ABORTED, ws's "WebSocket was closed before the connection was established").
 */
export type ConnectionErrorKind = 'reset' | 'closed-early' | 'refused' | 'timed-out' | 'aborted';

/**
 * The precedence when an error chain holds more than one kind: the strongest evidence wins,
 * whichever wrapper holds it. First is strongest.
 */
export const CONNECTION_ERROR_PRECEDENCE: readonly ConnectionErrorKind[] = Object.freeze([
  'reset', 'refused', 'timed-out', 'closed-early', 'aborted',
] as const);

const rank = new Map<ConnectionErrorKind, number>(CONNECTION_ERROR_PRECEDENCE.map((kind, i) => [kind, i]));

// Codes that are no OS's, raised by Node and by HTTP clients.
const CLIENT_CODES: ReadonlyMap<string, ConnectionErrorKind> = new Map<string, ConnectionErrorKind>([
  ['UND_ERR_SOCKET', 'closed-early'],
  ['ERR_STREAM_PREMATURE_CLOSE', 'closed-early'],
  ['UND_ERR_CONNECT_TIMEOUT', 'timed-out'],
  ['UND_ERR_HEADERS_TIMEOUT', 'timed-out'],
  ['UND_ERR_BODY_TIMEOUT', 'timed-out'],
  ['ERR_SOCKET_CONNECTION_TIMEOUT', 'timed-out'],
  ['ABORT_ERR', 'aborted'],
  ['ERR_ABORTED', 'aborted'],
  ['ERR_CANCELED', 'aborted'],
  ['UND_ERR_ABORTED', 'aborted'],
]);

// Error names that say it alone (DOMException, got, node-fetch, axios).
const NAMES: ReadonlyMap<string, ConnectionErrorKind> = new Map<string, ConnectionErrorKind>([
  ['TimeoutError', 'timed-out'],
  ['AbortError', 'aborted'],
  ['CanceledError', 'aborted'],
]);

// ws 8 raises these with no code at all.
const MESSAGES: ReadonlyMap<string, ConnectionErrorKind> = new Map<string, ConnectionErrorKind>([
  ['Opening handshake has timed out', 'timed-out'],
  ['WebSocket was closed before the connection was established', 'aborted'],
]);

function kindOfCode(code: string | undefined, osLevel: boolean): ConnectionErrorKind | undefined {
  switch (code) {
    case 'ECONNRESET': return osLevel ? 'reset' : 'closed-early';
    case 'EPIPE': return 'reset';
    case 'ECONNREFUSED': return 'refused';
    case 'ETIMEDOUT': return 'timed-out';
    default: return undefined;
  }
}

function kindOfString(s: string, platform: string): ConnectionErrorKind | undefined {
  const client = CLIENT_CODES.get(s.trim().toUpperCase());
  return client ?? kindOfCode(stringToCode(s, platform), true);
}

// What one error object says by itself, without its cause or its errors.
function kindOfNode(node: object, platform: string): ConnectionErrorKind | undefined {
  const code = readProperty(node, 'code');
  if (typeof code === 'string') {
    const client = CLIENT_CODES.get(code);
    if (client) return client;
  }
  const normalized = ownCode(node, platform);
  if (normalized === 'ECONNRESET') {
    // Node's own "socket hang up" and "aborted" carry code ECONNRESET and nothing else; a reset the
    // OS saw carries its errno (a number) and the syscall that saw it (node-fetch keeps the latter
    // as erroredSysCall); a Winsock or Win32 name is the OS's by itself.
    const errno = readProperty(node, 'errno');
    const syscall = readProperty(node, 'syscall') ?? readProperty(node, 'erroredSysCall');
    const osLevel = typeof errno === 'number' || (typeof syscall === 'string' && syscall !== '')
      || (typeof code === 'string' && code.trim().toUpperCase() !== 'ECONNRESET');
    return osLevel ? 'reset' : 'closed-early';
  }
  const message = readProperty(node, 'message');
  // axios names its own timeout ECONNABORTED ("timeout of 300ms exceeded").
  if (normalized === 'ECONNABORTED' && code === 'ECONNABORTED' && typeof message === 'string' && /\btimeout\b/i.test(message)) {
    return 'timed-out';
  }
  // axios names a response cut short (Node's IncomingMessage 'aborted') ERR_BAD_RESPONSE.
  if (code === 'ERR_BAD_RESPONSE' && message === 'stream has been aborted') return 'closed-early';
  const fromCode = kindOfCode(normalized, true);
  if (fromCode) return fromCode;
  const name = readProperty(node, 'name');
  const fromName = typeof name === 'string' ? NAMES.get(name) : undefined;
  if (fromName) return fromName;
  return typeof message === 'string' ? MESSAGES.get(message) : undefined;
}

/**
 * What happened on the connection, for any error an HTTP client raises (Node's http, fetch,
 * undici, axios, got, node-fetch, ws), or for a number or a code string (read as
 * `normalizeErrorCode` reads them; numbers for `platform`, default the running one).
 *
 * Every error reachable through `cause` and `AggregateError.errors` is examined (bounded, cycles end);
 * when they disagree, the kind first in `CONNECTION_ERROR_PRECEDENCE` wins: an RST the OS saw
 * anywhere in the chain beats a wrapper's "socket hang up", and a TimeoutError beats the AbortError
 * that carries it. Returns undefined when nothing in the input names one of the kinds.
 */
export function classifyConnectionError(input: unknown, platform: string = process.platform): ConnectionErrorKind | undefined {
  if (typeof input === 'number') return kindOfCode(numberToCode(input, platform), true);
  if (typeof input === 'string') return kindOfString(input, platform);
  let best: ConnectionErrorKind | undefined;
  for (const node of walkErrors(input)) {
    const kind = kindOfNode(node, platform);
    if (kind !== undefined && (best === undefined || rank.get(kind)! < rank.get(best)!)) {
      best = kind;
      if (kind === CONNECTION_ERROR_PRECEDENCE[0]) break;
    }
  }
  return best;
}
