#!/usr/bin/env bash
# Builds ipctrail and starts the agent in the foreground, its history in ./ipctrail-history.db
# (Ctrl-C stops it). Installs what it needs first: only the packages and the one target the agent
# needs, not the tests and benchmarks (scripts/test.sh builds those), so that a fresh machine runs
# the agent within minutes. Extra arguments go to `ipctrail agent`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/install-deps.sh build
bash scripts/build.sh build -DIPCTRAIL_TESTS=OFF -DIPCTRAIL_BENCH=OFF -- ipctrail
exec build/ipctrail agent --db ./ipctrail-history.db "$@"
