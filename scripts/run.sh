#!/usr/bin/env bash
# Builds ipctrail and starts the agent in the foreground, its history in ./ipctrail-history.db
# (Ctrl-C stops it). Installs what it needs first. Extra arguments go to `ipctrail agent`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/install-deps.sh
bash scripts/build.sh build
exec build/ipctrail agent --db ./ipctrail-history.db "$@"
