#!/usr/bin/env python3
"""The dashboard check on the committed dashboard, and proof it has teeth.

The committed dashboards/stemedb-disk.json must pass every rule of
dashboard_lint.py (grafana/dashboard-linter's rules, with the reasoned
exclusions in dashboards/.lint, plus layout rules for a fleet). Then each
mutation below, a mistake the generator once made or could make, must be
reported by the rule named next to it.
"""
import argparse
import copy
import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dashboard_lint  # noqa: E402

ARGS = None


def panels(d):
    return [p for p in d["panels"] if p.get("type") != "row"]


def by_title(d, title):
    return next(p for p in d["panels"] if p.get("title") == title)


def edit_editable(d):
    d["editable"] = True


def edit_repeat(d):
    next(p for p in d["panels"] if p["type"] == "row")["repeat"] = "instance"


def edit_unit(d):
    del by_title(d, "Available bytes")["fieldConfig"]["defaults"]["unit"]


def edit_duplicate_id(d):
    ps = panels(d)
    ps[1]["id"] = ps[0]["id"]


def edit_overlap(d):
    ps = panels(d)
    ps[1]["gridPos"] = dict(ps[0]["gridPos"])


def edit_rate_interval(d):
    t = by_title(d, "Scan errors")["targets"][0]
    t["expr"] = t["expr"].replace("$__rate_interval", "5m")


def edit_job_matcher(d):
    t = by_title(d, "Available bytes")["targets"][0]
    t["expr"] = t["expr"].replace('job=~"$job",', "")


def edit_counter(d):
    t = by_title(d, "Available bytes")["targets"][0]
    t["expr"] = 'stemedb_disk_scan_errors_total{job=~"$job",instance=~"$instance"}'


def edit_promql(d):
    t = by_title(d, "Available bytes")["targets"][0]
    t["expr"] = t["expr"] + " +"


def edit_growth_unit(d):
    by_title(d, "Component growth rate")["fieldConfig"]["defaults"][
        "unit"] = "bytes"


def edit_description(d):
    by_title(d, "Available bytes")["description"] = ""


def edit_datasource(d):
    by_title(d, "Available bytes")["datasource"] = {"type": "prometheus",
                                                    "uid": "prometheus"}


MUTATIONS = [
    (edit_editable, "template-uneditable-rule"),
    (edit_repeat, "no-repeat"),
    (edit_unit, "panel-units-rule"),
    (edit_duplicate_id, "unique-ids"),
    (edit_overlap, "no-overlap"),
    (edit_rate_interval, "target-rate-interval-rule"),
    (edit_job_matcher, "target-job-rule"),
    (edit_counter, "target-counter-agg-rule"),
    (edit_promql, "target-promql-rule"),
    (edit_growth_unit, "consistent-units"),
    (edit_description, "panel-title-description-rule"),
    (edit_datasource, "panel-datasource-rule"),
]


class DashboardLintTest(unittest.TestCase):

    def setUp(self):
        with open(ARGS.dashboard) as f:
            self.dashboard = json.load(f)

    def lint(self, dashboard):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "d.json")
            with open(path, "w") as f:
                json.dump(dashboard, f)
            return dashboard_lint.lint(path, ARGS.lint, ARGS.promtool)

    def test_committed_dashboard_is_clean(self):
        self.assertEqual(self.lint(self.dashboard), [])

    def test_every_mutation_is_reported_by_its_rule(self):
        for edit, rule in MUTATIONS:
            with self.subTest(mutation=edit.__name__):
                d = copy.deepcopy(self.dashboard)
                edit(d)
                problems = self.lint(d)
                self.assertTrue(any(p.startswith(rule) for p in problems),
                                "%s not reported by %s: %s" %
                                (edit.__name__, rule, problems))

    def test_node_view_is_bounded_for_a_fleet(self):
        """No repeat anywhere and a single-select instance: the panel count
        is the same for 1 node or 1,000."""
        instance = next(v for v in self.dashboard["templating"]["list"]
                        if v["name"] == "instance")
        self.assertFalse(instance["multi"])
        self.assertFalse(instance["includeAll"])
        self.assertFalse(any(p.get("repeat") for p in self.dashboard["panels"]))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--dashboard", required=True)
    ap.add_argument("--lint", required=True)
    ap.add_argument("--promtool", default="promtool")
    ARGS, rest = ap.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + rest)
