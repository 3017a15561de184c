#!/usr/bin/env python3
"""e2e_growth: what is growing, and time until full, in `diagnose`.

- A directory written steadily while the exporter runs (watch mode and walk
  mode) tops the growth list of GET /diagnose/growth and of
  `diagnose --from`, and the size the list gives for it is what `du` says
  once the writes stop.
- `diagnose --prometheus` against a real Prometheus that evaluates the
  recording rules by their agreed names shows, per filesystem of this
  instance, the value Prometheus itself answers for them; says which rule
  is not loaded; names the instances it has when this one is not among
  them; and against an unreachable URL says so and keeps the exit code.
"""
import json
import os
import subprocess

import e2e_lib as e2e

BYTES_RULE = "stemedb_disk:filesystem_time_until_full:seconds"
INODES_RULE = "stemedb_disk:filesystem_inodes_time_until_full:seconds"
CHUNK = 256 * 1024


def du_bytes(path):
    out = subprocess.run(["du", "-s", "-B1", path], check=True,
                         capture_output=True, text=True).stdout
    return int(out.split()[0])


def diagnose(*args):
    r = subprocess.run([e2e.exporter_binary(), "diagnose"] + list(args),
                       capture_output=True, text=True, timeout=120)
    return r.returncode, r.stdout, r.stderr


class GrowthTest(e2e.WorkdirTestCase):

    def start(self, mode):
        self.root = os.path.join(self.work, "root")
        e2e.make_demo_tree(self.root)
        self.hot = os.path.join(self.root, "data/db/shard-07")
        os.makedirs(self.hot)
        # A one-off write elsewhere: growth, but less than the writer's.
        e2e.write_file(os.path.join(self.root, "logs/once.log"), 3 * CHUNK)
        extra = ("  mode: watch\n  reconcile_interval: 60s\n"
                 if mode == "watch" else "")
        config = e2e.write_text(os.path.join(self.work, "c.yaml"),
                                e2e.config_yaml(self.root, extra=extra))
        return self.start_exporter(["--config", config])

    def writes_top_the_list(self, mode):
        exporter = self.start(mode)
        written = [0]

        def write_and_look():
            # One more chunk per look: a steady writer.
            e2e.write_file(os.path.join(self.hot, "part-%04d" % written[0]),
                           CHUNK)
            written[0] += 1
            status, body, _ = exporter.get("/diagnose/growth")
            self.assertEqual(status, 200, body)
            doc = json.loads(body)
            top = doc["windows"][0]["top"]
            return (written[0] >= 8 and top and top[0]["path"] == self.hot
                    and doc)
        doc = e2e.wait_until(write_and_look, 120,
                             "%s at the top of /diagnose/growth" % self.hot)
        self.assertEqual([w["name"] for w in doc["windows"]], ["1h", "1d"])
        self.assertLessEqual(doc["tracked"], doc["tracked_limit"])
        # Writes stopped: the list's size of the directory is du's.
        truth = du_bytes(self.hot)

        def settled():
            rc, out, err = diagnose("--from", exporter.url, "--format",
                                    "json")
            self.assertIn(rc, (0, 1, 2), err)
            for window in out and json.loads(out)["growth"]["windows"]:
                top = window["top"]
                if not top or top[0]["path"] != self.hot:
                    return None
                if top[0]["bytes_now"] != truth:
                    return None
            return json.loads(out)["growth"]
        growth = e2e.wait_until(settled, 120, "diagnose --from's growth at du")
        for window in growth["windows"]:
            entry = window["top"][0]
            self.assertEqual(entry["component"], "db")
            self.assertGreater(entry["growth_bytes"], 0)
            self.assertLessEqual(entry["growth_bytes"], truth)
            self.assertGreater(entry["bytes_per_hour"], 0)
        rc, text, err = diagnose("--from", exporter.url)
        self.assertIn(rc, (0, 1, 2), err)
        section = text[text.index("Growing fastest"):]
        first = [l for l in section.splitlines() if l.startswith("    ")][0]
        self.assertTrue(first.endswith(self.hot + " (db)"), section)

    def test_watch_mode(self):
        self.writes_top_the_list("watch")

    def test_walk_mode(self):
        self.writes_top_the_list("walk")


