#!/usr/bin/env node
// net-linger: `lab` shows on this machine what each way of closing does to the peer;
// `explain` turns any spelling of a socket error into the one code and what to do about it.
import fs from 'node:fs';
import path from 'node:path';
import { binding } from '../core/binding.js';
import { NetLingerError } from '../core/errors.js';
import { explainError, formatExplanation } from '../core/explain.js';
import type { Family } from '../lab/observation.js';
import { formatHtml } from '../lab/html.js';
import { captureGate } from './capture-gate.js';
import { COLOUR, PLAIN, formatReport, packageVersion, runLab, type LabReport } from '../lab/report.js';
import { SCENARIOS, type Condition, type Platform, type Scenario } from '../lab/scenarios.js';
import { describeExpectation } from '../lab/describe.js';
import { CONDITION_SCENARIOS } from '../lab/condition-scenarios.js';
import { CONDITION_NAMES, UNAVAILABLE, conditionUnavailable } from '../lab/netns.js';
import { PROBE_HELP, probeCommand } from './probe.js';
import { runProxy } from './proxy.js';

const EXIT_OK = 0;
const EXIT_MISMATCH = 1;
const EXIT_USAGE = 2;

const HELP = `net-linger: close TCP connections on purpose, and see what the peer observes.

Usage:
  net-linger lab [options]           run the scenario table on loopback and judge it
  net-linger explain <code|number>   one error code, what it means on each OS, what avoids it
  net-linger probe <url|host:port>   upload to a server: does it reset, or close cleanly?
  net-linger proxy --upstream H:P    a TCP proxy that relays faithfully and injects faults
  net-linger help [lab|explain]      this help, or a command's

Examples:
  net-linger lab                     every row over IPv4, as a table
  net-linger lab --both --json       IPv4 and IPv6, as JSON
  net-linger lab --scenario linger-zero --scenario orderly-close
  net-linger explain 10054           WSAECONNRESET is ECONNRESET
  net-linger explain 54 --platform darwin

Exit codes: 0 fine, 1 an observation did not match the table, 2 bad usage.
`;

const LAB_HELP = `Usage: net-linger lab [options]

Plays every row of the scenario table on a real loopback connection, one row at a time,
and prints what the closer did, what the peer observed, the TIME_WAIT left on the closer
(Linux; "n/a" elsewhere), what the table claims for this platform, and pass or fail.

Options:
  --scenario <name>   run only this row (repeatable); see --list
  --condition <name>  off loopback: play the rows that exist only there, each side in a
                      network namespace of its own, routed through a third (Linux, as root;
                      set up and torn down by the lab). blackhole: the peer vanishes
                      mid-transfer; slow: a 2 Mbit/s link; lossy: 5 % of TCP segments
                      dropped each way.
                      See docs/lab.md, "Off loopback"
  --ipv4              over 127.0.0.1 (the default)
  --ipv6              over ::1 (with --ipv4: both)
  --both              over 127.0.0.1 and ::1
  --json              print the report as JSON (schema: docs/lab-output.schema.json)
  --list              list the rows and what each claims here, without running them
  --platform <name>   judge against another platform's claims (linux, darwin, win32, ...);
                      the rows still run here, so where the platforms differ the run
                      fails (exit 1) and shows how; rows that claim nothing for it are
                      shown as "not claimed"
  --in-process        run the row that blocks its thread in this process, not a child
                      (for hosts that cannot start a child of this runtime, e.g. qemu-user)
  --capture           record each connection's TCP segments and judge the wire claims
                      (Linux: root, or a private user+network namespace the lab enters
                      itself where the kernel allows it; elsewhere: exit 2, saying why)
  --html <file>       also write the report as one self-contained HTML page with a
                      ladder diagram of each row's segments (implies --capture)
  -h, --help          this help

Exit codes: 0 every claimed row matched, 1 something did not, 2 bad usage, no capture
possible here, or --condition where it cannot run (the message says why).
Rows that claim nothing for the platform are shown but never fail the run.
Colour only on a terminal, never when NO_COLOR is set; a progress line on stderr
only when stderr is a terminal.
`;

