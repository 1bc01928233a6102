// The probe's target and options, checked before anything connects, and the request head.
import { MAX_TIMER_MS, invalidArgType, invalidArgValue, parseAddress, validateChoice, validateInteger, validateSignal } from '../core/validate.js';
import type { ProbeMode, ProbeOptions, ProbeOrder, ProbeProgress } from './types.js';

export interface ParsedTarget {
  kind: 'http' | 'tcp';
  host: string;
  port: number;
  url?: string;
  path?: string;
  hostHeader?: string;
}

export const DEFAULT_SIZE = 20 * 2 ** 20;
export const DEFAULT_TIMEOUT = 30_000;
export const DEFAULT_SETTLE = 500;
export const DEFAULT_HEAD_PAUSE = 10;
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export function parseTarget(target: unknown): ParsedTarget {
  if (target instanceof URL) target = target.href;
  if (typeof target === 'object' && target !== null && !Array.isArray(target)) {
    return { kind: 'tcp', ...parseAddress(target, 'target', { minPort: 1 }) };
  }
  if (typeof target !== 'string') throw invalidArgType('target', 'a URL string, a URL, "host:port" or { host, port }', target);
  const text = target.trim();
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    // The one HOST:PORT rule the proxy uses too; here a port to connect to, so 1-65535.
    if (!/^(\[[^\]]+\]|[^:[\]]+):\d+$/.test(text)) {
      throw invalidArgValue('target', target, 'must be an http:// URL or host:port ([v6-address]:port for IPv6)');
    }
    return { kind: 'tcp', ...parseAddress(text, 'target', { minPort: 1 }) };
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalidArgValue('target', target, 'is not a valid URL');
  }
  if (url.protocol !== 'tcp:' && url.protocol !== 'http:') {
    throw invalidArgValue('target', target, `has an unsupported scheme "${url.protocol}" (http://... or host:port; https is not supported)`);
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!host) throw invalidArgValue('target', target, 'has no host');
  if (url.protocol === 'tcp:') {
    if (!url.port) throw invalidArgValue('target', target, 'needs a host and a port (tcp://host:port)');
    return { kind: 'tcp', ...parseAddress({ host, port: Number(url.port) }, 'target', { minPort: 1 }) };
  }
  const address = parseAddress({ host, port: url.port ? Number(url.port) : 80 }, 'target', { minPort: 1 });
  return { kind: 'http', ...address, url: url.href, path: `${url.pathname || '/'}${url.search}`, hostHeader: url.host };
}

export interface Validated {
  size: number;
  chunked: boolean;
  method: string;
  headers: [string, string][];
  timeout: number;
  mode: ProbeMode;
  order: ProbeOrder;
  headPause: number;
  settle: number;
  signal: AbortSignal | undefined;
  onProgress: ((progress: ProbeProgress) => void) | undefined;
}

export function validateOptions(options: unknown, kind: 'http' | 'tcp'): Validated {
  if (options === undefined) options = {};
  if (typeof options !== 'object' || options === null) throw invalidArgType('options', 'of type object', options);
  const o = options as ProbeOptions;
  const size = o.size === undefined ? DEFAULT_SIZE : validateInteger(o.size, 'options.size', 0, Number.MAX_SAFE_INTEGER);
  const timeout = o.timeout === undefined ? DEFAULT_TIMEOUT : validateInteger(o.timeout, 'options.timeout', 1, MAX_TIMER_MS);
  const settle = o.settle === undefined ? DEFAULT_SETTLE : validateInteger(o.settle, 'options.settle', 0, MAX_TIMER_MS);
  const headPause = o.headPause === undefined ? DEFAULT_HEAD_PAUSE : validateInteger(o.headPause, 'options.headPause', 0, MAX_TIMER_MS);
  const mode = validateChoice(o.mode, 'options.mode', ['send-all', 'stop-early'] as const, 'send-all');
  const order = validateChoice(o.order, 'options.order', ['together', 'head-first'] as const, 'together');
  if (o.headPause !== undefined && order !== 'head-first') throw invalidArgValue('options.headPause', o.headPause, "applies only with order 'head-first'");
  if (o.chunked !== undefined && typeof o.chunked !== 'boolean') throw invalidArgType('options.chunked', 'of type boolean', o.chunked);
  const method = o.method === undefined ? 'POST' : o.method;
  if (typeof method !== 'string') throw invalidArgType('options.method', 'of type string', method);
  if (!TOKEN.test(method)) throw invalidArgValue('options.method', method, 'must be an HTTP token');
  const headers: [string, string][] = [];
  if (o.headers !== undefined) {
    if (typeof o.headers !== 'object' || o.headers === null) throw invalidArgType('options.headers', 'of type object', o.headers);
    for (const [name, value] of Object.entries(o.headers)) {
      if (!TOKEN.test(name)) throw invalidArgValue('options.headers', name, 'has a header name that is not an HTTP token');
      if (typeof value !== 'string' || /[\r\n\0]/.test(value)) throw invalidArgValue(`options.headers.${name}`, value, 'must be a string without CR, LF or NUL');
      const lower = name.toLowerCase();
      if (lower === 'content-length' || lower === 'transfer-encoding') {
        throw invalidArgValue('options.headers', name, 'is set by the probe itself (use size and chunked)');
      }
      if (headers.some(([n]) => n.toLowerCase() === lower)) throw invalidArgValue('options.headers', name, 'is given twice');
      headers.push([name, value]);
    }
  }
  if (kind === 'tcp' && (o.chunked || o.method !== undefined || o.headers !== undefined || o.order !== undefined || o.headPause !== undefined)) {
    throw invalidArgValue('options', options, 'has HTTP options (chunked, method, headers, order, headPause) for a raw TCP target');
  }
  const signal = validateSignal(o.signal);
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') throw invalidArgType('options.onProgress', 'of type function', o.onProgress);
  return { size, chunked: o.chunked ?? false, method, headers, timeout, mode, order, headPause, settle, signal, onProgress: o.onProgress };
}

/** The request head: the probe's own Host, User-Agent and Accept unless the caller gave one of them. */
export function requestHead(target: ParsedTarget, opts: Validated): Buffer {
  const given = new Set(opts.headers.map(([n]) => n.toLowerCase()));
  const own: [string, string][] = [['Host', target.hostHeader!], ['User-Agent', 'net-linger-probe'], ['Accept', '*/*']];
  return Buffer.from([
    `${opts.method} ${target.path} HTTP/1.1`,
    ...own.filter(([n]) => !given.has(n.toLowerCase())).map(([n, v]) => `${n}: ${v}`),
    ...opts.headers.map(([n, v]) => `${n}: ${v}`),
    opts.chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${opts.size}`,
    '', '',
  ].join('\r\n'), 'latin1');
}
