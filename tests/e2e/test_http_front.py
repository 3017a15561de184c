#!/usr/bin/env python3
"""e2e_http_front: the HTTP front holds against idle and slow clients.

Truth: the kernel (sockets closing, /proc/PID/status of the exporter), curl
(gzip, methods), the exporter's own exit status and stderr. What must hold:
1,000 idle and 200 slow connections do not blind /metrics, the exporter's
RSS stays under 64 MiB, slow ones are closed at the header timeout, SIGTERM
ends the process within a second; the connection limit closes the oldest
idle connection first; IPv6; systemd socket activation; every bad web config
in tests/data/bad-web-configs is refused at start with its message.
"""
import gzip
import os
import re
import resource
import selectors
import signal
import socket
import subprocess
import time
import unittest

import e2e_lib as e2e

IDLE = 1000
SLOW = 200
HEADER_TIMEOUT_S = 2
REQUEST = b"GET /metrics HTTP/1.1\r\nHost: x\r\nUser-Agent: slow\r\n\r\n"


def raise_fd_limit(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, need), hard))
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        raise AssertionError("RLIMIT_NOFILE hard limit %d < %d" % (soft, need))


def connect(port, host="127.0.0.1", family=socket.AF_INET):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect((host, port))
    return s


def closed_by_peer(sock):
    """True when the peer closed `sock` (recv gives EOF or a reset); does not
    wait."""
    timeout = sock.gettimeout()
    sock.setblocking(False)  # with a timeout, Python's recv would poll
    try:
        return sock.recv(4096) == b""
    except BlockingIOError:  # nothing to read: still open
        return False
    except ConnectionResetError:
        return True
    finally:
        sock.settimeout(timeout)


def vm_hwm_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM in /proc/%d/status" % pid)


def curl(*args):
    return subprocess.run([e2e.require_tool("curl"), "-sS"] + list(args),
                          capture_output=True, timeout=60)


def without_process_metrics(text):
    # process_* values move between two scrapes; the rest is one render.
    return "\n".join(l for l in text.splitlines() if "process_" not in l)


