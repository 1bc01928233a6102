// `net-linger probe <url | host:port>`: upload to a server and say how it ended the connection.
import { probeExitCode, probeServer, type ProbeOptions, type ProbeProgress, type ProbeReport } from '../probe/probe.js';
import { formatSize, wrapWords } from '../core/text.js';
import { MAX_TIMER_MS } from '../core/validate.js';
import { COLOUR, PLAIN, type Style } from '../lab/report.js';
import { UsageError, exitForSignal, flag, integerArg, readArgs, stringValue, stringValues } from './args.js';
import { COLOUR_OPTIONS, colourFlag, colourHelp, progressLine, useColour } from './terminal.js';

export const PROBE_HELP = `Usage: net-linger probe <http://host:port/path | host:port> [options]

Uploads a body to your server as Python's http.client and most SDKs do (the whole body,
whatever the server answers meanwhile; the request head reaching the server with the first
body bytes), reading what the server sends while it sends, and reports how the server ended
the connection: the response status, whether it could be read whole, a FIN or a reset (RST),
how many bytes the server's TCP acknowledged before it closed, the time, and what to change.

An http:// URL gets an HTTP/1.1 request (POST with Content-Length unless told otherwise);
host:port, [::1]:port or tcp://host:port gets raw bytes, then a half-close (FIN).

Options:
  --size <bytes>        body size; suffixes k, m, g are KiB, MiB, GiB (default 20m)
  --chunked             HTTP: send Transfer-Encoding: chunked instead of Content-Length
  --method <name>       HTTP: the request method (default POST)
  -H, --header <h: v>   HTTP: an extra request header (repeatable); Host, User-Agent or
                        Accept replaces the probe's own
  --timeout <ms>        give up after this long (default 30000)
  --head-first          HTTP: send the request head alone, then the body after --head-pause
  --head-pause <ms>     with --head-first: the wait before the body (default 10)
  --stop-early          stop sending as curl does: --settle ms after the server's last word
                        (its FIN, or a final answer), instead of sending the whole body
  --settle <ms>         with --stop-early: how long to keep sending after the server's last
                        word, to tell a lingering server from a resetting one (default 500)
  --json                print the report as one JSON object
${colourHelp(24)}
  -h, --help            this help
  --                    what follows is the target, even if it starts with "-"

On a terminal a progress line on stderr says what the probe is doing (not with --json, and
not when stderr is a pipe or a file); the verdict is coloured as Node decides colour: on a
terminal unless NO_COLOR is set (or TERM=dumb), anywhere with FORCE_COLOR=1 (2 and 3 too;
FORCE_COLOR=0 never); --color and --no-color beat both. Ctrl-C stops the probe at once,
closing its connection.

Exit codes: 0 the server closed cleanly (FIN, response read whole), 1 it reset the
connection, cut the client off before its response could be read, answered with something
that is not HTTP, timed out or could not be reached, 2 bad usage, 130 interrupted (Ctrl-C,
SIGINT), 143 stopped by SIGTERM.

Examples:
  net-linger probe http://127.0.0.1:3000/upload
  net-linger probe http://localhost:8080/ --size 100m --chunked --json
  net-linger probe 127.0.0.1:9000 --size 1m
`;

const SIZE_UNITS: Record<string, number> = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30 };

function parseSize(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([kmg]?)(?:i?b)?$/i.exec(text.trim());
  if (!match) throw new UsageError(`--size: "${text}" is not a size (bytes, or a number with k, m or g)`, 'probe');
  const bytes = Math.round(Number(match[1]) * SIZE_UNITS[match[2].toLowerCase()]);
  if (!Number.isSafeInteger(bytes)) throw new UsageError(`--size: "${text}" is too large`, 'probe');
  return bytes;
}

const PROBE_OPTIONS = {
  size: { type: 'string' },
  chunked: { type: 'boolean' },
  method: { type: 'string' },
  header: { type: 'string', short: 'H', multiple: true },
  timeout: { type: 'string' },
  'head-first': { type: 'boolean' },
  'head-pause': { type: 'string' },
  'stop-early': { type: 'boolean' },
  settle: { type: 'string' },
  json: { type: 'boolean' },
  ...COLOUR_OPTIONS,
  help: { type: 'boolean', short: 'h' },
} as const;

