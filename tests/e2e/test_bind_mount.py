#!/usr/bin/env python3
"""e2e_bind_mount: one filesystem seen through its own mount and through a
bind mount of a part of it is one series, named by its own mount; and
read-only means the filesystem, not the view.

data/ is a tmpfs, seen through a read-only view; backups/ is a read-only
bind mount of data/bk (same device). The bind mount's path sorts before data/, so a "smallest
mountpoint" rule would send an operator to backups/ for a full WAL; and a
read-only view (systemd's ProtectSystem, a Kubernetes readOnly volume) of a
writable disk must not switch its alerts off. logs/ is a tmpfs mounted
read-only itself. Truth: findmnt and the mount options the test chose.
"""
import os

import e2e_lib as e2e


class BindMountTest(e2e.TmpfsTestCase):

    WORKDIR_PREFIX = "e2e-bind-"

    def test_filesystem_is_named_by_its_own_mount(self):
        root = os.path.join(self.work, "root")
        data = os.path.join(root, "data")
        backups = os.path.join(root, "backups")
        self.mount_tmpfs(data, "4m", 256)
        os.makedirs(os.path.join(data, "bk"))
        os.makedirs(backups)
        e2e.subprocess.run(["mount", "--bind", os.path.join(data, "bk"),
                            backups], check=True)
        self.addCleanup(e2e.umount, backups)
        e2e.subprocess.run(["mount", "-o", "remount,bind,ro", backups],
                           check=True)
        logs = os.path.join(root, "logs")
        self.mount_tmpfs(logs, "1m", 64)
        e2e.make_demo_tree(root, skip=("backups", "logs"))
        e2e.write_file(os.path.join(data, "bk",
                                    "stemedb-backup-20260101-000000", "a.kv"),
                       100)
        e2e.write_file(os.path.join(logs, "stemedb-api.log"), 100)
        e2e.subprocess.run(["mount", "-o", "remount,ro", logs], check=True)
        # The exporter's whole view of data/ read-only, as under systemd's
        # ProtectSystem=strict: the filesystem underneath stays writable.
        e2e.subprocess.run(["mount", "-o", "remount,bind,ro", data],
                           check=True)
        for view in (backups, data):  # the views really are read-only
            with self.assertRaises(OSError):
                open(os.path.join(view, "x"), "w").close()
        # Independent truth: findmnt sees two mount points of one source.
        self.assertEqual(e2e.mountpoint_of(backups), backups)
        self.assertEqual(e2e.mountpoint_of(os.path.join(data, "wal")), data)
        self.assertEqual(os.stat(backups).st_dev, os.stat(data).st_dev)

        config = os.path.join(self.work, "stemedb.yaml")
        e2e.write_text(config, e2e.config_yaml(root))
        exporter = self.start_exporter(["--config", config])

        def measured():
            # The walks and the first capacity pass run apart; wait for
            # both before judging what either found.
            m = exporter.scrape()
            joins = m.series("stemedb_disk_component_filesystem_info")
            sizes = m.series("stemedb_disk_filesystem_size_bytes")
            return len(joins) == 5 and sizes and m
        m = e2e.wait_until(measured, 60, "the components and filesystems")
        tmpfs = [l for l, _ in m.series("stemedb_disk_filesystem_size_bytes")
                 if l["fstype"] == "tmpfs"]
        self.assertEqual(sorted(l["mountpoint"] for l in tmpfs),
                         sorted([data, logs]))
        ro = {l["mountpoint"]: v for l, v in
              m.series("stemedb_disk_filesystem_readonly")}
        self.assertEqual(ro[data], 0)  # writable, though seen read-only too
        self.assertEqual(ro[logs], 1)  # read-only itself
        joins = {l["component"]: l["mountpoint"] for l, _ in
                 m.series("stemedb_disk_component_filesystem_info")}
        for component in ("wal", "db", "tmp", "backups"):
            self.assertEqual(joins[component], data, component)
        self.assertEqual(joins["logs"], logs)


if __name__ == "__main__":
    e2e.run_main()
