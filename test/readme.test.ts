import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { semanticsTable } from '../src/lab/semantics-table';

const root = path.resolve(__dirname, '..');
const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');

function between(start: string, end: string): string {
  const match = new RegExp(`<!-- ${start} -->\\n([\\s\\S]*?)<!-- ${end} -->`).exec(readme);
  if (!match) throw new Error(`README has no ${start} section`);
  return match[1];
}

describe('the README tells the truth', () => {
  it('its semantics table is the scenario table', () => {
    expect(between('semantics:start', 'semantics:end')).toBe(semanticsTable());
  });

  it('its quick start is examples/quickstart.mjs, and it runs as written', () => {
    const code = between('quickstart:start', 'quickstart:end').replace(/^```js\n|```\n$/g, '');
    expect(code).toBe(fs.readFileSync(path.join(root, 'examples/quickstart.mjs'), 'utf8'));
    const out = execFileSync(process.execPath, ['examples/quickstart.mjs'], { cwd: root, encoding: 'utf8' });
    expect(out).toContain('server linger: { onoff: true, seconds: 0 }');
    expect(out).toMatch(/client saw: ECONNRESET -\d+ -> ECONNRESET true/);
    expect(out).toContain('Winsock 10054 is ECONNRESET');
  });
});
