#!/usr/bin/env python3
"""docs/rulegen.md's alert table against the committed rules: the same
alerts in the same order, each with its severity, `for` and runbook
section, so the list a reader trusts cannot drift from what fires."""
import argparse
import re
import sys
import unittest

import yaml

ARGS = None


def doc_rows(path):
    """(name, severity, for, section) per row of the "## Alerts" table."""
    text = open(path, encoding="utf-8").read()
    section = text.split("\n## Alerts\n", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        if not line.startswith("| StemeDB"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        rows.append((cells[0], cells[1], cells[-2], cells[-1]))
    return rows


def rule_rows(path):
    """(name, severity, for, runbook anchor) per alerting rule."""
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    return [(r["alert"], r["labels"]["severity"], r.get("for", "0s"),
             r["annotations"]["runbook_url"].split("#", 1)[1])
            for g in doc["groups"] for r in g["rules"] if "alert" in r]


def anchor_matches(section, anchor):
    """"§2" is the anchor "2-..."; a heading's words are its anchor."""
    m = re.match(r"§(\d+)", section)
    if m:
        return anchor.startswith(m.group(1) + "-")
    words = section.split(" (", 1)[0].lower().replace(" ", "-")
    return anchor == words


class DocAlertsTest(unittest.TestCase):
    def test_table_matches_rules(self):
        doc = doc_rows(ARGS.doc)
        rules = rule_rows(ARGS.rules)
        self.assertEqual([d[0] for d in doc], [r[0] for r in rules])
        for (name, sev, for_, section), (_, r_sev, r_for, anchor) in zip(
                doc, rules):
            self.assertEqual(sev, r_sev, name)
            self.assertEqual(for_, r_for, name)
            self.assertTrue(anchor_matches(section, anchor),
                            "%s: %s against #%s" % (name, section, anchor))

    def test_check_has_teeth(self):
        # A renamed section or a missing alert is told apart.
        self.assertFalse(anchor_matches("§2", "1-emergency-cleanup-disk-98"))
        self.assertFalse(anchor_matches("Monitoring", "quick-diagnosis"))
        self.assertTrue(anchor_matches("Common Causes (1: WAL)",
                                       "common-causes"))


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--doc", required=True)
    p.add_argument("--rules", required=True)
    ARGS, rest = p.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + rest)
