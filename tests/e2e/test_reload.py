#!/usr/bin/env python3
"""e2e_reload: SIGHUP with a broken config, then with a smaller one.

A broken config must leave the running one serving, be counted, and be
explained on stderr with file:line:column; a good config that drops a
component must make that component's series disappear from /metrics.
"""
import os
import re
import signal

import e2e_lib as e2e

# A YAML syntax error whose position the test knows: the "@" that no plain
# scalar may start with.
BROKEN_LINE = "  interval: @1s"


class ReloadTest(e2e.WorkdirTestCase):

    WORKDIR_PREFIX = "e2e-reload-"

    def setUp(self):
        super().setUp()
        work = self.work
        self.root = os.path.join(work, "root")
        self.files = e2e.make_demo_tree(self.root)
        self.config = os.path.join(work, "stemedb.yaml")
        self.write_config(e2e.config_yaml(self.root, interval="1s"))
        self.exporter = self.start_exporter(["--config", self.config])

    def write_config(self, text):
        # Replaced by rename, as editors and config management do.
        tmp = self.config + ".new"
        e2e.write_text(tmp, text)
        os.rename(tmp, self.config)

    def reload_metrics(self):
        m = self.exporter.scrape()
        return (m.value("stemedb_disk_config_last_reload_successful"),
                m.value("stemedb_disk_config_reload_failures_total"))

    def test_hostile_selector_reload_keeps_the_old_config(self):
        """A 200 KB negative regex (std::regex overflowed its stack on it
        and killed the exporter) and nested quantifiers: each reload is
        refused with the position, and the exporter keeps serving."""
        self.assertEqual(self.reload_metrics(), (1, 0))
        good = e2e.config_yaml(self.root, interval="1s")
        hostile = [
            'mountpoint="/data",fstype!~"' + "a" * (200 * 1024) + '"',
            'mountpoint="/data",fstype!~"' + "(a+)+" * 800 + 'b("',
        ]
        for failures, selector in enumerate(hostile, start=1):
            self.write_config(good + "alerting:\n  node_exporter_selector: '"
                              + selector + "'\n")
            line = len(good.splitlines()) + 2
            want = "%s:%d:27: alerting.node_exporter_selector: " % (
                self.config, line)
            self.exporter.process.signal(signal.SIGHUP)
            e2e.wait_until(lambda: self.reload_metrics() == (0, failures),
                           30, "reload failure %d counted" % failures)
            e2e.wait_until(lambda: self.exporter.log().count(want) == failures,
                           10, "stderr naming %s" % want)
            self.assertTrue(self.exporter.process.alive())
            status, _, _ = self.exporter.get("/-/ready")
            self.assertEqual(status, 200)
            m = self.exporter.scrape()
            self.assertEqual(sorted(m.by_label("stemedb_disk_scan_success",
                                               "component")),
                             sorted(e2e.COMPONENTS))

    def test_bad_then_good_reload(self):
        m = self.exporter.scrape()
        self.assertEqual(self.reload_metrics(), (1, 0))
        self.assertEqual(sorted(m.by_label("stemedb_disk_component_files",
                                           "component")),
                         sorted(e2e.COMPONENTS))
        self.assertEqual(m.value("stemedb_disk_component_files",
                                 component="logs"), self.files["logs"])

        # Broken YAML: the old config keeps running.
        good = e2e.config_yaml(self.root, interval="1s")
        lines = good.splitlines()
        at = next(i for i, l in enumerate(lines)
                  if l.startswith("  interval:"))
        lines[at] = BROKEN_LINE
        self.write_config("\n".join(lines) + "\n")
        want_position = "%s:%d:%d" % (self.config, at + 1,
                                      BROKEN_LINE.index("@") + 1)
        self.exporter.process.signal(signal.SIGHUP)
        e2e.wait_until(lambda: self.reload_metrics() == (0, 1), 30,
                       "reload_successful 0 and reload_failures_total 1")
        log = e2e.wait_until(
            lambda: want_position in self.exporter.log() and
            self.exporter.log(), 10,
            "stderr naming %s" % want_position)
        self.assertRegex(log, re.escape(want_position) + r":.*YAML")
        self.assertTrue(self.exporter.process.alive())
        status, _, _ = self.exporter.get("/-/ready")
        self.assertEqual(status, 200)
        m = self.exporter.scrape()
        # Still the old config: all five components, still scanning.
        self.assertEqual(sorted(m.by_label("stemedb_disk_scan_success",
                                           "component")),
                         sorted(e2e.COMPONENTS))
        before = self.exporter.scrape().value(
            "stemedb_disk_last_scan_success_timestamp_seconds",
            component="logs")
        e2e.wait_until(
            lambda: self.exporter.scrape().value(
                "stemedb_disk_last_scan_success_timestamp_seconds",
                component="logs") > before,
            30, "a walk of logs after the failed reload")

        # A good config without "logs": its series go away after the walk.
        smaller = dict(e2e.DEFAULT_LAYOUT)
        del smaller["logs"]
        self.write_config(e2e.config_yaml(self.root, interval="1s",
                                          components=smaller))
        self.exporter.process.signal(signal.SIGHUP)

        def logs_gone():
            m = self.exporter.scrape()
            if any(l.get("component") == "logs" for _, l, _ in m.samples):
                return None
            return m
        m = e2e.wait_until(logs_gone, 30, "no series with component=logs")
        self.assertEqual(m.value("stemedb_disk_config_last_reload_successful"),
                         1)
        # Failures are a counter: the earlier one stays counted.
        self.assertEqual(m.value("stemedb_disk_config_reload_failures_total"),
                         1)
        self.assertEqual(sorted(m.by_label("stemedb_disk_component_files",
                                           "component")),
                         sorted(smaller))
        for comp in smaller:
            self.assertEqual(m.value("stemedb_disk_component_files",
                                     component=comp), self.files[comp], comp)
        # SIGTERM stops it cleanly: exit status 0, not death by the signal.
        self.assertEqual(self.exporter.close(), 0, self.exporter.log())
        self.assertIn('msg="shutting down"', self.exporter.log())


