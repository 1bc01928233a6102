#!/usr/bin/env node
// placeholder until the lab CLI lands
import { SCENARIOS } from './scenarios';
import { runScenario } from './lab';
(async () => {
  for (const family of [4, 6] as const) for (const s of SCENARIOS) {
    const r = await runScenario(s, { family });
    console.log(r.passed ? 'PASS' : 'FAIL', family, s.name, Math.round(r.durationMs) + 'ms', JSON.stringify(r.observed), r.mismatches.join('; '));
  }
})();
