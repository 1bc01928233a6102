import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import tls from 'node:tls';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { NetLingerError, SHUT_RD, SHUT_RDWR, SHUT_WR, SocketError, getLinger, maxLingerSeconds, pendingBytes, setLinger, shutdown } from '../../src/index';
import { binding } from '../../src/core/binding';
import { resolveHandle } from '../../src/core/handle';
import { connection, until, type Connection } from '../support/helpers';

let conn: Connection;
beforeEach(async () => { conn = await connection(); });
afterEach(() => conn.close());

// The raw OS handle: Node's fd on POSIX; on Windows (where Node says -1) the SOCKET found for it.
const fdOf = (s: net.Socket) =>
  process.platform === 'win32' ? Number(resolveHandle(s)) : (s as unknown as { _handle: { fd: number } })._handle.fd;

describe('setLinger / getLinger on a real socket', () => {
  it('reads back what was set, by socket and by descriptor', () => {
    expect(getLinger(conn.client)).toEqual({ onoff: false, seconds: 0 });
    setLinger(conn.client, true, 0);
    expect(getLinger(conn.client)).toEqual({ onoff: true, seconds: 0 });
    setLinger(fdOf(conn.client), 1, 0);
    expect(getLinger(fdOf(conn.client))).toEqual({ onoff: true, seconds: 0 });
    setLinger(BigInt(fdOf(conn.client)), false);
    expect(getLinger(conn.client).onoff).toBe(false);
  });

  it('Linux: turning linger off keeps the previous time', () => {
    if (process.platform !== 'linux') return;
    setLinger(fdOf(conn.client), true, 7);
    setLinger(fdOf(conn.client), false, 3);
    expect(getLinger(conn.client)).toEqual({ onoff: false, seconds: 7 });
  });

  it('accepts the platform maximum and not one more', () => {
    const max = maxLingerSeconds();
    expect(max).toBe(process.platform === 'win32' ? 65535 : process.platform === 'darwin' ? 327 : 2 ** 31 - 1);
    setLinger(fdOf(conn.client), true, max);
    expect(getLinger(conn.client)).toEqual({ onoff: true, seconds: max });
    expect(() => setLinger(conn.client, true, max + 1)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
  });

  it('warns once per process, with a code, before a lingering close can block the event loop', () => {
    if (process.platform !== 'linux') return;
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      setLinger(conn.client, true, 1);
      setLinger(conn.client, true, 2);
      setLinger(conn.client, true, 0);
      setLinger(conn.client, false, 0);
      // Only the first warns (and only if no earlier test in this process warned already).
      expect(warn.mock.calls.length).toBeLessThanOrEqual(1);
      for (const call of warn.mock.calls) {
        expect(call[1]).toMatchObject({ type: 'NetLingerWarning', code: 'NET_LINGER_BLOCKING_CLOSE' });
      }
    } finally {
      warn.mockRestore();
      setLinger(conn.client, false, 0);
    }
  });

  it('does not warn for raw descriptors', () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      setLinger(fdOf(conn.client), true, 5);
      expect(warn).not.toHaveBeenCalled();
    } finally {
      warn.mockRestore();
      setLinger(fdOf(conn.client), false, 0);
    }
  });
});

describe('pendingBytes on a real socket', () => {
  it('counts unread bytes', async () => {
    conn.client.write(Buffer.alloc(3000));
    await until(() => pendingBytes(conn.server).unread === 3000);
    const pending = pendingBytes(conn.server);
    expect(pending.unread).toBe(3000);
    // Windows: SIO_TCP_INFO's BytesInFlight; Wine does not implement it and the count is null.
    expect(process.platform === 'win32' ? [0, null] : [0]).toContain(pending.unacked);
  });

  it('counts bytes the peer has not acknowledged while it is not reading (Linux, macOS)', async () => {
    if (process.platform === 'win32') return;
    conn.client.pause();
    const chunk = Buffer.alloc(1 << 20);
    const handle = (conn.server as unknown as { _handle: { writeQueueSize: number } })._handle;
    for (let i = 0; i < 64 && handle.writeQueueSize === 0; i++) conn.server.write(chunk);
    const { unacked } = pendingBytes(conn.server);
    expect(unacked).toBeGreaterThan(0);
  });
});

