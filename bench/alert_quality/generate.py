#!/usr/bin/env python3
"""Synthetic disk history of a fleet, in OpenMetrics text, with labelled
incidents.

Each node runs both the StemeDB disk exporter (job "stemedb_disk", the
families rules/stemedb-disk.rules.yml reads) and node_exporter (job "node",
node_filesystem_* for the same filesystems), scraped every --step seconds;
`up` is written for both jobs as Prometheus would record it. See fleet.py
for the scenarios.

The history is written in windows (one OpenMetrics file each, every series
sorted by time, ending in `# EOF`), aligned to --window seconds since the
epoch so that `promtool tsdb create-blocks-from openmetrics
--max-block-duration` turns each window into one block and no file holds
the whole month. The ground truth (JSON) lists each incident: node, kind,
start, end and, for fill scenarios, full (unix seconds).

Usage: generate.py --out DIR [--nodes 30] [--days 30] [--step 60]
                   [--start 1767225600] [--seed 17]
"""
import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import fleet  # noqa: E402

# promtool's block ranges are 2h * 3^k; 162h is the largest that fits a
# week, so a 162h window is exactly one block.
WINDOW = 162 * 3600


def build_fleet(nodes, days, step, start, seed, kinds=None):
    kinds = kinds or fleet.fleet_kinds(nodes)
    return [fleet.Node(i + 1, k, start, step, days, seed * 1000 + i)
            for i, k in enumerate(kinds)]


def write_window(nodes, times, path):
    """Advances every node through `times` and writes their samples,
    series by series (node by node: nodes are independent), to path.
    Returns the number of samples. Every value is a byte count, a count,
    a timestamp or 0/1, so it is written as an integer."""
    count = 0
    with open(path, "w") as f:
        for n in nodes:
            series = {}  # (family, labels) -> ["value ts", ...]
            for t in times:
                n.step_to(t)
                for fam, labels, v in n.samples(t):
                    lst = series.get((fam, labels))
                    if lst is None:
                        lst = series[(fam, labels)] = []
                    lst.append("%d %d" % (round(v), t))
            for (fam, labels), vals in sorted(series.items()):
                head = "%s{%s} " % (fam, labels)
                count += len(vals)
                f.write(head + ("\n" + head).join(vals) + "\n")
        f.write("# EOF\n")
    return count


def windows(start, end, step):
    """[(first, last)] sample times per WINDOW-aligned window."""
    out = []
    t = start
    while t < end:
        w_end = min(end, (t // WINDOW + 1) * WINDOW)
        out.append((t, w_end))
        t = w_end
    return [(a, list(range(a, b, step))) for a, b in out]


def generate(out_dir, nodes, days, step, start, seed, kinds=None,
             on_window=None):
    """Writes the windows (calling on_window(path) after each, which may
    load and delete it) and ground-truth.json. Returns the truth dict."""
    os.makedirs(out_dir, exist_ok=True)
    fl = build_fleet(nodes, days, step, start, seed, kinds)
    end = start + days * fleet.DAY
    total = 0
    for i, (a, times) in enumerate(windows(start, end, step)):
        path = os.path.join(out_dir, "history-%02d.om" % i)
        total += write_window(fl, times, path)
        if on_window:
            on_window(path)
    incidents = []
    for n in fl:
        for inc in n.incidents:
            inc = dict(inc)
            inc.setdefault("end", end)
            incidents.append(inc)
    truth = {
        "start": start, "end": end, "step": step, "seed": seed,
        "samples": total,
        "nodes": [{"node": n.name, "kind": n.kind, "start": n.start,
                   "size_bytes": n.size} for n in fl],
        "scenarios": fleet.SCENARIOS,
        "incidents": sorted(incidents, key=lambda x: (x["start"],
                                                      x["node"])),
    }
    with open(os.path.join(out_dir, "ground-truth.json"), "w") as f:
        json.dump(truth, f, indent=1, sort_keys=True)
    return truth


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--nodes", type=int, default=30)
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--step", type=int, default=60)
    p.add_argument("--start", type=int, default=1767225600)
    p.add_argument("--seed", type=int, default=17)
    a = p.parse_args()
    truth = generate(a.out, a.nodes, a.days, a.step, a.start, a.seed)
    print("%d samples, %d incidents" % (truth["samples"],
                                        len(truth["incidents"])))


if __name__ == "__main__":
    main()
