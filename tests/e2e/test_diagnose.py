#!/usr/bin/env python3
"""e2e_diagnose: `stemedb_disk_exporter diagnose` on real full filesystems.

Each test mounts a small tmpfs (size and inode limited) as the layout's root
in a private mount namespace (run through in_mount_ns.sh), fills it the way
a node fills, and runs `diagnose`:

- out of blocks (write(2) said ENOSPC): names §1, exits 2;
- out of inodes (open(O_CREAT) said ENOSPC, blocks to spare): names §4,
  exits 2;
- full and then remounted read-only: still answers, names §1, exits 2;

and in each case writes nothing (the tree's listing with sizes, mtimes and
ctimes, and the tmpfs's free blocks and inodes, are the same before and
after), and its JSON numbers equal what df, du and find say about the same
tree. `--from` against a running exporter on a quiet tree gives the same
section and numbers as the local walk.
"""
import collections
import errno
import json
import os
import subprocess
import time

import e2e_lib as e2e

TMPFS_INODES = 64


def df(path):
    """df's own numbers for the filesystem of `path` (bytes and inodes)."""
    out = subprocess.run(
        ["df", "-B1", "--output=size,used,avail,pcent,itotal,iused,iavail,"
         "ipcent,target", path], check=True, capture_output=True,
        text=True).stdout.splitlines()[1].split()
    pct = lambda s: int(s.rstrip("%")) if s != "-" else -1
    return {"size_bytes": int(out[0]), "used_bytes": int(out[1]),
            "avail_bytes": int(out[2]), "use_percent": pct(out[3]),
            "files": int(out[4]), "files_used": int(out[5]),
            "files_free": int(out[6]), "inode_use_percent": pct(out[7]),
            "mountpoint": out[8]}


def du_bytes(path):
    out = subprocess.run(["du", "-s", "-B1", path], check=True,
                         capture_output=True, text=True).stdout
    return int(out.split()[0])


def find_count(path, *args):
    out = subprocess.run(["find", path] + list(args), check=True,
                         capture_output=True, text=True).stdout
    return len(out.splitlines())


def du_largest(paths):
    """`du -B1 DIR | sort -rn` over every component tree: {dir: bytes}."""
    sizes = {}
    for p in paths:
        out = subprocess.run(["du", "-B1", p], check=True,
                             capture_output=True, text=True).stdout
        for line in out.splitlines():
            size, d = line.split("\t", 1)
            sizes[d] = int(size)
    return sizes


def find_entries(paths):
    """`find DIR -printf '%h\\n' | sort | uniq -c` below every component
    (the component directory's own line names its parent): {dir: count}."""
    counts = collections.Counter()
    for p in paths:
        out = subprocess.run(["find", p, "-mindepth", "1", "-printf", "%h\n"],
                             check=True, capture_output=True,
                             text=True).stdout
        counts.update(out.splitlines())
    return counts


def listing(root):
    """Every entry with type, size, mtime and ctime: any write changes it."""
    out = subprocess.run(
        ["find", root, "-printf", "%y %s %T@ %C@ %p\n"], check=True,
        capture_output=True, text=True).stdout
    return sorted(out.splitlines())


