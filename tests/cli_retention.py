#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Retention per field class (docs/retention.md): investigation files and
fingerprints destroyed sooner than the personnel file.

Policy: people destroyed 15 years after separation; their investigation
and biometric classes 5 years after. 300 generated people. `retention
run` must destroy exactly the people due and, from those separated 5 to
15 years, exactly those two classes: gone from get (the rest intact), from
the database file and its WAL, logged with the classes destroyed; a second
run finds nothing due. Destroying more people than the bulk threshold
needs a second officer's approval. A policy that would schedule the
identity, name or employment class, or a class no sooner than the
person, is refused.
"""
import json
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from srcli import (ON_PG, Vault, gen, separated,
                   years_ago, run_on_terminal)  # noqa: E402

RET = ["--purpose", "retention"]
IR = ["--purpose", "incident-response"]
TRIMMED = ("investigations", "fingerprints")


class ClassRetention(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sr-retention-")
        cls.v = v = Vault(os.path.join(cls.tmp, "vault"),
                          expected_people=1000)
        def schedule(pol):
            # A run destroying more than one person needs a second officer.
            pol["bulk_threshold"] = 1
            pol["retention"] = {
                "destroy_after_separation_years": 15,
                "destroy_classes_after_separation_years": {
                    "investigation": 5, "biometric": 5}}
            pol["roles"]["records"] = {
                "actions": ["get"],
                "classes": ["identity", "name", "contact", "employment",
                            "investigation", "biometric"],
                "purposes": ["retention"]}
            for r in pol["roles"].values():
                r.pop("budget", None)
        cls.policy = v.edit_policy(schedule)
        for name, role, service in (("intake", "intake", True),
                                    ("so", "security-officer", False),
                                    ("so2", "security-officer", False),
                                    ("aud", "auditor", False),
                                    ("records", "records", False)):
            v.add(name, role, service=service)
        cls.people = gen(300, 47)
        v.store(cls.people)
        cut15, cut5 = years_ago(15), years_ago(5)
        cls.gone = [p for p in cls.people
                    if separated(p) and separated(p) <= cut15]
        cls.trim = [p for p in cls.people
                    if separated(p) and cut15 < separated(p) <= cut5 and
                    any(p.get(k) for k in TRIMMED)]
        cls.kept = [p for p in cls.people
                    if p not in cls.gone and p not in cls.trim]

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def write(cls, name, obj):
        path = os.path.join(cls.tmp, name)
        with open(path, "w") as f:
            json.dump(obj, f)
        return path

    def pid(self, p):
        out = self.v.sr(["find", "--ssn", p["ssn"]] + IR, who="so",
                        check=0).stdout
        return json.loads(out)["id"] if out else None

    def get(self, pid):
        return json.loads(self.v.sr(["get", pid] + RET, who="records",
                                    check=0).stdout)

    def test_classes_go_sooner_than_the_person(self):
        v = self.v
        self.assertGreater(len(self.gone), 0, "nobody separated 15 years")
        self.assertGreater(len(self.trim), 0, "nobody separated 5-15 years")
        sample = [(p, self.pid(p)) for p in self.trim[:6]]
        old = {}
        for p, pid in sample:
            before = self.get(pid)
            self.assertTrue(any(k in before for k in TRIMMED))
            old[pid] = [bytes.fromhex(b) for b in v.store_query(
                "SELECT %s, %s FROM persons WHERE %s"
                % (v.hex_sql("c4"), v.hex_sql("c5"), v.id_is(pid)))[0] if b]
        before = v.stored_bytes()
        self.assertTrue(all(b in before for bs in old.values() for b in bs))
        plan = json.loads(v.sr(["retention", "run", "--dry-run"] + RET,
                               who="so", check=0).stdout)
        self.assertEqual((plan["due"], plan["classes_due"]),
                         (len(self.gone), len(self.trim)))
        # Over the bulk threshold: refused without a second officer's
        # approval, and nothing destroyed.
        p = v.sr(["retention", "run"] + RET, who="so", check=None)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"denied by rule approval.required", p.stderr)
        again = json.loads(v.sr(["retention", "run", "--dry-run"] + RET,
                                who="so", check=0).stdout)
        self.assertEqual(again["due"], len(self.gone))
        aid = v.approve("so", "so2", "retention", *RET)
        start = v.log_size()
        done = json.loads(v.sr(["retention", "run", "--approval", aid] + RET,
                               who="so", check=0).stdout)
        self.assertEqual((done["shredded"], done["classes_destroyed"]),
                         (len(self.gone), len(self.trim)))
        data = self.v.stored_bytes()
        for p, pid in sample:
            after = self.get(pid)
            for k in TRIMMED:
                self.assertNotIn(k, after)
            # The rest of the file is as it was.
            for k in ("name", "birth", "addresses", "employment"):
                self.assertEqual(after.get(k), p.get(k), k)
            # Not a byte of the old envelopes is left on disk. PostgreSQL
            # keeps dead rows' bytes until their space is reused
            # (docs/storage.md): there, the keys' destruction is what
            # erases (checked by reading above).
            for blob in old[pid] if not ON_PG else []:
                self.assertNotIn(blob[:32], data)
                self.assertNotIn(blob[-32:], data)
        for p in self.gone[:4]:
            self.assertIsNone(self.pid(p))
        for p in self.kept[:4]:
            pid = self.pid(p)
            after = self.get(pid)
            for k in TRIMMED:
                self.assertEqual(after.get(k), p.get(k))
        entries = [e for e in v.entries(from_=start)
                   if e["action"] == "retention.run"]
        trims = [e for e in entries if e["detail"].startswith(
            "destroyed classes ")]
        self.assertTrue(any(e["detail"].endswith("approval " + aid)
                            for e in entries))
        self.assertEqual(sum(e["count"] for e in trims), len(self.trim))
        for e in trims:
            self.assertTrue(set(e["classes"]) <= {"investigation",
                                                  "biometric"})
        again = json.loads(v.sr(["retention", "run", "--dry-run"] + RET,
                                who="so", check=0).stdout)
        self.assertEqual((again["due"], again["classes_due"]), (0, 0))

    def on_a_terminal(self, args):
        """Run the command as the officer with stderr on a terminal:
        (stdout, what the terminal showed)."""
        rc, out, err = run_on_terminal(args[:1] + ["--vault", self.v.path]
                                       + args[1:], token=self.v.tokens["so"])
        self.assertEqual(rc, 0, err)
        return out, err

    def test_a_run_on_a_terminal_shows_its_progress(self):
        out, err = self.on_a_terminal(["retention", "run", "--dry-run"] + RET)
        plan = json.loads(out)
        self.assertIn(("retention: reading, %d people so far"
                       % plan["scanned"]).encode(), err)
        self.assertNotIn(b"{", err)  # the summary goes to stdout alone
        out, err = self.on_a_terminal(["retention", "run", "--dry-run",
                                       "--quiet"] + RET)
        self.assertEqual(json.loads(out), plan)
        self.assertNotIn(b"retention:", err)

    def test_a_policy_may_not_schedule_what_indexes_or_dates_a_person(self):
        for cls_, years, why in (
                ("employment", 5, b"the employment class stays as long as "
                                  b"the person"),
                ("name", 5, b"the name class stays"),
                ("investigation", 15, b"from 1 to less than "
                                      b"destroy_after_separation_years (15)"),
                ("medical", 5, b"unknown field class \"medical\"")):
            pol = json.loads(json.dumps(self.policy))
            pol["retention"]["destroy_classes_after_separation_years"] = {
                cls_: years}
            p = self.v.sr(["policy", "set", self.write("bad.json", pol)],
                          check=None)
            self.assertNotEqual(p.returncode, 0, cls_)
            self.assertIn(b"/retention/destroy_classes_after_separation_"
                          b"years/" + cls_.encode() + b": ", p.stderr)
            self.assertIn(why, p.stderr)


class ManyAtOnce(unittest.TestCase):
    """More people due than one audit entry names (1,024): the store is
    handed them an entry at a time (on PostgreSQL one statement each, all
    in one transaction), and every one of them goes."""

    def test_a_run_over_more_than_one_entry_of_people(self):
        tmp = tempfile.mkdtemp(prefix="sr-retention-many-")
        try:
            v = Vault(os.path.join(tmp, "vault"), expected_people=2000)

            def schedule(pol):
                pol["retention"] = {"destroy_after_separation_years": 5}
                for r in pol["roles"].values():
                    r.pop("budget", None)
            v.edit_policy(schedule)
            for name, role, service in (("intake", "intake", True),
                                        ("so", "security-officer", False),
                                        ("so2", "security-officer", False),
                                        ("aud", "auditor", False)):
                v.add(name, role, service=service)
            people = gen(1100, 59)
            # Everyone left by 2020: all of them due.
            for p in people:
                for e in p.get("employment") or []:
                    e["start"] = min(e["start"], "2020-01-01")
                    e["status"] = "former"
                    e["end"] = min(e.get("end", e["start"]), "2020-01-01")
                    e["end"] = max(e["end"], e["start"])
            people = [p for p in people if separated(p)]
            self.assertGreater(len(people), 1024)
            v.store(people)
            plan = json.loads(v.sr(["retention", "run", "--dry-run"] + RET,
                                   who="so", check=0).stdout)
            self.assertGreaterEqual(plan["due"], len(people))
            aid = v.approve("so", "so2", "retention", *RET)
            start = v.log_size()
            done = json.loads(v.sr(["retention", "run", "--approval", aid]
                                   + RET, who="so", check=0).stdout)
            self.assertEqual(done["shredded"], plan["due"])
            for p in (people[0], people[len(people) // 2], people[-1]):
                out = v.sr(["find", "--ssn", p["ssn"]] + IR, who="so",
                           check=0).stdout
                self.assertEqual(out, b"")
            counts = [e["count"] for e in v.entries(from_=start)
                      if e["action"] == "retention.run"
                      and e["detail"].startswith("separated on or before")]
            self.assertEqual(sum(counts), done["shredded"])
            self.assertEqual(max(counts), 1024)
            # Their index rows went with them: those left are the
            # decoys' (not due), one SSN row each.
            left = int(v.store_query("SELECT count(*) FROM persons")[0][0])
            self.assertLess(left, 10)
            self.assertEqual(int(v.store_query(
                "SELECT count(*) FROM blind_index WHERE kind = 1")[0][0]),
                left)
            again = json.loads(v.sr(["retention", "run", "--dry-run"] + RET,
                                    who="so", check=0).stdout)
            self.assertEqual(again["due"], 0)
            v.sr(["audit", "verify"], who="aud", check=0)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

if __name__ == "__main__":
    unittest.main(verbosity=2)
