// The HTTP sections of bench/RESULTS.md, written from the measured figures: tables, the method, and
// for each goal whether this run met it, with the numbers that decide it.

const fmt = (n, digits = 1) => (n == null || Number.isNaN(n) ? '–' : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }));
const pct = (ratio, digits = 1) => `${fmt(ratio * 100, digits)} %`;
const trialsText = (n) => `${n} interleaved trial${n === 1 ? '' : 's'}`;
const signed = (ratio) => `${ratio >= 1 ? '+' : '−'}${fmt(Math.abs(ratio - 1) * 100, 1)} %`;

export const GOALS = { throughputRatio: 0.98, p99Ratio: 1.05, cpuPerRequest: 1.02, cpuVsNginx: 1.0, rssVsNginx: 2 };

const verdict = (ok) => (ok ? 'met' : '**missed**');
const throughputOk = (ratio) => ratio >= GOALS.throughputRatio;
const p99Ok = (ratio) => ratio <= GOALS.p99Ratio;
const cpuOk = (ratio) => ratio <= GOALS.cpuPerRequest;

export function keepAliveSection(ka, number) {
  const lines = [`## ${number}. Keep-alive traffic with enableLingeringClose and without`, ''];
  lines.push(`autocannon ${ka.autocannonVersion ?? ''} in its own process (\`bench/http/cannon-worker.mjs\`), ${ka.connections} keep-alive connections, no pipelining, against the same node:http server (\`bench/http/server.mjs\`) in a child process: one child with \`enableLingeringClose(server)\` (defaults, from \`dist/cjs/index.js\`), one without, both started at once and warmed for 1 s per workload. ${trialsText(ka.trials)} of ${ka.duration} s per workload and variant: each trial runs both variants of a workload back to back, in an order reshuffled each trial. Requests/s is 2xx answers over the trial's duration. Latency percentiles come from every response's own time as autocannon reports it per response (its histogram keeps whole milliseconds, too coarse here). Server CPU is the child's user + system time from /proc over the trial, per answered request.`, '');
  if (ka.load) lines.push(`The 1-minute load average was ${fmt(ka.load.before, 2)} before these runs and ${fmt(ka.load.after, 2)} after them, on ${ka.load.cores} cores shared with other work.`, '');
  if (ka.unavailable) {
    lines.push(`**Not measured with the integration:** ${ka.unavailable}. Only the server without it ran; the goals below are unmeasured.`, '');
  }
  lines.push('Medians over the trials, and the best trial (most requests/s, lowest p99, least CPU per request):', '');
  lines.push('| workload | server | requests/s median | best | p50 latency median (ms) | p99 latency median (ms) | best | server CPU µs/request median | best | requests | errors |', '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const row of ka.rows) {
    for (const name of ['without', 'enableLingeringClose']) {
      const v = row[name];
      if (!v) continue;
      lines.push(`| ${row.workload} | ${name === 'without' ? 'without' : 'with enableLingeringClose'} | ${fmt(v.requestsPerSecond, 0)} | ${fmt(v.bestRequestsPerSecond, 0)} | ${fmt(v.p50Ms, 3)} | ${fmt(v.p99Ms, 3)} | ${fmt(v.bestP99Ms, 3)} | ${fmt(v.serverCpuUsPerRequest, 2)} | ${fmt(v.bestServerCpuUsPerRequest, 2)} | ${v.requests.toLocaleString('en-US')} | ${v.errors} |`);
    }
  }
  lines.push('');
  const compared = ka.rows.filter((r) => r.throughputRatio != null);
  if (compared.length) {
    lines.push('Two views of the same runs. *Per-trial ratios*: the ratio within each trial (both variants saw one machine load), their median, and their range. *Best trials*: the best trial of one variant against the best of the other; on a machine shared with other work contention only ever takes away, so the best trials are the cleaner view of the integration\'s own cost, while the range of the per-trial ratios shows how much the load moved.', '');
    lines.push('| workload | view | server CPU per request with vs without (goal ≤ +2 %) | throughput with / without (goal ≥ 0.98) | p99 latency with vs without (goal within 5 %) |', '|---|---|---|---|---|');
    const range = (x, f) => `${f(x.min)} … ${f(x.max)}`;
    const ratio3 = (v) => fmt(v, 3);
    for (const r of compared) {
      lines.push(`| ${r.workload} | per-trial ratios: median (range) | ${signed(r.cpuRatio)} ${verdict(cpuOk(r.cpuRatio))} (${range(r.cpu, signed)}) | ${fmt(r.throughputRatio, 3)} ${verdict(throughputOk(r.throughputRatio))} (${range(r.throughput, ratio3)}) | ${signed(r.p99Ratio)} ${verdict(p99Ok(r.p99Ratio))} (${range(r.p99, signed)}) |`);
      lines.push(`| ${r.workload} | best trials | ${signed(r.best.cpuRatio)} ${verdict(cpuOk(r.best.cpuRatio))} | ${fmt(r.best.throughputRatio, 3)} ${verdict(throughputOk(r.best.throughputRatio))} | ${signed(r.best.p99Ratio)} ${verdict(p99Ok(r.best.p99Ratio))} |`);
    }
    lines.push('');
    // The goal the integration is judged by: the server's CPU per request, steadier here than
    // throughput or latency, which other work on the machine moves by more than the goal allows.
    for (const r of compared) {
      const ok = cpuOk(r.cpuRatio);
      lines.push(`*${r.workload}*: server CPU per request with the integration ${signed(r.cpuRatio)} against without (per-trial median; best trials ${signed(r.best.cpuRatio)}; ${fmt(r.enableLingeringClose.serverCpuUsPerRequest, 2)} vs ${fmt(r.without.serverCpuUsPerRequest, 2)} µs): the goal of at most +2 % is ${ok ? '**met**' : '**missed**'}${ok ? '' : ` (per-trial range ${range(r.cpu, signed)}${ka.trials < 3 ? '; fewer than 3 trials: a smoke run' : ''})`}.`, '');
    }
    for (const r of compared) {
      const views = [
        ['per-trial median', r.throughputRatio, r.p99Ratio],
        ['best trials', r.best.throughputRatio, r.best.p99Ratio],
      ];
      const missed = views.filter(([, t, p]) => !throughputOk(t) || !p99Ok(p));
      if (missed.length === 0) {
        lines.push(`*${r.workload}*: both goals met in both views (throughput ${fmt(r.throughputRatio, 3)} / ${fmt(r.best.throughputRatio, 3)}, p99 ${signed(r.p99Ratio)} / ${signed(r.best.p99Ratio)}; server CPU per request ${signed(r.cpuRatio)} / ${signed(r.best.cpuRatio)}).`, '');
        continue;
      }
      const parts = missed.map(([view, t, p]) => {
        const what = [];
        if (!throughputOk(t)) what.push(`throughput ratio ${fmt(t, 3)} < 0.98`);
        if (!p99Ok(p)) what.push(`p99 ${signed(p)}`);
        return `${view}: ${what.join(', ')}`;
      });
      const noisy = r.throughput.max - r.throughput.min > 1 - GOALS.throughputRatio;
      lines.push(`**Goal missed** for *${r.workload}* (${parts.join('; ')}). Breakdown: medians ${fmt(r.enableLingeringClose.requestsPerSecond, 0)} vs ${fmt(r.without.requestsPerSecond, 0)} requests/s and p99 ${fmt(r.enableLingeringClose.p99Ms, 3)} vs ${fmt(r.without.p99Ms, 3)} ms; best trials ${fmt(r.enableLingeringClose.bestRequestsPerSecond, 0)} vs ${fmt(r.without.bestRequestsPerSecond, 0)} requests/s and p99 ${fmt(r.enableLingeringClose.bestP99Ms, 3)} vs ${fmt(r.without.bestP99Ms, 3)} ms; server CPU per request ${fmt(r.enableLingeringClose.serverCpuUsPerRequest, 2)} vs ${fmt(r.without.serverCpuUsPerRequest, 2)} µs (${signed(r.cpuRatio)}, per-trial range ${range(r.cpu, signed)}). ${ka.trials < 3 ? 'With fewer than 3 trials the noise is not measured (a smoke run).' : `The per-trial throughput ratios ran ${range(r.throughput, ratio3)}: the load on this shared machine moved ${noisy ? 'more than' : 'less than'} the 2 % the goal allows${noisy ? ', so a 2 % cost cannot be told from noise by throughput alone' : ''}.`}`, '');
    }
    if (ka.lingerStats) {
      const codes = (st) => (st.clientErrors ? ` (${Object.entries(st.clientErrorCodes).map(([c, n]) => `${n} ${c}`).join(', ')})` : '');
      lines.push(`Connections lingering at once on the integration's server during these runs (sampled every 10 ms): at most ${ka.lingerStats.maxLingering}${ka.lingerStats.counts ? `; lingering closes started: ${ka.lingerStats.counts.lingered}` : ''}. \`'clientError'\` events over all trials and warm-ups: ${ka.lingerStats.clientErrors}${codes(ka.lingerStats)} with the integration, ${ka.plainStats.clientErrors}${codes(ka.plainStats)} without (autocannon ends each run by dropping its connections, requests in flight included).`);
    }
    lines.push('');
  }
  return lines;
}

