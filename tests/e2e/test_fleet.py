#!/usr/bin/env python3
"""e2e_fleet: the generated rules and dashboard on a fleet, through remote
write.

30 exporters on loopback, each on its own tree on its own tmpfs (in a
private mount namespace: run through in_mount_ns.sh). Two Prometheus agents
(`--enable-feature=agent`) scrape 15 each and remote-write everything to
one central Prometheus (`--web.enable-remote-write-receiver`) that
evaluates the rules stemedb_rulegen made from tests/rulegen/data/fast.yaml
(short `for`s), the way fleets grow past one server. The same exporters are
scraped a second time by vmagent, which remote-writes to a single-node
victoria-metrics that vmalert evaluates the same rule file against (the
other way fleets run it). The test fills three of the tmpfs mounts until
the kernel says ENOSPC: exactly those three instances fire
StemeDBDiskSpaceCritical, each with its own instance and the job, in
Prometheus and in vmalert, and both fire the same set of (alert, instance);
freeing the space resolves them in both. Every dashboard target returns data:
the fleet section's rankings at most 20 rows of the fleet's nodes, the node
view (instance set to one node) that node only. It prints the central rule groups' evaluation
time and each exporter's RSS and CPU.
"""
import json
import os
import re
import time

import e2e_lib as e2e
import vm_lib as vm

EXPORTERS = 30
FULL = (4, 17, 29)          # the instances whose disk the test fills
AGENTS = 2
SMALL_PAGES = 2560          # 10 MiB tmpfs for the ones that fill up
CRITICAL = "StemeDBDiskSpaceCritical"
TIMEOUT = 300               # only a hang takes this long (a loaded 2-core box took 150 s)


T0 = time.monotonic()


def step(what):
    print("fleet: %5.1f s %s" % (time.monotonic() - T0, what), flush=True)


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


# Rows a fleet ranking shows (the dashboard's topk/bottomk).
FLEET_ROWS = 20
# Targets whose empty answer is the healthy one: firing alerts, and the
# time-until-full records (present only where a filesystem is filling).
EMPTY_WHEN_HEALTHY = ("ALERTS{", "time_until_full:seconds")

