"""From an alerting rule's range-query results to firing intervals, and
from firing intervals and the ground truth to the benchmark's figures.

Pure functions, no I/O: run.py feeds them what Prometheus answered.

`for` semantics (Prometheus 2.42, no keep_firing_for): at each evaluation
time an output series of the expression is active; a label set that was not
active at the previous evaluation becomes pending; it fires at the first
evaluation where it has been active for at least `for`; it resolves at the
first evaluation where it is absent. Evaluations are every `step` seconds.

Severity: critical pages, warning warns; other severities (info) are
reported apart and never count as catching an incident.
"""
import statistics

GRACE = 3600  # an alert firing up to 1 h after an incident's end is its
FLAP_GAP = 3600  # resolved and firing again within 1 h: a flap
SETTLE = 900  # an incident is "covered" when alerts fire from 15 min on


def firing_intervals(times, for_seconds, step):
    """times: sorted evaluation times at which one label set was active.
    Returns [(firing_start, resolved_at)]."""
    out = []
    run_start = prev = None
    for t in times + [None]:
        if t is not None and prev is not None and t - prev <= step:
            prev = t
            continue
        if run_start is not None:
            fire = run_start + for_seconds
            if fire <= prev:
                out.append((fire, prev + step))
        run_start = prev = t
    return out


def node_of(labels):
    inst = labels.get("instance", "")
    return inst.rsplit(":", 1)[0] if inst else ""


def incident_end(inc, aftermath=True):
    """Where an incident's window ends (before GRACE): its end, or with
    `aftermath` the time the generator's ground truth says a condition it
    caused cleared ("aftermath_end": the next backup after one the full
    disk prevented), whichever is later."""
    if not aftermath:
        return inc["end"]
    return max(inc["end"], inc.get("aftermath_end", inc["end"]))


def _windows_by_node(incidents, aftermath=True):
    by = {}
    for inc in incidents:
        by.setdefault(inc["node"], []).append(
            (inc["start"], incident_end(inc, aftermath) + GRACE))
    return by


def _outside(a, b, windows):
    """Seconds of [a, b) outside every window."""
    cuts = sorted((max(a, s), min(b, e)) for s, e in windows
                  if s < b and e > a)
    covered = 0
    cur = a
    for s, e in cuts:
        if e <= cur:
            continue
        covered += e - max(s, cur)
        cur = max(cur, e)
    return (b - a) - covered


def _severity(alert):
    return alert["severity"] if alert["severity"] in (
        "critical", "warning") else "info"


def _outside_incidents(alerts, incidents, aftermath):
    """Episodes and seconds of firing outside every incident's window,
    per severity and per (rule, severity)."""
    windows = _windows_by_node(incidents, aftermath)
    outside = {s: {"count": 0, "seconds": 0} for s in
               ("critical", "warning", "info")}
    by_rule = {}
    for a in alerts:
        sev = _severity(a)
        node = node_of(a["labels"])
        for s, e in a["intervals"]:
            out = _outside(s, e, windows.get(node, []))
            if out > 0:
                outside[sev]["count"] += 1
                outside[sev]["seconds"] += out
                r = by_rule.setdefault((a["rule"], sev),
                                       {"count": 0, "seconds": 0})
                r["count"] += 1
                r["seconds"] += out
    return outside, sorted(
        ({"rule": r, "severity": s, **v} for (r, s), v in by_rule.items()),
        key=lambda x: -x["seconds"])


def _flaps(alerts):
    flaps = 0
    for a in alerts:
        prev_end = None
        for s, e in a["intervals"]:
            if prev_end is not None and s - prev_end <= FLAP_GAP:
                flaps += 1
            prev_end = e
    return flaps


def score(alerts, truth):
    """alerts: [{"rule", "severity", "labels", "intervals"}] for one rule
    set. Returns the rule set's figures and per-incident detail. "outside"
    counts an incident's window up to the end of its aftermath (see
    incident_end); "outside_strict" up to its end, as before aftermaths
    were labelled. Both for every rule set alike."""
    incidents = truth["incidents"]
    outside, by_rule = _outside_incidents(alerts, incidents, True)
    strict, strict_by_rule = _outside_incidents(alerts, incidents, False)
    detail = [_incident(inc, alerts) for inc in incidents]
    return {
        "caught": sum(1 for d in detail if d["caught"]),
        "incidents": len(incidents),
        "detail": detail,
        "outside": outside,
        "outside_by_rule": by_rule,
        "outside_strict": strict,
        "outside_strict_by_rule": strict_by_rule,
        "flaps": _flaps(alerts),
        "lead": _leads(detail),
    }


