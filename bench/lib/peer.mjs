// The far end for the close benchmark, in its own process (its own fd limit): accepts, reads
// and discards (or, with 'silent', never reads), answers EOF with EOF (allowHalfOpen false), ignores resets.
import net from 'node:net';

const silent = process.argv[2] === 'silent';
const server = net.createServer({ pauseOnConnect: silent }, (socket) => {
  socket.on('error', () => {});
  if (!silent) socket.resume();
});
server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => process.send({ port: server.address().port }));
process.on('message', (message) => { if (message === 'stop') process.exit(0); });
process.on('disconnect', () => process.exit(0));
