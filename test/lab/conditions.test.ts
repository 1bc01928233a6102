// Off loopback (`net-linger lab --condition`): the rows that exist only across the lab's network
// namespaces, the refusal where they cannot run, and that nothing is left behind.
import { execFile, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONDITION_SCENARIOS } from '../../src/lab/condition-scenarios';
import { mergeWire, runScenario } from '../../src/lab/runner';
import { SCENARIOS } from '../../src/lab/scenarios';
import { semanticsTable } from '../../src/lab/semantics-table';
import { labSchema } from './schema';
import { cliForOtherUsers } from '../support/helpers';
import { needTools } from '../support/tools';

const root = path.resolve(__dirname, '..', '..');
const cli = path.join(root, 'dist', 'cjs', 'cli', 'main.js');
const linux = process.platform === 'linux';
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
// As root on Linux the rows run; without iproute2 or nftables they skip, naming what installs them
// (test/support/tools.ts; NET_LINGER_REQUIRE_TOOLS=1 makes that a failure).
const canRun = linux && isRoot;
const hasSetpriv = linux && isRoot && (() => {
  try {
    execFileSync('setpriv', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

interface Run { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; pid: number }

function run(args: string[], prefix: string[] = []): Promise<Run> {
  return new Promise((resolve) => {
    // Another user (a prefix such as setpriv) gets a CLI and a working folder it can reach.
    const other = prefix.length ? cliForOtherUsers() : undefined;
    const [command, ...rest] = other ? [...prefix, process.execPath, other.cli, ...args] : [process.execPath, cli, ...args];
    const child = execFile(command, rest, { cwd: other ? os.tmpdir() : root, env: { ...process.env, NO_COLOR: '1', ...other?.env }, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
      resolve({ code, signal: (err as { signal?: NodeJS.Signals } | null)?.signal ?? null, stdout, stderr, pid: child.pid! });
    });
  });
}

const netnsList = (): string[] => {
  try {
    return fs.readdirSync('/run/netns');
  } catch {
    return [];
  }
};
const ours = (pid: number) => netnsList().filter((n) => n.startsWith(`net-linger-${pid}-`));
const rootLinks = () => execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).split('\n').map((l) => l.split(':')[1]?.trim()).filter(Boolean).sort();
const rootTables = () => execFileSync('nft', ['list', 'tables'], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).sort();

/** What the host's own namespace holds that a run must not change: links, nftables tables. */
function hostSnapshot(): { links: string[]; tables: string[] } {
  return { links: rootLinks().filter((l) => l.startsWith('nl-')), tables: rootTables().filter((t) => t.includes('net_linger')) };
}

type Row = { scenario: string; status: string; mismatches: string[]; error: string | null; observed: any };

const { validate } = labSchema();

function expectAllPass(report: { ok: boolean; rows: Row[] }, names: string[]): void {
  expect(validate(report)).toEqual([]);
  expect(report.rows.map((r) => r.scenario)).toEqual(names);
  for (const row of report.rows) expect({ scenario: row.scenario, status: row.status, error: row.error, mismatches: row.mismatches }).toMatchObject({ status: 'pass' });
  expect(report.ok).toBe(true);
}

const names = (condition: string) => CONDITION_SCENARIOS.filter((s) => s.condition === condition).map((s) => s.name);

describe('the off-loopback table', () => {
  it('every row names a condition, claims something on Linux and says where it is not verified', () => {
    expect(CONDITION_SCENARIOS.length).toBeGreaterThanOrEqual(8);
    for (const s of CONDITION_SCENARIOS) {
      expect(['blackhole', 'slow', 'lossy'], s.name).toContain(s.condition);
      expect(s.expect.linux, s.name).toBeDefined();
      expect(s.unverified?.darwin && s.unverified?.win32, s.name).toBeTruthy();
    }
    for (const condition of ['blackhole', 'slow', 'lossy']) expect(names(condition).length, condition).toBeGreaterThan(0);
    // A vanish step is what makes a blackhole; no other condition has one.
    for (const s of CONDITION_SCENARIOS) {
      expect(s.steps.some((step) => step.actor === 'network' && step.do === 'vanish'), s.name).toBe(s.condition === 'blackhole');
    }
    const all = [...SCENARIOS, ...CONDITION_SCENARIOS].map((s) => s.name);
    expect(new Set(all).size).toBe(all.length);
  });

  it('the loopback table has none of them, and a row with a condition refuses to run on loopback', async () => {
    for (const s of SCENARIOS) {
      expect('condition' in s && s.condition, s.name).toBeFalsy();
      if (s.kind === 'connection') expect(s.steps.every((step) => step.actor !== 'network'), s.name).toBe(true);
    }
    const result = await runScenario(CONDITION_SCENARIOS[0]);
    expect(result.passed).toBe(false);
    expect(result.error).toBe(`${CONDITION_SCENARIOS[0].name} is played off loopback only: net-linger lab --condition blackhole`);
  });

  it('a merged capture marks what left one side and never reached the other, retransmissions in order', () => {
    const seg = (srcPort: number, dstPort: number, seq: number, flags: string[], bytes: number, timeMs: number) =>
      ({ srcPort, dstPort, seq, ack: 1, flags, bytes, timeMs });
    const closerLink = [
      seg(5000, 40000, 1, ['SYN', 'ACK'], 0, 1000),
      seg(40000, 5000, 1, ['PSH', 'ACK'], 100, 1001),
      seg(5000, 40000, 2, ['FIN', 'ACK'], 0, 1002), // sent, lost
      seg(5000, 40000, 2, ['FIN', 'ACK'], 0, 1202), // the retransmission, which arrives
      seg(5000, 40000, 3, ['RST'], 0, 1300), // sent, lost
      seg(40000, 5000, 9, ['ACK'], 0, 1003), // ACK-only: folded away
    ];
    const peerLink = [
      seg(5000, 40000, 1, ['SYN', 'ACK'], 0, 1000.1),
      seg(40000, 5000, 1, ['PSH', 'ACK'], 100, 1000.9),
      seg(5000, 40000, 2, ['FIN', 'ACK'], 0, 1202.1),
      seg(40000, 5000, 9, ['ACK'], 0, 1002.9),
      seg(1234, 5000, 1, ['RST'], 0, 1400), // another connection
    ];
    expect(mergeWire(closerLink, peerLink, { closer: 5000, peer: 40000 })).toEqual([
      { from: 'closer', flags: ['SYN', 'ACK'], bytes: 0, tMs: 0 },
      { from: 'peer', flags: ['PSH', 'ACK'], bytes: 100, tMs: 0.9 },
      { from: 'closer', flags: ['FIN', 'ACK'], bytes: 0, tMs: 2, lost: true },
      { from: 'closer', flags: ['FIN', 'ACK'], bytes: 0, tMs: 202 },
      { from: 'closer', flags: ['RST'], bytes: 0, tMs: 300, lost: true },
    ]);
  });

  it('docs/lab.md shows the table as it is', () => {
    const doc = fs.readFileSync(path.join(root, 'docs', 'lab.md'), 'utf8');
    expect(doc).toContain('\n## Off loopback\n');
    expect(/<!-- conditions:start -->\n([\s\S]*?)<!-- conditions:end -->/.exec(doc)?.[1]).toBe(semanticsTable(CONDITION_SCENARIOS));
    const output = /<!-- conditions-output:start -->\n```\n([\s\S]*?)```\n<!-- conditions-output:end -->/.exec(doc)?.[1];
    for (const name of names('blackhole')) expect(output).toMatch(new RegExp(`^${name} .*pass$`, 'm'));
  });
});

// The CLI runs in its own processes: run these once, in the forks project.
describe('net-linger lab --condition', () => {
  it('--list --condition shows the rows without running anything, as any user', async () => {
    const { code, stdout } = await run(['lab', '--list', '--json', '--condition', 'blackhole']);
    expect(code).toBe(0);
    expect(JSON.parse(stdout).rows.map((r: { scenario: string }) => r.scenario)).toEqual(names('blackhole'));
  });

  it('an unknown condition, or two, is bad usage', async () => {
    const unknown = await run(['lab', '--condition', 'wet']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('net-linger lab: unknown condition "wet" (expected one of blackhole, slow, lossy)');
    const two = await run(['lab', '--condition', 'slow', '--condition', 'lossy']);
    expect(two.code).toBe(2);
    expect(two.stderr).toContain('one --condition at a time');
  });

  it.runIf(!linux)('is not available here, in words, exit 2', async () => {
    const { code, stdout, stderr } = await run(['lab', '--condition', 'blackhole']);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain(`off-loopback conditions are not available here (${process.platform})`);
  });

  it.runIf(hasSetpriv)('as a user who is not root: the documented refusal, exit 2, nothing made', async () => {
    const { code, stdout, stderr, pid } = await run(['lab', '--condition', 'blackhole'], ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups']);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toBe(
      'net-linger lab: --condition blackhole: off-loopback conditions need root: the lab creates three network namespaces joined by ' +
      'veth pairs and sets nftables rules in them (CAP_SYS_ADMIN and CAP_NET_ADMIN). Run it as root, e.g. ' +
      '"sudo npx net-linger lab --condition blackhole".\n',
    );
    expect(ours(pid)).toEqual([]);
  });

  describe.runIf(canRun)('as root', () => {
    needTools('ip', 'nft', 'tc', 'ss');

    it('blackhole with --capture: every row and wire claim passes, the JSON says what the vanished peer did to each close, nothing is left behind', async () => {
      const before = hostSnapshot();
      const { code, stdout, stderr, pid } = await run(['lab', '--condition', 'blackhole', '--capture', '--json']);
      expect(stderr).toBe('');
      const report = JSON.parse(stdout);
      expectAllPass(report, names('blackhole'));
      expect(code).toBe(0);
      expect(report.condition).toBe('blackhole');
      const row = (name: string) => report.rows.find((r: Row) => r.scenario === name).observed;
      // SO_LINGER {1,1}: close() held the closer's thread the whole second, then left an orphan.
      expect(row('vanished-linger-timeout').closer).toMatchObject({ state: 'FIN_WAIT1' });
      expect(row('vanished-linger-timeout').closer.closeBlockedMs).toBeGreaterThanOrEqual(900);
      expect(row('vanished-linger-timeout').network.dropped).toBeGreaterThan(0);
      expect(row('vanished-linger-close').closer.report).toMatchObject({ helper: 'lingerClose', outcome: 'timeout', reset: false });
      expect(row('vanished-linger-close').closer.report.unackedBytes).toBeGreaterThan(0);
      expect(row('vanished-graceful-close').closer.report).toMatchObject({ helper: 'gracefulClose', outcome: 'timeout', reset: true });
      expect(row('reset-lost').peer.outcome).toBe('open');
      expect(row('reset-lost-then-peer-sends').peer.outcome).toBe('ECONNRESET');
      // What crossed the wire: when the linger time ran out, no RST, only the FIN and data again,
      // lost; the reset that was lost left the closer and never reached the peer.
      type Seg = { from: string; flags: string[]; bytes: number; lost?: true };
      const wire = (name: string): Seg[] => row(name).wire;
      for (const name of ['vanished-linger-timeout', 'vanished-linger-close']) {
        expect(wire(name).some((s) => s.flags.includes('RST')), name).toBe(false);
        expect(wire(name).filter((s) => s.from === 'closer' && s.flags.includes('FIN')).every((s) => s.lost), name).toBe(true);
      }
      expect(wire('reset-lost').filter((s) => s.flags.includes('RST'))).toEqual([{ from: 'closer', flags: expect.arrayContaining(['RST']), bytes: 0, tMs: expect.any(Number), lost: true }]);
      const resets = wire('reset-lost-then-peer-sends').filter((s) => s.flags.includes('RST'));
      expect(resets.map((s) => s.lost === true)).toEqual([true, false]);
      expect(ours(pid)).toEqual([]);
      expect(hostSnapshot()).toEqual(before);
    });

    it('slow: its rows run and their claims pass', async () => {
      const { code, stdout, pid } = await run(['lab', '--condition', 'slow', '--json']);
      const report = JSON.parse(stdout);
      expectAllPass(report, names('slow'));
      expect(code).toBe(0);
      expect(report.rows.find((r: Row) => r.scenario === 'slow-linger-timeout').observed.closer.closeBlockedMs).toBeGreaterThanOrEqual(900);
      expect(ours(pid)).toEqual([]);
    });

    it('lossy: its rows run and their claims pass; a crashed run\'s leftovers are swept, a live run\'s never', async () => {
      // A namespace named for a process that no longer exists, as a SIGKILLed run leaves it.
      const gone = execFileSync('sh', ['-c', 'echo $$'], { encoding: 'utf8' }).trim();
      const leftover = `net-linger-${gone}-abcdef-peer`;
      execFileSync('ip', ['netns', 'add', leftover]);
      try {
        const { code, stdout, pid } = await run(['lab', '--condition', 'lossy', '--capture', '--json']);
        const report = JSON.parse(stdout);
        expectAllPass(report, names('lossy'));
        expect(code).toBe(0);
        for (const r of report.rows) {
          expect(r.observed.network).toMatchObject({ condition: 'lossy', dropped: expect.any(Number) });
          expect(r.observed.wire.some((s: { flags: string[] }) => s.flags.includes('RST')), r.scenario).toBe(false);
        }
        expect(netnsList()).not.toContain(leftover);
        expect(ours(pid)).toEqual([]);
      } finally {
        if (netnsList().includes(leftover)) execFileSync('ip', ['netns', 'del', leftover]);
      }
    });

    it('SIGINT mid-run: the namespaces and both side processes are gone, and the signal still ends the run', async () => {
      const before = hostSnapshot();
      const child = spawn(process.execPath, [cli, 'lab', '--condition', 'blackhole'], { cwd: root, stdio: 'ignore' });
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
        child.on('exit', (code, signal) => resolve({ code, signal }));
      });
      // Wait until the rows are under way: three namespaces and a process in each side's.
      const deadline = Date.now() + 15_000;
      let sides: number[] = [];
      while (Date.now() < deadline) {
        const made = ours(child.pid!);
        if (made.length === 3) {
          sides = made.filter((n) => !n.endsWith('-network'))
            .flatMap((n) => execFileSync('ip', ['netns', 'pids', n], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number));
          if (sides.length === 2) break;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(sides).toHaveLength(2);
      child.kill('SIGINT');
      const { code, signal } = await exited;
      expect(signal ?? code).toBe('SIGINT');
      expect(ours(child.pid!)).toEqual([]);
      // Gone, or a zombie waiting for whoever inherited it to reap it: no longer running either way.
      const running = (pid: number) => {
        try {
          return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
        } catch {
          return false;
        }
      };
      // SIGKILL is delivered asynchronously: give it a moment.
      for (let i = 0; i < 100 && sides.some(running); i++) await new Promise((r) => setTimeout(r, 20));
      for (const pid of sides) expect(running(pid), `side process ${pid}`).toBe(false);
      expect(hostSnapshot()).toEqual(before);
    });
  });
});