const EXPLAIN_HELP = `Usage: net-linger explain <code|number> [--platform <name>]

Prints the one normalised code for any spelling of a socket error, how each OS spells it,
why it usually happens and what in net-linger avoids it.

  net-linger explain ECONNRESET
  net-linger explain WSAECONNRESET
  net-linger explain 10054           (Winsock numbers mean the same everywhere)
  net-linger explain -4077           (Node's errno on Windows)
  net-linger explain 104             (a plain number is read for this platform...)
  net-linger explain 54 --platform darwin   (...or for the one given)

Options:
  --platform <name>   read plain numbers as linux, darwin or win32 (default: this machine)
  -h, --help          this help

Exit codes: 0 explained (one of the connection errors net-linger normalises); 2 bad usage, or an
input outside that table (an OS error such as ETIMEDOUT is named, on stderr, but still exits 2).
`;

const PLATFORMS = ['aix', 'android', 'cygwin', 'darwin', 'freebsd', 'haiku', 'linux', 'netbsd', 'openbsd', 'sunos', 'win32'];

class UsageError extends Error {
  constructor(message: string, readonly command: 'lab' | 'explain' | undefined) {
    super(message);
  }
}

/** A small argument reader: `--name value`, `--name=value`, flags, and positionals (negative numbers included). */
class Args {
  private index = 0;

  constructor(private readonly argv: readonly string[], private readonly command: 'lab' | 'explain') {}

  next(): { flag: string; inline?: string } | { positional: string } | undefined {
    const arg = this.argv[this.index++];
    if (arg === undefined) return undefined;
    if (arg === '--') return this.next();
    if (/^-\d+$/.test(arg) || !arg.startsWith('-')) return { positional: arg };
    const eq = arg.indexOf('=');
    return eq > 0 ? { flag: arg.slice(0, eq), inline: arg.slice(eq + 1) } : { flag: arg };
  }

  value(flag: string, inline: string | undefined): string {
    if (inline !== undefined) return inline;
    const value = this.argv[this.index++];
    if (value === undefined || (value.startsWith('-') && !/^-\d+$/.test(value))) {
      throw new UsageError(`${flag} needs a value`, this.command);
    }
    return value;
  }
}

function platformValue(value: string, command: 'lab' | 'explain'): string {
  if (!PLATFORMS.includes(value)) throw new UsageError(`unknown platform "${value}" (expected one of ${PLATFORMS.join(', ')})`, command);
  return value;
}

/** The scenario table, or the module named by NET_LINGER_LAB_TABLE (a testing hook: see README, Development). */
function scenarioTable(): readonly Scenario[] {
  const replacement = process.env.NET_LINGER_LAB_TABLE;
  if (!replacement) return SCENARIOS;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require(path.resolve(replacement)) as { SCENARIOS: readonly Scenario[] }).SCENARIOS;
}

interface LabArgs {
  names: string[];
  families: Set<Family>;
  json: boolean;
  list: boolean;
  help: boolean;
  platform: string;
  inProcess: boolean;
  condition?: Condition;
  capture: boolean;
  html: string | undefined;
}

function parseLab(argv: readonly string[]): LabArgs {
  const args = new Args(argv, 'lab');
  const parsed: LabArgs = { names: [], families: new Set(), json: false, list: false, help: false, platform: process.platform, inProcess: false, capture: false, html: undefined };
  for (let token = args.next(); token; token = args.next()) {
    if ('positional' in token) throw new UsageError(`unexpected argument "${token.positional}"`, 'lab');
    const { flag, inline } = token;
    const noValue = () => {
      if (inline !== undefined) throw new UsageError(`${flag} takes no value`, 'lab');
    };
    switch (flag) {
      case '--scenario': parsed.names.push(args.value(flag, inline)); break;
      case '--ipv4': noValue(); parsed.families.add(4); break;
      case '--ipv6': noValue(); parsed.families.add(6); break;
      case '--both': noValue(); parsed.families.add(4).add(6); break;
      case '--json': noValue(); parsed.json = true; break;
      case '--list': noValue(); parsed.list = true; break;
      case '--in-process': noValue(); parsed.inProcess = true; break;
      case '--capture': noValue(); parsed.capture = true; break;
      case '--html': parsed.html = args.value(flag, inline); parsed.capture = true; break;
      case '--platform': parsed.platform = platformValue(args.value(flag, inline), 'lab'); break;
      case '--condition': {
        const value = args.value(flag, inline);
        if (!CONDITION_NAMES.includes(value as Condition)) {
          throw new UsageError(`unknown condition "${value}" (expected one of ${CONDITION_NAMES.join(', ')})`, 'lab');
        }
        if (parsed.condition && parsed.condition !== value) throw new UsageError('one --condition at a time', 'lab');
        parsed.condition = value as Condition;
        break;
      }
      case '-h': case '--help': parsed.help = true; break;
      default: throw new UsageError(`unknown option ${flag}`, 'lab');
    }
  }
  return parsed;
}