class HttpFrontTest(e2e.WorkdirTestCase):

    WORKDIR_PREFIX = "e2e-front-"

    def setUp(self):
        super().setUp()
        self.root = os.path.join(self.work, "root")
        e2e.make_demo_tree(self.root)

    def start(self, *extra, name="exporter"):
        exporter = e2e.Exporter(self.work, ["--root", self.root] + list(extra),
                                name=name)
        self.addCleanup(exporter.close)
        return exporter

    def test_idle_and_slow_clients_do_not_blind_metrics(self):
        raise_fd_limit(IDLE + SLOW + 256)
        exporter = self.start(
            "--web.read-header-timeout", "%ds" % HEADER_TIMEOUT_S,
            "--web.idle-timeout", "10m", "--web.max-connections", "5000")
        pid = exporter.process.proc.pid
        idle = [connect(exporter.port) for _ in range(IDLE)]
        self.addCleanup(lambda: [s.close() for s in idle])
        slow = [connect(exporter.port) for _ in range(SLOW)]
        self.addCleanup(lambda: [s.close() for s in slow])
        sel = selectors.DefaultSelector()
        first_byte = {}
        sent = {s: 0 for s in slow}
        closed_after = {}
        for s in slow:
            sel.register(s, selectors.EVENT_READ)
        scrapes = 0
        deadline = time.monotonic() + 60
        # One header byte a second per slow connection; scrape meanwhile;
        # note when the server closes each slow connection.
        while len(closed_after) < SLOW:
            self.assertLess(time.monotonic(), deadline,
                            "slow connections still open: %d of %d closed" %
                            (len(closed_after), SLOW))
            now = time.monotonic()
            for s in slow:
                if s in closed_after or sent[s] >= len(REQUEST):
                    continue
                try:
                    s.send(REQUEST[sent[s]:sent[s] + 1])
                except OSError:
                    continue  # closed meanwhile; the selector reports it
                first_byte.setdefault(s, now)
                sent[s] += 1
            # Twenty scrapes while every slow one is mid-header, then one a
            # second: each must answer.
            for _ in range(20 if scrapes == 0 else 1):
                status, body, _ = e2e.http_get(exporter.url + "/metrics",
                                               timeout=10)
                self.assertEqual(status, 200)
                self.assertIn("stemedb_disk_component_present", body)
                scrapes += 1
            for key, _ in sel.select(timeout=1):
                s = key.fileobj
                if closed_by_peer(s):
                    closed_after[s] = time.monotonic() - first_byte[s]
                    sel.unregister(s)
        self.assertGreaterEqual(scrapes, 20)
        # Each sent too little to finish its header: never answered early.
        self.assertTrue(all(sent[s] < len(REQUEST) for s in slow))
        self.assertGreaterEqual(min(closed_after.values()),
                                HEADER_TIMEOUT_S - 0.1)
        # The idle ones are still open (their timeout is 10 minutes).
        self.assertEqual([s for s in idle if closed_by_peer(s)], [])
        for _ in range(5):
            self.assertEqual(exporter.get("/metrics")[0], 200)
        hwm = vm_hwm_kib(pid)
        print("exporter VmHWM %d KiB with %d idle connections, %d scrapes; "
              "slow closed after %.2f-%.2f s" %
              (hwm, IDLE, scrapes, min(closed_after.values()),
               max(closed_after.values())))
        self.assertLess(hwm, 64 * 1024)
        # SIGTERM with 1,000 connections open: gone within a second.
        t0 = time.monotonic()
        exporter.process.signal(signal.SIGTERM)
        code = exporter.process.proc.wait(timeout=30)
        took = time.monotonic() - t0
        print("exit after SIGTERM: %.3f s, status %d" % (took, code))
        self.assertEqual(code, 0)
        self.assertLess(took, 1.0)

    def test_connection_limit_closes_the_oldest_idle_first(self):
        # With two I/O threads the connections are dealt between them, and
        # the victim lives on another thread than the accepting one.
        for threads in (1, 2):
            with self.subTest(io_threads=threads):
                self.check_connection_limit(threads)

    def check_connection_limit(self, threads):
        limit = 20
        exporter = self.start("--web.max-connections", str(limit),
                              "--web.io-threads", str(threads),
                              name="exporter-%d" % threads)
        held = [connect(exporter.port) for _ in range(limit)]
        self.addCleanup(lambda: [s.close() for s in held])
        # Every one is accepted and idle once each has answered a request.
        for s in held[1:]:
            s.sendall(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertIn(b"200 OK", s.recv(4096))
        status, body, _ = e2e.http_get(exporter.url + "/metrics", timeout=10)
        self.assertEqual(status, 200)
        # held[0] never sent a byte and has been idle longest: it went.
        e2e.wait_until(lambda: closed_by_peer(held[0]), 30,
                       "the oldest idle connection to be closed")
        still_open = [i for i, s in enumerate(held[1:], 1)
                      if closed_by_peer(s)]
        self.assertEqual(still_open, [])

    def test_methods_paths_gzip_head(self):
        exporter = self.start()
        url = exporter.url
        for path in ("/-/healthyfoo", "/-/ready/x", "/metricsfoo",
                     "/metrics/x", "/nope"):
            self.assertEqual(exporter.get(path)[0], 404, path)
        for path in ("/", "/-/healthy", "/-/ready", "/metrics",
                     "/metrics?x=1"):
            self.assertEqual(exporter.get(path)[0], 200, path)
        r = curl("-i", "-X", "POST", url + "/metrics")
        head = r.stdout.decode()
        self.assertIn("HTTP/1.1 405", head)
        self.assertIn("Allow: GET, HEAD", head)
        r = curl("-I", url + "/metrics")
        self.assertIn("HTTP/1.1 200", r.stdout.decode())
        self.assertIn("Content-Length: ", r.stdout.decode())
        # gzip: curl decompresses; the text is the plain one.
        plain = curl(url + "/metrics").stdout.decode()
        r = curl("--compressed", "-D", "-", url + "/metrics")
        head, _, body = r.stdout.decode().partition("\r\n\r\n")
        self.assertIn("Content-Encoding: gzip", head)
        self.assertEqual(without_process_metrics(body),
                         without_process_metrics(plain))
        # And the raw bytes are gzip.
        raw = curl("-H", "Accept-Encoding: gzip", url + "/metrics").stdout
        self.assertEqual(raw[:2], b"\x1f\x8b")
        self.assertIn(b"stemedb_disk_", gzip.decompress(raw))
        raw = curl("-H", "Accept-Encoding: gzip;q=0", url + "/metrics").stdout
        self.assertTrue(raw.startswith(b"# HELP"))

    def test_http_conformance(self):
        # RFC 9112 and 9110 as a client or a proxy may hold the server to:
        # each answer read off a raw socket, refusals before auth.
        exporter = self.start()

        def exchange(request):
            """(status line, head, body, closed after the reply)."""
            with connect(exporter.port) as s:
                s.sendall(request)
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = s.recv(65536)
                    if not chunk:
                        raise AssertionError("closed without a reply to %r"
                                             % request)
                    data += chunk
                head, _, body = data.partition(b"\r\n\r\n")
                length = int(re.search(rb"Content-Length: (\d+)",
                                       head).group(1))
                while len(body) < length:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    body += chunk
                s.settimeout(30)
                try:
                    closed = s.recv(1) == b""
                except ConnectionResetError:
                    closed = True
                except socket.timeout:
                    closed = False
                head = head.decode()
                return head.split("\r\n")[0], head, body, closed

        line, _, body, _ = exchange(
            b"GET http://127.0.0.1/metrics HTTP/1.1\r\nHost: x\r\n"
            b"Connection: close\r\n\r\n")
        self.assertEqual(line, "HTTP/1.1 200 OK")
        self.assertIn(b"stemedb_disk_", body)
        line, _, _, closed = exchange(b"GET /metrics HTTP/1.1\r\n\r\n")
        self.assertEqual(line, "HTTP/1.1 400 Bad Request")
        self.assertTrue(closed)
        line, _, _, _ = exchange(
            b"GET /metrics HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
        self.assertEqual(line, "HTTP/1.1 400 Bad Request")
        for ae in (b"gzip;q=0", b"gzip;q=0, *", b"gzip;Q=0", b"*;q=0"):
            line, head, body, _ = exchange(
                b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close"
                b"\r\nAccept-Encoding: " + ae + b"\r\n\r\n")
            self.assertEqual(line, "HTTP/1.1 200 OK", ae)
            self.assertNotIn("Content-Encoding", head, ae)
            self.assertTrue(body.startswith(b"# HELP"), ae)
        line, _, _, closed = exchange(
            b"POST /metrics HTTP/1.1\r\nHost: x\r\n"
            b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n")
        self.assertEqual(line, "HTTP/1.1 501 Not Implemented")
        self.assertTrue(closed)

    def test_port_taken_names_the_address(self):
        exporter = self.start()
        address = "127.0.0.1:%d" % exporter.port
        r = subprocess.run([e2e.exporter_binary(), "--root", self.root,
                            "--web.listen-address", address],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--web.listen-address: cannot listen on " + address,
                      r.stderr)
        self.assertIn("in use", r.stderr)

    def test_ipv6_and_several_listen_addresses(self):
        if not e2e_has_ipv6():
            print("skipped: this kernel has no IPv6 (socket(AF_INET6) + "
                  "bind ::1 failed)")
            raise unittest.SkipTest("no IPv6")
        exporter = self.start("--web.listen-address", "[::1]:0")
        ports = exporter_ports(exporter)
        self.assertEqual(len(ports), 2)
        status, body, _ = e2e.http_get("http://[::1]:%d/metrics" % ports[1])
        self.assertEqual(status, 200)
        self.assertIn("stemedb_disk_component_present", body)
        # And the real Prometheus scrapes it over IPv6.
        prom = e2e.Prometheus(self.work, [e2e.scrape_job(
            "[::1]:%d" % ports[1])])
        self.addCleanup(prom.close)
        e2e.wait_until(lambda: prom.query('up{job="stemedb_disk"} == 1'),
                       60, "Prometheus scraping [::1]")

    def test_dual_stack_any_address(self):
        # ":0" is every interface: IPv4 and, where the host has it, IPv6.
        process = e2e.Process([e2e.exporter_binary(), "--root", self.root,
                               "--web.listen-address", ":0"],
                              os.path.join(self.work, "any.log"))
        self.addCleanup(process.close)
        port = int(e2e.wait_until(lambda: _port_in(process.log()), 30,
                                  "listening line"))
        self.assertEqual(
            e2e.http_get("http://127.0.0.1:%d/-/healthy" % port)[0], 200)
        if e2e_has_ipv6():
            self.assertEqual(
                e2e.http_get("http://[::1]:%d/-/healthy" % port)[0], 200)
        else:
            print("IPv6 half skipped: no IPv6 on this kernel")

    def test_every_thread_runs_as_batch(self):
        # Background work beside the database: no thread of a serving
        # exporter may preempt the thread it wakes (main.cc says why).
        exporter = self.start()
        pid = exporter.process.proc.pid
        tasks = os.listdir("/proc/%d/task" % pid)
        self.assertGreaterEqual(len(tasks), 3)  # main, walker, I/O, bcrypt
        for tid in tasks:
            self.assertEqual(os.sched_getscheduler(int(tid)), os.SCHED_BATCH,
                             "thread %s" % tid)

    def test_systemd_socket_activation(self):
        # Hand the exporter a listening socket as systemd does: fd 3,
        # LISTEN_FDS=1, LISTEN_PID set to the child's pid (by a tiny shell).
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        port = listener.getsockname()[1]
        log = os.path.join(self.work, "systemd.log")
        fd = listener.fileno()
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                ["sh", "-c", 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$@"', "sh",
                 e2e.exporter_binary(), "--root", self.root,
                 "--web.systemd-socket"],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                pass_fds=(3,), preexec_fn=lambda: os.dup2(fd, 3))
        self.addCleanup(stop, proc)
        listener.close()

        def serving():
            if proc.poll() is not None:
                with open(log) as f:
                    raise AssertionError("exited %s: %s" %
                                         (proc.returncode, f.read()))
            url = "http://127.0.0.1:%d/-/healthy" % port
            return e2e.http_get(url, timeout=5)[0] == 200

        e2e.wait_until(serving, 30, "serving on the socket systemd passed")

        def logged():
            with open(log) as f:
                return "address=systemd port=%d" % port in f.read()

        e2e.wait_until(logged, 30, "the listening line naming the socket")

    def test_bad_server_flags_name_the_flag(self):
        for flag, value, message in (
                ("--web.io-threads", "0", "must be from 1 to 16"),
                ("--web.io-threads", "17", "must be from 1 to 16"),
                ("--web.max-connections", "0", "must be at least 1")):
            r = subprocess.run([e2e.exporter_binary(), "--root", self.root,
                                "--web.listen-address", "127.0.0.1:0", flag,
                                value], capture_output=True, text=True,
                               timeout=60)
            with self.subTest(flag=flag, value=value):
                self.assertNotEqual(r.returncode, 0)
                self.assertIn(flag + ": " + message, r.stderr)

    def test_bad_web_configs_are_refused_at_start(self):
        corpus = os.path.join(e2e.source_dir(), "tests", "data",
                              "bad-web-configs")
        names = sorted(n for n in os.listdir(corpus) if n.endswith(".yml"))
        self.assertGreaterEqual(len(names), 20)
        for name in names:
            path = os.path.join(corpus, name)
            with open(path) as f:
                first = f.readline()
            self.assertTrue(first.startswith("# expect: "), name)
            expected = first[len("# expect: "):].rstrip("\n")
            sep = ":" if expected[0].isdigit() else ": "
            r = subprocess.run([e2e.exporter_binary(), "--root", self.root,
                                "--web.listen-address", "127.0.0.1:0",
                                "--web.config.file", path],
                               capture_output=True, text=True, timeout=60)
            with self.subTest(name=name):
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn("--web.config.file: " + path + sep + expected,
                              r.stderr)


def stop(proc):
    if proc.poll() is None:
        proc.terminate()
    proc.wait(30)


def _port_in(log):
    m = re.search(r"msg=listening .*\bport=(\d+)", log)
    return m.group(1) if m else None


def exporter_ports(exporter):
    m = re.search(r"msg=listening .*\bport=([\d,]+)", exporter.log())
    return [int(p) for p in m.group(1).split(",")]


def e2e_has_ipv6():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


if __name__ == "__main__":
    e2e.run_main()
