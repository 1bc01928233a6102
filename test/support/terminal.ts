// The built CLI on a terminal: util-linux's script(1) gives it one (a pseudo-terminal), the only
// way to see what it shows a person (the progress line, colour). Callers skip without the tool:
// requireTools(ctx, 'script').
import { execFile } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(__dirname, '..', '..');
export const cli = path.join(root, 'dist', 'cjs', 'cli', 'main.js');

// Node decides colour from these (tty.WriteStream.getColorDepth): left out unless a test sets them,
// and TERM set to a colour terminal, so the runner's own environment (CI=1, TERM=dumb) does not decide.
const COLOUR_ENV = { NO_COLOR: undefined, FORCE_COLOR: undefined, NODE_DISABLE_COLORS: undefined, CI: undefined, TERM: 'xterm-256color' };

export interface TerminalRun {
  /** The exit code (script -e passes the command's on). */
  code: number;
  /** What the terminal showed: stdout and stderr together, lines ending in \r\n. */
  output: string;
}

/**
 * Runs `net-linger <args>` with stdout and stderr on a terminal, or with one of them sent to a
 * file (`stdoutTo`, `stderrTo`). Asynchronous, so a server in this process can answer the CLI.
 */
export function onTerminal(
  args: readonly string[],
  options: { env?: Record<string, string | undefined>; stdoutTo?: string; stderrTo?: string } = {},
): Promise<TerminalRun> {
  const quote = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;
  const command = [process.execPath, cli, ...args].map(quote).join(' ') +
    (options.stdoutTo ? ` > ${quote(options.stdoutTo)}` : '') + (options.stderrTo ? ` 2> ${quote(options.stderrTo)}` : '');
  const env = { ...process.env, ...COLOUR_ENV, ...options.env };
  return new Promise((resolve, reject) => {
    execFile('script', ['-qec', command, '/dev/null'], { cwd: root, encoding: 'utf8', env, timeout: 120_000 }, (err, stdout) => {
      if (err && typeof err.code !== 'number') reject(err);
      else resolve({ code: err ? (err.code as unknown as number) : 0, output: stdout });
    });
  });
}
