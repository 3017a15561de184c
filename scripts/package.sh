#!/usr/bin/env bash
# Builds the Debian package with Debian's own tooling (dpkg-buildpackage,
# debhelper, the cmake+ninja buildsystem) from a copy of the working tree in
# build-deb/src, so the checkout stays clean and a stale build/ never leaks
# in. Output in build-deb/: stemedb-disk-exporter_VERSION_ARCH.deb (the
# exporter, for every node), stemedb-disk-rulegen_VERSION_ARCH.deb (the rule
# generator and the files it generates from the default config, for the
# central Prometheus host), their -dbgsym .debs and the .buildinfo/.changes;
# then lintian on both where it is installed (scripts/setup.sh --test).
# The unit tests are scripts/test.sh's; to run them in the package build too
# (needs GoogleTest: scripts/setup.sh --test):
#   DEB_BUILD_OPTIONS= scripts/package.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh   # the build set only: no test tools, no services

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
# second package build with the same flags on the same machine takes
# seconds.
if command -v ccache >/dev/null; then
  export CMAKE_CXX_COMPILER_LAUNCHER=${CMAKE_CXX_COMPILER_LAUNCHER:-ccache}
  export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}
fi
# nocheck unless asked otherwise; the build profile of the same name drops
# the GoogleTest Build-Depends.
export DEB_BUILD_OPTIONS=${DEB_BUILD_OPTIONS-nocheck}
profiles=()
case " $DEB_BUILD_OPTIONS " in *" nocheck "*) profiles=(-Pnocheck) ;; esac
(cd "$src" && dpkg-buildpackage -b -us -uc -j"${STEMEDB_PACKAGE_JOBS:-$(nproc)}" "${profiles[@]}")

debs=("$out"/stemedb-disk-exporter_*.deb "$out"/stemedb-disk-rulegen_*.deb)
# Lintian: clean, or each override justified in debian/*.lintian-overrides.
if command -v lintian >/dev/null; then
  lintian --fail-on error,warning --info "${debs[@]}"
else
  echo "package: lintian not installed (scripts/setup.sh --test); not linted" >&2
fi
for deb in "${debs[@]}"; do
  echo "package: $deb ($(du -k "$deb" | cut -f1) KiB," \
    "$(dpkg-deb -f "$deb" Installed-Size) KiB installed)"
done
