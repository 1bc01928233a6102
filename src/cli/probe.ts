// `net-linger probe <url | host:port>`: upload to a server and say how it ended the connection.
import { probeExitCode, probeServer, type ProbeOptions, type ProbeReport } from '../probe/probe.js';

const EXIT_USAGE = 2;

export const PROBE_HELP = `Usage: net-linger probe <http://host:port/path | host:port> [options]

Uploads a body to your server the way a careful client does (reading everything the server
sends while it is still sending) and reports how the server ended the connection: the
response status, whether the response could be read whole, a FIN or a reset (RST), how many
bytes the server's TCP acknowledged before it closed, the time, and what to change.

An http:// URL gets an HTTP/1.1 request (POST with Content-Length unless told otherwise);
host:port, [::1]:port or tcp://host:port gets raw bytes, then a half-close (FIN).

Options:
  --size <bytes>        body size; suffixes k, m, g are KiB, MiB, GiB (default 20m)
  --chunked             HTTP: send Transfer-Encoding: chunked instead of Content-Length
  --method <name>       HTTP: the request method (default POST)
  -H, --header <h: v>   HTTP: an extra request header (repeatable)
  --timeout <ms>        give up after this long (default 30000)
  --settle <ms>         keep sending the body still owed this long after the server's
                        last word, to tell a lingering server from a resetting one (default 500)
  --json                print the report as one JSON object
  -h, --help            this help

Exit codes: 0 the server closed cleanly (FIN, response read whole), 1 it reset the
connection, cut the client off before its response could be read, timed out or could
not be reached, 2 bad usage.

Examples:
  net-linger probe http://127.0.0.1:3000/upload
  net-linger probe http://localhost:8080/ --size 100m --chunked --json
  net-linger probe 127.0.0.1:9000 --size 1m
`;

class ProbeUsageError extends Error {}

const SIZE_UNITS: Record<string, number> = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30 };

function parseSize(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([kmg]?)(?:i?b)?$/i.exec(text.trim());
  if (!match) throw new ProbeUsageError(`--size: "${text}" is not a size (bytes, or a number with k, m or g)`);
  const bytes = Math.round(Number(match[1]) * SIZE_UNITS[match[2].toLowerCase()]);
  if (!Number.isSafeInteger(bytes)) throw new ProbeUsageError(`--size: "${text}" is too large`);
  return bytes;
}

function parseMs(flag: string, text: string, min: number): number {
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > 2 ** 31 - 1) {
    throw new ProbeUsageError(`${flag}: "${text}" is not a whole number of milliseconds (${min} or more)`);
  }
  return Number(text);
}

interface Parsed {
  target?: string;
  options: ProbeOptions & { headers: Record<string, string> };
  json: boolean;
  help: boolean;
  httpOnly: string[];
}

function parse(argv: readonly string[]): Parsed {
  const parsed: Parsed = { options: { headers: {} }, json: false, help: false, httpOnly: [] };
  let i = 0;
  const value = (flag: string, inline: string | undefined) => {
    if (inline !== undefined) return inline;
    const v = argv[i++];
    if (v === undefined) throw new ProbeUsageError(`${flag} needs a value`);
    return v;
  };
  let positionalOnly = false;
  while (i < argv.length) {
    const arg = argv[i++];
    if (positionalOnly || !arg.startsWith('-') || arg === '-') {
      if (parsed.target !== undefined) throw new ProbeUsageError(`probe takes one target, got "${parsed.target}" and "${arg}"`);
      parsed.target = arg;
      continue;
    }
    if (arg === '--') { positionalOnly = true; continue; }
    const eq = arg.indexOf('=');
    const flag = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    const inline = arg.startsWith('--') && eq > 0 ? arg.slice(eq + 1) : undefined;
    const noValue = () => { if (inline !== undefined) throw new ProbeUsageError(`${flag} takes no value`); };
    switch (flag) {
      case '--size': parsed.options.size = parseSize(value(flag, inline)); break;
      case '--chunked': noValue(); parsed.options.chunked = true; parsed.httpOnly.push(flag); break;
      case '--method': parsed.options.method = value(flag, inline); parsed.httpOnly.push(flag); break;
      case '-H': case '--header': {
        const header = value(flag, inline);
        const colon = header.indexOf(':');
        if (colon <= 0) throw new ProbeUsageError(`${flag}: "${header}" is not "Name: value"`);
        parsed.options.headers[header.slice(0, colon).trim()] = header.slice(colon + 1).trim();
        parsed.httpOnly.push(flag);
        break;
      }
      case '--timeout': parsed.options.timeout = parseMs(flag, value(flag, inline), 1); break;
      case '--settle': parsed.options.settle = parseMs(flag, value(flag, inline), 0); break;
      case '--json': noValue(); parsed.json = true; break;
      case '-h': case '--help': parsed.help = true; break;
      default: throw new ProbeUsageError(`unknown option ${flag}`);
    }
  }
  return parsed;
}