class WebConfigReloadTest(e2e.WorkdirTestCase):
    """SIGHUP re-reads --web.config.file as well: a bad one is a failed
    reload in the metrics too, not only in the log."""

    WORKDIR_PREFIX = "e2e-reload-web-"

    def setUp(self):
        super().setUp()
        work = self.work
        root = os.path.join(work, "root")
        e2e.make_demo_tree(root)
        config = os.path.join(work, "stemedb.yaml")
        e2e.write_text(config, e2e.config_yaml(root, interval="1s"))
        self.web = os.path.join(work, "web.yml")
        self.write_web("X-Frame-Options: deny")
        self.exporter = e2e.Exporter(work, ["--config", config,
                                            "--web.config.file", self.web])
        self.addCleanup(self.exporter.close)

    def write_web(self, header):
        e2e.write_text(self.web + ".new",
                       "http_server_config:\n  headers:\n    %s\n" % header)
        os.rename(self.web + ".new", self.web)

    def reload_metrics(self):
        m = self.exporter.scrape()
        return (m.value("stemedb_disk_config_last_reload_successful"),
                m.value("stemedb_disk_config_reload_failures_total"))

    def frame_options(self):
        return self.exporter.get("/metrics")[2]["X-Frame-Options"]

    def test_bad_web_config_reload_is_reported_then_cleared(self):
        self.assertEqual(self.reload_metrics(), (1, 0))
        self.write_web("X-Frame-Options: sideways")  # not an allowed value
        self.exporter.process.signal(signal.SIGHUP)
        e2e.wait_until(lambda: self.reload_metrics() == (0, 1), 30,
                       "reload_successful 0 and reload_failures_total 1")
        self.assertIn("web config reload failed", self.exporter.log())
        self.assertEqual(self.frame_options(), "deny")  # the old one serves
        self.write_web("X-Frame-Options: sameorigin")
        self.exporter.process.signal(signal.SIGHUP)
        e2e.wait_until(lambda: "web config reloaded" in self.exporter.log(),
                       30, "the good reload logged")
        self.assertEqual(self.reload_metrics(), (1, 1))
        self.assertEqual(self.frame_options(), "sameorigin")


if __name__ == "__main__":
    e2e.run_main()
