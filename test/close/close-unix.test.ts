// A Unix-domain socket has no RST: every close helper says so the same way. resetClose refuses it
// (ERR_NET_LINGER_UNSUPPORTED, the socket left open); gracefulClose and lingerClose asked to end
// with onTimeout: 'reset' refuse it the same way, up front, instead of reporting a reset that
// never happened. With onTimeout: 'close' they close it and say reset: false.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { gracefulClose, lingerClose, resetClose } from '../../src/index';

interface Pair { client: net.Socket; other: net.Socket; done(): Promise<void> }

async function unixPair(): Promise<Pair> {
  const file = path.join(os.tmpdir(), `net-linger-unix-${process.pid}-${Date.now()}-${Math.random().toString(16).slice(2)}.sock`);
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(file, resolve));
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  const client = net.connect(file);
  client.on('error', () => undefined);
  await new Promise((resolve) => client.once('connect', resolve));
  const other = await accepted;
  other.on('error', () => undefined);
  return {
    client, other,
    async done() {
      client.destroy();
      other.destroy();
      await new Promise((resolve) => server.close(resolve));
      fs.rmSync(file, { force: true });
    },
  };
}

const unsupported = expect.objectContaining({ name: 'NetLingerError', code: 'ERR_NET_LINGER_UNSUPPORTED' });

describe.skipIf(process.platform === 'win32')('close helpers on a Unix-domain socket', () => {
  it("gracefulClose with onTimeout: 'reset' refuses it as resetClose does, and leaves it open", async () => {
    const pair = await unixPair();
    try {
      expect(() => resetClose(pair.client)).toThrow(unsupported);
      expect(() => gracefulClose(pair.client, { onTimeout: 'reset', lingeringTimeout: 50 })).toThrow(unsupported);
      expect(pair.client.destroyed).toBe(false);
      // With onTimeout: 'close' it closes (the peer answers the half-close with its own end), no reset claimed.
      const report = await gracefulClose(pair.client, { lingeringTimeout: 1000 });
      expect(report).toMatchObject({ outcome: 'fin', reset: false });
    } finally {
      await pair.done();
    }
  });

  it.runIf(process.platform === 'linux' || process.platform === 'darwin')("lingerClose with onTimeout: 'reset' refuses it the same way", async () => {
    const pair = await unixPair();
    try {
      expect(() => lingerClose(pair.client, 1, { onTimeout: 'reset' })).toThrow(unsupported);
      expect(pair.client.destroyed).toBe(false);
    } finally {
      await pair.done();
    }
  });
});
