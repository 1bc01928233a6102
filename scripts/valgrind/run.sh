#!/usr/bin/env bash
# valgrind memcheck over a native stress loop of the socket operations (native/posix.cc):
# any invalid access, uninitialised read, leak or descriptor left open fails the run.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=.cache/valgrind
mkdir -p "$out"
if ! command -v valgrind >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null
  else
    echo "valgrind: not installed and cannot install it (need root and apt-get)" >&2
    exit 1
  fi
fi
${CXX:-g++} -std=c++17 -O1 -g -Wall -Wextra -o "$out/stress" scripts/valgrind/stress.cc native/posix.cc
rounds=${NET_LINGER_VALGRIND_ROUNDS:-20000}
valgrind --tool=memcheck --error-exitcode=99 --leak-check=full --show-leak-kinds=all \
  --errors-for-leak-kinds=all --track-origins=yes --track-fds=yes --log-file="$out/memcheck.log" \
  "$out/stress" "$rounds"
# --track-fds only reports; fail on any descriptor the loop opened and left open (inherited ones are not its own).
leaked=$(awk '/Open (file descriptor|AF_)/ { fd = $0; getline; if ($0 !~ /inherited from parent/) print fd }' "$out/memcheck.log")
if [ -n "$leaked" ]; then
  echo "valgrind: descriptors left open:" >&2
  cat "$out/memcheck.log" >&2
  exit 1
fi
grep -E "ERROR SUMMARY|in use at exit|FILE DESCRIPTORS" "$out/memcheck.log"
echo "valgrind: memcheck clean"
