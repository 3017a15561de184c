#!/usr/bin/env bash
# Runs the ctest suite N times per built preset while stress-ng keeps every
# core busy, and reports which tests failed in how many runs (a test that
# failed in some runs only is flaky). Each run has twice as many tests at
# once as cores, as the test command does. Exits non-zero on any failure.
#
# Usage: scripts/flaky.sh [N (default 5)] [PRESET...] [-- CTEST_ARGS...]
#   PRESET: default, asan, tsan; default: each of them whose tree is built
#   (scripts/test.sh builds asan and tsan; asan runs every test there, e2e
#   included). CTEST_ARGS go to every run, e.g. -- -L exporter.
# Example: scripts/flaky.sh 5 default asan -- -LE e2e
set -euo pipefail
cd "$(dirname "$0")/.."
runs=5
if [[ ${1:-} =~ ^[0-9]+$ ]]; then runs=$1; shift; fi
presets=()
while (($#)) && [[ $1 != -- ]]; do presets+=("$1"); shift; done
[[ ${1:-} == -- ]] && shift
extra=("$@")
if ((${#presets[@]} == 0)); then
  for p in default asan tsan; do
    dir=build${p/#default/}; dir=${dir/#buildasan/build-asan}
    dir=${dir/#buildtsan/build-tsan}
    [[ -f $dir/CTestTestfile.cmake ]] && presets+=("$p")
  done
fi
((${#presets[@]})) || { echo "flaky: no built preset" >&2; exit 2; }

# The load: one CPU hog per core, for as long as the runs take.
stress-ng --cpu "$(nproc)" --quiet &
stress=$!
trap 'kill "$stress" 2>/dev/null; wait "$stress" 2>/dev/null || true' EXIT

log_dir=$(mktemp -d /tmp/stemedb-flaky.XXXXXX)
declare -A fails=()  # "preset test" -> failed runs
status=0
for preset in "${presets[@]}"; do
  args=(--preset "$preset" -j "$((2 * $(nproc)))" --output-on-failure)
  for ((i = 1; i <= runs; i++)); do
    log=$log_dir/$preset-$i.log
    start=$SECONDS
    if ctest "${args[@]}" "${extra[@]}" >"$log" 2>&1; then
      result=passed
    else
      result=FAILED
      status=1
    fi
    summary=$(grep -E "tests passed|No tests were found" "$log" | tail -1)
    echo "flaky: $preset run $i/$runs: $result in $((SECONDS - start))s: ${summary:-see $log}"
    # ctest lists a failed or timed-out test as "  N - NAME (Failed)", and
    # a skipped one (exit code 77: no IPv6 here, say) as "(Skipped)".
    while read -r name; do
      fails["$preset $name"]=$((${fails["$preset $name"]:-0} + 1))
    done < <(sed -n '/(Skipped)$/d; s/^[[:space:]]*[0-9]* - \(.*\) (.*)$/\1/p' \
      "$log")
  done
done

echo "flaky: summary ($runs runs per preset under stress-ng --cpu $(nproc); logs in $log_dir)"
if ((${#fails[@]} == 0)); then
  echo "flaky: no test failed"
else
  for key in "${!fails[@]}"; do
    n=${fails[$key]}
    kind=flaky
    ((n == runs)) && kind="failed every run"
    echo "flaky: ${key%% *}: ${key#* }: failed $n/$runs ($kind)"
  done | sort
fi
exit $status
