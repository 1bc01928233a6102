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
        const result = await runScenario(scenario, { family, capture });
        expect(result.mismatches, JSON.stringify(result.observed)).toEqual([]);
        if (capture && scenario.kind === 'connection') expect(result.observed).toHaveProperty('wire');
        expect(result.passed).toBe(true);
      });
    }
  });
}
