#!/usr/bin/env bash
# The image test (a stage of scripts/test.sh): builds the OCI archive with
# scripts/image.sh, unpacks its layers the way a runtime would (index.json ->
# manifest -> layers, in order), and runs the image's entrypoint and cmd, as
# the image's user, chrooted into that root in a private mount namespace with
# a StemeDB tree bind-mounted read-only at /var/lib/stemedb (the DaemonSet's
# hostPath). The exporter listens on 127.0.0.1 at a port it picks; the test
# scrapes /metrics and checks the tree's numbers. Needs root (chroot, mount).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
  [ "${CI:-}" = true ] && { echo "image-test: FAIL: needs root" >&2; exit 1; }
  echo "image-test: SKIPPED: needs root (chroot, mount)" >&2
  exit 0
fi

if [ -z "${STEMEDB_IMAGE_TEST_INNER:-}" ]; then
  scripts/image.sh
  archive=$(ls -t build/image/stemedb-disk-exporter-*.oci.tar | head -n1)
  STEMEDB_IMAGE_TEST_INNER=1 exec unshare -m --propagation private "$0" "$archive"
fi

archive=$1
work=$(mktemp -d "$PWD/build/image-test.XXXXXX")
exporter_pid=""
cleanup() {
  [ -n "$exporter_pid" ] && kill "$exporter_pid" 2>/dev/null && wait "$exporter_pid" || true
  umount "$work/root/proc" "$work/root/var/lib/stemedb" 2>/dev/null || true
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT
mkdir -p "$work/oci" "$work/root"
tar -xf "$archive" -C "$work/oci"
blob() { echo "$work/oci/blobs/${1%%:*}/${1#*:}"; }
manifest=$(blob "$(jq -r '.manifests[0].digest' "$work/oci/index.json")")
config=$(blob "$(jq -r '.config.digest' "$manifest")")
for layer in $(jq -r '.layers[].digest' "$manifest"); do
  tar -xf "$(blob "$layer")" -C "$work/root"
done

user=$(jq -r '.config.User' "$config")
[ "${user%%:*}" != 0 ] && [ "${user%%:*}" != root ] ||
  { echo "image-test: image runs as root ($user)" >&2; exit 1; }
mapfile -t argv < <(jq -r '(.config.Entrypoint + .config.Cmd)[]' "$config")

# A StemeDB tree, read-only inside (as the DaemonSet mounts it).
tree=$work/tree
mkdir -p "$tree/data/wal" "$tree/data/db" "$tree/backups" "$tree/logs"
head -c 131072 /dev/zero >"$tree/data/wal/000001.log"
chmod -R a+rX "$tree"
mkdir -p "$work/root/var/lib/stemedb"
mount --bind "$tree" "$work/root/var/lib/stemedb"
mount -o remount,bind,ro "$work/root/var/lib/stemedb"
mkdir -p "$work/root/proc"
mount -t proc proc "$work/root/proc"

log=$work/exporter.log
# chroot(1) enters the root, then drops to the image's user before exec.
chroot --userspec="${user%%:*}:${user##*:}" --groups="${user##*:}" \
  "$work/root" "${argv[@]}" --web.listen-address=127.0.0.1:0 \
  >"$log" 2>&1 </dev/null &
exporter_pid=$!

# Wait for the line naming the port (a poll with a deadline only a hang
# reaches), then for the first walk (/-/ready).
port=""
for _ in $(seq 600); do
  port=$(sed -n 's/.*msg=listening .*port=\([0-9]*\).*/\1/p' "$log")
  [ -n "$port" ] && break
  kill -0 "$exporter_pid" 2>/dev/null ||
    { cat "$log" >&2; echo "image-test: exporter exited" >&2; exit 1; }
  sleep 0.1
done
[ -n "$port" ] || { cat "$log" >&2; echo "image-test: no listening line" >&2; exit 1; }
curl -fsS --retry 100 --retry-delay 1 --retry-all-errors --max-time 60 \
  -o /dev/null "http://127.0.0.1:$port/-/ready"
metrics=$(curl -fsS --max-time 10 "http://127.0.0.1:$port/metrics")
grep -q '^stemedb_disk_component_allocated_bytes{component="wal"} [1-9]' <<<"$metrics"
grep -q '^stemedb_disk_segments{component="wal"} 1$' <<<"$metrics"
grep -q '^stemedb_disk_scan_success{component="db"} 1$' <<<"$metrics"
grep -q '^stemedb_disk_exporter_build_info{' <<<"$metrics"
# Not root inside: the kernel's view of the running process.
uid=$(awk '/^Uid:/ {print $2}' "/proc/$exporter_pid/status")
[ "$uid" = "${user%%:*}" ] || { echo "image-test: runs as uid $uid" >&2; exit 1; }
echo "image-test: passed; $(basename "$archive") $(du -k "$archive" | cut -f1) KiB," \
  "root $(du -sk --exclude=proc --exclude=var "$work/root" | cut -f1) KiB," \
  "uid $uid, scraped /metrics on 127.0.0.1:$port"
