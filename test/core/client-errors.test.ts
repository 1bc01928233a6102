// One answer for every client: what classifyConnectionError says of the error each real HTTP client
// raises when the server resets, closes early, is not there, never answers, or the caller aborts.
import http from 'node:http';
import net from 'node:net';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import axios from 'axios';
import got from 'got';
import nodeFetch from 'node-fetch';
import * as undici from 'undici';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classifyConnectionError, setLinger, type ConnectionErrorKind } from '../../src/index';

type Case = 'reset' | 'closed-early' | 'refused' | 'timed-out' | 'aborted' | 'body-fin' | 'body-rst';
type Cell = ConnectionErrorKind | undefined | 'n/a';
const CASES: readonly Case[] = ['reset', 'closed-early', 'refused', 'timed-out', 'aborted', 'body-fin', 'body-rst'];

// The table: client × server behaviour → what classifyConnectionError says of the client's error.
// Before any response the server resets (reset), closes with a FIN (closed-early), is not there
// (refused), never answers (timed-out), or the caller gives up (aborted); body-fin and body-rst:
// the server sends the head and part of the body, then a FIN or an RST.
// node-fetch 3 drops the AbortSignal's reason: its timeout is an AbortError like any abort, and
// classifyConnectionError(signal.reason) says 'timed-out' (asserted below). It reads the body
// through Node's IncomingMessage, whose 'aborted' error (code ECONNRESET, no errno) hides an RST.
const TABLE: Record<string, Record<Case, Cell>> = {
  'http.request': { reset: 'reset', 'closed-early': 'closed-early', refused: 'refused', 'timed-out': 'timed-out', aborted: 'aborted', 'body-fin': 'closed-early', 'body-rst': 'reset' },
  fetch:          { reset: 'reset', 'closed-early': 'closed-early', refused: 'refused', 'timed-out': 'timed-out', aborted: 'aborted', 'body-fin': 'closed-early', 'body-rst': 'reset' },
  undici:         { reset: 'reset', 'closed-early': 'closed-early', refused: 'refused', 'timed-out': 'timed-out', aborted: 'aborted', 'body-fin': 'closed-early', 'body-rst': 'reset' },
  axios:          { reset: 'reset', 'closed-early': 'closed-early', refused: 'refused', 'timed-out': 'timed-out', aborted: 'aborted', 'body-fin': 'closed-early', 'body-rst': 'reset' },
  got:            { reset: 'reset', 'closed-early': 'closed-early', refused: 'refused', 'timed-out': 'timed-out', aborted: 'aborted', 'body-fin': 'closed-early', 'body-rst': 'reset' },
  'node-fetch':   { reset: 'reset', 'closed-early': 'closed-early', refused: 'refused', 'timed-out': 'aborted',   aborted: 'aborted', 'body-fin': 'closed-early', 'body-rst': 'closed-early' },
  ws:             { reset: 'reset', 'closed-early': 'closed-early', refused: 'refused', 'timed-out': 'timed-out', aborted: 'aborted', 'body-fin': 'n/a',          'body-rst': 'n/a' },
  // After the upgrade ws raises no error: the recipe of docs/api.md tells.
  'ws, after the upgrade': { reset: 'reset', 'closed-early': 'closed-early', refused: 'n/a', 'timed-out': 'n/a', aborted: 'n/a', 'body-fin': 'n/a', 'body-rst': 'n/a' },
};

const TIMEOUT_MS = 300;
const ABORT_AFTER_MS = 50;

