#!/usr/bin/env python3
"""Alert-quality benchmark: three rule sets over one synthetic month of a
fleet's disk history, in the real Prometheus.

1. Regenerates the generated rules from the config with stemedb_rulegen
   (so the benchmark follows the generator), next to the runbook's three
   alerts as written (rules/runbook.rules.yml) and node-mixin's filesystem
   alerts (rules/node-mixin.rules.yml).
2. Generates the history (generate.py, fleet.py) window by window and
   loads each window with `promtool tsdb create-blocks-from openmetrics`.
3. Serves the TSDB with Prometheus, reads the rules back as it parsed
   them, backfills the recording rules that alerts read (`promtool tsdb
   create-blocks-from rules`), evaluates every alert expression with range
   queries at the scrape step and applies `for` itself (score.py).
4. Writes the report (Markdown) and the figures (JSON).

Usage: run.py [--out report.md] [--json figures.json] [--nodes 30]
              [--days 30] [--step 60] [--kinds k1,k2,...] [--seed 17]
              [--config config/default.yaml] [--rulegen PATH]
              [--workdir DIR] [--keep]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import generate  # noqa: E402
import prom  # noqa: E402
import report  # noqa: E402
import score  # noqa: E402

# The rule sets besides the generated one, in report order.
FIXED_RULE_SETS = (
    ("runbook", os.path.join(HERE, "rules", "runbook.rules.yml")),
    ("node-mixin", os.path.join(HERE, "rules", "node-mixin.rules.yml")),
)


def regenerate_rules(rulegen, config, workdir):
    path = os.path.join(workdir, "stemedb-disk.rules.yml")
    subprocess.run([rulegen, "--config", config, "--rules", path],
                   check=True)
    return path


def default_rulegen():
    env = os.environ.get("STEMEDB_RULEGEN")
    return env or os.path.join(REPO, "build", "bin", "stemedb_rulegen")


def evaluate(server, rules, truth, rule_sets):
    """{rule set: [{"rule", "severity", "labels", "intervals"}]}."""
    files = {os.path.realpath(path): name for name, path in rule_sets}
    out = {name: [] for name, _ in rule_sets}
    step = truth["step"]
    for r in rules:
        if r["type"] != "alerting":
            continue
        ruleset = files[os.path.realpath(r["file"])]
        active = server.active(r["query"], truth["start"],
                               truth["end"] - step, step)
        for labels, times in sorted(active.items()):
            intervals = score.firing_intervals(sorted(times), r["for"], step)
            if intervals:
                out[ruleset].append({
                    "rule": r["name"],
                    "severity": r["labels"].get("severity", ""),
                    "labels": dict(labels), "intervals": intervals})
    return out


def run(args):
    workdir = args.workdir or tempfile.mkdtemp(prefix="alert-quality-")
    os.makedirs(workdir, exist_ok=True)
    timing = {}
    t = time.monotonic()
    generated = regenerate_rules(args.rulegen, args.config, workdir)
    rule_sets = (("generated", generated),) + FIXED_RULE_SETS
    tsdb = os.path.join(workdir, "tsdb")
    load = [0.0]

    def on_window(path):
        t0 = time.monotonic()
        prom.load_openmetrics(path, tsdb)
        os.remove(path)
        load[0] += time.monotonic() - t0

    kinds = args.kinds.split(",") if args.kinds else None
    truth = generate.generate(os.path.join(workdir, "history"), args.nodes
                              if not kinds else len(kinds), args.days,
                              args.step, args.start, args.seed, kinds,
                              on_window)
    timing["generate_and_load"] = time.monotonic() - t
    timing["load"] = load[0]
    t = time.monotonic()
    server = prom.Server(workdir, tsdb, [p for _, p in rule_sets])
    try:
        loaded = server.count_samples(truth["start"], truth["end"])
        rules = server.rules()
        levels = prom.referenced_recordings(rules)
        if levels:
            prom.backfill_recordings(server, levels, truth["start"],
                                     truth["end"], truth["step"])
        timing["backfill_recordings"] = time.monotonic() - t
        t = time.monotonic()
        alerts = evaluate(server, rules, truth, rule_sets)
        timing["evaluate"] = time.monotonic() - t
    finally:
        server.close()
    results = {name: score.score(a, truth) for name, a in alerts.items()}
    figures = {
        "truth": truth, "timing_seconds": timing,
        "tsdb_bytes": prom.dir_bytes(tsdb), "loaded_samples": loaded,
        "recordings_backfilled": [r["name"] for lv in levels for r in lv],
        "results": results,
        "alerts": alerts,
        "targets": [{"target": n, "passed": p, "detail": d} for n, p, d in
                    score.targets(results["generated"],
                                  results["node-mixin"])],
    }
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return figures


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default="-", help="Markdown report ('-': "
                   "standard output)")
    p.add_argument("--json", help="figures as JSON")
    p.add_argument("--nodes", type=int, default=30)
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--step", type=int, default=60,
                   help="scrape and evaluation step, seconds")
    p.add_argument("--start", type=int, default=1767225600,
                   help="unix time of the first sample (2026-01-01)")
    p.add_argument("--seed", type=int, default=17)
    p.add_argument("--kinds", help="scenario per node, comma-separated "
                   "(default: one of each, then healthy nodes)")
    p.add_argument("--config", default=os.path.join(REPO, "config",
                                                    "default.yaml"))
    p.add_argument("--rulegen", default=default_rulegen())
    p.add_argument("--workdir", help="work directory (default: a new "
                   "temporary one, deleted at the end)")
    p.add_argument("--keep", action="store_true",
                   help="keep the work directory (TSDB, rules, logs)")
    args = p.parse_args()
    figures = run(args)
    text = report.markdown(figures)
    if args.out == "-":
        sys.stdout.write(text)
    else:
        with open(args.out, "w") as f:
            f.write(text)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
