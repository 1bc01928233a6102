// `lab --capture` before any row runs: capture here, run the lab again inside a private user and
// network namespace (a non-root user where the kernel allows it), or refuse in words. Never an
// empty capture.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { captureSupport } from '../lab/capture.js';

export type Gate =
  | { kind: 'here' }
  | { kind: 'refused'; message: string }
  | { kind: 'ran-elsewhere'; exitCode: number };

/** Set in the lab's own re-run inside its private namespace. */
const PRIVATE = 'NET_LINGER_LAB_PRIVATE_NETNS';

function sysctl(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** Why no private user namespace can be had here; undefined when one can. */
export function userNamespaceRefusal(): string | undefined {
  if (process.env.NET_LINGER_LAB_USERNS === '0') return 'NET_LINGER_LAB_USERNS=0 is set';
  if (sysctl('/proc/sys/user/max_user_namespaces') === '0') return 'user.max_user_namespaces is 0';
  if (sysctl('/proc/sys/kernel/unprivileged_userns_clone') === '0') return 'kernel.unprivileged_userns_clone is 0';
  if (sysctl('/proc/sys/kernel/apparmor_restrict_unprivileged_userns') === '1') {
    return 'AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns is 1)';
  }
  const probe = spawnSync('unshare', ['--user', '--map-root-user', '--net', 'true'], { encoding: 'utf8', timeout: 10_000 });
  if (probe.error) {
    return (probe.error as NodeJS.ErrnoException).code === 'ENOENT' ? 'unshare (util-linux) is not installed' : `unshare failed: ${probe.error.message}`;
  }
  if (probe.status !== 0) return `unshare --user --net failed: ${probe.stderr.trim() || `exit ${probe.status}`}`;
  return undefined;
}

export async function captureGate(labArgv: readonly string[]): Promise<Gate> {
  if (process.platform !== 'linux') {
    return {
      kind: 'refused',
      message: `--capture is not available here (${process.platform}): the lab records segments with Linux AF_PACKET sockets only`,
    };
  }
  const inPrivate = process.env[PRIVATE] === '1';
  if (inPrivate) {
    // A new network namespace starts with its loopback interface down.
    try {
      execFileSync('ip', ['link', 'set', 'lo', 'up'], { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (err) {
      const e = err as NodeJS.ErrnoException & { stderr?: Buffer };
      return {
        kind: 'refused',
        message: `cannot bring up the loopback interface in the lab's private network namespace (ip link set lo up: ${e.code === 'ENOENT' ? 'ip (iproute2) is not installed' : (e.stderr?.toString().trim() || e.message)})`,
      };
    }
  }
  const support = captureSupport();
  if (support.ok) return { kind: 'here' };
  if (support.error.reason !== 'permission' || inPrivate) return { kind: 'refused', message: `--capture: ${support.error.message}` };
  const why = userNamespaceRefusal();
  if (why) {
    return {
      kind: 'refused',
      message: `--capture needs CAP_NET_RAW, which this process does not have, and cannot use a private user namespace here (${why}). ` +
        'Run it as root (e.g. with sudo), or allow unprivileged user namespaces (sysctl user.max_user_namespaces, ' +
        'kernel.unprivileged_userns_clone or kernel.apparmor_restrict_unprivileged_userns) so the lab can capture inside its own.',
    };
  }
  // The same command again, as root of a new user namespace that owns a new network namespace.
  const child = spawn('unshare', ['--user', '--map-root-user', '--net', '--', process.execPath, ...process.execArgv, process.argv[1], 'lab', ...labArgv], {
    stdio: 'inherit',
    env: { ...process.env, [PRIVATE]: '1' },
  });
  const exitCode = await new Promise<number>((resolve) => {
    child.on('error', () => resolve(2));
    child.on('close', (code, signal) => resolve(code ?? (signal ? 1 : 2)));
  });
  return { kind: 'ran-elsewhere', exitCode };
}
