// The recipes in docs/proxy.md are the example files, character for character, and they pass.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';

// The package as a user imports it, served from this checkout's sources.
vi.mock('net-linger', () => import('../../src/index'));

const root = path.resolve(__dirname, '..', '..');
const RECIPES = ['retry-on-reset.test.ts', 'keepalive-race.test.ts'];

describe('docs/proxy.md recipes', () => {
  const doc = fs.readFileSync(path.join(root, 'docs', 'proxy.md'), 'utf8');
  for (const file of RECIPES) {
    it(`${file} is the example file, verbatim`, () => {
      const example = fs.readFileSync(path.join(root, 'examples', file), 'utf8');
      const marker = `<!-- recipe: examples/${file} -->\n\`\`\`ts\n`;
      const start = doc.indexOf(marker);
      expect(start, `the recipe block for ${file} in docs/proxy.md`).toBeGreaterThanOrEqual(0);
      const body = doc.slice(start + marker.length);
      expect(body.slice(0, body.indexOf('```'))).toBe(example);
    });
  }
});

// Their tests run here, as a user's would (in the forks pool; the threads pool only checks the text).
await import('../../examples/retry-on-reset.test');
await import('../../examples/keepalive-race.test');
