// Runs one scenario row in its own process and prints the observation as JSON.
import { observe, type Family } from './lab';
import { SCENARIOS } from './scenarios';

const [name, family] = process.argv.slice(2);
const scenario = SCENARIOS.find((s) => s.name === name);
if (!scenario) {
  process.stderr.write(`unknown scenario: ${name}\n`);
  process.exit(2);
}
observe(scenario, (Number(family) === 6 ? 6 : 4) as Family).then(
  (observation) => process.stdout.write(JSON.stringify(observation)),
  (err: Error) => {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  },
);
