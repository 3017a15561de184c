#!/usr/bin/env python3
"""e2e_dashboard_queries: every panel of the generated dashboard gets data.

stemedb_rulegen writes the dashboard and the recording rules it reads; the
real Prometheus scrapes the real exporter and evaluates those rules. Each
panel target's expr, with the dashboard's variables substituted the way
Grafana would, is run against Prometheus: as a range query (what Grafana
sends by default) and, for instant targets, also as an instant query. A
panel with no data is a failure, listed by title.

The tree lives on a tmpfs (in a private mount namespace: run through
in_mount_ns.sh) so that the inode panels have an inode table to read
whatever filesystem the CI machine's temporary directory is on.
"""
import json
import os
import re
import time

import e2e_lib as e2e

WINDOW = 20  # seconds of data the range queries ask for
# Panels whose empty answer means "healthy": firing alerts, and the
# time-until-full recording rules, present only for a filesystem that is
# filling with enough history. Their queries must still run.
EMPTY_WHEN_HEALTHY = ("ALERTS{", "time_until_full:seconds")


def may_be_empty(expr):
    return any(marker in expr for marker in EMPTY_WHEN_HEALTHY)


class DashboardQueriesTest(e2e.TmpfsTestCase):

    WORKDIR_PREFIX = "e2e-dash-"

    def setUp(self):
        super().setUp()
        work = self.work
        self.root = os.path.join(work, "root")
        self.mount_tmpfs(self.root, "64m", 4096)
        e2e.make_demo_tree(self.root)
        config = e2e.fast_config(work)
        artifacts = e2e.generate_artifacts(config, os.path.join(work, "gen"))
        with open(artifacts["dashboard"]) as f:
            self.dashboard = json.load(f)
        self.exporter = e2e.Exporter(work, ["--config", config,
                                            "--root", self.root])
        self.addCleanup(self.exporter.close)
        self.instance = "127.0.0.1:%d" % self.exporter.port
        self.prom = e2e.Prometheus(work, [e2e.scrape_job(self.instance)],
                                   rule_files=[artifacts["rules"]])
        self.addCleanup(self.prom.close)
        # A Prometheus that has not loaded the rule file (the panels fall
        # back to the raw series), started now so that both gather their
        # first scrapes and evaluations at the same time.
        self.bare = e2e.Prometheus(work, [e2e.scrape_job(self.instance)],
                                   name="bare")
        self.addCleanup(self.bare.close)
        self.values = {"job": "stemedb_disk", "instance": self.instance}
        self.variables = {v["name"]: v for v in
                          self.dashboard["templating"]["list"]}

    def substitute(self, text):
        unknown = []

        def value(m):
            name = m.group(1) or m.group(2) or m.group(3)
            if name in e2e.GRAFANA_BUILTINS:
                return e2e.GRAFANA_BUILTINS[name]
            if name not in self.variables:
                unknown.append(name)
                return m.group(0)
            if self.variables[name]["type"] == "datasource":
                return "prometheus"
            return self.values[name]
        out = e2e.GRAFANA_VARIABLE.sub(value, text)
        self.assertEqual(unknown, [], "undefined variables in %r" % text)
        return out

    def test_dashboard_queries(self):
        # One tree, exporter and pair of Prometheus servers for every check.
        with self.subTest("template variables find the exporter"):
            self.template_variables_find_the_exporter()
        with self.subTest("every panel target returns data"):
            self.check_every_panel_target(self.prom)
        with self.subTest("every panel target returns data without "
                          "recording rules"):
            self.check_every_panel_target(self.bare)

    def template_variables_find_the_exporter(self):
        self.assertEqual(self.variables["datasource"]["type"], "datasource")
        self.assertEqual(self.variables["datasource"]["query"], "prometheus")
        e2e.wait_until(lambda: self.prom.query(
            'up{job="stemedb_disk"} == 1'), 60, "a first scrape")
        for name in ("job", "instance"):
            with self.subTest(variable=name):
                v = self.variables[name]
                query = v["query"]["query"] if isinstance(v["query"], dict) \
                    else v["query"]
                m = re.fullmatch(r"label_values\((.*),\s*(\w+)\)",
                                 self.substitute(query))
                self.assertIsNotNone(m, query)
                found = self.prom.api("/api/v1/label/%s/values" % m.group(2),
                                      **{"match[]": m.group(1)})
                self.assertEqual(found, [self.values[name]])

    def check_every_panel_target(self, prom):
        targets = []  # (panel title, expr, instant?)
        for p in e2e.dashboard_panels(self.dashboard["panels"]):
            if p.get("type") == "row":
                continue
            ds = p.get("datasource") or {}
            if isinstance(ds, dict) and "uid" in ds:
                self.substitute(ds["uid"])  # only defined variables
            self.assertTrue(p.get("targets"),
                            "panel %r has no targets" % p.get("title"))
            for t in p["targets"]:
                targets.append((p["title"], self.substitute(t["expr"]),
                                bool(t.get("instant"))))
        self.assertTrue(targets)

        def failing():
            now = time.time()
            bad = []
            for title, expr, instant in targets:
                series = prom.query_range(expr, now - WINDOW, now)
                if may_be_empty(expr):
                    continue  # the query ran; empty is its healthy answer
                if not any(s["values"] for s in series):
                    bad.append("%s: range query of %s" % (title, expr))
                if instant and not prom.query(expr):
                    bad.append("%s: instant query of %s" % (title, expr))
            return bad
        # Rates and derivatives need a few scrapes and rule evaluations:
        # poll until every target has data, then report what never did.
        try:
            e2e.wait_until(lambda: not failing(), 60,
                           "every panel target to return data")
        except e2e.Timeout:
            bad = failing()
            self.fail("panels without data after 60s:\n  " +
                      "\n  ".join(bad))


if __name__ == "__main__":
    e2e.run_main()
