#!/usr/bin/env python3
"""e2e_hostile_names: a tmpfs whose device and mountpoint names are not
UTF-8 keeps the real Prometheus scraping.

The test mounts `tmpfs` with source b"dev\\xffx" at b".../mnt\\xffz" in a
private mount namespace (in_mount_ns.sh); the wal component is a symlink
into it, and the whole layout sits under a root whose own name holds a
Latin-1 byte. Before the fix one such byte made Prometheus drop every series
("invalid UTF-8 label value") and the JSON log lines invalid JSON. Truths:
the real Prometheus (`up` stays 1, the series are queryable), promtool check
metrics, Python's json and UTF-8 decoders, and findmnt's view of the mount.
"""
import json
import os
import subprocess

import e2e_lib as e2e

DEVICE = b"dev\xffx"
ESCAPED_DEVICE = "dev\\xffx"  # what the exporter writes for it


class HostileNamesTest(e2e.TmpfsTestCase):

    WORKDIR_PREFIX = "e2e-names-"

    def setUp(self):
        super().setUp()
        work = os.fsencode(self.work)
        self.mnt = os.path.join(work, b"mnt\xffz")
        os.makedirs(self.mnt)
        subprocess.run([b"mount", b"-t", b"tmpfs", b"-o",
                        b"size=4m,nr_inodes=256", DEVICE, self.mnt],
                       check=True)
        self.addCleanup(subprocess.run, [b"umount", b"-l", self.mnt])
        # Independent truth: the kernel's table has the raw bytes (findmnt
        # would print them escaped).
        with open("/proc/self/mountinfo", "rb") as f:
            ours = [l for l in f.read().split(b"\n")
                    if l.split(b" ")[4:5] == [self.mnt]]
        self.assertEqual(len(ours), 1)
        self.assertEqual(ours[0].split(b" - ")[1].split(b" ")[:2],
                         [b"tmpfs", DEVICE])
        self.root = os.path.join(work, b"root\xe9")  # Latin-1 e-acute
        os.makedirs(os.path.join(self.root, b"data"))
        os.makedirs(os.path.join(self.mnt, b"wal", b"sub\xfe"))
        for i in range(3):
            e2e.write_file(os.fsdecode(os.path.join(
                self.mnt, b"wal", b"segment-%06d.log" % i)), 4096)
        os.symlink(os.path.join(self.mnt, b"wal"),
                   os.path.join(self.root, b"data", b"wal"))
        # logs/ is left missing, so a warning names a non-UTF-8 path.
        e2e.make_demo_tree(os.fsdecode(self.root), skip=("wal", "logs"))
        self.config = os.path.join(self.work, "stemedb.yaml")
        e2e.write_text(self.config, e2e.config_yaml("/", interval="1s"))
        self.escaped_mnt = (self.work + "/mnt\\xffz")

    def test_prometheus_keeps_scraping(self):
        exporter = e2e.Exporter(self.work, [
            "--config", self.config, b"--root", self.root])
        self.addCleanup(exporter.close)
        prom = e2e.Prometheus(self.work, [e2e.scrape_job(
            "127.0.0.1:%d" % exporter.port)])
        self.addCleanup(prom.close)

        def scraped():
            up = prom.query('up{job="stemedb_disk"}')
            size = prom.query('stemedb_disk_filesystem_size_bytes'
                              '{device="%s"}' % ESCAPED_DEVICE.replace(
                                  "\\", "\\\\"))
            return up and up[0]["value"][1] == "1" and size
        size = e2e.wait_until(scraped, 60, "up == 1 and the tmpfs series "
                              "in Prometheus")
        self.assertEqual(size[0]["metric"]["mountpoint"], self.escaped_mnt)
        self.assertEqual(float(size[0]["value"][1]), 4 * 1024 * 1024)
        # Every component's series made it, not only the tmpfs one (logs is
        # missing: present 0).
        present = {r["metric"]["component"]: r["value"][1] for r in
                   prom.query("stemedb_disk_component_present")}
        self.assertEqual(present, {"wal": "1", "db": "1", "backups": "1",
                                   "tmp": "1", "logs": "0"})
        wal = prom.query('stemedb_disk_component_files{component="wal"}')
        self.assertEqual(wal[0]["value"][1], "3")
        targets = prom.api("/api/v1/targets")["activeTargets"]
        self.assertEqual([t["health"] for t in targets], ["up"],
                         [t.get("lastError") for t in targets])

        status, body, _ = exporter.get("/metrics")  # decodes as UTF-8
        self.assertEqual(status, 200)
        r = subprocess.run([e2e.require_tool("promtool"), "check", "metrics"],
                           input=body, capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        m = e2e.Exposition(body)
        self.assertGreater(m.value("stemedb_disk_invalid_utf8_total"), 0)
        # The join a dashboard uses carries the same repaired names.
        info = m.series("stemedb_disk_component_filesystem_info",
                        component="wal")
        self.assertEqual(info[0][0]["mountpoint"], self.escaped_mnt)
        self.assertEqual(info[0][0]["device"], ESCAPED_DEVICE)

    def test_json_log_stays_json(self):
        r = subprocess.run([e2e.exporter_binary(), "--config", self.config,
                            b"--root", self.root, "--once",
                            "--log.format", "json"],
                           capture_output=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stderr.decode("utf-8").splitlines()  # raises if not UTF-8
        records = [json.loads(line) for line in lines]
        missing = [rec for rec in records
                   if rec["msg"].startswith("component directory is missing")]
        self.assertEqual(len(missing), 1, lines)
        self.assertEqual(missing[0]["path"],
                         self.work + "/root\\xe9/logs")
        # --once prints the exposition: it is valid UTF-8 and promtool-clean.
        text = r.stdout.decode("utf-8")
        self.assertIn('mountpoint="%s"' % self.escaped_mnt.replace(
            "\\", "\\\\"), text)
        check = subprocess.run([e2e.require_tool("promtool"), "check",
                                "metrics"], input=text, capture_output=True,
                               text=True)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)


if __name__ == "__main__":
    e2e.run_main()
