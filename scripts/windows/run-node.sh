#!/usr/bin/env bash
# Stages the package (dist/cjs, the win32 prebuild, node-gyp-build, test/windows) inside the trixie
# chroot and runs node.exe under Wine with the given arguments, from the staged package root.
# node.exe's output goes to a file that is printed afterwards: piping it breaks under Wine.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
. "$here/env.sh"

stage="$WIN_ROOT$WIN_STAGE_IN_ROOT"
rm -rf "$stage" && mkdir -p "$stage/node_modules" "$stage/test" "$stage/prebuilds" "$WIN_ROOT/opt/node"
cp -r "$root/dist" "$root/package.json" "$root/binding.gyp" "$stage/"
cp -r "$root/prebuilds/win32-x64" "$stage/prebuilds/"
cp -r "$root/node_modules/node-gyp-build" "$stage/node_modules/"
cp -r "$root/test/windows" "$root/test/fixtures" "$stage/test/"
[ "$WIN_ROOT/opt/node/node.exe" -nt "$WIN_NODE_DIR/bin/node.exe" ] || cp "$WIN_NODE_DIR/bin/node.exe" "$WIN_ROOT/opt/node/node.exe"

out="$WIN_ROOT/tmp/net-linger-node.out"
rm -f "$out"
status=0
printf -v args ' %q' "$@"
"$here/chroot.sh" sh -c "cd $WIN_STAGE_IN_ROOT && \
  mkdir -p -m 700 /tmp/xdg && XDG_RUNTIME_DIR=/tmp/xdg WINEDEBUG=-all WINEDLLOVERRIDES='mscoree,mshtml=' WINEPREFIX=/root/.wine \
  wine /opt/node/node.exe$args > /tmp/net-linger-node.out 2>&1; rc=\$?; wineserver -k 2>/dev/null; exit \$rc" \
  || status=$?
cat "$out" 2>/dev/null | tr -d '\r'
exit "$status"
