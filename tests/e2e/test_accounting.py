#!/usr/bin/env python3
"""e2e_accounting: every byte accounted for, and incomplete never silent.

- A 0700 directory walked by an unprivileged exporter (walk and watch
  mode): stemedb_disk_scan_unaccounted_entries names the component and the
  reason, the log and `diagnose` name the directory, `diagnose` warns.
- A file outside every component on the same tmpfs shows in
  stemedb_disk_filesystem_other_bytes, equal to df's used minus du of the
  components.
- A process holding a deleted 50 MiB file open on a tmpfs:
  stemedb_disk_filesystem_deleted_open_bytes is at least 50 MiB while it is
  open and 0 once closed; `diagnose` as root names the pid; an unprivileged
  exporter reports the bytes as unknown (absent, scan_success 0).
"""
import json
import os
import subprocess
import sys
import unittest

import e2e_lib as e2e
import watch_lib as w

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
MIB = 1024 * 1024
UNACCOUNTED = "stemedb_disk_scan_unaccounted_entries"
OTHER = "stemedb_disk_filesystem_other_bytes"
DELETED = "stemedb_disk_filesystem_deleted_open_bytes"


def require_root(test):
    if os.geteuid() != 0:
        test.fail("needs root: it drops to uid 65534 and mounts a tmpfs")


class AccountingCase(e2e.TmpfsTestCase):
    WORKDIR_PREFIX = "e2e-accounting-"

    def layout(self, mode="walk"):
        """A tmpfs at work/mnt holding the demo tree; returns the config."""
        require_root(self)
        os.chmod(self.work, 0o755)
        self.mnt = os.path.join(self.work, "mnt")
        self.mount_tmpfs(self.mnt, "200m", 10000)
        os.chmod(self.mnt, 0o755)
        self.root = os.path.join(self.mnt, "root")
        e2e.make_demo_tree(self.root)
        config = os.path.join(self.work, "stemedb.yaml")
        return e2e.write_text(config, e2e.config_yaml(
            self.root, extra=w.scan_extra(mode)))

    def diagnose(self, args, user=()):
        r = subprocess.run(list(user) + [e2e.exporter_binary(), "diagnose",
                                         "--format", "json"] + list(args),
                           capture_output=True, text=True, timeout=120)
        return r.returncode, json.loads(r.stdout), r.stderr


class UnaccountedTest(AccountingCase):

    def check(self, mode):
        config = self.layout(mode)
        private = os.path.join(self.root, "data/db/private")
        e2e.write_file(os.path.join(private, "big.kv"), 20 * MIB)
        os.chmod(private, 0o700)
        # The truth, as the exporter's user: the directory cannot be listed.
        probe = subprocess.run(NOBODY + ["ls", private], capture_output=True,
                               text=True)
        self.assertIn("Permission denied", probe.stderr)
        exporter = self.start_exporter(["--config", config], wrapper=NOBODY)

        def named():
            m = exporter.scrape()
            v = m.value(UNACCOUNTED, component="db", reason="permission")
            return m if v is not None and v >= 1 else None
        m = e2e.wait_until(named, 60, "db's unaccounted permission entry")
        self.assertEqual(m.value(UNACCOUNTED, component="db",
                                 reason="permission"), 1)
        for comp in ("wal", "backups", "logs", "tmp"):
            for reason in ("permission", "loop", "timeout", "other"):
                self.assertEqual(m.value(UNACCOUNTED, component=comp,
                                         reason=reason), 0, (comp, reason))
        self.assertIsNone(m.value(UNACCOUNTED, component="db",
                                  reason="vanished"))
        self.assertIn(private, exporter.log())
        rc, report, _ = self.diagnose(["--from", exporter.url])
        self.assertIn(rc, (1, 2))
        db = [c for c in report["components"] if c["name"] == "db"][0]
        self.assertFalse(db["complete"])
        self.assertEqual(db["unaccounted_paths"], [private])
        self.assertTrue(any(f["alert"] == "StemeDBDiskScanIncomplete" and
                            private in f["detail"]
                            for f in report["findings"]), report["findings"])
        rc, report, _ = self.diagnose(["--config", config], user=NOBODY)
        self.assertIn(rc, (1, 2))
        db = [c for c in report["components"] if c["name"] == "db"][0]
        self.assertFalse(db["complete"])
        self.assertIn(private, db["unaccounted_paths"])
        text = subprocess.run(
            NOBODY + [e2e.exporter_binary(), "diagnose", "--config", config],
            capture_output=True, text=True, timeout=120).stdout
        self.assertIn(private, text)
        self.assertIn("WARNING", text)

    def test_walk_mode(self):
        self.check("walk")

    def test_watch_mode(self):
        self.check("watch")


