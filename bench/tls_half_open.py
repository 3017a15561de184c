#!/usr/bin/env python3
"""Measures the exporter's memory under half-open TLS handshakes.

Each round opens N connections to an HTTPS exporter, sends on each a TLS
ClientHello minus its last bytes (no credentials needed), waits until the
exporter has read them all (its RSS stops growing), then closes them all.
After the last round it waits until the exporter holds no connection and
reports, from /proc/PID/status, the peak RSS (VmHWM) and the RSS a given
time after the last close (VmRSS). The same against plain HTTP with
--plain, for comparison. Only loopback is used.

Usage: bench/tls_half_open.py [--exporter PATH] [--connections 4000]
       [--rounds 3] [--settle 60] [--plain] [-- extra exporter flags]
Exits 1 when the targets (peak < 64 MiB, settled < 32 MiB) are missed.
"""
import argparse
import os
import resource
import socket
import ssl
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from serve import listening_port, make_tls  # noqa: E402  (same directory)

PEAK_TARGET_KIB = 64 * 1024
SETTLED_TARGET_KIB = 32 * 1024


def status_kib(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError("no %s in /proc/%d/status" % (field, pid))


def client_hello():
    """A real ClientHello (TLS 1.3 capable), as the first flight's bytes."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def wait_rss_stable(pid, quiet_s=1.0, deadline_s=60):
    """Until VmRSS has not grown for `quiet_s`: the server has read what was
    sent."""
    deadline = time.monotonic() + deadline_s
    last, since = status_kib(pid, "VmRSS"), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = status_kib(pid, "VmRSS")
        if now > last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return now
    return last


def open_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--exporter", default=os.path.join(
        REPO, "build/bin/stemedb_disk_exporter"))
    p.add_argument("--connections", type=int, default=4000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--cut", type=int, default=10,
                   help="bytes of the ClientHello never sent")
    p.add_argument("--settle", type=float, default=60,
                   help="seconds after the last close to read VmRSS")
    p.add_argument("--plain", action="store_true", help="HTTP, not HTTPS")
    p.add_argument("extra", nargs="*", help="more exporter flags")
    a = p.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    hello = client_hello()
    hello = hello[:len(hello) - a.cut]
    print("load average before: %s" % open("/proc/loadavg").read().strip())
    with tempfile.TemporaryDirectory(prefix="bench-half-open-") as work:
        root = os.path.join(work, "root")
        os.makedirs(os.path.join(root, "data"))
        argv = [a.exporter, "--root", root, "--web.listen-address",
                "127.0.0.1:0", "--web.max-connections",
                str(a.connections + 100)] + a.extra
        if not a.plain:
            argv += ["--web.config.file", make_tls(work)]
        log = os.path.join(work, "exporter.log")
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                                stderr=open(log, "w"), cwd=work)
        try:
            port = listening_port(log, proc)
            pid = proc.pid
            baseline_fds = open_fds(pid)
            print("start: VmRSS %d KiB" % status_kib(pid, "VmRSS"))
            for r in range(a.rounds):
                conns = []
                for _ in range(a.connections):
                    s = socket.create_connection(("127.0.0.1", port))
                    s.sendall(hello)
                    conns.append(s)
                loaded = wait_rss_stable(pid)
                for s in conns:
                    s.close()
                print("round %d: VmRSS %d KiB with %d half-open, VmHWM %d KiB"
                      % (r + 1, loaded, a.connections,
                         status_kib(pid, "VmHWM")))
            closed = time.monotonic()
            deadline = closed + 60
            while open_fds(pid) > baseline_fds and time.monotonic() < deadline:
                time.sleep(0.1)  # the server notices the closes
            print("all closed after %.1f s: VmRSS %d KiB" %
                  (time.monotonic() - closed, status_kib(pid, "VmRSS")))
            time.sleep(max(0.0, closed + a.settle - time.monotonic()))
            peak = status_kib(pid, "VmHWM")
            settled = status_kib(pid, "VmRSS")
            print("peak VmHWM %d KiB (%.1f MiB); VmRSS %.0f s after the last "
                  "close %d KiB (%.1f MiB)" % (peak, peak / 1024, a.settle,
                                                settled, settled / 1024))
            # And it still serves.
            if not a.plain:
                ctx = ssl.create_default_context()
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
                with ctx.wrap_socket(socket.create_connection(
                        ("127.0.0.1", port), timeout=10)) as s:
                    s.sendall(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n"
                              b"Connection: close\r\n\r\n")
                    print("then /-/healthy: %s" %
                          s.recv(100).split(b"\r\n")[0].decode())
        finally:
            proc.terminate()
            proc.wait(30)
    ok = peak < PEAK_TARGET_KIB and settled < SETTLED_TARGET_KIB
    print("targets: peak < %d KiB, settled < %d KiB: %s" %
          (PEAK_TARGET_KIB, SETTLED_TARGET_KIB, "met" if ok else "MISSED"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
