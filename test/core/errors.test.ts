import { describe, expect, it } from 'vitest';
import { ERROR_CODES, SocketError, isConnectionReset, normalizeErrorCode } from '../../src/index';

describe('the error table: every spelling of every code', () => {
  for (const entry of ERROR_CODES) {
    describe(entry.code, () => {
      it('Linux errno, plain and as Node reports it (negated)', () => {
        expect(normalizeErrorCode(entry.linux, 'linux')).toBe(entry.code);
        expect(normalizeErrorCode(-entry.linux, 'linux')).toBe(entry.code);
        expect(normalizeErrorCode(String(entry.linux), 'linux')).toBe(entry.code);
      });
      it('macOS errno, plain and negated', () => {
        expect(normalizeErrorCode(entry.darwin, 'darwin')).toBe(entry.code);
        expect(normalizeErrorCode(-entry.darwin, 'darwin')).toBe(entry.code);
      });
      it('Winsock numbers, on every platform', () => {
        for (const n of entry.winsock) {
          for (const platform of ['linux', 'darwin', 'win32']) expect(normalizeErrorCode(n, platform)).toBe(entry.code);
        }
      });
      it('Win32 system error numbers, read for win32 only', () => {
        for (const n of entry.win32) expect(normalizeErrorCode(n, 'win32')).toBe(entry.code);
      });
      it("libuv's Windows numbers (Node's errno on Windows), on every platform", () => {
        for (const platform of ['linux', 'darwin', 'win32']) expect(normalizeErrorCode(entry.libuvWindows, platform)).toBe(entry.code);
      });
      it('names and aliases, any case', () => {
        expect(normalizeErrorCode(entry.code)).toBe(entry.code);
        expect(normalizeErrorCode(entry.code.toLowerCase())).toBe(entry.code);
        for (const alias of entry.aliases) expect(normalizeErrorCode(alias)).toBe(entry.code);
      });
      it('error objects: code first, then errno, then cause', () => {
        expect(normalizeErrorCode({ code: entry.code })).toBe(entry.code);
        expect(normalizeErrorCode({ errno: entry.libuvWindows })).toBe(entry.code);
        expect(normalizeErrorCode({ errno: -entry.linux }, 'linux')).toBe(entry.code);
        expect(normalizeErrorCode(new Error('wrapped', { cause: { code: entry.aliases[0] } }))).toBe(entry.code);
      });
    });
  }

  it('every spelling of a reset is a reset', () => {
    const spellings = [104, -104, 10054, -4077, 'ECONNRESET', 'WSAECONNRESET', 'ERROR_NETNAME_DELETED'];
    for (const s of spellings) expect(isConnectionReset(s, 'linux'), String(s)).toBe(true);
    expect(isConnectionReset(54, 'darwin')).toBe(true);
    expect(isConnectionReset(-54, 'darwin')).toBe(true);
    expect(isConnectionReset(64, 'win32')).toBe(true);
    expect(isConnectionReset({ code: 'ECONNRESET', errno: -104, syscall: 'read' })).toBe(true);
  });

  it('numbers are read for their platform: 104 and 54 collide', () => {
    expect(isConnectionReset(54, 'linux')).toBe(false);
    expect(isConnectionReset(104, 'darwin')).toBe(false);
    expect(isConnectionReset(64, 'linux')).toBe(false);
    expect(normalizeErrorCode(104, 'win32')).toBeUndefined();
    expect(normalizeErrorCode(-104, 'win32')).toBeUndefined();
  });

  it('neighbours are not resets', () => {
    for (const s of ['ECONNABORTED', 'EPIPE', 'WSAESHUTDOWN', 10053, -4079, 'ENOTCONN', 'ETIMEDOUT']) {
      expect(isConnectionReset(s, 'linux'), String(s)).toBe(false);
    }
  });

  it('WSAESHUTDOWN is EPIPE; unknown Winsock names lose their prefix', () => {
    expect(normalizeErrorCode('WSAESHUTDOWN')).toBe('EPIPE');
    expect(normalizeErrorCode(10058)).toBe('EPIPE');
    expect(normalizeErrorCode('WSAETIMEDOUT')).toBe('ETIMEDOUT');
    expect(normalizeErrorCode(10060)).toBe('ETIMEDOUT');
  });

  it('nothing that names no error', () => {
    for (const x of [0, 1.5, NaN, Infinity, -1e9, '', 'hello', null, undefined, {}, [], true, 10n, () => 1]) {
      expect(normalizeErrorCode(x as unknown), String(x)).toBeUndefined();
      expect(isConnectionReset(x as unknown)).toBe(false);
    }
  });

  it('cycles and deep cause chains end', () => {
    const a: { cause?: unknown } = {};
    a.cause = a;
    expect(normalizeErrorCode(a)).toBeUndefined();
  });

  it('SocketError is shaped like Node\'s SystemError', () => {
    const err = new SocketError('shutdown', 107, 'linux');
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('SocketError');
    expect(err.code).toBe('ENOTCONN');
    expect(err.errno).toBe(107);
    expect(err.syscall).toBe('shutdown');
    expect(err.message).toBe('shutdown ENOTCONN');
    expect(new SocketError('setsockopt', 10054, 'win32').code).toBe('ECONNRESET');
  });
});

describe('the walk through causes and AggregateError.errors', () => {
  const reset = () => Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET', errno: -104, syscall: 'read' });
  const wrap = (inner: unknown, times: number) => {
    let e = inner;
    for (let i = 0; i < times; i++) e = new Error(`wrap ${i}`, { cause: e });
    return e;
  };

  it('reaches a code far deeper than five wraps', () => {
    expect(normalizeErrorCode(wrap(reset(), 5))).toBe('ECONNRESET');
    expect(normalizeErrorCode(wrap(reset(), 20))).toBe('ECONNRESET');
    expect(isConnectionReset(wrap({ errno: 10054 }, 20))).toBe(true);
  });

  it('is bounded: a chain of a thousand wraps is not followed to its end', () => {
    expect(normalizeErrorCode(wrap(reset(), 1000))).toBeUndefined();
  });

  it('ends on a cycle anywhere in the chain', () => {
    const a = new Error('a') as Error & { cause?: unknown };
    a.cause = new Error('b', { cause: new Error('c', { cause: a }) });
    expect(normalizeErrorCode(a)).toBeUndefined();
  });

  it("examines an AggregateError's errors (Node's happy eyeballs), the outer code first", () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED ::1:1'), { code: 'ECONNREFUSED', errno: -111, syscall: 'connect' });
    expect(normalizeErrorCode(new AggregateError([refused, refused]))).toBe('ECONNREFUSED');
    expect(isConnectionReset(new AggregateError([new Error('x'), reset()]))).toBe(true);
    expect(normalizeErrorCode(Object.assign(new AggregateError([reset()]), { code: 'EPIPE' }))).toBe('EPIPE');
    expect(normalizeErrorCode(new Error('fetch failed', { cause: new AggregateError([refused]) }))).toBe('ECONNREFUSED');
    expect(normalizeErrorCode({ name: 'NotAnAggregate', errors: [reset()] })).toBeUndefined();
  });

  it('a getter that throws counts as absent', () => {
    expect(normalizeErrorCode({ get code(): string { throw new Error('no'); }, cause: reset() })).toBe('ECONNRESET');
  });
});
