import { invalidArgType, invalidArgValue, validateInteger } from '../core/validate.js';

// Rules that know HTTP/1.1: the proxy follows the requests a client sends on a connection
// (request line, headers, a Content-Length or chunked body, one after the other) so that a fault
// can wait for a request that matches a method, a path pattern, or its place on the connection.
// A connection that stops looking like HTTP/1.1 (a head over 64 KiB, a bad line, an upgrade or
// CONNECT) is no longer followed: no request after that point matches.

export interface HttpMatch {
  /** The request's method ('POST'); any when absent. */
  method?: string;
  /** The request's path, query left off: a string where '*' stands for any run of characters ('/api/*'), or a RegExp. Any when absent. */
  path?: string | RegExp;
  /** The request's place on its connection: 1 for the first. Any when absent. */
  request?: number;
}

/** `match` as the proxy applies it; null fields match any request. */
export interface ResolvedHttpMatch {
  /** The method, upper-cased; null: any. */
  method: string | null;
  /** The path as an expression (a string pattern made anchored, a RegExp as given), tried on the path with the query left off; null: any. */
  path: RegExp | null;
  /** The pattern as given, for reports. */
  pathPattern: string | null;
  /** The request's place on the connection (1: the first); null: any. */
  request: number | null;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Checks `match`; null when absent. */
export function resolveHttpMatch(value: unknown, name: string): ResolvedHttpMatch | null {
  if (value === undefined) return null;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidArgType(name, 'of type object', value);
  const m = value as Record<string, unknown>;
  const keys = Object.keys(m);
  for (const key of keys) {
    if (key !== 'method' && key !== 'path' && key !== 'request') throw invalidArgValue(`${name}.${key}`, m[key], 'is not an option (expected method, path, request)');
  }
  if (!keys.some((k) => m[k] !== undefined)) throw invalidArgValue(name, value, 'must name a method, a path or a request');
  let method: string | null = null;
  if (m.method !== undefined) {
    if (typeof m.method !== 'string') throw invalidArgType(`${name}.method`, 'of type string', m.method);
    if (!TOKEN.test(m.method)) throw invalidArgValue(`${name}.method`, m.method, 'must be an HTTP method');
    method = m.method.toUpperCase();
  }
  let path: RegExp | null = null;
  let pathPattern: string | null = null;
  if (m.path instanceof RegExp) {
    path = m.path;
    pathPattern = String(m.path);
  } else if (m.path !== undefined) {
    if (typeof m.path !== 'string') throw invalidArgType(`${name}.path`, 'of type string or an instance of RegExp', m.path);
    if (m.path.length === 0) throw invalidArgValue(`${name}.path`, m.path, 'must not be empty');
    pathPattern = m.path;
    path = new RegExp(`^${m.path.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  }
  const request = m.request === undefined ? null : validateInteger(m.request, `${name}.request`, 1, Number.MAX_SAFE_INTEGER);
  return { method, path, pathPattern, request };
}

/** A request whose head the tracker has read. */
export interface SeenRequest {
  /** 1 for the connection's first request. */
  index: number;
  method: string;
  /** The target's path, query left off. */
  path: string;
  /** Offset in the chunk just fed where the request's body (or the next request) starts. */
  bodyOffset: number;
}

export function matches(m: ResolvedHttpMatch, r: SeenRequest): boolean {
  if (m.method !== null && m.method !== r.method) return false;
  if (m.request !== null && m.request !== r.index) return false;
  if (m.path !== null) {
    m.path.lastIndex = 0;
    if (!m.path.test(r.path)) return false;
  }
  return true;
}

const MAX_HEAD = 64 * 1024;

type State =
  | { kind: 'head'; buf: Buffer[]; size: number }
  | { kind: 'body'; left: number }
  | { kind: 'chunk-size'; line: string }
  | { kind: 'chunk-data'; left: number }
  | { kind: 'chunk-end'; left: number }
  | { kind: 'trailer'; line: string }
  | { kind: 'opaque' };

/** Follows the requests a client sends, across chunk boundaries. */
export class RequestTracker {
  private state: State = { kind: 'head', buf: [], size: 0 };
  private count = 0;

  /** Reads a chunk the client sent; returns the requests whose heads ended in it. */
  feed(chunk: Buffer): SeenRequest[] {
    const seen: SeenRequest[] = [];
    let i = 0;
    while (i < chunk.length && this.state.kind !== 'opaque') {
      const st = this.state;
      switch (st.kind) {
        case 'head': {
          // Where the head ends: CRLF CRLF, maybe split across chunks.
          const prev = Buffer.concat(st.buf);
          const tailLen = Math.min(3, prev.length);
          const window = Buffer.concat([prev.subarray(prev.length - tailLen), chunk.subarray(i)]);
          const end = window.indexOf('\r\n\r\n');
          if (end === -1) {
            st.buf.push(chunk.subarray(i));
            st.size += chunk.length - i;
            i = chunk.length;
            if (st.size > MAX_HEAD) this.state = { kind: 'opaque' };
            break;
          }
          const endInChunk = i + end + 4 - tailLen;
          const head = Buffer.concat([prev, chunk.subarray(i, endInChunk)]).toString('latin1');
          i = endInChunk;
          // Empty lines before a request line are allowed (RFC 9112 2.2).
          const lines = head.replace(/^(\r\n)+/, '').split('\r\n');
          const m = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\S+) HTTP\/1\.[01]$/.exec(lines[0] ?? '');
          if (!m) {
            if (head.replace(/\r\n/g, '') === '') { this.state = { kind: 'head', buf: [], size: 0 }; break; }
            this.state = { kind: 'opaque' };
            break;
          }
          let length = 0;
          let chunked = false;
          let upgrade = false;
          for (const line of lines.slice(1)) {
            const colon = line.indexOf(':');
            if (colon <= 0) continue;
            const name = line.slice(0, colon).trim().toLowerCase();
            const value = line.slice(colon + 1).trim().toLowerCase();
            if (name === 'content-length') length = Number(value);
            else if (name === 'transfer-encoding') chunked = value.split(',').map((v) => v.trim()).includes('chunked');
            else if (name === 'upgrade') upgrade = true;
          }
          const target = m[2];
          const path = target.startsWith('/') || target === '*' ? target.split('?')[0] : (() => {
            try { return new URL(target).pathname; } catch { return target; }
          })();
          seen.push({ index: ++this.count, method: m[1], path, bodyOffset: i });
          if (upgrade || m[1] === 'CONNECT' || !Number.isSafeInteger(length) || length < 0) this.state = { kind: 'opaque' };
          else if (chunked) this.state = { kind: 'chunk-size', line: '' };
          else if (length > 0) this.state = { kind: 'body', left: length };
          else this.state = { kind: 'head', buf: [], size: 0 };
          break;
        }
        case 'body':
        case 'chunk-data':
        case 'chunk-end': {
          const take = Math.min(st.left, chunk.length - i);
          st.left -= take;
          i += take;
          if (st.left === 0) {
            this.state = st.kind === 'body' ? { kind: 'head', buf: [], size: 0 }
              : st.kind === 'chunk-data' ? { kind: 'chunk-end', left: 2 } : { kind: 'chunk-size', line: '' };
          }
          break;
        }
        case 'chunk-size':
        case 'trailer': {
          const nl = chunk.indexOf(0x0a, i);
          const upto = nl === -1 ? chunk.length : nl + 1;
          st.line += chunk.subarray(i, upto).toString('latin1');
          i = upto;
          if (st.line.length > MAX_HEAD) { this.state = { kind: 'opaque' }; break; }
          if (nl === -1) break;
          const line = st.line.replace(/\r?\n$/, '');
          if (st.kind === 'trailer') {
            this.state = line === '' ? { kind: 'head', buf: [], size: 0 } : { kind: 'trailer', line: '' };
            break;
          }
          const size = Number.parseInt(line.split(';')[0].trim(), 16);
          if (!Number.isSafeInteger(size) || size < 0) this.state = { kind: 'opaque' };
          else if (size === 0) this.state = { kind: 'trailer', line: '' };
          else this.state = { kind: 'chunk-data', left: size };
          break;
        }
      }
    }
    return seen;
  }
}
