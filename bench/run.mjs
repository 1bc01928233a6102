// npm run bench: per-call cost against the physical limit, closing many connections, how the
// cost grows, the Windows SOCKET lookup, relaying (throughput against pipe and socat, many idle
// connections), and HTTP (keep-alive traffic with enableLingeringClose, a 413 storm beside
// nginx); one run, written to bench/RESULTS.md and bench/close-chart.svg.
// BENCH_QUICK=1 runs a smaller version (a smoke check, written to bench/.build/, not for the numbers).
// BENCH_ONLY=http runs only the HTTP sections (also written to bench/.build/, never over the results).
// BENCH_ONLY=bundle measures only what a consumer pays (bench/bundle/: bundle size per bundler, cold
// load of each entry) and rewrites that one section of bench/RESULTS.md in place, between its
// markers, saying it was measured on its own; every other section stays from the last full run.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { runPerCall } from './percall/percall.mjs';
import { runCloseTable, runScaling } from './close/close.mjs';
import { CLOSE_ROWS, HAND_GRACEFUL, HAND_RESET } from './close/rows.mjs';
import { closeChartSvg } from './close/chart.mjs';
import { overheadSection } from './percall/overhead.mjs';
import { runWindowsLookup } from './windows/windows.mjs';
import { root } from './lib/build.mjs';
import { median } from './lib/stats.mjs';
import { runRelayIdle, runRelayThroughput } from './relay/relay.mjs';
import { relaySections } from './relay/report.mjs';
import { runKeepAlive, runStorm } from './http/http.mjs';
import { keepAliveSection, stormSection } from './http/report.mjs';
import { bundleSection, runBundleTopic } from './bundle/measure.mjs';

// The helpers and what a user would write by hand instead (section 2).
const HAND_PAIRS = [['gracefulClose()', HAND_GRACEFUL], ['resetClose()', HAND_RESET]];

const quick = process.env.BENCH_QUICK === '1';
const httpOnly = process.env.BENCH_ONLY === 'http';
const bundleOnly = process.env.BENCH_ONLY === 'bundle';
const log = (line) => process.stderr.write(`${line}\n`);
process.on('warning', () => {});

function fdLimit() {
  try { return Number(execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim()); } catch { return NaN; }
}

// BENCH_RENDER=1 writes RESULTS.md again from the last run's bench/.build/results.json without
// measuring anything (for a change of wording; every figure still comes from that run).
const renderOnly = process.env.BENCH_RENDER === '1';
const resultsJson = path.join(root, 'bench', '.build', quick || httpOnly ? 'results-quick.json' : 'results.json');

