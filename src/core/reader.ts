import type net from 'node:net';
import { dropDecoder } from './node-internals.js';

/**
 * Reads a socket that other code hands over, whatever mode that code left it in, so that every
 * chunk arrives as a 'data' event to the new owner's listener (gracefulClose and lingerClose
 * discarding, relay() forwarding).
 *
 * A 'readable' listener left on the socket (a protocol sniffer that peeked at the first bytes)
 * keeps the stream in paused mode: Node's resume() then does nothing and the socket is never read,
 * so neither its data nor its FIN would be seen. In that mode the reader calls read() itself on
 * each 'readable' (each read() emits 'data'); otherwise it uses resume() and pause().
 */
export class SocketReader {
  private readonly onReadable: (() => void) | undefined;
  private attached = false;
  private paused = false;

  constructor(private readonly socket: net.Socket) {
    // Decided once, when the owner takes the socket over: the listener present then is the one
    // that holds the stream in paused mode.
    this.onReadable = socket.listenerCount('readable') > 0
      ? () => { while (!this.paused && socket.read() !== null); }
      : undefined;
  }

  /** Starts or restarts reading (the first call takes over a leftover 'readable' listener's mode). */
  resume(): void {
    this.paused = false;
    if (this.onReadable) {
      if (!this.attached) {
        this.attached = true;
        this.socket.on('readable', this.onReadable);
      }
      this.onReadable();
    } else {
      this.socket.resume();
    }
  }

  /** Stops reading until resume(): Node stops reading the handle once its buffer is full. */
  pause(): void {
    this.paused = true;
    if (!this.onReadable) this.socket.pause();
  }

  /** Removes the 'readable' listener resume() added. */
  stop(): void {
    this.paused = true;
    if (this.onReadable && this.attached) {
      this.attached = false;
      this.socket.off('readable', this.onReadable);
    }
  }
}

/**
 * Makes a socket with setEncoding() deliver bytes again, for an owner that must pass on exactly
 * what arrived (relay()): the text Node had already decoded is taken out (read(), which also
 * emits it as 'data' to listeners left on the socket) and put back as bytes, with the start of an
 * incomplete character the decoder held, ahead of what comes next. Returns the encoding that was
 * set, for restoreEncoding(), or null when none was. Text decoded before the call is given back
 * as `Buffer.from(text, encoding)`: exact for every encoding except where decoding had already
 * replaced an invalid sequence (utf8, U+FFFD) — bytes the socket read before the owner got it.
 */
export function takeBytes(socket: net.Socket): BufferEncoding | null {
  const encoding = socket.readableEncoding;
  if (!encoding || socket.destroyed) return null;
  let text = '';
  while (socket.readableLength > 0) {
    const chunk = socket.read() as string | null;
    if (chunk === null) break;
    text += chunk;
  }
  const held = dropDecoder(socket, encoding);
  const bytes = text === '' ? held : Buffer.concat([Buffer.from(text, encoding), held]);
  if (bytes.length > 0) socket.unshift(bytes);
  return encoding;
}

/** Sets the encoding takeBytes() took off again, unless other code set one since. */
export function restoreEncoding(socket: net.Socket, encoding: BufferEncoding | null): void {
  if (encoding && socket.readableEncoding === null) socket.setEncoding(encoding);
}
