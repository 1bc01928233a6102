// `net-linger explain`: from any spelling of a socket error to the one code, what it means on
// each OS, why it usually happens and what in this package avoids it.
import os from 'node:os';
import { ERROR_CODES, normalizeErrorCode, type ErrnoPlatform, type ErrorCodeEntry } from './errors.js';
import { wrapWords } from './text.js';

interface Advice {
  /** Why this error usually happens, each naming the scenario row that shows it where there is one. */
  readonly causes: readonly string[];
  /** What in this package avoids it (or why nothing can). */
  readonly avoid: readonly string[];
}

const ADVICE: Readonly<Record<string, Advice>> = {
  ECONNRESET: {
    causes: [
      'The peer closed its socket while data it had not read was still in its receive buffer: its kernel sends RST instead of FIN (row close-with-unread-data).',
      'The peer reset the connection on purpose: SO_LINGER {1,0} then close, or socket.resetAndDestroy() (rows linger-zero, send-after-reset).',
      'Writing after the peer went away: its kernel answers the data with RST, and the next read or write here fails (row send-after-reset).',
    ],
    avoid: [
      'gracefulClose(socket) on the side that closes: send everything, shutdown(write), read until the peer\'s FIN, then close, so unread data never turns the FIN into RST (row orderly-close).',
      'resetClose(socket) when a reset is what you want, so it is deliberate and not a race; lingerClose to give the peer time to take the data first.',
      'isConnectionReset(err) on the receiving side recognises every spelling of it.',
    ],
  },
  EPIPE: {
    causes: [
      'Writing after this side shut down sending, with shutdown(write) or socket.end() (row shutdown-write).',
      'Writing after the peer reset a connection whose EOF was already read here: the RST arrives too late to be reported as a reset (row shutdown-both-then-peer-sends).',
      'Windows reports the first case as WSAESHUTDOWN (10058), which is why it maps here.',
    ],
    avoid: [
      'Stop writing once socket.end() or shutdown(target, \'write\') was called (socket.writableEnded tells).',
      'gracefulClose(socket) on the other side keeps reading until this side\'s FIN, so data written after its EOF is read, not answered with RST.',
    ],
  },
  ECONNABORTED: {
    causes: [
      'This host\'s own stack gave up on the connection: retransmissions or keep-alive probes timed out.',
      'On accept(): the client reset the connection before it was accepted.',
      'On Windows: the local application or stack aborted the connection (WSAECONNABORTED, ERROR_CONNECTION_ABORTED).',
    ],
    avoid: [
      'No close helper causes or prevents it: it is this host giving up, not the peer resetting, so isConnectionReset() is deliberately false for it.',
    ],
  },
  ENOTCONN: {
    causes: [
      'shutdown() on a TCP socket the peer has already reset (row error-tcp-unconnected).',
      'shutdown() on a socket that was never connected, such as an unconnected UDP socket (row error-udp-unconnected).',
    ],
    avoid: [
      'Shut down only connected sockets; after a reset there is nothing to shut: treat the reset (isConnectionReset) as the end of the connection.',
    ],
  },
  ENOTSOCK: {
    causes: [
      'A descriptor that is a file, a pipe or the null device, not a socket (row error-not-a-socket).',
      'A stale or wrong number passed as a handle, such as a descriptor reused for a file after the socket closed.',
    ],
    avoid: [
      'Pass the net.Socket itself rather than a number: this package resolves its handle at the moment of the call.',
    ],
  },
  EBADF: {
    causes: [
      'The descriptor is not open: the socket was closed already, or the number never named an open descriptor (row error-fd-not-open).',
    ],
    avoid: [
      'Pass the net.Socket itself rather than a cached number: a destroyed socket then throws ERR_SOCKET_NO_HANDLE instead of acting on whatever reuses the number.',
    ],
  },
};

const PLATFORM_NAMES: Readonly<Record<ErrnoPlatform, string>> = { linux: 'Linux', darwin: 'macOS', win32: 'Windows' };
const PLATFORMS = Object.keys(PLATFORM_NAMES) as ErrnoPlatform[];

export interface ErrorExplanation {
  /** What was asked about, as given. */
  input: string;
  /** The platform numbers were read for. */
  platform: string;
  /** The normalised code, or undefined when the input names no error this package knows. */
  code: string | undefined;
  /** The table entry, when the code is one of the connection errors this package normalises. */
  entry: ErrorCodeEntry | undefined;
  /** How the code is spelled on each OS (only for table entries). */
  spellings: {
    /** The platform ('linux', 'darwin', 'win32'). */
    platform: ErrnoPlatform;
    /** Its name for people ('Linux', 'macOS', 'Windows'). */
    name: string;
    /** Its numbers and what Node reports ("errno 104 (Node reports -104)"). */
    text: string;
  }[];
  /** Why the error usually happens, one cause per entry; empty when the package has nothing to say. */
  causes: readonly string[];
  /** What in this package avoids it (or why nothing can); empty when the package has nothing to say. */
  avoid: readonly string[];
  /** For a number: what it means on the other platforms, where that differs. */
  elsewhere: {
    /** The other platform. */
    platform: ErrnoPlatform;
    /** The code the same number names there. */
    code: string;
  }[];
}

