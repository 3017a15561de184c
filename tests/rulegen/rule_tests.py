"""The generated promtool test file, cut down to some of its test groups.

promtool evaluates every rule at every step of a test group, so the whole
file costs about 20 CPU seconds; a check that concerns a few alerts runs
only their groups. Stdlib only.
"""
import re

_GROUP = re.compile(r"(?m)^(?=  - name: )")
_RULE = re.compile(r"(?m)^(?=      - (?:alert|record): )")
# A number, with the byte unit the generator writes thresholds in.
_NUMBER = re.compile(r"\d+(?:\.\d+)?(?:e[+-]?\d+)?(?:[KMGTPE]iB|B)?")


def _test_groups(text):
    """(head, [(group name, group text)]) of a generated test file's TEXT,
    in the file's order."""
    head, groups = text.split("\ntests:\n", 1)
    named = []
    for group in _GROUP.split(groups):
        name = re.match(r'  - name: "(.*)"', group)
        if name:
            named.append((name.group(1), group))
    return head, named


def test_group_names(path):
    """The names of the test groups in the generated test file PATH."""
    with open(path, encoding="utf-8") as f:
        return [name for name, _ in _test_groups(f.read())[1]]


def keep_test_groups(path, prefixes):
    """Rewrites the generated promtool test file PATH with only the test
    groups whose name starts with one of PREFIXES; returns their texts."""
    with open(path, encoding="utf-8") as f:
        head, groups = _test_groups(f.read())
    kept = [text for name, text in groups
            if name.startswith(tuple(prefixes))]
    with open(path, "w", encoding="utf-8") as f:
        f.write(head + "\ntests:\n" + "".join(kept))
    return kept


def _uncommented(text):
    return "".join(line for line in text.splitlines(True)
                   if not line.startswith("#"))


def _rules(text):
    """(the file without its rules, [(kind, name, block)]) of a generated
    rules file's TEXT, in order; the header comment (it names the config
    file) is left out."""
    chunks = _RULE.split(_uncommented(text))
    rules = []
    for chunk in chunks[1:]:
        kind, name = re.match(r'      - (alert|record): "?([^"\n]*)',
                              chunk).groups()
        rules.append((kind, name, chunk))
    return chunks[0], rules


def test_groups_not_proven_by(base_rules, base_tests, rules, tests):
    """The names of the test groups in the generated files RULES/TESTS that
    a passing run of BASE_TESTS over BASE_RULES (the default config's) does
    not already prove.

    promtool fails a group on its own expectations and on an evaluation
    error of any rule over the group's series. So every group runs unless
    the tests' header, the recording rules and the rule groups are the
    base's, no rule reads ALERTS, no name repeats, no alert is new, and
    each alert is the base's or differs from it only in its numbers (a
    threshold, also as a byte size in a label, a `for`: none changes which
    label sets a rule makes, so none causes an evaluation error). Then a
    group runs when its text differs from the base's group of that name or
    it names an alert whose rule differs;
    any other group is the base's group over the same rules for all it
    reads, and gets the same verdict."""
    def read(path):
        with open(path, encoding="utf-8") as f:
            return f.read()
    base_head, base_groups = _test_groups(_uncommented(read(base_tests)))
    head, groups = _test_groups(_uncommented(read(tests)))
    rules_text = read(rules)
    base_frame, base_list = _rules(read(base_rules))
    frame, rule_list = _rules(rules_text)
    all_groups = [name for name, _ in groups]
    base_alerts = {n: b for k, n, b in base_list if k == "alert"}
    alerts = {n: b for k, n, b in rule_list if k == "alert"}
    records = [r for r in rule_list if r[0] == "record"]
    if ((head, frame) != (base_head, base_frame) or
            records != [r for r in base_list if r[0] == "record"] or
            "ALERTS" in rules_text or
            len(alerts) + len(records) != len(rule_list) or
            len(set(all_groups)) != len(all_groups) or
            len(dict(base_groups)) != len(base_groups) or
            any(n not in base_alerts or
                _NUMBER.sub("N", b) != _NUMBER.sub("N", base_alerts[n])
                for n, b in alerts.items())):
        return all_groups
    base_by_name = dict(base_groups)

    def changed(name, text):
        if base_by_name.get(name) != text:
            return True
        return any(alerts.get(a) != base_alerts.get(a)
                   for a in re.findall(r"alertname: (\S+)", text))
    return [name for name, text in groups if changed(name, text)]