interface Call { url: string; signal?: AbortSignal; timeoutMs?: number }
/** Each client, used as its users use it; resolves to the error it raised (or rejects if none). */
const clients: Record<string, (call: Call) => Promise<unknown>> = {
  'http.request': ({ url, signal, timeoutMs }) => new Promise((resolve, reject) => {
    const req = http.request(url, { signal: signal ?? (timeoutMs ? AbortSignal.timeout(timeoutMs) : undefined) }, (res) => {
      res.on('error', resolve).on('end', () => reject(new Error('no error'))).resume();
    });
    req.on('error', resolve).end();
  }),
  fetch: ({ url, signal, timeoutMs }) => caught(fetch(url, { signal: signal ?? (timeoutMs ? AbortSignal.timeout(timeoutMs) : undefined) }).then((r) => r.text())),
  undici: ({ url, signal, timeoutMs }) => caught(undici.request(url, { signal, headersTimeout: timeoutMs }).then((r) => r.body.text())),
  axios: ({ url, signal, timeoutMs }) => caught(axios.get(url, { signal, timeout: timeoutMs })),
  got: ({ url, signal, timeoutMs }) => caught(got(url, { signal, timeout: timeoutMs ? { request: timeoutMs } : undefined, retry: { limit: 0 } }).text()),
  'node-fetch': async ({ url, signal, timeoutMs }) => {
    const timeout = timeoutMs ? AbortSignal.timeout(timeoutMs) : undefined;
    const err = await caught(nodeFetch(url, { signal: signal ?? timeout }).then((r) => r.text()));
    if (timeout) expect(classifyConnectionError(timeout.reason)).toBe('timed-out');
    return err;
  },
  ws: ({ url, signal, timeoutMs }) => new Promise((resolve, reject) => {
    const ws = new WebSocket(url.replace('http:', 'ws:'), { handshakeTimeout: timeoutMs });
    signal?.addEventListener('abort', () => ws.terminate());
    let error: unknown;
    ws.on('error', (err) => { error = err; });
    ws.on('close', () => (error ? resolve(error) : reject(new Error('no error'))));
  }),
  // The recipe of docs/api.md, run as written, with its console.log as the answer.
  'ws, after the upgrade': ({ url }) => new Promise((resolve) => {
    const run = new Function('WebSocket', 'url', 'classifyConnectionError', 'console', wsRecipe);
    run(WebSocket, `${url.replace('http:', 'ws:')}upgrade-then-close`, classifyConnectionError, { log: resolve });
  }),
};

const apiDoc = fs.readFileSync(path.join(__dirname, '..', '..', 'docs', 'api.md'), 'utf8');
const wsRecipe = /\*\*ws: a reset after the upgrade\.\*\*[\s\S]*?```js\n([\s\S]*?)```/.exec(apiDoc)?.[1] ?? 'throw new Error("no ws recipe in docs/api.md")';

const caught = (promise: Promise<unknown>) => promise.then(() => { throw new Error('no error'); }, (err: unknown) => err);

