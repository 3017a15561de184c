#!/usr/bin/env python3
"""e2e_diagnose_agrees: `diagnose` and the alerts agree, scenario by scenario.

`diagnose` evaluates the alerts' own expressions on the numbers it reads
(without `for`); Prometheus evaluates the generated rules on the series it
scraped. On the same numbers the two must name the same alerts. For each
scenario of the alert-quality benchmark that is one moment of one node
(bench/alert_quality/fleet.py's SCENARIOS; some have several cases), and a
few the rules tell apart (a read-only view of a writable disk, a read-only
disk full of WAL), the test builds the numbers once: it writes the tree on a
small tmpfs of its own (fills it, exhausts its inodes, remounts it
read-only, ages WAL segments and backup sets, piles up temporary files,
hides a directory from the exporter's user) and starts the real exporter on
it with one config. Then (a tmpfs cannot hang: for a statvfs that timed
out, both sides get the exporter's numbers with stat_success turned 0, as
the exporter serves them then):

a. `diagnose --from` reads the exporter's /diagnose document (its numbers
   and limits) and reports its findings;
b. the exporter's /metrics, scraped just before and just after (and equal,
   so both describe the same snapshot), become promtool input series that
   stay at those values for 13 h (every `for` of the rules, 12 h at most,
   is satisfied; timestamps keep their age at the evaluation), and
   `promtool test rules` evaluates stemedb_rulegen's rules for the same
   config on them, expecting exactly diagnose's alert names in
   ALERTS{alertstate="firing"}.

Each scenario also names the alerts it is built to raise (in diagnose's set,
so a scenario that failed to build cannot pass), and the healthy node none.
What needs history (the fill predictions, a stale scan, an exporter down,
a WAL draining a backlog) is not a single moment and is left to the
benchmark; diagnose names the WAL's segment count, and says that the alert
is silent while the WAL drains, which only Prometheus' history shows.
"""
import http.server
import json
import math
import os
import re
import shutil
import subprocess
import sys
import threading
import time

import e2e_lib as e2e

sys.path.insert(0, os.path.join(e2e.source_dir(), "bench", "alert_quality"))
import fleet  # noqa: E402  (the benchmark's scenario kinds)

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
MIB = 1024 * 1024
DAY = 86400
# Held this long, every `for` of the rules (12 h at most) has elapsed. The
# values are constant, so the rules are evaluated every 5 minutes, not
# every minute: the same alerts fire at the end, for a fifth of promtool's
# work.
EVAL_MINUTES = 13 * 60
INSTANCE = "node-01:9717"

# Thresholds only the config carries (not the built-in defaults), so that
# diagnose --from must take them from the exporter; cleanup rules inside the
# tree only (the host's journal would make the numbers the host's).
EXTRA = """thresholds:
  tmp:
    max_files: 200
  backups:
    max_count: 5
cleanup:
  rules:
    - {name: wal_beyond_retention, section: 1, component: wal, match: "*.log", older_than: 7d}
    - {name: backups_older_than_30d, section: 1, component: backups, match: "stemedb-backup-*", type: directory, older_than: 30d}
    - {name: tmp_files, section: 4, path: data, match: "*.tmp"}
    - {name: empty_files, section: 4, path: data, type: empty_file}
"""

STAT_SUCCESS = "stemedb_disk_filesystem_stat_success"
FIRING = 'group by (alertname) (ALERTS{alertstate="firing"})'
TIMESTAMP = re.compile(r"_timestamp_seconds$|^process_start_time_seconds$")
RULE_METRIC = re.compile(r"\bstemedb_disk_[a-z_]+")


def aged_backup(root, name, days):
    d = os.path.join(root, "backups", name)
    t = time.time() - days * DAY
    e2e.write_file(os.path.join(d, "000000.kv"), 8192, t)
    os.utime(d, (t, t))