async function measure() {
  const started = Date.now();
  if (bundleOnly) return { bundle: { ...(await runBundleTopic({ runs: quick ? 5 : 61, log })), separate: true } };
  const loadAverage = os.loadavg();
  const limit = fdLimit();
  // Each end lives in its own process, so one process holds one descriptor per connection plus a few.
  const largest = Math.min(50_000, Number.isFinite(limit) ? Math.floor((limit - 200) / 1000) * 1000 : 50_000);
  const sizes = quick ? [200, 1000] : [1000, 10_000, largest].filter((n, i, all) => all.indexOf(n) === i && n <= largest);
  let windows = null;
  let windowsError = null;
  let perCall, closeTable, closeWarm, scaling, relayThroughput, relayIdle;
  if (!httpOnly) {
    // First: the close rows leave tens of thousands of TIME_WAIT entries, and Windows sockets bind
    // an ephemeral port explicitly before connecting, which TIME_WAIT ports refuse.
    log('windows lookup (under Wine, where the Windows leg is set up)...');
    if (process.env.BENCH_SKIP_WINDOWS !== '1') {
      try {
        windows = await runWindowsLookup({ sizes: quick ? [100, 1000] : [100, 1000, 10_000], log });
      } catch (error) {
        windowsError = String(error?.message ?? error).split('\n')[0];
        log(String(error?.stack ?? error));
      }
    }
    log('per-call...');
    // Many short trials: on a shared machine a 4 ms trial often runs without being preempted, a 40 ms one rarely.
    perCall = await runPerCall(quick ? { iterations: 20_000, trials: 11, log } : { iterations: 20_000, trials: 102, processes: 3, log });
    log('close table...');
    closeTable = await runCloseTable(quick ? { connections: 1000, trials: 1, log } : { connections: 10_000, trials: 3, log });
    log('close helpers against hand-written, warm...');
    // The same pairs in processes that have closed as many connections before (unmeasured): the
    // cost once the code is compiled, apart from the first closes' one-time cost.
    const handRows = CLOSE_ROWS.filter((r) => HAND_PAIRS.flat().includes(r.name));
    // Eleven rounds: a single pair of trials moves by ±10 % here, so the ratio is judged paired, round by round.
    closeWarm = await runCloseTable(quick ? { connections: 500, trials: 1, rows: handRows, warmup: 500, log } : { connections: 3000, trials: 11, rows: handRows, warmup: 3000, log });
    log('scaling...');
    scaling = await runScaling({ sizes, rows: CLOSE_ROWS.filter((r) => SCALING_ROWS.includes(r.name)), log });
    log('relay throughput...');
    relayThroughput = await runRelayThroughput(quick ? { bytes: 32 * 2 ** 20, trials: 1, log } : { bytes: 256 * 2 ** 20, trials: 7, log });
    log('relay idle connections...');
    relayIdle = await runRelayIdle(quick ? { connections: 1000, trials: 1, log } : { connections: 10_000, trials: 3, log });
  }
  log('http keep-alive...');
  const keepAlive = await runKeepAlive(quick ? { trials: 1, duration: 1, log } : { trials: 16, duration: 1, log });
  log('http 413 storm...');
  const storm = await runStorm(quick ? { trials: 1, clients: 50, bytes: 10_000_000, timeoutMs: 20_000, log } : { trials: 5, log });
  // Five times the scale: 10 GB refused per server and trial.
  const stormLarge = await runStorm(quick ? { trials: 1, clients: 200, bytes: 10_000_000, timeoutMs: 30_000, log } : { trials: 3, clients: 1000, log });
  log('http 413 storm, clients that never send their FIN...');
  const stormNoFin = await runStorm(quick ? { trials: 1, clients: 100, bytes: 10_000_000, fin: false, log } : { trials: 2, clients: 1000, fin: false, log });
  const bundle = httpOnly ? null : await runBundleTopic({ runs: quick ? 5 : 61, log });
  const meta = {
    date: new Date().toISOString().slice(0, 10), elapsed: (Date.now() - started) / 1000, loadAverage, loadAtEnd: os.loadavg(),
    limit, largest, sizes, quick, httpOnly,
  };
  return { meta, perCall, closeTable, closeWarm, scaling, windows, windowsError, relayThroughput, relayIdle, keepAlive, storm, stormLarge, stormNoFin, bundle };
}

