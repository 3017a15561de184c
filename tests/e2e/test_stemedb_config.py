#!/usr/bin/env python3
"""e2e_stemedb_config: StemeDB's config.toml as the source of thresholds.

The real exporter, scraped: the thresholds in force carry the TOML's values
(source="stemedb") unless the YAML sets them (source="config"); rulegen
writes the same values into the rules, and promtool's unit tests of those
rules pass; a malformed TOML is refused at start with its line (exit 2) and
at reload keeps the last good values; the Prevention checks (journald cap
read from a test directory) are metrics and diagnose notes.
"""
import os
import signal
import subprocess

import e2e_lib as e2e

DAY = 86400.0

TOML = """# StemeDB's config, as the runbook writes it
[wal]
retention_days = 3
max_segments = 40
segment_size_mb = 64
[storage]
compaction_enabled = false
[backup]
retention_days = 5
"""
# Line 3 is the broken one: a value is missing.
BAD_TOML = "[wal]\nretention_days = 3\nmax_segments =\n"


def run(argv, timeout=120):
    return subprocess.run(argv, capture_output=True, text=True,
                          timeout=timeout)


class StemedbConfigTest(e2e.WorkdirTestCase):

    WORKDIR_PREFIX = "e2e-stemedb-config-"

    def setUp(self):
        super().setUp()
        self.root = os.path.join(self.work, "root")
        e2e.make_demo_tree(self.root)
        self.toml = os.path.join(self.work, "stemedb", "config.toml")
        self.journald = os.path.join(self.work, "journald", "journald.conf")
        self.write_toml(TOML)
        os.makedirs(self.journald + ".d")
        e2e.write_text(self.journald, "[Journal]\nStorage=auto\n")
        # The YAML sets one TOML-backed threshold itself: it must win.
        self.config = os.path.join(self.work, "exporter.yaml")
        e2e.write_text(self.config, e2e.config_yaml(
            self.root, interval="1s",
            extra="stemedb_config: %s\nprevention:\n  journald_config: %s\n"
                  "thresholds:\n  backups:\n    retention: 9d\n"
                  % (self.toml, self.journald)))

    def write_toml(self, text):
        os.makedirs(os.path.dirname(self.toml), exist_ok=True)
        tmp = self.toml + ".new"
        e2e.write_text(tmp, text)
        os.rename(tmp, self.toml)

    def threshold(self, metrics, key):
        """(value, source) of one threshold; exactly one series."""
        series = [(labels, v) for labels, v in
                  metrics.series("stemedb_disk_threshold", threshold=key)]
        self.assertEqual(len(series), 1, key)
        labels, value = series[0]
        return value, labels["source"]

    def test_thresholds_in_force_are_exported(self):
        exporter = self.start_exporter(["--config", self.config])
        m = exporter.scrape()
        self.assertEqual(self.threshold(m, "wal.retention"),
                         (3 * DAY, "stemedb"))
        self.assertEqual(self.threshold(m, "wal.max_segments"),
                         (40, "stemedb"))
        self.assertEqual(self.threshold(m, "backups.retention"),
                         (9 * DAY, "config"))
        self.assertEqual(self.threshold(m, "wal.for"), (30 * 60, "default"))
        self.assertEqual(
            self.threshold(m, "disk_space.critical.avail_ratio_below"),
            (0.10, "default"))
        # Every threshold, not only the TOML's: one series per key.
        keys = m.by_label("stemedb_disk_threshold", "threshold")
        self.assertEqual(len(keys), len(m.series("stemedb_disk_threshold")))
        self.assertGreaterEqual(len(keys), 29)
        self.assertEqual(m.value("stemedb_disk_stemedb_config_loaded"), 1)
        self.assertIn("StemeDB config read", exporter.log())
        checks = {labels["check"]: v for labels, v in
                  m.series("stemedb_disk_prevention_check")}
        self.assertEqual(checks["compaction_disabled"], 1)
        self.assertEqual(checks["wal_retention_above_advice"], 0)
        self.assertEqual(checks["backup_retention_above_advice"], 0)
        self.assertEqual(checks["journald_no_size_cap"], 1)

    def test_rules_use_the_same_thresholds(self):
        out = os.path.join(self.work, "out")
        paths = e2e.generate_artifacts(self.config, out)
        with open(paths["rules"], encoding="utf-8") as f:
            rules = f.read()
        self.assertIn("> %d" % (3 * DAY), rules)  # WAL retention, 3 days
        self.assertIn("stemedb_disk_segments{job=\"stemedb_disk\","
                      "component=\"wal\"} > 40", rules)
        self.assertIn("> %d" % (9 * DAY), rules)  # backups: the YAML's 9d
        self.assertNotIn("> %d" % (5 * DAY), rules)
        promtool = e2e.require_tool("promtool")
        r = run([promtool, "check", "rules", paths["rules"]])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        tests = paths["rules"].replace(".rules.yml", ".rules.test.yml")
        # The groups of the alerts the TOML's thresholds reach (the whole
        # file is rulegen_tools' business).
        e2e.rule_test_groups(tests, ("StemeDBWALRetentionExceeded ",
                                     "StemeDBWALTooManySegments ",
                                     "StemeDBBackupsBeyondRetention ",
                                     "StemeDBBackupsOlderThanRetention "))
        r = run([promtool, "test", "rules", tests], timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_malformed_toml_is_refused_with_its_line(self):
        self.write_toml(BAD_TOML)
        want = "%s:3:" % self.toml
        r = run([e2e.exporter_binary(), "--config", self.config, "--once"])
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn(want, r.stderr)
        r = run([e2e.rulegen_binary(), "--config", self.config, "--out",
                 os.path.join(self.work, "out")])
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn(want, r.stderr)

    def test_reload_with_bad_toml_keeps_the_last_good_values(self):
        exporter = self.start_exporter(["--config", self.config])

        def state():
            m = exporter.scrape()
            return (m.value("stemedb_disk_config_reload_failures_total"),
                    self.threshold(m, "wal.retention"),
                    m.value("stemedb_disk_prevention_check",
                            check="journald_no_size_cap"))

        self.assertEqual(state(), (0, (3 * DAY, "stemedb"), 1))
        self.write_toml(BAD_TOML)
        exporter.process.signal(signal.SIGHUP)
        e2e.wait_until(lambda: state()[0] == 1, 30, "reload failure counted")
        self.assertEqual(state(), (1, (3 * DAY, "stemedb"), 1))
        self.assertIn("%s:3:" % self.toml, exporter.log())
        # A good TOML again, and a journal cap in a drop-in.
        self.write_toml(TOML.replace("retention_days = 3", "retention_days = 2"))
        e2e.write_text(os.path.join(self.journald + ".d", "vacuum.conf"),
                       "[Journal]\nSystemMaxUse=500M\n")
        exporter.process.signal(signal.SIGHUP)
        e2e.wait_until(lambda: state()[1][0] == 2 * DAY, 30,
                       "the new retention in force")
        self.assertEqual(state(), (1, (2 * DAY, "stemedb"), 0))

    def test_diagnose_notes_the_failing_checks(self):
        r = run([e2e.exporter_binary(), "diagnose", "--config", self.config])
        self.assertIn(r.returncode, (0, 1, 2, 3), r.stderr)  # the disk decides
        text = " ".join(r.stdout.split())  # the report wraps long notes
        self.assertIn("prevention check compaction_disabled", text)
        self.assertIn("prevention check journald_no_size_cap", text)
        self.assertNotIn("wal_retention_above_advice", text)

    def test_absent_toml_is_fine(self):
        os.remove(self.toml)
        exporter = self.start_exporter(["--config", self.config])
        m = exporter.scrape()
        self.assertEqual(m.value("stemedb_disk_stemedb_config_loaded"), 0)
        self.assertEqual(self.threshold(m, "wal.retention"),
                         (7 * DAY, "default"))
        self.assertIn("StemeDB config absent", exporter.log())
        paths = e2e.generate_artifacts(self.config,
                                       os.path.join(self.work, "out"))
        with open(paths["rules"], encoding="utf-8") as f:
            self.assertIn("> %d" % (7 * DAY), f.read())


if __name__ == "__main__":
    e2e.run_main()
