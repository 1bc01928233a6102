// The bundle topic of the bench: what a consumer pays for net-linger.
//  - size: the consumer library (bench/bundle/consumer/index.mjs, importing setLinger and
//    isConnectionReset) built by each docs/install.md inline recipe, CommonJS and ES module output;
//  - cold load: a fresh process per run that requires one entry and loads the addon (a first
//    native call), timed inside the process around exactly that, against a fresh process doing
//    `require('node-gyp-build')(root)` (the bare addon, the same build/Release file); runs
//    interleaved in a shuffled order each round, medians. The whole process's wall time, and that of
//    an empty `node -e ''`, are beside it.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { buildDir } from '../lib/build.mjs';
import { median, shuffled } from '../lib/stats.mjs';
import { BUNDLERS, OUTPUTS, makeConsumerProject, recipes, root, runRecipe } from './recipes.mjs';

const run = promisify(execFile);

/** { bundler, format, bytes }[] for each inline recipe's outputs. */
export async function measureSizes({ log = () => {} } = {}) {
  const work = path.join(buildDir, 'bundle');
  fs.rmSync(work, { recursive: true, force: true });
  const app = path.join(work, 'app');
  makeConsumerProject(app, root); // net-linger: this checkout (its dist/ is what the tarball ships)
  const all = recipes();
  const rows = [];
  for (const bundler of BUNDLERS) {
    log(`  ${bundler}...`);
    const dir = path.join(work, bundler);
    // The copy of prebuilds/ adds nothing to the bundle's size (and a checkout may have none).
    await runRecipe(all.get(`${bundler} inline`), app, dir, run, { skip: (line) => line.startsWith('cp ') });
    for (const format of ['cjs', 'esm']) rows.push({ bundler, format, bytes: fs.statSync(path.join(dir, OUTPUTS[bundler][format])).size });
  }
  return rows;
}

export const ENTRIES = [
  { name: 'net-linger', file: 'dist/cjs/index.js' },
  { name: 'net-linger/http', file: 'dist/cjs/http/index.js' },
  { name: 'net-linger/relay', file: 'dist/cjs/relay/index.js' },
  { name: 'net-linger/testing', file: 'dist/cjs/testing/index.js' },
  { name: 'net-linger/lab', file: 'dist/cjs/lab/index.js' },
];

/** One fresh process: its own timing of `body` (ms), and its wall time seen from here (ms). */
async function timed(body) {
  const script = `const t0 = process.hrtime.bigint(); ${body}; const t1 = process.hrtime.bigint(); process.stdout.write(String(Number(t1 - t0) / 1e6));`;
  const start = process.hrtime.bigint();
  const { stdout } = await run(process.execPath, ['-e', script], { cwd: root, env: { ...process.env, PREBUILDS_ONLY: '' } });
  return { inside: Number(stdout), wall: Number(process.hrtime.bigint() - start) / 1e6 };
}

/** Cold load of each entry against the bare addon: medians of `runs` fresh processes each. */
export async function measureColdLoad({ runs = 41, log = () => {} } = {}) {
  const core = JSON.stringify(path.join(root, ENTRIES[0].file));
  const cases = [
    { name: 'empty process', body: '' },
    // What every socket user has loaded anyway, and the entry below loads too: its share of the time.
    { name: "require('node:net')", body: "require('node:net')" },
    { name: "require('node-gyp-build')(root)", body: `require(${JSON.stringify(path.join(root, 'node_modules', 'node-gyp-build'))})(${JSON.stringify(root)})` },
    ...ENTRIES.map((entry) => ({
      name: entry.name,
      // Require the entry, then the first native call loads the addon (from the same build/Release file).
      body: `require(${JSON.stringify(path.join(root, entry.file))}); require(${core}).maxLingerSeconds()`,
    })),
  ];
  const samples = new Map(cases.map((c) => [c.name, []]));
  for (let round = 0; round < runs; round++) {
    if (round % 10 === 0) log(`  round ${round + 1}/${runs}`);
    for (const c of shuffled(cases, round + 1)) samples.get(c.name).push(await timed(c.body));
  }
  const bare = median(samples.get(cases[2].name).map((s) => s.inside));
  return {
    runs,
    rows: cases.map((c) => {
      const s = samples.get(c.name);
      const inside = median(s.map((x) => x.inside));
      return { name: c.name, insideMs: inside, wallMs: median(s.map((x) => x.wall)), ratio: c.name.startsWith('net-linger') && bare > 0 ? inside / bare : null };
    }),
  };
}

export async function runBundleTopic({ runs = 41, log = () => {} } = {}) {
  log('bundle sizes (docs/install.md inline recipes)...');
  const sizes = await measureSizes({ log });
  log('cold load of each entry...');
  const load = await measureColdLoad({ runs, log });
  return { date: new Date().toISOString().slice(0, 10), sizes, load };
}

const fmt = (n, digits = 1) => (n == null || Number.isNaN(n) ? '–' : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }));

/** The RESULTS.md section, between markers so that `BENCH_ONLY=bundle` can write it alone. */
export function bundleSection(result, number) {
  const lines = ['<!-- bundle:start -->', `## ${number}. What a consumer pays: bundle size and cold load`, ''];
  if (!result) return [...lines, 'Not measured in this run.', '<!-- bundle:end -->', ''];
  const { sizes, load } = result;
  lines.push(`Measured on ${result.date}${result.separate ? ' by `BENCH_ONLY=bundle npm run bench` (this section only; the others come from the full run above)' : ''}.`, '');
  lines.push('**Bundle size.** A library importing `setLinger` and `isConnectionReset` (`bench/bundle/consumer/index.mjs`), bundled by each inline recipe of docs/install.md as written (unminified; webpack in production mode without minifying). The bundle file alone: the addon is a file beside it. Goal: ≤ 50 KiB with esbuild.', '');
  lines.push('| bundler | CommonJS (KiB) | ES module (KiB) |', '|---|---:|---:|');
  for (const bundler of [...new Set(sizes.map((s) => s.bundler))]) {
    const at = (format) => sizes.find((s) => s.bundler === bundler && s.format === format)?.bytes / 1024;
    lines.push(`| ${bundler} | ${fmt(at('cjs'))} | ${fmt(at('esm'))} |`);
  }
  lines.push('');
  lines.push(`**Cold load.** ${load.runs} fresh processes per row, interleaved (a shuffled order each round). *Load* is timed inside the process around \`require(entry)\` plus the first native call (which loads the addon), against \`require('node-gyp-build')(root)\` loading the same addon file bare. *Process* is the whole process's wall time seen from the parent, beside an empty \`node -e ''\`. Medians. Goal: ≤ 1.5× the bare load.`, '');
  lines.push('| what | load (ms) | × bare load | process (ms) |', '|---|---:|---:|---:|');
  for (const r of load.rows) lines.push(`| ${r.name} | ${r.name === 'empty process' ? '–' : fmt(r.insideMs, 2)} | ${r.ratio == null ? '' : `${fmt(r.ratio, 2)}×`} | ${fmt(r.wallMs)} |`);
  lines.push('', '<!-- bundle:end -->', '');
  return lines;
}
