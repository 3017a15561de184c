#!/usr/bin/env python3
"""e2e_hostile_operators: careless operators against the real exporter:
an unreadable root, a storm of SIGHUPs, and a descriptor limit under a very
deep tree.
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
        e2e.write_text(config, e2e.config_yaml(root))
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



def make_wide_tree(path, files, per_dir=1000):
    """`files` empty files in directories of `per_dir`."""
    for d in range((files + per_dir - 1) // per_dir):
        sub = os.path.join(path, "d%04d" % d)
        os.makedirs(sub)
        for i in range(min(per_dir, files - d * per_dir)):
            os.close(os.open(os.path.join(sub, "f%04d" % i),
                             os.O_CREAT | os.O_WRONLY, 0o644))


class SighupStormTest(unittest.TestCase):
    """40 SIGHUPs 0.25 s apart with an unchanged config on a
    200,000-file tree used to cancel every walk (0 applied, /-/ready 503,
    no component series until 3 s after the last one)."""

    FILES = 200000
    SIGNALS = 40

    def test_walks_survive_a_storm_of_unchanged_reloads(self):
        tmp = tempfile.TemporaryDirectory(prefix="e2e-storm-")
        self.addCleanup(tmp.cleanup)
        root = os.path.join(tmp.name, "root")
        e2e.make_demo_tree(root)
        make_wide_tree(os.path.join(root, "data", "db", "many"), self.FILES)
        config = os.path.join(tmp.name, "stemedb.yaml")
        e2e.write_text(config, e2e.config_yaml(root, interval="1s"))
        # Not waiting for readiness: the storm starts with the first walk.
        exporter = e2e.Exporter(tmp.name, ["--config", config],
                                ready_timeout=0)
        self.addCleanup(exporter.close)
        stamps = set()
        ready_during_storm = False
        for _ in range(self.SIGNALS):
            exporter.process.signal(signal.SIGHUP)
            status, _, _ = exporter.get("/-/ready")
            ready_during_storm = ready_during_storm or status == 200
            stamp = exporter.scrape().value(
                "stemedb_disk_last_scan_success_timestamp_seconds",
                component="db")
            if stamp is not None:
                stamps.add(stamp)
            # The storm's own pace, not a wait for anything.
            e2e.time.sleep(0.25)
        m = exporter.scrape()
        self.assertEqual(m.value("stemedb_disk_config_last_reload_successful"),
                         1)
        print("walks applied during %d SIGHUPs: %d (distinct db walk end "
              "times)" % (self.SIGNALS, len(stamps)))
        self.assertTrue(ready_during_storm, "never ready during the storm")
        # Before the fix: 0. One is the line between "every walk thrown
        # away" and "walks applied"; more depends on the machine's load.
        self.assertGreaterEqual(len(stamps), 1, exporter.log()[-2000:])
        self.assertEqual(m.value("stemedb_disk_component_files",
                                 component="db"), self.FILES + 3)
        self.assertIn("config reloaded", exporter.log())



class DeepCombTest(e2e.TmpfsTestCase):
    """A comb-shaped tree 3,000 deep, `threads: 1`, `max_depth:
    4096`, RLIMIT_NOFILE 1024 (prlimit): every directory is counted (find is
    the truth) with scan_success 1; it used to count 4,073 of 12,001 and
    still claim success."""

    DEPTH = 3000
    WORKDIR_PREFIX = "e2e-comb-"

    def test_every_directory_counted_under_fd_limit(self):
        # On a tmpfs: deleting such a tree takes rm(1) 40 s and Python's
        # rmtree a RecursionError; unmounting takes nothing.
        root = os.path.join(self.work, "root")
        self.mount_tmpfs(root, "64m", 50000)
        e2e.make_demo_tree(root, skip=("db",))
        comb = os.path.join(root, "data", "db")
        os.makedirs(comb)
        fd = os.open(comb, os.O_RDONLY | os.O_DIRECTORY)
        for _ in range(self.DEPTH):
            for name in ("a", "b", "c", "s"):
                os.mkdir(name, dir_fd=fd)
            below = os.open("s", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = below
        os.close(fd)
        find = subprocess.run(["find", comb, "-type", "d"], check=True,
                              capture_output=True).stdout
        dirs = find.count(b"\n")
        self.assertEqual(dirs, 1 + 4 * self.DEPTH)
        config = os.path.join(self.work, "stemedb.yaml")
        e2e.write_text(config,
                       e2e.config_yaml(root).replace(
                   "scan:\n", "scan:\n  threads: 1\n  max_depth: 4096\n"))
        r = subprocess.run(["prlimit", "--nofile=1024:1024",
                            e2e.exporter_binary(), "--config", config,
                            "--once"], capture_output=True, text=True,
                           timeout=240)
        self.assertEqual(r.returncode, 0, r.stderr)
        m = e2e.Exposition(r.stdout)
        print("comb %d deep: find %d directories, exporter %d" % (
            self.DEPTH, dirs, m.value("stemedb_disk_component_directories",
                                      component="db")))
        self.assertEqual(m.value("stemedb_disk_component_directories",
                                 component="db"), dirs)
        self.assertEqual(m.value("stemedb_disk_scan_success",
                                 component="db"), 1)
        for reason in e2e.ERROR_REASONS:
            self.assertEqual(m.value("stemedb_disk_scan_errors_total",
                                     component="db", reason=reason), 0,
                             reason)


if __name__ == "__main__":
    e2e.run_main()
