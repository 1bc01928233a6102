// Waiting for the peer to acknowledge what was sent: no OS notifies that, so lingerClose() and the
// fault proxy's "after the bytes arrived" faults both ask the kernel (pendingBytes().unacked) on
// timers. One schedule for both: at once, then after 1 ms, doubling to at most 50 ms, so a fast
// peer is seen within a millisecond and a stalled one costs one syscall per 50 ms.

export const FIRST_POLL_MS = 1;
export const LONGEST_POLL_MS = 50;

/**
 * Runs `check(delay)` after each delay of the schedule until it returns true; `schedule` owns the
 * timer (so its owner can cancel it). `delay` is the wait that preceded this check.
 */
export function pollWithBackoff(check: (delay: number) => boolean, schedule: (ms: number, fn: () => void) => void): void {
  let delay = FIRST_POLL_MS;
  const next = () => schedule(delay, () => {
    if (check(delay)) return;
    delay = Math.min(delay * 2, LONGEST_POLL_MS);
    next();
  });
  next();
}
