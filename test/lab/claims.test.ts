import { describe, expect, it } from 'vitest';
import { SCENARIOS, claimFor, type RuntimeInfo, type Scenario } from '../../src/lab/scenarios';
import { describeClaim, describeCondition, describeStep } from '../../src/lab/describe';

const row = (name: string): Scenario => SCENARIOS.find((s) => s.name === name)!;
const node = (libuv: string): RuntimeInfo => ({ name: 'node', libuv });
const bun: RuntimeInfo = { name: 'bun', libuv: undefined };

describe('claims that depend on the runtime', () => {
  it('libuv before 1.52 reports the reset as EOF; 1.52 and later, and Bun, report the reset', () => {
    const outcome = (rt: RuntimeInfo) => (claimFor(row('reset-reported-as-eof'), 'linux', rt)!.expect as { peer: { outcome: string } }).peer.outcome;
    expect(outcome(node('1.44.2'))).toBe('eof');
    expect(outcome(node('1.51.0'))).toBe('eof');
    expect(outcome(node('1.52.0'))).toBe('ECONNRESET');
    expect(outcome(node('1.52.1'))).toBe('ECONNRESET');
    expect(outcome(node('2.0.0'))).toBe('ECONNRESET');
    expect(outcome(bun)).toBe('ECONNRESET');
  });

  it('a variant carries its source; the row\'s own claim has none', () => {
    expect(claimFor(row('error-tcp-unconnected'), 'linux', bun)).toMatchObject({ expect: { code: 'ERR_SOCKET_NO_HANDLE' }, source: expect.stringContaining('Bun') });
    expect(claimFor(row('error-tcp-unconnected'), 'linux', node('1.52.1'))).toEqual({ expect: { code: 'ENOTCONN' } });
  });

  it('no claim where the row makes none, whatever the runtime', () => {
    expect(claimFor(row('plain-close'), 'darwin', bun)).toBeUndefined();
  });

  it('every variant refines a claim the row makes, and names its source', () => {
    for (const s of SCENARIOS) {
      for (const [platform, variants] of Object.entries(s.variants ?? {})) {
        expect(s.expect[platform as 'linux'], `${s.name} ${platform}`).toBeDefined();
        for (const v of variants ?? []) expect(v.source.length, s.name).toBeGreaterThan(20);
      }
    }
  });

  it('conditions read well', () => {
    expect(describeCondition({ runtime: 'bun' })).toBe('Bun');
    expect(describeCondition({ runtime: 'node', libuvBefore: '1.52.0' })).toBe('Node with libuv before 1.52.0');
  });

  it("an HTTP/2 peer's request that neither ends nor fails reads as stalled, not as a socket that saw nothing", () => {
    expect(describeClaim({ peer: { outcome: 'stalled' } })).toBe("peer's request stalls: no end, no error");
    expect(describeClaim({ peer: { outcome: 'stalled', received: 'all' } })).toBe('peer reads all data, but its request stalls: no end, no error');
    expect(describeClaim({ peer: { outcome: 'open' } })).toBe('peer sees nothing (no FIN, no RST)');
  });

  it('the HTTP rows name their steps', () => {
    expect(describeStep({ actor: 'closer', do: 'pause' })).toBe('stop reading (pause)');
    expect(describeStep({ actor: 'peer', do: 'pause' })).toBe('pause');
    expect(describeStep({ actor: 'closer', do: 'http2-413', lingering: true })).toBe('node:http2 (h2c) answers 413, then session.destroy(), enableLingeringClose()');
    expect(describeStep({ actor: 'peer', do: 'http-get', awaitResponse: false })).toBe('GET on the idle connection');
  });
});
