// The HTTP leg of `npm run test:matrix`: run under one runtime (node 18-26, bun), it serves an early
// 413 for an 8 MiB upload from node:http (refusing in a 'data' handler, and in the request handler
// with `res.end(); req.destroy()`) and every framework that loads on this runtime, without
// and with enableLingeringClose, to Python's http.client, curl and Node's own http.request, and
// prints one JSON report. ok: with the integration every client read the whole 413 and
// 'clientError' never fired; or the runtime refused with the package's typed error.
'use strict';
const { execFile } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const lib = require(path.join(root, 'dist', 'cjs', 'http', 'index.js'));
const BYTES = 8 << 20;
const LIMIT = 1 << 20;
const ANSWER = 'too large';
const RUNS = 2;

const PY = [
  'import http.client, sys',
  'port, size, chunked = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1"',
  'try:',
  '    c = http.client.HTTPConnection("127.0.0.1", port, timeout=8)',
  '    def body():',
  '        for _ in range(size // 65536): yield b"u" * 65536',
  '    h = {"Content-Type": "text/plain"}',
  '    if chunked: c.request("POST", "/upload", body=body(), encode_chunked=True, headers=dict(h, **{"Transfer-Encoding": "chunked"}))',
  '    else: c.request("POST", "/upload", body=body(), headers=dict(h, **{"Content-Length": str(size)}))',
  '    r = c.getresponse(); print(r.status, r.read().decode())',
  'except Exception as e: print("ERROR", type(e).__name__)',
].join('\n');

function sh(cmd, args) {
  return new Promise((resolve) => execFile(cmd, args, { timeout: 30_000 }, (err, stdout) => resolve({ err, stdout: String(stdout) })));
}

const file = path.join(os.tmpdir(), `net-linger-http-leg-${process.pid}`);
fs.writeFileSync(file, Buffer.alloc(BYTES, 0x75));
process.on('exit', () => fs.rmSync(file, { force: true }));

const CLIENTS = {
  async python(port) { return (await sh('python3', ['-c', PY, String(port), String(BYTES), '0'])).stdout.trim(); },
  async 'python chunked'(port) { return (await sh('python3', ['-c', PY, String(port), String(BYTES), '1'])).stdout.trim(); },
  async curl(port) {
    const r = await sh('curl', ['-sS', '--max-time', '20', '-H', 'Expect:', '-H', 'Content-Type: text/plain', '--data-binary', `@${file}`,
      '-w', ' %{http_code}', `http://127.0.0.1:${port}/upload`]);
    const m = /^([\s\S]*) (\d{3})$/.exec(r.stdout.trim());
    return r.err || !m ? `ERROR curl ${r.err ? r.err.code : ''}` : `${m[2]} ${m[1]}`;
  },
  node(port) {
    return new Promise((resolve) => {
      let done = false;
      const finish = (v) => { if (!done) { done = true; setTimeout(() => resolve(v), 50); } };
      const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/upload', agent: false,
        headers: { 'content-type': 'text/plain', 'content-length': BYTES } }, (res) => {
        let text = '';
        res.on('data', (d) => { text += d; });
        res.on('end', () => finish(`${res.statusCode} ${text}`));
        res.on('error', () => finish('ERROR response'));
      });
      req.on('error', (e) => finish(`ERROR ${e.code}`));
      const chunk = Buffer.alloc(64 * 1024, 0x75);
      let sent = 0;
      const pump = () => {
        while (sent < BYTES) {
          sent += chunk.length;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        req.end();
      };
      pump();
    });
  },
};

function tryRequire(name) {
  try {
    return require(require.resolve(name, { paths: [root] }));
  } catch (e) {
    return null;
  }
}

function listen(server) {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
}

