#!/usr/bin/env bash
# The test command: install what is missing, then one clang build with
# AddressSanitizer and UBSan (asan preset) that serves every test (unit,
# promtool, end to end against the real Prometheus, Alertmanager and
# VictoriaMetrics, and the checks that committed rules/, dashboards/ and
# docs/metrics.md match the generators) and each libFuzzer harness for a
# bounded time (STEMEDB_FUZZ_SECONDS each, default 30, as many at once as
# there are cores); the package test (the .deb built with gcc as Debian
# builds it, without debug info, linted, installed and booted in a Debian
# 12 root) and the image
# test; last the threaded rooms' unit and server tests (base, measure,
# engine, collector, http) under ThreadSanitizer (the walk and the
# background loops are threaded C++; a data race there would otherwise show
# up only on somebody's full disk). The .debs, their root and the
# ThreadSanitizer build are made alongside the tests (see alongside below).
# Every stage prints its duration, and the last lines list them. One
# sanitized build for every test, rather than a plain build for the tests
# and a sanitized one for the unit tests again, is what keeps the command
# within minutes on two cores.
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
# Work that needs no test's result runs alongside the tests: the rest of
# the test set's packages, the two .debs and their Debian root, the
# ThreadSanitizer build, the fuzzers. Each one's output goes to
# build/ci/NAME.log, shown when it fails.
# alongside NAME COMMAND...
# Each runs in a session of its own, so that a failing stage stops all of
# it (trap below). Where the kernel schedules a session as one group
# (autogroup, as on CI), each shares the cores equally with the tests'
# session, and nice would order processes only within their own group, so
# none is used. The tests were measured to pass so; most end-to-end tests
# wait on Prometheus and timers.
declare -A side=()
alongside() {
  local name=$1
  shift
  mkdir -p build/ci
  setsid "$@" >"build/ci/$name.log" 2>&1 &
  side[$name]=$!
  echo "==> $name alongside (log: build/ci/$name.log)"
}
stop_alongside() {
  local pid
  for pid in "${side[@]}"; do kill -- "-$pid" 2>/dev/null || true; done
}
trap stop_alongside EXIT
# join_alongside [NAME...]: waits for those (default: all) and fails when
# one did.
join_alongside() {
  local name failed=0 names=("$@")
  ((${#names[@]})) || names=("${!side[@]}")
  for name in "${names[@]}"; do
    if ! wait "${side[$name]}"; then
      echo "test.sh: $name failed; the last lines of build/ci/$name.log:" >&2
      tail -n 60 "build/ci/$name.log" >&2
      failed=1
    fi
    unset "side[$name]"
  done
  return "$failed"
}

# What the build needs first; the rest of the test set (the peers, the
# package test's tools) is installed while it compiles.
stage setup scripts/setup.sh --test-build
alongside setup-peers scripts/setup.sh --test
stage build sh -c 'cmake --preset asan >/dev/null && cmake --build --preset asan'
stage setup-peers join_alongside setup-peers
alongside package-build scripts/package-test.sh --prepare
alongside tsan-build sh -c 'cmake --preset tsan >/dev/null && cmake --build --preset tsan'
# Twice as many tests as cores at once: most end-to-end tests wait on
# Prometheus and timers, and with two at a time the cores sat idle once the
# work alongside was done (the tests' wall times added up to twice the
# stage's).
stage ctest ctest --preset asan -j "$((2 * jobs))"
# Each harness runs for a fixed time, through the stages up to the last.
alongside fuzz scripts/fuzz.sh "${STEMEDB_FUZZ_SECONDS:-30}"
stage alongside join_alongside package-build tsan-build
# The .deb: linted, installed into a debootstrapped Debian 12 root, booted.
stage package env STEMEDB_PACKAGE_REUSE=1 scripts/package-test.sh
# The container image: built from the .deb, run from its unpacked root.
stage image scripts/image-test.sh
stage tsan-ctest ctest --preset tsan -j "$jobs"
fuzz_verdicts() { join_alongside fuzz && grep '^fuzz: ' build/ci/fuzz.log; }
stage fuzz fuzz_verdicts
timings+=("$(printf '%-14s %5ds' total "$SECONDS")")
printf 'test.sh: %s\n' "${timings[@]}"
