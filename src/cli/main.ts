#!/usr/bin/env node
// net-linger: `lab` shows on this machine what each way of closing does to the peer; `explain`
// turns any spelling of a socket error into the one code and what to do about it; `probe` asks a
// server how it ends an upload; `proxy` relays and injects faults. One file per command; args.ts
// holds the one option reader, the exit codes and UsageError they share, terminal.ts the colour
// decision and the progress line.
import { packageVersion } from '../lab/report.js';
import { EXIT_MISMATCH, EXIT_OK, EXIT_USAGE, UsageError, readArgs } from './args.js';
import { EXPLAIN_HELP, explain } from './explain.js';
import { LAB_HELP, lab } from './lab.js';
import { PROBE_HELP, probeCommand } from './probe.js';
import { PROXY_HELP, runProxy } from './proxy.js';

const HELP = `net-linger: close TCP connections on purpose, and see what the peer observes.

Exit codes, every command: 0 fine, 1 an observation did not match (a lab row, a probe verdict),
2 bad usage (the message says why), 130 interrupted by Ctrl-C (SIGINT) and 143 by SIGTERM
(128 + the signal's number, as a shell reports it; the proxy runs until stopped and exits 0).

Usage:
  net-linger lab [options]           run the scenario table on loopback and judge it
  net-linger explain <code|number>   one error code, what it means on each OS, what avoids it
  net-linger probe <url|host:port>   upload to a server: does it reset, or close cleanly?
  net-linger proxy --upstream H:P    a TCP proxy that relays faithfully and injects faults
  net-linger help [command]          this help, or a command's (lab, explain, probe, proxy);
                                     "net-linger <command> --help" is the same
  net-linger --version               the package's version

Colour (lab, probe) follows Node's rules: on a terminal unless NO_COLOR is set, anywhere with
FORCE_COLOR=1; the commands' --color and --no-color beat both. A progress line (lab, probe)
appears on stderr only when stderr is a terminal and the output is not --json.

Examples:
  net-linger lab                     every row over IPv4, as a table
  net-linger lab --both --json       IPv4 and IPv6, as JSON
  net-linger lab --scenario linger-zero --scenario orderly-close
  net-linger explain 10054           WSAECONNRESET is ECONNRESET
  net-linger explain 54 --platform darwin
  net-linger help probe              the probe's options

"--" ends the options of any command: what follows is an argument even if it starts with "-".
`;

const COMMAND_HELP: Readonly<Record<string, string>> = { lab: LAB_HELP, explain: EXPLAIN_HELP, probe: PROBE_HELP, proxy: PROXY_HELP };
const COMMANDS = Object.keys(COMMAND_HELP);

function help(argv: readonly string[]): number {
  const { positionals, values } = readArgs(undefined, argv, { help: { type: 'boolean', short: 'h' } });
  if (values.help) return help([]);
  if (positionals.length > 1) throw new UsageError(`help takes one command, got ${positionals.length}`);
  const [command] = positionals;
  if (command === undefined || command === 'help') {
    process.stdout.write(HELP);
    return EXIT_OK;
  }
  const text = COMMAND_HELP[command];
  if (text === undefined) throw new UsageError(`no command "${command}"; the commands are ${COMMANDS.join(', ')}`);
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
      return help(rest);
    case '-h':
    case '--help':
      return help([]);
    case '-v':
    case '--version':
      process.stdout.write(`${packageVersion()}\n`);
      return EXIT_OK;
    case undefined:
      process.stderr.write(`net-linger: which command?\n\n${HELP}`);
      return EXIT_USAGE;
    default:
      throw new UsageError(`unknown command "${command}" (the commands are ${COMMANDS.join(', ')}, help)`);
  }
}

// Whoever reads our output may go away first (`net-linger proxy | head -1`): a write then fails
// with EPIPE. Printing stops; the work goes on (a proxy keeps relaying) and the exit code stands.
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);

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
