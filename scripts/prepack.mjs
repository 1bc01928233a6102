// `npm pack` / `npm publish` hook: a tarball without the host's prebuild would throw
// ERR_NET_LINGER_NO_BINARY for every consumer that installs with scripts off (npm 11's default
// for dependencies). Builds the host's prebuild when it is missing, or refuses with the reason.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const target = `${process.platform}-${process.arch}`;
const dir = path.join(root, 'prebuilds', target);
const hasBinary = () => fs.existsSync(dir) && fs.readdirSync(dir).some((f) => f.endsWith('.node'));

if (!hasBinary()) {
  console.error(`prepack: prebuilds/${target} is missing; building it (npm run prebuilds -- ${target})`);
  spawnSync(process.execPath, [path.join(root, 'scripts', 'prebuild.mjs'), target], { cwd: root, stdio: ['ignore', 2, 2] });
}
if (!hasBinary()) {
  console.error(
    `prepack: refusing to pack without prebuilds/${target}: consumers that install without scripts would get no binary.\n` +
      'Build it with "npm run prebuilds" (needs python3, make and a C++ compiler), then pack again.',
  );
  process.exit(1);
}
const others = fs.readdirSync(path.join(root, 'prebuilds')).filter((d) => d !== target);
console.error(`prepack: packing prebuilds for ${[target, ...others].join(', ')}`);
