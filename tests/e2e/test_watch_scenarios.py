#!/usr/bin/env python3
"""e2e_watch_scenarios: each of watch mode's hard cases, one at a time.

The mutation test finds errors; this one names them. One watch-mode
exporter (scan.interval and scan.reconcile_interval 6h: no walk and no
reconcile can repair anything) watches a demo tree; each scenario changes
it, syncs (st_blocks final, see test_watch_mutation), and every component
number must then equal du and find (watch_lib's truth) within the timeout,
with no rewalk of any reason. A scenario that fails is named with what it
did, and the next ones still run (subTest).
"""
import mmap
import os
import shutil
import sys
import unittest

import e2e_lib as e2e
import watch_lib as w


def link(a, b):
    os.link(a, b)


def append(path, size):
    with open(path, "ab") as f:
        f.write(b"a" * size)


def scenarios():
    """(name, function(paths)) in order; each leaves the tree consistent
    for the next. `p` maps component -> directory, plus "outside"."""
    def new_file(path, size):
        e2e.write_file(path, size)

    def mmap_fill(path):
        with open(path, "wb") as f:
            f.truncate(64 * mmap.PAGESIZE)
        fd = os.open(path, os.O_RDWR)
        try:
            os.write(fd, b"x")  # the last event: then stores only
            with mmap.mmap(fd, 64 * mmap.PAGESIZE) as m:
                for i in range(1, 64, 3):
                    m[i * mmap.PAGESIZE] = 1
                m.flush()
        finally:
            os.close(fd)

    def sparse(path):
        with open(path, "r+b") as f:
            f.seek(5 << 20)
            f.write(b"s" * 100)

    def mkdir_filled(base):
        """base (made if missing) and three nested levels, each filled at
        once, before any watch can have been added."""
        os.makedirs(base, exist_ok=True)
        d = base
        for i in range(3):
            d = os.path.join(d, "nest%d" % i)
            os.mkdir(d)
            for j in range(4):
                new_file(os.path.join(d, "f%d" % j), 3000 * j)

    def chmod_cycle(d):
        os.chmod(d, 0)
        new_file(os.path.join(d, "while-000"), 5000)
        os.chmod(d, 0o755)

    return [
        # First, while shard-00 is as the first walk left it.
        ("hard link into another directory of the component", lambda p: link(
            p["db"] + "/shard-00/000001.kv", p["db"] + "/other-dir-link")),
        ("create a file", lambda p: new_file(p["db"] + "/shard-00/new", 9000)),
        ("append", lambda p: append(p["db"] + "/shard-00/new", 70000)),
        ("truncate shorter", lambda p: os.truncate(
            p["db"] + "/shard-00/new", 100)),
        ("truncate longer (a hole)", lambda p: os.truncate(
            p["db"] + "/shard-00/new", 1 << 20)),
        ("sparse write", lambda p: sparse(p["db"] + "/shard-00/new")),
        ("stores through mmap into a hole", lambda p: mmap_fill(
            p["logs"] + "/mapped")),
        ("hard link in the same directory", lambda p: link(
            p["db"] + "/shard-00/000000.kv", p["db"] + "/shard-00/same")),
        ("hard link across components", lambda p: link(
            p["db"] + "/shard-00/000002.kv", p["logs"] + "/across")),
        ("remove the first name of a hard-linked file", lambda p: os.unlink(
            p["db"] + "/shard-00/000001.kv")),
        ("rename a file across directories", lambda p: os.rename(
            p["db"] + "/other-dir-link", p["db"] + "/shard-00/back")),
        ("rename a file across components", lambda p: os.rename(
            p["logs"] + "/across", p["tmp"] + "/moved")),
        ("rename a file into the WAL as a segment", lambda p: os.rename(
            p["tmp"] + "/moved", p["wal"] + "/segment-900000.log")),
        ("new WAL segment", lambda p: new_file(
            p["wal"] + "/segment-900001.log", 65536)),
        ("delete the oldest WAL segment", lambda p: os.unlink(
            p["wal"] + "/segment-000000.log")),
        ("mtime of a segment changes alone", lambda p: os.utime(
            p["wal"] + "/segment-000001.log", (1e9, 1e9))),
        ("new backup set, filled", lambda p: mkdir_filled(
            p["backups"] + "/stemedb-backup-20260102-000000")),
        ("mkdir -p and files before any watch", lambda p: mkdir_filled(
            p["db"])),
        ("rename a directory with its subtree", lambda p: os.rename(
            p["db"] + "/nest0", p["db"] + "/shard-00/nest0-moved")),
        ("rename a directory across components", lambda p: os.rename(
            p["db"] + "/shard-00/nest0-moved", p["logs"] + "/nest0-logs")),
        ("move a directory out of every component", lambda p: os.rename(
            p["logs"] + "/nest0-logs", p["outside"] + "/parked")),
        ("move a directory in from outside", lambda p: os.rename(
            p["outside"] + "/parked", p["tmp"] + "/unparked")),
        ("rm -rf a subtree", lambda p: shutil.rmtree(p["tmp"] + "/unparked")),
        ("drop a backup set", lambda p: shutil.rmtree(
            p["backups"] + "/stemedb-backup-20260102-000000")),
        ("mkdir and rmdir", lambda p: (os.mkdir(p["logs"] + "/empty"),
                                       os.rmdir(p["logs"] + "/empty"))),
        ("chmod 000, a file created inside, chmod back", lambda p:
            chmod_cycle(p["db"] + "/shard-00")),
        ("symlink and FIFO", lambda p: (
            os.symlink("target-" + "x" * 70, p["logs"] + "/link"),
            os.mkfifo(p["logs"] + "/fifo"))),
    ]


class ScenarioTest(unittest.TestCase):

    def test_each_case_exact_without_reconcile(self):
        tmp = w.disk_workdir("e2e-scenarios-")
        self.addCleanup(tmp.cleanup)
        root = os.path.join(tmp.name, "root")
        e2e.make_demo_tree(root)
        paths = {c: os.path.join(root, rel)
                 for c, rel in e2e.DEFAULT_LAYOUT.items()}
        spec = {c: (p, e2e.SEGMENT_PATTERNS.get(c)) for c, p in paths.items()}
        paths["outside"] = os.path.join(root, "outside")
        os.makedirs(paths["outside"])
        config = os.path.join(tmp.name, "stemedb.yaml")
        e2e.write_text(config,
                       e2e.config_yaml(root, interval="6h",
                                       extra=w.scan_extra("watch", "6h")))
        exporter = e2e.Exporter(tmp.name, ["--config", config])
        self.addCleanup(exporter.close)
        failed = []
        for name, change in scenarios():
            with self.subTest(scenario=name):
                change(paths)
                os.sync()
                want = w.truth(spec)
                last = []

                def exact():
                    m = exporter.scrape()
                    last[:] = w.mismatches(m, want) + [
                        "rewalk %r" % (l,) for l, v in m.series(w.REWALKS)
                        if v]
                    return not last
                try:
                    e2e.wait_until(exact, 30, name)
                except e2e.Timeout:
                    failed.append(name)
                    self.fail("%s:\n  %s" % (name, "\n  ".join(last)))
                finally:
                    print("%-55s %s" % (name, "FAILED" if name in failed
                                        else "ok"), file=sys.stderr)
                if name in failed:
                    # Later scenarios compare against a fresh baseline.
                    exporter.close()
                    exporter = e2e.Exporter(tmp.name, ["--config", config],
                                            name="exporter-%d" % len(failed))
                    self.addCleanup(exporter.close)


if __name__ == "__main__":
    e2e.run_main()
