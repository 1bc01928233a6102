// The Windows SOCKET lookup, measured under Wine 10 with Windows node.exe (the Windows leg:
// scripts/windows/). Runs only where that leg is set up (its cached chroot); returns null
// otherwise, and the results say it was not measured.
import { execFileSync, fork, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { root } from '../lib/build.mjs';

const here = path.dirname(new URL(import.meta.url).pathname);

function winCache() {
  const base = process.env.XDG_CACHE_HOME ?? path.join(process.env.HOME ?? os.homedir(), '.cache');
  return process.env.NET_LINGER_WIN_CACHE ?? path.join(base, 'net-linger', 'windows');
}

/** Is the Windows leg ready here (root, the chroot with Wine, mingw-w64)? */
export function windowsLegReady() {
  const ready = path.join(winCache(), 'trixie', '.net-linger-ready');
  try {
    execFileSync('sh', ['-c', 'command -v x86_64-w64-mingw32-g++-posix'], { stdio: 'ignore' });
  } catch {
    return false;
  }
  return process.getuid?.() === 0 && fs.existsSync(ready);
}

export async function runWindowsLookup({ sizes = [100, 1000, 10_000], log = () => {} } = {}) {
  if (!windowsLegReady()) return null;
  execFileSync('bash', [path.join(root, 'scripts', 'windows', 'build.sh')], { stdio: ['ignore', 'ignore', 'inherit'] });
  const peer = fork(path.join(here, '..', 'lib', 'peer.mjs'), ['reading'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const { port } = await new Promise((resolve, reject) => { peer.once('message', resolve); peer.once('error', reject); });
  try {
    // One Windows leg at a time per cache (the chroot and its staged package are shared).
    const lock = path.join(winCache(), '.lock');
    const child = spawn('flock', [lock, 'bash', path.join(root, 'scripts', 'windows', 'run-node.sh'),
      'bench/windows/lookup.mjs', String(port), sizes.join(',')], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk) => { out += chunk; });
    const code = await new Promise((resolve) => child.once('exit', resolve));
    const line = out.split('\n').find((l) => l.startsWith('RESULT '));
    if (code !== 0 || !line) throw new Error(`the Windows lookup run failed (exit ${code}):\n${out.slice(-2000)}`);
    log(out.split('\n').filter((l) => !l.startsWith('RESULT ')).join('\n').trim());
    return JSON.parse(line.slice('RESULT '.length));
  } finally {
    peer.send('stop');
    await new Promise((resolve) => peer.once('exit', resolve));
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const sizes = (process.env.BENCH_WINDOWS_SIZES ?? '100,1000,10000').split(',').map(Number);
  console.log(JSON.stringify(await runWindowsLookup({ sizes, log: console.error }), null, 1));
}