class OtherBytesTest(AccountingCase):

    def test_file_outside_the_components_is_other_bytes(self):
        config = self.layout()
        e2e.write_file(os.path.join(self.mnt, "elsewhere/other.bin"),
                       3 * MIB)
        r = subprocess.run([e2e.exporter_binary(), "--config", config,
                            "--once"], capture_output=True, text=True,
                           timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        m = e2e.Exposition(r.stdout)
        df_used = int(subprocess.run(
            ["df", "-B1", "--output=used", self.mnt], check=True,
            capture_output=True, text=True).stdout.split()[-1])
        du = 0
        for rel in e2e.DEFAULT_LAYOUT.values():
            du += int(subprocess.run(
                ["du", "-s", "-B1", os.path.join(self.root, rel)], check=True,
                capture_output=True, text=True).stdout.split()[0])
        other = m.value(OTHER, mountpoint=self.mnt)
        print("df used %d, du of the components %d, other_bytes %s" %
              (df_used, du, other))
        self.assertEqual(other, df_used - du)
        self.assertGreaterEqual(other, 3 * MIB)
        self.assertEqual(m.value("stemedb_disk_filesystem_accounted_bytes",
                                 mountpoint=self.mnt, part="components"), du)
        self.assertEqual(m.value("stemedb_disk_filesystem_accounted_bytes",
                                 mountpoint=self.mnt, part="cleanup_roots"), 0)


HOLDER = r"""
import os, sys
path = sys.argv[1]
fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
chunk = b"x" * (1024 * 1024)
for _ in range(50):
    os.write(fd, chunk)
os.unlink(path)
print("held", flush=True)
sys.stdin.read()  # until the test closes our stdin
os.close(fd)
"""


HOLDER_IN_NS = r"""
import os, sys
path, pidfile, fifo = sys.argv[1:4]
fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
chunk = b"x" * (1024 * 1024)
for _ in range(50):
    os.write(fd, chunk)
os.unlink(path)
with open(pidfile + ".new", "w") as f:
    f.write(str(os.getpid()))
os.rename(pidfile + ".new", pidfile)
with open(fifo) as f:
    f.read()  # until the test closes its end
os.close(fd)
"""


class DeletedOpenTest(AccountingCase):

    def hold(self):
        """A process holding a deleted 50 MiB file on the tmpfs."""
        p = subprocess.Popen([sys.executable, "-c", HOLDER,
                              os.path.join(self.mnt, "held.bin")],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True)
        self.addCleanup(p.wait)
        self.addCleanup(p.stdin.close)
        self.addCleanup(p.stdout.close)
        self.assertEqual(p.stdout.readline().strip(), "held")
        return p

    def test_held_then_closed(self):
        """In a pid namespace of its own (root cannot read every process of
        every machine, e.g. a container's init, and unknown must not read
        as 0): the exporter is its init and the holder its only other
        process."""
        config = self.layout()
        pidfile = os.path.join(self.work, "holder.pid")
        fifo = os.path.join(self.work, "holder.fifo")
        os.mkfifo(fifo)
        script = ('%s -c "$HOLDER_SCRIPT" "$HOLDER_FILE" "$HOLDER_PIDFILE" '
                  '"$HOLDER_FIFO" & exec "$@"' % sys.executable)
        env = {"HOLDER_SCRIPT": HOLDER_IN_NS,
               "HOLDER_FILE": os.path.join(self.mnt, "held.bin"),
               "HOLDER_PIDFILE": pidfile, "HOLDER_FIFO": fifo}
        for k, v in env.items():
            os.environ[k] = v
            self.addCleanup(os.environ.pop, k)
        exporter = self.start_exporter(
            ["--config", config],
            wrapper=["unshare", "--pid", "--fork", "--kill-child",
                     "--mount-proc", "sh", "-c", script, "sh"])
        def holder_pid():
            if not os.path.exists(pidfile):
                return None
            with open(pidfile) as f:
                return f.read()
        pid = int(e2e.wait_until(holder_pid, 60, "the holder's pid"))
        release = open(fifo, "w")  # the holder keeps the file until EOF
        self.addCleanup(release.close)

        def deleted(pred):
            def probe():
                v = exporter.scrape().value(DELETED, mountpoint=self.mnt)
                return [v] if v is not None and pred(v) else None
            return probe
        [held] = e2e.wait_until(deleted(lambda v: v >= 50 * MIB), 60,
                                "50 MiB deleted-but-open bytes")
        print("deleted_open_bytes while held: %d" % held)
        rc, report, _ = self.diagnose(["--from", exporter.url])
        pids = [h["pid"] for h in report["deleted_open"]["holders"]]
        self.assertIn(pid, pids)
        text = subprocess.run(
            [e2e.exporter_binary(), "diagnose", "--from", exporter.url],
            capture_output=True, text=True, timeout=120).stdout
        self.assertIn("pid %d" % pid, text)
        self.assertIn("restart", text)
        release.close()
        e2e.wait_until(deleted(lambda v: v == 0), 60,
                       "deleted-but-open bytes back to 0")

    def test_unprivileged_says_unknown(self):
        config = self.layout()
        self.hold()
        r = subprocess.run(NOBODY + [e2e.exporter_binary(), "--config",
                                     config, "--once"],
                           capture_output=True, text=True, timeout=120)
        m = e2e.Exposition(r.stdout)
        self.assertIsNone(m.value(DELETED, mountpoint=self.mnt))
        self.assertEqual(m.value("stemedb_disk_deleted_open_scan_success"), 0)
        self.assertGreater(
            m.value("stemedb_disk_deleted_open_unreadable_processes"), 0)
        rc, report, _ = self.diagnose(["--config", config], user=NOBODY)
        self.assertGreater(report["deleted_open"]["unreadable_processes"], 0)
        self.assertTrue(any("could not be read" in n
                            for n in report["notes"]), report["notes"])


if __name__ == "__main__":
    e2e.run_main()