function selectScenarios(table: readonly Scenario[], names: readonly string[]): readonly Scenario[] {
  if (!names.length) return table;
  const unknown = names.filter((n) => !table.some((s) => s.name === n));
  if (unknown.length) {
    throw new UsageError(`unknown scenario ${unknown.map((n) => `"${n}"`).join(', ')}; the rows are: ${table.map((s) => s.name).join(', ')}`, 'lab');
  }
  // In table order, each once, however they were given.
  return table.filter((s) => names.includes(s.name));
}

function useColour(stream: NodeJS.WriteStream): boolean {
  return Boolean(stream.isTTY) && !process.env.NO_COLOR;
}

function tableWidth(): number {
  return process.stdout.isTTY && process.stdout.columns ? Math.max(80, process.stdout.columns) : 120;
}

function listRows(scenarios: readonly Scenario[], platform: string, json: boolean): void {
  const rows = scenarios.map((s) => ({
    scenario: s.name,
    title: s.title,
    kind: s.kind,
    why: s.why,
    expected: describeExpectation(s, platform as Platform) ?? null,
  }));
  if (json) {
    process.stdout.write(`${JSON.stringify({ platform, rows }, null, 2)}\n`);
    return;
  }
  const style = useColour(process.stdout) ? COLOUR : PLAIN;
  const width = Math.max(...rows.map((r) => r.scenario.length));
  const lines = rows.map((r) => [
    `${style.bold(r.scenario.padEnd(width))}  ${r.title}`,
    `${' '.repeat(width)}  ${style.dim(r.why)}`,
    `${' '.repeat(width)}  ${r.expected ? `claims on ${platform}: ${r.expected}` : style.dim(`claims nothing on ${platform}`)}`,
  ].join('\n'));
  process.stdout.write(`${lines.join('\n\n')}\n`);
}

/** A single line on stderr that rewrites itself; nothing at all when stderr is not a terminal. */
function progressLine(): { update(text: string): void; clear(): void } {
  if (!process.stderr.isTTY) return { update: () => undefined, clear: () => undefined };
  const columns = process.stderr.columns || 80;
  return {
    update: (text) => process.stderr.write(`\r\x1b[K${text.slice(0, columns - 1)}`),
    clear: () => process.stderr.write('\r\x1b[K'),
  };
}

