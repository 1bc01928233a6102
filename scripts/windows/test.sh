#!/usr/bin/env bash
# The Windows leg: sets up (cached), builds the TypeScript and the win32-x64 addon, and runs the
# same vitest suite as `npm test` (both pools; the scenario table's win32 rows, test/core/windows.test.ts)
# under Windows node.exe in Wine 10.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
. "$here/env.sh"
# One Windows leg at a time per cache: the chroot, its Wine prefix and the staged package are shared.
mkdir -p "$NET_LINGER_WIN_CACHE"
exec 9>"$NET_LINGER_WIN_CACHE/.lock"
flock 9
"$here/setup.sh"
(cd "$root" && npm run --silent build:ts)
"$here/build.sh"
cd "$root"
"$here/run-node.sh" node_modules/vitest/vitest.mjs run "$@"
