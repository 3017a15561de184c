#!/usr/bin/env python3
"""Benchmarks stemedb_disk_exporter against the anchors, in one run:

  1. Full scan of a make-tree.py tree: `stemedb_disk_exporter --once` against
     `du -s --block-size=1` and `gdu -n -p -s`: median wall time of N runs
     (warm page cache, runs interleaved) and peak RSS (GNU time's %M).
  2. Scrape serving: `wrk -t2 -c16 -d10s --latency` on /metrics of the
     exporter (serving that tree) and of prometheus-node-exporter (its
     default collectors) on the same machine.

Usage: bench/run.py [--tree DIR] [--files N] [--runs N] [--exporter PATH]
                    [--baseline PATH]
--baseline times a second exporter binary (e.g. the previous version) in the
same interleaved runs, so the two are compared on the same cache state.
The tree is created with ../shared/bench/make-tree.py when DIR is missing.
Only loopback is used. Prints a table and the ratios against the targets.
"""
import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def timed(cmd):
    """Runs cmd under GNU time; returns (wall seconds, peak RSS KiB)."""
    with tempfile.NamedTemporaryFile("r") as out:
        subprocess.run(["/usr/bin/time", "-f", "%e %M", "-o", out.name] + cmd,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       check=True)
        wall, rss = out.read().split()[-2:]
        return float(wall), int(rss)


def wait_ready(url, deadline_s=600):
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)  # polling a readiness endpoint, bounded by deadline
    sys.exit("bench: %s never became ready" % url)


def wrk(url):
    out = subprocess.run(["wrk", "-t2", "-c16", "-d10s", "--latency", url],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    m = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    p99 = float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, p99, int(errors.group(1)) if errors else 0


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tree", default="/tmp/bench-1m")
    p.add_argument("--files", type=int, default=1000000)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--exporter",
                   default=os.path.join(REPO, "build/bin/stemedb_disk_exporter"))
    p.add_argument("--baseline", help="a previous exporter to time alongside")
    a = p.parse_args()

    if not os.path.isdir(a.tree):
        make_tree = os.path.join(REPO, "..", "shared", "bench", "make-tree.py")
        print("bench: creating %d-file tree in %s" % (a.files, a.tree))
        subprocess.run([sys.executable, make_tree, a.tree, "--files",
                        str(a.files)], check=True)

    tools = {
        "stemedb --once": [a.exporter, "--once", "--root", a.tree],
        "du": ["du", "-s", "--block-size=1", a.tree],
        "gdu": ["gdu", "-n", "-p", "-s", a.tree],
    }
    if a.baseline:
        tools["baseline --once"] = [a.baseline, "--once", "--root", a.tree]
    for cmd in tools.values():  # warm the page and dentry caches
        timed(cmd)
    walls = {k: [] for k in tools}
    rss = {k: 0 for k in tools}
    for _ in range(a.runs):
        for name, cmd in tools.items():
            w, r = timed(cmd)
            walls[name].append(w)
            rss[name] = max(rss[name], r)
    print("\nFull scan of %s (%d runs, warm cache, median):" % (a.tree, a.runs))
    print("  %-16s %10s %12s" % ("tool", "wall s", "peak RSS MiB"))
    for name in tools:
        print("  %-16s %10.3f %12.1f" % (name, statistics.median(walls[name]),
                                        rss[name] / 1024))
    ratio_du = statistics.median(walls["stemedb --once"]) / statistics.median(walls["du"])
    ratio_gdu = statistics.median(walls["stemedb --once"]) / statistics.median(walls["gdu"])
    print("  stemedb/du wall = %.2f (target <= 0.50); stemedb/gdu wall = %.2f;"
          " stemedb peak RSS %.1f MiB (target <= 32)"
          % (ratio_du, ratio_gdu, rss["stemedb --once"] / 1024))
    if a.baseline:
        print("  stemedb/baseline wall = %.2f; baseline/du wall = %.2f"
              % (statistics.median(walls["stemedb --once"]) /
                 statistics.median(walls["baseline --once"]),
                 statistics.median(walls["baseline --once"]) /
                 statistics.median(walls["du"])))

    procs = []
    try:
        port = free_port()
        procs.append(subprocess.Popen(
            [a.exporter, "--root", a.tree, "--web.listen-address",
             "127.0.0.1:%d" % port, "--log.level", "warn"]))
        wait_ready("http://127.0.0.1:%d/-/ready" % port)
        ne_port = free_port()
        procs.append(subprocess.Popen(
            ["prometheus-node-exporter", "--web.listen-address",
             "127.0.0.1:%d" % ne_port], stderr=subprocess.DEVNULL))
        wait_ready("http://127.0.0.1:%d/metrics" % ne_port)
        ours = wrk("http://127.0.0.1:%d/metrics" % port)
        theirs = wrk("http://127.0.0.1:%d/metrics" % ne_port)
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
    print("\nScrape serving (wrk -t2 -c16 -d10s --latency on /metrics):")
    print("  %-16s %12s %10s %8s" % ("server", "requests/s", "p99 ms", "non-2xx"))
    print("  %-16s %12.0f %10.2f %8d" % ("stemedb", *ours))
    print("  %-16s %12.0f %10.2f %8d" % ("node_exporter", *theirs))
    print("  stemedb/node_exporter requests/s = %.1f (target >= 50); stemedb p99"
          " %.2f ms (target <= 5)" % (ours[0] / theirs[0], ours[1]))


if __name__ == "__main__":
    main()
