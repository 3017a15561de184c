#!/usr/bin/env python3
"""stemedb_rulegen's output against the real tools.

For the default config and each test config: generate into a temp dir, then
promtool check rules (--lint=all, lint fatal), promtool test rules on the
generated tests (whole for the default config; for the others, the groups
the default's run does not already prove), vmalert -dryRun, amtool
check-config, and the dashboard's JSON contract.
Then proves the generated tests have teeth (mutated rules must fail them),
that --check detects drift and writes nothing, and that a bad config exits 2
and writes nothing. The tool runs of each config and of each mutation are
independent and run concurrently, as many as the machine has cores.
Stdlib only.
"""
import argparse
import concurrent.futures
import functools
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dashboard_lint  # noqa: E402
from rule_tests import (keep_test_groups, test_group_names,  # noqa: E402
                        test_groups_not_proven_by)

FAILURES = []
# The exclusions the committed dashboard carries, with their reasons.
LINT_EXCLUSIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                               "..", "..", "dashboards", ".lint")


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print("FAIL: " + what, flush=True)


def run(args, cwd=None):
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def generate(rulegen, out, config=None, extra=()):
    args = [rulegen, "--out", out, *extra]
    if config:
        args += ["--config", config]
    return run(args)


def files_under(path):
    found = []
    for root, _, names in os.walk(path):
        found += [os.path.relpath(os.path.join(root, n), path) for n in names]
    return sorted(found)


EXPECTED_FILES = sorted([
    "rules/stemedb-disk.rules.yml",
    "rules/stemedb-disk.rules.test.yml",
    "dashboards/stemedb-disk.json",
    "deploy/kubernetes/prometheusrule.yaml",
    "deploy/alertmanager/alertmanager.yml",
])


# The test groups each test config changes from the default's, by alert
# (rule_tests.py): its thresholds reach exactly these alerts' rules and
# tests; a family switched off leaves the rest as they were; a changed
# recording rule (fast.yaml's shorter lookback, node-exporter.yaml's
# metric names) puts every group in question.
EXPECTED_CHANGED = {
    "largest-counts.yaml": ["StemeDBBackupsBeyondRetention",
                            "StemeDBTmpFilesAccumulating",
                            "StemeDBWALTooManySegments"],
    "families-off.yaml": [],
    "fast.yaml": "all",
    "node-exporter.yaml": "all",
}


def check_group_selection(baseline, tmp):
    """rule_tests.test_groups_not_proven_by against the default's output
    with one alert changed: a threshold only its own groups, a selector
    (which could make any group's evaluation fail) every group."""
    rules = os.path.join(baseline, "rules/stemedb-disk.rules.yml")
    tests = os.path.join(baseline, "rules/stemedb-disk.rules.test.yml")
    with open(rules) as f:
        text = f.read()
    every = test_group_names(tests)
    for old, new, expected in (
            (") < 0.2\n", ") < 0.05\n",
             [g for g in every if g.startswith("StemeDBDiskSpaceWarning ")]),
            ('component="wal"}\n            > 604800',
             'component=~".+"}\n            > 604800', every)):
        check(old in text, f"group selection: {old!r} not in the rules")
        changed = os.path.join(tmp, "changed.rules.yml")
        with open(changed, "w") as f:
            f.write(text.replace(old, new))
        groups = test_groups_not_proven_by(rules, tests, changed, tests)
        check(groups == expected,
              f"group selection for {new!r}: {groups}, expected {expected}")


