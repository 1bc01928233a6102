// The relay sections of bench/RESULTS.md, from the figures of one run.
const GOAL = 0.95;

const fmt = (n, digits = 1) => (n == null || Number.isNaN(n) ? '–' : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }));
const pct = (r) => `${fmt(r * 100, 1)} %`;
const NAMES = {
  direct: 'no relay (client straight to server)',
  pipe: '`a.pipe(b); b.pipe(a)`',
  relay: '`relay(a, b)`',
  socat: 'socat',
};
const DIRECTION = { up: 'client → server', down: 'server → client' };

export function relaySections(throughput, idle) {
  const lines = [];
  lines.push('## 5. Relaying: throughput', '');
  lines.push(`One connection at a time moves ${fmt(throughput.bytes / 2 ** 20, 0)} MiB through a relay process on 127.0.0.1: *client → server* (the client sends, the server counts) and *server → client*. The relays: the package's \`relay(a, b)\`, the plain Node idiom \`a.pipe(b); b.pipe(a)\` (which passes neither a half-close nor a reset on faithfully), socat${throughput.socat ? ` ${throughput.socat}` : ''} with its defaults (\`TCP4-LISTEN:…,fork TCP4:…\`, 8 KiB buffer), and no relay at all (there the benchmark process does both the sending and the receiving on one core, so it is a reference, not an upper bound). Each Node relay is its own process (\`bench/relay/worker.mjs\`), started once per relay and direction, and waits for the upstream connection before moving bytes; the client and the server are the benchmark process. ${throughput.trials} rounds, each running every (relay, direction) once in a reshuffled order; MiB/s is the median of the rounds, *best* the fastest; *× pipe* is the median of the per-round ratios to pipe in the same direction (paired, so a slow moment of the machine counts against both). *CPU s/GiB* is the relay process's user + system time per GiB moved.`, '');
  lines.push('| relay | direction | MiB/s (median) | MiB/s (best) | × pipe | relay CPU s/GiB |', '|---|---|---:|---:|---:|---:|');
  for (const r of throughput.rows) {
    lines.push(`| ${NAMES[r.kind] ?? r.kind} | ${DIRECTION[r.direction]} | ${fmt(r.mibps, 0)} | ${fmt(r.best, 0)} | ${r.kind === 'pipe' ? '1.00×' : `${fmt(r.ratioToPipe, 2)}×`} | ${r.cpuPerGiB == null ? '' : fmt(r.cpuPerGiB, 2)} |`);
  }
  lines.push('');
  const relayRows = throughput.rows.filter((r) => r.kind === 'relay');
  const pipeRows = throughput.rows.filter((r) => r.kind === 'pipe');
  if (relayRows.length) {
    const verdicts = relayRows.map((r) => `${DIRECTION[r.direction]} ${pct(r.ratioToPipe)} (${r.ratioToPipe >= GOAL ? 'met' : '**missed**'})`);
    lines.push(`**Goal: \`relay(a, b)\` at ≥ 95 % of pipe's throughput.** Measured: ${verdicts.join('; ')}.`);
    const missed = relayRows.filter((r) => r.ratioToPipe < GOAL);
    if (missed.length) {
      const parts = missed.map((r) => {
        const p = pipeRows.find((q) => q.direction === r.direction);
        const extra = r.cpuPerGiB != null && p?.cpuPerGiB != null ? r.cpuPerGiB - p.cpuPerGiB : null;
        return `${DIRECTION[r.direction]}: the relay process spends ${fmt(r.cpuPerGiB, 2)} CPU s/GiB against pipe's ${fmt(p?.cpuPerGiB, 2)} (${extra == null ? '–' : `${extra >= 0 ? '+' : ''}${fmt(extra, 2)}`} s/GiB, ${p?.cpuPerGiB ? pct((r.cpuPerGiB - p.cpuPerGiB) / p.cpuPerGiB) : '–'} more work per byte)`;
      });
      lines.push(`Where it is missed: ${parts.join('; ')}. A relay on loopback is bound by its own process's CPU (read, then write, per chunk), so extra CPU per GiB is the cost that shows up as lost throughput.`);
    }
    lines.push('');
  }

  lines.push('## 6. Relaying: many idle connections', '');
  const capped = idle.rows[0] && idle.rows[0].connections < idle.requested;
  lines.push(`One relay process holds N relayed connections that carry no bytes: a driver process (\`bench/relay/idle-driver.mjs\`) opens N clients to it (256 connects in flight), and the relay dials an upstream server in the driver for each. Memory is the relay process's after a forced GC with all N held, minus the same before the first connection, divided by N. Loop delay is \`monitorEventLoopDelay({ resolution: 1 })\` in the relay process, while the N connections open and then for 2 s of idleness (values include the 1 ms sampling interval). *Still relaying* sends one byte each way on 100 connections spread over the N at the end. ${idle.rows[0]?.trials ?? 0} interleaved trials per relay, medians. socat is not in this table: it forks a process per connection.`, '');
  if (capped) {
    lines.push(`**N is ${fmt(idle.rows[0].connections, 0)}, not ${fmt(idle.requested, 0)}:** the relay process needs two descriptors per connection (${fmt(idle.wantedFdLimit, 0)} with its own), and the most \`ulimit -n\` could give the benchmark's child processes here is ${idle.fdLimit} (raising the hard limit needs CAP_SYS_RESOURCE, which this run did not have). Where \`ulimit -n ${idle.wantedFdLimit}\` is allowed, the benchmark raises it for its child processes and runs the full ${fmt(idle.requested, 0)}.`, '');
  }
  lines.push('| relay | connections | RSS / connection (KiB) | JS heap / connection (KiB) | RSS held (MiB) | loop delay while opening p50 / p99 / max (ms) | loop delay idle p50 / p99 / max (ms) | opening N (ms) | still relaying |', '|---|---:|---:|---:|---:|---|---|---:|---:|');
  for (const r of idle.rows) {
    lines.push(`| ${NAMES[r.kind] ?? r.kind} | ${fmt(r.connections, 0)} | ${fmt(r.rssPerConnKiB, 2)} | ${fmt(r.heapPerConnKiB, 2)} | ${fmt(r.rssMiB)} | ${fmt(r.setupDelay.p50, 2)} / ${fmt(r.setupDelay.p99, 2)} / ${fmt(r.setupDelay.max, 2)} | ${fmt(r.idleDelay.p50, 2)} / ${fmt(r.idleDelay.p99, 2)} / ${fmt(r.idleDelay.max, 2)} | ${fmt(r.setupMs, 0)} | ${r.checked.arrived}/${r.checked.sampled} |`);
  }
  lines.push('');
  const relayIdle = idle.rows.find((r) => r.kind === 'relay');
  const pipeIdle = idle.rows.find((r) => r.kind === 'pipe');
  if (relayIdle && pipeIdle) {
    lines.push(`\`relay(a, b)\` holds an idle connection (two sockets and the relay's own state) in ${fmt(relayIdle.rssPerConnKiB, 2)} KiB of RSS against pipe's ${fmt(pipeIdle.rssPerConnKiB, 2)} KiB (${relayIdle.rssPerConnKiB >= pipeIdle.rssPerConnKiB ? '+' : ''}${fmt(relayIdle.rssPerConnKiB - pipeIdle.rssPerConnKiB, 2)} KiB; JS heap ${fmt(relayIdle.heapPerConnKiB, 2)} against ${fmt(pipeIdle.heapPerConnKiB, 2)} KiB).`, '');
  }
  return lines;
}
