#!/usr/bin/env bash
# Builds the libFuzzer harnesses (fuzz preset: clang 14, ASan+UBSan) and runs
# each for a bounded time over its committed seeds (fuzz/corpus/NAME/) and
# every kept crash (fuzz/regressions/NAME/). Exits non-zero on any crash,
# leak, timeout or out-of-memory; the input that did it is in
# build-fuzz/fuzz/artifacts/. New inputs go to build-fuzz/fuzz/work/NAME/,
# never into the committed corpus.
#
# Usage: scripts/fuzz.sh [SECONDS_PER_HARNESS (default 30)] [NAME...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
shift || true
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz
out=build-fuzz/fuzz
mapfile -t names < <(if (($#)); then printf '%s\n' "$@"; else cat "$out/fuzzers.txt"; fi)
failed=()
for name in "${names[@]}"; do
  [[ -n $name ]] || continue
  mkdir -p "$out/work/$name" "$out/artifacts" fuzz/corpus/"$name"
  dirs=("$out/work/$name" "fuzz/corpus/$name")
  [[ -d fuzz/regressions/$name ]] && dirs+=("fuzz/regressions/$name")
  log="$out/$name.log"
  echo "fuzz: $name for ${seconds}s (log: $log)"
  # -timeout: one input taking this long is a hang (generous: the machine is
  # shared). -rss_limit_mb: inputs are at most a few KiB, so more is a leak
  # or blow-up; the 200 MB config case is the loader's size cap's business.
  # The outer timeout: libFuzzer's own out-of-memory exit under ASan was seen
  # to spin forever instead of ending, so a crash never holds the gate.
  if timeout -k 10 $((seconds + 120)) \
      "$out/${name}_fuzz" -max_total_time="$seconds" -timeout=30 \
      -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$out/artifacts/$name-" "${dirs[@]}" >"$log" 2>&1; then
    grep -E "^stat::number_of_executed_units|^Done" "$log" | tr '\n' ' '
    echo
  else
    echo "fuzz: $name FAILED; the last lines of $log:" >&2
    tail -n 40 "$log" >&2
    failed+=("$name")
  fi
done
if ((${#failed[@]})); then
  echo "fuzz: crashes in: ${failed[*]} (inputs in $out/artifacts/)" >&2
  exit 1
fi
echo "fuzz: ${#names[@]} harnesses, no crash"