def check_with_tools(out, label, baseline):
    """The real tools on the output in OUT. The generated tests run whole
    for the default config (BASELINE is None); for another config only the
    groups the default's run does not already prove (rule_tests.py), and
    the recording rules' group, which shows that the file finds its rules."""
    rules_dir = os.path.join(out, "rules")
    r = run(["promtool", "check", "rules", "--lint=all", "--lint-fatal",
             "stemedb-disk.rules.yml"], cwd=rules_dir)
    check(r.returncode == 0, f"{label}: promtool check rules: {r.stdout}{r.stderr}")
    if baseline:
        tests = os.path.join(rules_dir, "stemedb-disk.rules.test.yml")
        groups = test_groups_not_proven_by(
            os.path.join(baseline, "rules/stemedb-disk.rules.yml"),
            os.path.join(baseline, "rules/stemedb-disk.rules.test.yml"),
            os.path.join(rules_dir, "stemedb-disk.rules.yml"), tests)
        expected = EXPECTED_CHANGED[label]
        if expected == "all":
            expected = [g.split(" ")[0] for g in test_group_names(tests)]
        check(sorted(g.split(" ")[0] for g in groups) == sorted(expected),
              f"{label}: changed test groups {groups}, expected {expected}")
        kept = keep_test_groups(tests, ["recording rules"] + groups)
        print(f"{label}: promtool runs {len(kept)} test groups "
              f"(changed from the default's: {len(groups)})", flush=True)
    # From another directory: rule_files resolve against the test file.
    r = run(["promtool", "test", "rules",
             os.path.join(rules_dir, "stemedb-disk.rules.test.yml")])
    check(r.returncode == 0 and "SUCCESS" in r.stdout,
          f"{label}: promtool test rules: {r.stdout}{r.stderr}")
    # VictoriaMetrics' rule evaluator reads the same file.
    r = run(["vmalert", "-dryRun",
             "-rule=" + os.path.join(rules_dir, "stemedb-disk.rules.yml")])
    check(r.returncode == 0, f"{label}: vmalert -dryRun: {r.stdout}{r.stderr}")
    r = run(["amtool", "check-config",
             os.path.join(out, "deploy/alertmanager/alertmanager.yml")])
    check(r.returncode == 0, f"{label}: amtool check-config: {r.stdout}{r.stderr}")
    check("inhibit rules" in r.stdout and "- 0 inhibit rules" not in r.stdout,
          f"{label}: alertmanager config has no inhibit rules")

    with open(os.path.join(out, "deploy/kubernetes/prometheusrule.yaml")) as f:
        obj = f.read()
    check("\napiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\n" in obj,
          f"{label}: PrometheusRule apiVersion/kind")

    with open(os.path.join(out, "dashboards/stemedb-disk.json")) as f:
        dash = json.load(f)
    check(dash["description"].startswith("Generated by stemedb_rulegen from "),
          f"{label}: dashboard header")
    # grafana/dashboard-linter's rules, the fleet layout rules, and every
    # query compiled by promtool.
    for problem in dashboard_lint.lint(
            os.path.join(out, "dashboards/stemedb-disk.json"), LINT_EXCLUSIONS,
            "promtool"):
        check(False, f"{label}: dashboard: {problem}")

    for name in EXPECTED_FILES:
        if name.endswith(".json"):
            continue
        with open(os.path.join(out, name)) as f:
            first = f.readline()
        check(re.match(r"# Generated by stemedb_rulegen from .+; do not edit\.\n",
                       first), f"{label}: {name} header: {first!r}")


def mutate_and_expect_failure(out, label, old, new, why):
    path = os.path.join(out, "rules/stemedb-disk.rules.yml")
    with open(path) as f:
        text = f.read()
    check(old in text, f"{label}: mutation target {old!r} not in rules")
    with open(path, "w") as f:
        f.write(text.replace(old, new))
    r = run(["promtool", "test", "rules",
             os.path.join(out, "rules/stemedb-disk.rules.test.yml")])
    check(r.returncode != 0, f"{label}: generated tests did not catch: {why}")
    with open(path, "w") as f:
        f.write(text)


def check_config(rulegen, tmp, label, config, baseline):
    """Generates CONFIG into TMP/LABEL and checks it with the real tools
    (against the default config's output in BASELINE, None for the
    default itself)."""
    out = os.path.join(tmp, label)
    r = generate(rulegen, out, config)
    check(r.returncode == 0, f"{label}: rulegen exit {r.returncode}: {r.stderr}")
    check(files_under(out) == EXPECTED_FILES,
          f"{label}: files written: {files_under(out)}")

    # Byte stability: a second run into another directory is equal.
    again = os.path.join(tmp, label + ".again")
    generate(rulegen, again, config)
    for name in EXPECTED_FILES:
        with open(os.path.join(out, name), "rb") as a, \
                open(os.path.join(again, name), "rb") as b:
            check(a.read() == b.read(), f"{label}: {name} not byte-stable")

    check_with_tools(out, label, baseline)
    if label == "families-off.yaml":
        with open(os.path.join(out, "rules/stemedb-disk.rules.yml")) as f:
            text = f.read()
        check("StemeDBBackup" not in text and "StemeDBWAL" not in text,
              f"{label}: a disabled family's alerts are in the rules")
        check("StemeDBDiskSpaceWarning" in text,
              f"{label}: an enabled family's alerts are missing")


