#!/usr/bin/env python3
"""e2e_once_textfile: --once to stdout, --once --textfile for the real
node_exporter's textfile collector, and a bad --config that writes nothing.
"""
import os
import subprocess

import e2e_lib as e2e


def run_exporter(*args):
    return subprocess.run([e2e.exporter_binary()] + list(args),
                          capture_output=True, text=True, timeout=60)


class OnceTextfileTest(e2e.WorkdirTestCase):

    WORKDIR_PREFIX = "e2e-once-"

    def setUp(self):
        super().setUp()
        self.root = os.path.join(self.work, "root")
        self.files = e2e.make_demo_tree(self.root)
        self.config = os.path.join(self.work, "stemedb.yaml")
        e2e.write_text(self.config, e2e.config_yaml(self.root))
        self.textdir = os.path.join(self.work, "textfile")
        os.mkdir(self.textdir)
        self.prom_file = os.path.join(self.textdir, "stemedb_disk.prom")

    def check_values(self, m):
        for comp, n in self.files.items():
            self.assertEqual(m.value("stemedb_disk_component_files",
                                     component=comp), n, comp)
            self.assertEqual(m.value("stemedb_disk_scan_success",
                                     component=comp), 1, comp)
        self.assertEqual(m.value("stemedb_disk_segments", component="wal"),
                         self.files["wal"])
        self.assertEqual(m.value("stemedb_disk_segments", component="backups"),
                         self.files["backups"])

    def test_once_prints_valid_exposition(self):
        r = run_exporter("--config", self.config, "--once")
        self.assertEqual(r.returncode, 0, r.stderr)
        m = e2e.Exposition(r.stdout)
        self.check_values(m)
        check = subprocess.run([e2e.require_tool("promtool"), "check",
                                "metrics"], input=r.stdout,
                               capture_output=True, text=True)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        # --root alone gives the default layout under it.
        r = run_exporter("--root", self.root, "--once")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.check_values(e2e.Exposition(r.stdout))

    def test_textfile_is_replaced_atomically(self):
        with open(self.prom_file, "w") as f:
            f.write("# an older run's file\nold_metric 1\n")
        old_inode = os.stat(self.prom_file).st_ino
        # A reader that has the old file open (node_exporter mid-read) must
        # keep reading the whole old file: the new one arrives by rename, not
        # by truncating and rewriting in place.
        with open(self.prom_file) as reader:
            r = run_exporter("--config", self.config, "--once", "--textfile",
                             self.prom_file)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout, "")
            self.assertEqual(reader.read(),
                             "# an older run's file\nold_metric 1\n")
        self.assertNotEqual(os.stat(self.prom_file).st_ino, old_inode)
        # No temporary file is left behind for the collector to trip on.
        self.assertEqual(os.listdir(self.textdir), ["stemedb_disk.prom"])
        with open(self.prom_file) as f:
            text = f.read()
        self.check_values(e2e.Exposition(text))

        node_exporter = e2e.require_tool("prometheus-node-exporter")

        def start(port):
            p = e2e.Process(
                [node_exporter, "--collector.disable-defaults",
                 "--collector.textfile",
                 "--collector.textfile.directory", self.textdir,
                 "--web.listen-address", "127.0.0.1:%d" % port],
                os.path.join(self.work, "node_exporter-%d.log" % port))
            try:
                e2e.wait_ready_url(p, "http://127.0.0.1:%d/metrics" % port, 30,
                                "node_exporter")
            except BaseException:
                p.close()
                raise
            return p, port

        proc, port = e2e.start_with_port_retry(start, "node_exporter")
        self.addCleanup(proc.close)
        status, body, _ = e2e.http_get("http://127.0.0.1:%d/metrics" % port)
        self.assertEqual(status, 200)
        m = e2e.Exposition(body)
        # The textfile collector read our file without complaint...
        self.assertEqual(m.value("node_textfile_scrape_error"), 0,
                         proc.log())
        # ...and serves every stemedb_disk_ series we wrote.
        ours = e2e.Exposition(text)
        for name, labels, value in ours.samples:
            if name.startswith("stemedb_disk_"):
                self.assertEqual(m.value(name, **labels), value,
                                 "%s%r" % (name, labels))
        self.check_values(m)

    def test_bad_config_path_fails_and_writes_nothing(self):
        missing = os.path.join(self.work, "no-such-dir", "stemedb.yaml")
        for args in (["--once"], ["--once", "--textfile", self.prom_file]):
            with self.subTest(args=args):
                r = run_exporter("--config", missing, *args)
                self.assertNotEqual(r.returncode, 0)
                self.assertIn(missing, r.stderr)
                self.assertEqual(r.stdout, "")
                self.assertEqual(os.listdir(self.textdir), [])


if __name__ == "__main__":
    e2e.run_main()
