#!/usr/bin/env python3
"""e2e_hostile_configs: extreme configs through both binaries.

1. The hostile corpus (tests/data/hostile-configs/*.yaml, first line
   "# expect: LINE:COL: KEY: MESSAGE") plus generated ones too big to commit
   (deep nesting, an oversized file): stemedb_disk_exporter and
   stemedb_rulegen each exit non-zero with exactly that message, naming the
   file, and rulegen writes nothing.
2. The longest duration Prometheus accepts works end to end: promtool
   accepts the rule file rulegen writes with it (and refuses one millisecond
   more, as the loader does); the exporter with every scan duration at that
   maximum walks once, serves capacity and readiness, and does not spin.
"""
import glob
import os
import subprocess
import time

import e2e_lib as e2e

LONGEST = "292y24w3d23h47m16s854ms"  # floor((2^63-1)/1e6) ms
CORPUS = os.path.join(e2e.source_dir(), "tests", "data", "hostile-configs")


def expected(path):
    with open(path, "rb") as f:
        first = f.readline().decode("utf-8").rstrip("\n")
    assert first.startswith("# expect: "), path
    return first[len("# expect: "):]


def run(argv, timeout=120):
    return subprocess.run(argv, capture_output=True, timeout=timeout)


class HostileConfigTest(e2e.WorkdirTestCase):

    WORKDIR_PREFIX = "e2e-hostile-"

    def check_refused(self, path, want):
        """Both binaries refuse `path` with `path:want` on stderr."""
        sep = ":" if want[0].isdigit() else ": "
        line = path + sep + want
        out = os.path.join(self.work, "out")
        for argv in ([e2e.exporter_binary(), "--config", path, "--once"],
                     [e2e.rulegen_binary(), "--config", path, "--out", out]):
            with self.subTest(binary=os.path.basename(argv[0]),
                              config=os.path.basename(path)):
                r = run(argv)
                self.assertNotEqual(r.returncode, 0)
                self.assertLess(r.returncode, 128, "killed by a signal")
                err = r.stderr.decode("utf-8")  # raises if not UTF-8
                self.assertIn(line, err)
                self.assertEqual(r.stdout, b"")
        self.assertFalse(os.path.exists(out), "rulegen wrote files")

    def test_corpus(self):
        paths = sorted(glob.glob(os.path.join(CORPUS, "*.yaml")))
        self.assertGreaterEqual(len(paths), 8)
        for path in paths:
            self.check_refused(path, expected(path))

    def test_generated(self):
        # A 200 MB file of nested maps once took 790 MB to refuse; any
        # file over the cap is refused unread, so 2 MiB shows it.
        big = os.path.join(self.work, "big.yaml")
        with open(big, "w") as f:
            f.write("alerting:\n  labels:\n")
            f.write("    team: {a: {b: {c: {}}}}\n" * ((2 << 20) // 30))
        self.check_refused(big, "cannot read config file: larger than 1 MiB;"
                           " a config is a few KiB (is this the right file?)")
        # Nesting past yaml-cpp's limit in block style (the corpus has the
        # flow style): said to be too deep, where.
        deep = os.path.join(self.work, "deep.yaml")
        with open(deep, "w") as f:
            f.write("alerting:\n")
            for i in range(1, 600):
                f.write(" " * i + "labels:\n")
        self.check_refused(deep, "499:506: invalid YAML: nested 500 levels "
                           "deep, past yaml-cpp's limit (a config is nested "
                           "4 levels at most)")

    def test_overlap_through_symlinks(self):
        """The same directory reached through a symlink, and a component
        whose symlink leads into another's tree: refused by both binaries,
        at the later component's path (components must not overlap)."""
        root = os.path.join(self.work, "root")
        os.makedirs(os.path.join(root, "data", "wal"))
        os.symlink("data/wal", os.path.join(root, "alias"))
        os.symlink("data", os.path.join(root, "everything"))
        real_root = os.path.realpath(root)
        for name, path, want in (
                ("alias", "alias", "resolves to %s/alias = %s/data/wal "
                 "(symlinks), the directory of component \"wal\" too" %
                 (root, real_root)),
                ("everything", "everything", "resolves to %s/everything = "
                 "%s/data (symlinks), which holds component \"wal\" (%s/"
                 "data/wal)" % (root, real_root, real_root))):
            config = os.path.join(self.work, name + ".yaml")
            e2e.write_text(config,
                           "root: %s\ncomponents:\n"
                           "  wal: {path: data/wal, "
                           "segment_pattern: \"*.log\"}\n  %s: {path: %s}\n"
                           "thresholds:\n  backups: {component: wal}\n"
                           "  tmp: {component: wal}\n" % (root, name, path))
            col = len("  %s: {path: " % name) + 1
            self.check_refused(config, "4:%d: components.%s.path: \"%s\" %s;"
                               " each component must be its own directory, "
                               "apart from the others, so no byte is counted "
                               "twice" % (col, name, path, want))

    def test_template_text_in_rules(self):
        """Config text that looks like a template reaches Prometheus as
        written: promtool accepts the rules, and the generated unit tests
        (which expect each label and runbook_url literally) pass."""
        config = os.path.join(self.work, "tmpl.yaml")
        with open(config, "w", encoding="utf-8") as f:
            f.write('alerting:\n'
                    '  runbook_url: "https://wiki/{{ x }}/disk"\n'
                    '  labels:\n'
                    '    team: "a {{ b"\n'
                    '    value: "{{ $value }}"\n'
                    '    quote: "it\'s \\"q\\" \\\\ }}"\n'
                    '    unicode: "caf\u00e9 \U0001f4be"\n')
        out = os.path.join(self.work, "out")
        r = run([e2e.rulegen_binary(), "--config", config, "--out", out])
        self.assertEqual(r.returncode, 0, r.stderr)
        promtool = e2e.require_tool("promtool")
        rules = os.path.join(out, e2e.ARTIFACTS["rules"])
        r = run([promtool, "check", "rules", "--lint=all",
                 "--lint-fatal", rules])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        tests = rules.replace(".rules.yml", ".rules.test.yml")
        # Every alert carries the labels; the groups of a few alerts (not
        # the long fill predictions) show them reaching Prometheus intact.
        e2e.rule_test_groups(tests, ("StemeDBDiskSpaceWarning ",
                                     "StemeDBFilesystemReadOnly ",
                                     "StemeDBBackupTooOld "))
        r = run([promtool, "test", "rules", tests], timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        with open(tests, encoding="utf-8") as f:
            text = f.read()
        self.assertIn('value: "{{ $value }}"', text)
        self.assertIn('team: "a {{ b"', text)
        self.assertIn('runbook_url: "https://wiki/{{ x }}/disk#', text)

    def test_longest_duration_reaches_promtool(self):
        promtool = e2e.require_tool("promtool")
        for duration, accepted in ((LONGEST, True),
                                   ("292y24w3d23h47m16s855ms", False)):
            # promtool itself is the truth for the boundary.
            rule = os.path.join(self.work, "probe.yml")
            e2e.write_text(rule,
                           "groups:\n- name: g\n  rules:\n  - alert: A\n"
                           "    expr: up == 0\n    for: %s\n" % duration)
            r = run([promtool, "check", "rules", rule])
            self.assertEqual(r.returncode == 0, accepted, r.stdout)
            config = os.path.join(self.work, "long.yaml")
            e2e.write_text(config,
                           "thresholds:\n  disk_space:\n    warning:\n"
                           "      for: %s\n" % duration)
            out = os.path.join(self.work, "out-" + str(accepted))
            r = run([e2e.rulegen_binary(), "--config", config, "--out", out])
            self.assertEqual(r.returncode == 0, accepted, r.stderr)
            if accepted:
                rules = os.path.join(out, e2e.ARTIFACTS["rules"])
                with open(rules) as f:
                    self.assertIn('for: "%s"' % LONGEST, f.read())
                r = run([promtool, "check", "rules", rules])
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            else:
                self.assertIn(b"is out of range", r.stderr)

    def test_exporter_with_longest_durations(self):
        root = os.path.join(self.work, "root")
        files = e2e.make_demo_tree(root)
        config = os.path.join(self.work, "stemedb.yaml")
        text = e2e.config_yaml(root).replace("  interval: 1s\n", "")
        text = text.replace("  timeout: 30s\n", "").replace(
            "  statfs_timeout: 5s\n", "")
        text = text.replace("scan:\n", "scan:\n  interval: %s\n  timeout: %s\n"
                            "  statfs_timeout: %s\n" % ((LONGEST,) * 3))
        e2e.write_text(config, text)
        exporter = self.start_exporter(["--config", config])
        m = exporter.scrape()
        for comp, n in files.items():
            self.assertEqual(m.value("stemedb_disk_scan_success",
                                     component=comp), 1, comp)
            self.assertEqual(m.value("stemedb_disk_component_files",
                                     component=comp), n, comp)
        e2e.wait_until(lambda: exporter.scrape().series(
            "stemedb_disk_filesystem_avail_bytes"), 30, "capacity series")
        stamp = m.value("stemedb_disk_last_scan_success_timestamp_seconds",
                        component="wal")
        # An interval that wrapped to the past walked back to back (48,930
        # walks in 3 s): observe a 2 s window, a hundred times one walk.
        ticks = os.sysconf("SC_CLK_TCK")

        def cpu_seconds():
            with open("/proc/%d/stat" % exporter.process.proc.pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / ticks
        before = cpu_seconds()
        start = time.monotonic()
        e2e.wait_until(lambda: time.monotonic() - start >= 2, 10,
                       "a 2 s observation window")
        m = exporter.scrape()
        self.assertEqual(m.value(
            "stemedb_disk_last_scan_success_timestamp_seconds",
            component="wal"), stamp, "a second walk ran")
        self.assertLess(cpu_seconds() - before, 0.5)
        status, _, _ = exporter.get("/-/ready")
        self.assertEqual(status, 200)


if __name__ == "__main__":
    e2e.run_main()
