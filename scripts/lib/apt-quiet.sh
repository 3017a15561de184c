#!/usr/bin/env bash
# apt-get install PACKAGE... (no recommends) so that no service of any
# package it installs, asked for or pulled in, is left enabled or running:
#   - while apt runs, a policy-rc.d refuses every start (exit 101), which
#     invoke-rc.d and deb-systemd-invoke honour, with or without systemd;
#   - then each systemd unit (.service, .socket, .timer, .path) of a package
#     that was not installed before is disabled (and stopped, where systemd
#     is PID 1); a System V script of the same name is disabled with it.
# A package installed before is left as it was. Runs as root, after
# apt-get update.
set -euo pipefail
[ $# -gt 0 ] || exit 0

installed() {
  dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' | awk '$1 == "ii" { print $2 }' | sort
}
before=$(mktemp)
installed >"$before"

policy=/usr/sbin/policy-rc.d
saved=""
if [ -e "$policy" ]; then
  saved=$(mktemp)
  cp -a "$policy" "$saved"
fi
restore() {
  if [ -n "$saved" ]; then mv -f "$saved" "$policy"; else rm -f "$policy"; fi
  rm -f "$before"
}
trap restore EXIT
printf '#!/bin/sh\n# scripts/lib/apt-quiet.sh: no service starts while it installs.\nexit 101\n' >"$policy"
chmod 755 "$policy"

DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"

units=()
scripts=()
for pkg in $(installed | comm -13 "$before" -); do
  while read -r file; do
    case "$file" in
      */lib/systemd/system/*@.*) ;;  # templates: only instances run
      */lib/systemd/system/*.service | */lib/systemd/system/*.socket | \
      */lib/systemd/system/*.timer | */lib/systemd/system/*.path)
        units+=("$(basename "$file")") ;;
      /etc/init.d/*) scripts+=("$(basename "$file")") ;;
    esac
  done < <(dpkg -L "$pkg" 2>/dev/null)
done
[ ${#units[@]} -gt 0 ] || [ ${#scripts[@]} -gt 0 ] || exit 0

if [ -d /run/systemd/system ]; then
  # systemd runs: disable (the System V links too) and stop whatever ran.
  [ ${#units[@]} -eq 0 ] || systemctl disable --now --quiet "${units[@]}"
elif command -v systemctl >/dev/null; then
  # systemd installed but not running (a container, a chroot): offline.
  [ ${#units[@]} -eq 0 ] || systemctl disable --quiet "${units[@]}" 2>/dev/null
else
  # No systemctl (a bare root): the helper dpkg's maintainer scripts use,
  # which refuses to run unless it believes dpkg called it.
  for unit in "${units[@]}"; do
    DPKG_MAINTSCRIPT_PACKAGE=apt-quiet DPKG_MAINTSCRIPT_NAME=postinst \
      deb-systemd-helper disable "$unit"
  done
fi
for script in "${scripts[@]}"; do
  update-rc.d "$script" disable >/dev/null 2>&1 || true
done
echo "apt-quiet: disabled ${units[*]} ${scripts[*]}" >&2
