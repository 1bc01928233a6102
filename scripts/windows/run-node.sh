#!/usr/bin/env bash
# Stages this checkout inside the trixie chroot with Windows x64 node_modules (npm ci for win32
# from package-lock.json, reinstalled only when the lock changes) and the win32 prebuild, then
# runs Windows node.exe under Wine with the given arguments from the staged package root.
# node.exe's output goes to a file that is printed afterwards: piping it breaks under Wine.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
. "$here/env.sh"

stage="$WIN_ROOT$WIN_STAGE_IN_ROOT"
mkdir -p "$stage" "$WIN_ROOT/opt/node"
lock_hash="$(sha256sum "$root/package-lock.json" | cut -c1-16)"
if [ ! -f "$stage/node_modules/.net-linger-$lock_hash" ]; then
  rm -rf "$stage" && mkdir -p "$stage"
  cp "$root/package.json" "$root/package-lock.json" "$stage/"
  # win32 x64 optional packages (the bundler's Windows bindings); no install scripts: the addon
  # comes from the mingw build, never from node-gyp.
  (cd "$stage" && npm ci --os=win32 --cpu=x64 --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
  touch "$stage/node_modules/.net-linger-$lock_hash"
fi
find "$stage" -mindepth 1 -maxdepth 1 ! -name node_modules -exec rm -rf {} +
tar -C "$root" --exclude=./node_modules --exclude=./build --exclude=./.git --exclude=./.cache --exclude=./prebuilds \
  -cf - . | tar -C "$stage" -xf -
mkdir -p "$stage/prebuilds" && cp -r "$root/prebuilds/win32-x64" "$stage/prebuilds/"
[ "$WIN_ROOT/opt/node/node.exe" -nt "$WIN_NODE_DIR/bin/node.exe" ] || cp "$WIN_NODE_DIR/bin/node.exe" "$WIN_ROOT/opt/node/node.exe"

out="$WIN_ROOT/tmp/net-linger-node.out"
rm -f "$out"
status=0
printf -v args ' %q' "$@"
"$here/chroot.sh" sh -c "cd $WIN_STAGE_IN_ROOT && mkdir -p -m 700 /tmp/xdg && \
  XDG_RUNTIME_DIR=/tmp/xdg WINEDEBUG=-all WINEDLLOVERRIDES='mscoree,mshtml=' WINEPREFIX=/root/.wine \
  wine /opt/node/node.exe$args > /tmp/net-linger-node.out 2>&1; rc=\$?; wineserver -k 2>/dev/null; exit \$rc" \
  || status=$?
tr -d '\r' < "$out" 2>/dev/null || true
exit "$status"