/** A server that reads the request head, then resets (RST), closes (FIN), or never answers. */
const accepted = new Set<net.Socket>();
async function listen(behaviour: 'reset' | 'fin' | 'silent' | 'body-fin' | 'body-rst'): Promise<net.Server> {
  const server = net.createServer((socket) => {
    accepted.add(socket.on('close', () => accepted.delete(socket)));
    socket.on('error', () => undefined);
    let head = '';
    socket.on('data', (chunk) => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n') || behaviour === 'silent') return;
      const key = /sec-websocket-key: *(.*)\r\n/i.exec(head)?.[1];
      if (head.includes('/upgrade-then-close') && key) {
        const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
        socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
      }
      if (behaviour.startsWith('body-')) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n20 bytes of the 100.');
      // After the 101, once the client has it: the same close as for every other client.
      setTimeout(() => {
        if (behaviour === 'reset' || behaviour === 'body-rst') { setLinger(socket, true, 0); socket.destroy(); } else socket.end();
      }, head.includes('/upgrade-then-close') || behaviour.startsWith('body-') ? 50 : 0);
      head = '';
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

const servers: net.Server[] = [];
const urls = {} as Record<Case, string>;
const url = (s: net.Server) => `http://127.0.0.1:${(s.address() as net.AddressInfo).port}/`;

describe('classifyConnectionError over real clients', () => {
  beforeAll(async () => {
    const [reset, fin, silent, gone, bodyFin, bodyRst] = await Promise.all(
      [listen('reset'), listen('fin'), listen('silent'), listen('silent'), listen('body-fin'), listen('body-rst')]);
    servers.push(reset, fin, silent, bodyFin, bodyRst);
    urls['body-fin'] = url(bodyFin);
    urls['body-rst'] = url(bodyRst);
    urls.reset = url(reset);
    urls['closed-early'] = url(fin);
    urls['timed-out'] = url(silent);
    urls.aborted = url(silent);
    urls.refused = url(gone); // bound, noted, closed: nothing listens there now
    await new Promise((resolve) => gone.close(resolve));
  });
  afterAll(async () => {
    for (const socket of accepted) socket.destroy();
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  });

  async function observe(client: string, kase: Case): Promise<Cell> {
    if (TABLE[client][kase] === 'n/a') return 'n/a';
    const controller = new AbortController();
    const timer = kase === 'aborted' ? setTimeout(() => controller.abort(), ABORT_AFTER_MS) : undefined;
    try {
      const result = await clients[client]({
        url: urls[kase],
        signal: kase === 'aborted' ? controller.signal : undefined,
        timeoutMs: kase === 'timed-out' ? TIMEOUT_MS : undefined,
      });
      return client === 'ws, after the upgrade' ? result as ConnectionErrorKind | undefined : classifyConnectionError(result);
    } finally {
      clearTimeout(timer);
    }
  }

  it('the table: every client, every case', async () => {
    const observed: Record<string, Record<Case, Cell>> = {};
    for (const client of Object.keys(TABLE)) {
      const cells = await Promise.all(CASES.map((kase) => observe(client, kase)));
      observed[client] = Object.fromEntries(CASES.map((kase, i) => [kase, cells[i]])) as Record<Case, Cell>;
    }
    expect(observed).toEqual(TABLE);
  }, 20_000);

  it('docs/api.md shows this table, row for row', () => {
    const rows = /\| client \| reset \|.*\n\|[-|]+\n((?:\|.*\n)+)/.exec(apiDoc)?.[1].trim().split('\n') ?? [];
    const shown = rows.map((row) => row.split('|').slice(2, -1).map((cell) => cell.replace(/[¹²]/g, '').trim() || 'n/a'));
    expect(shown).toEqual(Object.values(TABLE).map((row) => CASES.map((kase) => row[kase])));
  });

  it("what Node itself calls ECONNRESET although no RST was sent: 'socket hang up' and 'aborted', without errno or syscall", async () => {
    const hangUp = await clients['http.request']({ url: urls['closed-early'] });
    expect(hangUp).toMatchObject({ code: 'ECONNRESET', message: 'socket hang up' });
    const aborted = await new Promise((resolve) => http.get(urls['body-fin'], (res) => res.on('error', resolve).resume()));
    expect(aborted).toMatchObject({ code: 'ECONNRESET', message: 'aborted' });
    for (const err of [hangUp, aborted]) {
      expect(err).not.toHaveProperty('errno');
      expect(err).not.toHaveProperty('syscall');
    }
    // The same response cut by an RST: the request says read ECONNRESET, the response still 'aborted'.
    const both = await new Promise<unknown[]>((resolve) => {
      const seen: unknown[] = [];
      const req = http.get(urls['body-rst'], (res) => res.on('error', (err) => seen.push(err)).resume());
      req.on('error', (err) => seen.push(err)).on('close', () => setTimeout(() => resolve(seen), 20));
    });
    expect(both).toMatchObject([{ code: 'ECONNRESET', syscall: 'read' }, { code: 'ECONNRESET', message: 'aborted' }]);
    expect(typeof (both[0] as { errno?: unknown }).errno).toBe('number');
  });

  it("a name with two addresses (happy eyeballs): Node's AggregateError of refusals is 'refused'", async () => {
    const port = Number(new URL(urls.refused).port);
    // 'localhost' as a resolver that knows ::1 and 127.0.0.1 answers it (this machine's may know one).
    const lookup = ((_host: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => (options.all
      ? callback(null, [{ address: '::1', family: 6 }, { address: '127.0.0.1', family: 4 }])
      : callback(null, '127.0.0.1', 4))) as unknown as net.LookupFunction;
    const err = await new Promise((resolve) => net.connect({ host: 'localhost', port, lookup, autoSelectFamily: true }).on('error', resolve));
    expect(err).toBeInstanceOf(AggregateError);
    expect(classifyConnectionError(err)).toBe('refused');
    // The errors alone, without the code Node copies onto the AggregateError, say the same.
    expect(classifyConnectionError(new AggregateError((err as AggregateError).errors))).toBe('refused');
  });
});
