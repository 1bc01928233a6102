import net from 'node:net';
import { getLinger, isConnectionReset, normalizeErrorCode, setLinger } from 'net-linger';

// A server that closes every connection abortively: RST at once, no TIME_WAIT left behind.
const server = net.createServer((socket) => {
  setLinger(socket, true, 0);
  console.log('server linger:', getLinger(socket));
  socket.destroy();
});

server.listen(0, '127.0.0.1', () => {
  const client = net.connect(server.address().port, '127.0.0.1');
  client.on('error', (err) => {
    // Node says -104 on Linux, -54 on macOS, -4077 on Windows: one code everywhere.
    console.log('client saw:', err.code, err.errno, '->', normalizeErrorCode(err), isConnectionReset(err));
    console.log('Winsock 10054 is', normalizeErrorCode(10054));
    server.close();
  });
});
