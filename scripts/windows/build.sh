#!/usr/bin/env bash
# Cross-builds the Windows x64 addon with mingw-w64 into prebuilds/win32-x64/net-linger.node.
# Node-API symbols come from node.exe through an import library generated from the
# node-api-headers package's node_api.def, so neither node-gyp nor MSVC is needed.
# The C++ runtime is linked statically: the addon needs no mingw DLLs next to it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
. "$here/env.sh"
[ -f "$WIN_HEADERS_DIR/def/node_api.def" ] || "$here/setup.sh"

build="$NET_LINGER_WIN_CACHE/build"
mkdir -p "$build" "$root/prebuilds/win32-x64"
x86_64-w64-mingw32-dlltool -d "$WIN_HEADERS_DIR/def/node_api.def" -l "$build/libnode_api.a" -D node.exe
x86_64-w64-mingw32-g++-posix -std=c++17 -O2 -Wall -Wextra -shared -static -static-libgcc -static-libstdc++ \
  -DNAPI_VERSION=8 -DNAPI_DISABLE_CPP_EXCEPTIONS -DNODE_ADDON_API_DISABLE_DEPRECATED -D_WIN32_WINNT=0x0A00 -DNTDDI_VERSION=0x0A000003 \
  -I "$WIN_HEADERS_DIR/include" -I "$(node -p "require('node-addon-api').include_dir")" \
  "$root/native/addon.cc" "$root/native/win32.cc" "$root/native/win32_lookup.cc" \
  -o "$build/net-linger.node" "$build/libnode_api.a" -lws2_32
x86_64-w64-mingw32-strip "$build/net-linger.node"
cp "$build/net-linger.node" "$root/prebuilds/win32-x64/net-linger.node"
echo "built prebuilds/win32-x64/net-linger.node ($(stat -c %s "$root/prebuilds/win32-x64/net-linger.node") bytes)"
