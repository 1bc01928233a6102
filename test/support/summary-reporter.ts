// After vitest's own summary, two plain lines:
//   "tests: N passed, N failed, N skipped" — counted the way vitest's "Tests" line counts (todo apart
//   from skipped, tests that never ran in neither), so the two agree; errors
//   outside tests and files that failed to load are vitest's "Errors" and "Test Files" lines, named
//   here apart, never added to the test counts;
//   "skipped for missing tools: …" — each leg (file) a missing optional tool skipped, the tool and
//   the command that installs it (the notes test/support/tools.ts gives), or that none was skipped.
import path from 'node:path';
import type { Reporter, TestModule } from 'vitest/node';

/** How test/support/tools.ts begins a missing-tool skip note (its MISSING). */
const MISSING = 'missing tool:';

export default class SummaryReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>, errors: ReadonlyArray<unknown>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    let todo = 0;
    let notRun = 0;
    let expectedFail = 0;
    let failedFiles = 0;
    // note → file → number of tests skipped for it
    const missing = new Map<string, Map<string, number>>();
    for (const module of modules) {
      if (module.state() === 'failed') failedFiles++;
      const file = path.relative(process.cwd(), module.moduleId);
      for (const test of module.children.allTests()) {
        const result = test.result();
        if (result.state === 'passed' && test.options.fails) expectedFail++;
        else if (result.state === 'passed') passed++;
        else if (result.state === 'failed') failed++;
        else if (result.state === 'pending') notRun++;
        else if (test.options.mode === 'todo') todo++;
        else skipped++;
        const note = result.state === 'skipped' ? result.note : undefined;
        if (note?.startsWith(MISSING)) {
          const files = missing.get(note) ?? new Map<string, number>();
          files.set(file, (files.get(file) ?? 0) + 1);
          missing.set(note, files);
        }
      }
    }
    const extra = [
      expectedFail && `${expectedFail} expected fail`,
      todo && `${todo} todo`,
      notRun && `${notRun} not run`,
      failedFiles && `${failedFiles} file${failedFiles > 1 ? 's' : ''} failed`,
      errors.length && `${errors.length} error${errors.length > 1 ? 's' : ''} outside tests`,
    ].filter(Boolean);
    const lines = [`tests: ${passed} passed, ${failed} failed, ${skipped} skipped${extra.length ? ` (and ${extra.join(', ')})` : ''}`];
    if (missing.size === 0) lines.push('skipped for missing tools: none');
    else {
      const parts = [...missing].map(([note, files]) =>
        `${note.slice(MISSING.length).trim()}: ${[...files].map(([f, n]) => `${f} (${n} test${n > 1 ? 's' : ''})`).join(', ')}`);
      lines.push(`skipped for missing tools: ${parts.join('; ')}. NET_LINGER_REQUIRE_TOOLS=1 makes these failures.`);
    }
    process.stdout.write(`\n${lines.join('\n')}\n`);
  }
}
