#!/usr/bin/env bash
# The probe's tests start nginx themselves (own prefix and config, 127.0.0.1, a free port) to
# check that a server with lingering_close on closes an oversized upload cleanly; this makes
# sure the binary is there. Without it those tests are skipped and say why.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-apt.sh nginx-light
