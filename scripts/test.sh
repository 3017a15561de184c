#!/usr/bin/env bash
# The test command: install what is missing, build, run every test (unit,
# promtool, end to end against the real Prometheus and Alertmanager, and the
# check that committed rules/ and dashboards/ match the generator), the
# package and image tests, then one clang build with AddressSanitizer and
# UBSan that serves twice: the unit tests run under it, and each libFuzzer
# harness runs on it for a bounded time (STEMEDB_FUZZ_SECONDS each, default
# 30, as many harnesses at once as there are cores); last the threaded
# rooms' unit and server tests (base, measure, engine, collector, http)
# under ThreadSanitizer (the walk and the background loops are threaded C++;
# a data race or overflow there would otherwise show up only on somebody's
# full disk). Every stage prints its duration, and the last lines list them.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
timings=()
stage() {
  local name=$1 start=$SECONDS
  shift
  echo "==> $name"
  "$@"
  timings+=("$(printf '%-14s %5ds' "$name" $((SECONDS - start)))")
  echo "<== $name: $((SECONDS - start))s"
}
stage setup scripts/setup.sh --test
stage build scripts/build.sh
stage ctest ctest --preset default -j "$jobs"
# The .deb: built, lintian, installed into a debootstrapped Debian 12 root.
stage package scripts/package-test.sh
# The container image: built from the .deb, run from its unpacked root.
stage image scripts/image-test.sh
stage asan-build sh -c 'cmake --preset asan >/dev/null && cmake --build --preset asan'
stage asan-ctest ctest --preset asan -j "$jobs" -LE e2e
stage fuzz scripts/fuzz.sh "${STEMEDB_FUZZ_SECONDS:-30}"
stage tsan-build sh -c 'cmake --preset tsan >/dev/null && cmake --build --preset tsan'
stage tsan-ctest ctest --preset tsan -j "$jobs"
timings+=("$(printf '%-14s %5ds' total "$SECONDS")")
printf 'test.sh: %s\n' "${timings[@]}"
