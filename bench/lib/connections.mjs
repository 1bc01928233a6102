// Many client connections to a peer process on 127.0.0.1, opened a few hundred at a time: what
// the close rows and the Windows lookup sweep need, which the package's one loopback harness
// (src/lab/loopback.ts: one connection, both ends in this process) does not do.
import net from 'node:net';

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
