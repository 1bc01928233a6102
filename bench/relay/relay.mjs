// The relay benchmark: throughput through relay(a, b) against a.pipe(b); b.pipe(a) and socat,
// and many idle relayed connections (memory per connection, event-loop delay). Every relay runs
// in its own process on 127.0.0.1; trials are interleaved across relays (a seeded shuffle per
// round) and medians reported, because the machine is shared.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { median, shuffled } from '../lib/stats.mjs';

const here = path.dirname(new URL(import.meta.url).pathname);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const CHUNK = Buffer.alloc(256 * 1024, 0x62);
const RESERVE = 100;

/** The socat binary, or null. */
export function socatPath() {
  for (const p of ['/usr/bin/socat', '/usr/local/bin/socat']) if (fs.existsSync(p)) return p;
  try { return execFileSync('sh', ['-c', 'command -v socat'], { encoding: 'utf8' }).trim() || null; } catch { return null; }
}

export function socatVersion(binary) {
  try { return /socat version (\S+)/.exec(execFileSync(binary, ['-V'], { encoding: 'utf8' }))?.[1] ?? null; } catch { return null; }
}

/**
 * Starts a Node script with IPC, raising its descriptor limit first where the shell may
 * (`ulimit -n`, which root can raise up to fs.nr_open); the child reports the limit it got.
 */
function spawnNode(script, args, { fdLimit, nodeArgs = [] } = {}) {
  const raise = fdLimit ? `ulimit -n ${fdLimit} 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null; ` : '';
  return spawn('sh', ['-c', `${raise}exec "$@"`, 'sh', process.execPath, ...nodeArgs, script, ...args],
    { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}

function request(child, message, key) {
  return new Promise((resolve, reject) => {
    const onMessage = (reply) => {
      if (!(key in reply)) return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(reply[key]);
    };
    const onExit = (code) => reject(new Error(`child exited ${code} while waiting for ${key}`));
    child.on('message', onMessage);
    child.once('exit', onExit);
    if (message) child.send(message);
  });
}

async function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try { child.send({ cmd: 'stop' }); } catch { child.kill('SIGKILL'); }
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}

async function freePort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function waitListening(port, child, ms = 5000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline && child.exitCode === null) {
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return true;
    await sleep(20);
  }
  return false;
}

/** A relay between the driver's clients and `upstreamPort`: { port, child, cpuUs() | null, stop() }. */
async function startRelay(kind, upstreamPort, options = {}) {
  if (kind === 'socat') {
    for (let attempt = 0; attempt < 3; attempt++) {
      const port = await freePort();
      // socat's defaults (8 KiB buffer), one forked child per connection, as users run it.
      const child = spawn(options.socat, [`TCP4-LISTEN:${port},bind=127.0.0.1,reuseaddr,fork`, `TCP4:127.0.0.1:${upstreamPort}`], { stdio: 'ignore' });
      if (await waitListening(port, child)) {
        return { port, child, cpuUs: null, stop: async () => { child.kill('SIGTERM'); if (child.exitCode === null) await new Promise((r) => child.once('exit', r)); } };
      }
      child.kill('SIGKILL');
    }
    throw new Error('socat did not start listening');
  }
  const child = spawnNode(path.join(here, 'worker.mjs'), [kind, String(upstreamPort)], { fdLimit: options.fdLimit, nodeArgs: ['--expose-gc'] });
  const port = await request(child, null, 'port');
  return {
    port, child,
    cpuUs: async () => (await request(child, { cmd: 'stats' }, 'stats')).cpuUs,
    stop: () => stopChild(child),
  };
}

// ---- throughput -------------------------------------------------------------------------

/** The far end for throughput: 'up' counts what arrives, 'down' sends `bytes` then ends. */
function throughputServer(direction, bytes) {
  let onDone;
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    if (direction === 'up') {
      let got = 0;
      socket.on('data', (d) => {
        got += d.length;
        if (got >= bytes) onDone?.(process.hrtime.bigint());
      });
    } else {
      sendAll(socket, bytes).then(() => socket.end());
      socket.resume();
    }
  });
  return { server, done: (fn) => { onDone = fn; } };
}

async function sendAll(socket, bytes) {
  let left = bytes;
  while (left > 0 && !socket.destroyed) {
    const n = Math.min(left, CHUNK.length);
    left -= n;
    if (!socket.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n))) {
      await new Promise((resolve) => {
        const done = () => { socket.off('drain', done); socket.off('close', done); resolve(); };
        socket.on('drain', done);
        socket.on('close', done);
      });
    }
  }
}

