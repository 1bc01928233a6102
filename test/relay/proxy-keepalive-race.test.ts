// keepaliveRace: the server closes an idle keep-alive connection just as the client reuses it
// (nodejs/node#20256, #47130), made deterministic, as Node's http Agent, a retrying client,
// undici/fetch, axios and got observe it against a Node server on loopback.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import axios from 'axios';
import got from 'got';
import { Agent as UndiciAgent, request as undiciRequest } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isConnectionReset } from '../../src/index';
import { resolveFaults } from '../../src/relay/fault-policy';
import { createFaultProxy, type FaultProxy, type Faults } from '../../src/testing/index';
import { guardResources } from '../close/support';

guardResources();

const IDLE = 50;
const PAUSE = 120;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

let server: http.Server;
let upstreamPort: number;
let served = 0;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    served++;
    req.resume();
    req.on('end', () => res.end(`hello ${req.method} ${req.url}`));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  upstreamPort = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

async function withProxy<T>(faults: Faults, fn: (p: FaultProxy) => Promise<T>): Promise<T> {
  const proxy = await createFaultProxy({ upstream: { host: '127.0.0.1', port: upstreamPort }, faults });
  try {
    return await fn(proxy);
  } finally {
    await proxy.close();
  }
}

interface Outcome { status?: number; body?: string; error?: NodeJS.ErrnoException; reusedSocket: boolean }

/** One GET through `agent`, as the Node http docs write it. */
function get(url: string, agent: http.Agent): Promise<Outcome> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode, body, reusedSocket: req.reusedSocket }));
      res.on('error', (error) => resolve({ error, reusedSocket: req.reusedSocket }));
    });
    req.on('error', (error) => resolve({ error, reusedSocket: req.reusedSocket }));
  });
}

/** The retry Node's docs show under `request.reusedSocket`: retry when a reused socket was reset. */
async function getWithReuseRetry(url: string, agent: http.Agent): Promise<Outcome> {
  for (;;) {
    const out = await get(url, agent);
    if (out.error && out.reusedSocket && out.error.code === 'ECONNRESET') continue;
    return out;
  }
}