const HTTP_ONLY = ['chunked', 'method', 'header', 'head-first', 'head-pause'];

interface Parsed {
  target?: string;
  options: ProbeOptions;
  json: boolean;
  help: boolean;
  /** --color (true), --no-color (false), neither (undefined: the environment decides). */
  colour: boolean | undefined;
}

function parse(argv: readonly string[]): Parsed {
  const args = readArgs('probe', argv, PROBE_OPTIONS);
  if (args.positionals.length > 1) throw new UsageError(`probe takes one target, got "${args.positionals[0]}" and "${args.positionals[1]}"`, 'probe');
  const options: ProbeOptions = {};
  const ms = (name: string, min: number) => {
    const text = stringValue(args, name);
    return text === undefined ? undefined : integerArg('probe', `--${name}`, text, min, MAX_TIMER_MS, 'milliseconds');
  };
  const size = stringValue(args, 'size');
  if (size !== undefined) options.size = parseSize(size);
  if (flag(args, 'chunked')) options.chunked = true;
  const method = stringValue(args, 'method');
  if (method !== undefined) options.method = method;
  const headers = stringValues(args, 'header');
  if (headers.length) {
    options.headers = {};
    for (const header of headers) {
      const colon = header.indexOf(':');
      if (colon <= 0) throw new UsageError(`--header: "${header}" is not "Name: value"`, 'probe');
      options.headers[header.slice(0, colon).trim()] = header.slice(colon + 1).trim();
    }
  }
  const timeout = ms('timeout', 1);
  if (timeout !== undefined) options.timeout = timeout;
  if (flag(args, 'head-first')) options.order = 'head-first';
  const headPause = ms('head-pause', 0);
  if (headPause !== undefined) {
    if (options.order !== 'head-first') throw new UsageError('--head-pause: only with --head-first', 'probe');
    options.headPause = headPause;
  }
  const settle = ms('settle', 0);
  if (settle !== undefined) options.settle = settle;
  if (flag(args, 'stop-early')) options.mode = 'stop-early';
  const target = args.positionals[0];
  if (target !== undefined && !/^http:\/\//i.test(target)) {
    const given = HTTP_ONLY.filter((name) => flag(args, name)).map((name) => `--${name}`);
    if (given.length) throw new UsageError(`${given.join(', ')}: only for an http:// target`, 'probe');
  }
  return { target, options, json: flag(args, 'json'), help: flag(args, 'help'), colour: colourFlag(args, argv) };
}

const amount = formatSize;

export function formatProbeReport(report: ProbeReport, style: Style = PLAIN): string {
  const lines: string[] = [];
  const what = report.target.kind === 'http' ? report.target.url : `tcp ${report.target.host}:${report.target.port}`;
  const how = [report.mode === 'stop-early' ? 'stopping early' : '', report.order === 'head-first' ? 'head first' : ''].filter(Boolean).join(', ');
  lines.push(`net-linger probe ${what}: ${amount(report.size)} upload${how ? ` (${how})` : ''}`);
  // Label column, then the text wrapped at 100 columns under itself.
  const row = (label: string, text: string) => {
    wrapWords(text, 100 - 15).forEach((l, i) => lines.push(`  ${(i === 0 ? label : '').padEnd(13)}${l}`));
  };
  if (report.target.kind === 'http') {
    const r = report.response;
    row('response', r
      ? `${r.status}${r.statusText ? ` ${r.statusText}` : ''}, ${r.bodyBytes} body bytes, ${r.complete ? 'read whole' : 'NOT read whole'} (head at ${r.atMs} ms)`
      : report.responseError ? `unreadable: ${report.responseError}` : 'none');
  } else {
    row('received', `${report.receivedBytes} bytes from the server`);
  }
  const closing = report.serverClose === 'reset'
    ? `RST (${report.error?.code ?? 'reset'}) at ${report.closedAtMs} ms`
    : report.serverClose === 'fin' ? `FIN at ${report.closedAtMs} ms` : 'did not close';
  row('server close', closing);
  row('accepted', report.acknowledgedBytes === null
    ? `${amount(report.sentBytes)} sent (the OS cannot say how much was acknowledged)`
    : `${amount(report.acknowledgedBytes)} acknowledged by the server's TCP, ${amount(report.sentBytes)} sent${report.uploadComplete ? ' (all of it)' : ''}`);
  if (report.error && report.serverClose !== 'reset') row('error', `${report.error.code ?? ''} ${report.error.message}`.trim());
  row('time', `${report.elapsedMs} ms`);
  // Coloured after wrapping, so the escapes take no columns.
  const verdict = report.verdict.toUpperCase();
  const paint = report.verdict === 'clean' ? style.pass : style.fail;
  const at = lines.length;
  row('verdict', `${verdict}: ${report.summary}`);
  lines[at] = lines[at].replace(verdict, paint(verdict));
  if (report.advice) row('fix', report.advice);
  return `${lines.join('\n')}\n`;
}

