// The one reader of the kernel's TCP state table (Linux /proc/net/tcp and tcp6), for the lab,
// the tests and the bench; exported by net-linger/lab.
import fs from 'node:fs';

const TCP_STATES: Readonly<Record<string, string>> = {
  '01': 'ESTABLISHED', '02': 'SYN_SENT', '03': 'SYN_RECV', '04': 'FIN_WAIT1', '05': 'FIN_WAIT2',
  '06': 'TIME_WAIT', '07': 'CLOSE', '08': 'CLOSE_WAIT', '09': 'LAST_ACK', '0A': 'LISTEN', '0B': 'CLOSING',
};

interface Entry {
  local: string;
  remote: string;
  state: string;
}

/** Every TCP entry of this network namespace, or null where the platform has no such table. */
function entries(): Entry[] | null {
  if (process.platform !== 'linux') return null;
  const out: Entry[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'latin1');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length > 3) out.push({ local: fields[1], remote: fields[2], state: TCP_STATES[fields[3]] ?? fields[3] });
    }
  }
  return out;
}

const portSuffix = (port: number) => `:${port.toString(16).toUpperCase().padStart(4, '0')}`;

/**
 * The kernel's state for the connection with these ports (Linux); 'gone' when no entry is left,
 * null where the platform has no such table.
 */
export function tcpState(localPort: number, remotePort: number): string | null {
  const all = entries();
  if (all === null) return null;
  const local = portSuffix(localPort);
  const remote = portSuffix(remotePort);
  return all.find((e) => e.local.endsWith(local) && e.remote.endsWith(remote))?.state ?? 'gone';
}

/** How many entries are in each state among the connections with `port` at either end (Linux); null elsewhere. */
export function tcpStateCounts(port: number): Record<string, number> | null {
  const all = entries();
  if (all === null) return null;
  const suffix = portSuffix(port);
  const counts: Record<string, number> = {};
  for (const e of all) {
    if (e.local.endsWith(suffix) || e.remote.endsWith(suffix)) counts[e.state] = (counts[e.state] ?? 0) + 1;
  }
  return counts;
}