class DiagnoseTest(e2e.TmpfsTestCase):

    WORKDIR_PREFIX = "e2e-diagnose-"

    def setUp(self):
        super().setUp()
        self.root = os.path.join(self.work, "root")
        self.config = os.path.join(self.work, "stemedb.yaml")
        e2e.write_text(self.config, e2e.config_yaml(self.root, interval="1s"))

    def mount(self, size, inodes=TMPFS_INODES):
        self.mount_tmpfs(self.root, size, inodes)
        e2e.make_demo_tree(self.root)
        self.assertEqual(e2e.mountpoint_of(self.root), self.root)

    def diagnose(self, *args, fmt="json"):
        """Runs diagnose from inside the full filesystem (so a stray temp
        file in the working directory would fail or show); returns
        (exit code, parsed JSON or text, stderr)."""
        r = subprocess.run(
            [e2e.exporter_binary(), "diagnose", "--format", fmt] + list(args),
            capture_output=True, text=True, timeout=120, cwd=self.root)
        out = json.loads(r.stdout) if fmt == "json" else r.stdout
        return r.returncode, out, r.stderr

    def diagnose_without_writing(self):
        """diagnose (JSON, then text), proving that it wrote nothing."""
        before = listing(self.root)
        st = os.statvfs(self.root)
        rc, report, err = self.diagnose("--config", self.config)
        rc_text, text, _ = self.diagnose("--config", self.config, fmt="text")
        self.assertEqual(listing(self.root), before, "diagnose wrote")
        after = os.statvfs(self.root)
        self.assertEqual((after.f_bfree, after.f_ffree),
                         (st.f_bfree, st.f_ffree), "diagnose wrote")
        self.assertEqual(rc, report["exit_code"], err)
        self.assertEqual(rc_text, rc)
        status = {0: "OK", 1: "WARNING", 2: "CRITICAL", 3: "UNKNOWN"}[rc]
        first = text.splitlines()[0]
        self.assertTrue(first.startswith(status + ": "), first)
        if report["section"]:
            self.assertIn("§" + report["section"] + " " +
                          report["section_title"], first)
        for line in text.splitlines():
            if not line.startswith("      $ "):  # commands are whole
                self.assertLessEqual(len(line), 80, line)
        return rc, report

    def check_numbers(self, report):
        """The JSON's numbers are df's, du's and find's for the tree."""
        fss = {f["mountpoint"]: f for f in report["filesystems"]}
        self.assertIn(self.root, fss)
        want = df(self.root)
        got = fss[self.root]
        for key, value in want.items():
            self.assertEqual(got[key], value, key)
        comps = {c["name"]: c for c in report["components"]}
        self.assertEqual(sorted(comps), sorted(e2e.COMPONENTS))
        for name, rel in e2e.DEFAULT_LAYOUT.items():
            with self.subTest(component=name):
                path = os.path.join(self.root, rel)
                c = comps[name]
                self.assertTrue(c["present"])
                self.assertTrue(c["complete"])
                self.assertEqual(c["mountpoint"], self.root)
                self.assertEqual(c["allocated_bytes"], du_bytes(path))
                self.assertEqual(c["files"],
                                 find_count(path, "-mindepth", "1",
                                            "!", "-type", "d"))
                self.assertEqual(c["directories"],
                                 find_count(path, "-type", "d"))
        # Every default cleanup rule, with the runbook command for this
        # tree, on the filesystem it frees.
        rules = {r["name"]: r for r in report["rules"]}
        self.assertEqual(sorted(rules), sorted([
            "wal_beyond_retention", "backups_older_than_30d",
            "journal_older_than_7d", "coredumps_older_than_1d",
            "tmp_files", "empty_files"]))
        wal = rules["wal_beyond_retention"]
        self.assertEqual(wal["section"], "1")
        self.assertEqual(wal["command"], 'find %s/data/wal -name "*.log" '
                         '-mtime +7 -delete' % self.root)
        self.assertEqual(wal["mountpoint"], self.root)
        self.assertEqual(rules["tmp_files"]["section"], "4")
        self.assertEqual(rules["tmp_files"]["mountpoint"], self.root)
        # What they would free: find's matches, du's bytes.
        data = os.path.join(self.root, "data")
        for name, args in [
                ("wal_beyond_retention", [os.path.join(data, "wal"), "-name",
                                          "*.log", "-mtime", "+7"]),
                ("tmp_files", [data, "-name", "*.tmp"]),
                ("empty_files", [data, "-type", "f", "-empty"])]:
            with self.subTest(rule=name):
                files = subprocess.run(
                    ["find"] + args, check=True, capture_output=True,
                    text=True).stdout.split()
                self.assertTrue(rules[name]["measured"])
                self.assertEqual(rules[name]["entries"], len(files))
                want = 0
                if files:
                    out = subprocess.run(["du", "-B1", "-c"] + files,
                                         check=True, capture_output=True,
                                         text=True).stdout
                    want = int(out.splitlines()[-1].split()[0])
                self.assertEqual(rules[name]["bytes"], want)
        # The top-20 lists: du's and find's over the component trees.
        trees = [os.path.join(self.root, rel)
                 for rel in e2e.DEFAULT_LAYOUT.values()]
        self.assertTrue(report["directories_measured"])
        top = lambda d: [[p, v] for p, v in
                         sorted(d.items(), key=lambda kv: (-kv[1], kv[0]))
                         [:20]]
        self.assertEqual([[d["path"], d["allocated_bytes"]]
                          for d in report["largest_directories"]],
                         top(du_largest(trees)))
        self.assertEqual([[d["path"], d["entries"]]
                          for d in report["most_entries"]],
                         top(find_entries(trees)))

    def test_out_of_blocks_is_section_1(self):
        self.mount("2m")
        written = e2e.fill_until_enospc(
            os.path.join(self.root, "data/wal/segment-000099.log"))
        self.assertGreater(written, 0)
        self.assertEqual(os.statvfs(self.root).f_bavail, 0)
        rc, report = self.diagnose_without_writing()
        self.assertEqual(rc, 2, report["reason"])
        self.assertEqual(report["status"], "CRITICAL")
        self.assertEqual(report["section"], "1")
        self.assertEqual(report["mountpoint"], self.root)
        self.assertEqual(report["source"], "walk")
        alerts = {f["alert"] for f in report["findings"]}
        self.assertIn("StemeDBDiskSpaceEmergency", alerts)
        self.check_numbers(report)

    def test_out_of_inodes_is_section_4(self):
        self.mount("8m")
        e2e.fill_inodes_until_enospc(os.path.join(self.root, "data/tmp"),
                                     "fill-%06d.tmp", TMPFS_INODES)
        st = os.statvfs(self.root)
        self.assertEqual(st.f_ffree, 0)
        self.assertGreater(st.f_bavail * 2, st.f_blocks, "blocks ran out too")
        rc, report = self.diagnose_without_writing()
        self.assertEqual(rc, 2, report["reason"])
        self.assertEqual(report["section"], "4")
        self.assertEqual(report["section_title"], "Inode Exhaustion")
        alerts = {f["alert"] for f in report["findings"]}
        self.assertIn("StemeDBInodeExhaustionCritical", alerts)
        self.assertNotIn("StemeDBDiskSpaceEmergency", alerts)
        self.check_numbers(report)

    def test_read_only_full_mount_is_section_1(self):
        self.mount("2m")
        e2e.fill_until_enospc(
            os.path.join(self.root, "data/wal/segment-000099.log"))
        subprocess.run(["mount", "-o", "remount,ro", self.root], check=True)
        with self.assertRaises(OSError) as ctx:
            open(os.path.join(self.root, "probe"), "w").close()
        self.assertEqual(ctx.exception.errno, errno.EROFS)
        rc, report = self.diagnose_without_writing()
        self.assertEqual(rc, 2, report["reason"])
        self.assertEqual(report["section"], "1")
        fs = [f for f in report["filesystems"]
              if f["mountpoint"] == self.root][0]
        self.assertTrue(fs["readonly"])
        self.check_numbers(report)

    def test_from_a_running_exporter_matches_the_local_walk(self):
        self.mount("8m", 1024)
        # More directories than the lists hold, of varied sizes and entry
        # counts (ties are broken by path on both sides).
        for i in range(30):
            for j in range(i % 7 + 1):
                e2e.write_file(os.path.join(
                    self.root, "logs/archive-%02d/part-%d.log" % (i, j)),
                    1000 * (i % 5) + 1)
        self.assertGreater(len(du_largest([os.path.join(self.root,
                                                         "logs")])), 20)
        # WAL segments beyond the 7d retention, and temporary files, for
        # the cleanup rules to find.
        now = time.time()
        for i in range(4):
            path = os.path.join(self.root, "data/wal/old-%d.log" % i)
            e2e.write_file(path, 5000 * (i + 1), now - 86400 * (8 + i))
            e2e.write_file(os.path.join(self.root, "data/tmp/op-%d.tmp" % i),
                           3000 * i)
        exporter = self.start_exporter(["--config", self.config])

        def walked():
            status, body, headers = exporter.get("/diagnose")
            self.assertEqual(status, 200, body)
            self.assertEqual(headers["Content-Type"], "application/json")
            doc = json.loads(body)
            done = all(c["present"] and c["complete"]
                       for c in doc["components"])
            # An empty list is a capacity pass not yet done, not a pass
            # that found every filesystem answering.
            return (done and doc["filesystems"] and
                    all(f["have_capacity"] for f in doc["filesystems"]) and
                    doc)
        served = e2e.wait_until(walked, 60, "a walked /diagnose")
        rc_from, remote, err = self.diagnose("--from", exporter.url)
        rc_local, local, _ = self.diagnose("--config", self.config)
        self.assertEqual(rc_from, rc_local, err)
        self.assertEqual(remote["source"], "exporter")
        self.assertEqual(local["source"], "walk")
        self.check_numbers(remote)
        for doc in (served, remote, local):
            for key in ("timestamp", "source"):
                doc.pop(key)
            # diagnose's own sections (what is growing, time until full)
            # are not part of the exporter's /diagnose document.
            for key in ("growth", "time_until_full"):
                doc.pop(key, None)
            # The journal and core dump rules read the host's own
            # directories, which may change between the two readings.
            doc["rules"] = [r for r in doc["rules"]
                            if r["path"].startswith(self.root + "/")]
        self.assertEqual(remote, served)
        self.assertEqual(remote, local)

        # Text from --from too; a wrong port is UNKNOWN, not a crash.
        rc, text, _ = self.diagnose("--from", exporter.url, fmt="text")
        self.assertEqual(rc, rc_local)
        self.assertIn("exporter's last scan", text)
        rc, _, err = self.diagnose_raw("--from", "http://127.0.0.1:1")
        self.assertEqual(rc, 3)
        self.assertIn("connect to 127.0.0.1:1", err)

    def diagnose_raw(self, *args):
        r = subprocess.run([e2e.exporter_binary(), "diagnose"] + list(args),
                           capture_output=True, text=True, timeout=120)
        return r.returncode, r.stdout, r.stderr

    def test_usage_errors_are_unknown(self):
        for args, message in [
                (["--format", "yaml"], "--format"),
                (["--root", "/nonexistent"], "--root"),
                (["--from", "ftp://x"], "--from"),
                (["--from", "http://u:p@127.0.0.1:1"], "--from.user"),
                (["--formt", "json"], "did you mean --format"),
        ]:
            with self.subTest(args=args):
                rc, out, err = self.diagnose_raw(*args)
                self.assertEqual(rc, 3, err)
                self.assertIn(message, err)
                self.assertEqual(out, "")


