#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""`strongroom breach report` (docs/breach.md): exactly who and what a
principal, a token or a time window revealed, from the verified log.

One vault of 30 people. The clerk "thief" reads 6 people by id and finds
4 more by SSN with one token, and 2 more with a second token; it is
denied once (a purpose it lacks); the clerk "honest" reads 3 others.
"""
import json
import os
import shutil
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from srcli import Vault, run  # noqa: E402

HR = ["--purpose", "hr-action"]
W = None


class World:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="sr-breach-")
        self.v = Vault(os.path.join(self.tmp, "vault"), expected_people=100)
        for name, role, service in (("intake", "intake", True),
                                    ("thief", "hr-clerk", False),
                                    ("honest", "hr-clerk", False),
                                    ("so", "security-officer", False),
                                    ("aud", "auditor", False)):
            self.v.add(name, role, service=service)
        self.v.tokens["thief2"] = self.v.new_token("thief")
        out = run(["gen", "--count", "30", "--seed", "12"], check=0).stdout
        self.people = [json.loads(l) for l in out.splitlines()]
        src = os.path.join(self.tmp, "people.jsonl")
        with open(src, "wb") as f:
            f.write(out)
        self.v.sr(["import", src, "--quiet", "--purpose", "intake"],
                  who="intake", check=0)
        self.ids = []
        self.v.add("lookup", "security-officer")
        for p in self.people:
            o = self.v.sr(["find", "--ssn", p["ssn"], "--purpose",
                           "incident-response"], who="lookup",
                          check=0).stdout
            self.ids.append(json.loads(o)["id"])
        # Only the thief's and the honest clerk's reads from here on.
        self.t0 = int(time.time()) + 1
        time.sleep(self.t0 - time.time() + 0.05)
        self.by_get = self.ids[:6]
        for pid in self.by_get:
            self.v.sr(["get", pid] + HR, who="thief", check=0)
        self.by_find = self.ids[6:10]
        for p in self.people[6:10]:
            self.v.sr(["find", "--ssn", p["ssn"]] + HR, who="thief", check=0)
        self.by_token2 = self.ids[10:12]
        for pid in self.by_token2:
            self.v.sr(["get", pid] + HR, who="thief2", check=0)
        self.v.sr(["get", self.ids[12], "--purpose", "adjudication"],
                  who="thief")
        for pid in self.ids[20:23]:
            self.v.sr(["get", pid] + HR, who="honest", check=0)

    def report(self, *args, who="so", check=0):
        p = self.v.sr(["breach", "report"] + list(args), who=who,
                      check=check)
        return p


def setUpModule():
    global W
    W = World()


def tearDownModule():
    shutil.rmtree(W.tmp, ignore_errors=True)


def lines(p):
    return [json.loads(l) for l in p.stdout.splitlines()]


class BreachReport(unittest.TestCase):
    def test_a_principal_report_names_exactly_whom_it_read(self):
        rep = lines(W.report("--principal", "thief"))
        summary = rep[0]
        self.assertEqual(summary["kind"], "summary")
        self.assertTrue(summary["log"]["verified"])
        people = {r["id"]: r for r in rep if r["kind"] == "person"}
        self.assertEqual(set(people),
                         set(W.by_get + W.by_find + W.by_token2))
        self.assertEqual(summary["people"], 12)
        # A get reveals the role's classes, a search only the name.
        self.assertEqual(people[W.by_get[0]]["classes"],
                         ["identity", "name", "contact", "employment"])
        self.assertEqual(people[W.by_find[0]]["classes"], ["name"])
        self.assertEqual(summary["people_by_class"]["identity"], 8)
        self.assertEqual(summary["people_by_class"]["name"], 12)
        self.assertEqual(people[W.by_get[0]]["principals"], ["thief"])
        denials = [r for r in rep if r["kind"] == "denial"]
        self.assertEqual([(d["action"], d["rule"]) for d in denials],
                         [("get", "role.purpose")])
        self.assertEqual(summary["denials"], 1)
        self.assertNotIn(W.ids[20], people)

    def test_a_token_report_covers_that_token_only(self):
        tid = W.v.tokens["thief2"].split("_")[1]
        rep = lines(W.report("--token-id", tid))
        people = {r["id"] for r in rep if r["kind"] == "person"}
        self.assertEqual(people, set(W.by_token2))

    def test_a_window_report_covers_everyone_in_it(self):
        rep = lines(W.report("--since", str(W.t0)))
        people = {r["id"] for r in rep if r["kind"] == "person"}
        self.assertEqual(people, set(W.by_get + W.by_find + W.by_token2 +
                                     W.ids[20:23]))
        names = {p["name"] for p in rep[0]["principals"]}
        self.assertTrue({"thief", "honest"} <= names)
        p = W.report("--since", str(W.t0), "--until", str(W.t0), check=None)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"--until is not after --since", p.stderr)
        self.assertEqual(p.stdout, b"")

    def test_markdown_and_html_show_it_without_an_identifier(self):
        for fmt in ("md", "html"):
            out = os.path.join(W.tmp, "report." + fmt)
            W.report("--principal", "thief", "--format", fmt, "--out", out)
            with open(out) as f:
                text = f.read()
            self.assertEqual(os.stat(out).st_mode & 0o777, 0o600)
            for pid in W.by_get + W.by_find:
                self.assertIn(pid, text)
            for p in W.people:
                for v in (p["ssn"], p["name"]["family"], p["birth"]["date"]):
                    self.assertNotIn(v, text)
            self.assertIn("role.purpose", text)
        with open(os.path.join(W.tmp, "report.html")) as f:
            html = f.read()
        self.assertIn("<svg", html)
        self.assertNotIn("<script", html)
        self.assertIn("default-src 'none'", html)

    def test_only_the_audit_action_reports_and_the_report_is_logged(self):
        p = W.report("--principal", "thief", who="thief", check=None)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"denied by rule role.action", p.stderr)
        W.report("--principal", "thief", who="aud")
        e = [e for e in W.v.entries(principal="aud")
             if e["action"] == "breach.report"]
        self.assertEqual(e[-1]["detail"], "principal thief, token ")

    def test_no_report_from_a_log_that_fails_verification(self):
        """A copy of the vault whose log's history was rewritten on disk:
        the report is refused, naming the checkpoint."""
        copy = os.path.join(W.tmp, "copy")
        shutil.copytree(W.v.path, copy)
        # An earlier checkpoint (opening the vault checks only the
        # latest): its root hash is changed, as a rewrite of history would.
        hist = os.path.join(copy, "log", "history")
        old = os.path.join(hist, min(os.listdir(hist), key=int))
        with open(old) as f:
            text = f.read().split("\n")
        root = text[2]
        text[2] = ("B" if root[0] != "B" else "C") + root[1:]
        with open(old, "w") as f:
            f.write("\n".join(text))
        p = run(["breach", "report", "--vault", copy, "--principal",
                 "thief"], token=W.v.tokens["so"])
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"fails verification", p.stderr)
        self.assertIn(b"history/", p.stderr)
        self.assertEqual(p.stdout, b"")


if __name__ == "__main__":
    unittest.main(verbosity=2)