const SERVERS = {
  'node:http': async (enable) => {
    const server = http.createServer((req, res) => {
      let n = 0;
      req.on('data', (d) => {
        n += d.length;
        if (n <= LIMIT || res.headersSent) return;
        res.writeHead(413, { connection: 'close', 'content-length': ANSWER.length });
        res.end(ANSWER);
        req.destroy();
      });
      req.on('end', () => { if (!res.headersSent) res.end('accepted'); });
    });
    enable(server);
    return { server, port: await listen(server), close: () => server.close() };
  },
  // The documented refusal shape, in the handler before any body is read (issue: Python's
  // http.client sends the head, then the body, and met a reset here).
  'node:http, res.end(); req.destroy()': async (enable) => {
    const server = http.createServer((req, res) => {
      if (Number(req.headers['content-length'] || 0) > LIMIT || req.headers['transfer-encoding']) {
        res.writeHead(413, { connection: 'close', 'content-length': ANSWER.length });
        res.end(ANSWER);
        req.destroy();
        return;
      }
      req.resume().on('end', () => res.end('accepted'));
    });
    enable(server);
    return { server, port: await listen(server), close: () => server.close() };
  },
  'express 5': async (enable) => {
    const express = tryRequire('express');
    if (!express) return null;
    const app = express();
    app.post('/upload', (req, res, next) => {
      if (Number(req.headers['content-length'] || 0) > LIMIT) return void res.status(413).set('Connection', 'close').send(ANSWER);
      next();
    }, express.raw({ limit: LIMIT, type: '*/*' }), (_req, res) => { res.send('accepted'); });
    app.use((err, _req, res, _next) => { res.status(err.status || 500).type('text').send(ANSWER); });
    const server = http.createServer(app);
    enable(server);
    return { server, port: await listen(server), close: () => server.close() };
  },
  'fastify 5': async (enable) => {
    const Fastify = tryRequire('fastify');
    if (!Fastify) return null;
    const app = Fastify({ bodyLimit: LIMIT, forceCloseConnections: true });
    app.post('/upload', async () => 'accepted');
    app.setErrorHandler((err, _req, reply) => { reply.code(err.statusCode || 500).type('text/plain').send(ANSWER); });
    enable(app.server);
    await app.listen({ port: 0, host: '127.0.0.1' });
    return { server: app.server, port: app.server.address().port, close: () => app.close() };
  },
  'koa 2 + koa-body': async (enable) => {
    const Koa = tryRequire('koa');
    const koaBody = tryRequire('koa-body');
    if (!Koa || !koaBody) return null;
    const app = new Koa();
    app.silent = true;
    app.use(koaBody.koaBody({ text: true, textLimit: LIMIT }));
    app.use((ctx) => { ctx.body = 'accepted'; });
    const server = app.listen(0, '127.0.0.1');
    server.keepAliveTimeout = 1000;
    enable(server);
    await new Promise((resolve) => server.once('listening', resolve));
    return { server, port: server.address().port, close: () => server.close() };
  },
  '@hono/node-server': async (enable) => {
    const nodeServer = tryRequire('@hono/node-server');
    const hono = tryRequire('hono');
    const limit = tryRequire('hono/body-limit');
    if (!nodeServer || !hono || !limit) return null;
    const app = new hono.Hono();
    app.post('/upload', limit.bodyLimit({ maxSize: LIMIT, onError: (c) => c.text(ANSWER, 413) }), async (c) => {
      await c.req.arrayBuffer();
      return c.text('accepted');
    });
    let server;
    await new Promise((resolve) => {
      server = nodeServer.serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve());
      enable(server);
    });
    return { server, port: server.address().port, close: () => server.close() };
  },
};

// Failures that are no close at all, so nothing for a lingering close to act on.
const major = Number(process.versions.node.split('.')[0]);
const KNOWN = [{
  server: 'koa 2 + koa-body', client: 'python chunked', applies: () => !process.versions.bun && major === 18,
  why: 'on Node 18 the server never closes the stalled connection (raw-body paused it; no keep-alive timeout fires), with or without the integration',
}];

async function main() {
  const report = { runtime: process.versions.bun ? `bun ${process.versions.bun}` : `node ${process.version}`, rows: [], ok: true };
  try {
    lib.enableLingeringClose(http.createServer()).disable();
  } catch (e) {
    if (e && e.code !== 'ERR_NET_LINGER_UNSUPPORTED') throw e;
    // A typed refusal: the leg passes as refused, after showing what the control observes.
    report.refused = `${e.code}: ${e.message}`;
  }
  for (const [name, start] of Object.entries(SERVERS)) {
    for (const mode of report.refused ? ['control'] : ['control', 'enableLingeringClose']) {
      let clientErrors = 0;
      let refused;
      let running;
      try {
        running = await start((server) => {
          server.on('clientError', (e, socket) => { clientErrors++; socket.destroy(e); });
          if (mode !== 'control') lib.enableLingeringClose(server, { lingeringTime: 5000, lingeringTimeout: 2000 });
        });
      } catch (e) {
        if (e && e.code === 'ERR_NET_LINGER_UNSUPPORTED') refused = e.message;
        else {
          report.rows.push({ server: name, mode, error: String(e && e.stack || e) });
          if (mode !== 'control') report.ok = false;
          continue;
        }
      }
      if (refused) {
        report.rows.push({ server: name, mode, refused });
        report.refused = true;
        continue;
      }
      if (!running) {
        report.rows.push({ server: name, mode, skipped: 'does not load on this runtime' });
        continue;
      }
      const clean = {};
      const seen = {};
      for (const [client, run] of Object.entries(CLIENTS)) {
        clean[client] = 0;
        for (let i = 0; i < RUNS; i++) {
          const out = await run(running.port);
          if (/^413 .*too large/.test(out)) clean[client]++;
          else seen[client] = out;
        }
      }
      running.server.closeAllConnections?.();
      await running.close();
      const row = { server: name, mode, clean: Object.fromEntries(Object.entries(clean).map(([c, n]) => [c, `${n}/${RUNS}`])), clientErrors };
      if (Object.keys(seen).length) row.failures = seen;
      report.rows.push(row);
      const known = KNOWN.filter((k) => k.server === name && k.applies() && clean[k.client] !== RUNS && /TimeoutError/.test(seen[k.client] || ''));
      if (known.length) row.known = known.map((k) => `${k.client}: ${k.why}`);
      const failed = Object.entries(clean).some(([client, n]) => n !== RUNS && !known.some((k) => k.client === client));
      if (mode !== 'control' && (clientErrors > 0 || failed)) report.ok = false;
    }
  }
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

main().catch((e) => {
  process.stdout.write(`${JSON.stringify({ ok: false, error: String(e && e.stack || e) })}\n`);
  process.exitCode = 1;
});