class DiagnoseFromTlsTest(e2e.WorkdirTestCase):
    """--from over HTTPS with mTLS and basic auth, as a locked-down
    exporter serves it (the web config of test_tls.py)."""

    WORKDIR_PREFIX = "e2e-diagnose-tls-"

    def setUp(self):
        import test_tls  # its CA and certificate helpers
        super().setUp()
        w = self.work
        root = os.path.join(w, "root")
        e2e.make_demo_tree(root)
        test_tls.openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
                         "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                         "ca.key", "-out", "ca.pem", "-days", "2", "-subj",
                         "/CN=e2e test CA", cwd=w)
        test_tls.make_cert(w, "server", "/CN=localhost",
                           "subjectAltName=DNS:localhost,IP:127.0.0.1")
        test_tls.make_cert(w, "client", "/CN=oncall",
                           "subjectAltName=DNS:oncall\n"
                           "extendedKeyUsage=clientAuth")
        e2e.write_text(os.path.join(w, "web.yml"),
                       "tls_server_config:\n"
                       "  cert_file: server.pem\n"
                       "  key_file: server.key\n"
                       "  client_ca_file: ca.pem\n"
                       "  client_auth_type: RequireAndVerifyClientCert\n"
                       "basic_auth_users:\n"
                       "  oncall: %s\n" % test_tls.bcrypt("s3cret"))
        e2e.write_text(os.path.join(w, "password"), "s3cret\n")
        self.exporter = e2e.Exporter(
            w, ["--root", root, "--web.config.file",
                os.path.join(w, "web.yml")],
            ready_timeout=0)
        self.addCleanup(self.exporter.close)
        self.url = "https://127.0.0.1:%d" % self.exporter.port

    def diagnose(self, *args):
        r = subprocess.run(
            [e2e.exporter_binary(), "diagnose", "--format", "json",
             "--from", self.url] + list(args),
            capture_output=True, text=True, timeout=120, cwd=self.work)
        return r.returncode, r.stdout, r.stderr

    def test_https_with_client_certificate_and_basic_auth(self):
        good = ["--from.ca-file", "ca.pem", "--from.cert-file", "client.pem",
                "--from.key-file", "client.key", "--from.user", "oncall",
                "--from.password-file", "password"]

        def answered():
            rc, out, err = self.diagnose(*good)
            return rc != 3 and (rc, json.loads(out))
        rc, report = e2e.wait_until(answered, 60, "diagnose over https")
        self.assertEqual(rc, report["exit_code"])
        self.assertEqual(report["source"], "exporter")
        self.assertEqual(sorted(c["name"] for c in report["components"]),
                         sorted(e2e.COMPONENTS))
        # Each missing piece is UNKNOWN with a message that says which.
        for drop, message in [
                (("--from.user", "--from.password-file"), "HTTP 401"),
                (("--from.ca-file",), "TLS handshake"),
                (("--from.cert-file", "--from.key-file"),
                 "certificate required"),
        ]:
            with self.subTest(drop=drop):
                args = []
                for i in range(0, len(good), 2):
                    if good[i] not in drop:
                        args += good[i:i + 2]
                rc, out, err = self.diagnose(*args)
                self.assertEqual(rc, 3, err)
                self.assertEqual(out, "")
                self.assertIn(message, err)


if __name__ == "__main__":
    e2e.run_main()
