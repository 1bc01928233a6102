// Windows-only behaviour on live Node sockets (run under Windows node.exe in Wine 10 by
// `npm run test:windows`): finding the SOCKET behind a net.Socket, Winsock's limits and numbers,
// and the hazards refused for Node sockets.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import { getLinger, isConnectionReset, maxLingerSeconds, pendingBytes, setLinger, shutdown } from '../../src/index';
import { findWindowsSocket, resolveHandle } from '../../src/core/handle';
import { connection, until } from '../support/helpers';

const thrown = (fn: () => unknown): Record<string, unknown> => {
  try {
    fn();
  } catch (err) {
    const e = err as Error & { code?: string; errno?: number; syscall?: string };
    return { name: e.name, code: e.code, errno: e.errno, syscall: e.syscall, message: e.message };
  }
  throw new Error('expected a throw');
};

describe.runIf(process.platform === 'win32')('net.Socket targets on Windows', () => {
  it('Node reports no descriptor, yet each end of one connection resolves to its own SOCKET', async () => {
    const conn = await connection();
    try {
      expect((conn.client as unknown as { _handle: { fd: number } })._handle.fd).toBe(-1);
      expect(resolveHandle(conn.client)).not.toBe(resolveHandle(conn.server));
      setLinger(conn.client, true, 0);
      expect(getLinger(conn.client)).toEqual({ onoff: true, seconds: 0 });
      expect(getLinger(conn.server)).toEqual({ onoff: false, seconds: 0 });
    } finally {
      conn.close();
    }
  });

  it.each(['127.0.0.1', '::1'])('tells apart several connections and their listener on one port (%s)', async (host) => {
    const server = net.createServer({ pauseOnConnect: true });
    await new Promise<void>((resolve) => server.listen(0, host, resolve));
    const accepted: net.Socket[] = [];
    server.on('connection', (s) => { s.on('error', () => undefined); accepted.push(s); });
    const clients: net.Socket[] = [];
    for (let i = 0; i < 3; i++) {
      const client = net.connect((server.address() as net.AddressInfo).port, host);
      client.on('error', () => undefined);
      await new Promise((resolve) => client.once('connect', resolve));
      clients.push(client);
    }
    await until(() => accepted.length === 3);
    try {
      const target = accepted[1];
      const reader = clients.find((c) => c.localPort === target.remotePort)!;
      target.write(Buffer.alloc(500));
      await until(() => pendingBytes(reader).unread === 500);
      for (const s of accepted) expect(pendingBytes(s).unread).toBe(0);
      for (const c of clients) expect(pendingBytes(c).unread).toBe(c === reader ? 500 : 0);
    } finally {
      for (const s of [...clients, ...accepted]) s.destroy();
      server.close();
    }
  });

  it('resolves the SOCKET under a tls.TLSSocket', async () => {
    const fixtures = path.join(__dirname, '..', 'fixtures');
    const server = tls.createServer(
      { key: fs.readFileSync(path.join(fixtures, 'key.pem')), cert: fs.readFileSync(path.join(fixtures, 'cert.pem')) },
      (s) => s.on('error', () => undefined),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const client = tls.connect({ port: (server.address() as net.AddressInfo).port, host: '127.0.0.1', rejectUnauthorized: false });
    client.on('error', () => undefined);
    await new Promise((resolve) => client.once('secureConnect', resolve));
    try {
      setLinger(client, true, 0);
      expect(getLinger(client)).toEqual({ onoff: true, seconds: 0 });
    } finally {
      client.destroy();
      server.close();
    }
  });

  it('a socket with no handle is a typed error, never a guess', async () => {
    const conn = await connection();
    conn.close();
    expect(thrown(() => getLinger(conn.client))).toMatchObject({ name: 'NetLingerError', code: 'ERR_SOCKET_NO_HANDLE' });
    expect(thrown(() => shutdown(new net.Socket(), 'write'))).toMatchObject({ name: 'NetLingerError', code: 'ERR_SOCKET_NO_HANDLE' });
  });

  it('several candidates or none: a typed error, never a guess', async () => {
    const conn = await connection();
    const listener = net.createServer();
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const { port } = listener.address() as net.AddressInfo;
    const other = net.connect(port, '127.0.0.1');
    other.on('error', () => undefined);
    const accepted = await new Promise<net.Socket>((resolve) => listener.once('connection', resolve));
    accepted.on('error', () => undefined);
    try {
      // Without the peer's address, the listener and the connection it accepted share one address.
      expect(thrown(() => findWindowsSocket(false, '127.0.0.1', port, null, 0, 'net.Socket'))).toMatchObject({
        name: 'NetLingerError', code: 'ERR_NET_LINGER_AMBIGUOUS_SOCKET', message: expect.stringMatching(/^2 sockets/),
      });
      expect(thrown(() => findWindowsSocket(false, '127.0.0.1', conn.client.localPort!, '127.0.0.1', 1, 'net.Socket'))).toMatchObject({
        name: 'NetLingerError', code: 'ERR_SOCKET_NO_HANDLE',
      });
      // The same address and port as a TCP socket, asked for as UDP: no match.
      expect(thrown(() => findWindowsSocket(true, '127.0.0.1', port, null, 0, 'dgram.Socket'))).toMatchObject({
        name: 'NetLingerError', code: 'ERR_SOCKET_NO_HANDLE',
      });
    } finally {
      other.destroy();
      accepted.destroy();
      listener.close();
      conn.close();
    }
  });

  it('refuses setLinger(on, n > 0) on a Node socket: closesocket() would fail WSAEWOULDBLOCK unseen', async () => {
    const conn = await connection();
    try {
      expect(thrown(() => setLinger(conn.client, true, 5))).toMatchObject({
        name: 'NetLingerError', code: 'ERR_NET_LINGER_UNSUPPORTED', message: expect.stringMatching(/lingerClose/),
      });
      expect(getLinger(conn.client)).toEqual({ onoff: false, seconds: 0 });
    } finally {
      conn.close();
    }
  });
});

describe.runIf(process.platform === 'win32')('raw SOCKET numbers on Windows', () => {
  const rawSocket = (s: net.Socket) => findWindowsSocket(false, s.localAddress!, s.localPort!, s.remoteAddress!, s.remotePort!, 'net.Socket');

  it('LINGER holds u_short: 65535 is stored, 65536 is refused before the call', async () => {
    const conn = await connection();
    try {
      const handle = rawSocket(conn.client);
      expect(maxLingerSeconds()).toBe(65535);
      setLinger(handle, true, 65535);
      expect(getLinger(handle)).toEqual({ onoff: true, seconds: 65535 });
      expect(thrown(() => setLinger(handle, true, 65536))).toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
      // A bigint reaches the same SOCKET. As on Linux, {off, n} leaves the stored time alone.
      setLinger(BigInt(handle), false, 0);
      expect(getLinger(handle).onoff).toBe(false);
    } finally {
      conn.close();
    }
  });

  it('Winsock failures carry the Winsock number and the normalised code', () => {
    expect(thrown(() => shutdown(0x7fffffff, 'write'))).toMatchObject({
      name: 'SocketError', code: 'ENOTSOCK', errno: 10038, syscall: 'shutdown',
    });
  });

  it("Node's own reset error (errno -4077) and WSAECONNRESET 10054 are both ECONNRESET", async () => {
    const conn = await connection();
    const seen = new Promise<NodeJS.ErrnoException>((resolve) => conn.client.once('error', resolve));
    conn.client.resume();
    setLinger(conn.server, true, 0);
    conn.server.destroy();
    const nodeError = await seen;
    conn.close();
    expect(nodeError.errno).toBe(-4077);
    expect(isConnectionReset(nodeError)).toBe(true);
    expect(isConnectionReset(10054)).toBe(true);
  });
});

describe.runIf(process.platform !== 'win32')('the Windows SOCKET lookup elsewhere', () => {
  it('is not needed on POSIX, where Node exposes the descriptor, and says so', () => {
    expect(thrown(() => findWindowsSocket(false, '127.0.0.1', 1, null, 0, 'net.Socket'))).toMatchObject({
      name: 'NetLingerError', code: 'ERR_NET_LINGER_UNSUPPORTED',
    });
  });
});
