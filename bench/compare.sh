#!/usr/bin/env bash
# Compares this build's exporter with a previous one (BASELINE), in one
# session on an otherwise idle machine: the full scan against du (both
# binaries timed in the same interleaved runs), the HTTP front against
# node_exporter, and watch mode's freshness and idle/busy cost, each
# benchmark run for both binaries back to back.
#
# Usage: bench/compare.sh BASELINE [CURRENT]   (CURRENT: build/bin/...)
# Environment: FILES (tree size, default 1000000), WATCH_FILES (200000),
# IDLE (seconds of watch idle cost, 120), BUSY (60).
set -euo pipefail
cd "$(dirname "$0")/.."
baseline=${1:?usage: bench/compare.sh BASELINE [CURRENT]}
current=${2:-build/bin/stemedb_disk_exporter}
files=${FILES:-1000000}
echo "== scan: $current vs $baseline vs du ($files files)"
python3 bench/run.py --files "$files" --tree "/tmp/bench-$files" \
  --exporter "$current" --baseline "$baseline"
for bin in "$baseline" "$current"; do
  echo "== serve: $bin"
  python3 bench/serve.py --exporter "$bin"
done
tree=/work/tmp/bench-watch-${WATCH_FILES:-200000}
for bin in "$baseline" "$current"; do
  echo "== watch: $bin"
  python3 bench/watch.py --exporter "$bin" --files "${WATCH_FILES:-200000}" \
    --keep "$tree" --idle-seconds "${IDLE:-120}" --busy-seconds "${BUSY:-60}" \
    --fresh-seconds 30 --runs 1
done
