// Generates one test per scenario row for a family; rows that claim nothing for this platform are skipped.
import { describe, expect, it } from 'vitest';
import { captureSupport } from '../../src/lab/capture';
import { runScenario } from '../../src/lab/runner';
import { type Family } from '../../src/lab/observation';
import { SCENARIOS, type Platform } from '../../src/lab/scenarios';
import { describeCloser } from '../../src/lab/describe';

export function scenarioSuite(family: Family): void {
  const platform = process.platform as Platform;
  // Where packets can be captured (Linux as root, as in CI), every row's wire claims are judged too.
  const capture = platform === 'linux' && captureSupport().ok;
  describe(`scenario table over IPv${family} (${platform}${capture ? ', captured' : ''})`, () => {
    for (const scenario of SCENARIOS) {
      const claimed = scenario.expect[platform] !== undefined;
      (claimed ? it : it.skip)(`${scenario.name}: ${describeCloser(scenario)}`, async () => {
        let result = await runScenario(scenario, { family, capture });
        // What the peer and the closer observe must hold every time. A wire-only mismatch is played
        // once more: on a loaded machine (CI runs both projects at once) a lone segment has been seen
        // out of place once in many runs (http-413-lingering: an RST from the peer after both FINs,
        // not reproduced in 900 runs under load). The first attempt is printed, never hidden.
        if (result.mismatches.length > 0 && result.mismatches.every((m) => m.startsWith('wire:'))) {
          console.warn(`${scenario.name} (IPv${family}): wire mismatch on the first attempt, played again: ` +
            `${result.mismatches.join('; ')}\n${JSON.stringify(result.observed)}`);
          result = await runScenario(scenario, { family, capture });
        }
        expect(result.mismatches, JSON.stringify(result.observed)).toEqual([]);
        if (capture && scenario.kind === 'connection') expect(result.observed).toHaveProperty('wire');
        expect(result.passed).toBe(true);
      });
    }
  });
}
