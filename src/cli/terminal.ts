// What the CLI writes only for a person at a terminal: colour, decided in this one place for every
// command that colours, and the progress line on stderr.
import type { ParsedArgs } from './args.js';

/** The options every colouring command takes; `readArgs` reads them with the command's own. */
export const COLOUR_OPTIONS = {
  color: { type: 'boolean' },
  'no-color': { type: 'boolean' },
} as const;

/** The lines of a command's --help that name the colour options, descriptions from column `column`. */
export function colourHelp(column: number): string {
  return [
    ['--color', 'colour even when stdout is not a terminal (beats NO_COLOR)'],
    ['--no-color', 'never colour (beats FORCE_COLOR)'],
  ].map(([name, text]) => `  ${name.padEnd(column - 2)}${text}`).join('\n');
}

/**
 * --color (true), --no-color (false) or neither (undefined). Given both, the last one wins, so a
 * flag appended to an alias overrides the alias's own; nothing after "--" counts.
 */
export function colourFlag(parsed: ParsedArgs, argv: readonly string[]): boolean | undefined {
  if (parsed.values.color === undefined && parsed.values['no-color'] === undefined) return undefined;
  const end = argv.includes('--') ? argv.indexOf('--') : argv.length;
  const options = argv.slice(0, end);
  return options.lastIndexOf('--color') > options.lastIndexOf('--no-color');
}

// FORCE_COLOR values that turn colour on, as Node reads them (doc/api/cli.md, FORCE_COLOR: '',
// '1' and 'true' mean 16 colours, '2' 256, '3' 16 million; any other value turns colour off).
const FORCE_ON = new Set(['', '1', 'true', '2', '3']);

/**
 * Whether to colour what goes to `stream`, by Node's own rule (lib/internal/util/colors.js
 * shouldColorize, which util.inspect and console follow): a flag decides first; then FORCE_COLOR,
 * set to anything, decides alone, pipe or terminal (NO_COLOR then does not count, as in Node);
 * then only a terminal whose hasColors() says so: NO_COLOR or NODE_DISABLE_COLORS set to anything,
 * TERM=dumb, no TERM, or CI without a known CI's variable mean no colour.
 */
export function useColour(stream: NodeJS.WriteStream, flag: boolean | undefined, env: NodeJS.ProcessEnv = process.env): boolean {
  if (flag !== undefined) return flag;
  if (env.FORCE_COLOR !== undefined) return FORCE_ON.has(env.FORCE_COLOR);
  if (!stream.isTTY) return false;
  return typeof stream.hasColors === 'function' ? stream.hasColors(env) : true;
}

export interface ProgressLine {
  /** Replaces the line with `text` (cut to the terminal's width). */
  update(text: string): void;
  /** Removes the line, leaving the cursor where the line began. */
  clear(): void;
}

/**
 * A single line on stderr that rewrites itself, for a person waiting: only when stderr is a
 * terminal and `wanted` (a command printing --json leaves the terminal to its data); otherwise
 * nothing at all.
 */
export function progressLine(wanted: boolean): ProgressLine {
  const stderr = process.stderr;
  if (!wanted || !stderr.isTTY) return { update: () => undefined, clear: () => undefined };
  let shown = false;
  return {
    update: (text) => {
      shown = true;
      stderr.write(`\r\x1b[K${text.slice(0, (stderr.columns || 80) - 1)}`);
    },
    clear: () => {
      if (shown) stderr.write('\r\x1b[K');
      shown = false;
    },
  };
}
