// The linger lab as a report: runs rows of the scenario table on loopback, one at a time, and
// renders the result as a table for people or as versioned JSON (docs/lab-output.schema.json).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { packageRoot } from '../core/binding.js';
import { formatBytes, wrapWords } from '../core/text.js';
import { invalidArgValue } from '../core/validate.js';
import { closingLadder } from './ladder.js';
import { runScenario } from './runner.js';
import { type ConnectionObservation, type Family, type Observation, type ScenarioResult } from './observation.js';
import { SCENARIOS, claimFor, type Condition, type Platform, type Scenario } from './scenarios.js';
import { describeClaim, describeCloser, describePeer } from './describe.js';
import { CONDITION_SCENARIOS } from './condition-scenarios.js';
import { ADDRESSES, CONDITIONS, LabNetwork } from './netns.js';

/** Bumped only when a consumer of the JSON would have to change: fields are never renamed or removed within a version. */
export const LAB_SCHEMA_VERSION = 1;

export type RowStatus = 'pass' | 'fail' | 'not-claimed';

export interface LabRow {
  /** The scenario's name. */
  scenario: string;
  /** Its title, in words. */
  title: string;
  /** 'connection' (a closer and a peer on a connection) or 'call' (one call on one socket, no peer). */
  kind: Scenario['kind'];
  /** The address family it was played over: 4 or 6. */
  family: Family;
  /** What the closer did, as one line (for a call row: the call and what it was made on). */
  closerDid: string;
  /** What the peer did, as one line; null for call rows, which have no peer. */
  peerDid: string | null;
  /** Whether the table claims anything for the judged platform. */
  claimed: boolean;
  /** The claim in words; null when not claimed. */
  expected: string | null;
  /** A remark on the claim, with its source; null when it has none. */
  note: string | null;
  /** 'fail' also covers a claimed row that could not be run (see error). */
  status: RowStatus;
  /** Each claim the observation broke, in words; empty when it kept them all. */
  mismatches: string[];
  /** Why the row could not be run at all; null when it ran. */
  error: string | null;
  /** The code of that error (ERR_NET_LINGER_UNSUPPORTED: this runtime refuses); null when none. */
  errorCode: string | null;
  /** What was seen on both ends; null when the row could not be run. */
  observed: Observation | null;
  /** Milliseconds the row took to play and judge, to 0.1 ms. */
  durationMs: number;
}

export interface LabReport {
  /** LAB_SCHEMA_VERSION: the shape of this object (docs/lab-output.schema.json). */
  schemaVersion: typeof LAB_SCHEMA_VERSION;
  /** What made the report. */
  tool: {
    /** Always 'net-linger'. */
    name: 'net-linger';
    /** Its package version. */
    version: string;
  };
  /** The platform whose claims the rows were judged against (normally the running one). */
  platform: string;
  /** Off loopback: the condition the rows were played under (`--condition`); null on loopback. */
  condition: Condition | null;
  /** The machine the rows ran on. */
  host: {
    /** process.platform ('linux', 'darwin', 'win32'). */
    platform: string;
    /** process.arch ('x64', 'arm64'). */
    arch: string;
    /** The kernel's release (os.release()). */
    release: string;
    /** The runtime's version (process.version). */
    node: string;
  };
  /** The address families the rows were played over. */
  families: Family[];
  /** When the run started, an ISO 8601 time in UTC. */
  startedAt: string;
  /** Milliseconds the whole run took. */
  durationMs: number;
  /** Rows counted by status. */
  summary: {
    /** Every row played (one per scenario and family). */
    total: number;
    /** Rows whose claims held. */
    pass: number;
    /** Claimed rows whose claims did not hold, or that could not be run. */
    fail: number;
    /** Rows the table claims nothing for on the judged platform. */
    notClaimed: number;
  };
  /** True when no claimed row failed: the CLI exits 0 exactly then. */
  ok: boolean;
  /** One per scenario and family, in the order played. */
  rows: LabRow[];
}

export interface LabOptions {
  /** Which rows, by name or as row objects (run in the order given); default every row of the table. */
  scenarios?: readonly (string | Scenario)[];
  /** The address families to play each row over: 4 (127.0.0.1), 6 (::1); default [4]. */
  families?: readonly Family[];
  /** Judge against this platform's claims; default the running platform. */
  platform?: string;
  /** Run rows that block their thread in this process instead of a child (see RunOptions.inProcess). */
  inProcess?: boolean;
  /**
   * Play the rows that exist only off loopback, under this condition, across network
   * namespaces the lab sets up and tears down (Linux, root). Default rows: those of
   * CONDITION_SCENARIOS with this condition. Throws NetLingerError
   * ERR_NET_LINGER_CONDITION_UNAVAILABLE, before running anything, where that cannot be done.
   */
  condition?: Condition;
  /** Record each connection row's TCP segments and judge its wire claims (Linux, CAP_NET_RAW). */
  capture?: boolean;
  /** Called before each row starts. */
  onProgress?: (event: { index: number; total: number; scenario: Scenario; family: Family }) => void;
}