const SCALING_ROWS = ['Node destroy()', 'Node resetAndDestroy()', 'setLinger(on, 0) + destroy()', 'resetClose()', 'gracefulClose()'];
const run = renderOnly ? JSON.parse(fs.readFileSync(resultsJson, 'utf8')) : await measure();
if (bundleOnly) {
  // One section, measured on its own, rewritten in place (a quick run goes to bench/.build/ only).
  const section = bundleSection(run.bundle, 9).join('\n');
  const file = path.join(root, 'bench', quick ? '.build' : '', 'RESULTS.md');
  const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : fs.readFileSync(path.join(root, 'bench', 'RESULTS.md'), 'utf8');
  const marked = /<!-- bundle:start -->[\s\S]*?<!-- bundle:end -->\n\n?/;
  const text = marked.test(current) ? current.replace(marked, `${section}\n`) : `${current.trimEnd()}\n\n${section}\n`;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  // ...and into the full run's data, so that BENCH_RENDER=1 keeps it.
  if (!quick && fs.existsSync(resultsJson)) {
    fs.writeFileSync(resultsJson, JSON.stringify({ ...JSON.parse(fs.readFileSync(resultsJson, 'utf8')), bundle: run.bundle }, null, 1));
  }
  log(`wrote the bundle section of ${path.relative(root, file)}`);
  process.exit(0);
}
if (!renderOnly) {
  fs.mkdirSync(path.dirname(resultsJson), { recursive: true });
  fs.writeFileSync(resultsJson, JSON.stringify(run, null, 1));
}
const { meta, perCall, closeTable, closeWarm, scaling, windows, windowsError, relayThroughput, relayIdle, keepAlive, storm, stormLarge, stormNoFin, bundle } = run;
const { elapsed, limit, largest, sizes } = meta;
const scalingRows = SCALING_ROWS.map((name) => ({ name }));

/** Closes per CPU second of a helper against the hand-written equivalent's (goal ≥ 0.95). */
const HAND_WRITTEN_GOAL = 0.95;

/**
 * The helpers against what a user would write instead to get the same result (a promise that
 * settles on 'close', a cap on the drain): closes per CPU second of the closer, a ratio decided
 * here against the goal, in a fresh process (the close table's trials: the first closes pay for
 * compiling the code they run) and in a warm one (after as many closes, unmeasured).
 */
