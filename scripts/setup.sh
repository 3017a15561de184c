#!/usr/bin/env bash
# Installs the Debian 12 packages the project needs, and only those missing,
# so running it again is quick and changes nothing.
set -euo pipefail

packages=(
  # build
  cmake ninja-build g++ pkg-config git
  prometheus-cpp-dev libyaml-cpp-dev libboost-filesystem-dev libre2-dev
  libboost1.74-dev libssl-dev zlib1g-dev libcrypt-dev
  nlohmann-json3-dev libcli11-dev libgtest-dev libgmock-dev
  # tests: the real peers and the truth we compare against
  python3 openssl curl prometheus prometheus-alertmanager prometheus-node-exporter
  coreutils util-linux
  # benchmarks
  wrk gdu time
  # libFuzzer (the fuzz preset) and the load for scripts/flaky.sh
  clang-14 libclang-rt-14-dev stress-ng
  # the Debian package (dpkg-buildpackage checks build-essential itself), its
  # test root, the container image, manifest checks
  build-essential debhelper dpkg-dev lintian help2man debootstrap buildah jq curl python3-yaml
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "setup: installing ${missing[*]}" >&2
$sudo apt-get update -qq
# The Debian packages of Prometheus and friends start services where systemd
# runs; the project never needs them running, its tests start their own.
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
