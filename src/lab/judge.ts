// Judging a row: what the scenario table claims for a platform against what was observed, in
// words that say which claim failed and why.
import fs from 'node:fs';
import { claimFor } from './scenarios.js';
import type { ConnectionExpectation, Platform, Scenario, WireExpectation } from './scenarios.js';
import type { ConnectionObservation, Observation, ObservedSegment } from './observation.js';

export function checkConnection(expect: ConnectionExpectation, obs: ConnectionObservation): string[] {
  const problems: string[] = [];
  const p = expect.peer;
  if (obs.peer.outcome !== p.outcome) problems.push(`peer outcome: expected ${p.outcome}, observed ${obs.peer.outcome}`);
  if (p.syscall && obs.peer.syscall !== p.syscall) problems.push(`peer error from ${obs.peer.syscall ?? 'nothing'}, expected ${p.syscall}`);
  if (p.received) {
    const got = obs.peer.received;
    const sent = obs.closer.sent;
    const ok = p.received === 'all' ? got === sent : p.received === 'none' ? got === 0 : got < sent;
    if (!ok) problems.push(`peer received ${got} of ${sent} bytes, expected ${p.received}`);
  }
  const c = expect.closer;
  if (c?.outcome !== undefined && obs.closer.outcome !== c.outcome) {
    problems.push(`closer outcome: expected ${c.outcome}, observed ${obs.closer.outcome}`);
  }
  if (c?.syscall && obs.closer.syscall !== c.syscall) problems.push(`closer error from ${obs.closer.syscall ?? 'nothing'}, expected ${c.syscall}`);
  if (c?.received !== undefined && obs.closer.received !== c.received) {
    problems.push(`closer received ${obs.closer.received} bytes, expected ${c.received}`);
  }
  if (c?.timeWait !== undefined && obs.closer.timeWait !== null && obs.closer.timeWait !== c.timeWait) {
    problems.push(`closer TIME_WAIT: expected ${c.timeWait ? 'yes' : 'none'}, observed ${obs.closer.timeWait ? 'yes' : 'none'}${c.timeWait ? timeWaitTableFull() : ''}`);
  }
  if (c?.blockedAtLeastMs !== undefined && !((obs.closer.closeBlockedMs ?? 0) >= c.blockedAtLeastMs)) {
    problems.push(`close() blocked ${Math.round(obs.closer.closeBlockedMs ?? 0)} ms, expected at least ${c.blockedAtLeastMs} ms`);
  }
  if (c?.state !== undefined && obs.closer.state !== null && obs.closer.state !== c.state) {
    problems.push(`closer state: expected ${c.state}, observed ${obs.closer.state}`);
  }
  if (c?.report) {
    const r = obs.closer.report;
    if (!r) problems.push(`no close helper report, expected ${c.report.outcome}`);
    else {
      if (r.outcome !== c.report.outcome) problems.push(`${r.helper} outcome: expected ${c.report.outcome}, observed ${r.outcome}`);
      if (c.report.reset !== undefined && r.reset !== c.report.reset) {
        problems.push(`${r.helper} ${r.reset ? 'reset' : 'did not reset'} the connection, expected ${c.report.reset ? 'a reset' : 'none'}`);
      }
      if (c.report.elapsedAtLeastMs !== undefined && !(r.elapsedMs >= c.report.elapsedAtLeastMs)) {
        problems.push(`${r.helper} took ${Math.round(r.elapsedMs)} ms, expected at least ${c.report.elapsedAtLeastMs} ms`);
      }
      if (c.report.elapsedAtMostMs !== undefined && !(r.elapsedMs <= c.report.elapsedAtMostMs)) {
        problems.push(`${r.helper} took ${Math.round(r.elapsedMs)} ms, expected at most ${c.report.elapsedAtMostMs} ms`);
      }
    }
  }
  if (expect.wire && obs.wire) problems.push(...checkWire(expect.wire, obs.wire, obs.wireDropped));
  return problems;
}

/**
 * Linux keeps at most net.ipv4.tcp_max_tw_buckets TIME_WAIT entries; past that a closing socket
 * goes straight to CLOSED (and answers a late FIN with RST). On a busy machine that, not the row,
 * explains a missing TIME_WAIT: say so.
 */
export function timeWaitTableFull(): string {
  if (process.platform !== 'linux') return '';
  try {
    const max = Number(fs.readFileSync('/proc/sys/net/ipv4/tcp_max_tw_buckets', 'utf8'));
    const tw = Number(/\btw (\d+)/.exec(fs.readFileSync('/proc/net/sockstat', 'utf8'))?.[1]);
    return tw >= max * 0.95 ? ` (the kernel's TIME_WAIT table is full: ${tw} of net.ipv4.tcp_max_tw_buckets ${max})` : '';
  } catch {
    return '';
  }
}

/** Wire claims, judged only where the row was captured. */
export function checkWire(claim: WireExpectation, wire: readonly ObservedSegment[], dropped = 0): string[] {
  const problems: string[] = [];
  if (dropped > 0) return [`the capture lost ${dropped} packets, so the wire claims cannot be judged`];
  if (!wire.some((s) => s.flags.includes('SYN'))) return ['the capture holds no SYN for this connection, so the wire claims cannot be judged'];
  const ending = wire.findIndex((s) => s.from === 'closer' && (s.flags.includes('FIN') || s.flags.includes('RST')));
  const closerEnd = ending < 0 ? 'nothing' : wire[ending].flags.includes('RST') ? 'RST' : 'FIN';
  if (claim.closerSends && closerEnd !== claim.closerSends) {
    problems.push(`wire: the closer's first closing segment was ${closerEnd}, expected ${claim.closerSends}`);
  }
  if (claim.noRst) {
    const resets = wire.filter((s) => s.flags.includes('RST'));
    if (resets.length) problems.push(`wire: expected no RST, saw ${resets.length} (${[...new Set(resets.map((s) => s.from))].join(' and ')})`);
  }
  if (claim.rstAfterPeerData) {
    const reset = wire.findIndex((s) => s.from === 'closer' && s.flags.includes('RST'));
    const peerData = wire.findIndex((s) => s.from === 'peer' && s.bytes > 0);
    if (reset < 0) problems.push('wire: expected an RST from the closer, saw none');
    else if (peerData < 0 || peerData > reset) problems.push('wire: expected the closer\'s RST to answer data from the peer, but no peer data came before it');
  }
  if (claim.closerRstLost !== undefined) {
    const resets = wire.filter((s) => s.from === 'closer' && s.flags.includes('RST'));
    const allLost = resets.every((s) => s.lost === true);
    if (!resets.length) problems.push('wire: expected an RST from the closer, saw none');
    else if (allLost !== claim.closerRstLost) {
      problems.push(claim.closerRstLost ? 'wire: expected the closer\'s RST to be lost, but one reached the peer' : 'wire: expected an RST from the closer to reach the peer, but every one was lost');
    }
  }
  return problems;
}

/** The mismatches between what the table expects on `platform` and what was observed. */
export function check(scenario: Scenario, obs: Observation, platform: string): string[] | null {
  const expected = claimFor(scenario, platform as Platform)?.expect;
  if (!expected) return null;
  if (scenario.kind === 'call') {
    const code = (expected as { code: string }).code;
    return obs.kind === 'call' && obs.outcome === code ? [] : [`expected ${code}, observed ${obs.kind === 'call' ? obs.outcome : obs.kind}`];
  }
  return obs.kind === 'connection' ? checkConnection(expected as ConnectionExpectation, obs) : ['observed a call, not a connection'];
}