async function lab(argv: readonly string[]): Promise<number> {
  const args = parseLab(argv);
  if (args.help) {
    process.stdout.write(LAB_HELP);
    return EXIT_OK;
  }
  const table = args.condition ? CONDITION_SCENARIOS.filter((s) => s.condition === args.condition) : scenarioTable();
  const scenarios = selectScenarios(table, args.names);
  if (args.list) {
    listRows(scenarios, args.platform, args.json);
    return EXIT_OK;
  }
  // Without the addon no row can run: say so once, not once per row.
  try {
    binding();
  } catch (err) {
    if (!(err instanceof NetLingerError)) throw err;
    process.stderr.write(`net-linger lab: ${err.message}\n`);
    return EXIT_MISMATCH;
  }
  // Off loopback needs what only root on Linux has: say so before anything is touched.
  const unavailable = args.condition && conditionUnavailable(args.condition);
  if (unavailable) {
    process.stderr.write(`net-linger lab: --condition ${args.condition}: ${unavailable}.\n`);
    return EXIT_USAGE;
  }
  if (args.capture) {
    // Where this process cannot capture, the lab may run again inside a private user and network
    // namespace; where nothing works, it says why and stops.
    const gate = await captureGate(argv);
    if (gate.kind === 'refused') {
      process.stderr.write(`net-linger lab: ${gate.message}\n`);
      return EXIT_USAGE;
    }
    if (gate.kind === 'ran-elsewhere') return gate.exitCode;
  }
  const families: Family[] = args.families.size ? [...args.families].sort() : [4];
  const progress = progressLine();
  let report: LabReport;
  try {
    report = await runLab({
      scenarios,
      families,
      platform: args.platform,
      inProcess: args.inProcess,
      ...(args.condition ? { condition: args.condition } : {}),
      capture: args.capture,
      onProgress: ({ index, total, scenario, family }) => {
        progress.update(`net-linger lab [${index + 1}/${total}] IPv${family} ${scenario.name}: ${scenario.title}…`);
      },
    });
  } catch (err) {
    if ((err as NetLingerError).code !== UNAVAILABLE) throw err;
    progress.clear();
    process.stderr.write(`net-linger lab: --condition ${args.condition}: ${(err as Error).message}\n`);
    return EXIT_USAGE;
  } finally {
    progress.clear();
  }
  if (args.html) {
    fs.writeFileSync(args.html, formatHtml(report));
    if (!args.json) process.stderr.write(`net-linger lab: wrote ${args.html}\n`);
  }
  if (args.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else process.stdout.write(formatReport(report, useColour(process.stdout) ? COLOUR : PLAIN, tableWidth()));
  return report.ok ? EXIT_OK : EXIT_MISMATCH;
}

function explain(argv: readonly string[]): number {
  const args = new Args(argv, 'explain');
  const inputs: string[] = [];
  let platform = process.platform as string;
  for (let token = args.next(); token; token = args.next()) {
    if ('positional' in token) inputs.push(token.positional);
    else if (token.flag === '--platform') platform = platformValue(args.value(token.flag, token.inline), 'explain');
    else if (token.flag === '-h' || token.flag === '--help') {
      process.stdout.write(EXPLAIN_HELP);
      return EXIT_OK;
    } else throw new UsageError(`unknown option ${token.flag}`, 'explain');
  }
  if (inputs.length !== 1) {
    throw new UsageError(inputs.length ? `explain takes one code or number, got ${inputs.length}` : 'explain needs a code or number, such as ECONNRESET, 104 or 10054', 'explain');
  }
  const { known, text } = formatExplanation(explainError(inputs[0], platform));
  if (!known) {
    process.stderr.write(`net-linger explain: ${text}`);
    return EXIT_USAGE;
  }
  process.stdout.write(text);
  return EXIT_OK;
}

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'lab':
      return lab(rest);
    case 'explain':
      return explain(rest);
    case 'probe':
      return probeCommand(rest);
    case 'proxy':
      return runProxy(rest);
    case 'help':
    case '-h':
    case '--help':
      process.stdout.write(rest[0] === 'lab' ? LAB_HELP : rest[0] === 'explain' ? EXPLAIN_HELP : rest[0] === 'probe' ? PROBE_HELP : HELP);
      return EXIT_OK;
    case '-v':
    case '--version':
      process.stdout.write(`${packageVersion()}\n`);
      return EXIT_OK;
    case undefined:
      process.stderr.write(`net-linger: which command?\n\n${HELP}`);
      return EXIT_USAGE;
    default:
      throw new UsageError(`unknown command "${command}"`, undefined);
  }
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    if (err instanceof UsageError) {
      const name = err.command ? `net-linger ${err.command}` : 'net-linger';
      process.stderr.write(`${name}: ${err.message}\nRun "${name} --help" for usage.\n`);
      process.exitCode = EXIT_USAGE;
      return;
    }
    process.stderr.write(`net-linger: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exitCode = EXIT_MISMATCH;
  },
);
