#!/usr/bin/env bash
# The main job on an embedded default: install what is missing, build, create
# a demo StemeDB tree, generate the alert rules and dashboard from the default
# config, and serve the tree's metrics on loopback until Ctrl-C.
# Another address or port: STEMEDB_DEMO_ADDRESS=127.0.0.1:29180 scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh   # the build set only: no test tools, no services
# Only what the demo runs: the two programs, no tests, no GoogleTest
# (scripts/setup.sh --test and scripts/build.sh add those), in build-demo/,
# unoptimized and without debug info so that the first build takes about a
# minute on two cores (the demo tree is small; the .deb and
# scripts/build.sh build optimized).
cmake --preset programs >/dev/null
cmake --build --preset programs

demo=build-demo/demo
address=${STEMEDB_DEMO_ADDRESS:-127.0.0.1:19180}
python3 scripts/demo-tree.py "$demo/stemedb"
build-demo/bin/stemedb_rulegen --out "$demo/generated"

cat <<MSG

  Demo StemeDB tree:   $demo/stemedb
  Generated rules:     $demo/generated/rules/ (alerts + promtool tests)
  Generated dashboard: $demo/generated/dashboards/stemedb-disk.json
  Metrics:             curl http://$address/metrics
  Landing page:        http://$address/
  Ready (first scan):  curl http://$address/-/ready

  Ctrl-C stops the exporter. Port taken? STEMEDB_DEMO_ADDRESS=127.0.0.1:PORT $0

MSG
exec build-demo/bin/stemedb_disk_exporter --root "$demo/stemedb" \
  --web.listen-address "$address"
