#!/usr/bin/env bash
# The addon built with AddressSanitizer + UndefinedBehaviorSanitizer, loaded into an ordinary
# node by preloading libasan, running the whole vitest suite (forks and threads). The build goes
# to .cache/asan/build/Release; build/ and prebuilds/ are left alone. node-gyp-build picks the
# sanitized binary through NET_LINGER_BINARY.
# LeakSanitizer is off: node itself keeps allocations alive until exit by design (V8 heap, static
# singletons), which LSan would report; leaks are checked by test/leaks*.test.ts and valgrind.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
out=$root/.cache/asan
: "${CXX:=g++}"

# The sanitizer runtimes: install them once if this machine lacks them.
if [ ! -e "$($CXX -print-file-name=libasan.so)" ] || [ ! -e "$($CXX -print-file-name=libubsan.so)" ]; then
  echo "asan: installing the sanitizer runtimes"
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq
    gcc_major=$($CXX -dumpversion | cut -d. -f1)
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "libgcc-${gcc_major}-dev" >/dev/null
  else
    echo "asan: libasan/libubsan missing and cannot install them (need root and apt-get)" >&2
    exit 1
  fi
fi
libasan=$(readlink -f "$($CXX -print-file-name=libasan.so)")

nodedir=${npm_config_nodedir:-}
for candidate in "$nodedir" "$(dirname "$(dirname "$(command -v node)")")" /usr; do
  if [ -n "$candidate" ] && [ -f "$candidate/include/node/node_api.h" ]; then nodedir=$candidate; break; fi
done
addon_api=$(node -p "path.dirname(require.resolve('node-addon-api/napi.h'))")

mkdir -p "$out/build/Release"
cp package.json "$out/package.json"   # node-gyp-build reads the name from here
rm -f "$out"/asan.log* "$out"/ubsan.log*
echo "asan: building $out/build/Release/net_linger.node"
$CXX -std=c++17 -O1 -g -fPIC -shared -pthread -Wall -Wextra -Wno-unused-parameter \
  -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer \
  -DNAPI_VERSION=8 -DNAPI_DISABLE_CPP_EXCEPTIONS -DNODE_ADDON_API_DISABLE_DEPRECATED -DBUILDING_NODE_EXTENSION \
  -I"$nodedir/include/node" -I"$addon_api" \
  native/addon.cc native/posix.cc native/capture.cc -o "$out/build/Release/net_linger.node"

npm run build:ts >/dev/null

# The suite also runs tools nobody here wrote (curl, Python, nginx, tcpdump, Chromium, socat);
# with libasan preloaded some of them hang (curl does), and they are not what is under test:
# shims earlier on PATH run each one without the preload. Node itself keeps it.
shims="$out/shims"
mkdir -p "$shims"
for tool in curl python3 nginx tcpdump tshark chromium socat; do
  real=$(command -v "$tool" || true)
  [ -n "$real" ] || continue
  printf '#!/bin/sh\nunset LD_PRELOAD\nexec %s "$@"\n' "$real" > "$shims/$tool"
  chmod +x "$shims/$tool"
done
export PATH="$shims:$PATH"

export NET_LINGER_BINARY=$out
export LD_PRELOAD=$libasan
export ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=0:exitcode=86:log_path=$out/asan.log"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$out/ubsan.log"

# Prove the sanitized binary is the one that loads, and that sanitizers are live in it.
node -e "
  const { binding } = require('./dist/cjs/core/binding.js');
  binding();
  const maps = require('fs').readFileSync('/proc/self/maps', 'utf8');
  if (!maps.includes('$out/build/Release/net_linger.node')) { console.error('asan: the sanitized addon did not load'); process.exit(1); }
  if (!/libasan/.test(maps)) { console.error('asan: libasan is not in the process'); process.exit(1); }
  console.log('asan: sanitized addon loaded (' + binding().maxLingerSeconds + ')');
"

status=0
node node_modules/vitest/vitest.mjs run "$@" || status=$?
if compgen -G "$out/asan.log*" >/dev/null || compgen -G "$out/ubsan.log*" >/dev/null; then
  echo "asan: sanitizer reports:" >&2
  cat "$out"/asan.log* "$out"/ubsan.log* 2>/dev/null >&2 || true
  status=1
fi
[ $status = 0 ] && echo "asan: suite clean under AddressSanitizer + UndefinedBehaviorSanitizer"
exit $status
