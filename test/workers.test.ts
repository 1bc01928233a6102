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

describe('worker threads', () => {
  it('8 workers load and use the addon at once', async () => {
    const entry = path.resolve(__dirname, '..', 'dist', 'cjs', 'index.js');
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
});
