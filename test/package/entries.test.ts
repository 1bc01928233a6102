// The package's entries: what each holds, and one module instance whichever way it is loaded.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runLab } from '../../src/lab/index';

const root = path.resolve(__dirname, '..', '..');
const require_ = createRequire(__filename);

describe('the package entries', () => {
  it("'net-linger' is the library core; each integration is an entry of its own", () => {
    const entry = (name: string) => require_(path.join(root, 'dist/cjs', name, 'index.js')) as Record<string, unknown>;
    const library = entry('.');
    const owners: Record<string, string[]> = {
      lab: ['SCENARIOS', 'runLab', 'runScenario', 'describeStep', 'describeCloser', 'claimFor', 'LAB_SCHEMA_VERSION'],
      http: ['enableLingeringClose'],
      relay: ['relay'],
      testing: ['createFaultProxy', 'probeServer', 'probeExitCode'],
    };
    for (const [sub, names] of Object.entries(owners)) {
      const exports = entry(sub);
      for (const name of names) {
        expect(library, name).not.toHaveProperty(name);
        expect(exports, `${sub}: ${name}`).toHaveProperty(name);
      }
    }
    for (const name of ['setLinger', 'getLinger', 'shutdown', 'pendingBytes', 'resetClose', 'gracefulClose', 'lingerClose',
      'SocketError', 'NetLingerError', 'isConnectionReset', 'normalizeErrorCode', 'explainError', 'setNativeBinding']) {
      expect(library, name).toHaveProperty(name);
    }
  });

  it('runLab takes row names, as the CLI does, and refuses an unknown one before running anything', async () => {
    const report = await runLab({ scenarios: ['plain-close'] });
    expect(report.rows.map((r) => r.scenario)).toEqual(['plain-close']);
    expect(report.ok).toBe(true);
    await expect(runLab({ scenarios: ['no-such-row'] })).rejects.toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
  });

  // The dual-package hazard: a process that reaches the package through import and through
  // require (an ES module app with a CommonJS dependency) must see one state, not two copies.
  it('import and require in one process share one instance and one state', () => {
    const script = `
      import { createRequire } from 'node:module';
      import http from 'node:http';
      import net from 'node:net';
      import * as esm from 'net-linger';
      import * as esmHttp from 'net-linger/http';
      const require = createRequire(import.meta.url);
      const cjs = require('net-linger');
      const cjsHttp = require('net-linger/http');
      const out = {};
      out.sameFunctions = esm.setLinger === cjs.setLinger && esmHttp.enableLingeringClose === cjsHttp.enableLingeringClose;
      out.sameErrorClass = esm.SocketError === cjs.SocketError;
      try { esm.shutdown(0x7ffffff0, 'write'); } catch (e) { out.instanceofAcross = e instanceof cjs.SocketError; }
      const server = http.createServer();
      out.sameServerHandle = esmHttp.enableLingeringClose(server) === cjsHttp.enableLingeringClose(server);
      // The blocking-close warning is once per process, whichever entry armed the linger (Windows
      // refuses a lingering close of a Node socket outright, so there is no warning to count).
      if (process.platform === 'win32') { out.blockingWarnings = 1; console.log(JSON.stringify(out)); process.exit(0); }
      const warnings = [];
      process.on('warning', (w) => warnings.push(w.code));
      const listener = net.createServer((s) => s.destroy()).listen(0, '127.0.0.1', async () => {
        const a = net.connect(listener.address().port, '127.0.0.1');
        const b = net.connect(listener.address().port, '127.0.0.1');
        await Promise.all([a, b].map((s) => new Promise((r) => s.once('connect', r))));
        esm.setLinger(a, true, 1);
        cjs.setLinger(b, true, 1);
        a.destroy(); b.destroy(); listener.close();
        setTimeout(() => {
          out.blockingWarnings = warnings.filter((c) => c === 'NET_LINGER_BLOCKING_CLOSE').length;
          console.log(JSON.stringify(out));
        }, 50);
      });
    `;
    const out = execFileSync(process.execPath, ['--no-warnings', '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual({
      sameFunctions: true, sameErrorClass: true, instanceofAcross: true, sameServerHandle: true, blockingWarnings: 1,
    });
  });
});
