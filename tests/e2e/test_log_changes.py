#!/usr/bin/env python3
"""e2e_log_changes: a missing component is logged when it goes missing and
when it comes back, not on every walk.

The exporter walks every second; the test counts walks by the changes of
stemedb_disk_last_scan_success_timestamp_seconds of a component that is
always there, and compares the log after several walks.
"""
import os
import shutil

import e2e_lib as e2e

MISSING = "component directory is missing"
BACK = "component directory is back"


class LogChangesTest(e2e.WorkdirTestCase):

    WORKDIR_PREFIX = "e2e-logchanges-"

    def setUp(self):
        super().setUp()
        work = self.work
        self.root = os.path.join(work, "root")
        e2e.make_demo_tree(self.root, skip=("logs",))
        self.logs = os.path.join(self.root, "logs")
        shutil.rmtree(self.logs, ignore_errors=True)
        config = os.path.join(work, "stemedb.yaml")
        e2e.write_text(config, e2e.config_yaml(self.root, interval="1s"))
        self.exporter = self.start_exporter(["--config", config])

    def walk_stamp(self):
        return self.exporter.scrape().value(
            "stemedb_disk_last_scan_success_timestamp_seconds",
            component="db")

    def wait_walks(self, n):
        """Returns after `n` more walks have finished."""
        for _ in range(n):
            before = self.walk_stamp()
            e2e.wait_until(lambda: self.walk_stamp() != before, 60,
                           "another walk")

    def present(self):
        return self.exporter.scrape().value(
            "stemedb_disk_component_present", component="logs")

    def count(self, text):
        return self.exporter.log().count(text)

    def test_missing_and_back_are_logged_once_each(self):
        self.wait_walks(4)
        self.assertEqual(self.present(), 0)
        self.assertEqual(self.count(MISSING), 1, self.exporter.log())
        self.assertEqual(self.count(BACK), 0)

        os.makedirs(self.logs)
        e2e.wait_until(lambda: self.present() == 1, 60, "logs present")
        self.wait_walks(3)
        self.assertEqual(self.count(MISSING), 1, self.exporter.log())
        self.assertEqual(self.count(BACK), 1, self.exporter.log())

        os.rmdir(self.logs)
        e2e.wait_until(lambda: self.present() == 0, 60, "logs missing")
        self.wait_walks(3)
        self.assertEqual(self.count(MISSING), 2, self.exporter.log())
        self.assertEqual(self.count(BACK), 1, self.exporter.log())


if __name__ == "__main__":
    e2e.run_main()
