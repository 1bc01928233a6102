// Every private field and behaviour of Node's node:http2 that the HTTP/2 lingering close relies on.
//
// Read in lib/internal/http2/core.js and lib/internal/http2/compat.js as built into Node.js
// 18.20.8, 20.20.2, 22.23.5, 24.22.3 and 26.12.1 (the sources embedded in those binaries), and
// run by test/http/http2.test.ts on 20.20.2, 22.23.5, 24.22.3 and 26.12.1. A runtime outside that list (another Node major, Bun,
// Deno) is refused with ERR_NET_LINGER_UNSUPPORTED before anything is touched: a half-working
// mode would be worse than Node's default.
import net from 'node:net';
import type http2 from 'node:http2';
import { currentRuntime, runtimeName } from './node-internals.js';

/** Node majors whose http2 internals were read and found to match what this file assumes. */
const CHECKED_NODE_MAJORS: readonly number[] = [18, 20, 22, 24, 26];

/**
 * Why this runtime cannot have the HTTP/2 lingering close, or undefined when it can.
 * finishSessionClose() is the same on all five; closeStream() differs only in a local variable;
 * onStreamClose() gained a peerReset argument in 24 (a stream the client reset is destroyed at
 * its 'end'), which changes nothing here.
 */
export function http2Unsupported(): string | undefined {
  if (currentRuntime().name !== 'node') return `${runtimeName()} implements node:http2 differently`;
  const major = Number(process.versions.node.split('.')[0]);
  if (!CHECKED_NODE_MAJORS.includes(major)) {
    return `${runtimeName()}'s node:http2 internals were not checked (checked on Node.js ${CHECKED_NODE_MAJORS.join(', ')})`;
  }
  return undefined;
}

function isServerSession(value: unknown): value is http2.ServerHttp2Session {
  return typeof value === 'object' && value !== null && value.constructor?.name === 'ServerHttp2Session';
}

/**
 * The session bound to a server's raw socket (the one 'connection' / 'secureConnection' hands
 * out), or undefined when none is (an HTTP/1 fallback with allowHTTP1, an 'unknownProtocol'
 * socket, or a session that has let the socket go: cleanupSession() clears the field before
 * finishSessionClose() calls socket.end()).
 *
 * Node stores it as `socket[kBoundSession] = this` in the Http2Session constructor; on Node 20-26
 * lib/internal/http2/core.js imports kBoundSession under a name its module does not export, so
 * the session lands under the string key "undefined" (20.20.2 line 1254, 22.23.5 line 1291,
 * 24.22.3 line 1317, 26.12.1 line 1319). Node 18.20.8 stores it under Symbol(kSession).
 */
export function boundSession(socket: net.Socket): http2.ServerHttp2Session | undefined {
  const byString = (socket as unknown as Record<string, unknown>)['undefined'];
  if (isServerSession(byString)) return byString;
  for (const symbol of Object.getOwnPropertySymbols(socket)) {
    if (symbol.description !== 'kSession' && symbol.description !== 'kBoundSession') continue;
    const value = (socket as unknown as Record<symbol, unknown>)[symbol];
    if (isServerSession(value)) return value;
  }
  return undefined;
}

/**
 * The TCP socket under a server-side TLS socket: `tlsSocket._handle._parentWrap`, the net.Socket
 * the TLS layer was wrapped around (_tls_wrap.js `_wrapHandle`, same field on 18.20.8, 20.20.2,
 * 22.23.5, 24.22.3, 26.12.1), or undefined for a plain socket or once the handle is gone.
 * Node 18 does not destroy a TLS socket when the TCP socket under it is destroyed (Node 20 and
 * later do): the TLS socket then looks open, and a session destroyed later writes its last
 * frames through a stream that is gone (Node 18.20.8 was seen to crash in
 * Http2Session::Close -> TLSWrap::EncOut). The caller closes the TLS socket with it.
 */
export function tcpUnderTls(socket: net.Socket): net.Socket | undefined {
  const handle = (socket as unknown as { _handle?: { _parentWrap?: unknown } | null })._handle;
  const parent = handle?._parentWrap;
  return parent instanceof net.Socket && parent !== socket ? parent : undefined;
}

/**
 * The compatibility API's forwarder from a stream to its Http2ServerRequest: compat.js's
 * `onStreamData`, added as `stream.on('data', onStreamData)` when the request is first read
 * (same name on 18.20.8, 20.20.2, 22.23.5, 24.22.3, 26.12.1). It pauses the stream whenever the
 * request's own buffer is full, so a request nobody reads any more keeps its stream from ever
 * ending. Removing it leaves the request with what it already holds; Node's own 'close' handler
 * (onStreamCloseRequest) still ends it.
 */
export function detachCompatDataForwarder(stream: http2.ServerHttp2Stream): void {
  for (const listener of stream.listeners('data')) {
    if ((listener as { name?: string }).name === 'onStreamData') stream.removeListener('data', listener as (...a: unknown[]) => void);
  }
}

/**
 * Facts of Node's http2 the integration leans on, none of them a field it writes (kept here so
 * that a Node release that changes one is found in one place):
 * - finishSessionClose() (every version read) calls cleanupSession(), then `socket.end(cb)`, and
 *   for a destroyed (not closed) session `setImmediate(() => socket.destroy(error))` in cb; a
 *   closed session gets `socket.resume()` first. No other code of node:http2 ends or destroys a
 *   bound socket without an error except socketOnClose and the unknownProtocol path (which
 *   writes data with its end()).
 * - closeStream(stream, NGHTTP2_NO_ERROR) on a stream whose writable side has finished submits
 *   RST_STREAM(NO_ERROR) at once; the native Http2Stream::SubmitRstStream sends the pending
 *   frames first (SendPendingData) or, while a write is in progress, queues the RST behind it.
 * - onStreamClose() destroys a stream with a readable side only once 'end' is read, so a paused
 *   stream with buffered data is never destroyed and a closed session never finishes.
 */
export const HTTP2_FACTS_CHECKED = CHECKED_NODE_MAJORS;
