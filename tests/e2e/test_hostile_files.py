#!/usr/bin/env python3
"""e2e_hostile_files: files a careless operator names that are not files, and
bcrypt costs no one can log in with.

Every file a user names (--config, --web.config.file, cert_file, key_file,
client_ca_file, diagnose's --from.* files, rulegen's --config) is read by one
rule: regular files only, never blocking, a size cap. Bars: a FIFO with no
writer named at start is a clear error and exit 2 (3 for diagnose), not a
hang; swapped in for a running exporter's file, then SIGHUP (or, for a
certificate, the next handshake), it is logged, the old files keep serving,
and SIGTERM ends the process at once. A bcrypt cost outside the accepted
range is refused with its position; the highest accepted cost listens
promptly and can log in.

Waits are on events (a log line, an exit); the timeouts are what only a
hang would exceed.
"""
import os
import signal
import ssl
import subprocess
import time
import urllib.request

import e2e_lib as e2e
from test_tls import crypt, make_cert, openssl

# What only a hang exceeds, even on a sanitizer build on 2 busy cores.
HANG = 60
# The highest bcrypt cost the web config accepts (web_config.h).
MAX_BCRYPT_COST = 14
# One check of a password hashed at that cost takes about 8.5 s under
# AddressSanitizer on an idle core; sanitizers on 2 busy cores are up to
# 20 times slower, so only a hang exceeds this (60 s once did not suffice
# with four tests at once on a busy host).
BCRYPT_HANG = 300


def fifo_error(path, what):
    return "%s: cannot read %s: it is a FIFO; a regular file is needed" % (
        path, what)


