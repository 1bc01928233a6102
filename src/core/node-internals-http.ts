// Node's HTTP server internals that enableLingeringClose relies on: the half of node-internals.ts
// that only the HTTP integration (and the lab's HTTP rows) read. Same rule: every private field
// here, with the Node versions it was checked on.
import type net from 'node:net';
import { currentRuntime, runtimeName } from './node-internals.js';
import { warnOnce } from './warnings.js';

// ---------------------------------------------------------------------------------------------
// Node's HTTP server (enableLingeringClose). Read in lib/_http_server.js, lib/_http_common.js,
// lib/_http_incoming.js and lib/net.js of Node 18.20.8, 20.20.2, 22.23.5, 24.22.3 and 26.12.1
// (the same listener names, fields and parser methods on all five: parser.incoming,
// socket._httpMessage, res.outputData; socketOnError's `noop` observed on
// 20.20.2, 24.22.3 and 26.12.1); Bun 1.4.5 has its own node:http and none of them.

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
  /** HTTPParser, whose static kOn* numbers index the JS callbacks the C++ parser calls. */
  constructor: ParserCallbackSlots;
}

/**
 * The slots of the JS callbacks on a parser instance (`parser[HTTPParser.kOnBody] = parserOnBody`;
 * 1-5 on Node 20.20.2, 24.22.3 and 26.12.1). The parsers' FreeList sets the first four once per
 * parser object and reuses it for later connections; kOnExecute is set per connection.
 */
export interface ParserCallbackSlots {
  kOnHeaders?: number;
  kOnHeadersComplete?: number;
  kOnBody?: number;
  kOnMessageComplete?: number;
  kOnExecute?: number;
}

export interface HttpIncomingInternals {
  complete: boolean;
  upgrade?: boolean;
  destroyed?: boolean;
  destroy?: (error?: Error) => unknown;
}

export interface SocketHandleInternals {
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

/** What enableLingeringClose reads of a server-side connection, through the fields above. */
export interface HttpConnectionView {
  /** Node's parser is still on the socket (not freed, not upgraded or handed to CONNECT). */
  parsing: boolean;
  /** The request being parsed (`parser.incoming`): its body has not ended yet. */
  incoming: HttpIncomingInternals | null;
  /** The response the socket carries now (`socket._httpMessage`); null between responses. */
  response: {
    /** res.end() was called. */
    ended: boolean;
    /** Chunks still queued on the response itself (`outputData`: a pipelined response not yet on the socket). */
    queued: boolean;
    /** The request it answers. */
    req: HttpIncomingInternals | undefined;
  } | null;
}

export function httpConnection(socket: net.Socket): HttpConnectionView {
  const s = httpInternals(socket);
  const parser = s.parser;
  const res = s._httpMessage;
  return {
    parsing: !!parser,
    incoming: parser?.incoming ?? null,
    response: res
      ? { ended: res.writableEnded, queued: !!res.outputData && res.outputData.length > 0, req: res.req }
      : null,
  };
}

/**
 * Node's socketOnError already ran on this server socket: on the first error (a parse error, a
 * socket error) it takes itself off and leaves a function named `noop` so later errors are
 * ignored ('clientError' was emitted). Observed on Node 20.20.2, 24.22.3 and 26.12.1.
 */
export function httpErrorSeen(socket: net.Socket): boolean {
  const names = socket.listeners('error').map((l) => (l as { name?: string }).name);
  return !names.includes('socketOnError') && names.includes('noop');
}

/**
 * The listeners connectionListenerInternal hangs on every server socket, by event and by the
 * function's name. The four `socketOn*` handlers are bound functions (`fn.bind(undefined, server,
 * socket, parser, state)`), so their names carry the "bound " prefix. Same names on 18-26.
 * 'close' (socketOnClose) is left in place: it frees the parser and aborts pipelined requests
 * when the socket finally closes, as it would without lingering.
 */
export const HTTP_SOCKET_LISTENERS: ReadonlyArray<readonly [string, string]> = [
  ['data', 'bound socketOnData'], // parser.execute() of bytes read by JS (after an unconsume)
  ['end', 'bound socketOnEnd'], // parser.finish(): a FIN mid-body is HPE_INVALID_EOF_STATE -> 'clientError' (22+)
  ['drain', 'bound socketOnDrain'], // resumes the parser after backpressure
  ['error', 'socketOnError'], // emits 'clientError'
  ['timeout', 'socketOnTimeout'], // destroys on server.timeout / keepAliveTimeout
  ['resume', 'onSocketResume'], // restarts the handle's reads for the C++ parser
  ['pause', 'onSocketPause'], // stops them
];

export function warnUnknownHttp(): void {
  warnOnce(
    'NET_LINGER_HTTP_INTERNALS',
    `enableLingeringClose: this runtime's HTTP server socket lacks the listeners net-linger takes off (checked on Node 18-26); closes keep ${process.release.name} ${process.version}'s default behaviour`,
  );
}

/**
 * Runtimes whose node:http is their own implementation, without Node's parser on the socket:
 * Bun (checked 1.4.5) and Deno. Lingering there is refused with a typed error, not a silent no-op.
 */
export function foreignHttpRuntime(): string | undefined {
  return currentRuntime().name === 'node' ? undefined : runtimeName();
}

export const endWrappers = new WeakSet<(...args: unknown[]) => void>();

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
  if (!named('end', 'bound socketOnEnd') || !named('error', 'socketOnError')) {
    // socketOnError takes itself off after the first error it handled: not a runtime mismatch.
    if (!(named('end', 'bound socketOnEnd') && httpErrorSeen(socket))) warnUnknownHttp();
    return false;
  }
  for (const [event, name] of HTTP_SOCKET_LISTENERS) {
    for (const listener of socket.listeners(event)) {
      const fn = listener as (...a: unknown[]) => void;
      if ((listener as { name?: string }).name === name || endWrappers.has(fn)) socket.removeListener(event, fn);
    }
  }
  if (parser._consumed && typeof parser.unconsume === 'function') parser.unconsume();
  parser._consumed = false;
  if (typeof parser.remove === 'function') parser.remove();
  silenceParser(socket, parser);
  s._paused = false;
  // Only net.Socket (and TLSSocket) reach here; a plain Duplex has no setTimeout.
  if (typeof socket.setTimeout === 'function') socket.setTimeout(0);
  return true;
}

