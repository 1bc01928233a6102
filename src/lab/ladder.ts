// A connection's captured segments as a ladder: consecutive data from one side folded into one
// rung, the handshake and every FIN and RST kept. The text table and the HTML report both draw it.
import { formatBytes } from '../core/text.js';
import type { WireSegment, WireSide } from './capture.js';

export interface Rung {
  from: WireSide;
  /** e.g. 'SYN', 'SYN+ACK', '1000 B', '59,498 B + FIN', 'RST'. */
  label: string;
  /** The rung's kind, for colour: the strongest flag it carries. */
  kind: 'syn' | 'fin' | 'rst' | 'data';
  /** Time of the rung's first segment, ms since the connection's first segment. */
  tMs: number;
  segments: number;
  bytes: number;
  /** Off loopback: the rung's segments left their sender and never arrived. */
  lost?: boolean;
}

export function foldWire(wire: readonly (WireSegment & { lost?: true })[]): Rung[] {
  const rungs: Rung[] = [];
  for (const s of wire) {
    const lost = s.lost === true;
    const syn = s.flags.includes('SYN');
    const fin = s.flags.includes('FIN');
    const rst = s.flags.includes('RST');
    const last = rungs[rungs.length - 1];
    if (!syn && !fin && !rst && last && last.kind === 'data' && last.from === s.from && (last.lost === true) === lost) {
      last.bytes += s.bytes;
      last.segments++;
      last.label = formatBytes(last.bytes) + (last.segments > 1 ? ` in ${last.segments} segments` : '') + (lost ? ' (lost)' : '');
      continue;
    }
    const control = syn ? (s.flags.includes('ACK') ? 'SYN+ACK' : 'SYN') : [fin ? 'FIN' : '', rst ? 'RST' : ''].filter(Boolean).join('+');
    const label = [s.bytes > 0 ? formatBytes(s.bytes) : '', control].filter(Boolean).join(' + ') + (lost ? ' (lost)' : '');
    rungs.push({
      from: s.from, label, kind: rst ? 'rst' : fin ? 'fin' : syn ? 'syn' : 'data', tMs: s.tMs, segments: 1, bytes: s.bytes,
      ...(lost ? { lost } : {}),
    });
  }
  return rungs;
}

const ARROW: Readonly<Record<WireSide, string>> = { closer: 'closer → peer', peer: 'peer → closer' };

function timeText(ms: number): string {
  return ms >= 100 ? `${Math.round(ms)} ms` : ms >= 1 ? `${ms.toFixed(1)} ms` : `${ms.toFixed(2)} ms`;
}

/**
 * The closing exchange as text lines: the rungs after the handshake, the last `max` of them, each
 * `closer → peer  RST` (the times are in the JSON and the HTML ladder).
 */
export function closingLadder(wire: readonly WireSegment[], max = 6): string[] {
  const rungs = foldWire(wire).filter((r) => r.kind !== 'syn');
  if (!rungs.length) return ['nothing after the handshake'];
  const shown = rungs.slice(-max);
  const lines = shown.map((r) => `${ARROW[r.from]}  ${r.label}`);
  return rungs.length > max ? [`… ${rungs.length - max} earlier`, ...lines] : lines;
}

export { timeText };
