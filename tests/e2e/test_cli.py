#!/usr/bin/env python3
"""e2e_cli: the command-line convention of both programs (docs/cli.md) and
the rule for user-named outputs, through the real binaries: each bad
command line's exact stderr and exit status, --help's layout, outputs that
are "-", symlinks, FIFOs, devices, directories, kept modes and owners,
--web.disable-exporter-metrics against docs/metrics.md's sections, and the
start-up line.
"""
import os
import re
import stat
import subprocess
import threading

import e2e_lib as e2e

EXPORTER = "stemedb_disk_exporter: error: "
DIAGNOSE = "stemedb_disk_exporter diagnose: error: "
RULEGEN = "stemedb_rulegen: error: "


def run(argv, cwd=None):
    return subprocess.run(argv, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL, cwd=cwd)


def families_in_sections(titles):
    """The metric names docs/metrics.md lists under the `## TITLE` sections
    (the table the collector is held to)."""
    names, section = set(), None
    with open(os.path.join(e2e.source_dir(), "docs", "metrics.md")) as f:
        for line in f:
            if line.startswith("## "):
                section = line[3:].strip()
            elif section in titles:
                m = re.match(r"\|\s*`([a-z_:]+)`", line)
                if m:
                    names.add(m.group(1))
    return names


class RootTestCase(e2e.WorkdirTestCase):
    """With a demo layout in self.root."""

    WORKDIR_PREFIX = "e2e-cli-"

    def setUp(self):
        super().setUp()
        self.root = os.path.join(self.work, "root")
        e2e.make_demo_tree(self.root)


class CommandLineTest(RootTestCase):

    def refused(self, argv, code, stderr):
        r = run(argv)
        self.assertEqual((r.returncode, r.stderr), (code, stderr), argv)
        self.assertEqual(r.stdout, "")

    def test_exporter_parse_errors_name_the_flag(self):
        exporter = e2e.exporter_binary()
        for args, message in (
                (["--web.config.file="],
                 "--web.config.file: needs a value (FILE)"),
                (["--config"], "--config: needs a value (FILE)"),
                (["--log.level", "debug", "--log.level", "info"],
                 "--log.level: given 2 times; give it once"),
                (["--web.max-connections=many"],
                 "--web.max-connections: \"many\" is not a valid N"),
                (["--once=later"], "--once: takes no value"),
                (["--web.listen-adress=:1"],
                 "unknown flag --web.listen-adress (did you mean "
                 "--web.listen-address?)"),
                (["--log.level=loud"],
                 "--log.level: \"loud\" is not one of debug, info, warn, "
                 "error"),
                (["--root", self.root, "--once", "--web.listen-address",
                  ":1"],
                 "--web.listen-address: not with --once (nothing is "
                 "served)"),
                (["--web.systemd-socket", "--web.listen-address", ":1"],
                 "--web.listen-address: not with --web.systemd-socket "
                 "(systemd's sockets are used)")):
            with self.subTest(args=args):
                self.refused([exporter] + args, 2, EXPORTER + message + "\n")

    def test_diagnose_keeps_the_monitoring_plugin_codes(self):
        exporter = e2e.exporter_binary()
        for args, message in (
                (["--root", self.root, "diagnose"],
                 "--root: not a diagnose flag (give diagnose's flags after "
                 "`diagnose`; see diagnose --help)"),
                (["diagnose", "--format=xml"],
                 "--format: \"xml\" is not one of text, json"),
                (["diagnose", "--from.timeout"],
                 "--from.timeout: needs a value (DURATION)"),
                (["diagnose", "--once"], "unknown flag --once")):
            with self.subTest(args=args):
                self.refused([exporter] + args, 3, DIAGNOSE + message + "\n")
        r = run([exporter, "diagnose", "--help"])
        self.assertEqual(r.returncode, 0)
        self.assertIn("3  UNKNOWN   no answer: bad flag or config", r.stdout)

    def test_rulegen_parse_errors_and_no_op_flags(self):
        rulegen = e2e.rulegen_binary()
        for args, message in (
                (["--root", self.root, "--out", self.work],
                 "unknown flag --root (did you mean --out?)"),
                (["--rules"], "--rules: needs a value (FILE)"),
                (["--config", "a.yaml", "--config=b.yaml"],
                 "--config: given 2 times; give it once"),
                ([], "nothing to write: give --out DIR or an artifact path "
                 "(see --help)"),
                (["--check", "--rules", "-"],
                 "--rules: -: not a file; --check compares files")):
            with self.subTest(args=args):
                self.refused([rulegen] + args, 2, RULEGEN + message + "\n")

    def test_help_reads_like_node_exporters(self):
        for argv in ([e2e.exporter_binary(), "--help"],
                     [e2e.exporter_binary(), "diagnose", "--help"],
                     [e2e.rulegen_binary(), "--help"]):
            r = run(argv)
            self.assertEqual(r.returncode, 0, r.stderr)
            for line in r.stdout.splitlines():
                self.assertLessEqual(len(line), 80, line)
                self.assertNotRegex(line, r"=\[|\] \.\.\.|[A-Z] \.\.\.$", line)
        r = run([e2e.exporter_binary(), "--help"])
        self.assertRegex(r.stdout, r"\n  --web\.listen-address=HOST:PORT +"
                                   r"Address to listen on;")
        self.assertIn("(default: :19180)", r.stdout)
        self.assertIn("--web.disable-exporter-metrics", r.stdout)


