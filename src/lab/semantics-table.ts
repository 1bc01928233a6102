// docs/semantics.md's table, generated from the scenario table so the two cannot drift.
import { SCENARIOS, type Expectation, type Platform, type Scenario, type Variant } from './scenarios.js';
import { describeClaim, describeCloser, describeCondition, describeExpectation, describePeer } from './describe.js';

const PLATFORMS: readonly [Platform, string][] = [['linux', 'Linux'], ['win32', 'Windows'], ['darwin', 'macOS']];

/** The table for these rows (default: the loopback table; docs/lab.md shows CONDITION_SCENARIOS's). */
export function semanticsTable(rows: readonly Scenario[] = SCENARIOS): string {
  const head = `| scenario | what happens | ${PLATFORMS.map(([, label]) => label).join(' | ')} |`;
  const rule = `|---|---|${PLATFORMS.map(() => '---').join('|')}|`;
  const lines = rows.map((s) => {
    const peerSteps = describePeer(s);
    const what = `closer: ${describeCloser(s)}${peerSteps ? `<br>peer: ${peerSteps}` : ''}`;
    const cells = PLATFORMS.map(([platform]) => {
      const expected = describeExpectation(s, platform);
      const variants = ((s.variants?.[platform] ?? []) as readonly Variant<Expectation>[])
        .map((v) => `<br>${describeCondition(v.when)}: ${describeClaim(v.expect)} (${v.source})`);
      if (expected) return `✅ ${expected}${variants.join('')}${platform === 'win32' ? `<br>${wineProves(s)}` : ''}`;
      const source = s.unverified?.[platform];
      return source ? `not verified here (${source})` : 'not verified here';
    });
    return `| \`${s.name}\` ${s.title} | ${what} | ${cells.join(' | ')} |`;
  });
  return `${[head, rule, ...lines].join('\n')}\n`;
}

/** What a Windows cell asserted under Wine proves: Windows' API over Linux's TCP stack. */
function wineProves(s: Scenario): string {
  if (s.kind === 'call') return 'under Wine 10: the Winsock call and its error code (nothing crosses the wire)';
  return `under Wine 10: Winsock's calls, their error codes and what Node saw; ${s.wine ?? 'nothing on the wire is claimed'}`;
}
