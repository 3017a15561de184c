#!/usr/bin/env python3
"""e2e_watch_paths: watch mode where the paths themselves change.

- Root swap: the data root `data` (holding wal, db and tmp) is moved away
  and replaced by a symlink to a copy, or by a new directory; then 20 MB
  are written into it. No inotify watch below `data` hears of the swap, and
  scan.interval and scan.reconcile_interval are 1h, so only the watcher's
  own check of each component path can notice. Every component must then
  equal du and find of the path as it resolves now, with a rewalk of reason
  `replaced` counted and logged.
- Deep chain: a chain 5,000 directories deep made while watching, with
  `max_depth: 4096` (its paths pass PATH_MAX at about depth 2,000). The
  watch-mode exporter must count what a walk-mode exporter counts for the
  same tree: the same directories and files, and the directory past
  max_depth counted with reason `loop`.
"""
import os
import shutil
import subprocess
import sys
import time
import unittest

import e2e_lib as e2e
import watch_lib as w

COMPONENTS = list(e2e.DEFAULT_LAYOUT)
SPEC_PATTERNS = e2e.SEGMENT_PATTERNS
ERRORS = "stemedb_disk_scan_errors_total"


class PathsBase(unittest.TestCase):

    def setUp(self):
        tmp = w.disk_workdir("e2e-watch-paths-")
        self.addCleanup(tmp.cleanup)
        self.work = tmp.name
        self.root = os.path.join(self.work, "root")
        for p in e2e.DEFAULT_LAYOUT.values():
            os.makedirs(os.path.join(self.root, p, "sub"))
            e2e.write_file(os.path.join(self.root, p, "sub", "f"), 5000)
        e2e.write_file(os.path.join(self.root, "data/wal/000001.log"), 9000)
        self.paths = {c: os.path.join(self.root, p)
                      for c, p in e2e.DEFAULT_LAYOUT.items()}

    def exporter(self, mode, extra="", name="exporter"):
        path = e2e.write_text(os.path.join(self.work, name + ".yaml"),
                              e2e.config_yaml(
                                  self.root, interval="1h",
                                  extra=w.scan_extra(mode, "1h") + extra))
        exporter = e2e.Exporter(self.work, ["--config", path], name=name)
        self.addCleanup(exporter.close)
        return exporter

    def wait_exact(self, exporter, timeout=120):
        """Polls /metrics until every component equals du and find of its
        path as it resolves now (a trailing slash follows a symlink)."""
        spec = {c: (p + "/", SPEC_PATTERNS.get(c))
                for c, p in self.paths.items()}
        last = []

        def check():
            m = exporter.scrape()
            last[:] = w.mismatches(m, w.truth(spec))
            return not last and m
        try:
            return e2e.wait_until(check, timeout, "numbers equal to du and "
                                  "find")
        except e2e.Timeout as e:
            raise AssertionError("%s:\n  %s\n--- exporter log:\n%s" % (
                e, "\n  ".join(last), exporter.log()[-3000:]))


class RootSwapTest(PathsBase):

    def swap_and_check(self, replace):
        exporter = self.exporter("watch")
        m = self.wait_exact(exporter)
        for c in COMPONENTS:
            self.assertEqual(w.mode_of(m, c), "watch", c)
        data = os.path.join(self.root, "data")
        os.rename(data, data + ".old")
        start = time.monotonic()
        replace(data)
        e2e.write_file(os.path.join(data, "wal/000002.log"), 20 << 20)
        e2e.write_file(os.path.join(data, "db/sub/g"), 70000)
        os.sync()
        m = self.wait_exact(exporter)
        print("%s: swap to exact numbers %.2f s" % (
            self.id(), time.monotonic() - start), file=sys.stderr)
        replaced = {c: m.value(w.REWALKS, component=c, reason="replaced")
                    for c in COMPONENTS}
        for c in ("wal", "db", "tmp"):  # those below `data`
            self.assertGreaterEqual(replaced[c], 1, replaced)
            self.assertEqual(w.mode_of(m, c), "watch", c)
        for c in ("backups", "logs"):
            self.assertEqual(replaced[c], 0, replaced)
        self.assertRegex(exporter.log(), r"another directory")
        # Watched where the path leads now: a change there is seen with no
        # walk, and the old tree is no longer counted.
        e2e.write_file(os.path.join(data, "db/sub/h"), 30000)
        e2e.write_file(os.path.join(data + ".old", "db/sub/stale"), 40000)
        m = self.wait_exact(exporter)
        self.assertEqual(
            {c: m.value(w.REWALKS, component=c, reason="replaced")
             for c in COMPONENTS}, replaced)

    def test_root_replaced_by_symlink_to_copy(self):
        copy = os.path.join(self.work, "copy")

        def replace(data):
            shutil.copytree(data + ".old", copy, symlinks=True)
            os.symlink(copy, data)
        self.swap_and_check(replace)

    def test_root_replaced_by_new_directory(self):
        def replace(data):
            for c in ("wal", "db", "tmp"):
                os.makedirs(os.path.join(data, c, "sub"))
        self.swap_and_check(replace)


class DeepChainTest(PathsBase):

    DEPTH = 5000
    MAX_DEPTH = 4096

    def chain(self, base):
        """DEPTH directories, one inside the other, made below `base`
        relative to the last one (no path is ever longer than a name)."""
        # rm(1) takes any depth; shutil.rmtree recurses once per level.
        self.addCleanup(subprocess.run, ["rm", "-rf", os.path.join(base, "d")],
                        check=True)
        fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY)
        try:
            for i in range(self.DEPTH):
                os.mkdir("d", dir_fd=fd)
                nxt = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
                os.close(fd)
                fd = nxt
        finally:
            os.close(fd)

    def counts(self, m, c):
        return {
            "directories": m.value("stemedb_disk_component_directories",
                                   component=c),
            "files": m.value("stemedb_disk_component_files", component=c),
            "allocated": m.value("stemedb_disk_component_allocated_bytes",
                                 component=c),
            "loop": m.value(ERRORS, component=c, reason="loop"),
        }

    def test_chain_made_while_watching_counts_as_a_walk(self):
        extra = "  max_depth: %d\n" % self.MAX_DEPTH
        watcher = self.exporter("watch", extra, name="watch")
        self.chain(self.paths["db"])
        os.sync()
        # The walk-mode exporter starts once the chain is complete: its one
        # walk is the reference.
        walker = self.exporter("walk", extra, name="walk")
        want = self.counts(walker.scrape(), "db")
        # db and db/sub, the chain to max_depth, the inode of the next.
        self.assertEqual(want["directories"], 2 + self.MAX_DEPTH + 1, want)
        self.assertEqual(want["loop"], 1, want)
        last = {}

        def same():
            m = watcher.scrape()
            got = self.counts(m, "db")
            last.update(got)
            return (all(got[k] == want[k] for k in
                        ("directories", "files", "allocated")) and
                    got["loop"] >= 1 and m)
        try:
            m = e2e.wait_until(same, 120, "watch mode counting as a walk")
        except e2e.Timeout as e:
            raise AssertionError("%s: watch %r, walk %r\n--- log:\n%s" % (
                e, last, want, watcher.log()[-3000:]))
        print("deep chain: watch %r, walk %r" % (last, want),
              file=sys.stderr)
        for reason in e2e.ERROR_REASONS:
            if reason != "loop":
                self.assertEqual(m.value(ERRORS, component="db",
                                         reason=reason), 0, reason)
        self.assertEqual(w.mode_of(m, "db"), "watch")


if __name__ == "__main__":
    e2e.run_main()
