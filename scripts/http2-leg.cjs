// The HTTP/2 leg of `npm run test:matrix`: run under one runtime (node 18-26, bun), a node:http2
// server over TLS refuses an 8 MiB upload with 413 once 1 MiB has arrived, then leaves the session
// open, destroys it, or closes it (compatibility API), without and with enableLingeringClose; the
// clients are Node's own http2 client (in this runtime), undici with allowH2 (its own process,
// this runtime), curl --http2, nghttp and h2load (where installed: a missing one is named in the
// report, and NET_LINGER_REQUIRE_TOOLS=1 makes it a failure). Prints one JSON report. ok: with the
// integration every client read the whole 413 and ended cleanly, every run; or the runtime refused
// with the package's typed error. The controls are reported, never judged (docs/http2.md).
'use strict';
const { execFile, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const http2 = require('node:http2');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const lib = require(path.join(root, 'dist', 'cjs', 'http', 'index.js'));
const key = fs.readFileSync(path.join(root, 'test', 'fixtures', 'key.pem'));
const cert = fs.readFileSync(path.join(root, 'test', 'fixtures', 'cert.pem'));
const UPLOAD = 8 << 20;
const LIMIT = 1 << 20;
const ANSWER = 'too large\n';
const RUNS = 2;
const TIMEOUT_MS = 8000;
// The controls run once each, with a shorter bound: a stall is what they show.
const CONTROL_TIMEOUT_MS = 3000;
const major = Number(process.versions.node.split('.')[0]);

// One sparse file of zeros for every run and runtime, kept: it costs no disk, and a process that
// crashed or was killed leaves nothing behind.
const dir = os.tmpdir();
const bigFile = path.join(dir, `net-linger-sparse-${UPLOAD}`);
if (fs.statSync(bigFile, { throwIfNoEntry: false })?.size !== UPLOAD) {
  fs.closeSync(fs.openSync(bigFile, 'w'));
  fs.truncateSync(bigFile, UPLOAD);
}

const has = (tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;

let timeoutMs = TIMEOUT_MS;

function run(cmd, args) {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout: String(stdout), stderr: String(stderr), timedOut: !!(err && err.killed) });
    });
    child.stdin && child.stdin.end();
  });
}

