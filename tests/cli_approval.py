#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The two-person rule through the CLI (docs/policy.md, "Two-person rule").

One vault: the default policy with bulk_threshold 3 and a role "records"
that may export (and search) for retention; six people share a family
name and birth date, so a search by them is a bulk search.
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

RET = ["--purpose", "retention"]
EXIT_DENIED = 25
W = None


class World:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="sr-approval-")
        self.v = Vault(os.path.join(self.tmp, "vault"), expected_people=100)
        pol = json.loads(self.v.sr(["policy", "show"], check=0).stdout)
        pol["bulk_threshold"] = 3
        pol["roles"]["records"] = {
            "actions": ["export", "find"], "classes": ["identity", "name"],
            "purposes": ["retention"]}
        f = os.path.join(self.tmp, "policy.json")
        with open(f, "w") as fh:
            json.dump(pol, fh)
        self.v.sr(["policy", "set", f], check=0)
        for name, role, service in (("intake", "intake", True),
                                    ("rec", "records", False),
                                    ("rec2", "records", False),
                                    ("so", "security-officer", False),
                                    ("so2", "security-officer", False),
                                    ("aud", "auditor", False)):
            self.v.add(name, role, service=service)
        out = run(["gen", "--count", "10", "--seed", "8"], check=0).stdout
        people = [json.loads(l) for l in out.splitlines()]
        for p in people[:6]:
            p["name"]["family"] = "Lindqvist"
            p["birth"]["date"] = "1980-02-03"
            p.pop("former_names", None)
        src = os.path.join(self.tmp, "people.jsonl")
        with open(src, "w") as fh:
            fh.write("".join(json.dumps(p) + "\n" for p in people))
        self.v.sr(["import", src, "--quiet", "--purpose", "intake"],
                  who="intake", check=0)
        self.people = people


def setUpModule():
    global W
    W = World()


def tearDownModule():
    shutil.rmtree(W.tmp, ignore_errors=True)


