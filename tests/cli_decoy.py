#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Decoy people through the CLI (docs/policy.md, "Decoy people").

One vault made with --decoy-every 5, then 60 people imported: it starts
with one decoy and gains about one per five people, mixed in with them.
"""
import json
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from srcli import Vault, run  # noqa: E402

HR = ["--purpose", "hr-action"]
IR = ["--purpose", "incident-response"]
EXIT_AUTH = 14
EXIT_DENIED = 25
PEOPLE = 60
W = None


class World:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="sr-decoy-")
        path = os.path.join(self.tmp, "vault")
        self.v = Vault(path, init_args=["--decoy-every", "5"])
        self.v.add("intake", "intake", service=True)
        self.v.add("so", "security-officer")
        self.v.add("aud", "auditor")
        pol = json.loads(self.v.sr(["policy", "show"], check=0).stdout)
        pol["roles"]["exporter"] = {
            "actions": ["export"], "classes": ["identity", "name"],
            "purposes": ["hr-action"]}
        for r in pol["roles"].values():
            r.pop("budget", None)
        f = os.path.join(self.tmp, "policy.json")
        with open(f, "w") as fh:
            json.dump(pol, fh)
        self.v.sr(["policy", "set", f], check=0)
        self.v.add("exp", "exporter")
        out = run(["gen", "--count", str(PEOPLE), "--seed", "3"],
                  check=0).stdout
        self.people = [json.loads(l) for l in out.splitlines()]
        src = os.path.join(self.tmp, "people.jsonl")
        with open(src, "wb") as fh:
            fh.write(out)
        self.v.sr(["import", src, "--quiet"] + ["--purpose", "intake"],
                  who="intake", check=0)
        self.decoys = [json.loads(l)["id"] for l in self.v.sr(
            ["decoy", "list"], who="so", check=0).stdout.splitlines()]


def setUpModule():
    global W
    W = World()


def tearDownModule():
    shutil.rmtree(W.tmp, ignore_errors=True)


class Decoys(unittest.TestCase):
    n = 0

    def officer(self):
        """A fresh security officer (a reader with no caseload)."""
        Decoys.n += 1
        name = "so%d" % Decoys.n
        W.v.add(name, "security-officer")
        return name

    def test_decoys_are_mixed_in_and_listed_only_for_the_officer(self):
        """More than the first decoy exists after the import; the listing
        is denied to the administrator and the auditor, and logged."""
        self.assertGreater(len(W.decoys), 1)
        self.assertEqual(len(set(W.decoys)), len(W.decoys))
        for who in ("admin", "aud"):
            p = W.v.sr(["decoy", "list"], who=who)
            self.assertEqual(p.returncode, EXIT_DENIED, p.stderr)
            self.assertEqual(p.stdout, b"")
        listed = [e for e in W.v.entries(principal="so")
                  if e["action"] == "decoy.list"]
        self.assertGreaterEqual(len(listed), 1)
        self.assertEqual(listed[0]["people"], [])

    def test_a_decoy_is_never_exported_nor_counted(self):
        aid = W.v.approve("exp", "so", "export", *HR)
        out = W.v.sr(["export", "--approval", aid] + HR, who="exp",
                     check=0).stdout
        ids = [json.loads(l)["id"] for l in out.splitlines()]
        self.assertEqual(len(ids), PEOPLE)
        self.assertFalse(set(ids) & set(W.decoys))
        stats = json.loads(W.v.sr(["stats", "--json"], check=0).stdout)
        self.assertEqual(stats["people"], PEOPLE)
        self.assertEqual(sum(stats["people_by_kek_version"].values()), PEOPLE)

    def test_one_read_of_a_decoy_freezes_the_reader(self):
        """The read is served like any other (the reader cannot tell),
        then the reader is frozen: the next command is refused, the log
        says decoy.read, an alert is raised."""
        who = self.officer()
        p = W.v.sr(["get", W.decoys[0]] + IR, who=who)
        self.assertEqual(p.returncode, 0, p.stderr)
        person = json.loads(p.stdout)
        self.assertEqual(person["id"], W.decoys[0])
        self.assertIn("-", person["name"]["family"])
        p = W.v.sr(["get", W.decoys[0]] + IR, who=who)
        self.assertEqual(p.returncode, EXIT_AUTH, p.stderr)
        (e,) = [e for e in W.v.entries(principal=who)
                if e["action"] == "principal.freeze"]
        self.assertEqual(e["rule"], "decoy.read")
        self.assertEqual(e["people"], [])
        with open(os.path.join(W.v.path, "alerts", "alerts.jsonl")) as f:
            alerts = [json.loads(l) for l in f]
        self.assertIn(("principal.frozen", who, "decoy.read"),
                      [(a["kind"], a["principal"], a["reason"])
                       for a in alerts])

    def test_a_search_that_returns_a_decoy_freezes_the_searcher(self):
        # The decoy's SSN, as a thief might have it from elsewhere (the
        # officer who reads it here is frozen for it).
        decoy = json.loads(W.v.sr(["get", W.decoys[1]] + IR,
                                  who=self.officer(), check=0).stdout)
        who = self.officer()
        p = W.v.sr(["find", "--ssn", decoy["ssn"]] + IR, who=who)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout)["id"], W.decoys[1])
        p = W.v.sr(["find", "--ssn", W.people[0]["ssn"]] + IR, who=who)
        self.assertEqual(p.returncode, EXIT_AUTH, p.stderr)

    def test_reading_people_freezes_nobody(self):
        who = self.officer()
        for p in W.people[:10]:
            r = W.v.sr(["find", "--ssn", p["ssn"]] + IR, who=who)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertNotIn(json.loads(r.stdout)["id"], W.decoys)
        users = [json.loads(l) for l in
                 W.v.sr(["user", "list"], check=0).stdout.splitlines()]
        self.assertFalse([u for u in users if u["name"] == who][0]["frozen"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
