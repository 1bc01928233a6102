// The "413 storm" clients, in their own process and the same for every server: N concurrent
// Node http.request uploads (no keep-alive agent), each `Content-Length: bytes` with the whole body
// handed to req.end() at once (one shared buffer, so the client holds it once), as a client that
// sends its body before it looks at the answer. Each client is judged by what it observed:
// clean = status 413, the whole response body (its Content-Length) read, and no error at all
// on the request or its socket up to 'close'.
// With mode 'nofin' each client is a raw TCP connection instead, that sends the same request and
// body, reads the response to the server's FIN and then never sends its own: it holds the
// connection, silent, for holdMs (so the server's lingering can end only by its silence timeout),
// then closes. Once every client has its response it tells the parent ('answered'), so the
// server's memory can be read while every connection lingers idle.
// argv: port clients bytes timeoutMs [mode holdMs]. Reports one JSON message over IPC.
import http from 'node:http';
import net from 'node:net';

const [portText, clientsText, bytesText, timeoutText = '60000', mode = 'fin', holdText = '0'] = process.argv.slice(2);
const holdMs = Number(holdText);
const port = Number(portText);
const clients = Number(clientsText);
const bytes = Number(bytesText);
const timeoutMs = Number(timeoutText);
process.on('warning', () => {});

const body = Buffer.alloc(bytes, 0x61);

function one() {
  return new Promise((resolve) => {
    const started = performance.now();
    const seen = { status: 0, expected: -1, received: 0, ended: false, error: null, errorAfterEnd: false, timedOut: false };
    let settled = false;
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/upload', agent: false,
      headers: { 'content-type': 'application/octet-stream', 'content-length': bytes } });
    const timer = setTimeout(() => { seen.timedOut = true; req.destroy(); }, timeoutMs);
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      seen.ms = performance.now() - started;
      resolve(seen);
    };
    const onError = (err) => {
      if (seen.error) return;
      seen.error = err.code ?? err.message;
      seen.errorAfterEnd = seen.ended;
    };
    req.on('socket', (socket) => {
      socket.on('error', onError);
      socket.on('close', () => setImmediate(finish));
    });
    req.on('error', onError);
    req.on('response', (res) => {
      seen.status = res.statusCode;
      seen.expected = Number(res.headers['content-length'] ?? -1);
      res.on('data', (chunk) => { seen.received += chunk.length; });
      res.on('end', () => { seen.ended = true; });
      res.on('error', onError);
    });
    req.on('close', () => setImmediate(finish));
    req.end(body);
  });
}

/** A client that never sends its FIN: raw request, the response read to the server's FIN, then silence. */
function oneWithoutFin() {
  return new Promise((resolve) => {
    const started = performance.now();
    const seen = { status: 0, expected: -1, received: 0, ended: false, error: null, errorAfterEnd: false, timedOut: false };
    const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    let text = '';
    let headEnd = -1;
    let settled = false;
    const timer = setTimeout(() => { seen.timedOut = true; socket.destroy(); }, timeoutMs + holdMs);
    socket.setEncoding('latin1');
    socket.on('data', (chunk) => {
      text += chunk;
      if (headEnd < 0 && (headEnd = text.indexOf('\r\n\r\n')) >= 0) {
        seen.status = Number(/^HTTP\/1\.[01] (\d+)/.exec(text)?.[1] ?? 0);
        seen.expected = Number(/\r\ncontent-length: *(\d+)/i.exec(text.slice(0, headEnd))?.[1] ?? -1);
      }
      if (headEnd >= 0) seen.received = text.length - headEnd - 4;
    });
    socket.on('end', () => {
      seen.ended = true;
      seen.answeredMs = performance.now() - started;
      answered();
      // Silence from here: no FIN, no data; the server's lingering ends by its timeout.
      setTimeout(() => socket.destroy(), holdMs);
    });
    socket.on('error', (err) => {
      if (seen.error) return;
      seen.error = err.code ?? err.message;
      seen.errorAfterEnd = seen.ended;
    });
    socket.on('close', () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (!seen.ended) answered();
      seen.ms = seen.answeredMs ?? performance.now() - started;
      resolve(seen);
    });
    socket.write(`POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: ${bytes}\r\n\r\n`);
    socket.write(body);
  });
}

let answeredCount = 0;
function answered() {
  if (++answeredCount === clients) process.send({ answered: true });
}

function classify(s) {
  const whole = s.status !== 0 && s.ended && s.expected >= 0 && s.received === s.expected;
  if (s.timedOut) return 'timed out';
  if (whole && s.status === 413 && !s.error) return 'clean';
  if (whole && s.error) return `whole ${s.status}, then ${s.error}`;
  if (s.status === 0) return s.error ? `${s.error} before any response` : 'closed before any response';
  return s.error ? `${s.error} after part of the response` : `status ${s.status}${whole ? '' : ', incomplete'}`;
}

const t0 = performance.now();
const results = await Promise.all(Array.from({ length: clients }, mode === 'nofin' ? oneWithoutFin : one));
// Without FIN the clients' hold is not the server's work: the storm ends when the last answer is read.
const seconds = (mode === 'nofin' ? Math.max(...results.map((r) => r.ms)) : performance.now() - t0) / 1000;
const outcomes = {};
for (const r of results) {
  const kind = classify(r);
  outcomes[kind] = (outcomes[kind] ?? 0) + 1;
}
const sortedMs = results.map((r) => r.ms).sort((a, b) => a - b);
process.send({
  clients,
  bytes,
  seconds,
  clean: outcomes.clean ?? 0,
  outcomes,
  clientMs: { p50: sortedMs[Math.floor(clients / 2)], max: sortedMs[clients - 1] },
});