class TimeUntilFullTest(e2e.WorkdirTestCase):

    def setUp(self):
        super().setUp()
        self.root = os.path.join(self.work, "root")
        e2e.make_demo_tree(self.root)
        config = e2e.write_text(os.path.join(self.work, "c.yaml"),
                                e2e.config_yaml(self.root))
        self.exporter = self.start_exporter(["--config", config])
        self.instance = "127.0.0.1:%d" % self.exporter.port
        # The test's stand-in for the recording rules the alerts generate,
        # under their agreed names: values that do not move while the test
        # runs (the filesystem's size and inode count), so what diagnose
        # prints can be compared with what Prometheus answers.
        self.rules = os.path.join(self.work, "rules.yml")
        self.write_rules(inodes=True)
        self.prometheus = e2e.Prometheus(
            self.work, [e2e.scrape_job(self.instance)],
            rule_files=[self.rules])
        self.addCleanup(self.prometheus.close)

    def write_rules(self, inodes):
        rules = [{"record": BYTES_RULE,
                  "expr": "stemedb_disk_filesystem_size_bytes / 1000"}]
        if inodes:
            rules.append({"record": INODES_RULE,
                          "expr": "stemedb_disk_filesystem_files + 7"})
        e2e.write_text(self.rules, json.dumps(
            {"groups": [{"name": "stand-in", "rules": rules}]}))

    def truth(self, rule):
        return {s["metric"]["mountpoint"]: float(s["value"][1])
                for s in self.prometheus.query(
                    '%s{instance="%s"}' % (rule, self.instance))}

    def ask(self, *args):
        return diagnose("--from", self.exporter.url, "--format", "json",
                        "--prometheus", self.prometheus.url, *args)

    def test_values_per_filesystem_of_this_instance(self):
        both = e2e.wait_until(
            lambda: self.truth(BYTES_RULE) and self.truth(INODES_RULE) and
            (self.truth(BYTES_RULE), self.truth(INODES_RULE)), 60,
            "both stand-in rules evaluated")
        rc, out, err = self.ask()
        self.assertIn(rc, (0, 1, 2), err)
        t = json.loads(out)["time_until_full"]
        self.assertTrue(t["reached"], t)
        self.assertEqual(t["instance"], self.instance)
        self.assertTrue(t["bytes_rule_loaded"] and t["inodes_rule_loaded"])
        got = {f["mountpoint"]: f for f in t["filesystems"]}
        self.assertEqual(set(got), set(both[0]))
        for mp, value in both[0].items():
            self.assertEqual(got[mp]["bytes_seconds"], value)
            self.assertEqual(got[mp]["inodes_seconds"], both[1][mp])
        rc_plain, text, _ = diagnose("--from", self.exporter.url,
                                     "--prometheus", self.prometheus.url)
        self.assertEqual(rc_plain, rc)
        self.assertIn("Time until full", text)
        # Another instance: nothing of ours, and the instances it has.
        rc, out, err = self.ask("--prometheus.instance", "elsewhere:19180")
        t = json.loads(out)["time_until_full"]
        self.assertEqual(t["filesystems"], [])
        self.assertEqual(t["other_instances"], [self.instance])

    def test_missing_rule_and_unreachable_prometheus(self):
        self.write_rules(inodes=False)
        self.prometheus.process.signal(1)  # SIGHUP: reload the rules
        e2e.wait_until(lambda: not any(
            r["name"] == INODES_RULE
            for g in self.prometheus.api("/api/v1/rules")["groups"]
            for r in g["rules"]), 60, "the inodes rule unloaded")
        rc, text, err = diagnose("--from", self.exporter.url, "--prometheus",
                                 self.prometheus.url)
        self.assertIn(rc, (0, 1, 2), err)
        self.assertIn("not loaded in this Prometheus: " + INODES_RULE, text)
        self.assertNotIn("loaded in this Prometheus: " + BYTES_RULE, text)
        # Unreachable: said plainly, and the exit code is the verdict's.
        rc_alone, _, _ = diagnose("--from", self.exporter.url)
        rc, text, err = diagnose("--from", self.exporter.url, "--prometheus",
                                 "http://127.0.0.1:1")
        self.assertEqual(rc, rc_alone, err)
        self.assertIn("Prometheus could not be asked: ", text)
        self.assertIn("127.0.0.1:1", text)


if __name__ == "__main__":
    e2e.run_main()