function countsText(c) {
  const names = { lingered: 'lingered', endedByFin: 'ended by the client\'s FIN', endedByCap: 'ended by a cap', endedByReset: 'ended by a reset', endedByError: 'ended by an error', endedByClose: 'ended by a forced close', overMaxLingering: 'over maxLingering' };
  return Object.entries(c).filter(([k, v]) => v || k === 'lingered' || k === 'endedByFin').map(([k, v]) => `${v} ${names[k] ?? k}`).join(', ');
}

function outcomeText(outcomes) {
  return Object.entries(outcomes).sort((a, b) => b[1] - a[1]).map(([kind, n]) => `${n} ${kind}`).join(', ');
}

/**
 * The 413 storm at each size measured (`storms`, e.g. 200 and 1,000 clients), and the same storm
 * with clients that never send their FIN (`noFin`), each with its goals decided from the figures.
 */
export function stormSection(storms, number, noFin = null) {
  const list = (Array.isArray(storms) ? storms : [storms]).filter(Boolean);
  const first = list[0];
  const lines = [`## ${number}. A 413 storm, beside nginx`, ''];
  const mb = (first.bytes / 1e6).toLocaleString('en-US');
  const sizes = list.map((x) => x.clients.toLocaleString('en-US')).join(' and ');
  lines.push(`${sizes} concurrent clients each upload ${mb} MB (\`Content-Length: ${first.bytes}\`) to a server that rejects anything over ${fmt(first.limit / 2 ** 20, 0)} MiB from the request head, without reading the body: a 413 with \`Connection: close\`. The clients are one separate Node process (\`bench/http/storm-client.mjs\`), the same for every server: Node's \`http.request\` without a keep-alive agent, the whole body handed to \`req.end()\` (so each keeps sending, as a client that sends its body before it reads the answer does), each given ${fmt(first.timeoutMs / 1000, 0)} s at most. A client is *clean* when it read status 413 and the whole response body (its Content-Length) and saw no error at all up to \`'close'\`. Servers, each in a fresh process per trial, on 127.0.0.1:`, '');
  lines.push('- *Node + enableLingeringClose*: `bench/http/server.mjs` with `enableLingeringClose(server)`, defaults (from `dist/cjs/http/index.js`);');
  lines.push('- *Node without (control)*: the same server without it;');
  lines.push("- three memory floors, without node:http's early answer: *floor: node:http reading the whole body, then 413* (the same server curing the reset the way Node alone can), *floor: net.Server, fixed 413 + FIN + resume()* (the least any Node server holds per connection: no HTTP machinery, the 413's bytes written by hand, the rest read and dropped as Node reads, a 64 KiB Buffer per read) and *floor: net.Server, fixed 413 + gracefulClose()* (the same with this package's drain, which reads into one shared buffer);");
  const version = list.flatMap((x) => x.rows).find((r) => r.version)?.version;
  lines.push(`- *nginx*${version ? ` (${version}, from the system's packages)` : ''}: \`lingering_close on\`, \`client_max_body_size 1m\`, one worker, its own config and prefix in a temp folder, started and stopped by the bench (\`bench/http/nginx.mjs\`).`, '');
  lines.push(`Server CPU is user + system time of all the server's processes (nginx: master and worker) from /proc/<pid>/stat, from just before the clients start until the server's end of every connection is gone (lingering included). Peak RSS is VmHWM summed over those processes, reset to the current RSS just before the storm (\`clear_refs\`)${list.every((x) => x.rows.every((r) => r.peakReset)) ? '' : ' where the kernel allowed it (else since the process started)'}; growth per upload is (peak − RSS before) / clients. The Node server's event-loop delay is \`monitorEventLoopDelay({ resolution: 1 })\` in the server, from just before the storm to its end (nginx has no such loop to sample; its wall time stands beside it). Clean counts are totals over the trials, the rest medians.`, '');
  for (const storm of list) lines.push(...stormBody(storm));
  if (noFin) lines.push(...noFinBody(noFin));
  return lines;
}

function stormBody(storm) {
  const lines = [`### ${storm.clients.toLocaleString('en-US')} concurrent clients`, ''];
  lines.push(`${trialsText(storm.trials)} per server (order reshuffled each trial).`, '');
  for (const [name, why] of Object.entries(storm.unavailable)) lines.push(`**${name} not measured:** ${why}.`, '');
  lines.push('| server | clean 413s | clean rate | server CPU s per storm | CPU ms per rejected upload | RSS before (MiB) | peak RSS (MiB) | RSS growth per upload (KiB) | event-loop delay p99 / max (ms) | storm wall time (s) | slowest client (s) |', '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of storm.rows) {
    const loop = r.loopDelayMs ? `${fmt(r.loopDelayMs.p99, 1)} / ${fmt(r.loopDelayMs.max, 1)}` : '–';
    lines.push(`| ${r.server} | ${r.clean}/${r.uploads} | ${pct(r.cleanRate)} | ${fmt(r.serverCpuSeconds, 2)} | ${fmt(r.cpuMsPerUpload, 2)} | ${fmt(r.baselineRssMiB)} | ${fmt(r.peakRssMiB)} | ${fmt(r.rssGrowthKiBPerUpload)} | ${loop} | ${fmt(r.seconds, 2)} | ${fmt(r.clientMaxMs / 1000, 2)} |`);
  }
  lines.push('');
  lines.push('What the clients observed:', '');
  for (const r of storm.rows) {
    const extra = [];
    if (r.maxLingering != null && r.server.includes('enableLingeringClose')) extra.push(`at most ${r.maxLingering} connections lingering at once (sampled every 10 ms)`);
    if (r.clientErrors != null) extra.push(`\`'clientError'\` ${r.clientErrors} times`);
    if (r.leftOpen) extra.push(`${r.leftOpen} connections still open in the kernel (ESTABLISHED/CLOSE_WAIT) 5 s after the last client closed`);
    if (r.peakMemoryMiB) extra.push(`peaks in the process: V8 heap ${fmt(r.peakMemoryMiB.heapTotal)} MiB (${fmt(r.peakMemoryMiB.heapUsed)} used), ArrayBuffers ${fmt(r.peakMemoryMiB.arrayBuffers)} MiB`);
    if (r.counts) extra.push(`the handle counted ${countsText(r.counts)}`);
    if (r.lingeringLeft) extra.push(`**${r.lingeringLeft} connections still counted as lingering and ${r.fdsLeft} more descriptors open 2 s after every client had closed** (the clients' FINs had all arrived)`);
    else if (r.fdsLeft > 0) extra.push(`**${r.fdsLeft} more descriptors open after the storm than before**`);
    lines.push(`- ${r.server}: ${outcomeText(r.outcomes)}${extra.length ? `; ${extra.join(', ')}` : ''}.`);
  }
  lines.push('');

  const ours = storm.rows.find((r) => r.server.includes('enableLingeringClose'));
  const nginx = storm.rows.find((r) => r.server === 'nginx');
  const control = storm.rows.find((r) => r.server.includes('control'));
  lines.push('Goals:', '');
  if (!ours) {
    lines.push('- Unmeasured: the integration did not run in this build (see above).', '');
    return lines;
  }
  lines.push(ours.cleanRate === 1
    ? `- Clean rate 100 %: **met** (${ours.clean}/${ours.uploads}${nginx ? `; nginx ${ours.clean === ours.uploads && nginx.cleanRate === 1 ? 'also 100 %' : pct(nginx.cleanRate)}` : ''}).`
    : `- Clean rate 100 %: **missed**: ${ours.clean}/${ours.uploads} (${pct(ours.cleanRate)}); the rest: ${outcomeText(Object.fromEntries(Object.entries(ours.outcomes).filter(([k]) => k !== 'clean')))}${nginx ? `; nginx ${pct(nginx.cleanRate)}` : ''}.`);
  if (nginx) {
    const ratio = ours.cpuMsPerUpload / nginx.cpuMsPerUpload;
    lines.push(ratio <= GOALS.cpuVsNginx
      ? `- CPU per rejected upload at most nginx's (≤ ${fmt(GOALS.cpuVsNginx, 1)}×): **met** (${fmt(ours.cpuMsPerUpload, 2)} vs ${fmt(nginx.cpuMsPerUpload, 2)} ms, ${fmt(ratio, 2)}×).`
      : `- CPU per rejected upload at most nginx's (≤ ${fmt(GOALS.cpuVsNginx, 1)}×): **missed**: ${fmt(ours.cpuMsPerUpload, 2)} vs ${fmt(nginx.cpuMsPerUpload, 2)} ms, ${fmt(ratio, 2)}× (${fmt(ours.serverCpuSeconds, 2)} vs ${fmt(nginx.serverCpuSeconds, 2)} CPU s per storm of ${storm.clients} uploads). The Node figure is the whole process: HTTP parsing, the response, the reads and discards, GC and libuv, against nginx's C loop of recv() into one 4 KiB buffer per connection.`);
    const rssRatio = nginx.rssGrowthKiBPerUpload > 0 ? ours.rssGrowthKiBPerUpload / nginx.rssGrowthKiBPerUpload : NaN;
    lines.push(rssRatio <= GOALS.rssVsNginx
      ? `- RSS growth per upload at most ${fmt(GOALS.rssVsNginx, 0)}× nginx's: **met** (${fmt(ours.rssGrowthKiBPerUpload)} vs ${fmt(nginx.rssGrowthKiBPerUpload)} KiB, ${fmt(rssRatio, 2)}×).`
      : `- RSS growth per upload at most ${fmt(GOALS.rssVsNginx, 0)}× nginx's: **missed**: ${fmt(ours.rssGrowthKiBPerUpload)} vs ${fmt(nginx.rssGrowthKiBPerUpload)} KiB, ${fmt(rssRatio, 1)}×. Breakdown at the peak: V8 heap ${fmt(ours.peakMemoryMiB?.heapTotal)} MiB (${fmt(ours.peakMemoryMiB?.heapUsed)} used), ArrayBuffers ${fmt(ours.peakMemoryMiB?.arrayBuffers)} MiB${control ? `; the control server, which reads nothing and resets, grew ${fmt(control.rssGrowthKiBPerUpload)} KiB per upload: Node's own cost of a connection, its request and its response` : ''}.${floorText(storm.rows, ours, nginx)}`);
    if (ours.loopDelayMs) lines.push(`- The event loop during the storm (stated, no goal): p99 delay ${fmt(ours.loopDelayMs.p99, 1)} ms, longest ${fmt(ours.loopDelayMs.max, 1)} ms, over a storm of ${fmt(ours.seconds, 2)} s; nginx served the same storm in ${fmt(nginx.seconds, 2)} s.`);
  } else {
    lines.push('- CPU and RSS against nginx: unmeasured (nginx did not run).');
  }
  const bound = storm.limit / 1024;
  // Bounded at all: no discarded body is held (the goal against nginx is the one above).
  const vsNginx = nginx && nginx.rssGrowthKiBPerUpload > 0 ? ` (nginx: ${fmt(nginx.rssGrowthKiBPerUpload)} KiB per upload, ${fmt(nginx.peakRssMiB)} MiB peak; Node's growth is ${fmt(ours.rssGrowthKiBPerUpload / nginx.rssGrowthKiBPerUpload, 0)}× that${control ? `, and the control's, which resets instead of reading, ${fmt(control.peakRssMiB - control.baselineRssMiB)} MiB in all` : ''})` : '';
  lines.push(ours.rssGrowthKiBPerUpload < bound
    ? `- RSS bounded (taken here as: peak growth per concurrent upload below the ${fmt(bound, 0)} KiB limit, so no discarded body is held): **met**: ${fmt(ours.rssGrowthKiBPerUpload)} KiB per upload, ${fmt(ours.peakRssMiB - ours.baselineRssMiB)} MiB in all for ${storm.clients} uploads of ${fmt(storm.bytes / 1e6, 0)} MB${vsNginx}.`
    : `- RSS bounded (peak growth per concurrent upload below the ${fmt(bound, 0)} KiB limit): **missed**: ${fmt(ours.rssGrowthKiBPerUpload)} KiB per upload, ${fmt(ours.peakRssMiB - ours.baselineRssMiB)} MiB in all${vsNginx}.`);
  if (!ours.lingeringLeft && !(ours.fdsLeft > 0)) {
    lines.push(`- Lingering ends (every lingering close over by the client's FIN or a cap, no descriptor left behind): **met**${ours.counts ? ` (${countsText(ours.counts)})` : ''}.`);
  } else {
    lines.push(`- Lingering ends: **missed**: after the storm the server still counted ${ours.lingeringLeft ?? 0} connections as lingering and held ${ours.fdsLeft} more descriptors than before it, though every client had sent its FIN and closed; they would stay until the process exits${nginx ? ` (nginx: ${nginx.fdsLeft} more descriptors)` : ''}.`);
  }
  lines.push('');
  return lines;
}

/**
 * The memory floors beside the integration: what Node servers without node:http's early answer
 * hold per upload, and what that says about the goal against nginx.
 */
function floorText(rows, ours, nginx, key = 'rssGrowthKiBPerUpload') {
  const floors = rows.filter((r) => r.server.startsWith('floor:') && r[key] != null);
  if (!floors.length) return '';
  const least = floors.reduce((a, b) => (b[key] < a[key] ? b : a));
  const named = (r) => r.server.replace(/^floor: /, '');
  const list = floors.map((r) => `${named(r)} ${fmt(r[key])} KiB (V8 heap ${fmt(r.peakMemoryMiB?.heapTotal)} MiB, ${fmt(r.peakMemoryMiB?.heapUsed)} used; ArrayBuffers ${fmt(r.peakMemoryMiB?.arrayBuffers)} MiB)`).join('; ');
  const below = ours[key] <= least[key];
  return ` The floors, Node servers doing the same without node:http's early answer: ${list}. ${below
    ? `No Node server measured here holds these uploads in less than the integration's ${fmt(ours[key])} KiB: the least of them, ${named(least)}, is ${fmt(least[key] / nginx[key], 1)}× nginx's, so ${fmt(GOALS.rssVsNginx, 0)}× nginx's is below what Node itself holds for such a connection (V8's heap, sized by the allocation rate, and Buffers awaiting GC: node:http copies each request's first body bytes into one before the handler runs).`
    : `The least of them, ${named(least)}, holds ${fmt(least[key])} KiB, ${fmt(ours[key] - least[key])} KiB less than the integration: that much is the integration's own, or node:http's.`}`;
}

/** What of the held memory is live objects, against the least Node floor's. */
function liveText(rows, ours) {
  if (ours.liveHeapKiBPerConnection == null) return '';
  const floor = rows.find((r) => r.server.startsWith('floor:') && r.server.includes('gracefulClose') && r.liveHeapKiBPerConnection != null);
  return ` Of the integration's ${fmt(ours.heldKiBPerConnection)} KiB, ${fmt(ours.liveHeapKiBPerConnection, 2)} KiB per connection are live JS objects after a full GC${floor ? ` (net.Server with gracefulClose(): ${fmt(floor.liveHeapKiBPerConnection, 2)} KiB; the difference, ${fmt(ours.liveHeapKiBPerConnection - floor.liveHeapKiBPerConnection, 2)} KiB, is node:http's request, response and parser together with the integration's own state)` : ''}; the rest is memory the process took for transient buffers and has not given back.`;
}

function noFinBody(storm) {
  const lines = [`### ${storm.clients.toLocaleString('en-US')} clients that never send their FIN`, ''];
  lines.push(`The same uploads and servers (the control left out: it resets at once; and node:http reading the whole body: it answers only once the body is in, then closes), but each client is a raw TCP connection (\`storm-client.mjs\` mode \`nofin\`): it sends the request and body, reads the answer to the server's FIN, then stays silent for ${fmt(storm.holdMs / 1000, 0)} s without sending its own FIN, so every lingering close ends by the server's silence timeout (5 s for both: \`lingeringTimeout\`, nginx's \`lingering_timeout\`). *Held per lingering connection* is (the server's RSS at the moment the last client has its answer − RSS before) / clients: every connection is lingering then. *Live JS heap* is what of it is live objects: the Node server's heap in use after a full GC (\`gc()\`, the bench's servers run with \`--expose-gc\`), asked at that same moment, minus the same before the storm, per connection; the rest of the RSS is memory the process took for transient buffers and has not given back. ${trialsText(storm.trials)} per server. Server CPU here spans the whole hold, idle time included (the Node server's own 10 ms samplers run through it), so it is no measure of draining.`, '');
  for (const [name, why] of Object.entries(storm.unavailable)) lines.push(`**${name} not measured:** ${why}.`, '');
  lines.push('| server | clean 413s | held per lingering connection (KiB) | of which live JS heap (KiB) | peak RSS growth per upload (KiB) | server CPU s | time to the last answer (s) |', '|---|---:|---:|---:|---:|---:|---:|');
  for (const r of storm.rows) {
    lines.push(`| ${r.server} | ${r.clean}/${r.uploads} | ${fmt(r.heldKiBPerConnection)} | ${r.liveHeapKiBPerConnection == null ? '–' : fmt(r.liveHeapKiBPerConnection, 2)} | ${fmt(r.rssGrowthKiBPerUpload)} | ${fmt(r.serverCpuSeconds, 2)} | ${fmt(r.seconds, 2)} |`);
  }
  lines.push('');
  const ours = storm.rows.find((r) => r.server.includes('enableLingeringClose'));
  const nginx = storm.rows.find((r) => r.server === 'nginx');
  if (ours?.counts) lines.push(`The handle counted ${countsText(ours.counts)}.`, '');
  if (ours && nginx && ours.heldKiBPerConnection != null && nginx.heldKiBPerConnection > 0) {
    const ratio = ours.heldKiBPerConnection / nginx.heldKiBPerConnection;
    lines.push(`Memory held per lingering connection: ${fmt(ours.heldKiBPerConnection)} KiB against nginx's ${fmt(nginx.heldKiBPerConnection)} KiB (${fmt(ratio, 1)}×; the goal of ≤ ${fmt(GOALS.rssVsNginx, 0)}× nginx's is ${ratio <= GOALS.rssVsNginx ? '**met**' : '**missed**'}${ours.peakMemoryMiB ? `; Node's peaks: V8 heap ${fmt(ours.peakMemoryMiB.heapTotal)} MiB, ArrayBuffers ${fmt(ours.peakMemoryMiB.arrayBuffers)} MiB` : ''}).${ratio <= GOALS.rssVsNginx ? '' : floorText(storm.rows, ours, nginx, 'heldKiBPerConnection')}${liveText(storm.rows, ours)}`, '');
  }
  return lines;
}
