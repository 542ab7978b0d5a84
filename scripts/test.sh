#!/usr/bin/env bash
# Builds and runs every test: the format check, promtool on the Prometheus rules, the normal build
# and its tests, the concurrency tests repeated, the ASan+UBSan build and its tests,
# ThreadSanitizer on the threaded parts, each fuzzer for a bounded time, then the packages.
# Installs what it needs first. Privileged tests (namespaces, BPF) fail rather than skip.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/install-deps.sh all

export IPCTRAIL_REQUIRE_PRIVILEGED=${IPCTRAIL_REQUIRE_PRIVILEGED:-1}
# The BPF tests attach syscall tracepoints, which need tracefs (often not mounted on these hosts).
if [[ $(id -u) -eq 0 ]]; then
  mountpoint -q /sys/kernel/tracing || mount -t tracefs tracefs /sys/kernel/tracing
fi
jobs=$(nproc)

echo "== format check"
bash scripts/check-format.sh

echo "== Prometheus rules: promtool check rules, then their unit tests"
promtool check rules packaging/prometheus/ipctrail-rules.yml
(cd packaging/prometheus && promtool test rules ipctrail-rules.test.yml)

echo "== build and test"
bash scripts/build.sh build -DIPCTRAIL_TESTS=ON -DIPCTRAIL_BENCH=ON
ctest --test-dir build --output-on-failure -j "$jobs"

echo "== concurrency tests again and again, two at a time (a race that fails one run in thirty shows here)"
ctest --test-dir build --output-on-failure -j "$jobs" -R 'ConcurrentScrapes|Notifier|AgentReload' \
  --repeat until-fail:15

echo "== build and test under AddressSanitizer + UndefinedBehaviorSanitizer"
bash scripts/build.sh build-sanitize -DIPCTRAIL_SANITIZE=ON -DIPCTRAIL_TESTS=ON -DIPCTRAIL_BENCH=OFF
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-sanitize --output-on-failure -j "$jobs"

echo "== ThreadSanitizer: the /metrics server, the notifier, the agent loop, the namespace sampler"
bash scripts/tsan.sh

echo "== fuzz: each libFuzzer harness for ${FUZZ_SECONDS:-60}s from its committed corpus"
bash scripts/fuzz.sh

echo "== packages: build the .deb and .rpm, lint, install, run as the service user, purge"
bash packaging/test-packages.sh build-packages
