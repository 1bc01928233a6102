// Runs one scenario row in its own process and prints { observation } or { error, code } as JSON.
import { observe } from './runner.js';
import { type Family } from './observation.js';
import { SCENARIOS } from './scenarios.js';

const [name, family, capture] = process.argv.slice(2);
const scenario = SCENARIOS.find((s) => s.name === name);
if (!scenario) {
  process.stdout.write(JSON.stringify({ error: `unknown scenario: ${name}` }));
  process.exit(2);
}
observe(scenario, (Number(family) === 6 ? 6 : 4) as Family, undefined, { capture: capture === 'capture' }).then(
  (observation) => process.stdout.write(JSON.stringify({ observation })),
  (err: NodeJS.ErrnoException) => {
    process.stdout.write(JSON.stringify({ error: err.message, code: err.code }));
    process.exitCode = 1;
  },
);
