#!/usr/bin/env bash
# Builds the Debian package with Debian's own tooling (dpkg-buildpackage,
# debhelper, the cmake+ninja buildsystem) from a copy of the working tree in
# build-deb/src, so the checkout stays clean and a stale build/ never leaks
# in. Output: build-deb/stemedb-disk-exporter_VERSION_ARCH.deb (and the
# -dbgsym .deb and .buildinfo/.changes beside it), then lintian on it.
#   DEB_BUILD_OPTIONS=nocheck scripts/package.sh   # skip the unit tests
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

out=build-deb
src=$out/src
rm -rf "$src" "$out"/*.deb "$out"/*.changes "$out"/*.buildinfo
mkdir -p "$src"
# Tracked and new (not ignored) files: what a fresh clone plus the local
# change would hold.
git ls-files -z --cached --others --exclude-standard |
  xargs -0 cp --parents -a -t "$src"
# The revision baked into --version (the copy has no .git).
STEMEDB_REVISION=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
export STEMEDB_REVISION

# ccache, where the machine has it (setup.sh does not install it), so a
# second package build on the same machine takes seconds.
if command -v ccache >/dev/null; then
  export CMAKE_CXX_COMPILER_LAUNCHER=${CMAKE_CXX_COMPILER_LAUNCHER:-ccache}
  export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}
fi
(cd "$src" && dpkg-buildpackage -b -us -uc -j"$(nproc)")

deb=$(ls "$out"/stemedb-disk-exporter_*.deb)
# Lintian: clean, or each override justified in debian/*.lintian-overrides.
lintian --fail-on error,warning --info "$deb"
echo "package: $deb ($(dpkg-deb -f "$deb" Installed-Size) KiB installed)"
