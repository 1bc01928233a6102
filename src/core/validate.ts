import net from 'node:net';
import { inspect } from 'node:util';

// Node-style argument errors: the same classes, codes and message shapes as Node's validators.

function received(value: unknown): string {
  if (value === null || value === undefined) return ` Received ${value}`;
  if (typeof value === 'function') return ` Received function ${value.name || '<anonymous>'}`;
  if (typeof value === 'object') {
    const name = (value as object).constructor?.name;
    return name ? ` Received an instance of ${name}` : ` Received ${inspect(value, { depth: -1 })}`;
  }
  let shown = inspect(value, { colors: false });
  if (shown.length > 28) shown = `${shown.slice(0, 25)}...`;
  return ` Received type ${typeof value} (${shown})`;
}

function withCode<E extends Error>(error: E, code: string): E & { code: string } {
  return Object.assign(error, { code });
}

export function invalidArgType(name: string, expected: string, value: unknown): TypeError & { code: string } {
  return withCode(new TypeError(`The "${name}" argument must be ${expected}.${received(value)}`), 'ERR_INVALID_ARG_TYPE');
}

export function invalidArgValue(name: string, value: unknown, reason: string): TypeError & { code: string } {
  return withCode(
    new TypeError(`The argument '${name}' ${reason}. Received ${inspect(value, { depth: 0 })}`),
    'ERR_INVALID_ARG_VALUE',
  );
}

export function outOfRange(name: string, range: string, value: unknown): RangeError & { code: string } {
  return withCode(
    new RangeError(`The value of "${name}" is out of range. It must be ${range}. Received ${inspect(value)}`),
    'ERR_OUT_OF_RANGE',
  );
}

/** The longest delay a Node timer takes (2^31 - 1 ms); longer ones fire at once, with a warning. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** An integer in [min, max], or a typed error naming the argument. */
export function validateInteger(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
  if (!Number.isInteger(value)) throw outOfRange(name, 'an integer', value);
  if (value < min || value > max) throw outOfRange(name, `>= ${min} && <= ${max}`, value);
  return value;
}

/** A net.Socket or tls.TLSSocket. */
export function validateSocket(socket: unknown): asserts socket is net.Socket {
  if (!(socket instanceof net.Socket)) throw invalidArgType('socket', 'an instance of net.Socket or tls.TLSSocket', socket);
}

/** What an omitted options argument reads as: one frozen object, not a new one per call. */
const NO_OPTIONS: Readonly<Record<string, unknown>> = Object.freeze({});

export function validateOptionsObject(options: unknown): Readonly<Record<string, unknown>> {
  if (options === undefined) return NO_OPTIONS;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw invalidArgType('options', 'of type object', options);
  }
  return options as Record<string, unknown>;
}

export function validateSignal(signal: unknown): AbortSignal | undefined {
  if (signal === undefined) return undefined;
  if (!(signal instanceof AbortSignal)) throw invalidArgType('options.signal', 'an instance of AbortSignal', signal);
  return signal;
}

export function validateChoice<T extends string>(value: unknown, name: string, choices: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (typeof value !== 'string') throw invalidArgType(name, `one of ${choices.map((c) => `'${c}'`).join(', ')}`, value);
  if (!(choices as readonly string[]).includes(value)) {
    throw invalidArgValue(name, value, `must be one of ${choices.map((c) => `'${c}'`).join(', ')}`);
  }
  return value as T;
}

/** SO_LINGER's on/off: a boolean, or 0 / 1 as C spells it. */
export function validateOnoff(onoff: unknown): boolean {
  if (typeof onoff === 'boolean') return onoff;
  if (onoff === 0 || onoff === 1) return onoff === 1;
  if (typeof onoff === 'number') throw invalidArgValue('onoff', onoff, 'must be a boolean, 0 or 1');
  throw invalidArgType('onoff', 'of type boolean', onoff);
}

// SHUT_RD / SHUT_WR / SHUT_RDWR are 0 / 1 / 2 on every platform (== SD_RECEIVE / SD_SEND / SD_BOTH).
const HOW_BY_NAME: Readonly<Record<string, number>> = { read: 0, write: 1, both: 2 };

/** shutdown()'s direction: a name or a SHUT_* number. */
export function validateHow(how: unknown): number {
  if (typeof how === 'string') {
    const value = HOW_BY_NAME[how];
    if (value === undefined) throw invalidArgValue('how', how, "must be 'read', 'write' or 'both'");
    return value;
  }
  if (typeof how === 'number') {
    if (how === 0 || how === 1 || how === 2) return how;
    throw invalidArgValue('how', how, 'must be SHUT_RD (0), SHUT_WR (1) or SHUT_RDWR (2)');
  }
  throw invalidArgType('how', "one of 'read', 'write', 'both' or a SHUT_* number", how);
}

// A DNS host name (RFC 1123 labels), for addresses given as text.
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/**
 * An address to listen on or connect to, the one rule for every API and command that takes one:
 * 'HOST:PORT' ('[v6]:PORT' for IPv6; ':PORT' or a bare port number takes `defaults.host`), or
 * `{ host, port }`. The host is an IP address or a host name; the port a whole number from
 * `defaults.minPort` (0 where the OS may pick one, 1 where something must be connected to) to
 * 65535. TypeError ERR_INVALID_ARG_TYPE / ERR_INVALID_ARG_VALUE for a bad shape or host,
 * RangeError ERR_OUT_OF_RANGE for a port out of range.
 */
export function parseAddress(value: unknown, name: string, defaults: { host?: string; minPort: 0 | 1 }): { host: string; port: number } {
  let host: unknown;
  let port: unknown;
  if (typeof value === 'number') {
    host = defaults.host;
    port = value;
  } else if (typeof value === 'string') {
    const m = /^\[([^\]]+)\]:(\d+)$/.exec(value) ?? /^([^:[\]]*):(\d+)$/.exec(value);
    if (!m) throw invalidArgValue(name, value, "must be 'HOST:PORT' (brackets around an IPv6 address: '[::1]:8080')");
    host = m[1] || defaults.host;
    port = Number(m[2]);
  } else if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    ({ host, port } = value as { host?: unknown; port?: unknown });
    host ??= defaults.host;
  } else {
    throw invalidArgType(name, "of type string ('HOST:PORT'), number or object", value);
  }
  if (typeof host !== 'string') throw invalidArgType(`${name}.host`, 'of type string', host);
  if (!net.isIP(host) && !HOSTNAME.test(host)) throw invalidArgValue(`${name}.host`, host, 'must be an IP address or a host name');
  if (port === undefined && defaults.minPort === 0) port = 0;
  return { host, port: validateInteger(port, `${name}.port`, defaults.minPort, 65535) };
}