describe('shutdown', () => {
  it('takes names and SHUT_* numbers', async () => {
    expect([SHUT_RD, SHUT_WR, SHUT_RDWR]).toEqual([0, 1, 2]);
    const ended = new Promise((resolve) => conn.client.once('end', resolve));
    conn.client.resume();
    shutdown(conn.server, SHUT_WR);
    await ended;
    shutdown(conn.server, 'read');
  });

  it('OS failures are SocketErrors shaped like SystemError', () => {
    shutdown(conn.server, 'write');
    conn.server.destroy();
    conn.client.destroy();
    const fd = fs.openSync(os.devNull, 'r');
    try {
      const err = (() => { try { shutdown(fd, 'write'); } catch (e) { return e; } })() as SocketError;
      expect(err).toBeInstanceOf(SocketError);
      expect(err).toMatchObject({ code: 'ENOTSOCK', syscall: 'shutdown', message: 'shutdown ENOTSOCK' });
      expect(typeof err.errno).toBe('number');
    } finally {
      fs.closeSync(fd);
    }
  });
});

describe('TLS sockets are targets too', () => {
  it('resolves the descriptor under the TLS layer', async () => {
    const key = fs.readFileSync(new URL('../fixtures/key.pem', import.meta.url));
    const cert = fs.readFileSync(new URL('../fixtures/cert.pem', import.meta.url));
    const server = tls.createServer({ key, cert }, (s) => s.on('error', () => undefined));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const client = tls.connect({ port: (server.address() as net.AddressInfo).port, host: '127.0.0.1', rejectUnauthorized: false });
    await new Promise((resolve) => client.once('secureConnect', resolve));
    try {
      setLinger(client, true, 0);
      expect(getLinger(client)).toEqual({ onoff: true, seconds: 0 });
      expect(pendingBytes(client).unread).toBeGreaterThanOrEqual(0);
    } finally {
      client.destroy();
      server.close();
    }
  });
});

