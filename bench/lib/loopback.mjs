// The bench's one place that opens loopback connections (127.0.0.1 only): a connected pair
// for the per-call rows, and many client connections to a peer process for the close rows.
// (The tests and the lab have their own harness; the bench keeps its own so that it measures
// plain Node sockets with nothing of the test tooling in between.)
import net from 'node:net';

/** A connected pair in this process; the accepted end is paused, so nothing is read. */
export async function connectedPair() {
  const server = net.createServer({ pauseOnConnect: true });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const accepted = new Promise((resolve) => server.once('connection', resolve));
  const client = net.connect(server.address().port, '127.0.0.1');
  await new Promise((resolve) => client.once('connect', resolve));
  const peer = await accepted;
  server.close();
  client.on('error', () => {});
  peer.on('error', () => {});
  return { client, peer, close: () => { client.destroy(); peer.destroy(); } };
}

/** `count` client connections to 127.0.0.1:`port`, `inFlight` handshakes at a time. */
export async function openConnections(port, count, inFlight = 256) {
  const sockets = [];
  let next = 0;
  async function lane() {
    while (next < count) {
      next++;
      const socket = net.connect(port, '127.0.0.1');
      socket.on('error', () => {});
      await new Promise((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
      sockets.push(socket);
    }
  }
  await Promise.all(Array.from({ length: inFlight }, lane));
  return sockets;
}