const bytes = (n: number) => (n >= 2 ** 20 ? `${(n / 2 ** 20).toFixed(2)} MiB` : `${n.toLocaleString('en-US')} bytes`);
const mib = bytes;

export function formatProbeReport(report: ProbeReport): string {
  const lines: string[] = [];
  const what = report.target.kind === 'http' ? report.target.url : `tcp ${report.target.host}:${report.target.port}`;
  lines.push(`net-linger probe ${what}: ${mib(report.size)} upload`);
  // Label column, then the text wrapped at 100 columns under itself.
  const row = (label: string, text: string) => {
    const width = 100 - 15;
    const words = text.split(' ');
    let line = '';
    const out: string[] = [];
    for (const word of words) {
      if (line && line.length + 1 + word.length > width) { out.push(line); line = word; } else line = line ? `${line} ${word}` : word;
    }
    out.push(line);
    out.forEach((l, i) => lines.push(`  ${(i === 0 ? label : '').padEnd(13)}${l}`));
  };
  if (report.target.kind === 'http') {
    const r = report.response;
    row('response', r
      ? `${r.status}${r.statusText ? ` ${r.statusText}` : ''}, ${r.bodyBytes} body bytes, ${r.complete ? 'read whole' : 'NOT read whole'} (head at ${r.atMs} ms)`
      : 'none');
  } else {
    row('received', `${report.receivedBytes} bytes from the server`);
  }
  const closing = report.serverClose === 'reset'
    ? `RST (${report.error?.code ?? 'reset'}) at ${report.closedAtMs} ms`
    : report.serverClose === 'fin' ? `FIN at ${report.closedAtMs} ms` : 'did not close';
  row('server close', closing);
  row('accepted', report.acknowledgedBytes === null
    ? `${mib(report.sentBytes)} sent (the OS cannot say how much was acknowledged)`
    : `${mib(report.acknowledgedBytes)} acknowledged by the server's TCP, ${mib(report.sentBytes)} sent${report.uploadComplete ? ' (all of it)' : ''}`);
  if (report.error && report.serverClose !== 'reset') row('error', `${report.error.code ?? ''} ${report.error.message}`.trim());
  row('time', `${report.elapsedMs} ms`);
  row('verdict', `${report.verdict.toUpperCase()}: ${report.summary}`);
  if (report.advice) row('fix', report.advice);
  return `${lines.join('\n')}\n`;
}

/** Runs the command; resolves to the exit code. */
export async function probeCommand(argv: readonly string[]): Promise<number> {
  let parsed: Parsed;
  let run: Promise<ProbeReport>;
  try {
    parsed = parse(argv);
    if (parsed.help) {
      process.stdout.write(PROBE_HELP);
      return 0;
    }
    if (parsed.target === undefined) throw new ProbeUsageError('probe needs a target: an http:// URL or host:port');
    const options: ProbeOptions = { ...parsed.options };
    if (!Object.keys(parsed.options.headers).length) delete options.headers;
    if (!/^http:\/\//i.test(parsed.target) && parsed.httpOnly.length) {
      throw new ProbeUsageError(`${[...new Set(parsed.httpOnly)].join(', ')}: only for an http:// target`);
    }
    try {
      run = probeServer(parsed.target, options);
    } catch (err) {
      const e = err as { code?: string; message?: string };
      if (e.code?.startsWith('ERR_')) throw new ProbeUsageError(e.message ?? String(err));
      throw err;
    }
  } catch (err) {
    if (!(err instanceof ProbeUsageError)) throw err;
    process.stderr.write(`net-linger probe: ${err.message}\nRun "net-linger probe --help" for usage.\n`);
    return EXIT_USAGE;
  }
  const report = await run;
  process.stdout.write(parsed.json ? `${JSON.stringify(report)}\n` : formatProbeReport(report));
  return probeExitCode(report);
}
