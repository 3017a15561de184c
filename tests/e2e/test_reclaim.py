#!/usr/bin/env python3
"""e2e_reclaim: what the runbook's cleanup steps would free, end to end.

1. Accuracy: a tree the test writes with known sizes and ages (os.utime):
   every cleanup rule's stemedb_disk_reclaimable_bytes and _entries, as the
   real exporter serves them, equal what `find ... -mmin +N` lists and `du`
   reports for that list; the oldest timestamp is find's oldest mtime. The
   rule directories outside the components (a journal and a core dump
   directory) are walked too, and are not components.
2. Time alone: a WAL segment 20 s short of its 7 days, no file event and
   no walk (scan.interval 1h): not counted by the first scrape, it moves
   into the count when it turns old (every scan mode at once).
3. The page: the real Prometheus, scraping the real exporter and evaluating
   stemedb_rulegen's rules, fires StemeDBDiskSpaceCritical on a small tmpfs
   whose description (read from /api/v1/alerts) states the reclaimable
   bytes of that instance, and they are du's.

The tree sits on tmpfs mounts of its own (in a private mount namespace:
run through in_mount_ns.sh).
"""
import math
import os
import subprocess
import time

import e2e_lib as e2e
import watch_lib as w

DAY = 86400
CRITICAL = "StemeDBDiskSpaceCritical"
TMPFS_PAGES = 2560  # 10 MiB of 4 KiB pages
# How long after it is written the WAL segment turns 7 days old: longer
# than two exporters take to start and walk their first tree.
TURNING_MARGIN = 20


def humanize1024(v):
    """Prometheus' humanize1024 (template/template.go)."""
    if abs(v) <= 1 or math.isnan(v) or math.isinf(v):
        return "%.4g" % v
    prefix = ""
    for p in ("ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"):
        if abs(v) < 1024:
            break
        prefix = p
        v /= 1024
    return "%.4g%s" % (v, prefix)


def find_du(args):
    """(count, du bytes, oldest mtime) of what `find ARGS` lists."""
    listed = subprocess.run(["find"] + args + ["-printf", "%T@ %p\\0"],
                            check=True, capture_output=True,
                            text=True).stdout.split("\0")
    listed = [x for x in listed if x]
    if not listed:
        return 0, 0, None
    paths = "\0".join(x.split(" ", 1)[1] for x in listed) + "\0"
    du = subprocess.run(["du", "-c", "-s", "--block-size=1",
                         "--files0-from=-"], input=paths, check=True,
                        capture_output=True, text=True).stdout
    total = int(du.strip().splitlines()[-1].split()[0])
    oldest = min(float(x.split(" ", 1)[0]) for x in listed)
    return len(listed), total, oldest


def rules_yaml(root, journal, coredump, wal_older_than="7d"):
    return """cleanup:
  rules:
    - {name: wal_beyond_retention, section: 1, component: wal, match: "*.log", older_than: %s}
    - {name: backups_older_than_30d, section: 1, component: backups, match: "stemedb-backup-*", type: directory, older_than: 30d}
    - {name: journal_older_than_7d, section: 1, path: %s, match: "*.journal", older_than: 7d}
    - {name: coredumps_older_than_1d, section: 1, path: %s, match: "core.*", older_than: 1d}
    - {name: tmp_files, section: 4, path: data, match: "*.tmp"}
    - {name: empty_files, section: 4, path: data, type: empty_file}
""" % (wal_older_than, journal, coredump)


