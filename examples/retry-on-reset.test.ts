// "My client retries on ECONNRESET": the first connection through the proxy is reset before a
// byte of the response, the retry goes through. Run it with `npx vitest run`.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { isConnectionReset } from 'net-linger';
import { createFaultProxy, type FaultProxy } from 'net-linger/testing';

// The client under test: one retry when the connection is reset.
async function getWithRetry(url: string, attempts = 2): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    try {
      const res = await fetch(url, { headers: { connection: 'close' } });
      return await res.text();
    } catch (err) {
      if (attempt >= attempts || !isConnectionReset(err)) throw err;
    }
  }
}

let server: http.Server;
let proxy: FaultProxy;

beforeAll(async () => {
  server = http.createServer((_req, res) => res.end('hello'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy = await createFaultProxy({
    upstream: { host: '127.0.0.1', port: (server.address() as AddressInfo).port },
    // RST once 0 bytes went down: the client is reset before any response.
    faults: { resetAfter: 0 },
  });
  // Only the first connection is reset: the faults change for the ones after it.
  proxy.once('connection', () => proxy.setFaults({}));
});

afterAll(async () => {
  await proxy.close();
  await new Promise((resolve) => server.close(resolve));
});

it('retries once when the connection is reset', async () => {
  expect(await getWithRetry(`http://${proxy.hostPort}/`)).toBe('hello');

  const first = await proxy.nextReport();
  expect(first.actions.map((a) => a.fault)).toEqual(['reset-after']);
  expect(first.client.closedWith).toBe('reset');

  const retry = await proxy.nextReport();
  expect(retry.faults).toBeNull();
  expect(retry.bytes.down).toBeGreaterThan(0);
});

it('gives up after the last attempt and says why', async () => {
  proxy.setFaults({ resetAfter: 0 });
  const err = await getWithRetry(`http://${proxy.hostPort}/`).catch((e: unknown) => e);
  expect(isConnectionReset(err)).toBe(true);
  proxy.setFaults({});
});
