// The bundler matrix: esbuild, webpack 5, rollup and ncc, CommonJS and ES module output, each
// built by docs/install.md's recipe as written from the packed tarball (installed with scripts
// off), moved to a folder without node_modules, and run: a real setLinger(socket, true, 0) on a
// loopback connection whose peer must see ECONNRESET. Then the bundles where they must not find a
// binary, or must refuse one that is not ours.
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Shared with the bench (bench/bundle/): the recipes' parser, the consumer library and its project.
import { BUNDLERS, OUTPUTS, makeConsumerProject, recipes, runRecipe } from '../../bench/bundle/recipes.mjs';

const root = path.resolve(__dirname, '..', '..');
const doc = fs.readFileSync(path.join(root, 'docs', 'install.md'), 'utf8');
const run = promisify(execFile);
const target = `${process.platform}-${process.arch}`;
type Format = 'cjs' | 'esm';

let work = '';
let app = '';
let prebuild = '';

/**
 * Runs a bundle file's resetPeer() in a fresh process, its outcome or the error it threw. From
 * `node -e` in another folder: its global __filename ('[eval]') must not pass for the bundle's.
 */
async function runBundle(file: string, env: Record<string, string> = {}, before = ''): Promise<{ reset?: boolean; code?: string; message?: string }> {
  const script = `
    const url = require('node:url').pathToFileURL(${JSON.stringify(file)}).href;
    import(url).then(async (m) => {
      const lib = m.resetPeer ? m : m.default;
      ${before}
      const reset = await lib.resetPeer();
      console.log(JSON.stringify({ reset }));
    }).catch((e) => console.log(JSON.stringify({ code: e.code, message: e.message })));`;
  const { stdout } = await run(process.execPath, ['-e', script], {
    cwd: os.tmpdir(), env: { PATH: process.env.PATH ?? '', HOME: os.homedir(), ...env }, timeout: 20_000,
  });
  return JSON.parse(stdout.trim().split('\n').pop()!);
}

/** Copies a recipe's output folder (the bundle and what was copied beside it) to a folder of its own. */
function place(from: string, to: string): string {
  fs.mkdirSync(path.dirname(to), { recursive: true });
  fs.cpSync(from, to, { recursive: true });
  return to;
}

async function limit<T>(jobs: (() => Promise<T>)[], width: number): Promise<T[]> {
  const results: T[] = new Array(jobs.length);
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < jobs.length) {
      const i = next++;
      results[i] = await jobs[i]!();
    }
  }));
  return results;
}

