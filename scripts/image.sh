#!/usr/bin/env bash
# Builds the container image with buildah (vfs storage, no registry: FROM
# scratch) and exports it as an OCI archive:
#   build/image/stemedb-disk-exporter-VERSION.oci.tar
# The image holds what the Debian package installs for the exporter (taken
# from the .deb that scripts/package.sh builds, built first if missing) and
# the shared libraries it links, from this Debian 12 machine: no shell, no
# package manager. It runs as 65534 (nobody); the config is the package's
# /etc/stemedb/disk-exporter.yaml. Load it with
#   podman load -i build/image/stemedb-disk-exporter-VERSION.oci.tar
set -euo pipefail
cd "$(dirname "$0")/.."

deb=$(ls build-deb/stemedb-disk-exporter_*.deb 2>/dev/null || true)
if [ -z "$deb" ] || [ -n "${STEMEDB_IMAGE_REBUILD_DEB:-}" ]; then
  DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:-nocheck}" scripts/package.sh
  deb=$(ls build-deb/stemedb-disk-exporter_*.deb)
fi
version=$(dpkg-deb -f "$deb" Version)
name=stemedb-disk-exporter
tag=${STEMEDB_IMAGE_TAG:-$version}
out=build/image
archive=$out/$name-$tag.oci.tar

# Private storage, so parallel builds and the host's containers never meet.
buildah=(buildah --storage-driver vfs --root "$PWD/$out/storage"
         --runroot "$PWD/$out/run")
mkdir -p "$out"
rm -rf "$out/rootfs" "$archive"

# The root: the exporter and its config from the .deb, then every shared
# library it loads (ldd on the real binary; the dynamic loader included).
rootfs=$out/rootfs
pkgroot=$out/deb
rm -rf "$pkgroot"
dpkg-deb -x "$deb" "$pkgroot"
mkdir -p "$rootfs/usr/bin" "$rootfs/etc/stemedb" "$rootfs/tmp"
cp -a "$pkgroot/usr/bin/stemedb_disk_exporter" "$rootfs/usr/bin/"
cp -a "$pkgroot/etc/stemedb/disk-exporter.yaml" "$rootfs/etc/stemedb/"
ldd "$pkgroot/usr/bin/stemedb_disk_exporter" |
  sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) .*/\1/p' |
  while read -r lib; do
    real=$(readlink -f "$lib")
    install -D -m 644 "$real" "$rootfs$lib"
  done
chmod 755 "$rootfs"/lib64/ld-linux-*.so.* 2>/dev/null || true
# Enough of a user database for "nobody" to have a name in logs and ps.
printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n' \
  >"$rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
chmod 1777 "$rootfs/tmp"

ctr=$("${buildah[@]}" from scratch)
trap '"${buildah[@]}" rm "$ctr" >/dev/null 2>&1 || true' EXIT
"${buildah[@]}" copy "$ctr" "$rootfs" / >/dev/null
"${buildah[@]}" config \
  --user 65534:65534 \
  --entrypoint '["/usr/bin/stemedb_disk_exporter"]' \
  --cmd '["--config=/etc/stemedb/disk-exporter.yaml"]' \
  --port 19180 \
  --label org.opencontainers.image.title=$name \
  --label org.opencontainers.image.version="$version" \
  --label org.opencontainers.image.source=https://github.com/stemedb/stemedb \
  "$ctr"
"${buildah[@]}" commit --quiet "$ctr" "localhost/$name:$tag" >/dev/null
"${buildah[@]}" push --quiet "localhost/$name:$tag" "oci-archive:$archive:$name:$tag"
echo "image: $archive ($(du -k "$archive" | cut -f1) KiB archive," \
  "$(du -sk "$rootfs" | cut -f1) KiB root)"
