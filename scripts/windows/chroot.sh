#!/usr/bin/env bash
# Runs a command inside the trixie chroot with /proc mounted and /dev bind-mounted (Wine needs
# both), unmounting them again afterwards.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/env.sh"

mounted=()
cleanup() {
  local m
  for m in "${mounted[@]}"; do umount -R "$m" 2>/dev/null || umount -lR "$m" 2>/dev/null || true; done
}
trap cleanup EXIT
if ! mountpoint -q "$WIN_ROOT/proc"; then mount -t proc proc "$WIN_ROOT/proc"; mounted+=("$WIN_ROOT/proc"); fi
if ! mountpoint -q "$WIN_ROOT/dev"; then
  mount --rbind /dev "$WIN_ROOT/dev"; mount --make-rslave "$WIN_ROOT/dev"; mounted+=("$WIN_ROOT/dev")
fi
chroot "$WIN_ROOT" /usr/bin/env -i HOME=/root PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 "$@"
