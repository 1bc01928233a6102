// `net-linger proxy`: a TCP proxy that relays faithfully and injects faults, for testing a
// client or a server against resets, truncation and silence.
import {
  type Faults, type ProxyConnectionReport, createFaultProxy, formatHostPort, resolveFaults,
} from '../relay/fault-proxy.js';
import { formatBytes } from '../core/text.js';
import { parseAddress } from '../core/validate.js';
import { UsageError, flag, integerArg, readArgs, stringValue } from './args.js';

export const PROXY_HELP = `Usage: net-linger proxy --upstream HOST:PORT [--listen HOST:PORT] [faults] [--json]

Relays every connection to the upstream faithfully (a FIN goes on as a FIN, an RST as an RST,
the other direction keeps flowing) and injects the faults given. The first line on stdout is
"listening on HOST:PORT"; then one line per connection once it has closed.

Addresses:
  --listen HOST:PORT        where to listen (default 127.0.0.1:0: port 0 picks a free one)
  --upstream HOST:PORT      where to connect; [::1]:PORT for IPv6

Faults (applied in this order; see docs/proxy.md):
  --direction up|down|both  which way the faults act: down (default) hits the client,
                            up hits the upstream
  --probability P           chance in [0, 1] that a connection gets the faults (default 1)
  --close-unread[=N]        stop reading the victim (after N of its bytes), then close while
                            its data sits unread: the kernel sends the RST
  --blackhole               nothing reaches the victim: no byte, no FIN, no RST
  --blackhole-after N       the same after N bytes
  --limit-data N            FIN after N bytes; the rest of that direction is discarded
  --reset-after N           RST once the victim has N bytes (deterministic)
  --reset-after-ms MS       RST MS ms after the first byte in the direction
  --delay-fin MS            hold each FIN MS ms
  --half-close-then-reset MS  once a FIN reached the victim, RST MS ms later
  --keepalive-race MS       the keep-alive race: once a connection carried an exchange, the
                            client's next request after MS ms of silence gets an RST

Toxics (as toxiproxy's; with --direction and --probability too):
  --latency MS              delay what passes by MS ms (order kept)
  --jitter MS               add a random +-MS ms to each chunk's latency
  --bandwidth B             at most B bytes per second
  --slice N                 split what passes into segments of N bytes
  --slice-delay MS          with --slice: MS ms between segments (default 0)
  --timeout MS              stop the data, close the connection after MS ms (0: never)
  --down[=refuse|reset|drop]  the proxy is down for new connections, live ones go on: the
                            listener is closed, so a connect is refused (refuse, the default,
                            as toxiproxy's disabled proxy; with no way to bring it up from
                            here, it stays closed until the proxy exits), each one is reset at
                            once (reset) or accepted and never answered (drop); the upstream
                            is never contacted

HTTP/1.1 rules (the thresholds and --reset-after-ms wait for the first matching request,
and count from the start of its body (up) or of its response (down)):
  --match-method M          the request's method
  --match-path P            its path, query left off; * stands for any run of characters
  --match-request N         its place on the connection (1: the first)

Output:
  --json                    one JSON object per connection (bytes each way, who ended first
                            and how, what the faults did)
  -h, --help                this help

Once whoever reads stdout closes it, the proxy stops printing and keeps relaying.
SIGINT or SIGTERM closes the proxy (live connections get a plain close) and exits 0.
Exit codes: 0 stopped by a signal, 2 bad usage or an address it cannot listen on.
`;

const COUNT_FLAGS: Readonly<Record<string, keyof Faults>> = {
  'reset-after': 'resetAfter',
  'reset-after-ms': 'resetAfterMs',
  'limit-data': 'limitData',
  'blackhole-after': 'blackholeAfter',
  'half-close-then-reset': 'halfCloseThenReset',
  'delay-fin': 'delayFin',
  'keepalive-race': 'keepaliveRace',
  latency: 'latency',
  jitter: 'jitter',
  timeout: 'timeout',
};

const PROXY_OPTIONS = {
  listen: { type: 'string' },
  upstream: { type: 'string' },
  direction: { type: 'string' },
  probability: { type: 'string' },
  blackhole: { type: 'boolean' },
  'close-unread': { type: 'boolean', optionalValue: true },
  down: { type: 'boolean', optionalValue: true },
  bandwidth: { type: 'string' },
  slice: { type: 'string' },
  'slice-delay': { type: 'string' },
  'match-method': { type: 'string' },
  'match-path': { type: 'string' },
  'match-request': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  ...Object.fromEntries(Object.keys(COUNT_FLAGS).map((name) => [name, { type: 'string' }])),
} as const;

interface ProxyArgs {
  listen: string;
  upstream: string | undefined;
  faults: Faults;
  json: boolean;
  help: boolean;
}

const count = (name: string, value: string) => integerArg('proxy', `--${name}`, value, 0);

