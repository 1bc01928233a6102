// FaultProxy's events, typed, proven by the compiler: test/fixtures/proxy-event-types.ts must
// type-check (its @ts-expect-error lines, a misspelled event among them, are errors that must occur).
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '..', '..');

describe("the fault proxy's event types (tsc)", () => {
  it('type-check as the fixture says', () => {
    const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const args = [tsc, '--noEmit', '--strict', '--target', 'es2022', '--lib', 'es2022', '--module', 'commonjs',
      '--moduleResolution', 'node10', '--types', 'node', '--esModuleInterop', '--skipLibCheck', 'test/fixtures/proxy-event-types.ts'];
    let output = '';
    try {
      execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8', stdio: 'pipe' });
    } catch (err) {
      output = String((err as { stdout?: string }).stdout ?? err);
    }
    expect(output).toBe('');
  }, 60_000);
});
