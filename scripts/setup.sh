#!/usr/bin/env bash
# Installs the Debian 12 packages the project needs, and only those missing,
# so running it again is quick and changes nothing. Two sets:
#   scripts/setup.sh          what BUILDING needs: the compilers, CMake and
#                             Ninja, the -dev libraries, and what the .deb
#                             build calls (scripts/demo.sh, scripts/package.sh)
#   scripts/setup.sh --test   that plus what TESTING needs: GoogleTest,
#                             clang and lld for the sanitized test build and
#                             the fuzzers; the real Prometheus, Alertmanager,
#                             node_exporter and VictoriaMetrics (vmalert,
#                             vmagent) the tests run as peers, the benchmark
#                             and load tools, lintian, debootstrap and buildah
#                             (scripts/test.sh)
#   scripts/setup.sh --test-build
#                             only what the test BUILD needs (the first set,
#                             GoogleTest, clang, lld): scripts/test.sh starts
#                             building after it and installs the rest of the
#                             test set meanwhile
# Neither leaves a service enabled or running: the Debian packages of
# Prometheus and friends would start theirs (a Prometheus on :9090, a second
# node_exporter on :9100); the tests start their own. See
# scripts/lib/apt-quiet.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

build=(
  cmake ninja-build g++ pkg-config git python3
  prometheus-cpp-dev libyaml-cpp-dev libboost-filesystem-dev libre2-dev
  libboost1.74-dev libssl-dev zlib1g-dev libcrypt-dev libtomlplusplus-dev
  nlohmann-json3-dev libcli11-dev
  # the Debian package (dpkg-buildpackage checks build-essential itself)
  build-essential debhelper dpkg-dev help2man
)
test_build=(
  # unit tests; clang and lld for the sanitized build that runs every test
  # and the libFuzzer harnesses (asan preset)
  libgtest-dev libgmock-dev clang-14 libclang-rt-14-dev lld-14
)
test_run=(
  # the real peers and the truth the tests compare against
  prometheus prometheus-alertmanager prometheus-node-exporter victoria-metrics
  python3-yaml openssl curl procps util-linux mount
  # benchmarks; the load for scripts/flaky.sh
  wrk gdu time stress-ng
  # the package test (lint, its Debian root), the container image and its test
  lintian debootstrap buildah jq
)

case "${1:-}" in
  "") wanted=("${build[@]}") ;;
  --test) wanted=("${build[@]}" "${test_build[@]}" "${test_run[@]}") ;;
  --test-build) wanted=("${build[@]}" "${test_build[@]}") ;;
  # The sets, one package a line (scripts/package-test.sh checks that the
  # .deb pulls none of the test set).
  --list-build) printf '%s\n' "${build[@]}"; exit 0 ;;
  --list-test) printf '%s\n' "${test_build[@]}" "${test_run[@]}"; exit 0 ;;
  *) echo "setup.sh: unknown argument '$1' (usage: setup.sh [--test | --test-build])" >&2
     exit 2 ;;
esac

missing=()
for p in "${wanted[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "setup: installing ${missing[*]}" >&2
$sudo apt-get update -qq
$sudo "$here/lib/apt-quiet.sh" "${missing[@]}"
