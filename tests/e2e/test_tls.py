#!/usr/bin/env python3
"""e2e_tls: TLS, mTLS and basic auth from --web.config.file.

Truth: the real Prometheus 2.42 (its `up` through the API), curl and
`openssl s_client` as clients, certificates made here with the openssl CLI.
What must hold: Prometheus scrapes over HTTPS with tls_config (CA, client
certificate) and over HTTP with basic auth; curl without a client
certificate is refused under RequireAndVerifyClientCert; TLS 1.2 is refused
under min_version: TLS13; a certificate replaced on disk is served on a
later handshake without a restart; SIGHUP re-reads the web config and keeps
the running one when the new one is bad.
"""
import os
import re
import signal
import socket
import ssl
import subprocess
import tempfile
import unittest
import warnings

import e2e_lib as e2e

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt  # pylint: disable=deprecated-module  (libcrypt's bcrypt)


def openssl(*args, cwd):
    subprocess.run([e2e.require_tool("openssl")] + list(args), cwd=cwd,
                   check=True, capture_output=True, timeout=60)


def make_cert(cwd, name, subject, ext, ca="ca"):
    """Key and certificate NAME.{key,pem} signed by the test CA."""
    if not os.path.exists(os.path.join(cwd, name + ".key")):
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt",
                "ec_paramgen_curve:P-256", "-out", name + ".key", cwd=cwd)
    openssl("req", "-new", "-key", name + ".key", "-subj", subject,
            "-out", name + ".csr", cwd=cwd)
    e2e.write_text(os.path.join(cwd, name + ".ext"), ext + "\n")
    # A random serial each time: a re-issued certificate is told apart.
    openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem",
            "-CAkey", ca + ".key", "-set_serial",
            str(int.from_bytes(os.urandom(8), "big")), "-days", "2",
            "-extfile", name + ".ext", "-out", name + ".pem.new", cwd=cwd)
    # Replace atomically, as a certificate manager does.
    os.rename(os.path.join(cwd, name + ".pem.new"),
              os.path.join(cwd, name + ".pem"))


def serial_of_pem(path):
    out = subprocess.run(["openssl", "x509", "-noout", "-serial", "-in", path],
                         check=True, capture_output=True, text=True).stdout
    return out.strip().split("=", 1)[1]


class TlsTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="e2e-tls-")
        cls.addClassCleanup(cls.tmp.cleanup)
        cls.work = w = cls.tmp.name
        cls.root = os.path.join(w, "root")
        e2e.make_demo_tree(cls.root)
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key",
                "-out", "ca.pem", "-days", "2", "-subj", "/CN=e2e test CA",
                cwd=w)
        make_cert(w, "server", "/CN=localhost",
                  "subjectAltName=DNS:localhost,IP:127.0.0.1")
        make_cert(w, "client", "/CN=prometheus",
                  "subjectAltName=DNS:prometheus\n"
                  "extendedKeyUsage=clientAuth")
        cls.web = os.path.join(w, "web-tls.yml")
        e2e.write_text(cls.web,
                       "tls_server_config:\n"
                       "  cert_file: server.pem\n"
                       "  key_file: server.key\n"
                       "  client_ca_file: ca.pem\n"
                       "  client_auth_type: RequireAndVerifyClientCert\n"
                       "  min_version: TLS13\n"
                       "  client_allowed_sans: [prometheus]\n"
                       "http_server_config:\n"
                       "  headers:\n"
                       "    X-Content-Type-Options: nosniff\n")
        cls.exporter = e2e.Exporter(
            w, ["--root", cls.root, "--web.config.file", cls.web],
            name="exporter-tls", ready_timeout=0)
        cls.addClassCleanup(cls.exporter.close)
        cls.url = "https://127.0.0.1:%d" % cls.exporter.port
        e2e.wait_until(lambda: cls.curl_mtls("/-/ready")[0] == 200, 60,
                       "the TLS exporter to be ready")

    @classmethod
    def curl_mtls(cls, path, *extra):
        r = subprocess.run(
            [e2e.require_tool("curl"), "-sS", "-o", "-", "-w",
             "\n%{http_code}", "--cacert", "ca.pem", "--cert", "client.pem",
             "--key", "client.key"] + list(extra) + [cls.url + path],
            cwd=cls.work, capture_output=True, text=True, timeout=60)
        body, _, code = r.stdout.rpartition("\n")
        return int(code or 0), body, r.stderr

    def served_serial(self):
        r = subprocess.run(
            ["openssl", "s_client", "-connect",
             "127.0.0.1:%d" % self.exporter.port, "-CAfile", "ca.pem",
             "-cert", "client.pem", "-key", "client.key"],
            cwd=self.work, input="", capture_output=True, text=True,
            timeout=60)
        m = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----",
                      r.stdout, re.S)
        self.assertTrue(m, r.stdout + r.stderr)
        out = subprocess.run(["openssl", "x509", "-noout", "-serial"],
                             input=m.group(0), capture_output=True, text=True,
                             check=True).stdout
        return out.strip().split("=", 1)[1]

    def test_prometheus_scrapes_over_mtls(self):
        job = e2e.scrape_job("127.0.0.1:%d" % self.exporter.port)
        job["scheme"] = "https"
        job["tls_config"] = {
            "ca_file": os.path.join(self.work, "ca.pem"),
            "cert_file": os.path.join(self.work, "client.pem"),
            "key_file": os.path.join(self.work, "client.key"),
        }
        prom = e2e.Prometheus(self.work, [job])
        self.addCleanup(prom.close)
        e2e.wait_until(lambda: prom.query('up{job="stemedb_disk"} == 1'), 60,
                       "Prometheus scraping over mTLS (up == 1)")
        e2e.wait_until(
            lambda: prom.query('stemedb_disk_component_present'
                               '{job="stemedb_disk",component="wal"} == 1'),
            60, "a component series through Prometheus")

    def test_mtls_and_version_refusals(self):
        code, body, _ = self.curl_mtls("/metrics")
        self.assertEqual(code, 200)
        self.assertIn("stemedb_disk_component_present", body)
        # Without a client certificate: no HTTP answer at all.
        r = subprocess.run(["curl", "-sS", "--cacert", "ca.pem",
                            self.url + "/metrics"], cwd=self.work,
                           capture_output=True, text=True, timeout=60)
        self.assertNotEqual(r.returncode, 0)
        self.assertNotIn("stemedb_disk", r.stdout)
        # TLS 1.2 under min_version: TLS13: the handshake fails.
        code, body, err = self.curl_mtls("/metrics", "--tls-max", "1.2")
        self.assertEqual(code, 0, body)
        self.assertRegex(err, "(?i)protocol version|alert")
        # The configured extra header is on every response.
        r = subprocess.run(["curl", "-sS", "-I", "--cacert", "ca.pem",
                            "--cert", "client.pem", "--key", "client.key",
                            self.url + "/-/healthy"], cwd=self.work,
                           capture_output=True, text=True, timeout=60)
        self.assertIn("X-Content-Type-Options: nosniff", r.stdout)

    def test_client_certificate_without_an_allowed_san_is_refused(self):
        make_cert(self.work, "other", "/CN=intruder",
                  "subjectAltName=DNS:intruder\nextendedKeyUsage=clientAuth")
        r = subprocess.run(["curl", "-sS", "--cacert", "ca.pem", "--cert",
                            "other.pem", "--key", "other.key",
                            self.url + "/metrics"], cwd=self.work,
                           capture_output=True, text=True, timeout=60)
        self.assertNotIn("stemedb_disk", r.stdout)

    def test_replaced_certificate_is_served_without_restart(self):
        before = self.served_serial()
        self.assertEqual(before,
                         serial_of_pem(os.path.join(self.work, "server.pem")))
        make_cert(self.work, "server", "/CN=localhost",
                  "subjectAltName=DNS:localhost,IP:127.0.0.1")
        after = serial_of_pem(os.path.join(self.work, "server.pem"))
        self.assertNotEqual(before, after)
        # The exporter looks at the files at most once a second.
        e2e.wait_until(lambda: self.served_serial() == after, 30,
                       "the renewed certificate to be served")
        self.assertEqual(self.curl_mtls("/metrics")[0], 200)
        self.assertTrue(self.exporter.process.alive())

    def tls_connect(self, rcvbuf=None):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.load_verify_locations(os.path.join(self.work, "ca.pem"))
        context.load_cert_chain(os.path.join(self.work, "client.pem"),
                                os.path.join(self.work, "client.key"))
        raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        raw.settimeout(60)
        raw.connect(("127.0.0.1", self.exporter.port))
        conn = context.wrap_socket(raw, server_hostname="localhost")
        self.addCleanup(conn.close)
        return conn

    @staticmethod
    def read_response(conn, pending):
        """One HTTP response from conn (pending: bytes read ahead)."""
        while b"\r\n\r\n" not in pending:
            chunk = conn.recv(65536)
            if not chunk:
                raise AssertionError("connection closed in a header")
            pending += chunk
        head, _, rest = pending.partition(b"\r\n\r\n")
        length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
        while len(rest) < length:
            chunk = conn.recv(65536)
            if not chunk:
                raise AssertionError("connection closed in a body")
            rest += chunk
        return head, rest[:length], rest[length:]

    def test_tls_stream_pipelining_backpressure_and_split_records(self):
        # The exporter's own TLS stream (tls_stream.h), where ssl::stream
        # used to be: whole responses whatever the client's pace.
        get = (b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")
        # 1. Pipelined requests in one record, then a client that reads
        # nothing until all are sent, with a 4 KiB receive buffer: 300
        # responses (about 5 MB) cannot all fit the socket buffers, so the
        # server's sends must wait for the socket and go on.
        conn = self.tls_connect(rcvbuf=4096)
        # Go's TLS 1.3 order (AES-128-GCM first) wins over the client's,
        # which is OpenSSL's default (AES-256-GCM first).
        self.assertEqual(conn.cipher()[0], "TLS_AES_128_GCM_SHA256")
        conn.sendall(get * 3)
        pending = b""
        for _ in range(3):
            head, body, pending = self.read_response(conn, pending)
            self.assertIn(b"200 OK", head)
            self.assertGreater(len(body), 16384)  # more than one record
            self.assertIn(b"stemedb_disk_component_present", body)
            self.assertTrue(body.endswith(b"\n"))
        n = 300
        for _ in range(n):
            conn.sendall(get)
        for _ in range(n):
            head, body, pending = self.read_response(conn, pending)
            self.assertIn(b"200 OK", head)
            self.assertEqual(body.count(b"# TYPE stemedb_disk_scan_success "),
                             1)
        self.assertEqual(pending, b"")
        # 2. A request split into one TLS record per byte.
        conn = self.tls_connect()
        for i in range(len(get)):
            conn.sendall(get[i:i + 1])
        head, body, pending = self.read_response(conn, b"")
        self.assertIn(b"200 OK", head)
        self.assertIn(b"stemedb_disk_component_present", body)
        # 3. A client that leaves mid-response costs the server nothing.
        conn = self.tls_connect()
        conn.sendall(get * 50)
        conn.recv(1000)
        conn.close()
        self.assertEqual(self.curl_mtls("/metrics")[0], 200)
        self.assertTrue(self.exporter.process.alive())


def bcrypt(password):
    return crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH,
                                              rounds=2 ** 5))


