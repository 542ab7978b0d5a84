#!/bin/sh
# Before/after figures of bench/namespaces_bench side by side: two builds of it run one after the
# other, RUNS times, each with the load average beside its figures. Each run gets private PID,
# mount and IPC namespaces with its own /proc (unshare), so that it scans and samples only its own
# processes and namespaces, not those of whatever else runs on the machine (another test's
# namespace with thousands of objects would be sampled with the bench's 200).
#
#   bench/namespaces_compare.sh OLD_BINARY NEW_BINARY [RUNS] [agent]
#
# `agent` times the agent's tick only. Run as root.
set -eu
old=$1
new=$2
runs=${3:-3}
mode=${4:-}
run=1
while [ "$run" -le "$runs" ]; do
  for binary in "$old" "$new"; do
    label=new
    [ "$binary" = "$old" ] && label=old
    echo "run $run, $label ($binary), load average $(cut -d' ' -f1-3 /proc/loadavg):"
    # shellcheck disable=SC2086 # mode is one word or none
    unshare --pid --fork --mount-proc --ipc "$binary" $mode 2>/dev/null |
      grep -E 'rescan of|200 namespaces|own \+|per extra' | sed 's/^ */  /'
  done
  run=$((run + 1))
done