# The fill predictions' net-loss clause for (lookback, seconds, horizon).
AVAIL = 'stemedb_disk_filesystem_avail_bytes{job="stemedb_disk"}'
NET_LOSS = ("\n          and (\n            " + AVAIL +
            "\n              / ((" + AVAIL + " offset %s - " + AVAIL +
            ") / %s > 0)\n          ) < %s")

# Mutations of the default rules the generated tests must catch:
# (old, new, why, the generated test groups that catch it, by the start of
# their names). Each mutation runs only those groups (the groups are
# independent: if they fail, the whole file fails).
MUTATIONS = (
    (") < 0.2\n", ") < 0.05\n", "warning threshold changed",
     ("StemeDBDiskSpaceWarning ",)),
    ('\n          and stemedb_disk_filesystem_readonly{job="stemedb_disk"} == 0',
     "", "read-only guard removed", ("StemeDBDiskSpaceWarning ",)),
    ('for: "15m"', 'for: "10m"', "for shortened",
     ("StemeDBDiskSpaceWarning ", "StemeDBInodeExhaustion ")),
    ("humanizePercentage", "humanize", "annotation template changed",
     ("StemeDBDiskSpaceCritical ",)),
    ('/ (stemedb_disk_filesystem_files{job="stemedb_disk"} > 0)',
     '/ stemedb_disk_filesystem_files{job="stemedb_disk"}',
     "files > 0 guard removed (recording rule)", ("recording rules",)),
    ('component="wal"}\n            > 604800',
     'component=~".+"}\n            > 604800', "component selector widened",
     ("StemeDBWALRetentionExceeded ",)),
    ('\n          unless on (job, instance, component)\n'
     '            stemedb_disk_segments{job="stemedb_disk",component="wal"}\n'
     '              < 0.95 * stemedb_disk_segments{job="stemedb_disk",'
     'component="wal"} offset 24h', "",
     "draining guard removed (a WAL draining a backlog alerts)",
     ("StemeDBWALTooManySegments ",)),
    (NET_LOSS % ("6h", "21600", "129600"), "",
     "net-loss guard removed (a freed dip predicts full)",
     ("StemeDBDiskWillFillSoon ",)),
    (NET_LOSS % ("10m", "600", "14400"), "",
     "net-loss guard removed from the page", ("StemeDBDiskWillFillVerySoon ",)),
)


def check_mutation(rulegen, tmp, index):
    """The generated tests fail when the rules are wrong: each mutation in
    a default output of its own, against the groups that must catch it."""
    old, new, why, caught_by = MUTATIONS[index]
    out = os.path.join(tmp, "mutation-%d" % index)
    r = generate(rulegen, out)
    check(r.returncode == 0, f"mutation {index}: rulegen exit {r.returncode}")
    kept = keep_test_groups(
        os.path.join(out, "rules/stemedb-disk.rules.test.yml"), caught_by)
    check(len(kept) == len(caught_by),
          f"{why}: the generated tests have {len(kept)} groups named "
          f"{caught_by}")
    mutate_and_expect_failure(out, "default", old, new, why)


def check_per_artifact(rulegen, tmp):
    """Per-artifact paths: only those are written, tests find the rules."""
    single = os.path.join(tmp, "single")
    r = run([rulegen, "--rules", os.path.join(single, "a/r.yml"),
             "--rule-tests", os.path.join(single, "b/t.yml")])
    check(r.returncode == 0, f"per-artifact: {r.stderr}")
    check(files_under(single) == ["a/r.yml", "b/t.yml"],
          f"per-artifact files: {files_under(single)}")
    # One group is enough to show that the tests find the rules (the whole
    # file is the default config's check above).
    check(keep_test_groups(os.path.join(single, "b/t.yml"),
                           ("recording rules",)),
          "per-artifact: no recording rules test group")
    r = run(["promtool", "test", "rules", os.path.join(single, "b/t.yml")])
    check(r.returncode == 0 and "SUCCESS" in r.stdout,
          f"per-artifact promtool: {r.stdout}{r.stderr}")


