import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';

// Each worker loads the built package on its own and uses it on its own socket, all at once.
const script = `
const { parentPort, workerData } = require('node:worker_threads');
const net = require('node:net');
const lib = require(workerData.entry);
const server = net.createServer((s) => s.on('error', () => {})).listen(0, '127.0.0.1', () => {
  const client = net.connect(server.address().port, '127.0.0.1', () => {
    const results = [];
    for (let i = 0; i < 1000; i++) {
      lib.setLinger(client, true, 0);
      results.push(lib.getLinger(client).onoff);
      lib.pendingBytes(client);
    }
    let error;
    try { lib.shutdown(0x7fffffff, 'write'); } catch (e) { error = e.code; }
    client.destroy();
    server.close();
    parentPort.postMessage({ ok: results.every(Boolean), error, again: require(workerData.entry) === lib });
  });
});
`;

// The loader takes whatever NET_LINGER_BINARY names (the ASan leg uses it): not here.
function withoutBinaryOverride(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NET_LINGER_BINARY;
  return env;
}

describe('worker threads', () => {
  it('8 workers load and use the addon at once', async () => {
    const entry = path.resolve(__dirname, '..', '..', 'dist', 'cjs', 'index.js');
    const runs = Array.from({ length: 8 }, () => new Promise((resolve, reject) => {
      const worker = new Worker(script, { eval: true, workerData: { entry } });
      worker.once('message', resolve);
      worker.once('error', reject);
    }));
    const results = await Promise.all(runs);
    // A number that is no open handle: EBADF on POSIX, WSAENOTSOCK on Windows (no EBADF for sockets).
    const error = process.platform === 'win32' ? 'ENOTSOCK' : 'EBADF';
    expect(results).toEqual(Array.from({ length: 8 }, () => ({ ok: true, error, again: true })));
  });

  it('loading twice is harmless: a fresh module instance over the same addon', () => {
    const entry = path.resolve(__dirname, '..', '..', 'dist', 'cjs', 'index.js');
    const first = require(entry);
    for (const key of Object.keys(require.cache)) if (key.includes(`${path.sep}dist${path.sep}cjs${path.sep}`)) delete require.cache[key];
    const second = require(entry);
    expect(second).not.toBe(first);
    expect(second.maxLingerSeconds()).toBe(first.maxLingerSeconds());
    // A number that is no open handle: EBADF on POSIX, WSAENOTSOCK on Windows.
    const code = process.platform === 'win32' ? 'ENOTSOCK' : 'EBADF';
    expect(() => second.shutdown(0x7fffffff, 'write')).toThrow(expect.objectContaining({ code }));
  });

  it('without a binary: one typed error naming platform, arch and libc, and how to build', () => {
    const root = path.resolve(__dirname, '..', '..');
    const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'net-linger-nobin-'));
    try {
      fs.cpSync(path.join(root, 'dist'), path.join(copy, 'dist'), { recursive: true });
      for (const file of ['package.json', 'binding.gyp']) fs.copyFileSync(path.join(root, file), path.join(copy, file));
      fs.symlinkSync(path.join(root, 'node_modules'), path.join(copy, 'node_modules'));
      const out = execFileSync(process.execPath, ['-e', `
        const lib = require('./dist/cjs/index.js');
        console.log(lib.normalizeErrorCode(10054));
        try { lib.getLinger(0x7fffffff); } catch (e) { console.log(e.name, e.code); console.log(e.message); }
      `], { cwd: copy, encoding: 'utf8', env: withoutBinaryOverride() });
      const libc = process.platform === 'linux' ? ' glibc' : '';
      expect(out).toContain('ECONNRESET'); // the pure parts work without the addon
      expect(out).toContain('NetLingerError ERR_NET_LINGER_NO_BINARY');
      expect(out).toContain(`for ${process.platform}-${process.arch}${libc}`);
      expect(out).toContain('npm rebuild net-linger');
    } finally {
      fs.rmSync(copy, { recursive: true, force: true });
    }
  });
});
