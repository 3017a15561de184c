#!/usr/bin/env python3
"""Benchmarks the exporter's HTTP front against node_exporter, in one run.

`wrk -t2 -c16 -d10s --latency` on /metrics of:
  1. prometheus-node-exporter (its default collectors), HTTP;
  2. stemedb_disk_exporter over HTTP and over HTTPS (TLS 1.3, keep-alive);
  3. the exporter again, HTTP and HTTPS, while 1,000 idle connections to it
     are open.
Prints requests/s, p99 latency, the ratio to node_exporter and the
targets (>= 250x node_exporter's req/s; p99 <= 2 ms; <= 5 ms with 1,000
idle). Only loopback is used. The machine's load average is printed first:
the figures mean little on a busy machine.

Usage: bench/serve.py [--exporter PATH] [--duration 10s] [--runs N]
"""
import argparse
import os
import re
import resource
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE))
from run import free_port, wait_ready  # noqa: E402  (same directory)


def wrk(url, duration):
    out = subprocess.run(["wrk", "-t2", "-c16", "-d" + duration, "--latency",
                          url], capture_output=True, text=True,
                         check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    m = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    p99 = float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return rps, p99, (int(errors.group(1)) if errors else 0,
                      socket_errors.group(1) if socket_errors else "")


def start(argv, log):
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                            stderr=open(log, "w"))


def listening_port(log, proc):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with open(log) as f:
            m = re.search(r"msg=listening .*\bport=(\d+)", f.read())
        if m:
            return int(m.group(1))
        if proc.poll() is not None:
            sys.exit("bench: exporter exited: " + open(log).read())
        time.sleep(0.05)  # polling a log line, bounded by the deadline
    sys.exit("bench: no listening line in " + log)


def make_tls(work):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                    "server.key", "-out", "server.pem", "-days", "2", "-subj",
                    "/CN=localhost", "-addext",
                    "subjectAltName=IP:127.0.0.1"],
                   cwd=work, check=True, capture_output=True)
    path = os.path.join(work, "web.yml")
    with open(path, "w") as f:
        f.write("tls_server_config:\n  cert_file: server.pem\n"
                "  key_file: server.key\n")
    return path


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--exporter", default=os.path.join(
        REPO, "build/bin/stemedb_disk_exporter"))
    p.add_argument("--duration", default="10s")
    p.add_argument("--runs", type=int, default=1)
    a = p.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    print("load average before: %s" % open("/proc/loadavg").read().strip())
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as work:
        root = os.path.join(work, "root")
        for d in ("data/wal", "data/db", "backups", "logs", "data/tmp"):
            os.makedirs(os.path.join(root, d))
        web = make_tls(work)
        procs = []
        try:
            node_port = free_port()
            procs.append(start(["prometheus-node-exporter",
                                "--web.listen-address=127.0.0.1:%d" %
                                node_port], os.path.join(work, "node.log")))
            node = "http://127.0.0.1:%d/metrics" % node_port
            wait_ready(node)
            logs = {}
            for name, extra in (("http", []),
                                ("https", ["--web.config.file", web])):
                logs[name] = os.path.join(work, name + ".log")
                procs.append(start([a.exporter, "--root", root,
                                    "--web.listen-address", "127.0.0.1:0"] +
                                   extra, logs[name]))
            ports = {n: listening_port(l, procs[-1 if n == "https" else -2])
                     for n, l in logs.items()}
            urls = {"http": "http://127.0.0.1:%d/metrics" % ports["http"],
                    "https": "https://127.0.0.1:%d/metrics" % ports["https"]}
            wait_ready(urls["http"])
            rows = []
            for run in range(a.runs):
                n_rps, n_p99, n_err = wrk(node, a.duration)
                rows.append(("node_exporter", run, n_rps, n_p99, n_err, None))
                for name in ("http", "https"):
                    rps, p99, err = wrk(urls[name], a.duration)
                    rows.append(("exporter " + name, run, rps, p99, err,
                                 rps / n_rps))
                idle = []
                for name in ("http", "https"):
                    for _ in range(1000):
                        idle.append(socket.create_connection(
                            ("127.0.0.1", ports[name])))
                for name in ("http", "https"):
                    rps, p99, err = wrk(urls[name], a.duration)
                    rows.append(("exporter %s +1000 idle" % name, run, rps,
                                 p99, err, rps / n_rps))
                for s in idle:
                    s.close()
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(30)
    print("load average after: %s" % open("/proc/loadavg").read().strip())
    print("%-28s %3s %12s %9s %9s %s" % ("target", "run", "req/s", "p99 ms",
                                         "x node", "errors"))
    for name, run, rps, p99, err, ratio in rows:
        print("%-28s %3d %12.0f %9.3f %9s %s" %
              (name, run, rps, p99, "" if ratio is None else "%.0f" % ratio,
               err))
    print("targets: >= 250x node_exporter req/s; p99 <= 2 ms (HTTP, HTTPS); "
          "p99 <= 5 ms with 1,000 idle connections")


if __name__ == "__main__":
    main()