function handWrittenRatios(table, warm) {
  const find = (t, name) => t?.find((r) => r.row === name);
  const verdict = (ratio) => `${fmt(ratio, 3)} ${ratio >= HAND_WRITTEN_GOAL ? 'met' : '**missed**'}`;
  // Paired: the ratio within each round (both ran back to back on one machine load), its median;
  // best: the least CPU per close of each over all rounds (contention only ever adds).
  const views = (t, helper, hand) => {
    const h = find(t, helper);
    const b = find(t, hand);
    if (!h || !b) return null;
    const rounds = Math.min(h.cpuUsPerCloseTrials?.length ?? 0, b.cpuUsPerCloseTrials?.length ?? 0);
    const paired = Array.from({ length: rounds }, (_, i) => b.cpuUsPerCloseTrials[i] / h.cpuUsPerCloseTrials[i]);
    return {
      helper: 1e6 / h.cpuUsPerClose, hand: 1e6 / b.cpuUsPerClose,
      extraUsPerClose: h.cpuUsPerClose - b.cpuUsPerClose, connections: h.connections,
      medians: b.cpuUsPerClose / h.cpuUsPerClose,
      paired: paired.length ? median(paired) : null, range: paired.length ? [Math.min(...paired), Math.max(...paired)] : null,
      best: rounds ? Math.min(...b.cpuUsPerCloseTrials) / Math.min(...h.cpuUsPerCloseTrials) : null,
    };
  };
  const cells = (v) => v
    ? [fmt(v.helper, 0), fmt(v.hand, 0), verdict(v.medians), v.paired === null ? '–' : `${verdict(v.paired)} (${fmt(v.range[0], 2)} … ${fmt(v.range[1], 2)})`, v.best === null ? '–' : verdict(v.best)]
    : ['–', '–', '–', '–', '–'];
  const warmN = warm?.[0]?.connections ?? 0;
  const out = [`The helpers against what a user would write by hand for the same result (not against a bare \`end()\`, which does less): *${HAND_GRACEFUL}* and *${HAND_RESET}* (\`bench/close/rows.mjs\`). Closes per CPU second is 10⁶ ÷ the closer's CPU µs per close; the goal is at least ${HAND_WRITTEN_GOAL} of the hand-written equivalent's, with the helper's report kept. *Fresh*: the table above (a new process closing ${(table[0]?.connections ?? 0).toLocaleString('en-US')} connections, ${table[0]?.trials ?? 0} rounds, so its first closes also pay for compiling the code they run, more code for a helper than for the few lines by hand). *Warm*: a process that has closed ${warmN.toLocaleString('en-US')} connections the same way first, unmeasured, then closes ${warmN.toLocaleString('en-US')} more (${warm?.[0]?.trials ?? 0} rounds, each running every row once in a reshuffled order): what a long-running server pays per close. Three views of the same trials: the ratio of the *medians*; *paired*, the median of the ratios within each round (both ran back to back, so a busy moment of the shared machine counts against both), with their range; *best*, the least CPU per close of each over all rounds (contention only ever adds). A single pair of trials moves by ±10 % on this machine, so the verdict is the paired one.`, ''];
  out.push('| helper | hand-written equivalent | run | helper closes per CPU s | hand-written | ratio of medians | paired (range) | best |', '|---|---|---|---:|---:|---|---|---|');
  for (const [helper, hand] of HAND_PAIRS) {
    out.push(`| ${helper} | ${hand} | fresh | ${cells(views(table, helper, hand)).join(' | ')} |`);
    out.push(`| ${helper} | ${hand} | warm | ${cells(views(warm, helper, hand)).join(' | ')} |`);
  }
  out.push('');
  // The verdict per helper: the steady state (warm) is the cost each close adds; where only the
  // fresh view misses, what it measures is a one-time cost per process, stated in ms.
  for (const [helper, hand] of HAND_PAIRS) {
    const f = views(table, helper, hand);
    const w = views(warm, helper, hand);
    if (!f || !w || w.paired === null) continue;
    const warmMet = w.paired >= HAND_WRITTEN_GOAL;
    const freshMet = (f.paired ?? f.medians) >= HAND_WRITTEN_GOAL;
    const oneTimeMs = (f.extraUsPerClose * f.connections) / 1000;
    if (warmMet && freshMet) {
      out.push(`*${helper}*: the goal is **met** in both views (paired ${fmt(f.paired ?? f.medians, 3)} fresh, ${fmt(w.paired, 3)} warm).`, '');
    } else if (warmMet) {
      out.push(`*${helper}*: **met** per close once the code is warm (paired ${fmt(w.paired, 3)}): each close then costs what the hand-written one does. A fresh process misses it (paired ${fmt(f.paired ?? f.medians, 3)}) by a one-time cost: ${fmt(f.extraUsPerClose, 1)} µs more per close over its first ${f.connections.toLocaleString('en-US')} closes, ${fmt(oneTimeMs, 0)} ms of CPU in all, spent once per process on compiling and first running more code than the few lines by hand (V8 compiles on helper threads, which the process's CPU time counts).`, '');
    } else {
      out.push(`*${helper}*: **missed** once warm too (paired ${fmt(w.paired, 3)}, range ${fmt(w.range[0], 2)} … ${fmt(w.range[1], 2)}; fresh ${fmt(f.paired ?? f.medians, 3)}).`, '');
    }
  }
  return out;
}

/** The helpers against the Node call each wraps: throughput and closer-CPU ratios from the table above. */
function closeRatios(table) {
  const row = (name) => table.find((r) => r.row === name);
  const pairs = [['resetClose()', 'Node resetAndDestroy()'], ['gracefulClose()', 'Node end()'], ['gracefulClose()', 'Node end() + resume()'], ['Node end() + resume()', 'Node end()']];
  const out = ['How close each helper comes to the bare Node call it wraps (goal: ≥ 95 %). *Throughput* is closes/s of the helper ÷ closes/s of the Node call; *CPU* is the Node call\'s CPU µs/close ÷ the helper\'s (higher is better in both). On a shared machine the throughput ratio moves by tens of percent from run to run (other work takes the cores); the closer\'s own CPU time is the steadier view of the work each close adds. The helper\'s extra work per close: validation, the HTTP/2 check, a promise and its report, plus for resetClose an error listener kept until \'close\'; gracefulClose adds reading until the peer\'s FIN (*Node end() + resume()* is that alone), four listeners, one timer, the byte count, and a getsockopt(SO_LINGER) only where setLinger() armed a linger.', ''];
  out.push('| helper | Node call | throughput | CPU |', '|---|---|---:|---:|');
  for (const [helper, base] of pairs) {
    const h = row(helper);
    const b = row(base);
    if (!h || !b) continue;
    out.push(`| ${helper} | ${base} | ${fmt((100 * h.closesPerSecond) / b.closesPerSecond)} % | ${fmt((100 * b.cpuUsPerClose) / h.cpuUsPerClose)} % |`);
  }
  out.push('');
  return out;
}

