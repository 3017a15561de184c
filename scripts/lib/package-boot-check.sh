#!/usr/bin/env bash
# Part of scripts/package-test.sh: the installed unit under the real systemd.
#   package-boot-check.sh ROOT WORK DEB
# ROOT is a Debian root (with systemd) that the caller mounted in its private
# mount namespace, without the package installed; WORK a scratch directory.
# systemd boots as PID 1 of new pid, cgroup, uts, ipc and network namespaces
# chrooted into ROOT; there `apt-get install ./DEB` enables and starts the
# hardened unit as on a real node, which is scraped over the namespace's own
# loopback at the default :19180 (nothing else listens there): watch mode
# runs, and a WAL segment written afterwards shows up without a walk. Then
# the test set's services (the mirror's prometheus-node-exporter and
# prometheus-alertmanager) are installed with scripts/lib/apt-quiet.sh, as
# scripts/setup.sh --test does: neither runs, neither is enabled.
set -euo pipefail
root=$1 work=$2 deb=$3
here=$(cd "$(dirname "$0")" && pwd)
check() { echo "package-test: ok: $*"; }
fail() { echo "package-test: FAIL: $*" >&2; exit 1; }
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
  DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 "$@"; }

# The namespace has no network: fetch the services' packages first.
services="prometheus-node-exporter prometheus-alertmanager"
{ in_root apt-get update -q && in_root apt-get install -y -q -d $services; } \
  >"$work/download.log" 2>&1 || { cat "$work/download.log" >&2; fail "download"; }
# Not in /tmp: the booted system mounts its own there.
cp "$deb" "$root/root/boot.deb"
cp "$here/apt-quiet.sh" "$root/root/apt-quiet.sh"

mkfifo "$work/up"
env -i container=stemedb-package-test PATH=/usr/sbin:/usr/bin:/sbin:/bin \
  unshare --pid --fork --cgroup --uts --ipc --net --mount-proc="$root/proc" \
  sh -c 'echo up >"$1"; exec chroot "$2" /lib/systemd/systemd' sh \
  "$work/up" "$root" >"$work/boot.log" 2>&1 &
boot=$!
read -r _ <"$work/up"
init=$(tr -d " " <"/proc/$boot/task/$boot/children")
trap 'kill -KILL "$init" 2>/dev/null; wait "$boot" 2>/dev/null || true' EXIT
in_boot() { timeout 300 nsenter -t "$init" -a --root --wd /usr/bin/env -i \
  PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
  LANG=C.UTF-8 "$@"; }
scrape() { timeout 60 nsenter -t "$init" -n curl -fsS --max-time 20 "$@"; }

# systemctl needs systemd's private socket, made early in the boot; then it
# waits for the boot itself. (A bounded wait: nothing here can be told.)
for _ in $(seq 120); do
  [ -S "$root/run/systemd/private" ] || in_boot test -S /run/systemd/private && break
  sleep 1
done
state=$(in_boot systemctl is-system-running --wait || true)
case "$state" in
  running) ;;
  degraded) in_boot systemctl --failed --no-pager >&2 ;;
  *) cat "$work/boot.log" >&2; fail "systemd did not boot the root: '$state'" ;;
esac
check "systemd $(in_boot systemctl --version | sed -n 1p | cut -d' ' -f2) booted the root ($state)"

in_boot apt-get install -y -q /root/boot.deb >"$work/boot-install.log" 2>&1 ||
  { cat "$work/boot-install.log" >&2; fail "apt-get install under systemd"; }
# Started by the postinst; ready once the first scan is complete (a bounded
# wait: the service is another process with no seam to wait on).
scrape --retry 60 --retry-delay 1 --retry-all-errors -o /dev/null \
  http://127.0.0.1:19180/-/ready ||
  { in_boot journalctl -u stemedb-disk-exporter --no-pager >&2; fail "not ready"; }
[ "$(in_boot systemctl is-enabled stemedb-disk-exporter)" = enabled ] || fail "not enabled"
[ "$(in_boot systemctl is-active stemedb-disk-exporter)" = active ] || fail "not active"
user=$(in_boot systemctl show -P User stemedb-disk-exporter)
check "apt-get install started the unit under systemd (User=$user), /-/ready"

metrics=$(scrape http://127.0.0.1:19180/metrics)
for want in '^stemedb_disk_scan_mode{component="wal",mode="watch"} 1$' \
    '^stemedb_disk_watch_directories [1-9]' \
    '^stemedb_disk_segments{component="wal"} 1$' \
    '^process_start_time_seconds [1-9]'; do
  grep -q "$want" <<<"$metrics" || { echo "$metrics" >&2; fail "no $want"; }
done
check "/metrics over loopback: watch mode, the WAL's one segment, process start time"

# A new segment, written from outside: watch mode sees it within seconds,
# by its inotify events (well before the next walk would: scan.interval is
# a minute, and watch mode walks only to reconcile, hourly).
head -c 1048576 /dev/zero >"$root/var/lib/stemedb/data/wal/000002.log"
seen=""
for _ in $(seq 30); do
  metrics=$(scrape http://127.0.0.1:19180/metrics)
  if grep -q '^stemedb_disk_segments{component="wal"} 2$' <<<"$metrics"; then
    seen=yes
    break
  fi
  sleep 1
done
[ -n "$seen" ] || { in_boot journalctl -u stemedb-disk-exporter --no-pager >&2
  fail "watch mode did not see the new WAL segment in 30 s"; }
grep -q '^stemedb_disk_watch_events_total [1-9]' <<<"$metrics" ||
  fail "the new segment was seen without an inotify event"
check "watch mode saw a new WAL segment by inotify under the hardened unit"

in_boot bash /root/apt-quiet.sh $services >"$work/quiet.log" 2>&1 ||
  { cat "$work/quiet.log" >&2; fail "apt-quiet.sh"; }
for unit in $services; do
  for q in is-enabled:disabled is-active:inactive; do
    got=$(in_boot systemctl "${q%%:*}" "$unit.service" || true)
    [ "$got" = "${q#*:}" ] || fail "$unit.service: ${q%%:*} says $got"
  done
done
running=$(in_boot ps -e -o comm= | grep -E '^(prometheus|alertmanager|node_exporter)' || true)
[ -z "$running" ] || fail "running after apt-quiet.sh: $running"
check "the test set's services installed under systemd: disabled, inactive, none running"
