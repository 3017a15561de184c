#!/usr/bin/env bash
# The package test (a stage of scripts/test.sh): builds the two .debs with
# scripts/package.sh (lintian included), installs them with apt-get into a
# bare Debian 12 root made by debootstrap, and checks inside that root what an
# SRE would do after `apt install`: the exporter's package pulls no test tool
# and no rule generator, --version, --once on a tree, the service user
# reading a group-readable tree, systemd-analyze verify and security
# (exposure <= 2.0, the number read from its output), the unit enabled, man,
# bash completion, the rule generator's package with the generated files, an
# upgrade that keeps a changed conffile, and a purge that leaves none of the
# packages' files. Then scripts/lib/package-boot-check.sh boots the root
# with systemd as PID 1 in its own namespaces: apt-get install starts the
# hardened unit, watch mode is scraped over loopback; and the test set's
# services installed as scripts/setup.sh --test installs them neither run
# nor are enabled.
#
# The root comes from the Debian mirror in /etc/apt/sources.list[.d] and is
# kept in build/debootstrap/ (it carries the package's dependencies, so a
# second run needs no network; the first run makes the bare root while the
# .debs build and adds their dependencies after); each run works on an
# overlay of it, in a private mount namespace, so nothing leaks to the host.
# Needs root. Where the mirror cannot be reached: a failure under CI
# (CI=true), else a skip.
#
# Usage: scripts/package-test.sh [--prepare]
#   --prepare  only build the .debs and the root, then stop (scripts/test.sh
#              does this alongside the tests; STEMEDB_PACKAGE_REUSE=1 then
#              tests what it built).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
prepare=""
if [ -z "${STEMEDB_PACKAGE_TEST_INNER:-}" ]; then
  case "${1:-}" in
    --prepare) prepare=1 ;;
    "") ;;
    *) echo "package-test: unknown argument '$1' (usage: package-test.sh [--prepare])" >&2
       exit 2 ;;
  esac
fi

skip_or_fail() {
  if [ "${CI:-}" = true ]; then
    echo "package-test: FAIL: $*" >&2
    exit 1
  fi
  echo "package-test: SKIPPED: $*" >&2
  exit 0
}

[ "$(id -u)" -eq 0 ] || skip_or_fail "needs root (debootstrap, chroot, mount)"
command -v lintian >/dev/null ||
  { echo "package-test: FAIL: no lintian (scripts/setup.sh --test)" >&2; exit 1; }

