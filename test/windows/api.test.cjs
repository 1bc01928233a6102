// Windows-only behaviour of the API on live Node sockets, under Windows node.exe (Wine):
// finding the SOCKET behind a net.Socket, the Winsock limits and the refused hazards.
const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const tls = require('node:tls');
const fs = require('node:fs');
const path = require('node:path');
const lib = require('../../dist/cjs/index.js');

async function pair(host = '127.0.0.1') {
  const server = net.createServer({ pauseOnConnect: true });
  await new Promise((resolve) => server.listen(0, host, resolve));
  const accepted = new Promise((resolve) => server.once('connection', resolve));
  const client = net.connect(server.address().port, host);
  client.on('error', () => undefined);
  await new Promise((resolve) => client.once('connect', resolve));
  const accept = await accepted;
  accept.on('error', () => undefined);
  return { server, client, accept, close() { client.destroy(); accept.destroy(); server.close(); } };
}

const until = async (condition, ms = 5000) => {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
};

describe(`net.Socket targets on ${process.platform}`, () => {
  it('Node reports no descriptor, yet both ends of one connection resolve to their own SOCKET', async () => {
    const c = await pair();
    try {
      assert.equal(c.client._handle.fd, -1);
      // Set different values on each end and read them back: each call reached its own SOCKET.
      lib.setLinger(c.client, true, 0);
      lib.setLinger(c.accept, false, 0);
      assert.deepEqual(lib.getLinger(c.client), { onoff: true, seconds: 0 });
      assert.deepEqual(lib.getLinger(c.accept), { onoff: false, seconds: 0 });
    } finally {
      c.close();
    }
  });

  it('tells apart several connections on one listening port, over IPv4 and IPv6', async () => {
    for (const host of ['127.0.0.1', '::1']) {
      const server = net.createServer({ pauseOnConnect: true });
      await new Promise((resolve) => server.listen(0, host, resolve));
      const accepted = [];
      server.on('connection', (s) => { s.on('error', () => undefined); accepted.push(s); });
      const clients = [];
      for (let i = 0; i < 3; i++) {
        const client = net.connect(server.address().port, host);
        client.on('error', () => undefined);
        await new Promise((resolve) => client.once('connect', resolve));
        clients.push(client);
      }
      await until(() => accepted.length === 3);
      try {
        // The listener and the accepted sockets share a local address and port.
        accepted[1].write(Buffer.alloc(500));
        await until(() => lib.pendingBytes(clients.find((c) => c.localPort === accepted[1].remotePort)).unread === 500);
        for (const s of accepted) assert.equal(lib.pendingBytes(s).unread, 0);
        for (const c of clients) {
          assert.equal(lib.pendingBytes(c).unread, c.localPort === accepted[1].remotePort ? 500 : 0);
        }
      } finally {
        for (const s of [...clients, ...accepted]) s.destroy();
        server.close();
      }
    }
  });

  it('resolves the SOCKET under a tls.TLSSocket', async () => {
    const fixtures = path.join(__dirname, '..', 'fixtures');
    const options = { key: fs.readFileSync(path.join(fixtures, 'key.pem')), cert: fs.readFileSync(path.join(fixtures, 'cert.pem')) };
    const server = tls.createServer(options, (s) => s.on('error', () => undefined));
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const client = tls.connect({ port: server.address().port, host: '127.0.0.1', rejectUnauthorized: false });
    client.on('error', () => undefined);
    await new Promise((resolve) => client.once('secureConnect', resolve));
    try {
      lib.setLinger(client, true, 0);
      assert.deepEqual(lib.getLinger(client), { onoff: true, seconds: 0 });
    } finally {
      client.destroy();
      server.close();
    }
  });

  it('a socket with no handle is a typed error, never a guess', async () => {
    const c = await pair();
    c.close();
    assert.throws(() => lib.getLinger(c.client), { name: 'NetLingerError', code: 'ERR_SOCKET_NO_HANDLE' });
    const unconnected = new net.Socket();
    assert.throws(() => lib.shutdown(unconnected, 'write'), { name: 'NetLingerError', code: 'ERR_SOCKET_NO_HANDLE' });
  });

  it('refuses setLinger(on, n > 0) on a Node socket: closesocket would fail WSAEWOULDBLOCK', async () => {
    const c = await pair();
    try {
      assert.throws(() => lib.setLinger(c.client, true, 5), { name: 'NetLingerError', code: 'ERR_NET_LINGER_UNSUPPORTED', message: /lingerClose/ });
      assert.deepEqual(lib.getLinger(c.client), { onoff: false, seconds: 0 });
    } finally {
      c.close();
    }
  });
});

describe(`raw SOCKET numbers on ${process.platform}`, () => {
  // A raw SOCKET can be taken from the lookup: the same number the Winsock calls use.
  const { findWindowsSocket } = require('../../dist/cjs/target.js');
  const raw = (s) => findWindowsSocket(false, s.localAddress, s.localPort, s.remoteAddress, s.remotePort, 'net.Socket');

  it('LINGER holds u_short: 65535 is stored, 65536 is refused before the call', async () => {
    const c = await pair();
    try {
      const handle = raw(c.client);
      assert.equal(lib.maxLingerSeconds(), 65535);
      lib.setLinger(handle, true, 65535);
      assert.deepEqual(lib.getLinger(handle), { onoff: true, seconds: 65535 });
      assert.throws(() => lib.setLinger(handle, true, 65536), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
      // A bigint handle reaches the same SOCKET. Like Linux, {off, n} leaves the stored time alone.
      lib.setLinger(BigInt(handle), false, 0);
      assert.equal(lib.getLinger(handle).onoff, false);
    } finally {
      c.close();
    }
  });

  it('Winsock failures carry the Winsock number and the normalised code', () => {
    const err = (() => { try { lib.shutdown(0x7fffffff, 'write'); } catch (e) { return e; } })();
    assert.equal(err.name, 'SocketError');
    assert.equal(err.code, 'ENOTSOCK');
    assert.equal(err.errno, 10038);
    assert.equal(err.syscall, 'shutdown');
  });

  it("Node's own reset error (errno -4077) and WSAECONNRESET are both ECONNRESET", async () => {
    const c = await pair();
    const seen = new Promise((resolve) => c.client.once('error', resolve));
    c.client.resume();
    lib.setLinger(c.accept, true, 0);
    c.accept.destroy();
    const nodeError = await seen;
    c.close();
    assert.equal(nodeError.errno, -4077);
    assert.equal(lib.isConnectionReset(nodeError), true);
    assert.equal(lib.isConnectionReset(10054), true);
  });
});
