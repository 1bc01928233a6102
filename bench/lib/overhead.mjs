// Where the per-call time goes, from the best trials: each layer is the difference between two
// rows measured in the same run.
const fmt = (n) => (n == null || Number.isNaN(n) ? '–' : n.toFixed(1));

export function overheadSection(rows) {
  const best = (op, name) => rows.find((r) => r.op === op && r.name === name)?.best;
  const lines = ['### Where the time goes (best trials, ns)', '', 'Each layer is the difference of two rows of the table above; on a shared machine a few ns either way is noise (a negative layer is).', ''];
  lines.push('| call | syscalls (C loop) | + Node-API crossing and value calls (raw copy − C) | + node-addon-api and addon.cc\'s extra calls (addon − raw copy) | + TypeScript policy (package − addon) | = package | package over proposed addon.cc | koffi |');
  lines.push('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const [op, koffi] of [['setLinger', 'koffi -> libc setsockopt'], ['getLinger', 'koffi -> libc getsockopt'], ['pendingBytes', 'koffi -> libc ioctl x2']]) {
    const c = best(op, 'C loop (the limit)');
    const raw = best(op, 'raw node_api.h copy, fd');
    const addon = best(op, 'addon (node-addon-api), fd');
    const pkg = best(op, 'package, fd');
    const proposed = best(op, 'package over proposed addon.cc, fd');
    lines.push(`| ${op} | ${fmt(c)} | ${fmt(raw - c)} | ${fmt(addon - raw)} | ${fmt(pkg - addon)} | ${fmt(pkg)} (${(pkg / c).toFixed(2)}×) | ${fmt(proposed)} (${(proposed / c).toFixed(2)}×) | ${fmt(best(op, koffi))} (${(best(op, koffi) / c).toFixed(2)}×) |`);
  }
  const emptyApi = best('empty call', 'node-addon-api');
  const emptyRaw = best('empty call', 'raw node_api.h');
  lines.push('');
  lines.push(`An empty call costs ${fmt(emptyRaw)} ns through plain Node-API and ${fmt(emptyApi)} ns through node-addon-api's \`CallbackInfo\` wrapper. `
    + 'Beyond that, each Node-API call in a function costs a few ns: native/addon.cc makes 8 per call where 4 or 5 do '
    + '(`IsNumber()` + `DoubleValue()` for every number, `ToBoolean()` for a value that is already a boolean, `IsTypedArray()` + '
    + '`TypedArrayType()` + `ElementLength()` + the `As<Int32Array>()` constructor querying the same typed array four times, and '
    + '`Number::New` allocating a heap number for an errno). `bench/native/addon_proposed.cc` is addon.cc with only those calls '
    + 'merged (still node-addon-api); `bench/native/raw_addon.cc` also drops the wrapper. A syscall on loopback cannot be made cheaper '
    + 'from JavaScript: Node-API has no V8 fast-call path, so the floor is the C loop plus the raw copy\'s crossing.');
  lines.push('');
  return lines;
}
