// Prints docs/semantics.md's table from the scenario table (dist/ must be built).
// `node scripts/semantics-table.mjs --write` rewrites it in docs/semantics.md between the markers.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const require = createRequire(import.meta.url);
const { semanticsTable } = require(path.join(root, 'dist/cjs/lab/semantics-table.js'));

const table = semanticsTable();
if (process.argv.includes('--write')) {
  const file = path.join(root, 'docs', 'semantics.md');
  const text = fs.readFileSync(file, 'utf8');
  const next = text.replace(/(<!-- semantics:start -->\n)[\s\S]*?(<!-- semantics:end -->)/, `$1${table}$2`);
  fs.writeFileSync(file, next);
} else {
  process.stdout.write(table);
}
