// The package's own process warnings that are said once: a deprecated spelling is worth one line
// in the log, not one per call. Once per module instance, so once per process on the main thread
// (a worker thread that loads the package says it once more).

const said = new Set<string>();

/**
 * process.emitWarning(message, type, code) the first time `code` is warned about, nothing after.
 * 'DeprecationWarning' goes through Node's own switches (--no-deprecation, --throw-deprecation).
 */
export function warnOnce(code: string, message: string, type: 'DeprecationWarning' | 'NetLingerWarning' = 'NetLingerWarning'): void {
  if (said.has(code)) return;
  said.add(code);
  process.emitWarning(message, { type, code });
}
