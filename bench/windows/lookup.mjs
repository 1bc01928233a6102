// Runs under Windows node.exe (Wine, bench/windows/windows.mjs starts it): what finding the SOCKET behind
// a net.Socket costs with 100 / 1,000 / 10,000 connections open in the process, where Node
// reports _handle.fd === -1 and the addon walks the loop's libuv handles.
// usage: lookup.mjs <peer port on 127.0.0.1> <sizes, comma-separated>
// Prints one line: RESULT <json>.
import { createRequire } from 'node:module';
import path from 'node:path';
import { openConnections } from '../lib/connections.mjs';
import { median } from '../lib/stats.mjs';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname.replace(/^\/([A-Za-z]:)/, '$1')), '..', '..');
const lib = require(path.join(root, 'dist', 'cjs', 'index.js'));
const { findWindowsSocket, resolveHandle } = require(path.join(root, 'dist', 'cjs', 'core', 'handle.js'));
const [portText, sizesText] = process.argv.slice(2);
const port = Number(portText);
const sizes = sizesText.split(',').map(Number);
const now = () => process.hrtime.bigint();
const us = (ns) => Number(ns) / 1e3;

const sockets = [];
const results = [];
for (const size of sizes) {
  sockets.push(...(await openConnections(port, size - sockets.length, 64)));
  // 1. The first call on each of the sockets opened since the last sweep, oldest first (their
  //    handles are not remembered yet): the first scans the handles, the others use its hints.
  const fresh = sockets.filter((s) => !s.lookedUp);
  const t0 = now();
  for (const s of fresh) { resolveHandle(s); s.lookedUp = true; }
  const sweepUs = us(now() - t0) / fresh.length;
  // 2. A call on a socket whose handle is remembered: getLinger by socket against by SOCKET.
  const target = sockets[sockets.length >> 1];
  const raw = resolveHandle(target);
  const repeat = (fn, n = 2000) => { const t = now(); for (let i = 0; i < n; i++) fn(); return us(now() - t) / n; };
  const bySocket = [];
  const byNumber = [];
  const lookupOnly = [];
  for (let trial = 0; trial < 5; trial++) {
    bySocket.push(repeat(() => lib.getLinger(target)));
    byNumber.push(repeat(() => lib.getLinger(raw)));
    lookupOnly.push(repeat(() => resolveHandle(target), 20_000));
  }
  // 3. A connection opened after the last lookup, then its first call: a walk without syscalls,
  //    then the newest handles first.
  const churn = [];
  for (let trial = 0; trial < 3; trial++) {
    const [extra] = await openConnections(port, 1, 1);
    const t = now();
    resolveHandle(extra);
    churn.push(us(now() - t));
    extra.destroy();
  }
  // 4. A walk with getsockopt + getsockname on every handle: what each net.Socket call cost
  //    before (the same walk; a query by local address alone still takes it).
  const walk = [];
  for (let trial = 0; trial < 3; trial++) {
    const t = now();
    findWindowsSocket(false, target.localAddress, target.localPort, null, 0, 'net.Socket');
    walk.push(us(now() - t));
  }
  results.push({
    connections: sockets.length,
    firstCallSweepUs: sweepUs,
    sweptSockets: fresh.length,
    rememberedLookupUs: median(lookupOnly),
    getLingerBySocketUs: median(bySocket),
    getLingerByNumberUs: median(byNumber),
    firstCallAfterNewConnectionUs: median(churn),
    fullWalkUs: median(walk),
  });
  process.stderr.write(`windows lookup: ${sockets.length} connections done\n`);
}
for (const s of sockets) s.destroy();
process.stdout.write(`RESULT ${JSON.stringify({ node: process.version, platform: process.platform, results })}\n`);
process.exit(0);
