// Node's user-buffer read path, which the drain uses to discard without allocating: the private
// half of `net.Socket`'s documented `onread: { buffer, callback }` option, for sockets Node
// constructs itself (accepted ones) where that option cannot be passed. Same rule as
// node-internals.ts: every private field here, with the Node versions it was checked on.
//
// Read in lib/net.js and lib/internal/stream_base_commons.js as built into Node.js 18.20.8,
// 20.20.2, 22.23.5, 24.22.3 and 26.12.1 (the sources embedded in those binaries; onStreamRead is
// the same on all five but for 18's errnoException spelling), and run by test/close/discard.test.ts
// on each of them:
// - the Socket constructor sets three own symbol properties, `Symbol(kBuffer)`,
//   `Symbol(kBufferCb)` and `Symbol(kBufferGen)`, to null (lib/net.js; the symbols are
//   stream_base_commons' and are not exported);
// - `_handle.onread` is stream_base_commons' `onStreamRead`: for `nread > 0` it calls
//   `socket[kBufferCb](nread, socket[kBuffer])` instead of pushing a new Buffer when
//   `socket[kBuffer]` is set, and handles EOF and errors exactly as without (push(null): 'end');
// - `_handle.useUserBuffer(buffer)` (StreamBase, C++) makes every later read of the handle land in
//   that one buffer; the handle keeps no reference to it, so the buffer must outlive the handle;
// - Socket.prototype.resume() and read() restart the handle's reads (tryReadStart) when
//   `socket[kBuffer]` is set and `_handle.reading` is false.
// Only a TCP handle is switched: a TLSWrap's reads are decrypted records whose copy into a
// fixed buffer was not checked on every version, and a socket already given an `onread` keeps it.
import type net from 'node:net';
import { currentRuntime } from './node-internals.js';

interface UserBufferHandle {
  useUserBuffer?: (buffer: Uint8Array) => void;
  onread?: { name?: string };
  reading?: boolean;
  constructor?: { name?: string };
}

interface ReadSymbols {
  buffer: symbol;
  callback: symbol;
  generator: symbol;
}

// stream_base_commons creates the symbols once per process: found on the first socket, then
// only checked (an own property of each socket) instead of scanning every socket's symbols.
let known: ReadSymbols | null = null;

/** The three symbols, own properties of this socket, or null when any is missing. */
function readSymbols(socket: net.Socket): ReadSymbols | null {
  if (known && Object.hasOwn(socket, known.buffer) && Object.hasOwn(socket, known.callback) && Object.hasOwn(socket, known.generator)) return known;
  const found = scanSymbols(socket);
  if (found) known = found;
  return found;
}

function scanSymbols(socket: net.Socket): ReadSymbols | null {
  let buffer: symbol | undefined;
  let callback: symbol | undefined;
  let generator: symbol | undefined;
  for (const symbol of Object.getOwnPropertySymbols(socket)) {
    switch (symbol.description) {
      case 'kBuffer': buffer = symbol; break;
      case 'kBufferCb': callback = symbol; break;
      case 'kBufferGen': generator = symbol; break;
    }
  }
  return buffer && callback && generator ? { buffer, callback, generator } : null;
}

/**
 * Makes every later read of the socket's TCP handle land in `buffer` and be reported to
 * `onRead(bytes)` instead of becoming a 'data' chunk (what Node does for a socket created with
 * `onread`). What the stream had already buffered still comes out as 'data'; EOF, errors and
 * `bytesRead` are unchanged. Returns false, touching nothing, where this is not Node's net.Socket
 * over a TCP handle with the fields above (TLS, Bun, Deno, a socket already given `onread`, a
 * handle that another reader consumes): the caller reads the usual way. Irreversible for the
 * socket: only for a reader that keeps it until it closes. `buffer` must stay referenced for the
 * life of the process (the handle does not keep it).
 */
export function readIntoUserBuffer(socket: net.Socket, buffer: Uint8Array, onRead: (bytes: number) => void): boolean {
  if (currentRuntime().name !== 'node') return false;
  const handle = (socket as unknown as { _handle?: UserBufferHandle | null })._handle;
  if (!handle || handle.constructor?.name !== 'TCP' || typeof handle.useUserBuffer !== 'function') return false;
  if (handle.onread?.name !== 'onStreamRead') return false;
  // http's parser reads the handle in C++ while it holds it (parser.consume); detachHttpParser
  // gives it back first. A handle still consumed is not ours to switch.
  if ((handle as { _consumed?: boolean })._consumed === true && (socket as { parser?: { _consumed?: boolean } | null }).parser?._consumed === true) return false;
  const symbols = readSymbols(socket);
  if (!symbols) return false;
  const fields = socket as unknown as Record<symbol, unknown>;
  if (fields[symbols.buffer] != null || fields[symbols.callback] != null || fields[symbols.generator] != null) return false;
  handle.useUserBuffer(buffer);
  fields[symbols.buffer] = buffer;
  // Called as socket[kBufferCb](nread, buffer): with the socket as `this`, which onRead ignores.
  fields[symbols.callback] = onRead;
  return true;
}

/** The socket's reads land in a user buffer (readIntoUserBuffer(), or Node's `onread` option). */
export function readsIntoUserBuffer(socket: net.Socket): boolean {
  const symbols = readSymbols(socket);
  return !!symbols && (socket as unknown as Record<symbol, unknown>)[symbols.buffer] != null;
}
