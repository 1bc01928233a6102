// CPU time and resident memory of a server's processes, read from /proc the same way for a
// Node child and for nginx's master and worker (Linux only); and the one way to wait for a
// worker process's report.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

let ticks = 100;
try { ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100; } catch { /* keep 100 */ }

/** User + system CPU seconds of one process, all its threads (fields 14 and 15 of /proc/<pid>/stat). */
export function cpuSeconds(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / ticks;
}

function statusKiB(pid, key) {
  const match = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm'));
  return match ? Number(match[1]) : NaN;
}

/** Resident set now, in MiB. */
export const rssMiB = (pid) => statusKiB(pid, 'VmRSS') / 1024;
/** Peak resident set (VmHWM) since start or since resetPeak(), in MiB. */
export const peakRssMiB = (pid) => statusKiB(pid, 'VmHWM') / 1024;

/** Resets VmHWM to the current RSS (clear_refs 5, Linux 4.0+); false where that is refused. */
export function resetPeak(pid) {
  try { fs.writeFileSync(`/proc/${pid}/clear_refs`, '5'); return true; } catch { return false; }
}

/** Child process ids of pid (from /proc/<pid>/task/<pid>/children). */
export function childrenOf(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch { return []; }
}

/** Open descriptors of one process (entries of /proc/<pid>/fd). */
export function fdCount(pid) {
  try { return fs.readdirSync(`/proc/${pid}/fd`).length; } catch { return NaN; }
}

/**
 * The last IPC message a child process sent before it exited (the bench's workers report once,
 * then exit); rejects, naming `what`, when it exited without one. Messages `accept` refuses are
 * left to other listeners.
 */
export function resultOf(child, what, accept = () => true) {
  return new Promise((resolve, reject) => {
    let result;
    child.on('message', (message) => { if (accept(message)) result = message; });
    child.once('exit', (code) => (result ? resolve(result) : reject(new Error(`${what} exited ${code}`))));
  });
}