describe('keepaliveRace', () => {
  it('is validated like every fault', () => {
    expect(resolveFaults({ keepaliveRace: 10 }).keepaliveRace).toEqual({ afterIdleMs: 10, close: 'reset' });
    expect(resolveFaults({ keepaliveRace: { afterIdleMs: 0, close: 'fin' } }).keepaliveRace).toEqual({ afterIdleMs: 0, close: 'fin' });
    expect(resolveFaults({}).keepaliveRace).toBeNull();
    expect(() => resolveFaults({ keepaliveRace: -1 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE', name: 'RangeError' }));
    expect(() => resolveFaults({ keepaliveRace: '5' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', name: 'TypeError' }));
    expect(() => resolveFaults({ keepaliveRace: {} })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', message: expect.stringContaining('faults.keepaliveRace.afterIdleMs') }));
    expect(() => resolveFaults({ keepaliveRace: { afterIdleMs: 5, close: 'rst' } })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => resolveFaults({ keepaliveRace: { afterIdleMs: 5, idle: 1 } })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
  });

  it("makes Node's keep-alive Agent fail on the reused socket, every time, with ECONNRESET", async () => {
    await withProxy({ keepaliveRace: IDLE }, async (p) => {
      for (let round = 0; round < 5; round++) {
        const agent = new http.Agent({ keepAlive: true });
        try {
          const first = await get(`http://${p.hostPort}/a`, agent);
          expect(first).toMatchObject({ status: 200, body: 'hello GET /a', reusedSocket: false });
          await sleep(PAUSE);
          const before = served;
          const second = await get(`http://${p.hostPort}/b`, agent);
          expect(second.reusedSocket).toBe(true);
          expect(second.error?.code).toBe('ECONNRESET');
          expect(served).toBe(before); // the request never reached the server
        } finally {
          agent.destroy();
        }
        const r = await p.nextReport();
        expect(r.actions.map((a) => a.fault)).toEqual(['keepalive-race']);
        expect(r.client.closedWith).toBe('reset');
        expect(r.upstream.closedWith).toBe('destroy');
      }
    });
  });

  it("acts on the client whatever direction says (direction: 'up' too)", async () => {
    await withProxy({ keepaliveRace: IDLE, direction: 'up' }, async (p) => {
      const agent = new http.Agent({ keepAlive: true });
      try {
        expect((await get(`http://${p.hostPort}/a`, agent)).status).toBe(200);
        await sleep(PAUSE);
        expect((await get(`http://${p.hostPort}/b`, agent)).error?.code).toBe('ECONNRESET');
      } finally {
        agent.destroy();
      }
      expect((await p.nextReport()).client.closedWith).toBe('reset');
    });
  });

  it('does not fire on requests closer together than the silence, nor on a new connection', async () => {
    await withProxy({ keepaliveRace: 1000 }, async (p) => {
      const agent = new http.Agent({ keepAlive: true });
      try {
        for (let i = 0; i < 3; i++) {
          const out = await get(`http://${p.hostPort}/${i}`, agent);
          expect(out).toMatchObject({ status: 200, reusedSocket: i > 0 });
        }
      } finally {
        agent.destroy();
      }
      expect((await p.nextReport()).actions).toEqual([]);
    });
  });

  it("a client that retries a reset on a reused socket (Node's docs) succeeds", async () => {
    await withProxy({ keepaliveRace: IDLE }, async (p) => {
      const agent = new http.Agent({ keepAlive: true });
      try {
        expect((await getWithReuseRetry(`http://${p.hostPort}/a`, agent)).status).toBe(200);
        await sleep(PAUSE);
        const out = await getWithReuseRetry(`http://${p.hostPort}/b`, agent);
        expect(out).toMatchObject({ status: 200, body: 'hello GET /b', reusedSocket: false });
      } finally {
        agent.destroy();
      }
      expect((await p.nextReport()).actions.map((a) => a.fault)).toEqual(['keepalive-race']);
      expect((await p.nextReport()).actions).toEqual([]);
    });
  });

  it("with close: 'fin', Node's Agent gets a FIN with no response: 'socket hang up', ECONNRESET", async () => {
    await withProxy({ keepaliveRace: { afterIdleMs: IDLE, close: 'fin' } }, async (p) => {
      const agent = new http.Agent({ keepAlive: true });
      try {
        expect((await get(`http://${p.hostPort}/a`, agent)).status).toBe(200);
        await sleep(PAUSE);
        const out = await get(`http://${p.hostPort}/b`, agent);
        expect(out.reusedSocket).toBe(true);
        expect(out.error).toMatchObject({ code: 'ECONNRESET', message: 'socket hang up' });
      } finally {
        agent.destroy();
      }
      const r = await p.nextReport();
      expect(r.actions.map((a) => a.fault)).toEqual(['keepalive-race']);
      expect(r.client.closedWith).toBe('fin');
    });
  });

  it('undici: the request on the reused connection fails (no retry for a request already sent)', async () => {
    await withProxy({ keepaliveRace: IDLE }, async (p) => {
      const dispatcher = new UndiciAgent();
      try {
        const first = await undiciRequest(`http://${p.hostPort}/a`, { dispatcher });
        expect(await first.body.text()).toBe('hello GET /a');
        await sleep(PAUSE);
        const err = await undiciRequest(`http://${p.hostPort}/b`, { dispatcher }).then(() => null, (e: unknown) => e);
        expect(err).not.toBeNull();
        expect(isConnectionReset(err)).toBe(true);
      } finally {
        await dispatcher.close();
      }
      expect((await p.nextReport()).actions.map((a) => a.fault)).toEqual(['keepalive-race']);
    });
  });

  it("Node's global fetch: the same, as TypeError 'fetch failed' with the reset as its cause", async () => {
    await withProxy({ keepaliveRace: IDLE }, async (p) => {
      expect(await (await fetch(`http://${p.hostPort}/a`)).text()).toBe('hello GET /a');
      await sleep(PAUSE);
      const err = await fetch(`http://${p.hostPort}/b`).then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(TypeError);
      expect((err as Error).message).toBe('fetch failed');
      expect(isConnectionReset(err)).toBe(true);
      expect((await p.nextReport()).actions.map((a) => a.fault)).toEqual(['keepalive-race']);
    });
  });

  it('axios with a keep-alive agent fails on the reused socket with ECONNRESET', async () => {
    await withProxy({ keepaliveRace: IDLE }, async (p) => {
      const httpAgent = new http.Agent({ keepAlive: true });
      try {
        expect((await axios.get(`http://${p.hostPort}/a`, { httpAgent, proxy: false })).data).toBe('hello GET /a');
        await sleep(PAUSE);
        const err = await axios.get(`http://${p.hostPort}/b`, { httpAgent, proxy: false }).then(() => null, (e: unknown) => e);
        expect(err).toMatchObject({ code: 'ECONNRESET' });
      } finally {
        httpAgent.destroy();
      }
    });
  });

  it('got: with retry 0 it fails with ECONNRESET; with its default retry the GET succeeds', async () => {
    await withProxy({ keepaliveRace: IDLE }, async (p) => {
      const agent = new http.Agent({ keepAlive: true });
      try {
        expect(await got(`http://${p.hostPort}/a`, { agent: { http: agent } }).text()).toBe('hello GET /a');
        await sleep(PAUSE);
        const err = await got(`http://${p.hostPort}/b`, { agent: { http: agent }, retry: { limit: 0 } }).text().then(() => null, (e: unknown) => e);
        expect(err).toMatchObject({ code: 'ECONNRESET' });

        expect(await got(`http://${p.hostPort}/c`, { agent: { http: agent } }).text()).toBe('hello GET /c');
        await sleep(PAUSE);
        expect(await got(`http://${p.hostPort}/d`, { agent: { http: agent } }).text()).toBe('hello GET /d');
      } finally {
        agent.destroy();
      }
    });
  });
});
