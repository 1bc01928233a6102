// index.mjs as CommonJS (ncc writes the module format of its entry).
const net = require('node:net');
const { isConnectionReset, setLinger } = require('net-linger');

exports.resetPeer = function resetPeer() {
  return new Promise((resolve, reject) => {
    const server = net.createServer((socket) => {
      try {
        setLinger(socket, true, 0);
      } catch (error) {
        server.close();
        reject(error);
      }
      socket.destroy();
    });
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const client = net.connect(server.address().port, '127.0.0.1');
      const done = (reset) => { server.close(); resolve(reset); };
      client.on('error', (error) => done(isConnectionReset(error)));
      client.on('close', () => done(false));
    });
  });
};