describe('bad input: a typed error, never a crash, never a no-op', () => {
  const code = (fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      return { code: (err as { code?: string }).code, type: (err as Error).constructor.name };
    }
    return { code: 'no error', type: '' };
  };

  it('targets', async () => {
    for (const bad of ['3', null, undefined, {}, [], true, Symbol('x'), () => 1, new net.Server()]) {
      expect(code(() => getLinger(bad as never)), String(bad)).toEqual({ code: 'ERR_INVALID_ARG_TYPE', type: 'TypeError' });
    }
    for (const bad of [-1, 1.5, NaN, Infinity, -Infinity, 2 ** 53, -0.5, -1n, 2n ** 64n]) {
      expect(code(() => getLinger(bad as never)), String(bad)).toEqual({ code: 'ERR_OUT_OF_RANGE', type: 'RangeError' });
    }
    const fresh = new net.Socket();
    expect(code(() => getLinger(fresh))).toEqual({ code: 'ERR_SOCKET_NO_HANDLE', type: 'NetLingerError' });
    conn.client.destroy();
    expect(code(() => setLinger(conn.client, true, 0))).toEqual({ code: 'ERR_SOCKET_NO_HANDLE', type: 'NetLingerError' });
    expect(code(() => shutdown(conn.client, 'write'))).toEqual({ code: 'ERR_SOCKET_NO_HANDLE', type: 'NetLingerError' });
    expect(code(() => pendingBytes(conn.client))).toEqual({ code: 'ERR_SOCKET_NO_HANDLE', type: 'NetLingerError' });
    expect(new NetLingerError('X', 'y')).toBeInstanceOf(Error);
  });

  // On Windows the SOCKET is found by address (Node's handle never has it), so this is POSIX's case.
  it.skipIf(process.platform === 'win32')('a runtime whose sockets hide their descriptor gets a typed refusal (as Deno does)', () => {
    const socket = conn.client as unknown as { _handle: unknown };
    const real = socket._handle;
    socket._handle = { constructor: { name: 'TCPWrap' } };
    try {
      expect(code(() => getLinger(conn.client))).toEqual({ code: 'ERR_NET_LINGER_UNSUPPORTED', type: 'NetLingerError' });
    } finally {
      socket._handle = real;
    }
  });

  it('onoff and seconds', () => {
    for (const bad of ['1', null, {}, 1n]) {
      expect(code(() => setLinger(conn.client, bad as never, 0)), String(bad)).toEqual({ code: 'ERR_INVALID_ARG_TYPE', type: 'TypeError' });
    }
    for (const bad of [2, -1, 0.5, NaN]) {
      expect(code(() => setLinger(conn.client, bad as never, 0)), String(bad)).toEqual({ code: 'ERR_INVALID_ARG_VALUE', type: 'TypeError' });
    }
    for (const bad of ['5', null, 5n, {}]) {
      expect(code(() => setLinger(conn.client, true, bad as never)), String(bad)).toEqual({ code: 'ERR_INVALID_ARG_TYPE', type: 'TypeError' });
    }
    for (const bad of [-1, 1.5, NaN, Infinity, -0.1, 2 ** 31, 2 ** 32 + 5]) {
      expect(code(() => setLinger(conn.client, true, bad)), String(bad)).toEqual({ code: 'ERR_OUT_OF_RANGE', type: 'RangeError' });
    }
    expect(getLinger(conn.client)).toEqual({ onoff: false, seconds: 0 });
  });

  it('how', () => {
    for (const bad of ['READ', 'rd', '', 3, -1, 1.5, NaN]) {
      expect(code(() => shutdown(conn.client, bad as never)), String(bad)).toEqual({ code: 'ERR_INVALID_ARG_VALUE', type: 'TypeError' });
    }
    for (const bad of [null, undefined, {}, 1n]) {
      expect(code(() => shutdown(conn.client, bad as never)), String(bad)).toEqual({ code: 'ERR_INVALID_ARG_TYPE', type: 'TypeError' });
    }
  });

  it('the native layer guards itself when called directly', () => {
    const native = binding();
    const out = new Int32Array(2);
    expect(code(() => native.getLinger('x' as never, out))).toEqual({ code: 'ERR_INVALID_ARG_TYPE', type: 'TypeError' });
    expect(code(() => native.getLinger(-1, out))).toEqual({ code: 'ERR_OUT_OF_RANGE', type: 'RangeError' });
    expect(code(() => native.getLinger(fdOf(conn.client), new Float64Array(2) as never))).toEqual({ code: 'ERR_INVALID_ARG_TYPE', type: 'TypeError' });
    expect(code(() => native.getLinger(fdOf(conn.client), new Int32Array(1)))).toEqual({ code: 'ERR_INVALID_ARG_TYPE', type: 'TypeError' });
    expect(code(() => native.pendingBytes(fdOf(conn.client), out as never))).toEqual({ code: 'ERR_INVALID_ARG_TYPE', type: 'TypeError' });
    expect(code(() => native.shutdown(fdOf(conn.client), 3))).toEqual({ code: 'ERR_OUT_OF_RANGE', type: 'RangeError' });
    expect(code(() => native.setLinger(fdOf(conn.client), true, -1))).toEqual({ code: 'ERR_OUT_OF_RANGE', type: 'RangeError' });
    expect(code(() => (native.setLinger as () => number)())).toEqual({ code: 'ERR_INVALID_ARG_TYPE', type: 'TypeError' });
    expect(native.shutdown(2 ** 40, 1)).toBeGreaterThan(0);
  });
});
