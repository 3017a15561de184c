"""The benchmark's figures as a Markdown report."""
import datetime

from score import hours


def _when(t):
    return datetime.datetime.fromtimestamp(
        t, datetime.timezone.utc).strftime("%m-%d %H:%M")


def _lead(lead):
    if lead["min"] is None:
        return "none (%d missed)" % lead["missed"]
    text = "%s / %s" % (hours(lead["min"]), hours(lead["median"]))
    if lead["missed"]:
        text += " (%d missed)" % lead["missed"]
    return text


def summary_table(results):
    names = list(results)
    rows = [
        ("incidents caught", lambda r: "%d of %d" % (r["caught"],
                                                     r["incidents"])),
        ("first warning before full, min / median",
         lambda r: _lead(r["lead"]["warning"])),
        ("first page before full, min / median",
         lambda r: _lead(r["lead"]["critical"])),
    ]
    for key, how in (("outside", ""),
                     ("outside_strict", ", strict (to the incident's end)")):
        for sev, what in (("critical", "pages"), ("warning", "warnings"),
                          ("info", "info alerts")):
            rows.append(("%s outside incidents%s (count, hours)" % (
                what, how), lambda r, s=sev, k=key: "%d, %.1f h" % (
                    r[k][s]["count"], r[k][s]["seconds"] / 3600)))
    rows.append(("flaps (fired again within 1 h of resolving)",
                 lambda r: str(r["flaps"])))
    out = ["| | " + " | ".join(names) + " |",
           "|---|" + "---|" * len(names)]
    for label, f in rows:
        out.append("| %s | %s |" % (label, " | ".join(
            f(results[n]) for n in names)))
    return out


def incident_table(results):
    names = list(results)
    first = results[names[0]]["detail"]
    out = ["| incident | node | start (UTC) | full | " +
           " | ".join(names) + " |",
           "|---|---|---|---|" + "---|" * len(names)]
    for i, d in enumerate(first):
        cells = []
        for n in names:
            e = results[n]["detail"][i]
            parts = []
            for sev in ("warning", "critical"):
                if sev in e:
                    x = e[sev]
                    parts.append("%s %s +%s" % (
                        "page" if sev == "critical" else "warn",
                        x["rule"], hours(x["after_start"])))
            cell = "; ".join(parts) or "**missed**"
            if e["coverage"] < 1.0:
                cell += " (alerting %.0f %% of it)" % (100 * e["coverage"])
            cells.append(cell)
        full = _when(d["full"]) if d.get("full") else ""
        out.append("| %s | %s | %s | %s | %s |" % (
            d["kind"], d["node"], _when(d["start"]), full, " | ".join(cells)))
    return out


def noise_table(results):
    """Per alert: episodes and hours outside incidents, strict (to the
    incident's end, a superset) and with the aftermaths."""
    out = ["| rule set | alert | severity | episodes | hours | hours, "
           "strict |", "|---|---|---|---|---|---|"]
    for n, r in results.items():
        after = {(x["rule"], x["severity"]): x for x in
                 r["outside_by_rule"]}
        for x in r["outside_strict_by_rule"]:
            a = after.get((x["rule"], x["severity"]),
                          {"count": 0, "seconds": 0})
            out.append("| %s | %s | %s | %d | %.1f | %.1f |" % (
                n, x["rule"], x["severity"], a["count"],
                a["seconds"] / 3600, x["seconds"] / 3600))
    return out


def markdown(fig):
    truth = fig["truth"]
    res = fig["results"]
    t = fig["timing_seconds"]
    lines = [
        "# Alert-quality benchmark",
        "",
        "%d nodes, %d days from %s UTC at a %d s step (scrape and "
        "evaluation), %d samples (%d read back from Prometheus), %d labelled incidents; "
        "TSDB %.0f MiB." % (
            len(truth["nodes"]), (truth["end"] - truth["start"]) // 86400,
            _when(truth["start"]), truth["step"], truth["samples"],
            fig["loaded_samples"],
            len(truth["incidents"]), fig["tsdb_bytes"] / 2 ** 20),
        "Generation and load %.0f s (of which promtool %.0f s), recording "
        "rules backfilled %.0f s (%s), evaluation %.0f s." % (
            t["generate_and_load"], t["load"], t["backfill_recordings"],
            ", ".join(fig["recordings_backfilled"]) or "none needed",
            t["evaluate"]),
        "Severity: critical = page, warning = warning; info counts as "
        "neither. An alert belongs to an incident when it starts firing on "
        "the incident's node between its start and 1 h after its end. "
        "Outside incidents: firing outside every incident's window on its "
        "node, a window running to 1 h after the incident's end or after "
        "the end of its aftermath, a condition it caused that the ground "
        "truth says lasted longer (the next backup after one the full "
        "disk prevented); 'strict' stops at 1 h after the end.",
        "",
        "## Rule sets side by side",
        "",
    ]
    lines += summary_table(res)
    lines += ["", "## Targets for the generated rules", "",
              "| target | result | detail |", "|---|---|---|"]
    for x in fig["targets"]:
        lines.append("| %s | %s | %s |" % (
            x["target"], "pass" if x["passed"] else "**FAIL**",
            x["detail"]))
    lines += ["", "## Incidents: first warning and first page after the "
              "start", "",
              "With the share of the incident (from 15 min after its "
              "start to its end) during which some warning or page fired "
              "on the node, where that is under 100 %.", ""]
    lines += incident_table(res)
    lines += ["", "## Alerts outside incidents", ""]
    lines += noise_table(res)
    lines += ["", "## Scenarios", ""]
    kinds = {}
    for n in truth["nodes"]:
        kinds.setdefault(n["kind"], []).append(n["node"])
    for k, nodes in kinds.items():
        lines.append("- `%s` (%s): %s" % (k, ", ".join(nodes),
                                           truth["scenarios"][k]))
    return "\n".join(lines) + "\n"
