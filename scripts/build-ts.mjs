// Compiles src/ to CommonJS, then writes a thin ESM entry over each package entry: one module
// instance for both kinds of consumer, so `instanceof SocketError` holds whichever way it was loaded.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const root = path.resolve(import.meta.dirname ?? path.dirname(new URL(import.meta.url).pathname), '..');
fs.rmSync(path.join(root, 'dist'), { recursive: true, force: true });
execFileSync(process.execPath, [createRequire(import.meta.url).resolve('typescript/bin/tsc'), '-p', root], { stdio: 'inherit' });

const require = createRequire(import.meta.url);
// The package's entries: `net-linger` (the library) and `net-linger/lab` (the tool).
for (const entry of ['index', 'lab/index']) {
  const names = Object.keys(require(path.join(root, 'dist/cjs', `${entry}.js`))).filter((n) => n !== '__esModule').sort();
  const esm = path.join(root, 'dist/esm', `${entry}.mjs`);
  const up = '../'.repeat(entry.split('/').length);
  fs.mkdirSync(path.dirname(esm), { recursive: true });
  fs.writeFileSync(esm, `import cjs from '${up}cjs/${entry}.js';\n\nexport const {\n${names.map((n) => `  ${n},`).join('\n')}\n} = cjs;\n`);
  fs.writeFileSync(esm.replace(/\.mjs$/, '.d.mts'), `export * from '${up}cjs/${entry}.js';\n`);
}
fs.chmodSync(path.join(root, 'dist/cjs/cli/main.js'), 0o755);
