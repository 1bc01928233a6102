// The two outer ends of the idle-connection benchmark, in their own process (its own fd limit):
// an upstream server that accepts and holds connections, and the clients that dial the relay.
// IPC: { cmd: 'open', port, count } opens `count` clients to the relay at `port` (256 in flight)
// and answers once every client is connected and the upstream server holds as many;
// { cmd: 'check', sample } sends one byte each way on `sample` connections and answers how many
// arrived; { cmd: 'stop' } closes everything.
import fs from 'node:fs';
import net from 'node:net';

process.on('warning', () => {});
const upstreamSockets = [];
const clients = [];
const upstream = net.createServer({ allowHalfOpen: true }, (socket) => {
  socket.on('error', () => {});
  upstreamSockets.push(socket);
  waiters.forEach((w) => w());
});
let waiters = [];
const waitFor = (condition, ms) => new Promise((resolve) => {
  const deadline = setTimeout(done, ms);
  function done() {
    clearTimeout(deadline);
    waiters = waiters.filter((w) => w !== check);
    resolve(condition());
  }
  function check() { if (condition()) done(); }
  waiters.push(check);
  check();
});

function fdLimit() {
  try {
    return Number(/Max open files\s+(\d+)/.exec(fs.readFileSync('/proc/self/limits', 'utf8'))[1]);
  } catch {
    return NaN;
  }
}

upstream.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => process.send({ ready: { upstreamPort: upstream.address().port, fdLimit: fdLimit() } }));

async function open(port, count) {
  const t0 = process.hrtime.bigint();
  let next = 0;
  let failed = 0;
  async function lane() {
    while (next < count) {
      next++;
      const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
      socket.on('error', () => {});
      const ok = await new Promise((resolve) => { socket.once('connect', () => resolve(true)); socket.once('error', () => resolve(false)); });
      if (ok) clients.push(socket); else failed++;
    }
  }
  await Promise.all(Array.from({ length: 256 }, lane));
  await waitFor(() => upstreamSockets.length >= clients.length, 30_000);
  return { opened: clients.length, failed, accepted: upstreamSockets.length, ms: Number(process.hrtime.bigint() - t0) / 1e6 };
}

async function check(sample) {
  // One byte down each of `sample` connections and one byte back: does the relay still relay?
  const pairs = [];
  const step = Math.max(1, Math.floor(clients.length / sample));
  for (let i = 0; i < clients.length && pairs.length < sample; i += step) pairs.push(i);
  let arrived = 0;
  await Promise.all(pairs.map((i) => new Promise((resolve) => {
    const client = clients[i];
    const timer = setTimeout(resolve, 5000);
    client.once('data', () => { arrived++; clearTimeout(timer); resolve(); });
    client.write('x');
  })));
  // Each upstream socket echoes what it receives.
  return { sampled: pairs.length, arrived };
}

upstream.on('connection', (socket) => socket.on('data', (d) => socket.write(d)));

process.on('message', async (message) => {
  if (message.cmd === 'open') process.send({ opened: await open(message.port, message.count) });
  else if (message.cmd === 'check') process.send({ checked: await check(message.sample) });
  else if (message.cmd === 'stop') {
    for (const s of clients) s.destroy();
    for (const s of upstreamSockets) s.destroy();
    process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
