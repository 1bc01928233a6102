// `net-linger explain`: any spelling of a socket error, the one code, and what to do about it.
import { explainError, formatExplanation } from '../core/explain.js';
import { EXIT_OK, EXIT_USAGE, UsageError, flag, platformValue, readArgs, stringValue } from './args.js';

export const EXPLAIN_HELP = `Usage: net-linger explain <code|number> [--platform <name>] [--json]

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
  --json              print one JSON object on stdout (input, platform, known, code, spellings,
                      causes, avoid, elsewhere, text), the exit code as without it
  -h, --help          this help
  --                  what follows is the code, even if it starts with "-"

Exit codes: 0 explained (one of the connection errors net-linger normalises); 2 bad usage, or an
input outside that table (an OS error such as ETIMEDOUT is named, on stderr, but still exits 2).
`;

const EXPLAIN_OPTIONS = {
  platform: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Runs `net-linger explain`; returns the exit code (throws UsageError for bad usage). */
export function explain(argv: readonly string[]): number {
  const args = readArgs('explain', argv, EXPLAIN_OPTIONS);
  if (flag(args, 'help')) {
    process.stdout.write(EXPLAIN_HELP);
    return EXIT_OK;
  }
  const platformArg = stringValue(args, 'platform');
  const platform = platformArg === undefined ? process.platform : platformValue(platformArg, 'explain');
  const inputs = args.positionals;
  if (inputs.length !== 1) {
    throw new UsageError(inputs.length ? `explain takes one code or number, got ${inputs.length}` : 'explain needs a code or number, such as ECONNRESET, 104 or 10054', 'explain');
  }
  const explanation = explainError(inputs[0], platform);
  const { known, text } = formatExplanation(explanation);
  if (flag(args, 'json')) {
    const { input, code, spellings, causes, avoid, elsewhere } = explanation;
    process.stdout.write(`${JSON.stringify({ input, platform, known, code: code ?? null, spellings, causes, avoid, elsewhere, text })}\n`);
    return known ? EXIT_OK : EXIT_USAGE;
  }
  if (!known) {
    process.stderr.write(`net-linger explain: ${text}`);
    return EXIT_USAGE;
  }
  process.stdout.write(text);
  return EXIT_OK;
}