export const silenced = new WeakMap<net.Socket, () => void>();

/**
 * The parser may be in the middle of executing a read right now (a handler that destroys the
 * request runs inside it): left alone, it would go on over the rest of that read, push body into
 * the destroyed request (and pause the socket), parse a request pipelined behind it and serve it,
 * or call bytes that are no HTTP a parse error and emit 'clientError'. Its callbacks are replaced
 * for the rest of the connection: headers and body are ignored, a new message's headers stop the
 * parser where an upgrade would (the return value 2), and the end of the execution reports
 * nothing. The shared callbacks are put back by releaseHttpParser() when the socket closes,
 * before the parser object serves another connection.
 */
export function silenceParser(socket: net.Socket, parser: HttpParserInternals): void {
  const k = parser.constructor;
  const slots = parser as unknown as Record<number, unknown>;
  const keys = [k.kOnHeaders, k.kOnHeadersComplete, k.kOnBody, k.kOnMessageComplete, k.kOnExecute];
  if (!keys.every((key) => typeof key === 'number' && (slots[key] === null || typeof slots[key] === 'function'))) return;
  const [onHeaders, onHeadersComplete, onBody, onMessageComplete, onExecute] = keys as number[];
  const saved = [onHeaders, onHeadersComplete, onBody, onMessageComplete].map((key) => [key, slots[key]] as const);
  const ignore = () => {};
  slots[onHeaders] = ignore;
  slots[onHeadersComplete] = () => 2;
  slots[onBody] = ignore;
  slots[onMessageComplete] = ignore;
  slots[onExecute] = ignore;
  silenced.set(socket, () => {
    for (const [key, fn] of saved) slots[key] = fn;
  });
}

/** Puts back the parser callbacks silenceParser() replaced; called once the socket has closed. */
export function releaseHttpParser(socket: net.Socket): void {
  const restore = silenced.get(socket);
  if (!restore) return;
  silenced.delete(socket);
  restore();
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
