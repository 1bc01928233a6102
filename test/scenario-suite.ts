// Generates one test per scenario row for a family; rows that claim nothing for this platform are skipped.
import { describe, expect, it } from 'vitest';
import { runScenario, type Family } from '../src/lab/runner';
import { SCENARIOS, describeCloser, type Platform } from '../src/lab/scenarios';

export function scenarioSuite(family: Family): void {
  const platform = process.platform as Platform;
  describe(`scenario table over IPv${family} (${platform})`, () => {
    for (const scenario of SCENARIOS) {
      const claimed = scenario.expect[platform] !== undefined;
      (claimed ? it : it.skip)(`${scenario.name}: ${describeCloser(scenario)}`, async () => {
        const result = await runScenario(scenario, { family });
        expect(result.mismatches, JSON.stringify(result.observed)).toEqual([]);
        expect(result.passed).toBe(true);
      });
    }
  });
}
