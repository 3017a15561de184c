#!/usr/bin/env bash
# Builds the libFuzzer harnesses (the asan preset's build: clang 14,
# ASan+UBSan, the same objects the sanitized unit tests use) and runs each
# for a bounded time over its committed seeds (fuzz/corpus/NAME/) and every
# kept crash (fuzz/regressions/NAME/), as many at once as there are cores
# (a harness is one process on one core). Exits non-zero on any crash,
# leak, timeout or out-of-memory; the input that did it is in
# build-asan/fuzz/artifacts/. New inputs go to build-asan/fuzz/work/NAME/,
# never into the committed corpus.
#
# Usage: scripts/fuzz.sh [SECONDS_PER_HARNESS (default 30)] [NAME...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
shift || true
cmake --preset asan >/dev/null
cmake --build --preset fuzz
out=build-asan/fuzz
mapfile -t names < <(if (($#)); then printf '%s\n' "$@"; else cat "$out/fuzzers.txt"; fi)
# One harness: its verdict on stdout, its log in $out/NAME.log.
run_one() {
  local name=$1 log=$out/$1.log
  local dirs=("$out/work/$name" "fuzz/corpus/$name")
  [[ -d fuzz/regressions/$name ]] && dirs+=("fuzz/regressions/$name")
  # -timeout: one input taking this long is a hang (generous: the machine is
  # shared). -rss_limit_mb: inputs are at most a few KiB, so more is a leak
  # or blow-up; the 200 MB config case is the loader's size cap's business.
  # The outer timeout: libFuzzer's own out-of-memory exit under ASan was seen
  # to spin forever instead of ending, so a crash never holds the gate.
  if timeout -k 10 $((seconds + 120)) \
      "$out/${name}_fuzz" -max_total_time="$seconds" -timeout=30 \
      -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$out/artifacts/$name-" "${dirs[@]}" >"$log" 2>&1; then
    echo "fuzz: $name: $(grep -E "^stat::number_of_executed_units|^Done" "$log" | tr '\n' ' ')"
  else
    echo "fuzz: $name FAILED; the last lines of $log:"
    tail -n 40 "$log"
    return 1
  fi
}

parallel=${STEMEDB_FUZZ_JOBS:-$(nproc)}
declare -A pids=()
failed=()
wait_one() {
  local done_pid name
  wait -n -p done_pid || true
  for name in "${!pids[@]}"; do
    [[ ${pids[$name]} == "$done_pid" ]] || continue
    wait "$done_pid" 2>/dev/null || true
    [[ -e $out/$name.failed ]] && failed+=("$name")
    cat "$out/$name.verdict"
    unset "pids[$name]"
  done
}
for name in "${names[@]}"; do
  [[ -n $name ]] || continue
  mkdir -p "$out/work/$name" "$out/artifacts" fuzz/corpus/"$name"
  rm -f "$out/$name.failed"
  echo "fuzz: $name for ${seconds}s (log: $out/$name.log)"
  (run_one "$name" >"$out/$name.verdict" 2>&1 || touch "$out/$name.failed") &
  pids[$name]=$!
  while ((${#pids[@]} >= parallel)); do wait_one; done
done
while ((${#pids[@]})); do wait_one; done
if ((${#failed[@]})); then
  echo "fuzz: crashes in: ${failed[*]} (inputs in $out/artifacts/)" >&2
  exit 1
fi
echo "fuzz: ${#names[@]} harnesses, no crash"