class OutputTest(e2e.WorkdirTestCase):
    """Every path a user names for output, through rulegen (five outputs)
    and the exporter's --textfile."""

    WORKDIR_PREFIX = "e2e-cli-out-"

    def setUp(self):
        super().setUp()
        self.rulegen = e2e.rulegen_binary()
        r = run([self.rulegen, "--rules", "-"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.rules = r.stdout

    def path(self, name):
        return os.path.join(self.work, name)

    def test_dash_is_stdout_and_no_file_named_dash(self):
        self.assertIn("groups:", self.rules)
        r = run([self.rulegen, "--rules", "-", "--dashboard", "-"],
                cwd=self.work)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith(self.rules), r.stdout[:200])
        self.assertIn('"panels"', r.stdout[len(self.rules):])
        self.assertEqual(os.listdir(self.work), [])

    def test_dev_stdout_is_written_not_replaced(self):
        # /dev/stdout -> /proc/self/fd/1 -> a pipe: written in place.
        before = os.lstat("/dev/stdout")
        r = run([self.rulegen, "--rules", "/dev/stdout"])
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        self.assertEqual(r.stdout, self.rules)
        after = os.lstat("/dev/stdout")
        self.assertTrue(stat.S_ISLNK(after.st_mode))
        self.assertEqual(after.st_ino, before.st_ino)
        r = run([self.rulegen, "--rules", "/dev/null"])
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        self.assertTrue(stat.S_ISCHR(os.lstat("/dev/null").st_mode))

    def test_fifo_is_written_to_its_reader(self):
        fifo = self.path("rules.fifo")
        os.mkfifo(fifo)
        got = []
        # A reader process, as `promtool check rules /dev/fd/...` would be.
        reader = subprocess.Popen(["cat", fifo], stdout=subprocess.PIPE,
                                  text=True)
        thread = threading.Thread(target=lambda: got.append(
            reader.communicate(timeout=120)[0]))
        thread.start()
        r = run([self.rulegen, "--rules", fifo])
        thread.join()
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        self.assertEqual(got, [self.rules])
        self.assertTrue(stat.S_ISFIFO(os.lstat(fifo).st_mode))
        self.assertEqual(os.listdir(self.work), ["rules.fifo"])

    def test_symlink_target_replaced_mode_and_owner_kept(self):
        os.mkdir(self.path("etc"))
        os.mkdir(self.path("real"))
        target = self.path("real/stemedb.rules.yml")
        e2e.write_text(target, "stale\n")
        os.chmod(target, 0o600)
        # As root: owned by nobody, as config management leaves it.
        owner = (65534, 65534) if os.geteuid() == 0 else (os.geteuid(),
                                                          os.getegid())
        os.chown(target, *owner)
        link = self.path("etc/stemedb.rules.yml")
        os.symlink("../real/stemedb.rules.yml", link)
        r = run([self.rulegen, "--rules", link])
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        self.assertTrue(os.path.islink(link))
        with open(target) as f:
            self.assertEqual(f.read(), self.rules)
        st = os.stat(target)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        self.assertEqual((st.st_uid, st.st_gid), owner)
        self.assertEqual(os.listdir(self.path("etc")), ["stemedb.rules.yml"])
        self.assertEqual(os.listdir(self.path("real")), ["stemedb.rules.yml"])

    def test_directory_is_an_error_naming_flag_and_path(self):
        for flag in ("--rules", "--dashboard", "--alertmanager",
                     "--prometheus-rule"):
            with self.subTest(flag=flag):
                r = run([self.rulegen, flag, self.work])
                self.assertEqual(
                    (r.returncode, r.stderr),
                    (1, RULEGEN + flag + ": " + self.work +
                     ": is a directory; name a file to write\n"))
        r = run([e2e.exporter_binary(), "--root", self.work, "--once",
                 "--textfile", self.work])
        self.assertEqual((r.returncode, r.stderr.splitlines()[-1]),
                         (1, EXPORTER + "--textfile: " + self.work +
                          ": is a directory; name a file to write"))

    def test_textfile_dash_and_symlink(self):
        root = self.path("root")
        e2e.make_demo_tree(root)
        r = run([e2e.exporter_binary(), "--root", root, "--once",
                 "--textfile", "-"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("stemedb_disk_component_files", r.stdout)
        os.mkdir(self.path("real"))
        os.symlink(self.path("real/stemedb.prom"), self.path("link.prom"))
        r = run([e2e.exporter_binary(), "--root", root, "--once",
                 "--textfile", self.path("link.prom")])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(os.path.islink(self.path("link.prom")))
        with open(self.path("real/stemedb.prom")) as f:
            self.assertIn("stemedb_disk_component_files", f.read())


class ExporterMetricsTest(RootTestCase):

    def names(self, text):
        return {name for name, _, _ in e2e.Exposition(text).samples}

    def published_names(self, exporter):
        """The names in EXPORTER's /metrics once the filesystem stats and
        the deleted-open scan, which run beside the walk, have published
        their first results (/-/ready waits for the walk only)."""
        def names():
            got = self.names(exporter.get("/metrics")[1])
            return got if {"stemedb_disk_filesystem_stat_success",
                           "stemedb_disk_deleted_open_scan_success"} <= got \
                else None
        return e2e.wait_until(names, 120,
                              "the filesystem and deleted-open families")

    def test_disable_exporter_metrics_drops_watch_and_process_sections(self):
        dropped = families_in_sections({"Watch mode", "Process"})
        self.assertIn("process_open_fds", dropped)
        self.assertIn("stemedb_disk_scan_mode", dropped)
        full = self.start_exporter(["--root", self.root], name="full")
        lean = self.start_exporter(["--root", self.root,
                                    "--web.disable-exporter-metrics"],
                                   name="lean")
        all_names = self.published_names(full)
        lean_names = self.published_names(lean)
        self.assertTrue(dropped <= all_names, dropped - all_names)
        self.assertEqual(lean_names, all_names - dropped)
        for kept in ("stemedb_disk_scan_success",
                     "stemedb_disk_component_allocated_bytes",
                     "stemedb_disk_filesystem_avail_bytes",
                     "stemedb_disk_exporter_build_info",
                     "stemedb_disk_config_last_reload_successful"):
            self.assertIn(kept, lean_names)
        r = run([e2e.exporter_binary(), "--root", self.root, "--once",
                 "--web.disable-exporter-metrics"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertFalse(self.names(r.stdout) & dropped)

    def test_startup_line_names_what_runs(self):
        config = os.path.join(self.work, "stemedb.yaml")
        e2e.write_text(config, e2e.config_yaml(self.root))
        exporter = self.start_exporter(["--config", config])
        line = next(l for l in exporter.log().splitlines()
                    if "msg=listening" in l)
        version = run([e2e.exporter_binary(), "--version"]).stdout.split()[2]
        for field in ("version=" + version, "config=" + config,
                      "root=" + self.root,
                      "address=127.0.0.1:0", "port=%d" % exporter.port,
                      "exporter_metrics=true"):
            self.assertIn(" " + field, line)
        components = re.search(r" components=(\S+)", line).group(1)
        self.assertTrue(components, line)
        for pair in components.split(","):
            self.assertRegex(pair, r"^[a-z0-9_]+:(watch|walk)$")


if __name__ == "__main__":
    e2e.run_main()