/** One transfer of `bytes` through the relay at `port` (or straight to the server): MiB/s. */
async function transfer(port, direction, bytes, far) {
  const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  socket.on('error', () => {});
  await new Promise((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
  const t0 = process.hrtime.bigint();
  let t1;
  if (direction === 'up') {
    const arrived = new Promise((resolve) => far.done(resolve));
    await sendAll(socket, bytes);
    t1 = await arrived;
    socket.end();
  } else {
    let got = 0;
    t1 = await new Promise((resolve) => {
      socket.on('data', (d) => { got += d.length; if (got >= bytes) resolve(process.hrtime.bigint()); });
    });
    socket.end();
  }
  await new Promise((resolve) => { socket.once('close', resolve); setTimeout(resolve, 2000); });
  socket.destroy();
  return (bytes / 2 ** 20) / (Number(t1 - t0) / 1e9);
}

/**
 * Throughput, each direction, for every relay: `trials` rounds, each running every (relay,
 * direction) once in a reshuffled order. Relay processes stay up for the whole run; CPU time of
 * the Node relays is read around every transfer.
 */
export async function runRelayThroughput({ bytes = 512 * 2 ** 20, trials = 5, log = () => {}, only } = {}) {
  const socat = socatPath();
  const kinds = ['direct', 'pipe', 'relay', ...(socat ? ['socat'] : [])].filter((k) => !only || only.includes(k));
  const directions = ['up', 'down'];
  const servers = {};
  for (const direction of directions) {
    const far = throughputServer(direction, bytes);
    await new Promise((resolve) => far.server.listen(0, '127.0.0.1', resolve));
    servers[direction] = { ...far, port: far.server.address().port };
  }
  const relays = {};
  for (const kind of kinds) {
    if (kind === 'direct') continue;
    relays[kind] = {};
    for (const direction of directions) relays[kind][direction] = await startRelay(kind, servers[direction].port, { socat });
  }
  const samples = [];
  try {
    for (let trial = 0; trial < trials; trial++) {
      const cells = kinds.flatMap((kind) => directions.map((direction) => ({ kind, direction })));
      for (const { kind, direction } of shuffled(cells, 0x9e3779b9 + trial)) {
        const relay = relays[kind]?.[direction];
        const cpu0 = relay?.cpuUs ? await relay.cpuUs() : null;
        const mibps = await transfer(relay ? relay.port : servers[direction].port, direction, bytes, servers[direction]);
        const cpu1 = relay?.cpuUs ? await relay.cpuUs() : null;
        // CPU seconds the relay process spent per GiB moved (user + system).
        const cpuPerGiB = cpu0 === null ? null : ((cpu1 - cpu0) / 1e6) / (bytes / 2 ** 30);
        samples.push({ trial, kind, direction, mibps, cpuPerGiB });
        log(`  relay throughput trial ${trial + 1}/${trials}: ${kind} ${direction} ${mibps.toFixed(0)} MiB/s`);
      }
    }
  } finally {
    for (const kind of Object.keys(relays)) for (const d of directions) await relays[kind][d].stop();
    for (const d of directions) await new Promise((resolve) => servers[d].server.close(resolve));
  }
  const rows = [];
  for (const kind of kinds) {
    for (const direction of directions) {
      const mine = samples.filter((s) => s.kind === kind && s.direction === direction);
      // Ratios are paired within a round: this relay and pipe, same direction, same round.
      const ratios = mine.map((s) => s.mibps / samples.find((p) => p.kind === 'pipe' && p.direction === direction && p.trial === s.trial).mibps);
      const cpu = mine.map((s) => s.cpuPerGiB).filter((c) => c !== null);
      rows.push({
        kind, direction, trials: mine.length,
        mibps: median(mine.map((s) => s.mibps)),
        best: Math.max(...mine.map((s) => s.mibps)),
        ratioToPipe: median(ratios),
        cpuPerGiB: cpu.length ? median(cpu) : null,
      });
    }
  }
  return { bytes, trials, socat: socat ? socatVersion(socat) ?? 'unknown version' : null, rows, samples };
}

// ---- many idle connections --------------------------------------------------------------

async function idleTrial(kind, connections, fdLimit) {
  const driver = spawnNode(path.join(here, 'idle-driver.mjs'), [], { fdLimit });
  const { upstreamPort } = await request(driver, null, 'ready');
  const relay = await startRelay(kind, upstreamPort, { fdLimit });
  try {
    const base = await request(relay.child, { cmd: 'gc' }, 'stats');
    await request(relay.child, { cmd: 'eld-start' }, 'ok');
    const opened = await request(driver, { cmd: 'open', port: relay.port, count: connections }, 'opened');
    const setupDelay = await request(relay.child, { cmd: 'eld-stop' }, 'eld');
    await sleep(300);
    const held = await request(relay.child, { cmd: 'gc' }, 'stats');
    await request(relay.child, { cmd: 'eld-start' }, 'ok');
    await sleep(2000);
    const idleDelay = await request(relay.child, { cmd: 'eld-stop' }, 'eld');
    const checked = await request(driver, { cmd: 'check', sample: 100 }, 'checked');
    const n = opened.accepted;
    return {
      kind, connections: n, requested: connections, failed: opened.failed, setupMs: opened.ms,
      rssPerConnKiB: ((held.rss - base.rss) / n) / 1024,
      heapPerConnKiB: ((held.heapUsed - base.heapUsed) / n) / 1024,
      externalPerConnKiB: ((held.external - base.external) / n) / 1024,
      rssMiB: held.rss / 2 ** 20,
      baseRssMiB: base.rss / 2 ** 20,
      setupDelay, idleDelay, checked,
    };
  } finally {
    await relay.stop();
    await stopChild(driver);
  }
}

/** Reads the descriptor limit a child gets when asked for `wanted`. */
export function fdLimitFor(wanted) {
  try {
    return Number(execFileSync('sh', ['-c', `ulimit -n ${wanted} 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null; ulimit -n`], { encoding: 'utf8' }).trim());
  } catch {
    return NaN;
  }
}

/**
 * `connections` idle relayed connections held by one relay process (each is two sockets there),
 * for relay() and pipe, `trials` interleaved rounds. socat forks a process per connection, so
 * it is not part of this one.
 */
export async function runRelayIdle({ connections = 10_000, trials = 3, log = () => {}, only = ['relay', 'pipe'] } = {}) {
  // The relay process holds two descriptors per connection, the driver two as well, plus each
  // process's own (stdio, IPC, epoll, libuv's): RESERVE is generous for those.
  const wanted = 2 * connections + RESERVE;
  const got = fdLimitFor(wanted);
  const count = Number.isFinite(got) && got < wanted ? Math.max(0, Math.floor((got - RESERVE) / 2)) : connections;
  const samples = [];
  for (let trial = 0; trial < trials; trial++) {
    for (const kind of shuffled(only, 0x85ebca6b + trial)) {
      samples.push(await idleTrial(kind, count, wanted));
      const s = samples.at(-1);
      log(`  relay idle trial ${trial + 1}/${trials}: ${kind} ${s.connections} connections, ${s.rssPerConnKiB.toFixed(2)} KiB/conn RSS`);
    }
  }
  const rows = only.map((kind) => {
    const mine = samples.filter((s) => s.kind === kind);
    const pick = (f) => median(mine.map(f));
    return {
      kind, trials: mine.length, connections: pick((s) => s.connections), failed: Math.max(...mine.map((s) => s.failed)),
      rssPerConnKiB: pick((s) => s.rssPerConnKiB), heapPerConnKiB: pick((s) => s.heapPerConnKiB), externalPerConnKiB: pick((s) => s.externalPerConnKiB),
      rssMiB: pick((s) => s.rssMiB), baseRssMiB: pick((s) => s.baseRssMiB), setupMs: pick((s) => s.setupMs),
      setupDelay: { p50: pick((s) => s.setupDelay.p50), p99: pick((s) => s.setupDelay.p99), max: pick((s) => s.setupDelay.max) },
      idleDelay: { p50: pick((s) => s.idleDelay.p50), p99: pick((s) => s.idleDelay.p99), max: pick((s) => s.idleDelay.max) },
      checked: { sampled: Math.min(...mine.map((s) => s.checked.sampled)), arrived: Math.min(...mine.map((s) => s.checked.arrived)) },
    };
  });
  return { requested: connections, wantedFdLimit: wanted, fdLimit: got, rows, samples };
}
