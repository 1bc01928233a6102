import type net from 'node:net';

// Every private Node field and runtime difference the package relies on, in one place.
// Each entry names what it is and the versions it was read on (lib/_http_server.js,
// lib/_http_common.js, lib/net.js of each runtime: Node 18.20.8, 20.20.2, 22.23.5, 24.22.3,
// 26.12.1). A runtime where a field is missing gets the documented fallback, never a throw.

/** Node's HTTP parser as lib/_http_server.js attaches it to a server socket (`socket.parser`). */
export interface HttpParserInternals {
  /** The request being parsed; cleared once a request's body has ended (clearIncoming). */
  incoming: HttpIncomingInternals | null;
  /** True while the parser reads the socket's handle itself, in C++ (`parser.consume(handle)`). */
  _consumed?: boolean;
  /** Hands the handle's reads back to the socket ('data' events). */
  unconsume?: () => void;
  /** Takes the connection out of the server's connections list (request timeouts, closeAllConnections). */
  remove?: () => void;
}

export interface HttpIncomingInternals {
  complete: boolean;
  upgrade?: boolean;
}

interface SocketHandleInternals {
  reading?: boolean;
  readStart?: () => number;
}

/** The fields of a server-side socket read here. */
export interface HttpSocketInternals {
  /** Set by connectionListenerInternal; null once freed (socket closed, or upgrade/CONNECT handed it over). */
  parser?: HttpParserInternals | null;
  /** The response the socket currently carries; null between responses (res.detachSocket in resOnFinish). */
  _httpMessage?: HttpResponseInternals | null;
  /** http's own "paused because of backpressure or pipelining" flag (parserOnIncoming, socketOnDrain). */
  _paused?: boolean;
  _handle?: SocketHandleInternals | null;
}

export interface HttpResponseInternals {
  writableEnded: boolean;
  /** Public since Node 15.7. */
  req?: HttpIncomingInternals;
  /** Chunks queued on the response because it has no socket yet (a pipelined response). */
  outputData?: unknown[];
}

export function httpInternals(socket: net.Socket): HttpSocketInternals {
  return socket as unknown as HttpSocketInternals;
}

/**
 * The listeners connectionListenerInternal hangs on every server socket, by event and by the
 * function's name. The four `socketOn*` handlers are bound functions (`fn.bind(undefined, server,
 * socket, parser, state)`), so their names carry the "bound " prefix. Same names on 18-26.
 * 'close' (socketOnClose) is left in place: it frees the parser and aborts pipelined requests
 * when the socket finally closes, as it would without lingering.
 */
const HTTP_SOCKET_LISTENERS: ReadonlyArray<readonly [string, string]> = [
  ['data', 'bound socketOnData'], // parser.execute() of bytes read by JS (after an unconsume)
  ['end', 'bound socketOnEnd'], // parser.finish(): a FIN mid-body is HPE_INVALID_EOF_STATE -> 'clientError' (22+)
  ['drain', 'bound socketOnDrain'], // resumes the parser after backpressure
  ['error', 'socketOnError'], // emits 'clientError'
  ['timeout', 'socketOnTimeout'], // destroys on server.timeout / keepAliveTimeout
  ['resume', 'onSocketResume'], // restarts the handle's reads for the C++ parser
  ['pause', 'onSocketPause'], // stops them
];

const endWrappers = new WeakSet<(...args: unknown[]) => void>();

/**
 * Puts `wrap(original)` in the place of Node's bound socketOnEnd, which runs parser.finish() on
 * the client's FIN: a FIN in the middle of a body is HPE_INVALID_EOF_STATE, reported as
 * 'clientError' even when the response was already complete and the client merely stopped
 * uploading. Returns false when the socket has no such listener.
 */
export function wrapHttpEndListener(socket: net.Socket, wrap: (original: () => void) => () => void): boolean {
  for (const listener of socket.listeners('end')) {
    if ((listener as { name?: string }).name !== 'bound socketOnEnd') continue;
    const replacement = wrap(listener as () => void);
    endWrappers.add(replacement);
    socket.removeListener('end', listener as () => void);
    socket.on('end', replacement);
    return true;
  }
  return false;
}

/**
 * Takes Node's HTTP machinery off a server socket so that nothing it receives from now on is
 * parsed: no new request, no 'clientError', no request timeout. What the upgrade path of
 * onParserExecuteCommon does, minus freeing the parser (socketOnClose still does that on close).
 * Returns false, touching nothing, when the socket has no parser (already freed, upgraded) or
 * its listeners are not the ones named here.
 */
export function detachHttpParser(socket: net.Socket): boolean {
  const s = httpInternals(socket);
  const parser = s.parser;
  if (!parser) return false;
  // A runtime whose http module hangs other listeners (renamed in a later Node, or Bun's own
  // http) is left alone: Node's default close applies rather than half a detach.
  const named = (event: string, name: string) => socket.listeners(event).some((l) => (l as { name?: string }).name === name || endWrappers.has(l as () => void));
  if (!named('end', 'bound socketOnEnd') || !named('error', 'socketOnError')) return false;
  for (const [event, name] of HTTP_SOCKET_LISTENERS) {
    for (const listener of socket.listeners(event)) {
      const fn = listener as (...a: unknown[]) => void;
      if ((listener as { name?: string }).name === name || endWrappers.has(fn)) socket.removeListener(event, fn);
    }
  }
  if (parser._consumed && typeof parser.unconsume === 'function') parser.unconsume();
  parser._consumed = false;
  if (typeof parser.remove === 'function') parser.remove();
  s._paused = false;
  socket.setTimeout(0);
  return true;
}

/**
 * Makes sure the handle reads again. On Node 18/20 the handle was stopped by http's onSocketPause
 * while the parser owned it, and the Readable state still says a read is in flight
 * (`_readableState.reading`), so `resume()` alone never restarts it; 22+ keep the handle reading.
 * Starting it the way net's tryReadStart does covers both.
 */
export function restartReading(socket: net.Socket): void {
  socket.resume();
  const handle = httpInternals(socket)._handle;
  if (handle && handle.reading === false && typeof handle.readStart === 'function') {
    handle.reading = true;
    handle.readStart();
  }
}
