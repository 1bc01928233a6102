// "My client survives the keep-alive race": the server closes an idle keep-alive connection just
// as the client sends its next request on it. The proxy makes that happen every time: after an
// exchange and 50 ms of silence, the client's next request is answered with an RST.
// Run it with `npx vitest run`.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createFaultProxy, type FaultProxy } from 'net-linger/testing';

// The client under test: a keep-alive agent, and a retry when a reused socket was reset
// (as Node's docs show under `request.reusedSocket`).
const agent = new http.Agent({ keepAlive: true });

function get(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => { body += chunk; });
      res.on('end', () => resolve(body));
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (req.reusedSocket && err.code === 'ECONNRESET') get(url).then(resolve, reject);
      else reject(err);
    });
  });
}

let server: http.Server;
let proxy: FaultProxy;

beforeAll(async () => {
  server = http.createServer((_req, res) => res.end('hello'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy = await createFaultProxy({
    upstream: { host: '127.0.0.1', port: (server.address() as AddressInfo).port },
    faults: { keepaliveRace: 50 },
  });
});

afterAll(async () => {
  agent.destroy();
  await proxy.close();
  await new Promise((resolve) => server.close(resolve));
});

it('retries the request the race reset, on a new connection', async () => {
  expect(await get(`http://${proxy.hostPort}/first`)).toBe('hello');
  await new Promise((resolve) => setTimeout(resolve, 100));
  expect(await get(`http://${proxy.hostPort}/second`)).toBe('hello');

  const raced = await proxy.nextReport();
  expect(raced.actions.map((a) => a.fault)).toEqual(['keepalive-race']);
  expect(raced.client.closedWith).toBe('reset');
});