// Once, in the forks project (it packs and builds; the threads project need not repeat it), on
// Linux (it needs npm, sh and cc; the Windows leg runs this suite under Wine's node.exe).
describe.skipIf(process.platform !== 'linux')('bundler matrix (docs/install.md recipes, from the packed tarball)', () => {
  beforeAll(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'net-linger-bundlers-'));
    // --ignore-scripts: prepack and prepare would rebuild dist/ and move build/Release's addon
    // while other test files use them.
    const packed = JSON.parse(execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
    app = path.join(work, 'app');
    fs.mkdirSync(app);
    fs.writeFileSync(path.join(app, 'package.json'), '{ "private": true }');
    execFileSync('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', path.join(work, packed[0].filename)], { cwd: app, stdio: 'ignore' });
    // The consumer (bench/bundle/consumer/), with the bundlers as its devDependencies, npx finding them locally.
    makeConsumerProject(app, undefined);
    const modules = path.join(app, 'node_modules');
    const prebuilds = path.join(modules, 'net-linger', 'prebuilds', target);
    if (!fs.existsSync(prebuilds)) {
      // A checkout without `npm run prebuilds` (CI runs npm test first): the host's build is the
      // same binary under the name prebuildify gives it.
      const libc = fs.readFileSync('/usr/bin/ldd', 'latin1').includes('musl') ? 'musl' : 'glibc';
      fs.mkdirSync(prebuilds, { recursive: true });
      fs.copyFileSync(path.join(root, 'build', 'Release', 'net_linger.node'), path.join(prebuilds, `net-linger.${libc}.node`));
    }
    prebuild = path.join(prebuilds, fs.readdirSync(prebuilds).find((f) => f.endsWith('.node'))!);

    // Every recipe, as written, in a folder of its own (sharing the one node_modules), four at a time.
    await limit([...recipes() as Map<string, unknown>].map(([name, recipe]) => () =>
      runRecipe(recipe, app, path.join(work, 'build', name.replace(' ', '-')), run)), 4);
    // The setNativeBinding() consumer, with esbuild.
    for (const format of ['cjs', 'esm']) {
      await run(path.join(modules, '.bin', 'esbuild'), ['src/packaged.mjs', '--bundle', '--platform=node', `--format=${format}`,
        `--outfile=dist/packaged.${format === 'cjs' ? 'cjs' : 'mjs'}`, '--log-level=warning'], { cwd: app });
    }
    // From here on, nothing the bundles could fall back on at their build paths: the package is gone.
    fs.renameSync(path.join(modules, 'net-linger'), path.join(work, 'net-linger-installed'));
    prebuild = prebuild.replace(path.join(modules, 'net-linger'), path.join(work, 'net-linger-installed'));
  }, 240_000);

  afterAll(() => {
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('docs/install.md has an inline and an external recipe for each bundler', () => {
    expect([...(recipes() as Map<string, unknown>).keys()].sort()).toEqual((BUNDLERS as string[]).flatMap((b) => [`${b} external`, `${b} inline`]).sort());
  });

  const cases = (BUNDLERS as string[]).flatMap((bundler) => (['cjs', 'esm'] as const).map((format) => ({ bundler, format })));
  const output = (bundler: string, format: Format): string => (OUTPUTS as Record<string, Record<Format, string>>)[bundler]![format];

  it.each(cases)('$bundler $format, inlined, prebuilds/ copied beside it: the native call runs', async ({ bundler, format }) => {
    const out = output(bundler, format);
    const dir = place(path.join(work, 'build', `${bundler}-inline`, path.dirname(out)), path.join(work, 'a', `${bundler}-${format}`));
    expect(fs.existsSync(path.join(dir, 'prebuilds', target))).toBe(true);
    expect(await runBundle(path.join(dir, path.basename(out)))).toEqual({ reset: true });
  });

  it('choosing the glibc or musl prebuild reads no process report (it takes milliseconds; ldd says it at once)', async () => {
    const dir = place(path.join(work, 'build', 'esbuild-inline', 'dist'), path.join(work, 'report'));
    const trap = "process.report.getReport = () => { throw Object.assign(new Error('getReport called'), { code: 'REPORT' }); };";
    expect(await runBundle(path.join(dir, 'index.cjs'), {}, trap)).toEqual({ reset: true });
  });

  it.each(cases)('$bundler $format, net-linger external, node_modules beside it: the native call runs', async ({ bundler, format }) => {
    const out = output(bundler, format);
    const dir = place(path.join(work, 'build', `${bundler}-external`, path.dirname(out)), path.join(work, 'b', `${bundler}-${format}`, 'dist'));
    const text = fs.readFileSync(path.join(dir, path.basename(out)), 'utf8');
    expect(text, 'the bundle inlined the loader').not.toContain('process.dlopen');
    fs.cpSync(path.join(work, 'net-linger-installed'), path.join(dir, '..', 'node_modules', 'net-linger'), { recursive: true });
    expect(await runBundle(path.join(dir, path.basename(out)))).toEqual({ reset: true });
  });

  it.each(cases)("$bundler $format, inlined, in another package's dist/: never loads that package's addon", async ({ bundler, format }) => {
    const out = output(bundler, format);
    // Another library: its binding.gyp, its own addon, a copy of ours under its name.
    const other = path.join(work, 'c', `${bundler}-${format}`);
    fs.mkdirSync(path.join(other, 'build', 'Release'), { recursive: true });
    fs.writeFileSync(path.join(other, 'package.json'), JSON.stringify({ name: 'other', version: '1.0.0' }));
    fs.writeFileSync(path.join(other, 'binding.gyp'), JSON.stringify({ targets: [{ target_name: 'other', sources: ['other.c'] }] }));
    fs.copyFileSync(foreignAddon(), path.join(other, 'build', 'Release', 'other.node'));
    fs.copyFileSync(prebuild, path.join(other, 'build', 'Release', 'net_linger_copy.node'));
    const dist = path.join(other, 'dist');
    fs.mkdirSync(dist);
    const bundle = path.join(dist, path.basename(out));
    fs.copyFileSync(path.join(work, 'build', `${bundler}-inline`, out), bundle);

    // Nothing of ours beside it: the one-line refusal the docs quote.
    const none = await runBundle(bundle);
    expect(none.code).toBe('ERR_NET_LINGER_NO_BINARY');
    expect(none.message).not.toContain('\n');
    for (const fragment of quoted('ERR_NET_LINGER_NO_BINARY')) expect(none.message).toContain(fragment);

    // Our name, not our addon (the other package's addon under the prebuild's name): refused by its missing marker.
    const fake = path.join(dist, 'prebuilds', target);
    fs.mkdirSync(fake, { recursive: true });
    fs.copyFileSync(foreignAddon(), path.join(fake, path.basename(prebuild)));
    const foreign = await runBundle(bundle);
    expect(foreign.code).toBe('ERR_NET_LINGER_FOREIGN_BINARY');
    for (const fragment of quoted('ERR_NET_LINGER_FOREIGN_BINARY')) expect(foreign.message).toContain(fragment);

    // Our addon under another name, named by NET_LINGER_BINARY: refused by its name.
    fs.rmSync(path.join(dist, 'prebuilds'), { recursive: true });
    const renamed = path.join(other, 'build', 'Release', 'other-copy.node');
    fs.renameSync(path.join(other, 'build', 'Release', 'net_linger_copy.node'), renamed);
    const byName = await runBundle(bundle, { NET_LINGER_BINARY: renamed });
    expect(byName.code).toBe('ERR_NET_LINGER_FOREIGN_BINARY');
    expect(byName.message).toContain("is not net-linger's addon: its file is named");

    // Our prebuilds/ copied beside it: runs, whatever else is around.
    fs.cpSync(path.join(work, 'net-linger-installed', 'prebuilds'), path.join(dist, 'prebuilds'), { recursive: true });
    expect(await runBundle(bundle)).toEqual({ reset: true });
  });

  it.each(['cjs', 'esm'])('a %s bundle with no prebuilds beside it runs with NET_LINGER_BINARY or setNativeBinding() (a file, a folder, the loaded addon)', async (format) => {
    const ext = format === 'cjs' ? 'cjs' : 'mjs';
    const dir = path.join(work, 'named', format);
    fs.mkdirSync(dir, { recursive: true });
    const bundle = path.join(dir, `index.${ext}`);
    fs.copyFileSync(path.join(work, 'build', 'esbuild-inline', 'dist', `index.${ext}`), bundle);
    expect(await runBundle(bundle, { NET_LINGER_BINARY: prebuild })).toEqual({ reset: true });
    const packaged = path.join(dir, `packaged.${ext}`);
    fs.copyFileSync(path.join(app, 'dist', `packaged.${ext}`), packaged);
    expect((await runBundle(packaged)).code).toBe('ERR_NET_LINGER_NO_BINARY');
    expect(await runBundle(packaged, {}, `lib.setNativeBinding(${JSON.stringify(prebuild)});`)).toEqual({ reset: true });
    // A folder holding prebuilds/, by either way; the addon object, already loaded.
    const installed = path.join(work, 'net-linger-installed');
    expect(await runBundle(bundle, { NET_LINGER_BINARY: installed })).toEqual({ reset: true });
    expect(await runBundle(packaged, {}, `lib.setNativeBinding(${JSON.stringify(installed)});`)).toEqual({ reset: true });
    const loadedAddon = `const addon = { exports: {} }; process.dlopen(addon, ${JSON.stringify(prebuild)}); lib.setNativeBinding(addon.exports);`;
    expect(await runBundle(packaged, {}, loadedAddon)).toEqual({ reset: true });
    // Named too late: once an addon is loaded, another one is an error.
    const late = `await lib.resetPeer(); lib.setNativeBinding(${JSON.stringify(foreignAddon())});`;
    expect((await runBundle(packaged, { NET_LINGER_BINARY: prebuild }, late)).code).toBe('ERR_NET_LINGER_BINARY_LOADED');
  });
});

/** The fragments of the message docs/install.md quotes for `code` (split at its '…' elisions). */
function quoted(code: string): string[] {
  const block = new RegExp(`<!-- quoted: ${code} -->\\n> (.*)\\n`).exec(doc);
  expect(block, `docs/install.md quotes ${code}`).not.toBeNull();
  const text = block![1]!.replace(/linux-x64 glibc/, `${target} glibc`);
  return text.split('…').map((s) => s.trim()).filter(Boolean);
}

let foreign: string | undefined;
/** A real Node-API addon that is not net-linger's: it loads, and exports nothing of ours. */
function foreignAddon(): string {
  if (foreign) return foreign;
  const dir = path.join(work, 'foreign');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'other.c'), 'void *napi_register_module_v1(void *env, void *exports) { (void)env; return exports; }\n');
  execFileSync('cc', ['-shared', '-fPIC', '-o', path.join(dir, 'other.node'), path.join(dir, 'other.c')]);
  foreign = path.join(dir, 'other.node');
  return foreign;
}