if [ -z "${STEMEDB_PACKAGE_TEST_INNER:-}" ]; then
  # The mirror this machine's apt uses (deb822 .sources or one-line .list).
  mirror=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
    sed -n 's/^URIs: *\([^ ]*\).*/\1/p' | grep -v -- '-security' | head -n1)
  if [ -z "$mirror" ]; then
    mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
      sed -n 's/^deb \(\[[^]]*\] \)\?\([^ ]*\) .*/\2/p' |
      grep -v -- '-security' | head -n1)
  fi
  [ -n "$mirror" ] || skip_or_fail "no Debian mirror in /etc/apt/sources.list[.d]"

  # The root: a bare Debian 12, the tools the checks run (systemd-analyze,
  # man) and what apt would pull in for the package (its Depends), so that
  # installing it needs no network. Its Depends are known once it is built;
  # the first time (no root kept yet), the bare root with the tools comes
  # from the network while the .debs build, and the Depends are added to it
  # after.
  tools="systemd,dbus,man-db,bash-completion"
  mkdir -p build/debootstrap
  early="" early_pid=""
  if [ -z "${STEMEDB_PACKAGE_REUSE:-}" ] &&
      ! compgen -G "build/debootstrap/bookworm-*/.complete" >/dev/null; then
    early=$PWD/build/debootstrap/early.$$
    debootstrap --variant=minbase --include="$tools" bookworm "$early" \
      "$mirror" >"$early.log" 2>&1 &
    early_pid=$!
  fi

  # STEMEDB_PACKAGE_REUSE=1: test the .deb already in build-deb/. What is
  # tested is what apt installs: stripped binaries, whose code gcc makes the
  # same with or without -g. So, unless DEB_BUILD_OPTIONS says otherwise,
  # this build leaves the debug info and the -dbgsym packages out (a third
  # of its CPU time); scripts/package.sh alone builds them.
  if [ -n "${STEMEDB_PACKAGE_REUSE:-}" ]; then
    :
  elif [ -n "${DEB_BUILD_OPTIONS:-}" ]; then
    scripts/package.sh
  else
    DEB_BUILD_OPTIONS="nocheck noautodbgsym" DEB_CXXFLAGS_STRIP=-g \
      scripts/package.sh
  fi
  built=$(date +%s)
  deb=$(ls "$PWD"/build-deb/stemedb-disk-exporter_*.deb)
  rulegen_deb=$(ls "$PWD"/build-deb/stemedb-disk-rulegen_*.deb)
  scripts/setup.sh --list-test >"$PWD/build/package-test.test-set"

  depends=$(dpkg-deb -f "$deb" Depends | tr ',' '\n' |
    sed 's/^ *//; s/[ (].*//' | grep -v '^$' | sort | paste -sd, -)
  include="$tools,$depends"
  key=$(echo "bookworm minbase $include" | sha256sum | cut -c1-12)
  base=$PWD/build/debootstrap/bookworm-$key
  if [ ! -e "$base/.complete" ]; then
    rm -rf "$base"
    # The early root, with the Depends installed by its own apt (in a
    # private mount namespace with its /proc); else, or when that failed,
    # one debootstrap with everything.
    if [ -n "$early_pid" ] && wait "$early_pid" &&
        unshare -m --propagation private sh -c '
          mount -t proc proc "$0/proc" &&
          chroot "$0" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
            DEBIAN_FRONTEND=noninteractive ${http_proxy:+http_proxy=$http_proxy} \
            apt-get install -y -q --no-install-recommends "$@"' \
          "$early" ${depends//,/ } >>"$early.log" 2>&1; then
      mv "$early" "$base"
      mv "$early.log" "$base.log"
    else
      if [ -n "$early" ]; then
        echo "package-test: the early root failed; the last lines of its log:" >&2
        tail -n 20 "$early.log" >&2
        rm -rf "$early" "$early.log"
      fi
      mkdir -p "$base"
      echo "package-test: debootstrap bookworm from $mirror into $base" >&2
      if ! debootstrap --variant=minbase --include="$include" bookworm \
          "$base" "$mirror" >"$base.log" 2>&1; then
        tail -n 20 "$base.log" >&2
        rm -rf "$base"
        skip_or_fail "debootstrap could not build a root from $mirror (log above)"
      fi
    fi
    touch "$base/.complete"
  elif [ -n "$early" ]; then
    kill "$early_pid" 2>/dev/null || true
    wait "$early_pid" 2>/dev/null || true
    rm -rf "$early" "$early.log"
  fi
  bootstrapped=$(date +%s)
  if [ -n "$prepare" ]; then
    echo "package-test: prepared $(basename "$deb") and $base;" \
      "build $((built - start)) s, root $((bootstrapped - built)) s"
    exit 0
  fi

  STEMEDB_PACKAGE_TEST_INNER=1 exec unshare -m --propagation private \
    "$0" "$base" "$deb" "$rulegen_deb" "$start" "$built" "$bootstrapped"
fi

# --- inside a private mount namespace ---------------------------------------
base=$1 deb=$2 rulegen_deb=$3 start=$4 built=$5 bootstrapped=$6
work=$(mktemp -d "$PWD/build/package-test.XXXXXX")
trap 'umount -R "$work/root" 2>/dev/null || true; rm -rf --one-file-system "$work"' EXIT
mkdir -p "$work/upper" "$work/work" "$work/root"
mount -t overlay overlay \
  -o "lowerdir=$base,upperdir=$work/upper,workdir=$work/work" "$work/root"
root=$work/root
mount -t proc proc "$root/proc"
mount -t devpts -o newinstance devpts "$root/dev/pts"
cp "$deb" "$root/tmp/pkg.deb"
cp "$rulegen_deb" "$root/tmp/rulegen.deb"
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
  DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 "$@"; }
check() { echo "package-test: ok: $*"; }

# Every file of the root but runtime state (/run is a tmpfs on a real
# system), and the package databases, caches and logs that
# any apt run changes.
file_list() {
  (cd "$root" && find . -xdev \( -path ./proc -o -path ./tmp -o -path ./run \
    -o -path ./var/lib/dpkg -o -path ./var/lib/apt -o -path ./var/cache \
    -o -path ./var/log \) -prune -o -print | sort)
}

# StemeDB's data, readable only by its group, as on a real node.
in_root groupadd --system stemedb
mkdir -p "$root/var/lib/stemedb/data/wal" "$root/var/lib/stemedb/data/db" \
  "$root/var/lib/stemedb/backups/stemedb-backup-1" "$root/var/lib/stemedb/logs"