export function parseProxyArgs(argv: readonly string[]): ProxyArgs {
  const args = readArgs('proxy', argv, PROXY_OPTIONS);
  if (args.positionals.length) throw new UsageError(`unexpected argument "${args.positionals[0]}"`, 'proxy');
  const faults: Record<string, unknown> = {};
  for (const [name, key] of Object.entries(COUNT_FLAGS)) {
    const value = stringValue(args, name);
    if (value !== undefined) faults[key] = count(name, value);
  }
  const direction = stringValue(args, 'direction');
  if (direction !== undefined) {
    if (direction !== 'up' && direction !== 'down' && direction !== 'both') throw new UsageError(`--direction must be up, down or both, got "${direction}"`, 'proxy');
    faults.direction = direction;
  }
  const probability = stringValue(args, 'probability');
  if (probability !== undefined) {
    const p = Number(probability);
    if (!/^\d*\.?\d+$/.test(probability) || !(p >= 0 && p <= 1)) throw new UsageError(`--probability must be a number from 0 to 1, got "${probability}"`, 'proxy');
    faults.probability = p;
  }
  if (flag(args, 'blackhole')) faults.blackhole = true;
  const closeUnread = args.values['close-unread'];
  if (closeUnread !== undefined) faults.closeUnread = closeUnread === true ? true : count('close-unread', closeUnread as string);
  const down = args.values.down;
  if (down !== undefined) {
    if (down !== true && down !== 'refuse' && down !== 'reset' && down !== 'drop') throw new UsageError(`--down must be --down, --down=refuse, --down=reset or --down=drop, got "--down=${String(down)}"`, 'proxy');
    faults.down = down === true ? 'refuse' : down;
  }
  const bandwidth = stringValue(args, 'bandwidth');
  if (bandwidth !== undefined) faults.bandwidth = integerArg('proxy', '--bandwidth', bandwidth, 1, Number.MAX_SAFE_INTEGER, 'bytes per second');
  const slice = stringValue(args, 'slice');
  const sliceDelay = stringValue(args, 'slice-delay');
  if (sliceDelay !== undefined && slice === undefined) throw new UsageError('--slice-delay needs --slice', 'proxy');
  if (slice !== undefined) {
    faults.slicer = {
      size: integerArg('proxy', '--slice', slice, 1, Number.MAX_SAFE_INTEGER, 'bytes'),
      delayMs: sliceDelay === undefined ? 0 : count('slice-delay', sliceDelay),
    };
  }
  const match: Record<string, unknown> = {};
  const method = stringValue(args, 'match-method');
  if (method !== undefined) match.method = method;
  const matchPath = stringValue(args, 'match-path');
  if (matchPath !== undefined) match.path = matchPath;
  const nth = stringValue(args, 'match-request');
  if (nth !== undefined) match.request = integerArg('proxy', '--match-request', nth, 1);
  if (Object.keys(match).length > 0) faults.match = match;
  return {
    listen: stringValue(args, 'listen') ?? '127.0.0.1:0',
    upstream: stringValue(args, 'upstream'),
    faults: faults as Faults,
    json: flag(args, 'json'),
    help: flag(args, 'help'),
  };
}

function sideText(name: string, s: ProxyConnectionReport['client']): string {
  const ended = s.ended === null ? 'open until the proxy closed it' : s.ended === 'fin' ? 'sent FIN' : s.ended === 'reset' ? `reset (${s.code})` : s.ended === 'error' ? `failed (${s.code})` : 'closed';
  const closed = s.closedWith === null ? '' : s.closedWith === 'fin' ? ', got FIN' : s.closedWith === 'reset' ? ', got RST' : ', closed by the proxy';
  return `${name} ${ended}${closed}`;
}

/** One line per connection for people. */
export function formatConnection(r: ProxyConnectionReport): string {
  const actions = r.actions.map((a) => `${a.fault} ${a.direction} at ${formatBytes(a.atBytes)}/${Math.round(a.atMs)} ms`).join(', ');
  const upstream = r.upstream.connected ? sideText('upstream', r.upstream)
    : r.actions.some((a) => a.fault === 'down') ? 'upstream not contacted' : `upstream unreachable (${r.upstream.code ?? 'error'})`;
  return `#${r.id} ${formatHostPort(r.client.host, r.client.port)}: up ${formatBytes(r.bytes.up)}, down ${formatBytes(r.bytes.down)}; ` +
    `${sideText('client', r.client)}; ${upstream}` + (actions ? `; faults: ${actions}` : r.faults ? '; faults: none fired' : '') + '\n';
}

/** Runs `net-linger proxy` until SIGINT/SIGTERM; resolves to the exit code. */
export async function runProxy(argv: readonly string[]): Promise<number> {
  const args = parseProxyArgs(argv);
  if (args.help) {
    process.stdout.write(PROXY_HELP);
    return 0;
  }
  if (args.upstream === undefined) throw new UsageError('--upstream HOST:PORT is required', 'proxy');
  const listen = addressArg('--listen', args.listen, 0);
  const upstream = addressArg('--upstream', args.upstream, 1);
  try {
    resolveFaults(args.faults);
  } catch (err) {
    throw new UsageError((err as Error).message, 'proxy');
  }
  let proxy;
  try {
    proxy = await createFaultProxy({ listen, upstream, faults: args.faults });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    process.stderr.write(`net-linger proxy: cannot listen on ${formatHostPort(listen.host, listen.port)}: ${e.code ?? e.message}\n`);
    return 2;
  }
  process.stdout.write(`listening on ${proxy.hostPort}\n`);
  proxy.on('report', (r: ProxyConnectionReport) => {
    process.stdout.write(args.json ? `${JSON.stringify(r)}\n` : formatConnection(r));
  });
  await new Promise<void>((resolve) => {
    // Node's signal handles do not keep a process alive, and a proxy that is down (--down) has no
    // listener that would: this timer holds the process until a signal stops it.
    const alive = setInterval(() => {}, 2 ** 30);
    const stop = () => {
      clearInterval(alive);
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await proxy.close();
  return 0;
}

function addressArg(flagName: string, value: string, minPort: 0 | 1): { host: string; port: number } {
  try {
    return parseAddress(value, flagName, { host: '127.0.0.1', minPort });
  } catch (err) {
    const reason = (err as { code?: string }).code === 'ERR_OUT_OF_RANGE'
      ? `port must be ${minPort}-65535`
      : 'must be HOST:PORT (brackets around IPv6: [::1]:8080)';
    throw new UsageError(`${flagName} ${reason}, got "${value}"`, 'proxy');
  }
}
