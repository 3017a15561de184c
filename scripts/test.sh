#!/usr/bin/env bash
# The test command: install what is missing, build, run every test (unit,
# promtool, end to end against the real Prometheus and Alertmanager, and the
# check that committed rules/ and dashboards/ match the generator).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
ctest --preset default -j "$(nproc)"
