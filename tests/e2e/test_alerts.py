#!/usr/bin/env python3
"""e2e_alerts: the generated rules fire, route and inhibit for real.

A demo StemeDB tree whose data/ is a small tmpfs (mounted by the test in a
private mount namespace: run through in_mount_ns.sh). stemedb_rulegen turns
tests/rulegen/data/fast.yaml (short `for`s) into the rule file and the
Alertmanager configuration; the real Prometheus scrapes the real exporter
(reading the same config), evaluates the rules every second and sends to the
real Alertmanager. The test fills the tmpfs to leave 15 % and then 5 %
available: the warning fires, then the critical, and Alertmanager inhibits
the warning while the critical is active. Removing the fill file resolves
both. The tmpfs, not the host's disk, so the ratios are exact.
"""
import os

import e2e_lib as e2e

TMPFS_PAGES = 2560  # 10 MiB of 4 KiB pages
WARNING = "StemeDBDiskSpaceWarning"
CRITICAL = "StemeDBDiskSpaceCritical"
ALERT_TIMEOUT = 60


class AlertsTest(e2e.TmpfsTestCase):

    WORKDIR_PREFIX = "e2e-alerts-"

    def setUp(self):
        super().setUp()
        work = self.work
        self.root = os.path.join(work, "root")
        self.data = os.path.join(self.root, "data")
        self.mount_tmpfs(self.data, "%dk" % (TMPFS_PAGES * 4), 4096)
        e2e.make_demo_tree(self.root)
        self.mountpoint = e2e.mountpoint_of(self.data)
        self.assertEqual(self.mountpoint, self.data)

        config = e2e.fast_config(work)
        self.artifacts = e2e.generate_artifacts(config,
                                                os.path.join(work, "gen"))
        self.exporter = e2e.Exporter(work, ["--config", config,
                                            "--root", self.root])
        self.addCleanup(self.exporter.close)
        self.am = e2e.Alertmanager(work, self.artifacts["alertmanager"])
        self.addCleanup(self.am.close)
        self.prom = e2e.Prometheus(
            work, [e2e.scrape_job("127.0.0.1:%d" % self.exporter.port)],
            rule_files=[self.artifacts["rules"]],
            alertmanager_port=self.am.port)
        self.addCleanup(self.prom.close)
        groups = self.prom.api("/api/v1/rules")["groups"]
        alerts = {r["name"] for g in groups for r in g["rules"]
                  if r["type"] == "alerting"}
        self.assertLessEqual({WARNING, CRITICAL}, alerts)
        self.fill = os.path.join(self.data, "db", "fill.bin")

    def fill_to(self, avail_ratio):
        """Grows the fill file until exactly avail_ratio of the tmpfs is
        available (pages, as tmpfs allocates them)."""
        st = os.statvfs(self.data)
        self.assertEqual(st.f_blocks, TMPFS_PAGES)
        want_avail = round(TMPFS_PAGES * avail_ratio)
        self.assertGreater(st.f_bavail, want_avail)
        e2e.fill_to(self.fill, avail_ratio)
        st = os.statvfs(self.data)
        self.assertEqual(st.f_bavail, want_avail)
        # The exporter reports it, as Prometheus will read it.
        want_bytes = want_avail * st.f_frsize
        e2e.wait_until(
            lambda: self.exporter.scrape().value(
                "stemedb_disk_filesystem_avail_bytes",
                mountpoint=self.mountpoint) == want_bytes,
            30, "exporter avail_bytes == %d" % want_bytes)

    def firing(self):
        """Names of the alerts firing in Prometheus for the tmpfs."""
        return {a["labels"]["alertname"] for a in self.prom.firing_alerts()
                if a["labels"].get("mountpoint") == self.mountpoint}

    def am_alerts(self):
        """{alertname: alert} in Alertmanager for the tmpfs."""
        return {a["labels"]["alertname"]: a for a in self.am.alerts()
                if a["labels"].get("mountpoint") == self.mountpoint}

    def test_warning_then_critical_inhibits_then_resolve(self):
        self.assertEqual(self.firing() & {WARNING, CRITICAL}, set())

        self.fill_to(0.15)
        e2e.wait_until(lambda: WARNING in self.firing(), ALERT_TIMEOUT,
                       "%s firing in Prometheus" % WARNING)
        self.assertNotIn(CRITICAL, self.firing())
        # Alone, the warning reaches Alertmanager and is not inhibited.
        warning = e2e.wait_until(lambda: self.am_alerts().get(WARNING),
                                 ALERT_TIMEOUT,
                                 "%s in Alertmanager" % WARNING)
        self.assertEqual(warning["status"]["inhibitedBy"], [])
        self.assertEqual(warning["status"]["state"], "active")
        self.assertEqual(warning["labels"]["severity"], "warning")

        self.fill_to(0.05)
        e2e.wait_until(lambda: CRITICAL in self.firing(), ALERT_TIMEOUT,
                       "%s firing in Prometheus" % CRITICAL)
        # The warning still fires in Prometheus: inhibition is
        # Alertmanager's job, not the rules'.
        self.assertIn(WARNING, self.firing())

        def inhibited():
            alerts = self.am_alerts()
            crit, warn = alerts.get(CRITICAL), alerts.get(WARNING)
            if not crit or not warn or not warn["status"]["inhibitedBy"]:
                return None
            return crit, warn
        crit, warn = e2e.wait_until(
            inhibited, ALERT_TIMEOUT,
            "%s inhibited by %s in Alertmanager" % (WARNING, CRITICAL))
        self.assertEqual(warn["status"]["inhibitedBy"], [crit["fingerprint"]])
        self.assertEqual(warn["status"]["state"], "suppressed")
        self.assertEqual(crit["status"]["inhibitedBy"], [])
        self.assertEqual(crit["status"]["state"], "active")
        self.assertEqual(crit["labels"]["severity"], "critical")

        os.unlink(self.fill)
        e2e.wait_until(lambda: not self.firing() & {WARNING, CRITICAL},
                       ALERT_TIMEOUT, "both alerts resolved in Prometheus")
        e2e.wait_until(lambda: not set(self.am_alerts()) & {WARNING, CRITICAL},
                       ALERT_TIMEOUT, "both alerts resolved in Alertmanager")
        self.assertTrue(self.exporter.process.alive())


if __name__ == "__main__":
    e2e.run_main()
