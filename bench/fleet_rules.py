#!/usr/bin/env python3
"""Rule-group evaluation time of the generated rules for a fleet of N
instances (default 30 and 1000), by synthetic series.

A fake fleet: one real `stemedb_disk_exporter --once` exposition of a demo
tree, copied N times with instance="node-NNNN" and job="stemedb_disk"
labels (every filesystem's avail bytes varied per instance, a tenth of them
below the critical threshold) and served from one loopback HTTP endpoint
that Prometheus scrapes with honor_labels, so each instance's series are
as fresh as a real scrape's. Prometheus loads the rules stemedb_rulegen
writes from the default config (evaluation every 5 s); the script waits
until every instance is in the TSDB and the groups have evaluated over it,
then reports, per group, the median and maximum of `evaluationTime` from
/api/v1/rules over 10 evaluations. (One target, so `up` has one series, not
N: the exporter-health alerts see one instance here.)

Usage: bench/fleet_rules.py [--instances 30,1000] [--exporter PATH]
                            [--rulegen PATH]
"""
import argparse
import http.server
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
import e2e_lib as e2e  # noqa: E402

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$")


def fleet_exposition(template, n):
    out = []
    for i in range(n):
        labels = 'instance="node-%04d",job="stemedb_disk"' % i
        for line in template.splitlines():
            if line.startswith("#"):
                if i == 0:
                    out.append(line)
                continue
            m = _SAMPLE.match(line)
            if not m:
                continue
            name, _, inner, value = m.groups()
            if name == "stemedb_disk_filesystem_avail_bytes":
                # Spread the fleet: a tenth of it below 10 % available.
                value = repr(float(value) * (0.05 if i % 10 == 0 else 0.9))
            inner = labels + ("," + inner if inner else "")
            out.append("%s{%s} %s" % (name, inner, value))
    # Families must be contiguous in the text format: sort by name.
    helps = [l for l in out if l.startswith("#")]
    samples = sorted((l for l in out if not l.startswith("#")),
                     key=lambda l: l.split("{", 1)[0])
    by_family = {}
    for l in samples:
        by_family.setdefault(l.split("{", 1)[0], []).append(l)
    text = []
    for h in helps:
        if h.startswith("# TYPE "):
            fam = h.split()[2]
            text.append(h)
            for suffix in ("", "_total"):
                text.extend(by_family.pop(fam + suffix, []))
    for rest in by_family.values():
        text.extend(rest)
    return ("\n".join(text) + "\n").encode()


def serve(body):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def bench(n, template, rules, work):
    body = fleet_exposition(template, n)
    server = serve(body)
    prom = e2e.Prometheus(
        work, [{"job_name": "fake_fleet", "honor_labels": True,
                "scrape_interval": "5s", "scrape_timeout": "5s",
                "static_configs": [{"targets": ["127.0.0.1:%d" %
                                                server.server_port]}]}],
        rule_files=[rules], interval="5s", name="bench%d" % n)
    try:
        e2e.wait_until(lambda: prom.query(
            'count(count by (instance) (stemedb_disk_filesystem_avail_bytes))'
            ' == %d' % n), 120, "%d instances in the TSDB" % n)

        seen = {}

        def ten_evaluations():
            for g in prom.api("/api/v1/rules")["groups"]:
                seen.setdefault(g["name"], {})[g["lastEvaluation"]] = \
                    g["evaluationTime"]
            return all(len(v) >= 11 for v in seen.values())
        e2e.wait_until(ten_evaluations, 180, "10 rule evaluations")
        result = {}
        for name, evals in seen.items():
            times = [t for _, t in sorted(evals.items())][1:]  # skip warm-up
            result[name] = (statistics.median(times), max(times))
        # Pending or firing: the default `for`s outlast the measurement.
        firing = len(prom.api("/api/v1/alerts")["alerts"])
        return len(body), result, firing
    finally:
        prom.close()
        server.shutdown()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--instances", default="30,1000")
    ap.add_argument("--exporter",
                    default=os.path.join(REPO, "build", "bin",
                                         "stemedb_disk_exporter"))
    ap.add_argument("--rulegen",
                    default=os.path.join(REPO, "build", "bin",
                                         "stemedb_rulegen"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as work:
        tree = os.path.join(work, "stemedb")
        subprocess.run([sys.executable, os.path.join(REPO, "scripts",
                                                     "demo-tree.py"), tree],
                       check=True)
        template = subprocess.run([args.exporter, "--once", "--root", tree],
                                  check=True, capture_output=True,
                                  text=True).stdout
        gen = os.path.join(work, "gen")
        subprocess.run([args.rulegen, "--out", gen], check=True)
        rules = os.path.join(gen, "rules", "stemedb-disk.rules.yml")
        print("instances  exposition  group                 "
              "eval median   eval max   active alerts")
        for n in [int(x) for x in args.instances.split(",")]:
            size, result, firing = bench(n, template, rules, work)
            for name, (med, mx) in sorted(result.items()):
                print("%9d  %8.1f MB  %-20s  %8.2f ms  %8.2f ms   %d" % (
                    n, size / 1e6, name, med * 1e3, mx * 1e3, firing))


if __name__ == "__main__":
    main()
