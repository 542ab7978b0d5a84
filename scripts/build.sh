#!/usr/bin/env bash
# build.sh DIR [cmake args...] [-- targets...]: configure ipctrail into DIR and build the targets
# given after `--` (everything when none). Uses every core.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=$1
shift
configure_args=()
while (($#)) && [[ $1 != -- ]]; do
  configure_args+=("$1")
  shift
done
targets=()
if (($#)); then
  shift
  for target in "$@"; do targets+=(--target "$target"); done
fi
cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "${configure_args[@]}" >/dev/null
cmake --build "$dir" -j "$(nproc)" "${targets[@]}"
