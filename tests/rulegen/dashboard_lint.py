#!/usr/bin/env python3
"""A Grafana dashboard check: grafana/dashboard-linter's rules, plus layout.

Implements the rules of grafana/dashboard-linter (docs/rules/*.md there) for
Prometheus dashboards, and honours its `.lint` exclusion file (the same
format: `exclusions: {rule: {reason: ..., entries: [{panel: TITLE}]}}`; a
rule without entries is excluded for the whole dashboard):

  template-datasource-rule, template-job-rule, template-instance-rule,
  template-label-promql-rule, template-on-time-change-reload-rule,
  template-uneditable-rule, panel-datasource-rule,
  panel-title-description-rule, panel-units-rule, target-promql-rule
  (each query, variables substituted, compiled by the real promtool),
  target-rate-interval-rule, target-job-rule, target-instance-rule,
  target-counter-agg-rule.

And what a fleet needs: unique panel ids, no overlapping panels, no row or
panel repeated over a variable (a repeat over an All-able variable renders
every panel once per node), and consistent units (a rate of bytes is Bps,
never bytes).

Usage: dashboard_lint.py DASHBOARD.json [--lint FILE] [--promtool PATH]
Exit 0 when clean, 1 with one line per problem. Stdlib, plus PyYAML for a
`.lint` file.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

# Units used by this project's dashboards, from Grafana's value formats
# (packages/grafana-data/src/valueFormats/categories.ts).
KNOWN_UNITS = {
    "none", "short", "percent", "percentunit", "bytes", "decbytes", "bits",
    "Bps", "binBps", "s", "ms", "dtdurations", "dateTimeAsIso",
    "dateTimeFromNow", "ops", "reqps", "iops",
}
UNIT_PANELS = {"stat", "singlestat", "graph", "table", "timeseries", "gauge",
               "bargauge"}
RATE_FUNCS = ("rate", "irate", "increase")
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right",
            "bool", "and", "or", "unless", "offset", "inf", "nan", "atan2"}
# What Grafana substitutes before the query reaches Prometheus.
SUBSTITUTES = {
    "job": "stemedb_disk", "instance": "node-1:19180", "datasource": "prom",
    "__rate_interval": "1m", "__interval": "30s", "__range": "6h",
}


class Linter:
    def __init__(self, dashboard, exclusions, promtool):
        self.d = dashboard
        self.exclusions = exclusions
        self.promtool = promtool
        self.problems = []

    def excluded(self, rule, panel=None):
        ex = self.exclusions.get(rule)
        if ex is None:
            return False
        entries = (ex or {}).get("entries")
        if not entries:
            return True
        return panel is not None and any(
            e.get("panel") == panel for e in entries)

    def report(self, rule, message, panel=None):
        if not self.excluded(rule, panel):
            where = f"panel {panel!r}: " if panel else ""
            self.problems.append(f"{rule}: {where}{message}")

    # --- templates ---

    def variables(self):
        return {v["name"]: v for v in self.d.get("templating", {})
                .get("list", [])}

    def check_templates(self):
        vs = self.variables()
        ds = vs.get("datasource")
        if not ds or ds.get("type") != "datasource" or \
                ds.get("query") != "prometheus":
            self.report("template-datasource-rule",
                        "no `datasource` variable of type datasource "
                        "querying prometheus")
        for name in ("job", "instance"):
            rule = f"template-{name}-rule"
            v = vs.get(name)
            if v is None:
                self.report(rule, f"no `{name}` variable")
                continue
            if v.get("label") != name:
                self.report(rule, f"`{name}` is labelled {v.get('label')!r}")
            if (v.get("datasource") or {}).get("uid") not in (
                    "$datasource", "${datasource}"):
                self.report(rule, f"`{name}` does not use $datasource")
            if v.get("type") != "query":
                self.report(rule, f"`{name}` is not a query variable")
            if not v.get("multi"):
                self.report(rule, f"`{name}` is not multi-select")
            if v.get("allValue") != ".+":
                self.report(rule, f"`{name}` allValue is not .+")
        for v in vs.values():
            if v.get("type") != "query":
                continue
            if v.get("refresh") != 2:
                self.report("template-on-time-change-reload-rule",
                            f"`{v['name']}` does not refresh on time change")
            q = v.get("query")
            q = q.get("query") if isinstance(q, dict) else q
            m = re.fullmatch(r"label_values\((.+),\s*([a-zA-Z_]\w*)\)",
                             q or "")
            if not m:
                self.report("template-label-promql-rule",
                            f"`{v['name']}` query {q!r} is not "
                            "label_values(selector, label)")
            else:
                self.queries.append((f"variable {v['name']}", m.group(1)))
        if self.d.get("editable") is not False:
            self.report("template-uneditable-rule",
                        "editable is not false (a generated dashboard is "
                        "changed in its config, not in the UI)")

    # --- panels ---

    def panels(self):
        for p in self.d.get("panels", []):
            yield p
            for q in p.get("panels", []):  # collapsed rows
                yield q

    def check_panels(self):
        ids = set()
        boxes = []
        for p in self.panels():
            title = p.get("title", "")
            if p.get("id") in ids:
                self.problems.append(f"unique-ids: id {p.get('id')} twice")
            ids.add(p.get("id"))
            g = p.get("gridPos", {})
            boxes.append((title, g.get("x", 0), g.get("y", 0), g.get("w", 0),
                          g.get("h", 0)))
            if p.get("repeat"):
                self.problems.append(
                    f"no-repeat: {p.get('type')} {title!r} repeats over "
                    f"${p['repeat']}")
            if p.get("type") == "row":
                continue
            ds = p.get("datasource") or {}
            if ds.get("uid") not in ("$datasource", "${datasource}"):
                self.report("panel-datasource-rule",
                            "does not use $datasource", title)
            if not title or not p.get("description"):
                self.report("panel-title-description-rule",
                            "needs a title and a description", title)
            self.check_unit(p, title)
            for i, t in enumerate(p.get("targets", [])):
                self.check_target(p, title, t.get("expr", ""))
        for i, a in enumerate(boxes):
            for b in boxes[i + 1:]:
                if (a[1] < b[1] + b[3] and b[1] < a[1] + a[3] and
                        a[2] < b[2] + b[4] and b[2] < a[2] + a[4]):
                    self.problems.append(
                        f"no-overlap: {a[0]!r} and {b[0]!r} overlap")

    def check_unit(self, p, title):
        if p.get("type") not in UNIT_PANELS:
            return
        defaults = p.get("fieldConfig", {}).get("defaults", {})
        if defaults.get("mappings"):
            return  # dashboard-linter excludes panels with value mappings
        unit = defaults.get("unit")
        if not unit or unit not in KNOWN_UNITS:
            self.report("panel-units-rule", f"unit {unit!r}", title)
            return
        for t in p.get("targets", []):
            expr = t.get("expr", "")
            # A query that is a rate of bytes (not a ratio built from one).
            if re.match(r"\s*(\d+(\.\d+)?(e\d+)?\s*\*\s*)?"
                        r"(deriv|rate|irate)\(\s*\w*bytes", expr) or \
                    re.match(r"\s*[\w:]*:deriv1h\b", expr):
                if unit not in ("Bps", "binBps"):
                    self.problems.append(
                        f"consistent-units: panel {title!r}: a rate of bytes "
                        f"shown as {unit!r}, not Bps")

    # --- targets ---

    def check_target(self, p, title, expr):
        self.queries.append((f"panel {title!r}", expr))
        text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings out
        for m in re.finditer(r"\b(%s)\s*\(" % "|".join(RATE_FUNCS), text):
            inner = text[m.end():]
            rng = re.search(r"\[([^\]]*)\]", inner)
            if rng and rng.group(1) != "$__rate_interval":
                self.report("target-rate-interval-rule",
                            f"{m.group(1)} over [{rng.group(1)}], not "
                            "[$__rate_interval]", title)
        blocks = re.findall(r"\{([^}]*)\}", expr)
        for b in blocks:
            if not re.search(r'\bjob=~?"\$job"', b):
                self.report("target-job-rule",
                            f"selector {{{b}}} has no job matcher", title)
            if not re.search(r'\binstance=~?"\$instance"', b):
                self.report("target-instance-rule",
                            f"selector {{{b}}} has no instance matcher", title)
        for name in bare_metric_names(text):
            self.report("target-job-rule",
                        f"{name} has no matchers", title)
            self.report("target-instance-rule",
                        f"{name} has no matchers", title)
        for m in re.finditer(r"\b([a-zA-Z_:][\w:]*_total)\b", text):
            before = text[:m.start()]
            if not re.search(r"\b(%s)\(\s*$" % "|".join(RATE_FUNCS), before):
                self.report("target-counter-agg-rule",
                            f"counter {m.group(1)} outside rate/irate/"
                            "increase", title)

    def check_promql(self):
        """Compiles every query with the real promtool, as recording rules."""
        if not self.promtool or not self.queries:
            return
        rules = []
        for i, (where, expr) in enumerate(self.queries):
            rules.append({"record": f"lint_query_{i}",
                          "expr": substitute(expr)})
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "queries.yml")
            with open(path, "w") as f:
                json.dump({"groups": [{"name": "lint", "rules": rules}]}, f)
            r = subprocess.run([self.promtool, "check", "rules", path],
                               capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            bad = set(int(n) for n in re.findall(r"lint_query_(\d+)",
                                                 r.stdout + r.stderr))
            detail = (r.stdout + r.stderr).strip().splitlines()[-3:]
            names = [self.queries[n][0] for n in sorted(bad)] or ["?"]
            self.problems.append(
                "target-promql-rule: promtool refuses the query of " +
                ", ".join(names) + ": " + " | ".join(detail))

    def run(self):
        self.queries = []
        self.check_templates()
        self.check_panels()
        self.check_promql()
        return self.problems


def substitute(expr):
    def value(m):
        name = m.group(1) or m.group(2)
        name = name.split(":")[0]
        return SUBSTITUTES.get(name, m.group(0))
    return re.sub(r"\$\{([^}]+)\}|\$(\w+)", value, expr)


def bare_metric_names(text):
    """Metric names without a {...} selector in PromQL with strings removed."""
    t = re.sub(r"\{[^}]*\}", "{}", text)
    t = re.sub(r"\[[^\]]*\]", "", t)
    t = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*"
               r"\([^)]*\)", "", t)
    out = []
    for m in re.finditer(r"(?<![\w:.$])([a-zA-Z_:][\w:]*)", t):
        name, rest = m.group(1), t[m.end():]
        if name.lower() in KEYWORDS or re.match(r"\s*[({]", rest):
            continue
        if re.fullmatch(r"\d+\w*", name):
            continue
        out.append(name)
    return out


def load_exclusions(path):
    if not path or not os.path.exists(path):
        return {}
    import yaml  # python3-yaml
    with open(path) as f:
        data = yaml.safe_load(f) or {}
    return data.get("exclusions") or {}


def lint(dashboard_path, lint_path=None, promtool=None):
    with open(dashboard_path) as f:
        dashboard = json.load(f)
    return Linter(dashboard, load_exclusions(lint_path), promtool).run()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dashboard")
    ap.add_argument("--lint", help="dashboard-linter .lint exclusions file")
    ap.add_argument("--promtool", default="promtool")
    args = ap.parse_args()
    problems = lint(args.dashboard, args.lint, args.promtool)
    for p in problems:
        print(f"{args.dashboard}: {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
