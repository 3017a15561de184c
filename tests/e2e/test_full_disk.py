#!/usr/bin/env python3
"""e2e_full_disk: a real full filesystem, first out of blocks, then inodes.

The demo tree's data/ is a tmpfs (size=2m, nr_inodes=64) the test mounts in
a private mount namespace (run through in_mount_ns.sh); backups/ and logs/
stay on the disk holding the temporary directory. The test fills the tmpfs
until write(2) fails with ENOSPC, then creates empty files until the inodes
run out, and checks the exporter against os.statvfs and findmnt while it
keeps serving.
"""
import os
import sys

import e2e_lib as e2e

TMPFS_SIZE = 2 * 1024 * 1024
TMPFS_INODES = 64
ON_TMPFS = ("wal", "db", "tmp")
ON_DISK = ("backups", "logs")


class FullDiskTest(e2e.TmpfsTestCase):

    WORKDIR_PREFIX = "e2e-full-"

    def setUp(self):
        super().setUp()
        work = self.work
        self.root = os.path.join(work, "root")
        self.data = os.path.join(self.root, "data")
        self.mount_tmpfs(self.data, "2m", TMPFS_INODES)
        for rel in ("data/wal", "data/db", "data/tmp"):
            os.makedirs(os.path.join(self.root, rel))
        e2e.make_demo_tree(self.root, skip=ON_TMPFS)
        config = os.path.join(work, "stemedb.yaml")
        e2e.write_text(config, e2e.config_yaml(self.root, interval="1s"))
        self.exporter = self.start_exporter(["--config", config])
        self.tmpfs_mp = e2e.mountpoint_of(self.data)
        self.disk_mp = e2e.mountpoint_of(self.root)
        self.assertEqual(self.tmpfs_mp, self.data)
        self.assertNotEqual(self.tmpfs_mp, self.disk_mp)

    def scrape_serving(self):
        """One scrape, after checking the exporter still answers /-/ready."""
        status, body, _ = self.exporter.get("/-/ready")
        self.assertEqual(status, 200, body)
        return self.exporter.scrape()

    def wait_metric(self, name, want, what, **labels):
        def check():
            return self.scrape_serving().value(name, **labels) == want
        e2e.wait_until(check, 30, what)
        return self.scrape_serving()

    def test_blocks_then_inodes_run_out(self):
        m = self.scrape_serving()
        # Two filesystems, deduplicated: one series each, whatever the
        # number of components on them.
        sizes = m.series("stemedb_disk_filesystem_size_bytes")
        self.assertEqual(sorted(l["mountpoint"] for l, _ in sizes),
                         sorted([self.tmpfs_mp, self.disk_mp]))
        joins = {l["component"]: l["mountpoint"] for l, _ in
                 m.series("stemedb_disk_component_filesystem_info")}
        self.assertEqual(joins, dict(
            [(c, self.tmpfs_mp) for c in ON_TMPFS] +
            [(c, self.disk_mp) for c in ON_DISK]))
        self.assertEqual(len(set(joins.values())), 2)
        tmpfs_labels = [l for l, _ in sizes
                        if l["mountpoint"] == self.tmpfs_mp][0]
        self.assertEqual(tmpfs_labels["fstype"], "tmpfs")

        # Out of blocks.
        wal_file = os.path.join(self.root, "data/wal/segment-000001.log")
        written = e2e.fill_until_enospc(wal_file)
        self.assertGreater(written, 0)
        st = os.statvfs(self.data)
        self.assertEqual(st.f_bavail, 0, "the tmpfs is not full after ENOSPC")
        m = self.wait_metric("stemedb_disk_filesystem_avail_bytes", 0,
                             "avail_bytes 0 on the full tmpfs",
                             mountpoint=self.tmpfs_mp)
        self.assertEqual(m.value("stemedb_disk_filesystem_size_bytes",
                                 mountpoint=self.tmpfs_mp),
                         st.f_blocks * st.f_frsize)
        self.assertEqual(st.f_blocks * st.f_frsize, TMPFS_SIZE)
        self.assertEqual(m.value("stemedb_disk_filesystem_free_bytes",
                                 mountpoint=self.tmpfs_mp), 0)
        self.assertEqual(m.value("stemedb_disk_filesystem_files",
                                 mountpoint=self.tmpfs_mp), st.f_files)
        self.assertEqual(st.f_files, TMPFS_INODES)
        # The disk beside it is not full.
        self.assertGreater(m.value("stemedb_disk_filesystem_avail_bytes",
                                   mountpoint=self.disk_mp), 0)
        # The walk of the full filesystem succeeds and sees the fill file.
        m = self.wait_metric("stemedb_disk_component_files", 1,
                             "wal files == 1", component="wal")
        self.assertEqual(m.value("stemedb_disk_segments", component="wal"), 1)
        self.assertGreaterEqual(
            m.value("stemedb_disk_component_apparent_bytes", component="wal"),
            written)

        # Out of inodes: empty files (no blocks needed) until ENOSPC.
        created = e2e.fill_inodes_until_enospc(
            os.path.join(self.root, "data/tmp"), "op-%06d.tmp", TMPFS_INODES)
        self.assertGreater(created, 0)
        st = os.statvfs(self.data)
        self.assertEqual(st.f_ffree, 0)
        m = self.wait_metric("stemedb_disk_filesystem_files_free", 0,
                             "files_free 0 on the tmpfs",
                             mountpoint=self.tmpfs_mp)
        self.assertEqual(m.value("stemedb_disk_filesystem_files",
                                 mountpoint=self.tmpfs_mp), TMPFS_INODES)
        m = self.wait_metric("stemedb_disk_component_files", created,
                             "tmp files == %d" % created, component="tmp")
        for comp in e2e.COMPONENTS:
            with self.subTest(component=comp):
                self.assertEqual(m.value("stemedb_disk_scan_success",
                                         component=comp), 1)
                self.assertEqual(m.value("stemedb_disk_component_present",
                                         component=comp), 1)
                for reason in e2e.ERROR_REASONS:
                    self.assertEqual(m.value("stemedb_disk_scan_errors_total",
                                             component=comp, reason=reason),
                                     0, reason)
        self.assertEqual(m.value("stemedb_disk_component_files",
                                 component="wal"), 1)
        self.assertEqual(m.value("stemedb_disk_filesystem_avail_bytes",
                                 mountpoint=self.tmpfs_mp), 0)
        status, _, _ = self.exporter.get("/-/healthy")
        self.assertEqual(status, 200)
        self.assertTrue(self.exporter.process.alive())


if __name__ == "__main__":
    e2e.run_main()
