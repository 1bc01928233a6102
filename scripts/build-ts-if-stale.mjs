// Compiles the TypeScript only when dist/ is missing or older than a source, so `npm run lab`
// starts at once on a fresh install and still never runs stale code in a working copy.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname ?? path.dirname(new URL(import.meta.url).pathname), '..');
// build-ts.mjs writes this file last.
const marker = path.join(root, 'dist', 'node', 'lab', 'index.mjs');
const sources = [
  ...fs.readdirSync(path.join(root, 'src'), { recursive: true }).map((f) => path.join(root, 'src', String(f))),
  path.join(root, 'tsconfig.json'),
  path.join(root, 'tsconfig.esm.json'),
  path.join(root, 'scripts', 'build-ts.mjs'),
];
const built = fs.existsSync(marker) ? fs.statSync(marker).mtimeMs : -Infinity;
if (sources.some((f) => fs.statSync(f).mtimeMs > built)) {
  execFileSync(process.execPath, [path.join(root, 'scripts', 'build-ts.mjs')], { stdio: 'inherit' });
}