class HostileFilesTest(e2e.WorkdirTestCase):

    WORKDIR_PREFIX = "e2e-files-"

    def setUp(self):
        super().setUp()
        self.root = os.path.join(self.work, "root")
        e2e.make_demo_tree(self.root)
        self.config = self.path("stemedb.yaml")
        e2e.write_text(self.config, e2e.config_yaml(self.root, interval="1s"))

    def path(self, name):
        return os.path.join(self.work, name)

    def fifo(self, name):
        path = self.path(name)
        os.mkfifo(path)
        return path

    def swap_in_fifo(self, path):
        """Replaces `path` by a FIFO, atomically as config management
        replaces files."""
        os.mkfifo(path + ".fifo")
        os.rename(path + ".fifo", path)

    def write(self, name, text):
        e2e.write_text(self.path(name) + ".new", text)
        os.rename(self.path(name) + ".new", self.path(name))
        return self.path(name)

    def run_refused(self, argv, code, want):
        """Runs argv; it must exit `code` promptly with `want` on stderr."""
        try:
            r = subprocess.run(argv, capture_output=True, text=True,
                               timeout=HANG, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            self.fail("%s hung (over %d s)" % (argv, HANG))
        self.assertEqual(r.returncode, code, r.stderr)
        self.assertIn(want, r.stderr)

    def terminate_promptly(self, exporter):
        """SIGTERM is handled at once: a clean exit, not a kill."""
        start = time.monotonic()
        rc = exporter.process.close(timeout=HANG)
        took = time.monotonic() - start
        self.assertEqual(rc, 0, "SIGTERM not handled within %d s:\n%s" %
                         (HANG, exporter.log()))
        return took

    def make_tls(self):
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key",
                "-out", "ca.pem", "-days", "2", "-subj", "/CN=e2e test CA",
                cwd=self.work)
        make_cert(self.work, "server", "/CN=localhost",
                  "subjectAltName=DNS:localhost,IP:127.0.0.1")

    # ------------------------------------------------------------ FIFOs

    def test_fifos_named_at_start_are_refused(self):
        exporter = e2e.exporter_binary()
        fifo = self.fifo("fifo")
        self.run_refused([exporter, "--config", fifo], 2,
                         fifo_error(fifo, "config file"))
        self.run_refused([exporter, "--config", self.config,
                          "--web.config.file", fifo], 2,
                         fifo_error(fifo, "config file"))
        self.run_refused([e2e.rulegen_binary(), "--config", fifo, "--out",
                          self.path("out")], 2,
                         fifo_error(fifo, "config file"))
        self.make_tls()
        for key, what in (("cert_file", "certificate file"),
                          ("key_file", "key file"),
                          ("client_ca_file", "certificate file")):
            files = {"cert_file": "server.pem", "key_file": "server.key",
                     "client_ca_file": "ca.pem", key: "fifo"}
            web = self.write("web.yml", "tls_server_config:\n" + "".join(
                "  %s: %s\n" % kv for kv in sorted(files.items())))
            self.run_refused([exporter, "--config", self.config,
                              "--web.config.file", web,
                              "--web.listen-address", "127.0.0.1:0"], 2,
                             fifo_error(fifo, what))

    def test_diagnose_from_files_as_fifos_are_refused(self):
        exporter = e2e.exporter_binary()
        fifo = self.fifo("fifo")
        # Refused before any connection is made: nothing listens on port 1.
        self.run_refused([exporter, "diagnose", "--from",
                          "http://127.0.0.1:1", "--from.user", "prom",
                          "--from.password-file", fifo], 3,
                         "--from.password-file: " +
                         fifo_error(fifo, "password file"))
        self.make_tls()
        https = [exporter, "diagnose", "--from", "https://127.0.0.1:1"]
        self.run_refused(https + ["--from.ca-file", fifo], 3,
                         "--from.ca-file: " +
                         fifo_error(fifo, "certificate file"))
        self.run_refused(https + ["--from.ca-file", self.path("ca.pem"),
                                  "--from.cert-file", fifo,
                                  "--from.key-file", self.path("server.key")],
                         3,
                         "--from.cert-file: " +
                         fifo_error(fifo, "certificate file"))
        self.run_refused(https + ["--from.ca-file", self.path("ca.pem"),
                                  "--from.cert-file", self.path("server.pem"),
                                  "--from.key-file", fifo], 3,
                         "--from.key-file: " + fifo_error(fifo, "key file"))

    def test_config_and_web_config_swapped_for_fifos_then_sighup(self):
        web = self.write("web.yml", "http_server_config:\n  headers:\n"
                         "    X-Content-Type-Options: nosniff\n")
        exporter = e2e.Exporter(self.work, ["--config", self.config,
                                            "--web.config.file", web])
        self.addCleanup(exporter.close)

        def reload_metrics():
            m = exporter.scrape()
            return (m.value("stemedb_disk_config_last_reload_successful"),
                    m.value("stemedb_disk_config_reload_failures_total"))

        self.assertEqual(reload_metrics(), (1, 0))
        with open(self.config) as f:
            good_config = f.read()
        self.swap_in_fifo(self.config)
        exporter.process.signal(signal.SIGHUP)
        e2e.wait_until(lambda: reload_metrics() == (0, 1), HANG,
                       "the config reload counted failed")
        self.assertIn(fifo_error(self.config, "config file"), exporter.log())

        self.write("stemedb.yaml", good_config)
        self.swap_in_fifo(web)
        exporter.process.signal(signal.SIGHUP)
        e2e.wait_until(lambda: reload_metrics() == (0, 2), HANG,
                       "the web config reload counted failed")
        self.assertIn(fifo_error(web, "config file"), exporter.log())
        self.assertIn("web config reload failed", exporter.log())
        # The old web config still serves: its header is still sent.
        _, _, headers = exporter.get("/metrics")
        self.assertEqual(headers["X-Content-Type-Options"], "nosniff")
        self.terminate_promptly(exporter)

    def test_certificate_swapped_for_a_fifo_keeps_serving(self):
        self.make_tls()
        web = self.write("web.yml", "tls_server_config:\n"
                         "  cert_file: server.pem\n"
                         "  key_file: server.key\n")
        exporter = e2e.Exporter(self.work, ["--config", self.config,
                                            "--web.config.file", web],
                                ready_timeout=0)
        self.addCleanup(exporter.close)
        context = ssl.create_default_context(cafile=self.path("ca.pem"))
        url = "https://127.0.0.1:%d/-/healthy" % exporter.port

        def healthy():
            with urllib.request.urlopen(url, timeout=HANG,
                                        context=context) as r:
                return r.status == 200

        self.assertTrue(healthy())
        self.swap_in_fifo(self.path("server.pem"))
        # Certificates are re-checked on a handshake, at most once a second:
        # handshake until the change is seen (and refused, not waited on).
        e2e.wait_until(lambda: healthy() and
                       fifo_error(self.path("server.pem"),
                                  "certificate file") in exporter.log(),
                       HANG, "the certificate FIFO refused")
        self.assertIn("TLS certificates changed but do not load",
                      exporter.log())
        self.assertTrue(healthy())  # the previous certificate serves
        self.terminate_promptly(exporter)

    # ------------------------------------------------------------ bcrypt

    def web_with_cost(self, cost, password="s3cret"):
        hashed = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH,
                                                    rounds=2 ** 4))
        # The loader reads the cost digits; the hash need not match them.
        hashed = hashed[:4] + "%02d" % cost + hashed[6:]
        return self.write("web.yml", "basic_auth_users:\n  prom: %s\n" %
                          hashed)

    def test_bcrypt_costs_no_one_can_log_in_with_are_refused(self):
        exporter = e2e.exporter_binary()
        for cost in (3, MAX_BCRYPT_COST + 1, 31):
            web = self.web_with_cost(cost)
            self.run_refused(
                [exporter, "--config", self.config, "--web.config.file", web,
                 "--web.listen-address", "127.0.0.1:0"], 2,
                '%s:2:9: basic_auth_users.prom: user "prom": bcrypt cost %d '
                "is outside the accepted 4 to %d" % (web, cost,
                                                     MAX_BCRYPT_COST))

    def test_highest_bcrypt_cost_listens_promptly_and_logs_in(self):
        hashed = crypt.crypt("s3cret", crypt.mksalt(
            crypt.METHOD_BLOWFISH, rounds=2 ** MAX_BCRYPT_COST))
        web = self.write("web.yml", "basic_auth_users:\n  prom: %s\n" %
                         hashed)
        start = time.monotonic()
        exporter = e2e.Exporter(self.work, ["--config", self.config,
                                            "--web.config.file", web],
                                ready_timeout=0)
        self.addCleanup(exporter.close)
        listening = time.monotonic() - start
        request = urllib.request.Request(exporter.url + "/metrics")
        request.add_header("Authorization", "Basic cHJvbTpzM2NyZXQ=")
        with urllib.request.urlopen(request, timeout=BCRYPT_HANG) as r:
            self.assertEqual(r.status, 200)
        scraped = time.monotonic() - start
        # A reload hashes nothing on the signal thread: SIGTERM right after
        # SIGHUP is handled at once.
        exporter.process.signal(signal.SIGHUP)
        sigterm = self.terminate_promptly(exporter)
        print("bcrypt cost %d: listening after %.2f s, first authenticated "
              "scrape after %.2f s; SIGTERM right after SIGHUP handled in "
              "%.2f s" % (MAX_BCRYPT_COST, listening, scraped, sigterm))


if __name__ == "__main__":
    e2e.run_main()
