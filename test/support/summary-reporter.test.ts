// test/support/summary-reporter.ts against vitest's own summary, on a small suite with every kind of
// outcome (test/fixtures/summary): a pass, a failure, skips of each kind, a todo, a file that does
// not load, and legs skipped for missing tools.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '..', '..');

// Runs vitest in a child process: once, in the forks project.
describe('the summary reporter', () => {
  it('counts what vitest counts, names files that failed apart, and names each leg a missing tool skipped', () => {
    let out = '';
    try {
      execFileSync(process.execPath, [path.join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--root', 'test/fixtures/summary'], {
        cwd: root, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' }, stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (err) {
      out = (err as { stdout: string }).stdout; // the suite fails on purpose
    }
    const vitest = /^\s+Tests\s+(.*) \((\d+)\)$/m.exec(out);
    expect(vitest, out).not.toBeNull();
    const count = (word: string) => Number(new RegExp(`(\\d+) ${word}`).exec(vitest![1])?.[1] ?? 0);
    expect([count('passed'), count('failed'), count('skipped'), count('todo')]).toEqual([2, 1, 7, 1]);
    const lines = out.trimEnd().split('\n').slice(-2);
    expect(lines[0]).toBe(`tests: ${count('passed')} passed, ${count('failed')} failed, ${count('skipped')} skipped (and 1 todo, 2 files failed)`);
    expect(lines[1]).toBe(
      'skipped for missing tools: frob (apt-get install frob-utils): test/fixtures/summary/mixed.check.ts (2 tests); ' +
      'zap (apt-get install zap): test/fixtures/summary/more.check.ts (1 test). NET_LINGER_REQUIRE_TOOLS=1 makes these failures.',
    );
  });
});