// Each client answers "413 too large" when it read the whole 413 and ended cleanly, else what it saw.
const CLIENTS = {
  node(url) {
    return new Promise((resolve) => {
      let error;
      let status;
      let body = '';
      const session = http2.connect(new URL(url).origin, { rejectUnauthorized: false });
      const timer = setTimeout(() => { session.destroy(); resolve('ERROR timed out'); }, timeoutMs);
      session.on('error', (e) => { error = error || `session ${e.code || e.message}`; });
      const req = session.request({ ':method': 'POST', ':path': '/up', 'content-length': String(UPLOAD) });
      const chunk = Buffer.alloc(64 * 1024);
      let sent = 0;
      const pump = () => {
        while (sent < UPLOAD && !req.destroyed && !req.closed) {
          sent += chunk.length;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        if (sent >= UPLOAD) req.end();
      };
      pump();
      req.setEncoding('utf8');
      req.on('response', (h) => { status = h[':status']; });
      req.on('data', (d) => { body += d; });
      req.on('error', (e) => { error = error || `stream ${e.code || e.message}`; });
      req.on('close', () => {
        clearTimeout(timer);
        // RST_STREAM(NO_ERROR) after the whole response is the server asking to stop sending: clean.
        if (req.rstCode !== http2.constants.NGHTTP2_NO_ERROR) error = error || `rstCode ${req.rstCode}`;
        session.close();
        resolve(error ? `ERROR ${error} (${status} ${JSON.stringify(body)})` : `${status} ${body.trim()}`);
      });
    });
  },
  async undici(url) {
    if (major < 20 || process.versions.bun) return null; // undici 7 needs Node 20.18+
    const r = await run(process.execPath, [path.join(root, 'test', 'fixtures', 'http2-undici-client.mjs'), url, String(UPLOAD)]);
    if (r.timedOut) return 'ERROR timed out';
    try {
      const v = JSON.parse(r.stdout);
      return v.error ? `ERROR ${v.error}` : `${v.status} ${String(v.body).trim()}`;
    } catch {
      return `ERROR exit ${r.code}: ${r.stderr.slice(0, 160)}`;
    }
  },
  async curl(url) {
    const out = path.join(dir, `net-linger-curl-${process.pid}-${process.hrtime.bigint()}`);
    const r = await run('curl', ['-sk', '--http2', '-o', out, '-w', '%{http_code}', '--data-binary', `@${bigFile}`, url]);
    const body = fs.existsSync(out) ? fs.readFileSync(out, 'utf8') : '';
    fs.rmSync(out, { force: true });
    if (r.timedOut) return 'ERROR timed out';
    return r.code === 0 ? `${r.stdout} ${body.trim()}` : `ERROR curl exit ${r.code} (${r.stdout} ${JSON.stringify(body)})`;
  },
  async nghttp(url) {
    const r = await run('nghttp', ['-v', '-d', bigFile, url]);
    if (r.timedOut) return 'ERROR timed out';
    const status = (/recv \(stream_id=\d+\) :status: (\d+)/.exec(r.stdout) || [])[1];
    // END_STREAM is flag 0x01 on DATA (0x05 on HEADERS).
    const ended = /recv (DATA|HEADERS) frame <length=\d+, flags=0x0[15]/.test(r.stdout);
    return r.code === 0 && ended && r.stdout.includes(ANSWER.trim()) ? `${status} ${ANSWER.trim()}` : `ERROR nghttp exit ${r.code} (:status ${status})`;
  },
  async h2load(url) {
    const r = await run('h2load', ['-n1', '-c1', '-d', bigFile, url]);
    if (r.timedOut) return 'ERROR timed out';
    // A 4xx counts as "failed" for h2load; done means END_STREAM was read, errored would be a reset.
    const ok = /1 done, \d+ succeeded, \d+ failed, 0 errored, 0 timeout/.test(r.stdout) && /0 2xx, 0 3xx, 1 4xx/.test(r.stdout);
    return r.code === 0 && ok && /\b10B \(10\) data/.test(r.stdout) ? `413 ${ANSWER.trim()}` : `ERROR h2load exit ${r.code}`;
  },
};
const TOOLS = { curl: 'curl', nghttp: 'nghttp', h2load: 'h2load' };

function endSession(session, after) {
  if (!session || session.destroyed) return;
  if (after === 'close') session.close();
  else if (after === 'destroy') session.destroy();
}

/** A TLS HTTP/2 server whose handler answers 413 after 1 MiB of the body, then ends the session as told. */
function serve(api, after) {
  const server = http2.createSecureServer({ key, cert });
  if (api === 'compat') {
    server.on('request', (req, res) => {
      let n = 0;
      req.on('data', (chunk) => {
        n += chunk.length;
        if (n > LIMIT && !res.headersSent) {
          req.pause();
          res.writeHead(413, { 'content-type': 'text/plain' });
          res.end(ANSWER);
          endSession(req.stream.session, after);
        }
      });
      req.on('end', () => { if (!res.headersSent) res.end('ok\n'); });
    });
  } else {
    server.on('stream', (stream) => {
      let n = 0;
      stream.on('error', () => {});
      stream.on('data', (chunk) => {
        n += chunk.length;
        if (n > LIMIT && !stream.headersSent) {
          stream.pause();
          stream.respond({ ':status': 413, 'content-type': 'text/plain' });
          stream.end(ANSWER);
          endSession(stream.session, after);
        }
      });
      stream.on('end', () => { if (!stream.headersSent) { stream.respond({ ':status': 200 }); stream.end('ok\n'); } });
    });
  }
  const sockets = new Set();
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  return { server, sockets };
}

const SERVERS = [
  { name: 'http2 stream API, session left open', api: 'raw', after: 'open' },
  { name: 'http2 stream API, session.destroy()', api: 'raw', after: 'destroy' },
  { name: 'http2 compatibility API, session.close()', api: 'compat', after: 'close' },
];

async function main() {
  const report = { runtime: process.versions.bun ? `bun ${process.versions.bun}` : `node ${process.version}`, rows: [], ok: true, missingTools: [] };
  try {
    lib.enableLingeringClose(http2.createSecureServer({ key, cert })).disable();
  } catch (e) {
    if (!e || e.code !== 'ERR_NET_LINGER_UNSUPPORTED') throw e;
    report.refused = `${e.code}: ${e.message}`;
  }
  const clients = Object.keys(CLIENTS).filter((c) => !TOOLS[c] || has(TOOLS[c]));
  report.missingTools = Object.keys(TOOLS).filter((c) => !clients.includes(c));
  if (report.missingTools.length && process.env.NET_LINGER_REQUIRE_TOOLS === '1') {
    report.ok = false;
    report.error = `missing ${report.missingTools.join(', ')} (apt-get install curl nghttp2-client)`;
  }
  for (const s of SERVERS) {
    for (const mode of report.refused ? ['control'] : ['control', 'enableLingeringClose']) {
      const { server, sockets } = serve(s.api, s.after);
      let handle;
      if (mode !== 'control') handle = lib.enableLingeringClose(server, { lingeringTime: 5000, lingeringTimeout: 2000 });
      await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
      const url = `https://127.0.0.1:${server.address().port}/up`;
      const clean = {};
      const seen = {};
      const runs = mode === 'control' ? 1 : RUNS;
      timeoutMs = mode === 'control' ? CONTROL_TIMEOUT_MS : TIMEOUT_MS;
      for (const client of clients) {
        let n = 0;
        let ran = 0;
        for (let i = 0; i < runs; i++) {
          const out = await CLIENTS[client](url);
          if (out === null) break;
          ran++;
          if (out === `413 ${ANSWER.trim()}`) n++;
          else seen[client] = out;
        }
        if (ran) clean[client] = `${n}/${ran}`;
        // curl 7.88 has read the whole 413 and still, a few runs in a hundred, exits 18 or 92 when the
        // connection ends right after the stream while it uploads (docs/http2.md): tolerated there only.
        const tolerated = client === 'curl' && s.after !== 'open' && /curl exit (18|92) \(413 "too large\\n"\)/.test(seen[client] || '');
        if (mode !== 'control' && ran && n !== ran && !tolerated) report.ok = false;
      }
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
      const row = { server: s.name, mode, clean };
      if (Object.keys(seen).length) row.failures = seen;
      if (handle) row.counts = handle.counts;
      report.rows.push(row);
    }
  }
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

main().catch((e) => {
  process.stdout.write(`${JSON.stringify({ ok: false, error: String((e && e.stack) || e) })}\n`);
  process.exitCode = 1;
});
