#!/usr/bin/env python3
"""e2e_prometheus_scrape: the real Prometheus scrapes the real exporter.

Truth: the tree written by ../shared/bench/make-tree.py and its --truth
summary (computed by lstat, independently of the exporter), du, and promtool.
Every metric family the exporter serves must come back through Prometheus'
HTTP API with the same label sets, and the values must equal the truth.
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

import e2e_lib as e2e

FILES = 5000


def make_tree_script():
    return os.path.normpath(os.path.join(e2e.source_dir(), "..", "shared",
                                         "bench", "make-tree.py"))


def labels_without_target(metric):
    return {k: v for k, v in metric.items()
            if k not in ("__name__", "job", "instance")}


def du_bytes(path, *flags):
    out = subprocess.run(["du", "-s"] + list(flags) + [path], check=True,
                         capture_output=True, text=True).stdout
    return int(out.split()[0])


class PrometheusScrapeTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="e2e-scrape-")
        cls.addClassCleanup(cls.tmp.cleanup)
        work = cls.tmp.name
        cls.root = os.path.join(work, "root")
        out = subprocess.run([sys.executable, make_tree_script(), cls.root,
                              "--files", str(FILES), "--truth"],
                             check=True, capture_output=True, text=True)
        cls.truth = json.loads(out.stdout)
        config = os.path.join(work, "stemedb.yaml")
        e2e.write_text(config, e2e.config_yaml(cls.root, interval="1s"))
        cls.exporter = e2e.Exporter(work, ["--config", config])
        cls.addClassCleanup(cls.exporter.close)
        cls.target = "127.0.0.1:%d" % cls.exporter.port
        cls.prom = e2e.Prometheus(work, [{
            "job_name": "stemedb_disk",
            "static_configs": [{"targets": [cls.target]}],
        }])
        cls.addClassCleanup(cls.prom.close)
        cls.direct = cls.exporter.scrape()
        # Two scrapes in, every family has had its chance to be ingested.
        e2e.wait_until(
            lambda: cls.prom.query(
                'count_over_time(up{job="stemedb_disk"}[1m]) >= 2 and '
                'up{job="stemedb_disk"} == 1'),
            60, "two successful scrapes of the exporter by Prometheus")

    def sel(self, name, **labels):
        matchers = ['job="stemedb_disk"', 'instance="%s"' % self.target]
        matchers += ['%s="%s"' % kv for kv in sorted(labels.items())]
        return "%s{%s}" % (name, ",".join(matchers))

    def prom_value(self, name, **labels):
        result = self.prom.query(self.sel(name, **labels))
        self.assertEqual(len(result), 1,
                         "%s: want one series, got %r" %
                         (self.sel(name, **labels), result))
        return float(result[0]["value"][1])

    def test_every_family_reaches_prometheus_with_its_labels(self):
        families = self.direct.types
        self.assertTrue(families, "no # TYPE lines in /metrics")
        missing = []
        for family, kind in families.items():
            want = sorted(
                json.dumps(l, sort_keys=True)
                for n, l, _ in self.direct.samples if n == family)
            self.assertTrue(want, "family %s has no samples" % family)
            got = sorted(json.dumps(labels_without_target(r["metric"]),
                                    sort_keys=True)
                         for r in self.prom.query(self.sel(family)))
            if got != want:
                missing.append("%s (%s): exporter %s, prometheus %s" %
                               (family, kind, want, got))
        self.assertEqual(missing, [], "\n".join(missing))
        # The contract's names, whatever the exporter chose to serve.
        for name in ("stemedb_disk_component_allocated_bytes",
                     "stemedb_disk_component_apparent_bytes",
                     "stemedb_disk_component_files",
                     "stemedb_disk_component_directories",
                     "stemedb_disk_component_present",
                     "stemedb_disk_segments",
                     "stemedb_disk_segment_allocated_bytes",
                     "stemedb_disk_oldest_segment_timestamp_seconds",
                     "stemedb_disk_newest_segment_timestamp_seconds",
                     "stemedb_disk_filesystem_size_bytes",
                     "stemedb_disk_filesystem_free_bytes",
                     "stemedb_disk_filesystem_avail_bytes",
                     "stemedb_disk_filesystem_files",
                     "stemedb_disk_filesystem_files_free",
                     "stemedb_disk_filesystem_readonly",
                     "stemedb_disk_component_filesystem_info",
                     "stemedb_disk_scan_success",
                     "stemedb_disk_scan_duration_seconds",
                     "stemedb_disk_last_scan_success_timestamp_seconds",
                     "stemedb_disk_scan_errors_total",
                     "stemedb_disk_exporter_build_info"):
            self.assertIn(name, families)

    def test_component_values_equal_truth_and_du(self):
        for comp, rel in e2e.DEFAULT_LAYOUT.items():
            with self.subTest(component=comp):
                t = self.truth[comp]
                path = os.path.join(self.root, rel)
                allocated = self.prom_value(
                    "stemedb_disk_component_allocated_bytes", component=comp)
                self.assertEqual(allocated, t["allocated_bytes"])
                self.assertEqual(allocated, du_bytes(path, "--block-size=1"))
                apparent = self.prom_value(
                    "stemedb_disk_component_apparent_bytes", component=comp)
                self.assertEqual(apparent, t["apparent_bytes"])
                self.assertEqual(apparent, du_bytes(path, "-b"))
                self.assertEqual(self.prom_value(
                    "stemedb_disk_component_files", component=comp),
                    t["files"])
                self.assertEqual(self.prom_value(
                    "stemedb_disk_component_directories", component=comp),
                    t["dirs"])
                self.assertEqual(self.prom_value(
                    "stemedb_disk_component_present", component=comp), 1)
                self.assertEqual(self.prom_value(
                    "stemedb_disk_scan_success", component=comp), 1)
                for reason in e2e.ERROR_REASONS:
                    self.assertEqual(self.prom_value(
                        "stemedb_disk_scan_errors_total", component=comp,
                        reason=reason), 0, reason)

    def test_wal_segments_equal_truth(self):
        t = self.truth["wal"]
        self.assertEqual(self.prom_value("stemedb_disk_segments",
                                         component="wal"), t["segments"])
        self.assertEqual(
            self.prom_value("stemedb_disk_oldest_segment_timestamp_seconds",
                            component="wal"), t["oldest_segment_mtime"])
        # The newest segment is the last one make-tree wrote.
        wal = os.path.join(self.root, "data/wal")
        newest = max(int(os.lstat(os.path.join(wal, n)).st_mtime)
                     for n in os.listdir(wal) if n.endswith(".log"))
        self.assertEqual(
            self.prom_value("stemedb_disk_newest_segment_timestamp_seconds",
                            component="wal"), newest)

    def test_filesystem_equals_statvfs_truth(self):
        mountpoint = e2e.mountpoint_of(self.root)
        self.assertEqual(self.prom_value("stemedb_disk_filesystem_size_bytes",
                                         mountpoint=mountpoint),
                         self.truth["filesystem"]["size_bytes"])
        self.assertEqual(self.prom_value("stemedb_disk_filesystem_files",
                                         mountpoint=mountpoint),
                         self.truth["filesystem"]["files"])
        self.assertEqual(self.prom_value("stemedb_disk_filesystem_readonly",
                                         mountpoint=mountpoint), 0)
        # All five components live on that one filesystem: one join each.
        joins = self.prom.query(self.sel(
            "stemedb_disk_component_filesystem_info"))
        self.assertEqual(
            sorted((j["metric"]["component"], j["metric"]["mountpoint"])
                   for j in joins),
            sorted((c, mountpoint) for c in e2e.COMPONENTS))

    def test_build_info(self):
        result = self.prom.query(self.sel("stemedb_disk_exporter_build_info"))
        self.assertEqual(len(result), 1)
        self.assertEqual(float(result[0]["value"][1]), 1)
        version = subprocess.run([e2e.exporter_binary(), "--version"],
                                 check=True, capture_output=True,
                                 text=True).stdout
        self.assertIn(result[0]["metric"]["version"], version)
        self.assertIn(result[0]["metric"]["revision"], version)

    def test_promtool_check_metrics(self):
        status, body, headers = self.exporter.get("/metrics")
        self.assertEqual(status, 200)
        self.assertTrue(headers["Content-Type"].startswith("text/plain"))
        r = subprocess.run([e2e.require_tool("promtool"), "check", "metrics"],
                           input=body, capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_endpoints_and_help(self):
        status, _, _ = self.exporter.get("/-/healthy")
        self.assertEqual(status, 200)
        status, _, _ = self.exporter.get("/-/ready")
        self.assertEqual(status, 200)
        status, body, _ = self.exporter.get("/")
        self.assertEqual(status, 200)
        self.assertIn('href="/metrics"', body)
        for family in ("stemedb_disk_component_allocated_bytes",
                       "stemedb_disk_filesystem_avail_bytes"):
            self.assertIn("cached", self.direct.helps[family].lower(), family)


def main():
    if not os.path.exists(make_tree_script()):
        message = "make-tree.py not found at %s" % make_tree_script()
        if e2e.in_ci():
            print("FAIL: " + message + " (CI=true: required)", file=sys.stderr)
            sys.exit(1)
        print("SKIP: " + message + " (set up ../shared/bench to run this)",
              file=sys.stderr)
        sys.exit(e2e.SKIP_EXIT_CODE)
    e2e.run_main()


if __name__ == "__main__":
    main()
