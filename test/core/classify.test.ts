// classifyConnectionError on the shapes each client raises (as measured in client-errors.test.ts),
// on numbers and strings, and on chains: precedence, depth, cycles, AggregateError.
import { describe, expect, it } from 'vitest';
import { CONNECTION_ERROR_PRECEDENCE, classifyConnectionError, type ConnectionErrorKind } from '../../src/index';

const system = (code: string, errno: number, syscall: string) => Object.assign(new Error(`${syscall} ${code}`), { code, errno, syscall });
const hangUp = () => Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
const wrap = (inner: unknown, times: number) => {
  let e = inner;
  for (let i = 0; i < times; i++) e = new Error(`wrap ${i}`, { cause: e });
  return e;
};

describe('classifyConnectionError: every kind, every spelling', () => {
  const cases: [string, unknown, ConnectionErrorKind | undefined][] = [
    ['an OS reset (errno and syscall)', system('ECONNRESET', -104, 'read'), 'reset'],
    ['an OS reset, errno only', { errno: -104 }, 'reset'],
    ['an OS reset, syscall only', { code: 'ECONNRESET', syscall: 'read' }, 'reset'],
    ["node-fetch's FetchError of a reset (errored syscall kept)", { name: 'FetchError', code: 'ECONNRESET', errno: 'ECONNRESET', erroredSysCall: 'read' }, 'reset'],
    ['WSAECONNRESET by name', { code: 'WSAECONNRESET' }, 'reset'],
    ['ERROR_NETNAME_DELETED by name', { code: 'ERROR_NETNAME_DELETED' }, 'reset'],
    ["libuv's Windows errno", { errno: -4077 }, 'reset'],
    ['EPIPE: a write into a reset connection', system('EPIPE', -32, 'write'), 'reset'],
    ["Node's socket hang up (ECONNRESET, no errno, no syscall)", hangUp(), 'closed-early'],
    ["Node's IncomingMessage 'aborted'", Object.assign(new Error('aborted'), { code: 'ECONNRESET' }), 'closed-early'],
    ["node-fetch's FetchError of a hang up", { name: 'FetchError', code: 'ECONNRESET', errno: 'ECONNRESET', message: 'reason: socket hang up' }, 'closed-early'],
    ["undici's other side closed", { name: 'SocketError', code: 'UND_ERR_SOCKET', message: 'other side closed' }, 'closed-early'],
    ['fetch: TypeError fetch failed, caused by UND_ERR_SOCKET', new TypeError('fetch failed', { cause: { code: 'UND_ERR_SOCKET' } }), 'closed-early'],
    ["axios's response cut short", { name: 'AxiosError', code: 'ERR_BAD_RESPONSE', message: 'stream has been aborted' }, 'closed-early'],
    ["node-fetch's Premature close", { code: 'ERR_STREAM_PREMATURE_CLOSE', message: 'Premature close' }, 'closed-early'],
    ['ECONNREFUSED', system('ECONNREFUSED', -111, 'connect'), 'refused'],
    ['ETIMEDOUT', system('ETIMEDOUT', -110, 'connect'), 'timed-out'],
    ["got's TimeoutError", { name: 'TimeoutError', code: 'ETIMEDOUT' }, 'timed-out'],
    ["axios's timeout", { name: 'AxiosError', code: 'ECONNABORTED', message: 'timeout of 300ms exceeded' }, 'timed-out'],
    ["undici's timeouts", { code: 'UND_ERR_HEADERS_TIMEOUT' }, 'timed-out'],
    ['undici body timeout', { code: 'UND_ERR_BODY_TIMEOUT' }, 'timed-out'],
    ['undici connect timeout', { code: 'UND_ERR_CONNECT_TIMEOUT' }, 'timed-out'],
    ['AbortSignal.timeout()', new DOMException('The operation was aborted due to timeout', 'TimeoutError'), 'timed-out'],
    ["ws's handshake timeout", new Error('Opening handshake has timed out'), 'timed-out'],
    ['a DOMException AbortError', new DOMException('This operation was aborted', 'AbortError'), 'aborted'],
    ["Node's AbortError", { name: 'AbortError', code: 'ABORT_ERR' }, 'aborted'],
    ["axios's CanceledError", { name: 'CanceledError', code: 'ERR_CANCELED' }, 'aborted'],
    ["undici's RequestAbortedError", { code: 'UND_ERR_ABORTED' }, 'aborted'],
    ["ws's terminate() before open", new Error('WebSocket was closed before the connection was established'), 'aborted'],
    ['axios ECONNABORTED that is no timeout', { code: 'ECONNABORTED', message: 'Request aborted' }, undefined],
    ['an OS ECONNABORTED', system('ECONNABORTED', -103, 'read'), undefined],
    ['an unrelated error', new Error('nope'), undefined],
  ];
  for (const [what, input, kind] of cases) it(what, () => expect(classifyConnectionError(input, 'linux')).toBe(kind));

  it('numbers and code strings, read as normalizeErrorCode reads them', () => {
    expect(classifyConnectionError(104, 'linux')).toBe('reset');
    expect(classifyConnectionError(54, 'darwin')).toBe('reset');
    expect(classifyConnectionError(54, 'linux')).toBeUndefined();
    expect(classifyConnectionError(10054)).toBe('reset');
    expect(classifyConnectionError(-4077)).toBe('reset');
    expect(classifyConnectionError(10061)).toBe('refused');
    expect(classifyConnectionError(10060)).toBe('timed-out');
    expect(classifyConnectionError('ECONNRESET')).toBe('reset');
    expect(classifyConnectionError('wsaeconnreset')).toBe('reset');
    expect(classifyConnectionError('EPIPE')).toBe('reset');
    expect(classifyConnectionError('ECONNREFUSED')).toBe('refused');
    expect(classifyConnectionError('ETIMEDOUT')).toBe('timed-out');
    expect(classifyConnectionError('UND_ERR_SOCKET')).toBe('closed-early');
    expect(classifyConnectionError('ERR_CANCELED')).toBe('aborted');
    expect(classifyConnectionError('ECONNABORTED')).toBeUndefined();
    for (const x of [0, NaN, '', 'hello', null, undefined, {}, [], true, 10n, () => 1]) expect(classifyConnectionError(x as unknown)).toBeUndefined();
  });
});

