#!/usr/bin/env python3
"""The scanner against make-tree.py's truth and du, on a generated tree.

Builds a tree with `make-tree.py ROOT --files N --truth`, scans its five
components with scanner_dump, and requires every number of the truth to match
exactly, allocated bytes to equal `du -s --block-size=1` and apparent bytes
`du -s -b` per component, and the backup sets' segment figures to match what
this script computes itself. Exits non-zero with a list of every mismatch.
"""
import argparse
import fnmatch
import json
import os
import shutil
import subprocess
import sys
import tempfile

COMPONENTS = [  # name, path under ROOT, segment pattern (the default layout)
    ("wal", "data/wal", "*.log"),
    ("db", "data/db", ""),
    ("backups", "backups", "stemedb-backup-*"),
    ("logs", "logs", ""),
    ("tmp", "data/tmp", ""),
]


def du(path, *flags):
    out = subprocess.run(["du", "-s", *flags, path], check=True,
                         capture_output=True, text=True).stdout
    return int(out.split()[0])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--make-tree", required=True)
    p.add_argument("--scanner-dump", required=True)
    p.add_argument("--files", type=int, default=20000)
    a = p.parse_args()

    work = tempfile.mkdtemp(prefix="stemedb-truth-")
    try:
        root = os.path.join(work, "tree")
        truth = json.loads(subprocess.run(
            [sys.executable, a.make_tree, root, "--files", str(a.files),
             "--truth"], check=True, capture_output=True, text=True).stdout)
        args = [a.scanner_dump]
        for name, rel, pattern in COMPONENTS:
            spec = "%s=%s" % (name, os.path.join(root, rel))
            args.append(spec + ("=" + pattern if pattern else ""))
        got = json.loads(subprocess.run(args, check=True, capture_output=True,
                                        text=True).stdout)["components"]

        failures = []
        checks = 0

        def expect(what, actual, expected):
            nonlocal checks
            checks += 1
            if actual != expected:
                failures.append("%s: scanner %r, expected %r"
                                % (what, actual, expected))

        for name, rel, pattern in COMPONENTS:
            path = os.path.join(root, rel)
            g, t = got[name], truth[name]
            expect(name + " present", g["present"], True)
            expect(name + " complete", g["complete"], True)
            expect(name + " errors", sum(g["errors"].values()), 0)
            expect(name + " apparent_bytes", g["apparent_bytes"],
                   t["apparent_bytes"])
            expect(name + " allocated_bytes", g["allocated_bytes"],
                   t["allocated_bytes"])
            expect(name + " files", g["files"], t["files"])
            expect(name + " dirs", g["directories"], t["dirs"])
            expect(name + " allocated vs du --block-size=1",
                   g["allocated_bytes"], du(path, "--block-size=1"))
            expect(name + " apparent vs du -b", g["apparent_bytes"],
                   du(path, "-b"))

        wal = got["wal"]["segments"]
        expect("wal segments", wal["count"], truth["wal"]["segments"])
        expect("wal oldest_segment_mtime", int(wal["oldest_mtime"]),
               truth["wal"]["oldest_segment_mtime"])

        # Backup sets: directories matching the pattern, whole subtrees.
        bk = os.path.join(root, "backups")
        sets = [e for e in os.scandir(bk)
                if fnmatch.fnmatch(e.name, "stemedb-backup-*")
                and e.is_dir(follow_symlinks=False)]
        b = got["backups"]["segments"]
        expect("backups segments", b["count"], len(sets))
        expect("backups segment_allocated_bytes vs du", b["allocated_bytes"],
               sum(du(e.path, "--block-size=1") for e in sets))
        mtimes = [e.stat(follow_symlinks=False).st_mtime for e in sets]
        expect("backups oldest", int(b["oldest_mtime"]), int(min(mtimes)))
        expect("backups newest", int(b["newest_mtime"]), int(max(mtimes)))

        for f in failures:
            print("MISMATCH " + f)
        print("%d checks, %d mismatches (%d files)"
              % (checks, len(failures), a.files))
        return 1 if failures else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
