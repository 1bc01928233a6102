// The probe's HTTP/1.x response reader: fed the bytes as they arrive, it says when the final
// response is whole, or why what arrived cannot be read as one.

const MAX_HEAD = 64 * 1024;
const HTTP_PREFIX = Buffer.from('HTTP/');

export interface ProbeResponse {
  /** The status code (413, 200, ...). */
  status: number;
  /** The reason phrase as sent ('Payload Too Large'); '' when none. */
  statusText: string;
  /** The headers, names lower-cased; a header sent more than once is joined with ', '. */
  headers: Record<string, string>;
  /** Body bytes read (after chunked decoding). */
  bodyBytes: number;
  /** The whole response was read: Content-Length reached, the last chunk seen, or EOF for a close-delimited body. */
  complete: boolean;
  /** ms from the start to the first byte of the response head. */
  atMs: number;
}

/** An incremental HTTP/1.x response reader: skips 1xx answers, follows Content-Length, chunked and close-delimited bodies. */
export class ResponseReader {
  response: ProbeResponse | null = null;
  error: string | null = null;
  private buffer: Buffer = Buffer.alloc(0);
  private state: 'head' | 'length' | 'chunk-size' | 'chunk-data' | 'chunk-crlf' | 'trailers' | 'close' | 'done' = 'head';
  private remaining = 0;

  constructor(private readonly now: () => number, private readonly method: string) {}

  get complete(): boolean {
    return this.state === 'done';
  }

  push(chunk: Buffer): void {
    if (this.state === 'done' || this.error) return;
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    for (;;) {
      if (this.state === 'head') {
        // Not HTTP at all (an SSH or SMTP banner, TLS): say so from the first bytes, not at the head's end.
        const prefix = Math.min(this.buffer.length, 5);
        if (!this.buffer.subarray(0, prefix).equals(HTTP_PREFIX.subarray(0, prefix))) {
          const eol = this.buffer.indexOf('\r\n');
          const line = this.buffer.subarray(0, eol < 0 ? 80 : Math.min(eol, 80)).toString('latin1');
          this.error = `not an HTTP response: ${JSON.stringify(line)}`;
          return;
        }
        const end = this.buffer.indexOf('\r\n\r\n');
        if (end < 0) {
          if (this.buffer.length > MAX_HEAD) this.error = 'response head longer than 64 KiB';
          return;
        }
        const lines = this.buffer.subarray(0, end).toString('latin1').split('\r\n');
        this.buffer = this.buffer.subarray(end + 4);
        const status = /^HTTP\/\d(?:\.\d)? (\d{3})(?: (.*))?$/.exec(lines[0]);
        if (!status) {
          this.error = `not an HTTP response: ${JSON.stringify(lines[0].slice(0, 80))}`;
          return;
        }
        const headers: Record<string, string> = {};
        for (const line of lines.slice(1)) {
          const colon = line.indexOf(':');
          if (colon <= 0) continue;
          const name = line.slice(0, colon).trim().toLowerCase();
          const value = line.slice(colon + 1).trim();
          headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
        }
        const code = Number(status[1]);
        if (code >= 100 && code < 200 && code !== 101) continue; // an interim answer: the final one follows
        this.response = { status: code, statusText: status[2] ?? '', headers, bodyBytes: 0, complete: false, atMs: this.now() };
        if (this.method === 'HEAD' || code === 204 || code === 304) {
          this.finish();
        } else if (/\bchunked\b/i.test(headers['transfer-encoding'] ?? '')) {
          this.state = 'chunk-size';
        } else if (headers['content-length'] !== undefined && /^\d+$/.test(headers['content-length'])) {
          this.remaining = Number(headers['content-length']);
          this.state = 'length';
          if (this.remaining === 0) this.finish();
        } else {
          this.state = 'close';
        }
        continue;
      }
      if (this.state === 'length' || this.state === 'chunk-data') {
        const take = Math.min(this.remaining, this.buffer.length);
        this.response!.bodyBytes += take;
        this.remaining -= take;
        this.buffer = this.buffer.subarray(take);
        if (this.remaining > 0) return;
        if (this.state === 'length') return this.finish();
        this.state = 'chunk-crlf';
        continue;
      }
      if (this.state === 'close') {
        this.response!.bodyBytes += this.buffer.length;
        this.buffer = Buffer.alloc(0);
        return;
      }
      // Line-based states.
      const eol = this.buffer.indexOf('\r\n');
      if (eol < 0) {
        if (this.buffer.length > MAX_HEAD) this.error = 'chunked framing line longer than 64 KiB';
        return;
      }
      const line = this.buffer.subarray(0, eol).toString('latin1');
      this.buffer = this.buffer.subarray(eol + 2);
      if (this.state === 'chunk-crlf') {
        if (line !== '') { this.error = 'chunk not followed by CRLF'; return; }
        this.state = 'chunk-size';
      } else if (this.state === 'chunk-size') {
        const size = /^([0-9a-fA-F]+)/.exec(line);
        if (!size) { this.error = `bad chunk size line ${JSON.stringify(line.slice(0, 40))}`; return; }
        this.remaining = parseInt(size[1], 16);
        this.state = this.remaining === 0 ? 'trailers' : 'chunk-data';
      } else if (this.state === 'trailers') {
        if (line === '') return this.finish();
      }
    }
  }

  /** The server's FIN: a close-delimited body is now complete. */
  eof(): void {
    if (this.state === 'close') this.finish();
  }

  private finish(): void {
    this.state = 'done';
    if (this.response) this.response.complete = true;
  }
}