class TwoPersons(unittest.TestCase):
    def assertDenied(self, p, rule):
        self.assertEqual(p.returncode, EXIT_DENIED, p.stderr)
        self.assertIn(("denied by rule %s:" % rule).encode(), p.stderr)
        self.assertEqual(p.stdout, b"")

    def request(self, who, what, *args):
        p = W.v.sr(["approval", "request", what] + list(args), who=who,
                   check=0)
        return p.stdout.decode().strip()

    def test_an_export_without_an_approval_is_refused_and_logged(self):
        before = W.v.log_size()
        self.assertDenied(W.v.sr(["export"] + RET, who="rec"),
                          "approval.required")
        e = [e for e in W.v.entries(from_=before)
             if e["action"] == "export"]
        self.assertEqual([(x["outcome"], x["rule"]) for x in e],
                         [("denied", "approval.required")])

    def test_an_approved_export_runs_and_names_its_approval(self):
        aid = self.request("rec", "export", *RET)
        self.assertRegex(aid, r"^[0-9a-f]{16}$")
        # Asked for, not yet approved: still refused.
        self.assertDenied(W.v.sr(["export", "--approval", aid] + RET,
                                 who="rec"), "approval.invalid")
        W.v.sr(["approval", "approve", aid], who="so", check=0)
        out = W.v.sr(["export", "--approval", aid] + RET, who="rec",
                     check=0).stdout.splitlines()
        self.assertEqual(len(out), len(W.people))
        steps = {e["action"]: e for e in W.v.entries()
                 if aid in e.get("detail", "")}
        self.assertEqual(steps["approval.request"]["principal"], "rec")
        self.assertEqual(steps["approval.request"]["purpose"], "retention")
        self.assertEqual(steps["approval.approve"]["principal"], "so")
        self.assertEqual(steps["approval.approve"]["detail"],
                         "approval %s, requested by rec" % aid)
        self.assertEqual(steps["export"]["outcome"], "allowed")

    def test_an_approval_covers_only_its_own_request(self):
        aid = self.request("rec", "export", *RET)
        W.v.sr(["approval", "approve", aid], who="so", check=0)
        # Another principal of the same role cannot use it.
        p = W.v.sr(["export", "--approval", aid] + RET, who="rec2")
        self.assertDenied(p, "approval.invalid")
        self.assertIn(b"asked for by another principal", p.stderr)
        # One for a case covers no export without it.
        aid = self.request("rec", "export", *RET, "--case", "C-9")
        W.v.sr(["approval", "approve", aid], who="so", check=0)
        p = W.v.sr(["export", "--approval", aid] + RET, who="rec")
        self.assertDenied(p, "approval.invalid")
        self.assertIn(b"another case", p.stderr)
        # Nor one for a search.
        aid = self.request("rec", "find", "--name", "X", "--dob",
                           "1990-01-01", *RET)
        W.v.sr(["approval", "approve", aid], who="so", check=0)
        p = W.v.sr(["export", "--approval", aid] + RET, who="rec")
        self.assertDenied(p, "approval.invalid")
        self.assertIn(b"another action", p.stderr)

    def test_nobody_approves_their_own_request(self):
        """A security officer may ask (for a search it could make) but not
        approve its own request; approving twice is refused too."""
        aid = self.request("so", "find", "--name", "Lindqvist", "--dob",
                           "1980-02-03", "--purpose", "incident-response")
        p = W.v.sr(["approval", "approve", aid], who="so")
        self.assertDenied(p, "approval.self")
        W.v.sr(["approval", "approve", aid], who="so2", check=0)
        p = W.v.sr(["approval", "approve", aid], who="so2")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"was approved by so2", p.stderr)
        p = W.v.sr(["approval", "approve", aid], who="rec")
        self.assertDenied(p, "role.action")

    def test_an_approval_expires(self):
        aid = self.request("rec", "export", *RET, "--expires", "1s")
        time.sleep(2.1)
        p = W.v.sr(["approval", "approve", aid], who="so")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"has expired", p.stderr)

    def test_a_bulk_search_needs_an_approval_of_that_very_search(self):
        search = ["find", "--name", "Lindqvist", "--dob", "1980-02-03"] + RET
        self.assertDenied(W.v.sr(search, who="rec"), "approval.required")
        # A search that matches up to the threshold needs none.
        p = W.v.sr(["find", "--ssn", W.people[7]["ssn"]] + RET, who="rec",
                   check=0)
        self.assertEqual(len(p.stdout.splitlines()), 1)
        other = self.request("rec", "find", "--name", "Lindqvist", "--dob",
                             "1980-02-04", *RET)
        W.v.sr(["approval", "approve", other], who="so", check=0)
        p = W.v.sr(search + ["--approval", other], who="rec")
        self.assertDenied(p, "approval.invalid")
        self.assertIn(b"another search", p.stderr)
        aid = self.request("rec", "find", "--name", "lindqvist", "--dob",
                           "1980-02-03", *RET)
        W.v.sr(["approval", "approve", aid], who="so", check=0)
        p = W.v.sr(search + ["--approval", aid], who="rec", check=0)
        self.assertEqual(len(p.stdout.splitlines()), 6)

    def test_only_an_approver_lists_approvals_and_no_search_is_shown(self):
        aid = self.request("rec", "find", "--name", "Lindqvist", "--dob",
                           "1980-02-03", *RET)
        lines = [json.loads(l) for l in W.v.sr(["approval", "list"],
                                               who="so2", check=0)
                 .stdout.splitlines()]
        (mine,) = [a for a in lines if a["id"] == aid]
        self.assertEqual(mine["requester"], "rec")
        self.assertEqual(mine["action"], "find.name")
        self.assertEqual(mine["approved_by"], "")
        self.assertNotIn("Lindqvist", json.dumps(lines))
        self.assertNotIn("1980-02-03", json.dumps(lines))
        self.assertNotIn("digest", mine)
        self.assertDenied(W.v.sr(["approval", "list"], who="rec"),
                          "role.action")


if __name__ == "__main__":
    unittest.main(verbosity=2)
