// The per-call ratios the package is held to, and where each nanosecond goes, from the rows of
// one per-call run: every figure here is computed from those rows, none is written by hand.
import { FLOOR_ROW } from './percall.mjs';

const fmt = (n, digits = 1) => (n == null || Number.isNaN(n) ? '–' : n.toFixed(digits));
const OPS = [['setLinger', 'koffi -> libc setsockopt'], ['getLinger', 'koffi -> libc getsockopt'], ['pendingBytes', 'koffi -> libc ioctl x2']];
/** Goals for the public API against the bare Node-API floor. */
export const GOALS = { 'package, fd': 1.05, 'package, net.Socket': 1.10 };

export function overheadSection(rows) {
  const row = (op, name) => rows.find((r) => r.op === op && r.name === name);
  const best = (op, name) => row(op, name)?.best;
  const lines = ['### Against the floor', ''];
  lines.push(`The floor is \`bench/percall/native/bare_addon.cc\`: a Node-API function that reads its arguments with one Node-API call each, checks nothing and makes the syscall (*${FLOOR_ROW}* above). `
    + 'The package keeps every check. Three views of the same samples: *best* is the fastest trial of each row (on a shared machine noise only adds time), '
    + '*paired* is the median over trials of the ratio to the floor measured in the same round, *median* is the ratio of the medians.', '');
  lines.push('| call | target | goal | × floor, best | × floor, paired | × floor, median | met (best / paired) |', '|---|---|---:|---:|---:|---:|---|');
  for (const [op] of OPS) {
    for (const [name, goal] of Object.entries(GOALS)) {
      const r = row(op, name);
      if (!r) continue;
      const mark = (x) => (x <= goal ? 'yes' : 'no');
      lines.push(`| ${op} | ${name.replace('package, ', '')} | ≤ ${goal.toFixed(2)}× | ${fmt(r.floorBestRatio, 3)}× | ${fmt(r.floorPairedRatio, 3)}× | ${fmt(r.floorRatio, 3)}× | ${mark(r.floorBestRatio)} / ${mark(r.floorPairedRatio)} |`);
    }
  }
  lines.push('');
  lines.push('### Where the time goes (best trials, ns)', '');
  lines.push('Each layer is the difference of two rows of the table above; on a shared machine a few ns either way is noise (a negative layer is).', '');
  lines.push('| call | syscalls (C loop) | + Node-API crossing (floor − C) | + addon.cc\'s checks and posix.cc (addon − floor) | + TypeScript layer, number (package fd − addon) | = package, fd | + net.Socket → fd (package socket − package fd) | koffi |');
  lines.push('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const [op, koffi] of OPS) {
    const c = best(op, 'C loop (the limit)');
    const floor = best(op, FLOOR_ROW);
    const addon = best(op, 'addon, fd');
    const pkg = best(op, 'package, fd');
    const sock = best(op, 'package, net.Socket');
    lines.push(`| ${op} | ${fmt(c)} | ${fmt(floor - c)} | ${fmt(addon - floor)} | ${fmt(pkg - addon)} | ${fmt(pkg)} (${fmt(pkg / c, 2)}× C) | ${fmt(sock - pkg)} | ${fmt(best(op, koffi))} (${fmt(best(op, koffi) / c, 2)}× C) |`);
  }
  const emptyApi = best('empty call', 'node-addon-api');
  const emptyRaw = best('empty call', 'plain Node-API');
  const packedSet = best('setLinger', 'bare, 2 args (seconds or -1)');
  const packedGet = best('getLinger', 'bare, packed return (no out-array)');
  lines.push('');
  lines.push(`An empty call costs ${fmt(emptyRaw)} ns through plain Node-API and ${fmt(emptyApi)} ns through node-addon-api's \`CallbackInfo\` wrapper, which is why native/addon.cc's per-call functions use plain Node-API. `
    + `What stays is the crossing itself: Node-API has no V8 fast-call path, so no binding gets below the floor without changing its interface. `
    + `Changing it would: one argument fewer for setLinger measures ${fmt(packedSet)} ns against the floor's ${fmt(best('setLinger', FLOOR_ROW))} ns, and getLinger packed into its return value (no out-array) ${fmt(packedGet)} ns against ${fmt(best('getLinger', FLOOR_ROW))} ns.`);
  lines.push('');
  return lines;
}
