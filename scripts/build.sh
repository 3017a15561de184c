#!/usr/bin/env bash
# Configures and builds with the default preset (build/), tests included
# (scripts/demo.sh may have configured build/ without them).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --preset default -DBUILD_TESTING=ON >/dev/null
cmake --build --preset default
