#!/usr/bin/env bash
# tsan.sh: builds ipctrail and the tests of its threaded parts (the /metrics server, the
# notifier, the agent loop, the namespace sampler's workers) under ThreadSanitizer into build-tsan/ and runs them. Any data race or
# lock-order report fails the run (TSAN_OPTIONS halt_on_error=1, exitcode 66).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build=${TSAN_BUILD_DIR:-build-tsan}
tests=(metrics_server_test notifier_test agent_alerts_test agent_reload_test agent_reliability_test
  namespaces_setns_test)

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIPCTRAIL_TSAN=ON \
  -DIPCTRAIL_BENCH=OFF >/dev/null
cmake --build "$build" -j "${TSAN_JOBS:-2}" --target ipctrail "${tests[@]}"

# Kernels with 32 bits of mmap randomness place memory where TSan's fixed shadow layout does not
# expect it ("unexpected memory mapping"); setarch -R runs the tests without that randomness.
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
setarch "$(uname -m)" -R ctest --test-dir "$build" --output-on-failure \
  -R 'MetricsServer|Notifier|Agent|NamespacesSetns'
