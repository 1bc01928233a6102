// The one argument reader every command uses, on Node's util.parseArgs (Node 18.3+; nothing newer is
// relied on: no `tokens`, `default` or `allowNegative`), and the one UsageError they throw.
//
// One rule everywhere:
// - `--name value` and `--name=value` both give a value; `-x value` and `-xvalue` for a short name.
// - A value is missing when nothing follows, or when what follows looks like an option (starts with
//   '-' and is not a number): "--name needs a value". A negative number is a value, so
//   `--reset-after -5` reaches the command's own range check.
// - A flag given a value (`--json=yes`) is refused: "--json takes no value".
// - `--` ends the options: everything after it is a positional, even `--help`.
// - A negative number where a positional may stand (`explain -4077`) is a positional.
import os from 'node:os';
import { parseArgs } from 'node:util';

/** The exit codes every command shares. */
export const EXIT_OK = 0;
/** An observation did not match (a lab row, a probe verdict). */
export const EXIT_MISMATCH = 1;
/** Bad usage, or a run that cannot happen here; the message says why. */
export const EXIT_USAGE = 2;

/**
 * Stopped by a signal before the work was done: 128 + the signal's number, what a shell reports
 * for a process the signal ended (130 for Ctrl-C's SIGINT, 143 for SIGTERM).
 */
export function exitForSignal(name: 'SIGINT' | 'SIGTERM'): number {
  return 128 + os.constants.signals[name];
}

/** Bad usage: the CLI prints the message and "Run ... --help", and exits 2. */
export class UsageError extends Error {
  override name = 'UsageError';

  /** `command`: the command whose help to point at (undefined: the general help). */
  constructor(message: string, readonly command?: string) {
    super(message);
  }
}

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** A string option given more than once keeps every value (otherwise the last one wins). */
  multiple?: boolean;
  /** A flag that may carry a value only as `--name=value` (`--close-unread[=N]`). */
  optionalValue?: boolean;
}

export type ParsedValue = string | true | string[];

export interface ParsedArgs {
  values: Record<string, ParsedValue | undefined>;
  positionals: string[];
}

const NUMBER = /^-\d+(?:\.\d+)?$/;
// parseArgs reads "-4077" as the short flags -4 -0 -7 -7; a prefix no option can start with keeps
// such a number a positional, and is taken off again afterwards.
const SHIELD = '\u0000';

/** An option's spelling as the user typed it: -h or --name. */
export function optionName(name: string): string {
  return name.length === 1 ? `-${name}` : `--${name}`;
}

function looksLikeOption(value: string): boolean {
  return value.startsWith('-') && value !== '-' && !NUMBER.test(value);
}

/**
 * Reads `argv` for `command` against `options`; throws UsageError for an unknown option, a missing
 * value, or a value given to a flag. Values are checked for shape only; what they mean is the command's.
 */
export function readArgs(command: string | undefined, argv: readonly string[], options: Readonly<Record<string, OptionSpec>>): ParsedArgs {
  const stringOption = new Set<string>();
  for (const [name, spec] of Object.entries(options)) {
    if (spec.type !== 'string') continue;
    stringOption.add(`--${name}`);
    if (spec.short) stringOption.add(`-${spec.short}`);
  }
  // Shield negative numbers that stand as positionals (not the value of the option before them).
  const shielded: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      shielded.push(...argv.slice(i));
      break;
    }
    const previous = i > 0 ? argv[i - 1] : undefined;
    const isValue = previous !== undefined && stringOption.has(previous);
    shielded.push(!isValue && NUMBER.test(arg) ? SHIELD + arg : arg);
  }
  const config: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const [name, spec] of Object.entries(options)) {
    config[name] = { type: spec.type, ...(spec.short ? { short: spec.short } : {}), ...(spec.multiple ? { multiple: true } : {}) };
  }
  const { values, positionals } = parseArgs({ args: shielded, options: config, strict: false, allowPositionals: true });
  const out: Record<string, ParsedValue | undefined> = {};
  for (const [name, raw] of Object.entries(values)) {
    const spec = options[name];
    if (!spec) throw new UsageError(`unknown option ${optionName(name)}`, command);
    const flag = optionName(name);
    if (spec.type === 'boolean') {
      if (raw !== true && !spec.optionalValue) throw new UsageError(`${flag} takes no value`, command);
      out[name] = raw as string | true;
      continue;
    }
    const list = (Array.isArray(raw) ? raw : [raw]) as (string | boolean)[];
    for (const value of list) {
      if (typeof value !== 'string' || looksLikeOption(value)) throw new UsageError(`${flag} needs a value`, command);
    }
    out[name] = spec.multiple ? (list as string[]) : (list[list.length - 1] as string);
  }
  return { values: out, positionals: positionals.map((p) => (p.startsWith(SHIELD) ? p.slice(SHIELD.length) : p)) };
}

/** A string option's value (the reader already checked it is one). */
export function stringValue(parsed: ParsedArgs, name: string): string | undefined {
  const v = parsed.values[name];
  return typeof v === 'string' ? v : undefined;
}

/** A string option's values, in the order given. */
export function stringValues(parsed: ParsedArgs, name: string): string[] {
  const v = parsed.values[name];
  return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
}

/** A flag was given. */
export function flag(parsed: ParsedArgs, name: string): boolean {
  return parsed.values[name] !== undefined;
}

/** A whole number in [min, max], or a UsageError that says which way it is wrong. */
export function integerArg(command: string, flagName: string, text: string, min: number, max = Number.MAX_SAFE_INTEGER, unit = ''): number {
  const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
  const what = `a whole number${unit ? ` of ${unit}` : ''} ${range}`;
  if (!/^-?\d+$/.test(text)) throw new UsageError(`${flagName} needs ${what}, got "${text}"`, command);
  const n = Number(text);
  if (n < min || n > max || !Number.isSafeInteger(n)) throw new UsageError(`${flagName} is out of range: "${text}" (expected ${what})`, command);
  return n;
}

const PLATFORMS = ['aix', 'android', 'cygwin', 'darwin', 'freebsd', 'haiku', 'linux', 'netbsd', 'openbsd', 'sunos', 'win32'];

/** A platform name for --platform. */
export function platformValue(value: string, command: string): string {
  if (!PLATFORMS.includes(value)) throw new UsageError(`unknown platform "${value}" (expected one of ${PLATFORMS.join(', ')})`, command);
  return value;
}