class FleetTest(e2e.TmpfsTestCase):

    WORKDIR_PREFIX = "e2e-fleet-"

    def setUp(self):
        super().setUp()
        work = self.work
        config = e2e.fast_config(work)
        self.artifacts = e2e.generate_artifacts(config,
                                                os.path.join(work, "gen"))
        # Every tree on a tmpfs of its own: the healthy ones nearly empty,
        # so no alert depends on the CI machine's disk.
        self.roots = []
        for i in range(EXPORTERS):
            root = os.path.join(work, "node%02d" % i)
            size = "%dk" % (SMALL_PAGES * 4) if i in FULL else "64m"
            self.mount_tmpfs(root, size, 4096)
            e2e.make_demo_tree(root)
            self.roots.append(root)
        self.exporters = []
        for i, root in enumerate(self.roots):
            exporter = e2e.Exporter(work, ["--config", config, "--root", root],
                                    name="exporter%02d" % i, ready_timeout=0)
            self.addCleanup(exporter.close)
            self.exporters.append(exporter)
        # Stop them all at once (each takes a moment to stop), then reap.
        self.addCleanup(self.terminate_exporters)
        for exporter in self.exporters:
            exporter.wait_ready(TIMEOUT)
        self.instances = ["127.0.0.1:%d" % e.port for e in self.exporters]
        self.full = {self.instances[i] for i in FULL}
        self.cpu_start = {e.process.proc.pid: cpu_seconds(e.process.proc.pid)
                          for e in self.exporters}
        self.wall_start = time.monotonic()

        step("exporters ready")
        self.central = e2e.Prometheus(
            work, [], rule_files=[self.artifacts["rules"]], name="central",
            extra_args=["--web.enable-remote-write-receiver"])
        self.addCleanup(self.central.close)
        write = self.central.url + "/api/v1/write"
        per_agent = (EXPORTERS + AGENTS - 1) // AGENTS
        for a in range(AGENTS):
            targets = self.instances[a * per_agent:(a + 1) * per_agent]
            agent = e2e.Prometheus(
                work, [{"job_name": "stemedb_disk",
                        "static_configs": [{"targets": targets}]}],
                name="agent%d" % a, agent=True, remote_write=write,
                # Stopping must not wait a minute to flush to a central
                # that is going away too.
                extra_args=["--storage.remote.flush-deadline=1s"])
            self.addCleanup(agent.close)
        self.vm = vm.start_victoria_metrics(self)
        vm.start_vmagent(self, self.instances, self.vm)
        self.vmalert = vm.start_vmalert(self, [self.artifacts["rules"]],
                                        self.vm)

    def terminate_exporters(self):
        for e in self.exporters:
            if e.process.alive():
                e.process.proc.terminate()

    def instances_of(self, expr):
        return {s["metric"].get("instance")
                for s in self.central.query(expr)}

    def series_per_instance(self, expr):
        """{instance: how many series} of an instant query."""
        counts = {}
        for s in self.central.query(expr):
            i = s["metric"].get("instance")
            counts[i] = counts.get(i, 0) + 1
        return counts

    def critical(self):
        alerts = [a for a in self.central.firing_alerts()
                  if a["labels"]["alertname"] == CRITICAL]
        return {a["labels"].get("instance") for a in alerts}

    def firing_pairs(self):
        """{(alertname, instance)} firing in Prometheus and in vmalert."""
        prom = {(a["labels"]["alertname"], a["labels"].get("instance"))
                for a in self.central.firing_alerts()}
        vmalert = {(a["alertname"], a.get("instance"))
                   for a in vm.vmalert_firing(self.vmalert)}
        return prom, vmalert

    def wait_same_alerts(self, critical, what):
        """Waits until Prometheus and vmalert fire the same (alertname,
        instance) pairs, StemeDBDiskSpaceCritical for exactly `critical`;
        returns the pairs."""
        def same():
            prom, vmalert = self.firing_pairs()
            both = prom == vmalert and {
                i for a, i in prom if a == CRITICAL} == critical
            return [prom] if both else None  # truthy when none fire
        try:
            return e2e.wait_until(same, TIMEOUT, what)[0]
        except e2e.Timeout:
            prom, vmalert = self.firing_pairs()
            self.fail("%s:\n only Prometheus: %s\n only vmalert: %s" % (
                what, sorted(prom - vmalert), sorted(vmalert - prom)))

    def substitute(self, text, values, variables):
        def value(m):
            name = m.group(1) or m.group(2) or m.group(3)
            if name in e2e.GRAFANA_BUILTINS:
                return e2e.GRAFANA_BUILTINS[name]
            self.assertIn(name, variables, "undefined variable in %r" % text)
            if variables[name]["type"] == "datasource":
                return "prometheus"
            return values[name]
        return e2e.GRAFANA_VARIABLE.sub(value, text)

    def check_dashboard(self):
        with open(self.artifacts["dashboard"]) as f:
            dashboard = json.load(f)
        variables = {v["name"]: v for v in dashboard["templating"]["list"]}
        # One node per view: a single-select instance and no repeated row,
        # so 30 nodes (or 1,000) render the same panels as one.
        self.assertFalse(variables["instance"].get("multi"))
        self.assertFalse(variables["instance"].get("includeAll"))
        self.assertEqual([p["title"] for p in dashboard["panels"]
                          if p.get("repeat")], [])
        # The variable's own query lists every instance.
        found = self.central.api(
            "/api/v1/label/instance/values",
            **{"match[]": "stemedb_disk_exporter_build_info"})
        self.assertEqual(sorted(found), sorted(self.instances))
        node = sorted(self.instances)[7]
        values = {"job": "stemedb_disk", "instance": node}
        targets = []  # (section, title, expr)
        section = None
        for p in dashboard["panels"]:
            if p.get("type") == "row":
                section = p["title"]
                continue
            for t in p.get("targets", []):
                targets.append((section, p["title"],
                                self.substitute(t["expr"], values, variables)))
        self.assertTrue(targets)
        self.assertEqual(sorted({t[0] for t in targets}),
                         ["Fleet", "Node $instance"])
        want = set(self.instances)

        def problems():
            bad = []
            for section, title, expr in targets:
                if any(m in expr for m in EMPTY_WHEN_HEALTHY):
                    self.series_per_instance(expr)  # must still run
                    continue
                counts = self.series_per_instance(expr)
                got = set(counts)
                if not counts:
                    bad.append("%s: %s: no data" % (title, expr))
                elif section != "Fleet":
                    # The node view: only the chosen node, or its total.
                    if not got <= {node, None}:
                        bad.append("%s: %s: other nodes %s" % (
                            title, expr, sorted(got - {node, None})[:3]))
                elif "topk(" in expr or "bottomk(" in expr:
                    # A ranking: bounded rows, each a node of the fleet.
                    if len(got) > FLEET_ROWS or not got <= want:
                        bad.append("%s: %s: %d rows from %s" % (
                            title, expr, len(got), sorted(got)[:3]))
            return bad
        try:
            e2e.wait_until(lambda: not problems(), TIMEOUT,
                           "every dashboard target to show its section")
        except e2e.Timeout:
            self.fail("dashboard targets:\n  " + "\n  ".join(problems()))

    def report(self):
        groups = self.central.api("/api/v1/rules")["groups"]
        wall = time.monotonic() - self.wall_start
        rss = [rss_kib(e.process.proc.pid) for e in self.exporters]
        cpu = [(cpu_seconds(pid) - start) / wall
               for pid, start in self.cpu_start.items()]
        series = self.central.query('count({job="stemedb_disk"})')
        print("fleet: %d exporters, %d agents, %s series of the job in the "
              "central Prometheus" % (EXPORTERS, AGENTS,
                                      series[0]["value"][1] if series else 0))
        for g in groups:
            print("fleet: rule group %s: %d rules, evaluationTime %.6f s" % (
                g["name"], len(g["rules"]), g["evaluationTime"]))
        print("fleet: exporter RSS KiB min %d mean %d max %d" % (
            min(rss), sum(rss) / len(rss), max(rss)))
        print("fleet: exporter CPU (1 s scans) mean %.2f%% max %.2f%% "
              "of a core over %.0f s" % (100 * sum(cpu) / len(cpu),
                                         100 * max(cpu), wall))

    def test_three_full_nodes_fire_and_resolve(self):
        e2e.wait_until(
            lambda: self.instances_of('up{job="stemedb_disk"} == 1') ==
            set(self.instances), TIMEOUT,
            "all %d instances up in the central Prometheus" % EXPORTERS)
        self.assertEqual(self.critical(), set())
        step("all up centrally")
        e2e.wait_until(
            lambda: {s["metric"]["instance"] for s in self.vm.api(
                "/api/v1/query", query='up{job="stemedb_disk"} == 1')[
                    "result"]} == set(self.instances), TIMEOUT,
            "all %d instances up in victoria-metrics" % EXPORTERS)
        step("all up in victoria-metrics")

        fills = []
        for i in FULL:
            fill = os.path.join(self.roots[i], "data", "db", "fill.bin")
            self.assertGreater(e2e.fill_until_enospc(fill), 0)
            fills.append(fill)
        e2e.wait_until(lambda: self.critical() == self.full, TIMEOUT,
                       "%s firing for exactly %s" % (CRITICAL,
                                                     sorted(self.full)))
        step("critical fires for exactly the full three")
        pairs = self.wait_same_alerts(
            self.full, "vmalert firing what Prometheus fires")
        step("vmalert fires the same %d (alert, instance) pairs: %s" % (
            len(pairs), ", ".join(sorted({a for a, _ in pairs}))))
        # Every alert keeps the labels that say where: nothing aggregated
        # instance or job away.
        for a in self.central.firing_alerts():
            self.assertEqual(a["labels"].get("job"), "stemedb_disk", a)
            self.assertIn(a["labels"].get("instance"), self.instances, a)

        self.check_dashboard()
        step("dashboard checked")
        self.assertEqual(self.critical(), self.full)

        for fill in fills:
            os.unlink(fill)
        e2e.wait_until(lambda: self.critical() == set(), TIMEOUT,
                       "%s resolved once space is freed" % CRITICAL)
        step("resolved")
        self.wait_same_alerts(set(), "resolved in vmalert too")
        step("resolved in vmalert too")
        for e in self.exporters:
            self.assertTrue(e.process.alive())
        self.report()


if __name__ == "__main__":
    e2e.run_main()
