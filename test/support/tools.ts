// The optional tools some legs run beside the suite's own code, and the one way a leg skips
// without one. Node, npm, python3, make and a C++ compiler are required; these are not:
// a leg that needs a missing tool is skipped with a note naming the tool and the command that
// installs it, and test/support/summary-reporter.ts prints every such skip in one closing line.
// NET_LINGER_REQUIRE_TOOLS=1 (CI sets it) turns each of those skips into a failure.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { beforeEach, type TestContext } from 'vitest';

interface Tool {
  /** The Debian package that installs it. */
  readonly pkg: string;
  /** Arguments that make it print its version and exit 0. */
  readonly probe: readonly string[];
}

export const TOOLS = {
  curl: { pkg: 'curl', probe: ['--version'] },
  nginx: { pkg: 'nginx-light', probe: ['-v'] },
  nghttp: { pkg: 'nghttp2-client', probe: ['--version'] },
  h2load: { pkg: 'nghttp2-client', probe: ['--version'] },
  tcpdump: { pkg: 'tcpdump', probe: ['--version'] },
  chromium: { pkg: 'chromium', probe: ['--version'] },
  ip: { pkg: 'iproute2', probe: ['-V'] },
  tc: { pkg: 'iproute2', probe: ['-V'] },
  ss: { pkg: 'iproute2', probe: ['-V'] },
  nft: { pkg: 'nftables', probe: ['--version'] },
  /** util-linux's script(1): gives the CLI a terminal. */
  script: { pkg: 'bsdutils', probe: ['--version'] },
} as const satisfies Record<string, Tool>;

export type ToolName = keyof typeof TOOLS;

/** The prefix of every missing-tool skip note; the summary reporter reads notes that start with it. */
export const MISSING = 'missing tool:';

/** Where these tools live when PATH lacks the sbin folders (a normal user's PATH often does). */
const SBIN = ['/usr/local/sbin', '/usr/sbin', '/sbin'];
const found = new Map<ToolName, string | undefined>();

/** The tool's path when it is installed and runs, else undefined (checked once per process). */
export function toolPath(name: ToolName): string | undefined {
  if (!found.has(name)) {
    const candidates = [name, ...SBIN.map((dir) => `${dir}/${name}`).filter((p) => fs.existsSync(p))];
    // Asked without a sanitizer runtime the suite may have preloaded (test:asan): the tool is not under test.
    const { LD_PRELOAD: _preload, ...env } = process.env;
    found.set(name, candidates.find((c) => spawnSync(c, TOOLS[name].probe, { stdio: 'ignore', timeout: 10_000, env }).status === 0));
  }
  return found.get(name);
}

/** Undefined when every tool is there, else the skip note: "missing tool: curl (apt-get install curl)". */
export function missingTools(...names: ToolName[]): string | undefined {
  const missing = names.filter((n) => !toolPath(n));
  if (missing.length === 0) return undefined;
  const pkgs = [...new Set(missing.map((n) => TOOLS[n].pkg))];
  return `${MISSING} ${missing.join(', ')} (apt-get install ${pkgs.join(' ')})`;
}

export const toolsRequired = (): boolean => process.env.NET_LINGER_REQUIRE_TOOLS === '1';

/**
 * The one way a leg needs a tool: skips the running test with the note when a tool is missing,
 * or fails it when NET_LINGER_REQUIRE_TOOLS=1. Call it first in a test, or use needTools().
 */
export function requireTools(ctx: TestContext, ...names: ToolName[]): void {
  const note = missingTools(...names);
  if (!note) return;
  if (toolsRequired()) throw new Error(`${note}; NET_LINGER_REQUIRE_TOOLS=1 makes a missing tool a failure`);
  ctx.skip(note);
}

/** requireTools() before every test of the enclosing describe (or file). */
export function needTools(...names: ToolName[]): void {
  beforeEach((ctx) => requireTools(ctx, ...names));
}
