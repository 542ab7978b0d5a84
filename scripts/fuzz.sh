#!/usr/bin/env bash
# fuzz.sh [HARNESS...]: builds the libFuzzer harnesses of tests/fuzz with clang (ASan + UBSan) into
# build-fuzz/ and runs each for FUZZ_SECONDS (default 60) from its committed seed corpus. Fails on
# any crash, sanitizer report, leak, timeout (-timeout=10 s per input) or out-of-memory
# (-rss_limit_mb=2048), leaving the input that did it in build-fuzz/findings/<harness>/.
# New inputs found go to a scratch corpus, not into the repository; to keep one, copy it into
# tests/fuzz/corpus/<harness>/. FUZZ_JOBS is passed to cmake --build -j (default 2).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
seconds=${FUZZ_SECONDS:-60}
build=${FUZZ_BUILD_DIR:-build-fuzz}
harnesses=("$@")
if ((${#harnesses[@]} == 0)); then
  harnesses=(fuzz_sysvipc_parse fuzz_time_parse fuzz_config fuzz_metrics_http fuzz_cgroup_text)
fi

CC=clang CXX=clang++ cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DIPCTRAIL_FUZZ=ON -DIPCTRAIL_TESTS=OFF -DIPCTRAIL_BENCH=OFF >/dev/null
cmake --build "$build" -j "${FUZZ_JOBS:-2}" --target "${harnesses[@]}"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=()
for harness in "${harnesses[@]}"; do
  scratch="$build/corpus/$harness"
  findings="$build/findings/$harness"
  rm -rf "$scratch"
  mkdir -p "$scratch" "$findings"
  echo "== fuzz $harness for ${seconds}s"
  if "$build/tests/fuzz/$harness" "$scratch" "tests/fuzz/corpus/$harness" \
    -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=10 \
    -artifact_prefix="$findings/" -print_final_stats=1 >"$build/$harness.log" 2>&1; then
    grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE' "$build/$harness.log" | tail -2 || true
  else
    failed+=("$harness")
    tail -40 "$build/$harness.log"
    echo "!! $harness failed; the input is in $findings/ and the log in $build/$harness.log"
  fi
done
if ((${#failed[@]})); then
  echo "fuzzing found faults in: ${failed[*]}"
  exit 1
fi
echo "fuzzing: ${#harnesses[@]} harnesses ran ${seconds}s each without a fault"