class DiagnoseAgreesTest(e2e.TmpfsTestCase):

    WORKDIR_PREFIX = "e2e-diagnose-agrees-"

    def setUp(self):
        super().setUp()
        if os.geteuid() != 0:
            self.fail("needs root: it drops the exporter to uid 65534")
        os.chmod(self.work, 0o755)  # for the exporter as nobody
        self.mnt = os.path.join(self.work, "mnt")
        self.root = os.path.join(self.mnt, "root")

    def mount(self, size="16m", inodes=2000):
        self.mount_tmpfs(self.mnt, size, inodes)
        os.chmod(self.mnt, 0o755)
        e2e.make_demo_tree(self.root)

    def path(self, rel):
        return os.path.join(self.root, rel)

    # ------------------------------------------------------------ scenarios

    def scenario_healthy(self):
        self.mount()
        return "healthy", set()

    def scenario_near_warning(self):
        self.mount()
        e2e.fill_to(self.path("data/db/fill.kv"), 0.15)
        return "steady_fill", {"StemeDBDiskSpaceWarning"}

    def scenario_past_critical(self):
        self.mount()
        e2e.fill_to(self.path("data/db/fill.kv"), 0.05)
        return "steady_fill", {"StemeDBDiskSpaceCritical"}

    def scenario_full(self):
        self.mount()
        e2e.fill_until_enospc(self.path("data/db/fill.kv"))
        return "burst", {"StemeDBDiskSpaceEmergency"}

    def scenario_inodes_exhausted(self):
        self.mount(inodes=64)
        e2e.fill_inodes_until_enospc(self.path("data/db"), "f-%04d.kv", 64)
        return "inode_exhaustion", {"StemeDBInodeExhaustionCritical"}

    def scenario_read_only(self):
        self.mount()
        subprocess.run(["mount", "-o", "remount,ro", self.mnt], check=True)
        return "readonly_remount", {"StemeDBFilesystemReadOnly"}

    def scenario_read_only_full_of_wal(self):
        # Common Cause 1's end: the WAL filled the disk, ext4 remounted it.
        self.mount()
        e2e.fill_to(self.path("data/wal/segment-999999.log"), 0.02)
        subprocess.run(["mount", "-o", "remount,ro", self.mnt], check=True)
        return "readonly_remount", {"StemeDBFilesystemReadOnly",
                                    "StemeDBWALFillingFilesystem"}

    def scenario_read_only_view(self):
        # A writable disk seen through a read-only bind mount (an exporter
        # in a container): the disk itself is not read-only.
        disk = os.path.join(self.work, "disk")
        self.mount_tmpfs(disk, "16m", 2000)
        os.chmod(disk, 0o755)
        e2e.make_demo_tree(os.path.join(disk, "root"))
        os.makedirs(self.mnt)
        subprocess.run(["mount", "--bind", disk, self.mnt], check=True)
        self.addCleanup(e2e.umount, self.mnt)
        subprocess.run(["mount", "-o", "remount,bind,ro", self.mnt],
                       check=True)
        return None, set()

    def scenario_stat_failure(self):
        # No tmpfs hangs: the exporter's own numbers, then what it serves
        # once a statvfs has timed out (stat_success 0, the older numbers
        # kept), on /metrics and /diagnose alike (see stat_failed).
        self.mount()
        e2e.fill_to(self.path("data/db/fill.kv"), 0.15)
        self.stat_failed = True
        return "hung_statfs", {"StemeDBFilesystemStatFailing",
                               "StemeDBDiskSpaceWarning"}

    def scenario_incomplete_walk(self):
        self.mount()
        private = self.path("data/db/private")
        e2e.write_file(os.path.join(private, "big.kv"), MIB)
        os.chmod(private, 0o700)
        self.wrapper = NOBODY
        return "unreadable_dir", {"StemeDBDiskScanIncomplete"}

    def scenario_component_missing(self):
        self.mount()
        shutil.rmtree(self.path("logs"))
        self.missing = "logs"
        return None, {"StemeDBDiskScanFailing"}

    def scenario_wal_cleanup_stopped(self):
        self.mount()
        for i in range(6):
            t = time.time() - (8 + i) * DAY
            e2e.write_file(self.path("data/wal/segment-0000%02d.log" % i),
                           MIB, t)
        return "wal_cleanup_stops", {"StemeDBWALRetentionExceeded",
                                     "StemeDBCleanupNotRunning"}

    def scenario_wal_too_many_segments(self):
        # More segments than the maximum, all within retention. Whether the
        # WAL drains a backlog (the rule's silence) takes a day of history,
        # which a moment has not: both sides name the alert, diagnose says
        # what it cannot see (diagnosis_test checks the words).
        self.mount()
        for i in range(101):
            e2e.write_file(self.path("data/wal/segment-1%05d.log" % i), 100)
        return None, {"StemeDBWALTooManySegments"}

    def scenario_backups_beyond_retention(self):
        self.mount()
        for days in (3, 5, 7.5, 9):
            aged_backup(self.root, "stemedb-backup-old-%s" % days, days)
        return None, {"StemeDBBackupsBeyondRetention",
                      "StemeDBBackupsOlderThanRetention"}

    def scenario_tmp_accumulating(self):
        self.mount()
        for i in range(250):
            e2e.write_file(self.path("data/tmp/op-%04d.tmp" % i), 100)
        return None, {"StemeDBTmpFilesAccumulating"}

    # ------------------------------------------------------------ the check

    def agree(self, scenario):
        self.wrapper = ()
        self.stat_failed = False
        self.missing = None
        kind, raises = getattr(self, "scenario_" + scenario)()
        if kind is not None:
            self.assertIn(kind, fleet.SCENARIOS)
        config = e2e.write_text(os.path.join(self.work, "stemedb.yaml"),
                                e2e.config_yaml(self.root, extra=EXTRA))
        rules = e2e.generate_artifacts(
            config, os.path.join(self.work, "gen"))["rules"]
        exporter = self.start_exporter(["--config", config],
                                       wrapper=self.wrapper)
        self.wait_walked(exporter)
        with open(rules) as f:
            read = set(RULE_METRIC.findall(f.read()))
        before = exporter.scrape()
        at = time.time()
        if self.stat_failed:
            report = self.diagnose(self.serve_stat_failed(exporter))
        else:
            report = self.diagnose(exporter.url)
        after = exporter.scrape()
        self.assertEqual(self.rule_inputs(before, read),
                         self.rule_inputs(after, read),
                         "the snapshot changed while diagnose read it")
        if self.stat_failed:
            before.samples = [
                (n, l, 0.0 if n == STAT_SUCCESS else v)
                for n, l, v in before.samples]
        named = {f["alert"] for f in report["findings"]}
        print("%s: diagnose names %s" % (scenario, sorted(named)),
              file=sys.stderr)
        self.assertLessEqual(raises, named, report["findings"])
        if not raises:
            self.assertEqual(named, set(), report["findings"])
        self.promtool_fires(rules, before, at, named, scenario)

    def wait_walked(self, exporter):
        """Until every component's walk has ended as the scenario built it
        to (complete, short of unreadable entries, or missing)."""
        def ended(c):
            if c["name"] == self.missing:
                return not c["present"] and not c["scan_success"]
            return c["complete"] or (self.wrapper and c["present"] and
                                     c["unaccounted_entries"] > 0)

        def walked():
            status, body, _ = exporter.get("/diagnose")
            self.assertEqual(status, 200, body)
            doc = json.loads(body)
            done = all(ended(c) for c in doc["components"])
            return done and all(
                fs["have_capacity"] for fs in doc["filesystems"]) and all(
                r["measured"] and r["mountpoint"] for r in doc["rules"])
        e2e.wait_until(walked, 60, "a walked, stat'ed, measured /diagnose")

    def serve_stat_failed(self, exporter):
        """A server for the exporter's /diagnose with every statvfs timed
        out (its older numbers kept); returns its URL."""
        status, body, _ = exporter.get("/diagnose")
        self.assertEqual(status, 200, body)
        doc = json.loads(body)
        for fs in doc["filesystems"]:
            self.assertTrue(fs["stat_success"])
            fs["stat_success"] = False
        body = json.dumps(doc).encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                found = self.path == "/diagnose"
                self.send_response(200 if found else 404)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                if found:
                    self.wfile.write(body)

            def log_message(self, *args):
                pass
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        return "http://127.0.0.1:%d" % server.server_port

    def diagnose(self, url):
        r = subprocess.run([e2e.exporter_binary(), "diagnose", "--format",
                            "json", "--from", url],
                           capture_output=True, text=True, timeout=120)
        self.assertIn(r.returncode, (0, 1, 2), r.stderr)
        return json.loads(r.stdout)

    @staticmethod
    def rule_inputs(scrape, read):
        """The samples the rules read, but for the last scan's time."""
        return sorted((n, sorted(l.items()), v) for n, l, v in scrape.samples
                      if n in read and
                      n != "stemedb_disk_last_scan_success_timestamp_seconds")

    def promtool_fires(self, rules, scrape, at, named, scenario):
        """promtool, holding the scrape's values for EVAL_MINUTES, finds
        exactly the alerts `named` firing at the end."""
        end = EVAL_MINUTES * 60
        series = [{"series": '{__name__="up",instance="%s",job="stemedb_disk"}'
                   % INSTANCE, "values": "1+0x%d" % EVAL_MINUTES}]
        for name, labels, value in scrape.samples:
            if not (name.startswith("stemedb_disk_") or
                    TIMESTAMP.search(name)) or not math.isfinite(value):
                continue
            if TIMESTAMP.search(name):
                value = value - at + end  # the same age at the evaluation
            labels = dict(labels, __name__=name, job="stemedb_disk",
                          instance=INSTANCE)
            text = ",".join("%s=%s" % (k, json.dumps(v))
                            for k, v in sorted(labels.items()))
            number = "%d" % value if value == int(value) else repr(value)
            series.append({"series": "{%s}" % text,
                           "values": "%s+0x%d" % (number, EVAL_MINUTES)})
        test = {
            "rule_files": [rules],
            "evaluation_interval": "5m",
            "tests": [{
                "interval": "1m",
                "input_series": series,
                "promql_expr_test": [{
                    "expr": FIRING,
                    "eval_time": "%dm" % EVAL_MINUTES,
                    "exp_samples": [{"labels": '{alertname="%s"}' % a,
                                     "value": 1} for a in sorted(named)],
                }],
            }],
        }
        path = e2e.write_text(os.path.join(self.work, "agree.test.yml"),
                              json.dumps(test, indent=1))
        r = subprocess.run([e2e.require_tool("promtool"), "test", "rules",
                            path], capture_output=True, text=True,
                           timeout=300)
        self.assertEqual(r.returncode, 0, "%s: diagnose names %s; promtool "
                         "(exp: diagnose's, got: the rules'):\n%s%s" % (
                             scenario, sorted(named), r.stdout, r.stderr))


SCENARIOS = sorted(n[len("scenario_"):] for n in vars(DiagnoseAgreesTest)
                   if n.startswith("scenario_"))
for _name in SCENARIOS:
    setattr(DiagnoseAgreesTest, "test_" + _name,
            lambda self, s=_name: self.agree(s))


if __name__ == "__main__":
    e2e.run_main()
