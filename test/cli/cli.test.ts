// The CLI as users run it: a child process, its stdout, stderr and exit code.
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/core/errors';
import { captureSupport } from '../../src/lab/capture';
import { SCENARIOS } from '../../src/lab/scenarios';
import { labSchema } from '../lab/schema';

const root = path.resolve(__dirname, '..', '..');
const cli = path.join(root, 'dist', 'cjs', 'cli', 'main.js');
const { schema, validate } = labSchema();
const platform = process.platform;
const linux = platform === 'linux';

interface Run { code: number; stdout: string; stderr: string }

function run(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], { cwd: root, env: { ...process.env, NO_COLOR: undefined, FORCE_COLOR: undefined, NODE_DISABLE_COLORS: undefined, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

// The CLI runs in its own process, so the test pool makes no difference to it: run these once,
// in the forks project, rather than twice.
describe('net-linger CLI', () => {
  describe('lab', () => {
    // The Windows leg runs node.exe under Wine, with no npm beside it.
    it.skipIf(platform === 'win32')('`npm run -s lab -- --json`, the documented JSON command, prints clean JSON on stdout', () => {
      const stdout = execFileSync('npm', ['run', '-s', 'lab', '--', '--json', '--scenario', 'plain-close'], { cwd: root, encoding: 'utf8' });
      const report = JSON.parse(stdout) as { ok: boolean; rows: { scenario: string }[] };
      expect(report.rows.map((r) => r.scenario)).toEqual(['plain-close']);
      if (linux) expect(report.ok).toBe(true);
    });

    it('prints the whole table over IPv4, every claimed row passing, exit 0', async () => {
      const { code, stdout, stderr } = await run(['lab']);
      expect(stderr).toBe(''); // no progress line when stderr is not a terminal
      expect(stdout).not.toMatch(/\x1b\[/); // no colour when stdout is not a terminal
      expect(stdout).toContain('net-linger lab · IPv4 (127.0.0.1)');
      expect(stdout).toMatch(/scenario\s+what the closer did\s+what was observed\s+TIME_WAIT\s+expected\s+result/);
      for (const s of SCENARIOS) expect(stdout).toMatch(new RegExp(`^${s.name} `, 'm'));
      if (linux) {
        expect(code, stdout).toBe(0);
        expect(stdout).toMatch(/^plain-close .*\byes\s+peer reads all\b.*pass$/m);
        expect(stdout).toContain('(errno -104)');
        expect(stdout).toMatch(/(^|\s)10 B/m); // a number stays with its unit when a cell wraps
        expect(stdout).toContain(`${SCENARIOS.length} rows: ${SCENARIOS.length} pass, 0 fail`);
        expect(stdout).toContain('everything observed matches the claims.');
      }
    });

    it('--json --both validates against docs/lab-output.schema.json and agrees with the exit code', async () => {
      const { code, stdout } = await run(['lab', '--json', '--both']);
      const report = JSON.parse(stdout);
      expect(validate(report, schema)).toEqual([]);
      expect(report.schemaVersion).toBe(1);
      expect(report.families).toEqual([4, 6]);
      expect(report.rows).toHaveLength(SCENARIOS.length * 2);
      expect(report.summary.total).toBe(report.rows.length);
      expect(code).toBe(report.ok ? 0 : 1);
      if (linux) {
        expect(report.ok).toBe(true);
        expect(report.rows.filter((r: { status: string }) => r.status !== 'pass')).toEqual([]);
        const reset = report.rows.find((r: { scenario: string; family: number }) => r.scenario === 'close-with-unread-data' && r.family === 6);
        expect(reset.observed.peer).toMatchObject({ outcome: 'ECONNRESET', errno: -104, syscall: 'read' });
        expect(reset.observed.closer).toMatchObject({ timeWait: false });
      }
    }, 120_000); // both families of every row, run as a child: slow on a loaded machine

    // Where packets can be captured (CI runs as root): every connection row has its wire record
    // and every wire claim passes, over both families; the JSON still validates.
    it.skipIf(!linux || !captureSupport().ok)('--capture --json --both records every connection row and its wire claims pass', async () => {
      const { code, stdout, stderr } = await run(['lab', '--capture', '--json', '--both']);
      expect(stderr).toBe('');
      const report = JSON.parse(stdout);
      expect(validate(report, schema)).toEqual([]);
      expect(report.schemaVersion).toBe(1);
      expect(report.rows.filter((r: { status: string }) => r.status !== 'pass')).toEqual([]);
      expect(code).toBe(0);
      for (const r of report.rows) {
        if (r.kind !== 'connection') {
          expect(r.observed.wire, r.scenario).toBeUndefined();
          continue;
        }
        expect(r.observed.wireDropped, r.scenario).toBeUndefined();
        expect(r.observed.wire.slice(0, 2).map((s: { flags: string[] }) => s.flags), r.scenario).toEqual([['SYN'], ['SYN', 'ACK']]);
        expect(r.expected, r.scenario).toContain('wire: ');
      }
      const reset = report.rows.find((r: { scenario: string; family: number }) => r.scenario === 'close-with-unread-data' && r.family === 6);
      expect(reset.observed.wire.slice(2)).toEqual([
        { from: 'peer', flags: ['PSH', 'ACK'], bytes: 1000, tMs: expect.any(Number) },
        { from: 'closer', flags: ['RST', 'ACK'], bytes: 0, tMs: expect.any(Number) },
      ]);
      const { stdout: table } = await run(['lab', '--capture', '--scenario', 'close-with-unread-data']);
      expect(table).toMatch(/on the wire:\s+peer → closer {2}1000 B\s+closer → peer {2}RST/);
    }, 120_000); // both families of every row, run as a child: slow on a loaded machine

    it('the validator itself rejects what the schema forbids', () => {
      const good = {
        schemaVersion: 1, tool: { name: 'net-linger', version: '0' }, platform: 'linux',
        host: { platform: 'linux', arch: 'x64', release: '6', node: 'v20' }, families: [4], startedAt: '', durationMs: 1,
        summary: { total: 0, pass: 0, fail: 0, notClaimed: 0 }, ok: true, rows: [],
      };
      expect(validate(good, schema)).toEqual([]);
      expect(validate({ ...good, schemaVersion: 2 }, schema)).not.toEqual([]);
      expect(validate({ ...good, families: [5] }, schema)).not.toEqual([]);
      expect(validate({ ...good, extra: 1 }, schema)).not.toEqual([]);
      const { ok: _ok, ...missing } = good;
      expect(validate(missing, schema)).not.toEqual([]);
      const row = {
        scenario: 'x', title: 'x', kind: 'call', family: 4, closerDid: '', peerDid: null, claimed: true, expected: null, note: null,
        status: 'pass', mismatches: [], error: null, errorCode: null, observed: { kind: 'call', outcome: 'ok' }, durationMs: 0,
      };
      expect(validate({ ...good, rows: [row] }, schema)).toEqual([]);
      expect(validate({ ...good, rows: [{ ...row, observed: { kind: 'connection', outcome: 'ok' } }] }, schema)).not.toEqual([]);
      expect(validate({ ...good, rows: [{ ...row, status: 'passed' }] }, schema)).not.toEqual([]);
    });

    it.runIf(linux)('exits 1 when an observation contradicts the table (NET_LINGER_LAB_TABLE testing hook)', async () => {
      const table = path.join(root, 'test', 'fixtures', 'wrong-claim-table.cjs');
      const { code, stdout } = await run(['lab'], { NET_LINGER_LAB_TABLE: table });
      expect(code, stdout).toBe(1);
      expect(stdout).toMatch(/^plain-close .*FAIL$/m);
      expect(stdout).toMatch(/^error-fd-not-open .*pass$/m);
      expect(stdout).toContain('✗ plain-close over IPv4: peer outcome: expected ECONNRESET, observed eof');
      expect(stdout).toContain('2 rows: 1 pass, 1 fail');

      const json = await run(['lab', '--json'], { NET_LINGER_LAB_TABLE: table });
      expect(json.code).toBe(1);
      const report = JSON.parse(json.stdout);
      expect(validate(report, schema)).toEqual([]);
      expect(report.ok).toBe(false);
      expect(report.rows[0]).toMatchObject({ scenario: 'plain-close', status: 'fail', claimed: true });
      expect(report.rows[0].mismatches).toEqual(['peer outcome: expected ECONNRESET, observed eof']);
    });

    it('rows that claim nothing for the judged platform are "not claimed" and do not fail the run', async () => {
      const { code, stdout } = await run(['lab', '--platform', 'freebsd', '--scenario', 'plain-close', '--scenario', 'error-fd-not-open', '--ipv6']);
      expect(code, stdout).toBe(0);
      expect(stdout).toContain('net-linger lab · IPv6 (::1) · judged against freebsd');
      expect(stdout).toMatch(/^plain-close .*nothing claimed here\s+not claimed$/m);
      expect(stdout).toContain('2 rows: 0 pass, 0 fail, 2 not claimed');
      expect(stdout).toContain('nothing here is claimed for freebsd: shown, not judged.');
      const json = JSON.parse((await run(['lab', '--json', '--platform', 'freebsd', '--scenario', 'error-fd-not-open'])).stdout);
      expect(validate(json, schema)).toEqual([]);
      expect(json.rows[0]).toMatchObject({ status: 'not-claimed', claimed: false, expected: null });
      expect(json.ok).toBe(true);
    });

    // PREBUILDS_ONLY makes node-gyp-build ignore build/, so this stands for an install without a binary.
    it.skipIf(fs.existsSync(path.join(root, 'prebuilds')))('without the addon: one clear message, exit 1; explain still works', async () => {
      const lab = await run(['lab'], { PREBUILDS_ONLY: '1' });
      expect(lab.code).toBe(1);
      expect(lab.stdout).toBe('');
      expect(lab.stderr).toMatch(/^net-linger lab: net-linger has no native binary for .* "npm rebuild net-linger"/);
      const explain = await run(['explain', 'ECONNRESET'], { PREBUILDS_ONLY: '1' });
      expect(explain.code).toBe(0);
      expect(explain.stdout).toMatch(/^ECONNRESET: the peer reset the connection/);
    });

    it('--scenario runs only the named rows, in table order, once each', async () => {
      const { code, stdout } = await run(['lab', '--json', '--scenario=error-not-a-socket', '--scenario', 'error-fd-not-open', '--scenario', 'error-not-a-socket']);
      expect(code).toBe(0);
      expect(JSON.parse(stdout).rows.map((r: { scenario: string }) => r.scenario)).toEqual(['error-fd-not-open', 'error-not-a-socket']);
    });

    it('--list names every row and its claim without running anything', async () => {
      const { code, stdout } = await run(['lab', '--list']);
      expect(code).toBe(0);
      for (const s of SCENARIOS) expect(stdout).toContain(s.name);
      if (linux) expect(stdout).toContain('claims on linux: peer gets ECONNRESET on read; no TIME_WAIT');
      const json = JSON.parse((await run(['lab', '--list', '--json'])).stdout);
      expect(json.rows.map((r: { scenario: string }) => r.scenario)).toEqual(SCENARIOS.map((s) => s.name));
    });

    it.each([
      [['lab', '--frobnicate'], 'net-linger lab: unknown option --frobnicate'],
      [['lab', '--scenario'], 'net-linger lab: --scenario needs a value'],
      [['lab', '--scenario', 'no-such-row'], 'net-linger lab: unknown scenario "no-such-row"; the rows are: plain-close,'],
      [['lab', 'extra'], 'net-linger lab: unexpected argument "extra"'],
      [['lab', '--json=yes'], 'net-linger lab: --json takes no value'],
      [['lab', '--platform', 'plan9'], 'net-linger lab: unknown platform "plan9"'],
      [['lab', '--ipv4', '--', '--json'], 'net-linger lab: unexpected argument "--json"'],
      [['lab', '--html', '/nonexistent-net-linger-dir/report.html', '--json'], `net-linger lab: --html /nonexistent-net-linger-dir/report.html: its folder ${path.resolve('/nonexistent-net-linger-dir')} does not exist; nothing was run`],
      [['lab', '--html', os.tmpdir(), '--json'], `net-linger lab: --html ${os.tmpdir()}: is a directory; nothing was run`],
      [['lab', '--html', '/etc/hostname/report.html'], 'net-linger lab: --html /etc/hostname/report.html: '],
      [['help', 'bogus'], 'net-linger: no command "bogus"; the commands are lab, explain, probe, proxy'],
      [['help', 'lab', 'probe'], 'net-linger: help takes one command, got 2'],
      [['launch'], 'net-linger: unknown command "launch"'],
      [[], 'net-linger: which command?\n\nnet-linger: close TCP connections on purpose'],
    ])('bad usage %j: exit 2 with a clear message', async (args, message) => {
      const { code, stdout, stderr } = await run(args);
      expect(code).toBe(2);
      expect(stdout).toBe('');
      expect(stderr).toContain(message);
      expect(stderr).toMatch(/--help|Usage:/);
      expect(stderr).not.toMatch(/\n\s+at /); // no stack trace
    });

    it('--help reads well and exits 0', async () => {
      for (const args of [
        ['--help'], ['help'], ['-h'], ['help', '--help'], ['help', 'help'],
        ['lab', '--help'], ['lab', '-h'], ['help', 'lab'], ['explain', '--help'], ['explain', '-h'], ['help', 'explain'],
        ['probe', '--help'], ['probe', '-h'], ['help', 'probe'], ['proxy', '--help'], ['proxy', '-h'], ['help', 'proxy'],
      ]) {
        const { code, stdout, stderr } = await run(args);
        expect(code).toBe(0);
        expect(stderr).toBe('');
        expect(stdout).toMatch(/^(net-linger: |Usage: net-linger )/);
        expect(stdout.split('\n').every((line) => line.length <= 100)).toBe(true);
      }
      // The general help names every command, and `help <command>` is that command's --help.
      const general = await run(['help']);
      for (const command of ['lab', 'explain', 'probe', 'proxy', 'help']) expect(general.stdout).toContain(`net-linger ${command} `);
      expect(general.stdout.split('\n').slice(0, 5).join('\n')).toContain('Exit codes, every command: 0 fine, 1 an observation did not match');
      for (const command of ['lab', 'explain', 'probe', 'proxy']) {
        const viaHelp = await run(['help', command]);
        expect(viaHelp.stdout).toBe((await run([command, '--help'])).stdout);
        expect(viaHelp.stdout).toMatch(new RegExp(`^Usage: net-linger ${command} `));
      }
      expect((await run(['help', 'help'])).stdout).toBe(general.stdout);
      expect(general.stdout).toContain('130 interrupted by Ctrl-C (SIGINT) and 143 by SIGTERM');
      for (const setting of ['FORCE_COLOR', 'NO_COLOR', '--color', '--no-color']) expect(general.stdout).toContain(setting);
      const lab = await run(['lab', '--help']);
      for (const option of ['--scenario <name>', '--ipv6', '--both', '--json', '--list', '--platform <name>', 'Exit codes']) {
        expect(lab.stdout).toContain(option);
      }
      // The commands that colour say how colour is decided, and take the flags.
      for (const command of ['lab', 'probe']) {
        const { stdout } = await run([command, '--help']);
        for (const option of ['--color', '--no-color', 'NO_COLOR', 'FORCE_COLOR', 'progress line', '130 interrupted']) expect(stdout, command).toContain(option);
      }
    });
  });

  describe('docs/lab.md shows real runs', () => {
    const readme = fs.readFileSync(path.join(root, 'docs', 'lab.md'), 'utf8');

    it('its lab output has every row of the table, each passing', () => {
      const block = /<!-- lab-output:start -->\n```\n([\s\S]*?)```\n<!-- lab-output:end -->/.exec(readme)?.[1];
      expect(block).toBeDefined();
      for (const s of SCENARIOS) expect(block).toMatch(new RegExp(`^${s.name} .*pass$`, 'm'));
      expect(block).toContain(`${SCENARIOS.length} rows: ${SCENARIOS.length} pass, 0 fail`);
    });

    it('its explain example is what explain prints', async () => {
      const block = /```\n\$ net-linger explain 10054\n([\s\S]*?)```\n/.exec(readme)?.[1];
      expect(block).toBe((await run(['explain', '10054'])).stdout);
    });
  });

  describe('explain', () => {
    // Every spelling in the README's error table, and the platform it must be read for.
    const spellings: [string, string | undefined, string][] = [];
    for (const e of ERROR_CODES) {
      spellings.push([e.code, undefined, e.code], [e.code.toLowerCase(), undefined, e.code]);
      spellings.push([String(e.linux), 'linux', e.code], [String(-e.linux), 'linux', e.code]);
      spellings.push([String(e.darwin), 'darwin', e.code], [String(-e.darwin), 'darwin', e.code]);
      for (const n of e.winsock) spellings.push([String(n), undefined, e.code]);
      for (const n of e.win32) spellings.push([String(n), 'win32', e.code]);
      spellings.push([String(e.libuvWindows), undefined, e.code]);
      for (const alias of e.aliases) spellings.push([alias, undefined, e.code]);
    }

    it.concurrent.each(spellings)('%s (platform %s) is %s', async (input, platformFlag, code) => {
      const { code: exit, stdout, stderr } = await run(['explain', input, ...(platformFlag ? ['--platform', platformFlag] : [])]);
      expect(stderr).toBe('');
      expect(exit).toBe(0);
      expect(stdout.split('\n')[0]).toMatch(new RegExp(`^(${input} is )?${code}\\b`, 'i'));
      expect(stdout).toContain('How each OS spells it:');
      expect(stdout).toContain('Usual causes:');
      expect(stdout).toContain('What avoids it:');
    });

    it('ECONNRESET: one code, every OS, the causes and the cure', async () => {
      const { stdout } = await run(['explain', '10054']);
      expect(stdout).toContain('10054 is ECONNRESET: the peer reset the connection');
      expect(stdout).toMatch(/Linux\s+errno 104 \(Node reports -104\)/);
      expect(stdout).toMatch(/macOS\s+errno 54 \(Node reports -54\)/);
      expect(stdout).toMatch(/Windows\s+WSAECONNRESET 10054, ERROR_NETNAME_DELETED 64 \(Node reports -4077\)/);
      expect(stdout).toMatch(/closed its socket while data it had not read/);
      expect(stdout).toMatch(/reset the connection on purpose/);
      expect(stdout).toMatch(/Writing after the peer went away/);
      expect(stdout).toContain('gracefulClose(socket)');
    });

    it('a plain number is read for the platform, and says what it is elsewhere', async () => {
      const onLinux = await run(['explain', '54', '--platform', 'linux']);
      expect(onLinux.code).toBe(2);
      expect(onLinux.stderr).toContain('on macOS 54 is ECONNRESET (--platform darwin)');
      const onWindows = await run(['explain', '104', '--platform', 'win32']);
      expect(onWindows.code).toBe(2);
      expect(onWindows.stderr).toContain('on Linux 104 is ECONNRESET (--platform linux)');
      const other = await run(['explain', '22', '--platform', linux ? 'linux' : platform]);
      if (linux) {
        expect(other.code).toBe(2);
        expect(other.stderr).toContain('22 on Linux is EINVAL: not one of the connection errors net-linger normalises');
      }
    });

    it('-- ends the options: `explain -- --help` explains "--help" (and a negative number is a code either way)', async () => {
      const dashed = await run(['explain', '--', '--help']);
      expect(dashed.code).toBe(2);
      expect(dashed.stdout).toBe('');
      expect(dashed.stderr).toContain('"--help" is not an error code or number net-linger knows');
      const negative = await run(['explain', '--', '-4077']);
      expect(negative.code).toBe(0);
      expect(negative.stdout).toBe((await run(['explain', '-4077'])).stdout);
      expect(negative.stdout).toMatch(/^-4077 is ECONNRESET/);
    });

    it('--json: one object, the same exit code as the text', async () => {
      const known = await run(['explain', '10054', '--json']);
      expect(known.code).toBe(0);
      const report = JSON.parse(known.stdout);
      expect(report).toMatchObject({ input: '10054', known: true, code: 'ECONNRESET', elsewhere: [] });
      expect(report.spellings.map((x: { platform: string }) => x.platform)).toEqual(['linux', 'darwin', 'win32']);
      expect(report.text).toBe((await run(['explain', '10054'])).stdout);
      const unknown = await run(['explain', '--json', 'banana']);
      expect(unknown.code).toBe(2);
      expect(JSON.parse(unknown.stdout)).toMatchObject({ input: 'banana', known: false, code: null });
    });

    it.each([
      [['explain', 'banana'], '"banana" is not an error code or number net-linger knows'],
      [['explain', 'EFOOBAR'], '"EFOOBAR" is not an error code or number net-linger knows'],
      [['explain', '99999'], '"99999" is not an error code or number net-linger knows'],
      // One rule: exit 0 only for the table's codes, whether or not an OS knows the name.
      [['explain', 'ETIMEDOUT'], 'ETIMEDOUT: not one of the connection errors net-linger normalises'],
      [['explain', 'EXFULL'], '"EXFULL" is not an error code or number net-linger knows'],
      [['explain'], 'explain needs a code or number'],
      [['explain', '104', '10054'], 'explain takes one code or number, got 2'],
      [['explain', '104', '--platform'], '--platform needs a value'],
      [['explain', '104', '--platform', 'beos'], 'unknown platform "beos"'],
      [['explain', '--verbose', '104'], 'unknown option --verbose'],
    ])('%j: exit 2 with a clear message', async (args, message) => {
      const { code, stdout, stderr } = await run(args);
      expect(code).toBe(2);
      expect(stdout).toBe('');
      expect(stderr).toContain(message);
    });
  });
});