def run_concurrently(jobs):
    """Runs the independent JOBS (callables) on a pool as wide as the
    machine: the tools are separate processes, so they run in parallel."""
    with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        for future in [pool.submit(job) for job in jobs]:
            future.result()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rulegen", required=True)
    parser.add_argument("--data", required=True)
    args = parser.parse_args()

    configs = [("default", None)] + [
        (name, os.path.join(args.data, name))
        for name in ("node-exporter.yaml", "fast.yaml", "largest-counts.yaml",
                     "families-off.yaml")]
    with tempfile.TemporaryDirectory(prefix="rulegen_tools.") as tmp:
        rulegen = args.rulegen
        # The default's output, which the other configs' tests are cut by.
        baseline = os.path.join(tmp, "baseline")
        r = generate(rulegen, baseline)
        check(r.returncode == 0, f"baseline: rulegen exit {r.returncode}")
        check_group_selection(baseline, tmp)
        run_concurrently(
            [functools.partial(check_config, rulegen, tmp, label, config,
                               config and baseline)
             for label, config in configs] +
            [functools.partial(check_mutation, rulegen, tmp, i)
             for i in range(len(MUTATIONS))] +
            [functools.partial(check_per_artifact, rulegen, tmp)])
        out = os.path.join(tmp, "default")

        # --check: equal -> 0; drift -> 1 with a diff; nothing written.
        r = run([args.rulegen, "--check", "--out", out])
        check(r.returncode == 0, f"--check on fresh output: {r.returncode} {r.stdout}{r.stderr}")
        dash = os.path.join(out, "dashboards/stemedb-disk.json")
        with open(dash) as f:
            original = f.read()
        with open(dash, "w") as f:
            f.write(original.replace('"refresh": "30s"', '"refresh": "5s"'))
        os.remove(os.path.join(out, "deploy/alertmanager/alertmanager.yml"))
        r = run([args.rulegen, "--check", "--out", out])
        check(r.returncode == 1, f"--check on drift: exit {r.returncode}")
        check('-  "refresh": "5s",' in r.stdout and '+  "refresh": "30s",' in r.stdout,
              f"--check diff: {r.stdout}")
        check("missing: " in r.stdout, "--check does not report a missing file")
        check(not os.path.exists(os.path.join(out, "deploy/alertmanager/alertmanager.yml")),
              "--check wrote a file")

        # A bad config: exit 2, the loader's file:line:column, nothing written.
        bad_out = os.path.join(tmp, "bad")
        r = generate(args.rulegen, bad_out, os.path.join(args.data, "bad-thresholds.yaml"))
        check(r.returncode == 2, f"bad config: exit {r.returncode}")
        check(re.search(r"bad-thresholds\.yaml:5:\d+: thresholds\.disk_space\.warning",
                        r.stderr), f"bad config message: {r.stderr}")
        check(not os.path.exists(bad_out), "bad config: output directory created")

        # Configs whose rules Prometheus could not use are refused with
        # their position: an identity label on every alert (promtool: "vector
        # contains metrics with the same labelset after applying alert
        # labels"), a count past 2^53 (the generated test's limit + 1 rounds
        # to the limit).
        for name, text, where in (
                ("label-instance.yaml", "alerting:\n  labels:\n    instance: db\n",
                 r":3:5: alerting\.labels\.instance: "),
                ("label-job.yaml", "alerting:\n  labels: {job: stemedb}\n",
                 r":2:12: alerting\.labels\.job: "),
                ("segments-2-63.yaml",
                 "thresholds:\n  wal: {max_segments: 9223372036854775807}\n",
                 r":2:23: thresholds\.wal\.max_segments: .*2\^53")):
            path = os.path.join(tmp, name)
            with open(path, "w") as f:
                f.write(text)
            refused_out = os.path.join(tmp, "refused-" + name)
            r = generate(args.rulegen, refused_out, path)
            check(r.returncode == 2, f"{name}: exit {r.returncode}")
            check(re.search(re.escape(name) + where, r.stderr),
                  f"{name}: message: {r.stderr}")
            check(not os.path.exists(refused_out), f"{name}: output written")

    if FAILURES:
        print(f"{len(FAILURES)} check(s) failed", file=sys.stderr)
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
