#!/usr/bin/env python3
"""e2e_watch_fallback: watch mode when notifications cannot be trusted.

- Overflow: the kernel's event queue (fs.inotify.max_queued_events) is a
  global sysctl, not namespaced, so the test uses the exporter's seam
  `--testing.watch-overflow-after=N` (the watcher acts as if IN_Q_OVERFLOW
  came after N more events). The exporter must count a rewalk with reason
  `overflow`, log it, and end exact (du and find), its next reconcile
  finding no difference.
- Watch limit: a real one. /proc/sys/user/max_inotify_watches is per user
  namespace and writable by the namespace's root, so the exporter runs in
  `unshare -Ur` with the limit lowered below the tree's directory count:
  the kernel itself refuses the watch (ENOSPC). The components that could
  not be watched fall back to walks (stemedb_disk_scan_mode), a rewalk with
  reason `watch_limit` is counted, no more watches are held than the limit
  allows, and every number stays exact.
- Network filesystems: `--testing.fs-type=PATH=TYPE` (the fstype as
  /proc/self/mountinfo spells it) puts the WAL on nfs, nfs4, cifs or
  fuse.sshfs; that component walks, the others watch, and the WAL's numbers
  follow changes through its walks.
"""
import os
import random
import sys
import unittest

import e2e_lib as e2e
import watch_lib as w
from mutator import Mutator, initial_tree, seed_from_env

COMPONENTS = list(e2e.DEFAULT_LAYOUT)
SPEC_PATTERNS = e2e.SEGMENT_PATTERNS


def wait_exact(exporter, spec, timeout=60):
    """Polls /metrics until every component equals du and find."""
    want = w.truth(spec)
    last = []

    def check():
        last[:] = w.mismatches(exporter.scrape(), want)
        return not last
    try:
        e2e.wait_until(check, timeout, "numbers equal to du and find")
    except e2e.Timeout as e:
        raise AssertionError("%s:\n  %s\n--- exporter log:\n%s" % (
            e, "\n  ".join(last), exporter.log()[-3000:]))
    return want


class FallbackBase(unittest.TestCase):

    def make_tree(self, prefix):
        tmp = w.disk_workdir(prefix)
        self.addCleanup(tmp.cleanup)
        self.work = tmp.name
        self.root = os.path.join(self.work, "root")
        os.makedirs(self.root)
        self.seed = seed_from_env()
        print("%s: seed %d" % (self.id(), self.seed), file=sys.stderr)
        initial_tree(self.root, random.Random(self.seed))
        self.paths = {c: os.path.join(self.root, p)
                      for c, p in e2e.DEFAULT_LAYOUT.items()}
        self.spec = {c: (p, SPEC_PATTERNS.get(c))
                     for c, p in self.paths.items()}

    def config(self, interval="1h", reconcile="6h"):
        path = os.path.join(self.work, "stemedb.yaml")
        e2e.write_text(path,
                       e2e.config_yaml(self.root, interval=interval,
                                       extra=w.scan_extra("watch", reconcile)))
        return path

    def mutate(self, ops):
        Mutator(self.root, self.paths, self.seed + ops, 8 << 20).run(ops)
        os.sync()  # see test_watch_mutation: st_blocks final now


class OverflowTest(FallbackBase):

    def test_overflow_rewalks_and_ends_exact(self):
        self.make_tree("e2e-overflow-")
        exporter = e2e.Exporter(self.work, [
            "--config", self.config(reconcile="2s"),
            "--testing.watch-overflow-after=200"])
        self.addCleanup(exporter.close)
        m = exporter.scrape()
        for c in COMPONENTS:
            self.assertEqual(w.mode_of(m, c), "watch", c)
            self.assertEqual(m.value(w.REWALKS, component=c,
                                     reason="overflow") or 0, 0)
        wait_exact(exporter, self.spec)
        # Far more than 200 events.
        self.mutate(1500)

        def overflowed():
            m = exporter.scrape()
            return sum(v for l, v in m.series(w.REWALKS)
                       if l.get("reason") == "overflow") >= 1 and m
        m = e2e.wait_until(overflowed, 60, "a rewalk with reason overflow")
        self.assertEqual(sum(v for l, v in m.series(w.REWALKS)
                             if l.get("reason") != "overflow"), 0,
                         m.series(w.REWALKS))
        self.assertRegex(exporter.log(), r"(?i)overflow")
        # After the rewalk the watcher carries on: more changes, then exact.
        self.mutate(500)
        wait_exact(exporter, self.spec)
        m = w.wait_reconciles_after(exporter, COMPONENTS, 120)
        for c in COMPONENTS:
            self.assertEqual(w.mode_of(m, c), "watch", c)
            self.assertEqual(m.value(w.DIFF_BYTES, component=c), 0, c)
            self.assertEqual(m.value(w.DIFF_ENTRIES, component=c), 0, c)
        self.assertEqual(w.mismatches(m, w.truth(self.spec)), [])


