#!/usr/bin/env python3
"""e2e_bind_mount: one filesystem seen through its own mount and through a
bind mount of a part of it is one series, named by its own mount.

data/ is a tmpfs; backups/ is a bind mount of data/bk (same device). The
bind mount's path sorts before data/, so a "smallest mountpoint" rule would
send an operator to backups/ for a full WAL. Truth: findmnt.
"""
import os
import tempfile
import unittest

import e2e_lib as e2e


class BindMountTest(unittest.TestCase):

    def test_filesystem_is_named_by_its_own_mount(self):
        if not e2e.in_mount_namespace():
            self.fail("run through tests/e2e/in_mount_ns.sh")
        tmp = tempfile.TemporaryDirectory(prefix="e2e-bind-")
        self.addCleanup(tmp.cleanup)
        root = os.path.join(tmp.name, "root")
        data = os.path.join(root, "data")
        backups = os.path.join(root, "backups")
        e2e.mount_tmpfs(data, "4m", 256)
        self.addCleanup(e2e.umount, data)
        os.makedirs(os.path.join(data, "bk"))
        os.makedirs(backups)
        e2e.subprocess.run(["mount", "--bind", os.path.join(data, "bk"),
                            backups], check=True)
        self.addCleanup(e2e.umount, backups)
        e2e.make_demo_tree(root)
        # Independent truth: findmnt sees two mount points of one source.
        self.assertEqual(e2e.mountpoint_of(backups), backups)
        self.assertEqual(e2e.mountpoint_of(os.path.join(data, "wal")), data)
        self.assertEqual(os.stat(backups).st_dev, os.stat(data).st_dev)

        config = os.path.join(tmp.name, "stemedb.yaml")
        with open(config, "w") as f:
            f.write(e2e.config_yaml(root))
        exporter = e2e.Exporter(tmp.name, ["--config", config])
        self.addCleanup(exporter.close)
        m = exporter.scrape()
        tmpfs = [l for l, _ in m.series("stemedb_disk_filesystem_size_bytes")
                 if l["fstype"] == "tmpfs"]
        self.assertEqual([l["mountpoint"] for l in tmpfs], [data])
        joins = {l["component"]: l["mountpoint"] for l, _ in
                 m.series("stemedb_disk_component_filesystem_info")}
        for component in ("wal", "db", "tmp", "backups"):
            self.assertEqual(joins[component], data, component)


if __name__ == "__main__":
    e2e.run_main()
