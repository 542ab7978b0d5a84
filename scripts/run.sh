#!/usr/bin/env bash
# Builds ipctrail and runs it. Installs what it needs first.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/install-deps.sh
bash scripts/build.sh build
exec build/ipctrail sample "$@"
