import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runLab } from '../src/lab/index';

const root = path.resolve(__dirname, '..');
const require_ = createRequire(__filename);

describe('the package entries', () => {
  it("'net-linger' is the library and holds none of the lab; 'net-linger/lab' is the lab", () => {
    const library = require_(path.join(root, 'dist/cjs/index.js')) as Record<string, unknown>;
    const lab = require_(path.join(root, 'dist/cjs/lab/index.js')) as Record<string, unknown>;
    for (const name of ['SCENARIOS', 'runLab', 'runScenario', 'describeStep', 'describeCloser', 'claimFor', 'LAB_SCHEMA_VERSION']) {
      expect(library, name).not.toHaveProperty(name);
      expect(lab, name).toHaveProperty(name);
    }
    for (const name of ['setLinger', 'shutdown', 'resetClose', 'gracefulClose', 'lingerClose', 'SocketError', 'explainError']) {
      expect(library, name).toHaveProperty(name);
    }
  });

  it('runLab takes row names, as the CLI does, and refuses an unknown one before running anything', async () => {
    const report = await runLab({ scenarios: ['plain-close'] });
    expect(report.rows.map((r) => r.scenario)).toEqual(['plain-close']);
    expect(report.ok).toBe(true);
    await expect(runLab({ scenarios: ['no-such-row'] })).rejects.toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
  });
});
