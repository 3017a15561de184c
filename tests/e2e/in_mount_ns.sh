#!/bin/sh
# Runs a command in a private mount namespace, so the tmpfs mounts an e2e
# test makes are invisible to the host and vanish with the test.
# As root (CI): a plain mount namespace. Otherwise: a user namespace that
# maps the caller to root, in which mounting a tmpfs is allowed.
set -e
if [ "$(id -u)" = 0 ]; then
  exec unshare -m --propagation private "$@"
else
  exec unshare -Urm "$@"
fi