describe('classifyConnectionError: chains', () => {
  it('the precedence is reset, refused, timed-out, closed-early, aborted', () => {
    expect(CONNECTION_ERROR_PRECEDENCE).toEqual(['reset', 'refused', 'timed-out', 'closed-early', 'aborted']);
  });

  it("an OS reset anywhere beats a wrapper's hang up (axios and got copy the code, not the errno)", () => {
    const reset = system('ECONNRESET', -104, 'read');
    expect(classifyConnectionError({ name: 'AxiosError', code: 'ECONNRESET', message: 'read ECONNRESET', cause: reset })).toBe('reset');
    expect(classifyConnectionError(Object.assign(hangUp(), { cause: reset }))).toBe('reset');
  });

  it('a TimeoutError beats the AbortError that carries it (http.request with AbortSignal.timeout())', () => {
    const timeout = new DOMException('The operation was aborted due to timeout', 'TimeoutError');
    expect(classifyConnectionError({ name: 'AbortError', code: 'ABORT_ERR', cause: timeout })).toBe('timed-out');
    expect(classifyConnectionError({ name: 'AbortError', code: 'ABORT_ERR', cause: new DOMException('x', 'AbortError') })).toBe('aborted');
  });

  it('every kind against every weaker one, whichever is outside', () => {
    const sample: Record<ConnectionErrorKind, () => object> = {
      reset: () => system('ECONNRESET', -104, 'read'),
      refused: () => system('ECONNREFUSED', -111, 'connect'),
      'timed-out': () => ({ code: 'UND_ERR_HEADERS_TIMEOUT' }),
      'closed-early': () => ({ code: 'UND_ERR_SOCKET' }),
      aborted: () => ({ name: 'AbortError' }),
    };
    CONNECTION_ERROR_PRECEDENCE.forEach((strong, i) => {
      for (const weak of CONNECTION_ERROR_PRECEDENCE.slice(i + 1)) {
        expect(classifyConnectionError(Object.assign(sample[weak](), { cause: sample[strong]() })), `${strong} inside ${weak}`).toBe(strong);
        expect(classifyConnectionError(Object.assign(sample[strong](), { cause: sample[weak]() })), `${strong} outside ${weak}`).toBe(strong);
        expect(classifyConnectionError(new AggregateError([sample[weak](), sample[strong]()])), `${strong} beside ${weak}`).toBe(strong);
      }
    });
  });

  it('follows causes far deeper than five wraps, and ends on cycles', () => {
    expect(classifyConnectionError(wrap(system('ECONNRESET', -104, 'read'), 20))).toBe('reset');
    expect(classifyConnectionError(wrap(hangUp(), 20))).toBe('closed-early');
    const a = new Error('a') as Error & { cause?: unknown };
    const b = new Error('b', { cause: a });
    a.cause = b;
    expect(classifyConnectionError(a)).toBeUndefined();
    a.cause = new Error('c', { cause: [b, hangUp()][1] });
    expect(classifyConnectionError(b)).toBe('closed-early');
  });

  it('is bounded: a chain longer than the walk goes no further; a wide AggregateError is cut', () => {
    expect(classifyConnectionError(wrap(hangUp(), 1000))).toBeUndefined();
    const wide = new AggregateError([...Array.from({ length: 10_000 }, () => new Error('x')), hangUp()]);
    expect(classifyConnectionError(wide)).toBeUndefined();
  });

  it("AggregateError's errors (Node's happy eyeballs), nested too", () => {
    const refusals = [system('ECONNREFUSED', -111, 'connect'), system('ECONNREFUSED', -111, 'connect')];
    expect(classifyConnectionError(new AggregateError(refusals))).toBe('refused');
    expect(classifyConnectionError(new TypeError('fetch failed', { cause: new AggregateError(refusals) }))).toBe('refused');
    expect(classifyConnectionError({ name: 'AggregateError', errors: [hangUp()] })).toBe('closed-early');
    // An `errors` array on anything else is not an error list.
    expect(classifyConnectionError({ name: 'ValidationError', errors: [hangUp()] })).toBeUndefined();
  });

  it('a getter that throws counts as absent', () => {
    const hostile = { get code(): string { throw new Error('no'); }, cause: hangUp() };
    expect(classifyConnectionError(hostile)).toBe('closed-early');
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    expect(classifyConnectionError(proxy)).toBeUndefined();
  });
});