class WatchLimitTest(FallbackBase):

    LIMIT = 6

    def test_kernel_watch_limit_falls_back_to_walks(self):
        self.make_tree("e2e-watch-limit-")
        dirs = sum(w.component_truth(p)["directories"]
                   for p in self.paths.values())
        self.assertGreater(dirs, self.LIMIT)
        wrapper = ["unshare", "-Ur", "sh", "-c",
                   "echo %d > /proc/sys/user/max_inotify_watches && "
                   'exec "$@"' % self.LIMIT, "sh"]
        exporter = e2e.Exporter(self.work, ["--config", self.config(
            interval="1s")], wrapper=wrapper)
        self.addCleanup(exporter.close)
        # New directories in every component: whatever was watched first,
        # each component now needs more watches than the namespace allows.
        for p in self.paths.values():
            for i in range(self.LIMIT):
                os.makedirs(os.path.join(p, "more-%d" % i, "x"))
                e2e.write_file(os.path.join(p, "more-%d" % i, "x", "f"), 5000)
        os.sync()

        # One watch per directory: once the exporter has handled the new
        # directories, the components still in watch mode fit in LIMIT
        # watches together, and at least one is walking.
        state = {}

        def settled():
            m = exporter.scrape()
            modes = {c: w.mode_of(m, c) for c in COMPONENTS}
            watched = sum(w.component_truth(self.paths[c])["directories"]
                          for c, v in modes.items() if v == "watch")
            state.update(modes=modes, watched_dirs=watched,
                         watches=w.total(m, w.WATCHES))
            return ("walk" in modes.values() and watched <= self.LIMIT and
                    all(v in ("walk", "watch") for v in modes.values()) and
                    m)
        try:
            m = e2e.wait_until(settled, 60, "the watched components to fit "
                               "in %d watches" % self.LIMIT)
        except e2e.Timeout as e:
            raise AssertionError("%s: %r\n--- exporter log:\n%s" % (
                e, state, exporter.log()[-3000:]))
        modes = state["modes"]
        walking = [c for c, v in modes.items() if v == "walk"]
        limit_rewalks = sum(v for l, v in m.series(w.REWALKS)
                            if l.get("reason") == "watch_limit")
        self.assertGreaterEqual(limit_rewalks, 1, m.series(w.REWALKS))
        self.assertLessEqual(w.total(m, w.WATCHES) or 0, self.LIMIT)
        wait_exact(exporter, self.spec)
        # And they keep up: walks every second.
        self.mutate(500)
        wait_exact(exporter, self.spec)
        print("watch limit %d: modes %s, walking %s, rewalks %s" % (
            self.LIMIT, modes, walking, m.series(w.REWALKS)),
            file=sys.stderr)


class NetworkFilesystemTest(FallbackBase):

    def check_type(self, fstype):
        self.make_tree("e2e-netfs-")
        exporter = e2e.Exporter(self.work, [
            "--config", self.config(interval="1s"),
            "--testing.fs-type=%s=%s" % (self.paths["wal"], fstype)],
            name="exporter-" + fstype)
        self.addCleanup(exporter.close)
        m = exporter.scrape()
        self.assertEqual(w.mode_of(m, "wal"), "walk", fstype)
        self.assertEqual(m.value(w.SCAN_MODE, component="wal", mode="watch"),
                         0)
        for c in COMPONENTS:
            if c != "wal":
                self.assertEqual(w.mode_of(m, c), "watch", c)
        wait_exact(exporter, self.spec)
        self.mutate(300)
        wait_exact(exporter, self.spec)
        self.assertEqual(w.mode_of(exporter.scrape(), "wal"), "walk")

    def test_nfs(self):
        self.check_type("nfs")

    def test_nfs4(self):
        self.check_type("nfs4")

    def test_cifs(self):
        self.check_type("cifs")

    def test_fuse_sshfs(self):
        self.check_type("fuse.sshfs")


if __name__ == "__main__":
    e2e.run_main()