function toRow(scenario: Scenario, result: ScenarioResult, platform: string): LabRow {
  const status: RowStatus = !result.claimed ? 'not-claimed' : result.passed ? 'pass' : 'fail';
  const claim = claimFor(scenario, platform as Platform);
  return {
    scenario: scenario.name,
    title: scenario.title,
    kind: scenario.kind,
    family: result.family,
    closerDid: describeCloser(scenario),
    peerDid: scenario.kind === 'call' ? null : describePeer(scenario),
    claimed: result.claimed,
    expected: claim ? describeClaim(claim.expect, result.observed?.kind === 'connection' && result.observed.wire !== undefined) : null,
    note: claim?.source ?? (claim && 'note' in claim.expect ? claim.expect.note : undefined) ?? null,
    status,
    mismatches: result.error ? [] : result.mismatches,
    error: result.error ?? null,
    errorCode: result.errorCode ?? null,
    observed: result.observed,
    durationMs: Math.round(result.durationMs * 10) / 10,
  };
}

export function packageVersion(): string {
  try {
    return (JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** The table's row with this name, or ERR_INVALID_ARG_VALUE listing the names there are. */
export function scenarioNamed(name: string, table: readonly Scenario[] = SCENARIOS): Scenario {
  const row = table.find((s) => s.name === name);
  if (!row) throw invalidArgValue('scenario', name, `must be a row of the scenario table (${table.map((s) => s.name).join(', ')})`);
  return row;
}

/**
 * Runs the rows one after another, never overlapping: a row that measures how long close()
 * blocks must not share the machine's attention with another row.
 */
export async function runLab(options: LabOptions = {}): Promise<LabReport> {
  const condition = options.condition;
  const table = condition ? CONDITION_SCENARIOS.filter((s) => s.condition === condition) : SCENARIOS;
  const scenarios = (options.scenarios ?? table).map((s) => (typeof s === 'string' ? scenarioNamed(s, table) : s));
  const families = [...(options.families ?? [4])];
  const platform = options.platform ?? process.platform;
  const startedAt = new Date().toISOString();
  const start = performance.now();
  const rows: LabRow[] = [];
  const total = scenarios.length * families.length;
  const network = condition ? await LabNetwork.create(condition) : undefined;
  try {
    for (const family of families) {
      for (const scenario of scenarios) {
        options.onProgress?.({ index: rows.length, total, scenario, family });
        rows.push(toRow(scenario, await runScenario(scenario, { family, platform, inProcess: options.inProcess, capture: options.capture, network }), platform));
      }
    }
  } finally {
    await network?.close();
  }
  const count = (status: RowStatus) => rows.filter((r) => r.status === status).length;
  const summary = { total: rows.length, pass: count('pass'), fail: count('fail'), notClaimed: count('not-claimed') };
  return {
    schemaVersion: LAB_SCHEMA_VERSION,
    tool: { name: 'net-linger', version: packageVersion() },
    platform,
    condition: condition ?? null,
    host: { platform: process.platform, arch: process.arch, release: os.release(), node: process.version },
    families,
    startedAt,
    durationMs: Math.round(performance.now() - start),
    summary,
    ok: summary.fail === 0,
    rows,
  };
}

// ---- the table for people ------------------------------------------------------------------

export interface Style {
  pass(text: string): string;
  fail(text: string): string;
  dim(text: string): string;
  bold(text: string): string;
}

const sgr = (open: number, close: number) => (text: string) => `\x1b[${open}m${text}\x1b[${close}m`;
export const COLOUR: Style = { pass: sgr(32, 39), fail: sgr(31, 39), dim: sgr(2, 22), bold: sgr(1, 22) };
export const PLAIN: Style = { pass: (t) => t, fail: (t) => t, dim: (t) => t, bold: (t) => t };

function describeEnd(side: { received: number; sent: number; outcome: string; errno?: number; syscall?: string }, withSent: boolean): string {
  const done = [`read ${formatBytes(side.received)}`];
  if (withSent && side.sent > 0) done.push(`sent ${formatBytes(side.sent)}`);
  const did = done.join(', ');
  if (side.outcome === 'eof') return `${did}, then EOF`;
  if (side.outcome === 'open') return `${did}; still open (no FIN, no RST)`;
  if (side.outcome === 'stalled') return `${did}; the request stalled (no end, no error)`;
  const errno = side.errno === undefined ? '' : ` (errno ${side.errno})`;
  return `${did}, then ${side.outcome}${errno}${side.syscall ? ` on ${side.syscall}` : ''}`;
}

/** What was observed, in words: the peer's end (or the call's result), plus the closer's where it says something. */
export function describeObserved(observed: Observation | null): string {
  if (!observed) return 'nothing: the row could not run';
  if (observed.kind === 'call') {
    if (observed.outcome === 'ok') return 'the call succeeded';
    const errno = observed.errno === undefined ? '' : ` (errno ${observed.errno}${observed.syscall ? `, ${observed.syscall}` : ''})`;
    return `the call failed ${observed.outcome}${errno}`;
  }
  const parts = [`peer: ${describeEnd(observed.peer, true)}`];
  const closerSaid = describeCloserEnd(observed);
  if (closerSaid) parts.push(`closer: ${closerSaid}`);
  const report = observed.closer.report;
  if (report) {
    const unacked = typeof report.unackedBytes === 'number' && report.unackedBytes > 0 ? `, ${formatBytes(report.unackedBytes)} unacknowledged` : '';
    parts.push(`${report.helper}: ${report.outcome} after ${Math.round(report.elapsedMs)} ms${report.reset ? ', RST' : ''}${unacked}`);
  }
  if (observed.network && observed.network.condition !== 'slow') {
    const { dropped } = observed.network;
    parts.push(`network: dropped ${dropped} TCP ${dropped === 1 ? 'segment' : 'segments'}`);
  }
  if (observed.wire) {
    parts.push(`on the wire:\n${closingLadder(observed.wire).join('\n')}`);
    if (observed.wireDropped) parts.push(`(the capture lost ${observed.wireDropped} packets)`);
  }
  return parts.join('\n');
}

function describeCloserEnd(observed: ConnectionObservation): string | undefined {
  const c = observed.closer;
  const notes: string[] = [];
  if (c.received > 0 || c.outcome !== 'open') notes.push(describeEnd({ ...c, sent: 0 }, false));
  // Only a close that held the thread noticeably is worth a word; a normal close takes microseconds.
  if (c.closeBlockedMs !== null && c.closeBlockedMs >= 100) notes.push(`close() blocked ${Math.round(c.closeBlockedMs)} ms`);
  return notes.length ? notes.join('; ') : undefined;
}

/** The TIME_WAIT cell: yes / no (with the state left when it is not simply gone) / n/a. */
export function describeTimeWait(observed: Observation | null): string {
  if (!observed || observed.kind === 'call') return '–';
  const { state, timeWait } = observed.closer;
  if (timeWait === null) return 'n/a';
  if (timeWait) return 'yes';
  return state && state !== 'gone' ? `no, ${state}` : 'no';
}

const STATUS_TEXT: Readonly<Record<RowStatus, string>> = { pass: 'pass', fail: 'FAIL', 'not-claimed': 'not claimed' };

// Numbers stay with their units ("10 B", "errno -104") when a cell wraps.
const KEEP_TOGETHER = /(\d) (B|KiB|ms|s)\b|\b(errno) (-?\d)/g;
const NBSP = '\u00a0';

function wrap(cell: string, width: number): string[] {
  const text = cell.replace(KEEP_TOGETHER, (_, n, unit, word, m) => (n ? `${n}${NBSP}${unit}` : `${word}${NBSP}${m}`));
  return wrapWords(text, width).map((l) => l.replaceAll(NBSP, ' '));
}

const longestWord = (text: string) => Math.max(...text.replace(KEEP_TOGETHER, '$1$3_$2$4').split(/\s+/).map((w) => w.length));
const longestLine = (text: string) => Math.max(...text.split('\n').map((l) => l.length));

/**
 * Column widths for a table no wider than `width`: fixed columns never wrap, short ones keep
 * their longest word, and each spare column of width goes to the text column where it saves
 * the most lines.
 */
type ColumnKind = 'fixed' | 'short' | 'text';

function layout(header: string[], body: string[][], width: number, kinds: ColumnKind[]): number[] {
  const all = [header, ...body];
  const gap = 2;
  const natural = header.map((_, i) => Math.max(...all.map((r) => longestLine(r[i]))));
  const widths = header.map((_, i) => (kinds[i] === 'fixed' ? natural[i] : Math.max(...all.map((r) => longestWord(r[i])))));
  const height = (w: number[]) => all.reduce((sum, r) => sum + Math.max(...r.map((cell, i) => wrap(cell, w[i]).length)), 0);
  let spare = width - widths.reduce((a, b) => a + b, 0) - gap * (widths.length - 1);
  for (; spare > 0; spare--) {
    let best = -1;
    let bestHeight = Infinity;
    for (let i = 0; i < widths.length; i++) {
      if (kinds[i] !== 'text' || widths[i] >= natural[i]) continue;
      widths[i]++;
      const h = height(widths);
      widths[i]--;
      if (h < bestHeight || (h === bestHeight && widths[i] < widths[best])) {
        best = i;
        bestHeight = h;
      }
    }
    if (best < 0) break;
    widths[best]++;
  }
  return widths;
}

/** One family's rows as a text table. */
export function formatTable(rows: readonly LabRow[], style: Style, width: number): string {
  const header = ['scenario', 'what the closer did', 'what was observed', 'TIME_WAIT', 'expected', 'result'];
  const notes: string[] = [];
  const body = rows.map((r) => {
    let expected = r.expected ?? 'nothing claimed here';
    if (r.note) {
      notes.push(`${'*'.repeat(notes.length + 1)} ${r.scenario}: ${r.note}.`);
      expected += ` ${'*'.repeat(notes.length)}`;
    }
    return [
      r.scenario,
      r.closerDid + (r.peerDid ? `\n(peer: ${r.peerDid})` : ''),
      r.error ? `could not run: ${r.error}` : describeObserved(r.observed),
      describeTimeWait(r.observed),
      expected,
      STATUS_TEXT[r.status],
    ];
  });
  const widths = layout(header, body, width, ['fixed', 'text', 'text', 'short', 'text', 'fixed']);
  const out: string[] = [];
  const line = (cells: string[][], paint: (column: number, text: string) => string) => {
    const height = Math.max(...cells.map((c) => c.length));
    for (let i = 0; i < height; i++) {
      out.push(cells.map((c, column) => {
        const text = (c[i] ?? '').padEnd(widths[column]);
        return paint(column, text);
      }).join('  ').trimEnd());
    }
  };
  line(header.map((h, i) => wrap(h, widths[i])), (_, t) => style.bold(t));
  out.push(widths.map((w) => '─'.repeat(w)).join('  '));
  body.forEach((cells, index) => {
    if (index > 0) out.push('');
    const status = rows[index].status;
    line(cells.map((c, i) => wrap(c, widths[i])), (column, text) => {
      if (column !== 5 || !text.trim()) return text;
      return status === 'pass' ? style.pass(text) : status === 'fail' ? style.fail(text) : style.dim(text);
    });
  });
  if (notes.length) out.push('', ...notes.flatMap((n) => wrap(n, width)));
  return `${out.join('\n')}\n`;
}

const FAMILY_TEXT: Readonly<Record<Family, string>> = { 4: 'IPv4 (127.0.0.1)', 6: 'IPv6 (::1)' };

/** A family's heading: its loopback address, or off loopback the lab's addresses and the condition. */
export function familyText(family: Family, condition: Condition | null): string {
  if (!condition) return FAMILY_TEXT[family];
  const a = ADDRESSES[family];
  return `IPv${family} (closer ${a.closer}, peer ${a.peer}, routed through a namespace between them) · ${condition}: ${CONDITIONS[condition]}`;
}

/** The whole report for people: a table per family, what went wrong, and a one-line verdict. */
export function formatReport(report: LabReport, style: Style, width: number): string {
  const sections: string[] = [];
  for (const family of report.families) {
    const rows = report.rows.filter((r) => r.family === family);
    sections.push(`${style.bold(`net-linger lab · ${familyText(family, report.condition ?? null)} · judged against ${report.platform}`)}\n\n${formatTable(rows, style, width)}`);
  }
  const failed = report.rows.filter((r) => r.status === 'fail');
  if (failed.length) {
    const lines = failed.map((r) => `  ${style.fail('✗')} ${r.scenario} over IPv${r.family}: ${r.error ?? r.mismatches.join('; ')}`);
    sections.push(`${style.fail('What did not match:')}\n${lines.join('\n')}\n`);
  }
  const { total, pass, fail, notClaimed } = report.summary;
  const counts = [`${pass} pass`, `${fail} fail`, ...(notClaimed ? [`${notClaimed} not claimed`] : [])].join(', ');
  const verdict = !report.ok
    ? style.fail('some observations do not match the claims')
    : pass === 0
      ? style.dim(`nothing here is claimed for ${report.platform}: shown, not judged`)
      : style.pass('everything observed matches the claims');
  const host = `${report.host.platform} ${report.host.release} ${report.host.arch}, Node ${report.host.node}`;
  sections.push(`${total} ${total === 1 ? 'row' : 'rows'}: ${counts} (${(report.durationMs / 1000).toFixed(1)} s on ${host}): ${verdict}.\n`);
  return sections.join('\n');
}
