// The node:http server the HTTP benchmarks load, in its own process so its CPU time and peak RSS
// are its own. argv: 'linger' | 'plain' | 'read-first' | 'net' | 'net-graceful', then the body
// limit in bytes. Three floors for the 413 storm's memory, without node:http's early answer:
// 'read-first' is node:http curing the reset the way Node alone can (read the whole body, then
// answer 413); 'net' is the least any Node server holds per connection (net.Server: read the head,
// write a fixed 413 and the FIN, then read and drop the rest with resume(), no HTTP machinery at
// all); 'net-graceful' is the same server with this package's gracefulClose() instead.
// Routes: GET / answers 12 bytes; POST /echo reads the body and answers its length; POST /upload
// answers 413 with `Connection: close` when Content-Length exceeds the limit, without reading the
// body (what a server that rejects early does), else reads it and answers 200.
// With 'linger' the package's enableLingeringClose(server) is called with its defaults; the process
// samples handle.lingering every 10 ms and reports the most seen at once.
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { createRequire } from 'node:module';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { root } from '../lib/build.mjs';

const require = createRequire(import.meta.url);
const [variant = 'plain', limitText = String(2 ** 20)] = process.argv.slice(2);
const limit = Number(limitText);
process.on('warning', () => {});

const hello = Buffer.from('hello world\n');
const tooLarge = Buffer.from('<html><head><title>413 Request Entity Too Large</title></head><body>Payload larger than the 1 MiB limit</body></html>\n');
let clientErrors = 0;
const clientErrorCodes = {};

const server = http.createServer((req, res) => {
  if (req.method === 'GET') {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': hello.length });
    res.end(hello);
    return;
  }
  const declared = Number(req.headers['content-length']);
  if (req.url === '/upload' && !(declared <= limit) && variant === 'read-first') {
    req.resume();
    req.on('end', () => {
      res.writeHead(413, { 'content-type': 'text/html', 'content-length': tooLarge.length, connection: 'close' });
      res.end(tooLarge);
    });
    return;
  }
  if (req.url === '/upload' && !(declared <= limit)) {
    res.writeHead(413, { 'content-type': 'text/html', 'content-length': tooLarge.length, connection: 'close' });
    res.end(tooLarge);
    return;
  }
  let received = 0;
  req.on('data', (chunk) => { received += chunk.length; });
  req.on('end', () => {
    const body = `${received}\n`;
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
});
server.on('clientError', (err, socket) => {
  clientErrors++;
  const code = err.code ?? 'no code';
  clientErrorCodes[code] = (clientErrorCodes[code] ?? 0) + 1;
  socket.destroy();
});

let handle = null;
let maxLingering = 0;
let sampler = null;
if (variant === 'linger') {
  const lib = require(path.join(root, 'dist', 'cjs', 'http', 'index.js'));
  if (typeof lib.enableLingeringClose !== 'function') {
    process.send({ unavailable: 'enableLingeringClose is not exported by dist/cjs/http/index.js in this build' });
    process.exit(0);
  }
  handle = lib.enableLingeringClose(server);
  sampler = setInterval(() => { maxLingering = Math.max(maxLingering, handle.lingering); }, 10);
  sampler.unref();
}

// Where the memory goes at its peak: V8's heap, and ArrayBuffers (read buffers awaiting GC).
const peakMemory = { heapTotal: 0, heapUsed: 0, arrayBuffers: 0 };
setInterval(() => {
  const m = process.memoryUsage();
  for (const key of Object.keys(peakMemory)) peakMemory[key] = Math.max(peakMemory[key], m[key]);
}, 10).unref();

// The event loop's delay from 'mark' (just before a storm) to 'stats': how long a request arriving
// meanwhile would have waited for the loop. 1 ms resolution, so the figures include up to 1 ms of sampling.
const loopDelay = monitorEventLoopDelay({ resolution: 1 });
loopDelay.enable();
const loopDelayMs = () => ({ p50: loopDelay.percentile(50) / 1e6, p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 });

// The 'net' floor: the same 413 bytes node:http writes, from a plain net.Server.
const rawTooLarge = Buffer.concat([
  Buffer.from(`HTTP/1.1 413 Payload Too Large\r\ncontent-type: text/html\r\ncontent-length: ${tooLarge.length}\r\nconnection: close\r\n\r\n`),
  tooLarge,
]);
const HEAD_END = Buffer.from('\r\n\r\n');
const rawServer = net.createServer((socket) => {
  socket.on('error', () => {});
  let head = Buffer.alloc(0);
  const onHead = (chunk) => {
    head = head.length ? Buffer.concat([head, chunk]) : chunk;
    if (head.indexOf(HEAD_END) === -1) return;
    head = null;
    socket.off('data', onHead);
    if (variant === 'net-graceful') {
      // The package's drain on the same bare connection: the head's chunk may hold body bytes already.
      socket.write(rawTooLarge);
      socket.pause();
      closeLib.gracefulClose(socket);
      return;
    }
    socket.end(rawTooLarge);
    socket.resume(); // the rest is dropped as it comes; 'close' follows the client's FIN
    // A client that never sends its FIN: closed after 5 s of silence (lingeringTimeout's default).
    socket.setTimeout(5000, () => socket.destroy());
  };
  socket.on('data', onHead);
});

const closeLib = variant === 'net-graceful' ? require(path.join(root, 'dist', 'cjs', 'index.js')) : null;
const listening = variant === 'net' || variant === 'net-graceful' ? rawServer : server;
listening.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => process.send({ port: listening.address().port }));
let heapBefore = 0;
process.on('message', (message) => {
  if (message === 'mark') {
    // The JS heap's live objects before the storm, for 'live-heap' (the flag is the bench's own).
    globalThis.gc?.();
    heapBefore = process.memoryUsage().heapUsed;
    loopDelay.reset();
    for (const key of Object.keys(peakMemory)) peakMemory[key] = 0;
    process.send({ marked: true });
  } else if (message === 'stats') {
    process.send({ stats: { loopDelayMs: loopDelayMs(), clientErrors, clientErrorCodes, peakMemory, maxLingering, lingeringNow: handle ? handle.lingering : 0, counts: handle?.counts ? { ...handle.counts } : null } });
  } else if (message === 'live-heap') {
    globalThis.gc?.();
    process.send({ liveHeap: globalThis.gc ? { before: heapBefore, after: process.memoryUsage().heapUsed } : null });
  } else if (message === 'stop') {
    process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
