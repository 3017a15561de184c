#!/usr/bin/env python3
"""e2e_hostile_operators: careless operators against the real exporter
(issue 7): an unreadable root (item 9), a storm of SIGHUPs (item 7), and a
descriptor limit under a very deep tree (item 5).
"""
import os
import shutil
import signal
import subprocess
import tempfile
import unittest

import e2e_lib as e2e

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


class UnreadableRootTest(unittest.TestCase):

    def test_chmod_000_root_is_a_permission_error(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to run the exporter as uid 65534")
        tmp = tempfile.TemporaryDirectory(prefix="e2e-unreadable-")
        self.addCleanup(tmp.cleanup)
        os.chmod(tmp.name, 0o755)
        root = os.path.join(tmp.name, "root")
        e2e.make_demo_tree(root)
        config = os.path.join(tmp.name, "stemedb.yaml")
        with open(config, "w") as f:
            f.write(e2e.config_yaml(root))
        os.chmod(root, 0)
        self.addCleanup(os.chmod, root, 0o755)
        # The truth, as the same user: the components cannot be looked at.
        probe = subprocess.run(NOBODY + ["stat", os.path.join(root, "data")],
                               capture_output=True, text=True)
        self.assertNotEqual(probe.returncode, 0)
        self.assertIn("Permission denied", probe.stderr)

        r = subprocess.run(NOBODY + [e2e.exporter_binary(), "--config",
                                     config, "--once"],
                           capture_output=True, text=True, timeout=120)
        m = e2e.Exposition(r.stdout)
        for comp in e2e.COMPONENTS:
            with self.subTest(component=comp):
                self.assertEqual(m.value("stemedb_disk_scan_success",
                                         component=comp), 0)
                self.assertEqual(m.value("stemedb_disk_scan_errors_total",
                                         component=comp,
                                         reason="permission"), 1)
                # Unknown is not "absent": no present 0 claim.
                self.assertNotEqual(m.value(
                    "stemedb_disk_component_present", component=comp), 1)
        self.assertIn("cannot be reached", r.stderr)
        self.assertNotIn("missing or not a directory", r.stderr)


if __name__ == "__main__":
    e2e.run_main()
