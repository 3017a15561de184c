#!/usr/bin/env bash
# The test command: install what is missing, build, run every test (unit,
# promtool, end to end against the real Prometheus and Alertmanager, and the
# check that committed rules/ and dashboards/ match the generator), then the
# unit tests again under AddressSanitizer and UBSan (the walk and the
# background loops are threaded C++; a data race or overflow there would
# otherwise show up only on somebody's full disk).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
ctest --preset default -j "$(nproc)"
# The .deb: built, lintian, installed into a debootstrapped Debian 12 root.
scripts/package-test.sh
# The container image: built from the .deb, run from its unpacked root.
scripts/image-test.sh
cmake --preset asan >/dev/null
cmake --build --preset asan
ctest --preset asan -j "$(nproc)" -LE e2e
