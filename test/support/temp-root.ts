// One temporary folder for the whole run, removed when the run ends: a test process the runner
// ends (its workers are stopped without an 'exit' event) cannot clean up after itself, so what it
// must keep for the process's lifetime goes here (NET_LINGER_TEST_TMP) and goes with the run.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export default function setup(): () => void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'net-linger-test-'));
  // Readable by everyone: the suites that run the CLI as another user copy the package in here.
  fs.chmodSync(dir, 0o755);
  process.env.NET_LINGER_TEST_TMP = dir;
  return () => fs.rmSync(dir, { recursive: true, force: true });
}
