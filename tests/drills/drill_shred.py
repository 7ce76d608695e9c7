#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Drill (g): a shredded person is gone.

A vault of 200 people. Before the shred, the person's stored bytes (the
wrapped data key and every envelope) are copied out of the database, as a
forensic examiner would. After `strongroom shred`, the person must be
absent from search by SSN and by name, from get, from an approved export,
and their bytes from the database file and its write-ahead log (any 24
bytes of any of them); their case membership is gone and the log holds
the shredding by keyed reference only. Then `strongroom retention run`
destroys exactly the people separated longer than the policy's retention.

The last line printed is the figure: places the shredded person was found
(target 0).
"""
import datetime
import json
import os
import shutil
import re
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from srcli import EXIT_NOT_FOUND, ON_PG, Vault, gen  # noqa: E402

RET = ["--purpose", "retention"]
IR = ["--purpose", "incident-response"]
FIGURES = []


def chunks(blob, n=24):
    return [blob[i:i + n] for i in range(0, len(blob) - n + 1, n)]


class Shredded(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sr-drill-g-")
        cls.v = v = Vault(os.path.join(cls.tmp, "vault"), expected_people=1000)
        def schedule(pol):
            pol["retention"] = {"destroy_after_separation_years": 10}
            pol["roles"]["records"] = {"actions": ["export"],
                                       "classes": ["identity", "name"],
                                       "purposes": ["retention"]}
            for r in pol["roles"].values():
                r.pop("budget", None)
        v.edit_policy(schedule)
        for name, role, service in (("intake", "intake", True),
                                    ("so", "security-officer", False),
                                    ("so2", "security-officer", False),
                                    ("aud", "auditor", False),
                                    ("records", "records", False)):
            v.add(name, role, service=service)
        cls.people = gen(200, 31)
        v.store(cls.people)
        cls.ids = [json.loads(v.sr(["find", "--ssn", p["ssn"]] + IR,
                                   who="so", check=0).stdout)["id"]
                   for p in cls.people[:5]]

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_a_shredded_person_is_gone_everywhere(self):
        v, pid, p = self.v, self.ids[0], self.people[0]
        v.sr(["case", "open", "C-1"], check=0)
        v.sr(["case", "add", "C-1", "--person", pid], check=0)
        cols = ", ".join(v.hex_sql(c) for c in
                         ("wrapped", "c0", "c1", "c2", "c3", "c4", "c5"))
        row = v.store_query("SELECT %s FROM persons WHERE %s"
                            % (cols, v.id_is(pid)))[0]
        index_rows = int(v.store_query(
            "SELECT count(*) FROM blind_index")[0][0])
        pieces = [c for h in row if h for c in chunks(bytes.fromhex(h))]
        self.assertGreater(len(pieces), 10)
        before = v.stored_bytes()
        self.assertTrue(all(x in before for x in pieces[:3]))

        v.sr(["shred", pid, "--reason", "court-order-1138"] + RET, who="so",
             check=0)
        found = {}
        p1 = v.sr(["find", "--ssn", p["ssn"]] + IR, who="so2", check=0)
        found["search by SSN"] = p1.stdout != b""
        p2 = v.sr(["find", "--name", p["name"]["family"], "--dob",
                   p["birth"]["date"]] + IR, who="so2", check=0)
        found["search by name"] = pid.encode() in p2.stdout
        p3 = v.sr(["get", pid] + IR, who="so2")
        found["get"] = p3.returncode != EXIT_NOT_FOUND
        aid = v.approve("records", "so", "export", *RET)
        p4 = v.sr(["export", "--approval", aid] + RET, who="records", check=0)
        found["export"] = pid.encode() in p4.stdout
        self.assertEqual(len(p4.stdout.splitlines()), len(self.people) - 1)
        if ON_PG:
            # No secure delete on PostgreSQL: a dead row's bytes stay in
            # free space and recycled WAL until overwritten
            # (docs/storage.md). The live database must not have them.
            dump = subprocess.run(["pg_dump", v.conninfo], check=True,
                                  capture_output=True).stdout
            dump = b"".join(bytes.fromhex(h.decode()) for h in
                            re.findall(rb"\\x([0-9a-f]+)", dump))
            found["live database (pg_dump)"] = any(x in dump for x in pieces)
        else:
            data = self.v.stored_bytes()
            found["database file and WAL"] = any(x in data for x in pieces)
        after = int(v.store_query("SELECT count(*) FROM blind_index")[0][0])
        members = int(v.store_query("SELECT count(*) FROM docs WHERE kind = "
                                    "'case_person'")[0][0])
        found["blind index"] = after >= index_rows
        found["case membership"] = members != 0
        cases = [json.loads(x) for x in
                 v.sr(["case", "list"], check=0).stdout.splitlines()]
        self.assertEqual([c["people"] for c in cases if c["case"] == "C-1"],
                         [0])
        entries = v.entries()
        (e,) = [e for e in entries if e["action"] == "shred"]
        self.assertEqual(e["detail"], "reason court-order-1138")
        self.assertEqual(len(e["people"]), 1)
        self.assertNotIn(pid, json.dumps(entries))
        # Shredding again: not found, and logged as failed.
        p5 = v.sr(["shred", pid, "--reason", "again"] + RET, who="so")
        self.assertEqual(p5.returncode, EXIT_NOT_FOUND, p5.stderr)
        self.assertEqual({k: x for k, x in found.items() if x}, {})
        FIGURES.append("drill g (a shredded person): found in %d of %d places "
                       "(%s) (target 0)"
                       % (sum(found.values()), len(found), ", ".join(found)))

    def test_retention_destroys_exactly_who_is_due(self):
        cutoff = datetime.date.today().replace(
            year=datetime.date.today().year - 10).isoformat()
        due = []
        for p in self.people[1:]:
            emp = p.get("employment") or []
            if emp and all(e["status"] == "former" for e in emp) and \
                    max(e["end"] for e in emp) <= cutoff:
                due.append(p)
        self.assertGreater(len(due), 0, "the population has nobody due")
        plan = json.loads(self.v.sr(["retention", "run", "--dry-run"] + RET,
                                    who="so", check=0).stdout)
        self.assertEqual(plan["due"], len(due))
        self.assertEqual(plan["shredded"], 0)
        keys = "SELECT %s FROM persons" % self.v.hex_sql("wrapped")
        before = {h for (h,) in self.v.store_query(keys)}
        done = json.loads(self.v.sr(["retention", "run"] + RET, who="so",
                                    check=0).stdout)
        self.assertEqual(done["shredded"], len(due))
        after = {h for (h,) in self.v.store_query(keys)}
        self.assertEqual(len(before - after), len(due))
        if not ON_PG:
            # Not one byte run of a destroyed person's wrapped key is left
            # in the file or the WAL. Then, after the compaction that
            # follows a run (docs/retention.md), every kept key is there
            # once: a second copy (left in a page's free space by a split
            # or a merge in the middle of the table, docs/storage.md)
            # would outlive a later shred.
            data = self.v.stored_bytes()
            for w in map(bytes.fromhex, before - after):
                self.assertNotIn(w[:24], data)
                self.assertNotIn(w[-24:], data)
            self.v.sr(["store", "compact"], check=0)
            data = self.v.stored_bytes()
            for w in map(bytes.fromhex, before - after):
                self.assertNotIn(w[:24], data)
            for w in map(bytes.fromhex, after):
                self.assertEqual(data.count(w[:24]), 1)
        for p in due[:5]:
            o = self.v.sr(["find", "--ssn", p["ssn"]] + IR, who="so2",
                          check=0)
            self.assertEqual(o.stdout, b"")
        kept = [p for p in self.people[1:] if p not in due][:5]
        for p in kept:
            o = self.v.sr(["find", "--ssn", p["ssn"]] + IR, who="so2",
                          check=0)
            self.assertNotEqual(o.stdout, b"")
        again = json.loads(self.v.sr(["retention", "run", "--dry-run"] + RET,
                                     who="so", check=0).stdout)
        self.assertEqual(again["due"], 0)


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    for f in FIGURES:
        print(f)
    if not FIGURES:
        print("drill g (a shredded person): FAILED")
    sys.exit(0 if result.wasSuccessful() else 1)
