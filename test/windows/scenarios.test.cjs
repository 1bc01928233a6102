// The scenario table under Windows node.exe (Wine): one test per row and address family, generated
// from src/scenarios.ts through the built dist/cjs, exactly like test/scenario-suite.ts does for
// vitest. Rows that claim nothing for win32 are skipped, with their stated source.
const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { SCENARIOS, describeCloser } = require('../../dist/cjs/scenarios.js');
const { runScenario } = require('../../dist/cjs/lab.js');

const platform = process.platform;

for (const family of [4, 6]) {
  describe(`scenario table over IPv${family} (${platform})`, () => {
    for (const scenario of SCENARIOS) {
      const claimed = scenario.expect[platform] !== undefined;
      const skip = claimed ? false : `not claimed for ${platform}: ${scenario.unverified?.[platform] ?? 'no expectation'}`;
      it(`${scenario.name}: ${describeCloser(scenario)}`, { skip }, async () => {
        const result = await runScenario(scenario, { family });
        assert.deepEqual(result.mismatches, [], JSON.stringify(result.observed));
        assert.equal(result.passed, true);
      });
    }
  });
}
