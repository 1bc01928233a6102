// docs/install.md's bundler recipes, as the docs write them: each `<!-- recipe: NAME -->` is
// followed by code blocks, a `js` one being a file (its first line `// <file name>`) and a `sh`
// one commands. test/bundlers.test.ts runs them all; the bench builds the consumer with the
// inline ones to weigh it.
import fs from 'node:fs';
import path from 'node:path';

const here = path.dirname(new URL(import.meta.url).pathname);
export const root = path.resolve(here, '..', '..');
/** The consumer library's sources (index.mjs, index.cjs, packaged.mjs). */
export const consumerDir = path.join(here, 'consumer');

export const BUNDLERS = ['esbuild', 'webpack', 'rollup', 'ncc'];
/** Where each recipe writes its CommonJS and ES module bundle, under the recipe's folder. */
export const OUTPUTS = {
  esbuild: { cjs: 'dist/index.cjs', esm: 'dist/index.mjs' },
  webpack: { cjs: 'dist/index.cjs', esm: 'dist/index.mjs' },
  rollup: { cjs: 'dist/index.cjs', esm: 'dist/index.mjs' },
  ncc: { cjs: 'dist/cjs/index.cjs', esm: 'dist/esm/index.mjs' },
};
/** The bundlers' packages and commands, as a consumer would have them in devDependencies. */
export const TOOL_PACKAGES = ['esbuild', 'webpack', 'webpack-cli', 'rollup', '@rollup/plugin-node-resolve', '@rollup/plugin-commonjs', '@rollup/pluginutils', '@vercel/ncc'];
export const TOOL_BINS = ['esbuild', 'webpack', 'webpack-cli', 'rollup', 'ncc'];

/** name -> { files: Map(file name -> text), sh: [command blocks] } */
export function recipes(text = fs.readFileSync(path.join(root, 'docs', 'install.md'), 'utf8')) {
  const out = new Map();
  for (const part of text.split('<!-- recipe: ').slice(1)) {
    const name = part.slice(0, part.indexOf(' -->'));
    const body = part.split(/\n(?=<!-- |#)/)[0];
    const recipe = { files: new Map(), sh: [] };
    for (const [, lang, code] of body.matchAll(/```(\w+)\n([\s\S]*?)```/g)) {
      if (lang === 'sh') recipe.sh.push(code);
      else recipe.files.set(/^\/\/ (\S+)\n/.exec(code)[1], code);
    }
    out.set(name, recipe);
  }
  return out;
}

/**
 * A consumer project in `app`: package.json, src/ (the consumer), and node_modules holding
 * `netLinger` (a folder: the installed package, or this checkout) and symlinks to this checkout's
 * bundlers, so that `npx <bundler>` finds them locally. Never run npm install in it afterwards:
 * npm would prune the linked packages' own folders.
 */
export function makeConsumerProject(app, netLinger) {
  fs.mkdirSync(path.join(app, 'node_modules', '.bin'), { recursive: true });
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, version: '1.0.0' }));
  fs.cpSync(consumerDir, path.join(app, 'src'), { recursive: true });
  const modules = path.join(app, 'node_modules');
  if (netLinger) fs.symlinkSync(netLinger, path.join(modules, 'net-linger'));
  for (const tool of TOOL_PACKAGES) {
    fs.mkdirSync(path.dirname(path.join(modules, tool)), { recursive: true });
    fs.symlinkSync(fs.realpathSync(path.join(root, 'node_modules', tool)), path.join(modules, tool));
  }
  for (const bin of TOOL_BINS) fs.symlinkSync(fs.realpathSync(path.join(root, 'node_modules', '.bin', bin)), path.join(modules, '.bin', bin));
}

/** Runs one recipe as written in `dir` (a fresh folder), with the consumer project's node_modules. */
export async function runRecipe(recipe, app, dir, run, { skip = () => false } = {}) {
  fs.mkdirSync(dir, { recursive: true });
  fs.cpSync(path.join(app, 'src'), path.join(dir, 'src'), { recursive: true });
  fs.copyFileSync(path.join(app, 'package.json'), path.join(dir, 'package.json'));
  fs.symlinkSync(path.join(app, 'node_modules'), path.join(dir, 'node_modules'));
  for (const [file, text] of recipe.files) fs.writeFileSync(path.join(dir, file), text);
  const env = { ...process.env, npm_config_offline: 'true', npm_config_update_notifier: 'false' };
  for (const sh of recipe.sh) {
    const lines = sh.split('\n').filter((line) => line && !skip(line)).join('\n');
    if (lines) await run('sh', ['-ec', lines], { cwd: dir, env, timeout: 120_000 });
  }
}
