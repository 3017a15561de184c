#!/usr/bin/env python3
"""Creates a small StemeDB data layout for the demo: the runbook's layout
(data/wal segments, data/db shards, backups sets, logs, data/tmp) with real
content and mtimes spread over two weeks, so every metric has a value.

Usage: demo-tree.py ROOT   (does nothing if ROOT already holds a layout)
"""
import os
import sys
import time

DAY = 86400


def write(path, size, mtime):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(os.urandom(size))
    os.utime(path, (mtime, mtime))


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    root = sys.argv[1]
    if os.path.isdir(os.path.join(root, "data", "wal")):
        return
    now = int(time.time())
    # 120 WAL segments over 10 days: over the runbook's 100-segment cap and
    # 7-day retention, so the WAL alerts have something to say.
    for i in range(120):
        write(os.path.join(root, "data/wal/segment-%06d.log" % i), 64 * 1024,
              now - 10 * DAY + i * (10 * DAY // 120))
    for shard in range(4):
        for i in range(50):
            write(os.path.join(root, "data/db/shard-%02d/%06d.kv" % (shard, i)),
                  16 * 1024 + i * 97, now - (i % 14) * DAY)
    for b in range(3):
        when = now - (b + 1) * DAY
        d = os.path.join(root, "backups",
                         time.strftime("stemedb-backup-%Y%m%d-%H%M%S",
                                       time.gmtime(when)))
        for i in range(20):
            write(os.path.join(d, "%06d.kv" % i), 8 * 1024, when)
        os.utime(d, (when, when))
    for i in range(5):
        name = "stemedb-api.log" + ("" if i == 0 else ".%d" % i)
        write(os.path.join(root, "logs", name), 32 * 1024, now - i * DAY)
    for i in range(30):
        write(os.path.join(root, "data/tmp/op-%06d.tmp" % i), i * 10, now - i * 3600)


if __name__ == "__main__":
    main()
