"""The generated promtool test file, cut down to some of its test groups.

promtool evaluates every rule at every step of a test group, so the whole
file costs about 20 CPU seconds; a check that concerns a few alerts runs
only their groups. Stdlib only.
"""
import re

_GROUP = re.compile(r"(?m)^(?=  - name: )")
_RULE = re.compile(r"(?m)^(?=      - (?:alert|record): )")


def _test_groups(text):
    """(head, {group name: group text}) of a generated test file's TEXT."""
    head, groups = text.split("\ntests:\n", 1)
    named = {}
    for group in _GROUP.split(groups):
        name = re.match(r'  - name: "(.*)"', group)
        if name:
            named[name.group(1)] = group
    return head, named


def keep_test_groups(path, prefixes):
    """Rewrites the generated promtool test file PATH with only the test
    groups whose name starts with one of PREFIXES; returns their texts."""
    with open(path, encoding="utf-8") as f:
        head, groups = _test_groups(f.read())
    kept = [text for name, text in groups.items()
            if name.startswith(tuple(prefixes))]
    with open(path, "w", encoding="utf-8") as f:
        f.write(head + "\ntests:\n" + "".join(kept))
    return kept


def _uncommented(text):
    return "".join(line for line in text.splitlines(True)
                   if not line.startswith("#"))


def _rules(text):
    """(the file without its rules, {record name: block}, {alert: block})
    of a generated rules file's TEXT; the header comment (it names the
    config file) is left out."""
    chunks = _RULE.split(_uncommented(text))
    records, alerts = {}, {}
    for chunk in chunks[1:]:
        kind, name = re.match(r'      - (alert|record): "?([^"\n]*)',
                              chunk).groups()
        (alerts if kind == "alert" else records)[name] = chunk
    return chunks[0], records, alerts


def test_groups_not_proven_by(base_rules, base_tests, rules, tests):
    """The names of the test groups in the generated files RULES/TESTS that
    a passing run of BASE_TESTS over BASE_RULES (the default config's) does
    not already prove: every group when the tests' header, the recording
    rules or the rule groups differ; else each group whose text differs
    from the base's group of that name, or that names an alert whose rule
    differs. A group of the same text over the same rules for everything it
    reads gets the same verdict from promtool (no rule reads ALERTS)."""
    def read(path):
        with open(path, encoding="utf-8") as f:
            return f.read()
    base_head, base_groups = _test_groups(_uncommented(read(base_tests)))
    head, groups = _test_groups(_uncommented(read(tests)))
    base_frame, base_records, base_alerts = _rules(read(base_rules))
    frame, records, alerts = _rules(read(rules))
    if (head, frame, records) != (base_head, base_frame, base_records):
        return list(groups)
    def changed(name, text):
        if base_groups.get(name) != text:
            return True
        return any(alerts.get(a) != base_alerts.get(a)
                   for a in re.findall(r"alertname: (\S+)", text))
    return [name for name, text in groups.items() if changed(name, text)]