class BasicAuthTest(e2e.WorkdirTestCase):

    WORKDIR_PREFIX = "e2e-auth-"

    def setUp(self):
        super().setUp()
        root = os.path.join(self.work, "root")
        e2e.make_demo_tree(root)
        self.web = os.path.join(self.work, "web.yml")
        self.write_web("prom", "s3cret")
        self.exporter = e2e.Exporter(
            self.work, ["--root", root, "--web.config.file", self.web],
            ready_timeout=0)
        self.addCleanup(self.exporter.close)

    def write_web(self, user, password):
        e2e.write_text(self.web + ".new", "basic_auth_users:\n  %s: %s\n" %
                       (user, bcrypt(password)))
        os.rename(self.web + ".new", self.web)

    def status(self, user=None, password=None):
        args = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}"]
        if user:
            args += ["-u", "%s:%s" % (user, password)]
        r = subprocess.run(args + [self.exporter.url + "/metrics"],
                           capture_output=True, text=True, timeout=60)
        return int(r.stdout)

    def test_prometheus_scrapes_with_basic_auth(self):
        self.assertEqual(self.status(), 401)
        self.assertEqual(self.status("prom", "wrong"), 401)
        self.assertEqual(self.status("nobody", "s3cret"), 401)
        self.assertEqual(self.status("prom", "s3cret"), 200)
        job = e2e.scrape_job("127.0.0.1:%d" % self.exporter.port)
        job["basic_auth"] = {"username": "prom", "password": "s3cret"}
        prom = e2e.Prometheus(self.work, [job])
        self.addCleanup(prom.close)
        e2e.wait_until(lambda: prom.query('up{job="stemedb_disk"} == 1'), 60,
                       "Prometheus scraping with basic auth (up == 1)")

    def test_sighup_rereads_the_web_config_and_keeps_it_when_bad(self):
        self.assertEqual(self.status("prom", "s3cret"), 200)
        e2e.write_text(self.web, "basic_auth_users:\n  prom: not-a-hash\n")
        self.exporter.process.signal(signal.SIGHUP)
        e2e.wait_until(lambda: "web config reload failed" in
                       self.exporter.log(), 30, "the failed reload logged")
        self.assertIn("web.yml:2:9: basic_auth_users.prom", self.exporter.log())
        self.assertEqual(self.status("prom", "s3cret"), 200)  # kept
        self.write_web("grafana", "n3w")
        self.exporter.process.signal(signal.SIGHUP)
        e2e.wait_until(lambda: "web config reloaded" in self.exporter.log(),
                       30, "the reload logged")
        self.assertEqual(self.status("prom", "s3cret"), 401)
        self.assertEqual(self.status("grafana", "n3w"), 200)


if __name__ == "__main__":
    e2e.run_main()