/** The progress line's text, short enough for 80 columns: the time against the timeout, the step, the bytes. */
export function formatProgress(target: string, p: ProbeProgress): string {
  const size = (n: number) => (n >= 2 ** 20 ? formatSize(n) : `${Math.round(n / 1024)} KiB`);
  const acked = p.acknowledgedBytes === null ? '' : `, ${size(p.acknowledgedBytes)} acknowledged`;
  const doing = p.step === 'connect' ? `connecting to ${target}`
    : p.step === 'upload' ? `sent ${size(p.sentBytes)} of ${size(p.size)}${acked}`
    : `waiting for the server (${size(p.sentBytes)} sent${acked})`;
  return `net-linger probe [${(p.elapsedMs / 1000).toFixed(1)}/${(p.timeout / 1000).toFixed(1)} s] ${doing}`;
}

// Ctrl-C and SIGTERM stop the probe through its AbortSignal (the connection closed, no report),
// and the command exits as a shell reports a process the signal ended (exitForSignal).
const STOPPING_SIGNALS = ['SIGINT', 'SIGTERM'] as const;

/** Runs the command; resolves to the exit code (throws UsageError for bad usage). */
export async function probeCommand(argv: readonly string[]): Promise<number> {
  const parsed = parse(argv);
  if (parsed.help) {
    process.stdout.write(PROBE_HELP);
    return 0;
  }
  if (parsed.target === undefined) throw new UsageError('probe needs a target: an http:// URL or host:port', 'probe');
  const progress = progressLine(!parsed.json);
  const controller = new AbortController();
  let stoppedBy: (typeof STOPPING_SIGNALS)[number] | undefined;
  const onSignal = (name: (typeof STOPPING_SIGNALS)[number]) => {
    stoppedBy ??= name;
    controller.abort();
  };
  const target = parsed.target;
  let run: Promise<ProbeReport>;
  try {
    run = probeServer(target, {
      ...parsed.options,
      signal: controller.signal,
      onProgress: (p) => progress.update(formatProgress(target, p)),
    });
  } catch (err) {
    const e = err as { code?: string; message?: string };
    if (e.code === 'ERR_OUT_OF_RANGE' && /"target\.port"/.test(e.message ?? '')) {
      throw new UsageError(`"${parsed.target}" has an invalid port (expected 1-65535)`, 'probe');
    }
    if (e.code?.startsWith('ERR_')) throw new UsageError(e.message ?? String(err), 'probe');
    throw err;
  }
  for (const name of STOPPING_SIGNALS) process.once(name, onSignal);
  let report: ProbeReport;
  try {
    report = await run;
  } catch (err) {
    if (stoppedBy === undefined || (err as Error).name !== 'AbortError') throw err;
    progress.clear();
    process.stderr.write(`net-linger probe: stopped by ${stoppedBy}; the connection is closed, no verdict\n`);
    return exitForSignal(stoppedBy);
  } finally {
    progress.clear();
    // Once the probe is over, a signal does what it does by default again.
    for (const name of STOPPING_SIGNALS) process.off(name, onSignal);
  }
  const colour = useColour(process.stdout, parsed.colour);
  process.stdout.write(parsed.json ? `${JSON.stringify(report)}\n` : formatProbeReport(report, colour ? COLOUR : PLAIN));
  return probeExitCode(report);
}
