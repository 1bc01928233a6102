import fs from 'node:fs';

const STATE_NAMES = { '01': 'ESTABLISHED', '02': 'SYN_SENT', '03': 'SYN_RECV', '04': 'FIN_WAIT1', '05': 'FIN_WAIT2',
  '06': 'TIME_WAIT', '07': 'CLOSE', '08': 'CLOSE_WAIT', '09': 'LAST_ACK', '0A': 'LISTEN', '0B': 'CLOSING' };

/** Counts of TCP states (Linux /proc/net/tcp{,6}) for connections with `port` at either end. */
export function tcpStates(port) {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const counts = {};
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text;
    try { text = fs.readFileSync(file, 'utf8'); } catch { continue; }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 4) continue;
      if (!fields[1].endsWith(hex) && !fields[2].endsWith(hex)) continue;
      const name = STATE_NAMES[fields[3]] ?? fields[3];
      counts[name] = (counts[name] ?? 0) + 1;
    }
  }
  return counts;
}
