#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Drill (f): an export without a second approval.

An insider holds a role that may both export and approve (the worst
case a site could configure). Alone, with every token of its own, it
tries: a plain export, an export under an approval it asked for and
approved itself, and one under an approval approved with a second token
of its own. Each is refused and logged; then a second person approves
and the same export runs, so the refusals are the rule's, not a broken
export.

The last line printed is the figure: people exported without a second
person (target 0).
"""
import json
import os
import shutil
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from srcli import Vault, run  # noqa: E402

RET = ["--purpose", "retention"]
FIGURES = []


class ExportWithoutSecondPerson(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sr-drill-f-")
        cls.v = Vault(os.path.join(cls.tmp, "vault"), expected_people=100)
        pol = json.loads(cls.v.sr(["policy", "show"], check=0).stdout)
        pol["roles"]["insider"] = {
            "actions": ["export", "approve"],
            "classes": ["identity", "name", "contact"],
            "purposes": ["retention"]}
        f = os.path.join(cls.tmp, "policy.json")
        with open(f, "w") as fh:
            json.dump(pol, fh)
        cls.v.sr(["policy", "set", f], check=0)
        cls.v.add("intake", "intake", service=True)
        cls.v.add("insider", "insider")
        cls.v.add("so", "security-officer")
        cls.v.tokens["insider2"] = cls.v.new_token("insider")
        src = os.path.join(cls.tmp, "people.jsonl")
        with open(src, "wb") as fh:
            fh.write(run(["gen", "--count", "25", "--seed", "6"],
                         check=0).stdout)
        cls.v.sr(["import", src, "--quiet", "--purpose", "intake"],
                 who="intake", check=0)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def export(self, *extra, who="insider"):
        return self.v.sr(["export"] + RET + list(extra), who=who)

    def test_no_export_without_a_second_person(self):
        leaked = 0
        p = self.export()
        leaked += len(p.stdout.splitlines())
        self.assertIn(b"denied by rule approval.required", p.stderr)

        aid = self.v.sr(["approval", "request", "export"] + RET,
                        who="insider", check=0).stdout.decode().strip()
        for who in ("insider", "insider2"):
            p = self.v.sr(["approval", "approve", aid], who=who)
            self.assertIn(b"denied by rule approval.self", p.stderr)
        p = self.export("--approval", aid)
        leaked += len(p.stdout.splitlines())
        self.assertIn(b"denied by rule approval.invalid", p.stderr)
        self.assertIn(b"not approved yet", p.stderr)

        denied = [e["rule"] for e in self.v.entries(
            who="so", principal="insider", denied=True)]
        self.assertEqual(sorted(set(denied)), [
            "approval.invalid", "approval.required", "approval.self"])

        # A second person approves: the same export runs.
        self.v.sr(["approval", "approve", aid], who="so", check=0)
        p = self.export("--approval", aid)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(len(p.stdout.splitlines()), 25)
        self.assertEqual(leaked, 0)
        FIGURES.append("drill f (export without a second approval): %d "
                       "people exported without a second person (target 0); "
                       "3 attempts refused and logged; 25 exported once a "
                       "second person approved" % leaked)


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    for f in FIGURES:
        print(f)
    if not FIGURES:
        print("drill f (export without a second approval): FAILED")
    sys.exit(0 if result.wasSuccessful() else 1)