class ReclaimTest(e2e.TmpfsTestCase):

    WORKDIR_PREFIX = "e2e-reclaim-"

    def setUp(self):
        super().setUp()
        self.root = os.path.join(self.work, "root")
        self.journal = os.path.join(self.work, "journal")
        self.coredump = os.path.join(self.work, "coredump")
        self.now = int(time.time())

    def write(self, rel, size, age_days, base=None):
        path = os.path.join(base or self.root, rel)
        e2e.write_file(path, size, self.now - age_days * DAY)
        return path

    def age(self, rel, age_days):
        t = self.now - age_days * DAY
        os.utime(os.path.join(self.root, rel), (t, t))

    def start_with_config(self, config_text, name="exporter"):
        path = e2e.write_text(os.path.join(self.work, name + ".yaml"),
                              config_text)
        return self.start_exporter(["--config", path], name=name)

    def test_every_rule_equals_find_and_du(self):
        for mode in w.modes():
            with self.subTest(mode=mode):
                self.every_rule_equals_find_and_du(mode)

    def fresh_root(self, mode, size, inodes):
        """A tmpfs root of its own per mode."""
        self.root = os.path.join(self.work, "root-" + mode)
        self.journal = os.path.join(self.work, "journal-" + mode)
        self.coredump = os.path.join(self.work, "coredump-" + mode)
        self.mount_tmpfs(self.root, size, inodes)

    def every_rule_equals_find_and_du(self, mode):
        self.fresh_root(mode, "64m", 4096)
        # Ages far from find's rounding of -mmin.
        self.write("data/wal/segment-000001.log", 300000, 12)
        self.write("data/wal/segment-000002.log", 70000, 9.5)
        self.write("data/wal/segment-000003.log", 65536, 3)
        self.write("data/wal/segment-000004.log", 10, 0.1)
        self.write("data/wal/notes.txt", 5000, 30)
        self.write("data/wal/archive/old.log", 8192, 20)
        self.write("backups/stemedb-backup-20260101/db.kv", 200000, 40)
        self.write("backups/stemedb-backup-20260101/wal/seg.log", 50000, 40)
        self.age("backups/stemedb-backup-20260101/wal", 40)
        self.age("backups/stemedb-backup-20260101", 45)
        self.write("backups/stemedb-backup-20261120/db.kv", 120000, 2)
        self.age("backups/stemedb-backup-20261120", 2)
        self.write("backups/unrelated.tar", 4096, 90)
        self.write("data/db/shard-1.kv", 100000, 1)
        self.write("data/db/compact.tmp", 40000, 0.01)
        os.link(os.path.join(self.root, "data/db/compact.tmp"),
                os.path.join(self.root, "data/db/compact-link.tmp"))
        self.write("data/db/empty.kv", 0, 5)
        self.write("data/tmp/upload.tmp", 0, 3)
        self.write("data/stray.tmp", 12345, 400)
        self.write("data/empty-marker", 0, 1)
        self.write("logs/stemedb-api.log", 1234, 0)
        self.write("abc/system@1.journal", 81920, 10, base=self.journal)
        self.write("abc/system.journal", 81920, 0, base=self.journal)
        self.write("core.stemedb.1", 500000, 3, base=self.coredump)
        self.write("core.stemedb.2", 9000, 0.2, base=self.coredump)

        exporter = self.start_with_config(
            e2e.config_yaml(self.root, interval="1s",
                            extra=w.scan_extra(mode)) +
            rules_yaml(self.root, self.journal, self.coredump),
            name="exporter-" + mode)
        want = {
            "wal_beyond_retention": find_du(
                [self.root + "/data/wal", "-name", "*.log", "-type", "f",
                 "-mmin", "+10080"]),
            "backups_older_than_30d": find_du(
                [self.root + "/backups", "-name", "stemedb-backup-*",
                 "-type", "d", "-mmin", "+43200"]),
            "journal_older_than_7d": find_du(
                [self.journal, "-name", "*.journal", "-type", "f", "-mmin",
                 "+10080"]),
            "coredumps_older_than_1d": find_du(
                [self.coredump, "-name", "core.*", "-type", "f", "-mmin",
                 "+1440"]),
            "tmp_files": find_du(
                [self.root + "/data", "-name", "*.tmp", "-type", "f"]),
            "empty_files": find_du(
                [self.root + "/data", "-type", "f", "-empty"]),
        }
        # Not vacuous: the tree has something for every rule but one.
        self.assertEqual(want["wal_beyond_retention"][0], 3)
        self.assertEqual(want["tmp_files"][0], 4)
        self.assertEqual(want["empty_files"][0], 3)

        def served():
            s = exporter.scrape()
            got = {}
            for rule in want:
                b = s.value("stemedb_disk_reclaimable_bytes", rule=rule)
                n = s.value("stemedb_disk_reclaimable_entries", rule=rule)
                if b is None or n is None:
                    return None
                got[rule] = (int(n), int(b), s.value(
                    "stemedb_disk_reclaimable_oldest_timestamp_seconds",
                    rule=rule))
            return s, got
        scrape, got = e2e.wait_until(served, 60, "reclaimable metrics")
        for rule, (count, size, oldest) in want.items():
            with self.subTest(rule=rule):
                self.assertEqual(got[rule][0], count)
                self.assertEqual(got[rule][1], size)
                if oldest is None:
                    self.assertIsNone(got[rule][2])
                else:
                    self.assertAlmostEqual(got[rule][2], oldest, places=3)
        info = {l["rule"]: l for l, _ in
                scrape.series("stemedb_disk_cleanup_rule_info")}
        self.assertEqual(info["tmp_files"]["section"], "4")
        self.assertEqual(info["journal_older_than_7d"]["path"], self.journal)
        self.assertEqual(info["wal_beyond_retention"]["mountpoint"],
                         e2e.mountpoint_of(self.root))
        # Rule directories are not components.
        components = set(scrape.by_label(
            "stemedb_disk_component_allocated_bytes", "component"))
        self.assertEqual(components, set(e2e.DEFAULT_LAYOUT))

    def test_segment_turning_old_is_counted_without_an_event(self):
        # Every mode at once: the wait is on the clock, not on the machine,
        # so the modes share it.
        started = {mode: self.start_turning(mode) for mode in w.modes()}
        firsts = {mode: self.first_count(exporter)
                  for mode, (exporter, _, _) in started.items()}
        for mode, (exporter, turning, turns_at) in started.items():
            with self.subTest(mode=mode):
                self.segment_turning_old(mode, exporter, turning, turns_at,
                                         firsts[mode])

    def start_turning(self, mode):
        """A tree whose WAL segment turns 7 days old TURNING_MARGIN seconds
        after it is written, served by an exporter in MODE: (exporter,
        segment path, the time it turns old)."""
        self.fresh_root(mode, "16m", 1024)
        e2e.make_demo_tree(self.root, now=self.now)
        self.write("data/wal/segment-old.log", 4096, 8)
        turns_at = time.time() + TURNING_MARGIN
        turning = os.path.join(self.root, "data/wal/segment-turning.log")
        e2e.write_file(turning, 8192, turns_at - 7 * DAY)
        # One walk at start, the next an hour later (watch mode: no event
        # and a reconcile walk 6h later): only the rendering can move the
        # segment into the count.
        exporter = self.start_with_config(
            e2e.config_yaml(self.root, interval="1h",
                            extra=w.scan_extra(mode, "6h")) +
            rules_yaml(self.root, self.journal, self.coredump),
            name="exporter-turning-" + mode)
        return exporter, turning, turns_at

    @staticmethod
    def count(exporter):
        return exporter.scrape().value("stemedb_disk_reclaimable_entries",
                                       rule="wal_beyond_retention")

    def first_count(self, exporter):
        """(count, time the scrape had returned by) of the first scrape
        that has the rule's count (the first walk is done)."""
        def counted():
            n = self.count(exporter)
            return None if n is None else (n, time.time())
        return e2e.wait_until(counted, 60, "first walk")

    def segment_turning_old(self, mode, exporter, turning, turns_at, first):
        count, scraped_by = first
        # Rendered before the segment turned old: it was not counted then.
        self.assertLess(scraped_by, turns_at,
                        "the first walk took longer than the margin")
        self.assertEqual(count, 1)
        walks = exporter.scrape().value(
            "stemedb_disk_last_scan_success_timestamp_seconds",
            component="wal")
        e2e.wait_until(lambda: self.count(exporter) == 2, 100,
                       "the turning segment counted (no event, no walk)")
        self.assertGreaterEqual(time.time(), turns_at)
        n, size, _ = find_du([os.path.dirname(turning), "-name", "*.log",
                              "-mmin", "+10080"])
        self.assertEqual(n, 2)
        self.assertEqual(exporter.scrape().value(
            "stemedb_disk_reclaimable_bytes", rule="wal_beyond_retention"),
            size)
        if mode == "walk":
            # Still the first walk: no walk moved it.
            self.assertEqual(exporter.scrape().value(
                "stemedb_disk_last_scan_success_timestamp_seconds",
                component="wal"), walks)
        self.assertTrue(os.path.exists(turning))

    def test_critical_alert_states_what_cleanup_would_free(self):
        data = os.path.join(self.root, "data")
        self.mount_tmpfs(data, "%dk" % (TMPFS_PAGES * 4), 4096)
        e2e.make_demo_tree(self.root, now=self.now)
        for i in range(3):
            self.write("data/wal/segment-old-%d.log" % i, 100000 + i * 50000,
                       10 + i)
        config = e2e.fast_config(self.work)
        with open(config, "a") as f:
            f.write(rules_yaml(self.root, self.journal, self.coredump))
        artifacts = e2e.generate_artifacts(config,
                                           os.path.join(self.work, "gen"))
        exporter = e2e.Exporter(self.work, ["--config", config,
                                            "--root", self.root])
        self.addCleanup(exporter.close)
        prom = e2e.Prometheus(
            self.work, [e2e.scrape_job("127.0.0.1:%d" % exporter.port)],
            rule_files=[artifacts["rules"]])
        self.addCleanup(prom.close)
        mountpoint = e2e.mountpoint_of(data)

        # Fill the tmpfs to 5 % available: below critical (10 %).
        e2e.fill_to(os.path.join(data, "db", "fill.bin"), 0.05)

        n, size, _ = find_du([data + "/wal", "-name", "*.log", "-type", "f",
                              "-mmin", "+10080"])
        self.assertEqual(n, 3)
        e2e.wait_until(
            lambda: exporter.scrape().value(
                "stemedb_disk_reclaimable_bytes",
                rule="wal_beyond_retention") == size,
            60, "exporter reclaimable bytes == du %d" % size)

        def critical():
            for a in prom.firing_alerts():
                if (a["labels"]["alertname"] == CRITICAL and
                        a["labels"].get("mountpoint") == mountpoint):
                    return a
            return None
        alert = e2e.wait_until(critical, 90, "%s firing" % CRITICAL)
        text = "§1 would free %sB: wal_beyond_retention %sB." % (
            humanize1024(size), humanize1024(size))
        self.assertIn(text, alert["annotations"]["description"])
        self.assertTrue(alert["annotations"]["description"].startswith(
            "Filesystem %s " % mountpoint))


if __name__ == "__main__":
    e2e.run_main()