const fmt = (n, digits = 1) => (n == null || Number.isNaN(n) ? '–' : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }));
const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
const lines = [];
lines.push('# Benchmarks', '');
lines.push(`Generated by \`npm run bench\`${meta.quick ? ' (BENCH_QUICK=1: a smoke run, not for quoting)' : ''} on ${meta.date}, in ${fmt(elapsed, 0)} s.`);
lines.push(`Machine: ${cpu}, ${os.cpus().length} cores, ${fmt(os.totalmem() / 2 ** 30, 0)} GiB, ${os.type()} ${os.release()} (${os.arch()}); load average (1 / 5 / 15 min) at start ${meta.loadAverage.map((l) => l.toFixed(2)).join(' / ')}, at the end ${(meta.loadAtEnd ?? []).map((l) => l.toFixed(2)).join(' / ')}.`);
lines.push(`Runtime: Node.js ${process.version} (V8 ${process.versions.v8}, Node-API ${process.versions.napi}); koffi ${(await import('koffi')).default.version ?? ''}; gcc ${execFileSync('gcc', ['-dumpfullversion'], { encoding: 'utf8' }).trim()}.`);
lines.push('The machine is shared with other work, so every figure is the median of interleaved trials (the order is reshuffled each round).', '');

if (perCall) {
  lines.push('## 1. Per call', '');
  lines.push(`${perCall.trials} interleaved trials of ${perCall.iterations.toLocaleString('en-US')} calls each (${(perCall.trials * perCall.iterations).toLocaleString('en-US')} calls per row)${perCall.processes > 1 ? `, split over ${perCall.processes} processes (V8 compiles the same loop differently from one process to the next: two full runs in one process each put the package's layer over the raw addon call at 2 and 17 ns)` : ''}, on one connected loopback TCP socket. The C loop is the same syscalls in a plain loop on the same kind of socket (\`bench/percall/native/syscall_loop.c\`, gcc -O2): the physical limit. Ratios are to the C loop of the same run. On a busy shared machine noise only ever adds time, so the *best* trial is the cleaner view of the cost itself; the median shows what contention does.`, '');
  lines.push('| call | how | ns/call best | × C loop (best) | × floor (best) | ns/call median | × C loop (median) | × floor (median) |', '|---|---|---:|---:|---:|---:|---:|---:|');
  const ratio = (x) => (x == null ? '' : `${fmt(x, 2)}×`);
  for (const r of perCall.rows) {
    lines.push(`| ${r.op} | ${r.name} | ${fmt(r.best)} | ${ratio(r.bestRatio)} | ${ratio(r.floorBestRatio)} | ${fmt(r.ns)} | ${ratio(r.ratio)} | ${ratio(r.floorRatio)} |`);
  }
  lines.push('');
  lines.push('Rows: *package* is the public API through the CommonJS entry (`lib.setLinger(fd, true, 0)`, `lib.getLinger(fd)`, `lib.pendingBytes(fd)`, and the same with a `net.Socket`), every check kept; *addon* calls the package\'s native function directly, without the TypeScript layer; *bare Node-API addon* is `bench/percall/native/bare_addon.cc`, the floor (see below); *koffi* calls libc directly from JavaScript, the way a user could without this package. *empty call* is a function that does nothing, through each binding layer.', '');

  lines.push(...overheadSection(perCall.rows));
  lines.push('## 2. Closing many connections', '');
  lines.push(`Each row: a fresh closer process opens N loopback connections to a fresh peer process (which reads and answers EOF with EOF), then closes all N, 10 close calls per event-loop turn, and waits for every \`'close'\` event. Throughput is N / (first close call → last \`'close'\`). Event-loop delay from \`monitorEventLoopDelay({ resolution: 1 })\` during the closing, so its values include the 1 ms sampling interval. *Longest block* is the longest synchronous run of one turn's close calls. Peak RSS is the closer process's \`maxRSS\`. TIME_WAIT is counted from /proc/net/tcp for the row's port once no connection is in FIN_WAIT/CLOSE_WAIT/LAST_ACK. Medians of ${closeTable[0]?.trials ?? 0} trials.`, '');
  lines.push('| close | connections | closes/s | µs/close | CPU µs/close | loop delay p50 / p99 / max (ms) | longest block (ms) | peak RSS (MiB) | TIME_WAIT left |', '|---|---:|---:|---:|---:|---|---:|---:|---:|');
  for (const r of closeTable) {
    lines.push(`| ${r.row} | ${r.connections.toLocaleString('en-US')} | ${fmt(r.closesPerSecond, r.closesPerSecond < 10 ? 2 : 0)} | ${fmt(r.perCloseUs)} | ${fmt(r.cpuUsPerClose)} | ${fmt(r.loopDelayMs.p50, 2)} / ${fmt(r.loopDelayMs.p99, 2)} / ${fmt(r.loopDelayMs.max, 2)} | ${fmt(r.longestCloseCallsMs, 2)} | ${fmt(r.peakRssMiB)} | ${r.timeWait.toLocaleString('en-US')} |`);
  }
  lines.push('');
  lines.push(...closeRatios(closeTable));
  lines.push(...handWrittenRatios(closeTable, closeWarm));
  lines.push('![close benchmark](close-chart.svg)', '');
  lines.push('The lingering rows are capped (`maxConnections` in `bench/close-rows.mjs`): with unacknowledged data in the send queue (*unacked data*: the peer never reads and 4 MiB were written first) every `destroy()` blocks the whole event loop for the full linger time, because Linux `close()` waits even on a non-blocking socket.', '');

  lines.push('## 3. How the cost grows', '');
  const capNote = largest < 50_000
    ? `The largest size is capped at ${largest.toLocaleString('en-US')} instead of 50,000: the descriptor limit here is ${limit} (hard limit too), and each end of a connection is held by its own process.`
    : '';
  lines.push(`One trial per cell. ${capNote}`, '');
  lines.push(`| close | ${sizes.map((n) => `${n.toLocaleString('en-US')}: µs/close`).join(' | ')} | ${sizes.map((n) => `${n.toLocaleString('en-US')}: p99 ms`).join(' | ')} |`);
  lines.push(`|---|${sizes.map(() => '---:').join('|')}|${sizes.map(() => '---:').join('|')}|`);
  for (const row of scalingRows) {
    const cells = sizes.map((n) => scaling.find((s) => s.row === row.name && s.connections === n));
    lines.push(`| ${row.name} | ${cells.map((c) => fmt(c?.perCloseUs)).join(' | ')} | ${cells.map((c) => fmt(c?.loopDelayMs.p99, 2)).join(' | ')} |`);
  }
  lines.push('');

  lines.push('## 4. Windows: finding the SOCKET behind a net.Socket', '');
  if (windowsError) {
    lines.push(`Not measured in this run: the run under Wine failed (${windowsError}).`, '');
  } else if (!windows) {
    lines.push('Not measured in this run: it needs the Windows leg (root, mingw-w64 and the Wine chroot of `scripts/windows/setup.sh`).', '');
  } else {
    const w = windows.results;
    const at = (f, digits = 1) => w.map((r) => fmt(f(r), digits)).join(' | ');
    const first = w[0];
    const last = w[w.length - 1];
    lines.push(`Windows node.exe ${windows.node} under Wine 10 (\`bench/windows/windows.mjs\` runs \`bench/windows/lookup.mjs\` through \`scripts/windows/run-node.sh\`), with N client connections open in the process to a peer process on 127.0.0.1. Node reports \`_handle.fd === -1\` on Windows, so the addon finds the SOCKET among the loop's libuv handles; the package then remembers it for the life of that handle object. Wine's syscalls are much slower than Windows' own, so the absolute figures are Wine's; the growth with N is the point. µs per call: the sweep is one pass over the sockets, averaged; the other rows are medians of 3 (a walk, a new connection) or 5 (2,000 or 20,000 calls each) runs.`, '');
    lines.push(`| µs per call | ${w.map((r) => `${r.connections.toLocaleString('en-US')} connections`).join(' | ')} |`, `|---|${w.map(() => '---:').join('|')}|`);
    lines.push(`| lookup of a socket already looked up (a WeakMap hit, no syscall) | ${at((r) => r.rememberedLookupUs, 3)} |`);
    lines.push(`| getLinger(socket) on such a socket | ${at((r) => r.getLingerBySocketUs)} |`);
    lines.push(`| getLinger(SOCKET number), for comparison | ${at((r) => r.getLingerByNumberUs)} |`);
    lines.push(`| first lookup of each socket opened since the last sweep, oldest first, averaged | ${at((r) => r.firstCallSweepUs)} |`);
    lines.push(`| first lookup on a connection opened just before | ${at((r) => r.firstCallAfterNewConnectionUs)} |`);
    lines.push(`| a walk with getsockopt + getsockname on every handle (what every call cost before) | ${at((r) => r.fullWalkUs, 0)} |`);
    lines.push('');
    lines.push(`From ${first.connections.toLocaleString('en-US')} to ${last.connections.toLocaleString('en-US')} connections a remembered lookup goes from ${fmt(first.rememberedLookupUs, 3)} to ${fmt(last.rememberedLookupUs, 3)} µs and a first lookup on a new connection from ${fmt(first.firstCallAfterNewConnectionUs)} to ${fmt(last.firstCallAfterNewConnectionUs)} µs, where a walk with syscalls on every handle goes from ${fmt(first.fullWalkUs, 0)} to ${fmt(last.fullWalkUs, 0)} µs (×${fmt(last.fullWalkUs / first.fullWalkUs, 0)}). `
      + 'What is left growing is a walk of the handle list without syscalls on a socket\'s first lookup; each handle\'s addresses are read once (getsockname + getpeername) and kept as a hint that is checked before it is used. Memory: one WeakMap entry per socket looked up, and one hint per connected TCP handle, dropped once the hints outgrow the open handles.', '');
  }
  lines.push(...relaySections(relayThroughput, relayIdle));
}
lines.push(...keepAliveSection(keepAlive, perCall ? 7 : 1));
lines.push(...stormSection([storm, stormLarge], perCall ? 8 : 2, stormNoFin));
if (!meta.httpOnly) lines.push(...bundleSection(bundle, 9));

// A quick smoke run, or one of only some sections, never overwrites the real results.
const outDir = meta.quick || meta.httpOnly ? path.join(root, 'bench', '.build') : path.join(root, 'bench');
fs.mkdirSync(outDir, { recursive: true });
fs.writeFileSync(path.join(outDir, 'RESULTS.md'), `${lines.join('\n')}\n`);
if (closeTable) fs.writeFileSync(path.join(outDir, 'close-chart.svg'), `${closeChartSvg(closeTable, `Closing ${(closeTable[0]?.connections ?? 0).toLocaleString('en-US')} loopback connections, Node.js ${process.version}, ${os.type()} ${os.release()}`)}\n`);
log(`wrote ${path.relative(root, outDir)}/RESULTS.md and close-chart.svg in ${fmt(elapsed, 0)} s`);