def _incident(inc, alerts):
    """The first warning and the first critical alert that began firing on
    the incident's node within its window (plus GRACE)."""
    lo, hi = inc["start"], inc["end"] + GRACE
    first = {}
    for a in alerts:
        if node_of(a["labels"]) != inc["node"]:
            continue
        sev = a["severity"]
        if sev not in ("warning", "critical"):
            continue
        for s, _ in a["intervals"]:
            if lo <= s <= hi and (sev not in first or s < first[sev][0]):
                first[sev] = (s, a["rule"])
    d = {"node": inc["node"], "kind": inc["kind"], "start": inc["start"],
         "end": inc["end"], "full": inc.get("full"),
         "caught": bool(first), "coverage": _coverage(inc, alerts)}
    for sev in ("warning", "critical"):
        if sev in first:
            t, rule = first[sev]
            d[sev] = {"at": t, "rule": rule, "after_start": t - inc["start"]}
            if inc.get("full") is not None:
                d[sev]["before_full"] = inc["full"] - t
    return d


def _coverage(inc, alerts):
    """Share of [start + SETTLE, end) during which at least one warning or
    critical alert fires on the incident's node: 1.0 means the node was
    never silent once the incident had settled."""
    lo, hi = inc["start"] + SETTLE, inc["end"]
    if hi <= lo:
        return 1.0
    spans = [(s, e) for a in alerts
             if node_of(a["labels"]) == inc["node"] and
             a["severity"] in ("warning", "critical")
             for s, e in a["intervals"]]
    return 1.0 - _outside(lo, hi, spans) / (hi - lo)


def _leads(detail):
    """Lead time before full (seconds; negative: after full) of the first
    warning and the first page, over the fill incidents that filled. An
    incident with no such alert is counted as missed."""
    out = {}
    for sev in ("warning", "critical"):
        leads = [d[sev]["before_full"] for d in detail
                 if d.get("full") is not None and sev in d]
        missed = sum(1 for d in detail
                     if d.get("full") is not None and sev not in d)
        out[sev] = {"min": min(leads) if leads else None,
                    "median": statistics.median(leads) if leads else None,
                    "n": len(leads), "missed": missed}
    return out


def targets(generated, node_mixin):
    """The targets the generated rules are held to: [(name, passed, why)]."""
    det = generated["detail"]

    def by_kind(kind):
        return [d for d in det if d["kind"] == kind]

    def lead(d, sev):
        return d.get(sev, {}).get("before_full")

    def at_least(value, limit):
        return value is not None and value >= limit

    rows = []
    missed = [d["kind"] for d in det if not d["caught"]]
    rows.append(("every labelled incident caught", not missed,
                 "missed: " + ", ".join(missed) if missed else
                 "%d of %d" % (generated["caught"], len(det))))
    steady = [d for d in by_kind("steady_fill") if d.get("full")]
    ok = bool(steady) and all(
        at_least(lead(d, "warning"), 86400) and
        at_least(lead(d, "critical"), 4 * 3600) for d in steady)
    rows.append(("steady fill warned >= 24 h and paged >= 4 h before full",
                 ok, "; ".join("warning %s, page %s before full" % (
                     _h(lead(d, "warning")), _h(lead(d, "critical")))
                     for d in steady) or "no steady fill reached full"))
    burst = by_kind("burst")
    ok = bool(burst) and all(
        "critical" in d and d["critical"]["after_start"] <= 600
        for d in burst)
    rows.append(("burst paged within 10 minutes", ok, "; ".join(
        "paged %s after the start" % _h(d["critical"]["after_start"])
        if "critical" in d else "never paged" for d in burst)))
    crit = generated["outside"]["critical"]
    rows.append(("no critical page outside an incident", crit["count"] == 0,
                 "%d pages, %s" % (crit["count"], _h(crit["seconds"]))))
    ours = generated["outside"]["warning"]["seconds"]
    theirs = node_mixin["outside"]["warning"]["seconds"]
    strict = (generated["outside_strict"]["warning"]["seconds"],
              node_mixin["outside_strict"]["warning"]["seconds"])
    rows.append(("fewer warning-hours outside incidents than node-mixin",
                 ours < theirs, "%s against %s (strict windows, without "
                 "aftermaths: %s against %s)" % (
                     _h(ours), _h(theirs), _h(strict[0]), _h(strict[1]))))
    failing = [d for d in det if d["kind"] in
               ("readonly_remount", "hung_statfs")]
    # Silent: no warning or page firing at some moment between 15 min
    # after the start and the end.
    rows.append(("no alert silent on read-only remount or hung mount",
                 bool(failing) and all(d["coverage"] >= 1.0
                                       for d in failing),
                 "; ".join("%s: alerting %.0f %% of the time from +15 min" % (
                     d["kind"], 100 * d["coverage"]) for d in failing)))
    return rows


def _h(seconds):
    if seconds is None:
        return "never"
    sign = "-" if seconds < 0 else ""
    s = abs(seconds)
    if s >= 3600:
        return "%s%.1f h" % (sign, s / 3600)
    return "%s%d min" % (sign, round(s / 60))


hours = _h
