#!/usr/bin/env python3
"""The alert-quality benchmark, small: six nodes (one per key scenario)
over three days at a 60 s step, loaded with promtool into the real
Prometheus, the generated rules (regenerated with stemedb_rulegen from
config/default.yaml), the runbook's alerts and node-mixin's evaluated over
it (bench/alert_quality/run.py; docs/benchmarks.md).

Asserted against the ground truth the generator wrote: every target the
generated rules with defaults must meet (score.targets()), and how.
"""
import argparse
import json
import os
import sys
import tempfile
import unittest

import e2e_lib as e2e

sys.path.insert(0, os.path.join(e2e.source_dir(), "bench", "alert_quality"))
import prom  # noqa: E402
import run  # noqa: E402
import score  # noqa: E402

KINDS = ("steady_fill", "burst", "readonly_remount", "hung_statfs",
         "exporter_down", "compaction_sawtooth")

# score.targets() names.
TARGETS = (
    "every labelled incident caught",
    "steady fill warned >= 24 h and paged >= 4 h before full",
    "burst paged within 10 minutes",
    "no critical page outside an incident",
    "fewer warning-hours outside incidents than node-mixin",
    "no alert silent on read-only remount or hung mount",
)


class AlertQualityTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="alert-quality-")
        args = argparse.Namespace(
            nodes=len(KINDS), days=3, step=60, start=1767225600, seed=17,
            kinds=",".join(KINDS),
            config=os.path.join(e2e.source_dir(), "config", "default.yaml"),
            rulegen=e2e.rulegen_binary(),
            workdir=os.path.join(cls.tmp.name, "work"), keep=True)
        cls.fig = run.run(args)
        cls.tsdb = os.path.join(args.workdir, "tsdb")
        cls.gen = cls.fig["results"]["generated"]
        cls.incidents = {d["kind"]: d for d in cls.gen["detail"]}

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_history_is_loaded_whole(self):
        # Every sample written is in Prometheus, and each scenario that
        # has an incident is in the ground truth.
        self.assertEqual(self.fig["loaded_samples"],
                         self.fig["truth"]["samples"])
        kinds = {i["kind"] for i in self.fig["truth"]["incidents"]}
        self.assertEqual(kinds, set(KINDS) - {"compaction_sawtooth"})

    def test_fills_reach_full(self):
        for kind in ("steady_fill", "burst"):
            self.assertIsNotNone(self.incidents[kind]["full"], kind)

    def test_generated_rules_today(self):
        # What the generated rules with defaults achieve today.
        for kind in ("steady_fill", "burst", "hung_statfs",
                     "exporter_down"):
            self.assertTrue(self.incidents[kind]["caught"], kind)
        steady = self.incidents["steady_fill"]
        self.assertGreaterEqual(steady["critical"]["before_full"], 4 * 3600)
        burst = self.incidents["burst"]
        self.assertGreater(burst["critical"]["before_full"], 0)
        self.assertEqual(self.incidents["hung_statfs"]["coverage"], 1.0)

    def test_runbook_and_node_mixin_are_blind_to_exporter_failures(self):
        # Their alerts read node_exporter's statfs numbers: a stopped disk
        # exporter or a walk timing out is no event for them.
        for name in ("runbook", "node-mixin"):
            detail = {d["kind"]: d for d in
                      self.fig["results"][name]["detail"]}
            self.assertFalse(detail["exporter_down"]["caught"], name)

    def test_targets(self):
        rows = {t["target"]: t for t in self.fig["targets"]}
        self.assertEqual(sorted(rows), sorted(TARGETS))
        for name in TARGETS:
            self.assertTrue(rows[name]["passed"], rows[name])

    def test_aftermath_widens_the_window_for_every_rule_set_alike(self):
        # A warning that fires from the incident's end + 2 h to the end of
        # its aftermath (the next backup) is outside the strict window and
        # inside the widened one; one from half an hour before the
        # aftermath's grace ends is outside it only for its last hour. score() is the same function for all rule sets.
        h = 3600
        truth = {"incidents": [{"node": "n", "kind": "steady_fill",
                                "start": 0, "end": 10 * h, "full": 8 * h,
                                "aftermath_end": 30 * h}]}

        def warning(start, end):
            return [{"rule": "BackupTooOld", "severity": "warning",
                     "labels": {"instance": "n:9717"},
                     "intervals": [(start, end)]}]
        during = score.score(warning(12 * h, 30 * h), truth)
        self.assertEqual(during["outside"]["warning"]["seconds"], 0)
        self.assertEqual(during["outside_strict"]["warning"]["seconds"],
                         18 * h)  # from end + 1 h (GRACE) on
        after = score.score(warning(30 * h + h // 2, 32 * h), truth)
        self.assertEqual(after["outside"]["warning"]["seconds"], h)
        self.assertEqual(after["outside_strict"]["warning"]["seconds"],
                         h + h // 2)
        for name, r in self.fig["results"].items():
            for sev in ("critical", "warning", "info"):
                self.assertLessEqual(r["outside"][sev]["seconds"],
                                     r["outside_strict"][sev]["seconds"],
                                     name)

    def test_fills_warned_and_paged_in_time(self):
        # The same targets from the ground truth's own times: the steady
        # fill warned a day and paged 4 h before full, the burst paged by
        # the short-horizon prediction within 10 minutes of its start.
        steady = self.incidents["steady_fill"]
        self.assertGreaterEqual(steady["warning"]["before_full"], 24 * 3600)
        self.assertGreaterEqual(steady["critical"]["before_full"], 4 * 3600)
        burst = self.incidents["burst"]
        self.assertLessEqual(burst["critical"]["after_start"], 10 * 60)
        self.assertEqual(burst["critical"]["rule"],
                         "StemeDBDiskWillFillVerySoon")

    def test_backfilled_recording_rules_match_their_inlined_expressions(self):
        # An alert reading a recording rule (two levels deep) fires when
        # the same alert with the expressions inlined does. promtool
        # evaluates a backfilled group at its aligned times (the group's
        # offset within the interval), as Prometheus would: each level may
        # lag by up to one step.
        ratio = ("stemedb_disk_filesystem_avail_bytes"
                 " / stemedb_disk_filesystem_size_bytes")
        rules = os.path.join(self.tmp.name, "recorded.rules.json")
        with open(rules, "w") as f:
            json.dump({"groups": [{"name": "g", "rules": [
                {"record": "bench:avail:ratio", "expr": ratio},
                {"record": "bench:avail:percent",
                 "expr": "bench:avail:ratio * 100"},
                {"alert": "Recorded", "expr": "bench:avail:percent < 25",
                 "for": "10m"},
                {"alert": "Inlined", "expr": "(%s) * 100 < 25" % ratio,
                 "for": "10m"},
            ]}]}, f)
        workdir = os.path.join(self.tmp.name, "recorded")
        os.makedirs(workdir)
        server = prom.Server(workdir, self.tsdb, [rules])
        try:
            parsed = server.rules()
            levels = prom.referenced_recordings(parsed)
            self.assertEqual([[r["name"] for r in lv] for lv in levels],
                             [["bench:avail:ratio"], ["bench:avail:percent"]])
            truth = self.fig["truth"]
            prom.backfill_recordings(server, levels, truth["start"],
                                     truth["end"], truth["step"])
            fired = {}
            for r in parsed:
                if r["type"] == "alerting":
                    active = server.active(r["query"], truth["start"],
                                           truth["end"] - truth["step"],
                                           truth["step"])
                    fired[r["name"]] = {
                        k: score.firing_intervals(sorted(v), r["for"],
                                                  truth["step"])
                        for k, v in active.items()}
        finally:
            server.close()
        self.assertTrue(any(fired["Inlined"].values()))
        self.assertEqual(sorted(fired["Recorded"]), sorted(fired["Inlined"]))
        lag = 2 * self.fig["truth"]["step"]
        for labels, inlined in fired["Inlined"].items():
            recorded = fired["Recorded"][labels]
            self.assertEqual(len(recorded), len(inlined), labels)
            for (rs, re_), (is_, ie) in zip(recorded, inlined):
                self.assertTrue(0 <= rs - is_ <= lag, (rs, is_))
                self.assertTrue(0 <= re_ - ie <= lag, (re_, ie))


if __name__ == "__main__":
    e2e.run_main()
