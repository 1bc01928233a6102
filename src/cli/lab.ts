// `net-linger lab`: play the scenario table on loopback (or off it) and judge what was observed.
import fs from 'node:fs';
import path from 'node:path';
import { binding } from '../core/binding.js';
import { NetLingerError } from '../core/errors.js';
import type { Family } from '../lab/observation.js';
import { formatHtml } from '../lab/html.js';
import { captureGate } from './capture-gate.js';
import { COLOUR, PLAIN, formatReport, runLab, type LabReport } from '../lab/report.js';
import { SCENARIOS, type Condition, type Platform, type Scenario } from '../lab/scenarios.js';
import { describeExpectation } from '../lab/describe.js';
import { CONDITION_SCENARIOS } from '../lab/condition-scenarios.js';
import { CONDITION_NAMES, UNAVAILABLE, conditionUnavailable } from '../lab/netns.js';
import { EXIT_MISMATCH, EXIT_OK, EXIT_USAGE, UsageError, flag, platformValue, readArgs, stringValue, stringValues } from './args.js';
import { COLOUR_OPTIONS, colourHelp, colourFlag, progressLine, useColour } from './terminal.js';

export const LAB_HELP = `Usage: net-linger lab [options]

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
${colourHelp(22)}
  -h, --help          this help

Exit codes: 0 every claimed row matched, 1 something did not, 2 bad usage, no capture
possible here, or --condition where it cannot run (the message says why); 130 interrupted.
Rows that claim nothing for the platform are shown but never fail the run.
Colour as Node decides it: on a terminal unless NO_COLOR is set (or TERM=dumb), anywhere
with FORCE_COLOR=1 (2 and 3 too; FORCE_COLOR=0 never); --color and --no-color beat both.
A progress line on stderr only when stderr is a terminal and the output is not --json.
`;

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
  /** --color (true), --no-color (false), neither (undefined: the environment decides). */
  colour: boolean | undefined;
}

const LAB_OPTIONS = {
  scenario: { type: 'string', multiple: true },
  condition: { type: 'string', multiple: true },
  ipv4: { type: 'boolean' },
  ipv6: { type: 'boolean' },
  both: { type: 'boolean' },
  json: { type: 'boolean' },
  list: { type: 'boolean' },
  'in-process': { type: 'boolean' },
  capture: { type: 'boolean' },
  html: { type: 'string' },
  platform: { type: 'string' },
  ...COLOUR_OPTIONS,
  help: { type: 'boolean', short: 'h' },
} as const;

function parseLab(argv: readonly string[]): LabArgs {
  const args = readArgs('lab', argv, LAB_OPTIONS);
  if (args.positionals.length) throw new UsageError(`unexpected argument "${args.positionals[0]}"`, 'lab');
  const families = new Set<Family>();
  if (flag(args, 'ipv4') || flag(args, 'both')) families.add(4);
  if (flag(args, 'ipv6') || flag(args, 'both')) families.add(6);
  const html = stringValue(args, 'html');
  const parsed: LabArgs = {
    names: stringValues(args, 'scenario'),
    families,
    json: flag(args, 'json'),
    list: flag(args, 'list'),
    help: flag(args, 'help'),
    platform: process.platform,
    inProcess: flag(args, 'in-process'),
    capture: flag(args, 'capture') || html !== undefined,
    html,
    colour: colourFlag(args, argv),
  };
  const platform = stringValue(args, 'platform');
  if (platform !== undefined) parsed.platform = platformValue(platform, 'lab');
  const conditions = [...new Set(stringValues(args, 'condition'))];
  for (const value of conditions) {
    if (!CONDITION_NAMES.includes(value as Condition)) {
      throw new UsageError(`unknown condition "${value}" (expected one of ${CONDITION_NAMES.join(', ')})`, 'lab');
    }
  }
  if (conditions.length > 1) throw new UsageError('one --condition at a time', 'lab');
  if (conditions.length) parsed.condition = conditions[0] as Condition;
  return parsed;
}

/**
 * Refuses an --html path that cannot be written, before any row runs: a missing folder, a folder
 * in the file's place, a file or folder this user may not write.
 */
function checkWritable(file: string): void {
  const target = path.resolve(file);
  let reason: string | undefined;
  try {
    const stat = fs.statSync(target, { throwIfNoEntry: false });
    if (stat?.isDirectory()) reason = 'is a directory';
    else if (stat) fs.accessSync(target, fs.constants.W_OK);
    else {
      const dir = path.dirname(target);
      const dirStat = fs.statSync(dir, { throwIfNoEntry: false });
      if (!dirStat) reason = `its folder ${dir} does not exist`;
      else if (!dirStat.isDirectory()) reason = `${dir} is not a folder`;
      else fs.accessSync(dir, fs.constants.W_OK);
    }
  } catch (err) {
    reason = `cannot be written (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
  }
  if (reason) throw new UsageError(`--html ${file}: ${reason}; nothing was run`, 'lab');
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

function tableWidth(): number {
  return process.stdout.isTTY && process.stdout.columns ? Math.max(80, process.stdout.columns) : 120;
}

function listRows(scenarios: readonly Scenario[], platform: string, json: boolean, colour: boolean | undefined): void {
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
  const style = useColour(process.stdout, colour) ? COLOUR : PLAIN;
  const width = Math.max(...rows.map((r) => r.scenario.length));
  const lines = rows.map((r) => [
    `${style.bold(r.scenario.padEnd(width))}  ${r.title}`,
    `${' '.repeat(width)}  ${style.dim(r.why)}`,
    `${' '.repeat(width)}  ${r.expected ? `claims on ${platform}: ${r.expected}` : style.dim(`claims nothing on ${platform}`)}`,
  ].join('\n'));
  process.stdout.write(`${lines.join('\n\n')}\n`);
}

/** Runs `net-linger lab`; resolves to the exit code (throws UsageError for bad usage). */
export async function lab(argv: readonly string[]): Promise<number> {
  const args = parseLab(argv);
  if (args.help) {
    process.stdout.write(LAB_HELP);
    return EXIT_OK;
  }
  if (args.html !== undefined && !args.list) checkWritable(args.html);
  const table = args.condition ? CONDITION_SCENARIOS.filter((s) => s.condition === args.condition) : scenarioTable();
  const scenarios = selectScenarios(table, args.names);
  if (args.list) {
    listRows(scenarios, args.platform, args.json, args.colour);
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
  const progress = progressLine(!args.json);
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
  if (args.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else process.stdout.write(formatReport(report, useColour(process.stdout, args.colour) ? COLOUR : PLAIN, tableWidth()));
  if (args.html) {
    try {
      fs.writeFileSync(args.html, formatHtml(report));
    } catch (err) {
      // Checked before the run; something changed since. The report above is still whole.
      process.stderr.write(`net-linger lab: --html ${args.html}: cannot be written (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})\n`);
      return EXIT_USAGE;
    }
    if (!args.json) process.stderr.write(`net-linger lab: wrote ${args.html}\n`);
  }
  return report.ok ? EXIT_OK : EXIT_MISMATCH;
}