function spellingsOf(entry: ErrorCodeEntry): ErrorExplanation['spellings'] {
  const winsockNames = entry.aliases.filter((a) => a.startsWith('WSAE'));
  const win32Names = entry.aliases.filter((a) => a.startsWith('ERROR_'));
  const windows = [
    ...entry.winsock.map((n, i) => `${winsockNames[i] ?? 'Winsock'} ${n}`),
    ...entry.win32.map((n, i) => `${win32Names[i] ?? 'system error'} ${n}`),
  ];
  return [
    { platform: 'linux', name: 'Linux', text: `errno ${entry.linux} (Node reports ${-entry.linux})` },
    { platform: 'darwin', name: 'macOS', text: `errno ${entry.darwin} (Node reports ${-entry.darwin})` },
    { platform: 'win32', name: 'Windows', text: `${windows.join(', ')} (Node reports ${entry.libuvWindows})` },
  ];
}

/** Everything `net-linger explain` says about one input, as data. */
export function explainError(input: string | number, platform: string = process.platform): ErrorExplanation {
  const text = String(input).trim();
  const numeric = /^[+-]?\d+$/.test(text);
  let code = normalizeErrorCode(text, platform);
  // normalizeErrorCode accepts any E-name by its shape; explain only vouches for names some OS has.
  if (code && !ERROR_CODES.some((e) => e.code === code) && !(code in os.constants.errno) && !numeric) code = undefined;
  const entry = ERROR_CODES.find((e) => e.code === code);
  const advice = code ? ADVICE[code] : undefined;
  const elsewhere: ErrorExplanation['elsewhere'] = [];
  if (numeric) {
    for (const other of PLATFORMS) {
      if (other === platform) continue;
      const there = normalizeErrorCode(text, other);
      if (there && there !== code && ERROR_CODES.some((e) => e.code === there)) elsewhere.push({ platform: other, code: there });
    }
  }
  return {
    input: text,
    platform,
    code,
    entry,
    spellings: entry ? spellingsOf(entry) : [],
    causes: advice?.causes ?? [],
    avoid: advice?.avoid ?? [],
    elsewhere,
  };
}

/** A list item wrapped at 100 columns with a hanging indent. */
function bullet(text: string): string[] {
  return wrapWords(text, 96).map((l, i) => `${i === 0 ? '  - ' : '    '}${l}`);
}

const platformName = (p: string): string => PLATFORM_NAMES[p as ErrnoPlatform] ?? p;

/**
 * The text `net-linger explain` prints. `known` is true only for the connection errors net-linger
 * normalises (exit 0); any other input, an OS error outside the table included, is exit 2.
 */
export function formatExplanation(x: ErrorExplanation): { known: boolean; text: string } {
  const hints = x.elsewhere.map((e) => `on ${platformName(e.platform)} ${x.input} is ${e.code} (--platform ${e.platform})`);
  if (!x.code) {
    const known = ERROR_CODES.map((e) => e.code).join(', ');
    const lines = [`"${x.input}" is not an error code or number net-linger knows${/^[+-]?\d+$/.test(x.input) ? ` on ${platformName(x.platform)}` : ''}.`];
    if (hints.length) lines.push(`Note: ${hints.join('; ')}.`);
    lines.push(`Try a name (${known}, WSAECONNRESET…) or a number (104, 54 with --platform darwin, 10054, -4077…).`);
    return { known: false, text: `${lines.join('\n')}\n` };
  }
  if (!x.entry) {
    const lines = [
      `${x.input}${x.input !== x.code ? ` on ${platformName(x.platform)} is ${x.code}` : ''}: not one of the connection errors net-linger normalises (${ERROR_CODES.map((e) => e.code).join(', ')}).`,
    ];
    if (hints.length) lines.push(`Note: ${hints.join('; ')}.`);
    return { known: false, text: `${lines.join('\n')}\n` };
  }
  const heading = x.input.toUpperCase() === x.code ? x.code : `${x.input} is ${x.code}`;
  const numberNote = /^[+-]?\d+$/.test(x.input) && !/^-?(4\d{3}|1\d{4})$/.test(x.input.replace(/^\+/, ''))
    ? ` (read as a ${platformName(x.platform)} number)` : '';
  const width = Math.max(...x.spellings.map((s) => s.name.length));
  const lines = [
    `${heading}${numberNote}: ${x.entry.meaning}.`,
    ...(hints.length ? [`Note: ${hints.join('; ')}.`] : []),
    '',
    'How each OS spells it:',
    ...x.spellings.map((s) => `  ${s.name.padEnd(width)}  ${s.text}`),
    '',
    'Usual causes:',
    ...x.causes.flatMap(bullet),
    '',
    'What avoids it:',
    ...x.avoid.flatMap(bullet),
    '',
    'See it happen: net-linger lab',
  ];
  return { known: true, text: `${lines.join('\n')}\n` };
}
