// Compiles src/ twice: CommonJS (dist/cjs), which Node's require() and import both load, so one
// module instance serves both kinds of consumer in a process; and ES modules (dist/esm), which
// bundlers take through the "module" condition whatever the consumer wrote (import or require),
// so a bundle holds one instance too and keeps only what it imports.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const root = path.resolve(import.meta.dirname ?? path.dirname(new URL(import.meta.url).pathname), '..');
const require = createRequire(import.meta.url);
const tsc = require.resolve('typescript/bin/tsc');
fs.rmSync(path.join(root, 'dist'), { recursive: true, force: true });
execFileSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.json')], { stdio: 'inherit' });
execFileSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.esm.json')], { stdio: 'inherit' });

// The package's entries, as package.json's "exports" names them.
const ENTRIES = ['index', 'http/index', 'relay/index', 'testing/index', 'lab/index'];

// The ES module build: its own package scope, and the one file that differs (module-file.ts).
fs.writeFileSync(path.join(root, 'dist/esm/package.json'), '{\n  "type": "module"\n}\n');
fs.writeFileSync(
  path.join(root, 'dist/esm/core/module-file.js'),
  `// Written by scripts/build-ts.mjs: the ES module twin of src/core/module-file.ts.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { callerFile } from './caller-file.js';

/** The absolute path of the file this code runs from, or undefined where nothing tells. */
export function moduleFile() {
  // A bundler's CommonJS output of this build has a true __filename (absolute: \`node -e\` and the
  // REPL define a global '[eval]'). webpack's ES module output declares __filename defined without
  // defining it, and rewrites import.meta.url to the build machine's path: the stack frame (the
  // bundle's own file) before import.meta.url.
  try {
    if (typeof __filename === 'string' && path.isAbsolute(__filename)) return __filename;
  } catch {
    // __filename is not defined here
  }
  const url = import.meta.url;
  return callerFile(moduleFile) ?? (typeof url === 'string' && url.startsWith('file:') ? fileURLToPath(url) : undefined);
}
`,
);

// tsc writes each re-export of a CommonJS entry as `exports.x = void 0` and then redefines it as
// a getter; that redefinition turns the exports object into a slow (dictionary-mode) object, so
// every `lib.setLinger(...)` through a CommonJS entry paid a hash lookup and a getter call (~10 ns,
// bench/RESULTS.md). Every export is a function, class or constant that is never reassigned, so
// a plain data property holds the same value.
for (const entry of ENTRIES) {
  const file = path.join(root, 'dist/cjs', `${entry}.js`);
  const getter = /^Object\.defineProperty\(exports, "(\w+)", \{ enumerable: true, get: function \(\) \{ return (\w+)\.(\w+); \} \}\);$/gm;
  const text = fs.readFileSync(file, 'utf8').replace(getter, 'exports.$1 = $2.$3;');
  if (/get: function/.test(text)) throw new Error(`${file}: a re-export tsc wrote in a form this script does not know`);
  fs.writeFileSync(file, text);
}

// Node's `import` of each entry: a thin ES module over the CommonJS build (dist/node), so that
// import and require in one process share one instance (one SocketError class, one registry of
// servers, one set of once-per-process warnings).
for (const entry of ENTRIES) {
  const names = Object.keys(require(path.join(root, 'dist/cjs', `${entry}.js`))).filter((n) => n !== '__esModule').sort();
  const esm = path.join(root, 'dist/node', `${entry}.mjs`);
  const up = '../'.repeat(entry.split('/').length);
  fs.mkdirSync(path.dirname(esm), { recursive: true });
  fs.writeFileSync(esm, `import cjs from '${up}cjs/${entry}.js';\n\nexport const {\n${names.map((n) => `  ${n},`).join('\n')}\n} = cjs;\n`);
  fs.writeFileSync(esm.replace(/\.mjs$/, '.d.mts'), `export * from '${up}cjs/${entry}.js';\n`);
}
fs.chmodSync(path.join(root, 'dist/cjs/cli/main.js'), 0o755);
