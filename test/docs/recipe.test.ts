// The recipe in docs/proxy.md is examples/retry-on-reset.test.ts, character for character, and it passes.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';

// The package as a user imports it, served from this checkout's sources.
vi.mock('net-linger', () => import('../../src/index'));

const root = path.resolve(__dirname, '..', '..');
const example = fs.readFileSync(path.join(root, 'examples', 'retry-on-reset.test.ts'), 'utf8');

describe('docs/proxy.md recipe', () => {
  it('is the example file, verbatim', () => {
    const doc = fs.readFileSync(path.join(root, 'docs', 'proxy.md'), 'utf8');
    const block = /<!-- recipe: examples\/retry-on-reset\.test\.ts -->\n```ts\n([\s\S]*?)```/.exec(doc);
    expect(block, 'the recipe block in docs/proxy.md').not.toBeNull();
    expect(block![1]).toBe(example);
  });
});

// Its tests run here, as a user's would (in the forks pool; the threads pool only checks the text).
await import('../../examples/retry-on-reset.test');
