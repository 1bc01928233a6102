// Compiles src/ to CommonJS, then writes a thin ESM entry over it: one module instance for
// both kinds of consumer, so `instanceof SocketError` holds whichever way it was loaded.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const root = path.resolve(import.meta.dirname ?? path.dirname(new URL(import.meta.url).pathname), '..');
fs.rmSync(path.join(root, 'dist'), { recursive: true, force: true });
execFileSync(process.execPath, [createRequire(import.meta.url).resolve('typescript/bin/tsc'), '-p', root], { stdio: 'inherit' });

const require = createRequire(import.meta.url);
const names = Object.keys(require(path.join(root, 'dist/cjs/index.js'))).filter((n) => n !== '__esModule').sort();
const esm = path.join(root, 'dist/esm');
fs.mkdirSync(esm, { recursive: true });
fs.writeFileSync(
  path.join(esm, 'index.mjs'),
  `import cjs from '../cjs/index.js';\n\nexport const {\n${names.map((n) => `  ${n},`).join('\n')}\n} = cjs;\n`,
);
fs.writeFileSync(path.join(esm, 'index.d.mts'), "export * from '../cjs/index.js';\n");
fs.chmodSync(path.join(root, 'dist/cjs/cli.js'), 0o755);