head -c 65536 /dev/zero >"$root/var/lib/stemedb/data/wal/000001.log"
head -c 8192 /dev/zero >"$root/var/lib/stemedb/data/db/table.db"
in_root chown -R root:stemedb /var/lib/stemedb
in_root chmod -R u=rwX,g=rX,o= /var/lib/stemedb
file_list >"$work/before"

in_root apt-get install -y -q /tmp/pkg.deb >"$work/install.log" 2>&1 ||
  { cat "$work/install.log" >&2; exit 1; }
check "apt-get install ./$(basename "$deb")"

# What it pulled: the packages apt installed now (the root has the Depends
# already, so that a second run needs no network) and every package the
# exporter depends on, directly or not; none may be of the test set.
new=$(awk '/^The following NEW packages will be installed:/ { on = 1; next }
  on && /^  / { print; next } { on = 0 }' "$work/install.log" | xargs -n1 | sort)
closure=$(in_root apt-cache depends --recurse --installed --no-recommends \
  --no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances \
  stemedb-disk-exporter | sed -n 's/^\([a-z0-9][^ <]*\)$/\1/p' | sort -u)
pulled=$(sort -u <<<"$new"$'\n'"$closure" | grep -v '^$')
# Debian's base (priority required or important: procps, whose kill the
# unit's ExecReload runs, is one) is on every node already; the tests
# install some of it too, which does not make it a test tool.
base=$(in_root dpkg-query -W -f '${Package} ${Priority}\n' |
  awk '$2 == "required" || $2 == "important" { print $1 }')
test_tools=$(grep -x -F -f "$PWD/build/package-test.test-set" <<<"$pulled" |
  grep -v -x -F -f <(printf '%s\n' "$base") || true)
[ -z "$test_tools" ] ||
  { echo "package-test: the exporter pulls test tools: $test_tools" >&2; exit 1; }
if in_root sh -c 'command -v stemedb_rulegen' || [ -e "$root/usr/share/stemedb-disk-rulegen" ]; then
  echo "package-test: the exporter's package ships the rule generator" >&2
  exit 1
fi
echo "package-test: the exporter pulled $(wc -w <<<"$new") package(s) now:" \
  "${new//$'\n'/ }; depends on $(wc -w <<<"$closure"):" "${closure//$'\n'/ }"
check "no test tool and no rule generator on the node"

in_root stemedb_disk_exporter --version | grep -q '^stemedb_disk_exporter, version '
check "stemedb_disk_exporter --version"

# As the service user: the postinst put it into the existing stemedb group.
in_root id -nG stemedb-disk-exporter | tr ' ' '\n' | grep -qx stemedb
out=$(in_root setpriv --reuid=stemedb-disk-exporter --regid=stemedb-disk-exporter \
  --init-groups stemedb_disk_exporter --config /etc/stemedb/disk-exporter.yaml --once)
grep -q '^stemedb_disk_component_allocated_bytes{component="wal"} [1-9]' <<<"$out"
grep -q '^stemedb_disk_segments{component="wal"} 1$' <<<"$out"
grep -q '^stemedb_disk_scan_success{component="db"} 1$' <<<"$out"
check "--once as stemedb-disk-exporter reads the group-readable tree"

unit=/lib/systemd/system/stemedb-disk-exporter.service
in_root systemd-analyze verify "$unit"
check "systemd-analyze verify $unit"
security=$(in_root systemd-analyze security --offline=yes "$unit")
exposure=$(sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p' <<<"$security")
[ -n "$exposure" ] || { echo "$security" >&2; echo "no exposure level" >&2; exit 1; }
awk -v e="$exposure" 'BEGIN { exit !(e <= 2.0) }' ||
  { echo "$security" >&2; echo "package-test: exposure $exposure > 2.0" >&2; exit 1; }
check "systemd-analyze security exposure $exposure <= 2.0"
in_root systemctl is-enabled stemedb-disk-exporter.service | grep -qx enabled
check "unit enabled"

in_root man -P cat stemedb_disk_exporter | grep -q -- '--web.listen-address=HOST:PORT'
check "man stemedb_disk_exporter"

# The central host's package: the generator and what it generates.
in_root apt-get install -y -q /tmp/rulegen.deb >"$work/rulegen.log" 2>&1 ||
  { cat "$work/rulegen.log" >&2; exit 1; }
in_root stemedb_rulegen --version | grep -q '^stemedb_rulegen, version '
in_root man -P cat stemedb_rulegen | grep -q -- '--config=FILE'
share=/usr/share/stemedb-disk-rulegen
for f in rules/stemedb-disk.rules.yml rules/stemedb-disk.rules.test.yml \
    dashboards/stemedb-disk.json alertmanager/alertmanager.yml \
    prometheus/scrape-config.yml kubernetes/exporter-daemonset.yaml; do
  [ -s "$root$share/$f" ] || { echo "package-test: no $share/$f" >&2; exit 1; }
done
in_root stemedb_rulegen --out /tmp/generated >/dev/null
cmp "$root/tmp/generated/rules/stemedb-disk.rules.yml" "$root$share/rules/stemedb-disk.rules.yml"
check "apt-get install ./$(basename "$rulegen_deb"): --version, man, $share"

completions=$(in_root bash -c '. /usr/share/bash-completion/bash_completion
  COMP_WORDS=(stemedb_disk_exporter --web.l); COMP_CWORD=1
  COMP_LINE="stemedb_disk_exporter --web.l"; COMP_POINT=${#COMP_LINE}
  _stemedb_complete stemedb_disk_exporter --web.l stemedb_disk_exporter
  echo "${COMPREPLY[*]}"' 2>/dev/null || true)
# bash-completion loads on demand; source the file if it was not loaded.
if [ "$completions" != "--web.listen-address" ]; then
  completions=$(in_root bash -c '. /usr/share/bash-completion/bash_completion
    . /usr/share/bash-completion/completions/stemedb_disk_exporter
    COMP_WORDS=(stemedb_disk_exporter --web.l); COMP_CWORD=1
    COMP_LINE="stemedb_disk_exporter --web.l"; COMP_POINT=${#COMP_LINE}
    _stemedb_complete stemedb_disk_exporter --web.l stemedb_disk_exporter
    echo "${COMPREPLY[*]}"')
fi
[ "$completions" = "--web.listen-address" ] ||
  { echo "package-test: completion gave '$completions'" >&2; exit 1; }
check "bash completion of --web.l"

# An upgrade (same files, a higher version) keeps a changed conffile.
echo "# changed by the admin" >>"$root/etc/stemedb/disk-exporter.yaml"
sed -i 's/^ARGS=""/ARGS="--log.level=debug"/' "$root/etc/default/stemedb-disk-exporter"
dpkg-deb -R "$deb" "$work/next"
sed -i 's/^Version: .*/&+next1/' "$work/next/DEBIAN/control"
dpkg-deb -b "$work/next" "$root/tmp/next.deb" >/dev/null
in_root apt-get install -y -q /tmp/next.deb >"$work/upgrade.log" 2>&1 ||
  { cat "$work/upgrade.log" >&2; exit 1; }
in_root dpkg-query -W -f='${Version}' stemedb-disk-exporter | grep -q '+next1$'
grep -q '^# changed by the admin$' "$root/etc/stemedb/disk-exporter.yaml"
grep -q '^ARGS="--log.level=debug"$' "$root/etc/default/stemedb-disk-exporter"
check "upgrade keeps changed conffiles"

in_root apt-get purge -y -q stemedb-disk-exporter stemedb-disk-rulegen \
  >"$work/purge.log" 2>&1 ||
  { cat "$work/purge.log" >&2; exit 1; }
file_list >"$work/after"
# The system user stays, as Debian policy advises (debian/postrm says why);
# adduser's backups of the user databases are the trace of that.
left=$(comm -13 "$work/before" "$work/after" |
  grep -v -x -e ./etc/passwd- -e ./etc/group- -e ./etc/shadow- -e ./etc/gshadow- || true)
gone=$(comm -23 "$work/before" "$work/after" || true)
if [ -n "$left$gone" ]; then
  echo "package-test: purge left: ${left:-nothing}; removed: ${gone:-nothing}" >&2
  exit 1
fi
check "apt-get purge leaves none of the packages' files"

# The unit under the real systemd, and the test set's services.
scripts/lib/package-boot-check.sh "$root" "$work" "$deb"

size=$(dpkg-deb -f "$deb" Installed-Size)
rulegen_size=$(dpkg-deb -f "$rulegen_deb" Installed-Size)
now=$(date +%s)
echo "package-test: passed; Installed-Size ${size} KiB (exporter)," \
  "${rulegen_size} KiB (rule generator);" \
  "build $((built - start)) s, root $((bootstrapped - built)) s," \
  "checks $((now - bootstrapped)) s, total $((now - start)) s"
