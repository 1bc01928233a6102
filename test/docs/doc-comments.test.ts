// The public types document themselves: every option and report field has a doc comment, and
// every duration says its unit. Durations are milliseconds (as Node's own timeouts are:
// server.keepAliveTimeout, socket.setTimeout) unless the name says otherwise: the seconds of
// SO_LINGER (LingerSetting.seconds) are the socket option's own unit, named as such.
import { describe, expect, it } from 'vitest';
import { publicMembers, type PublicMember } from '../support/doc-comments';

const members = publicMembers();

/** Members that hold a duration (a length of time or a time since a start), by their names. */
const DURATION = /(Ms|^ms|[tT]ime|[tT]imeout|^latency|^jitter|[dD]elay|^delay[A-Z]\w*|^settle|[pP]ause|[iI]nterval|[sS]econds|ThenReset|^keepaliveRace)$/;
const isDuration = (m: PublicMember) => m.numeric && DURATION.test(m.name.slice(m.name.lastIndexOf('.') + 1));
const saysMs = (doc: string) => /\bms\b|millisecond/i.test(doc);
const saysSeconds = (doc: string) => /\bseconds?\b/i.test(doc) && !/per second/i.test(doc);

describe('the public types are documented', () => {
  it('every member of an exported interface or object type has a doc comment', () => {
    expect(members.filter((m) => m.doc === '').map((m) => `${m.name} (${m.where})`)).toEqual([]);
  });

  it('the check sees the fields it is about (a check that reads nothing would pass too)', () => {
    const names = members.map((m) => m.name);
    for (const name of ['GracefulCloseReport.outcome', 'LingerCloseReport.outcome', 'ToxicOptions.down', 'ToxicOptions.latency', 'ProxyConnectionReport.bytes.up', 'ProbeReport.verdict', 'LabReport.summary.pass', 'RelayOptions.onTimeout']) {
      expect(names).toContain(name);
    }
    expect(members.filter(isDuration).length).toBeGreaterThan(25);
  });

  it('every duration says its unit: ms, or seconds where the name says seconds', () => {
    const unclear = members.filter(isDuration).filter((m) => {
      const name = m.name.slice(m.name.lastIndexOf('.') + 1);
      if (/[sS]econds/.test(name)) return !saysSeconds(m.doc);
      return !saysMs(m.doc);
    });
    expect(unclear.map((m) => `${m.name} (${m.where}): ${m.doc.replace(/\s+/g, ' ')}`)).toEqual([]);
  });

  it('no duration in seconds hides behind a name without the unit', () => {
    const hidden = members.filter((m) => m.numeric && saysSeconds(m.doc) && !saysMs(m.doc) && !/[sS]econds/.test(m.name));
    expect(hidden.map((m) => `${m.name} (${m.where})`)).toEqual([]);
  });

  it('each outcome and verdict field lists its values, and what each means', () => {
    const outcomes = members.filter((m) => /\.(outcome|verdict)$/.test(m.name));
    expect(outcomes.length).toBeGreaterThanOrEqual(4);
    const values: Record<string, string[]> = {
      'GracefulCloseReport.outcome': ['fin', 'timeout', 'aborted', 'peer-reset', 'error', 'closed'],
      'LingerCloseReport.outcome': ['acked', 'fin', 'timeout', 'aborted', 'peer-reset', 'error', 'closed'],
      'ResetCloseReport.outcome': ['reset', 'closed'],
      'ProbeReport.verdict': ['clean', 'reset', 'cut-off', 'bad-response', 'timeout', 'unreachable'],
    };
    for (const m of outcomes) {
      const text = m.doc.replace(/\s*\n\s*\*?\s*/g, ' ');
      for (const value of values[m.name] ?? []) expect(text, m.name).toMatch(new RegExp(`'${value}'\\s*\\(|'${value}':`));
    }
  });
});
