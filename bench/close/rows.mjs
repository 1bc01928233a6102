// The close benchmark's rows: one line per way of closing a live net.Socket. Each close(socket, lib)
// starts the close and resolves when Node emits 'close'. maxConnections caps a row that stalls
// the event loop by design, so the run stays within minutes.
// peer: 'silent' makes the far end never read; fill writes 4 MiB first, so the kernel send queue
// holds unacknowledged data when the close starts.
export const closed = (socket) => new Promise((resolve) => (socket.closed ? resolve() : socket.once('close', resolve)));

/** What a user writes instead of gracefulClose(): FIN, read to the peer's FIN, a cap, a promise on 'close'. */
export const HAND_GRACEFUL = 'by hand: end() + resume() + cap timer + promise';
/** What a user writes instead of resetClose(): an RST and a promise on 'close'. */
export const HAND_RESET = 'by hand: resetAndDestroy() + promise';

export const CLOSE_ROWS = [
  { name: "Node end()", close: (s) => { s.end(); return closed(s); } },
  { name: "Node destroy()", close: (s) => { s.destroy(); return closed(s); } },
  { name: "Node resetAndDestroy()", close: (s) => { s.resetAndDestroy(); return closed(s); } },
  { name: 'setLinger(on, 0) + destroy()', close: (s, lib) => { lib.setLinger(s, true, 0); s.destroy(); return closed(s); } },
  // The least a draining close does: read until the peer's FIN (Node resumes the stream on a tick).
  { name: 'Node end() + resume()', close: (s) => { s.resume(); s.end(); return closed(s); } },
  {
    name: HAND_GRACEFUL,
    close: (s) => new Promise((resolve) => {
      // gracefulClose's default cap (lingeringTime 30 s); the report is what the promise gives.
      const started = performance.now();
      const cap = setTimeout(() => s.destroy(), 30_000);
      s.on('error', () => {});
      s.once('close', () => { clearTimeout(cap); resolve({ drainedBytes: s.bytesRead, elapsedMs: performance.now() - started }); });
      s.resume();
      s.end();
    }),
  },
  {
    name: HAND_RESET,
    close: (s) => new Promise((resolve) => {
      s.on('error', () => {});
      s.once('close', () => resolve({ reset: true }));
      s.resetAndDestroy();
    }),
  },
  // The helpers' promises settle after 'close' themselves, with their report: nothing to add.
  { name: 'resetClose()', close: (s, lib) => lib.resetClose(s) },
  { name: 'gracefulClose()', close: (s, lib) => lib.gracefulClose(s) },
  { name: 'lingerClose(s, 2)', close: (s, lib) => lib.lingerClose(s, 2) },
  {
    name: 'setLinger(on, 2) + destroy()',
    maxConnections: 200,
    close: (s, lib) => { lib.setLinger(s, true, 2); s.destroy(); return closed(s); },
  },
  {
    name: 'setLinger(on, 2) + destroy(), unacked data',
    peer: 'silent',
    fill: true,
    maxConnections: 3,
    close: (s, lib) => { lib.setLinger(s, true, 2); s.destroy(); return closed(s); },
  },
];
