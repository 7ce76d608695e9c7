#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""`strongroom store compact` (docs/storage.md, "Compaction").

250 generated people, a policy destroying people 10 years after they
left. A copy of the vault is taken, then the vault is compacted: every
person, wrapped key and index row is still there, once; the people who
left in the same year share a cluster; the file is the vault's alone
(mode 0600) with nothing left beside it; the compaction is logged.
Then both vaults get the same changes (a person due made current again,
a current person made due, two new people due, one of whom left before
1970) and the same retention run:
the compacted vault, which reads only the clusters that may be due and
everyone written since the compaction, destroys exactly the people the
other destroys, and leaves no byte of their keys in its file or WAL; a
compaction after the run leaves every kept key in the file once.
On PostgreSQL the command is refused and says why.
"""
import json
import os
import shutil
import stat
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from srcli import (ON_PG, Vault, gen, run, run_on_terminal,  # noqa: E402
                   separated, years_ago)

RET = ["--purpose", "retention"]
IR = ["--purpose", "incident-response"]
YEARS = 10
KEYS = "SELECT lower(hex(id)), lower(hex(wrapped)) FROM persons"


class Compact(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sr-compact-")
        cls.v = v = Vault(os.path.join(cls.tmp, "vault"),
                          expected_people=1000)

        def schedule(pol):
            pol["retention"] = {"destroy_after_separation_years": YEARS}
            pol["roles"]["fixer"] = {
                "actions": ["get", "update"],
                "classes": ["identity", "name", "contact", "employment",
                            "investigation", "biometric"],
                "purposes": ["hr-action"]}
            for r in pol["roles"].values():
                r.pop("budget", None)
        v.edit_policy(schedule)
        for name, role, service in (("intake", "intake", True),
                                    ("so", "security-officer", False),
                                    ("so2", "security-officer", False),
                                    ("aud", "auditor", False),
                                    ("fixer", "fixer", False)):
            v.add(name, role, service=service)
        # On PostgreSQL only the refusal is tested: no people needed.
        cls.people = [] if ON_PG else gen(250, 51)
        if cls.people:
            v.store(cls.people)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def pid(self, v, p):
        out = v.sr(["find", "--ssn", p["ssn"]] + IR, who="so",
                   check=0).stdout
        return json.loads(out)["id"] if out else None

    @unittest.skipUnless(ON_PG, "PostgreSQL only")
    def test_postgresql_keeps_no_clusters(self):
        p = self.v.sr(["store", "compact"], check=None)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"on PostgreSQL, which keeps no retention clusters",
                      p.stderr)

    @unittest.skipIf(ON_PG, "the SQLite file only: PostgreSQL keeps no "
                     "clusters (test_postgresql_keeps_no_clusters)")
    def test_compaction_then_retention(self):
        v = self.v
        db = os.path.join(v.path, "vault.db")
        before = dict(v.store_query(KEYS))
        index = v.store_query("SELECT count(*) FROM blind_index")
        # The other vault: the same people, never compacted.
        other = Vault.__new__(Vault)
        other.__dict__.update(v.__dict__)
        other.path = os.path.join(self.tmp, "other")
        shutil.copytree(v.path, other.path)

        out = json.loads(v.sr(["store", "compact"], check=0).stdout)
        self.assertEqual(out["people"], len(before))

        # Everything there, once, and in clusters.
        self.assertEqual(dict(v.store_query(KEYS)), before)
        self.assertEqual(v.store_query("SELECT count(*) FROM blind_index"),
                         index)
        data = v.stored_bytes()
        for w in map(bytes.fromhex, before.values()):
            self.assertEqual(data.count(w[:24]), 1)
        clusters = {pid: int(c) for pid, c in v.store_query(
            "SELECT lower(hex(id)), seq >> 40 FROM persons")}
        self.assertTrue(all(1 <= c <= 65535 for c in clusters.values()))
        # (Each a search by SSN on the compacted vault, which must work.)
        by_year = {}
        for p in self.people[:30]:
            left = separated(p)
            by_year.setdefault(left[:4] if left else "employed",
                               set()).add(clusters[self.pid(v, p)])
        for year, cs in by_year.items():
            self.assertEqual(len(cs), 1, "%s: split over %s" % (year, cs))
        self.assertGreater(len(set(clusters.values())), 5)
        self.assertEqual(stat.S_IMODE(os.stat(db).st_mode), 0o600)
        # 8 KiB pages: four people a page, not two (docs/storage.md).
        self.assertEqual(v.store_query("PRAGMA page_size"), [("8192",)])
        self.assertEqual(sorted(f for f in os.listdir(v.path)
                                if f.startswith("vault.db")),
                         ["vault.db"] + sorted(
                             f for f in os.listdir(v.path)
                             if f in ("vault.db-wal", "vault.db-shm")))
        self.assertIn(b"ok:", v.sr(["audit", "verify"], check=0).stdout)
        (e,) = [e for e in v.entries() if e["action"] == "store.compact"]
        self.assertEqual(e["detail"], "people %d" % len(before))

        # The same changes to both vaults.
        cutoff = years_ago(YEARS)
        due = [p for p in self.people
               if separated(p) and separated(p) <= cutoff]
        employed = [p for p in self.people
                    if p.get("employment") and not separated(p)]
        self.assertGreater(len(due), 10, "the population has few due")
        back, leaves = due[0], employed[0]
        # New since the compaction: one who left 30 years ago, and one
        # who left before 1970 (a day before the epoch is still a day).
        new = [dict(p, employment=[{
            "agency": "Department of Energy", "position": "Biologist",
            "kind": "employee", "status": "former", "start": start,
            "end": end}]) for p, start, end in zip(
                gen(2, 52), ("1980-01-02", "1950-01-02"),
                (years_ago(YEARS + 30), "1965-06-30"))]
        for x in (v, other):
            patch = [dict(e, status="current") for e in back["employment"]]
            for e in patch:
                e.pop("end", None)
            x.sr(["update", self.pid(x, back), "--purpose", "hr-action"],
                 who="fixer", stdin=json.dumps({"employment": patch}).encode(),
                 check=0)
            patch = [dict(e, status="former", start="1980-01-02",
                          end=years_ago(YEARS + 3))
                     for e in leaves["employment"]]
            x.sr(["update", self.pid(x, leaves), "--purpose", "hr-action"],
                 who="fixer", stdin=json.dumps({"employment": patch}).encode(),
                 check=0)
            x.store(new)
        gone = [p for p in due if p is not back] + [leaves] + new

        plans = [json.loads(x.sr(["retention", "run", "--dry-run"] + RET,
                                 who="so", check=0).stdout)
                 for x in (v, other)]
        self.assertEqual(plans[0]["due"], len(gone))
        self.assertEqual(plans[0]["due"], plans[1]["due"])
        # Only the clusters that may be due, and the four written since
        # (the two changed, the two new), which are in no cluster; in the
        # vault never compacted, nobody is.
        self.assertLess(plans[0]["scanned"], plans[1]["scanned"])
        self.assertEqual(plans[0]["unclustered"], 4)
        self.assertEqual(plans[1]["unclustered"], plans[1]["scanned"])
        done = []
        for x in (v, other):
            aid = x.approve("so", "so2", "retention", *RET)
            done.append(json.loads(x.sr(
                ["retention", "run", "--approval", aid] + RET, who="so",
                check=0).stdout))
        self.assertEqual(done[0]["shredded"], len(gone))
        self.assertEqual(done[1]["shredded"], len(gone))
        self.assertEqual(sorted(x for x, _ in v.store_query(KEYS)),
                         sorted(x for x, _ in other.store_query(KEYS)))
        for p in gone[-3:]:
            self.assertIsNone(self.pid(v, p))
        self.assertIsNotNone(self.pid(v, back))
        kept = dict(v.store_query(KEYS))
        destroyed = set(before.values()) - set(kept.values())
        data = v.stored_bytes()
        for w in map(bytes.fromhex, destroyed):
            self.assertNotIn(w[:24], data)
            self.assertNotIn(w[-24:], data)
        # The run's deletions (and the updates' before it) can make SQLite
        # merge pages, which may leave a stale copy of a kept row in free
        # space (1 run in about 20 here): a compaction after the run leaves
        # none, so a later shred of that person leaves nothing either
        # (docs/storage.md, "Compaction").
        v.sr(["store", "compact"], check=0)
        data = v.stored_bytes()
        for w in map(bytes.fromhex, destroyed):
            self.assertNotIn(w[:24], data)
            self.assertNotIn(w[-24:], data)
        for w in map(bytes.fromhex, kept.values()):
            self.assertEqual(data.count(w[:24]), 1)
        self.assertIn(b"ok:", v.sr(["audit", "verify"], check=0).stdout)

    @unittest.skipIf(ON_PG, "the SQLite file only")
    def test_what_a_crashed_compaction_left_is_overwritten_and_removed(self):
        # (After test_compaction_then_retention, which counts compactions.)
        v = self.v
        left = os.path.join(v.path, "vault.db-compact")
        with open(left, "wb") as f:
            f.write(b"half a compaction" * 1000)
        # On a terminal, with its progress line.
        args = ["store", "compact", "--vault", v.path]
        rc, out, err = run_on_terminal(args, token=v.tokens["admin"])
        self.assertEqual(rc, 0, err)
        self.assertGreater(json.loads(out)["people"], 0)
        self.assertIn(b"store compact: 100%", err)
        self.assertFalse(os.path.exists(left))
        rc, out, err = run_on_terminal(args + ["--quiet"],
                                       token=v.tokens["admin"])
        self.assertEqual(rc, 0, err)
        self.assertNotIn(b"store compact:", err)

    def test_store_needs_a_subcommand_it_knows(self):
        p = run(["store", "pack", "--vault", self.v.path], check=None)
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"give move or compact", p.stderr)
        p = run(["store", "compact", "--to", "dbname=x", "--vault",
                 self.v.path], check=None)
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"store compact takes no --to", p.stderr)


@unittest.skipIf(ON_PG, "the SQLite file only: PostgreSQL keeps no clusters "
                 "(cli_server_api checks its runs say 0 outside them)")
class Hint(unittest.TestCase):
    def test_a_run_over_many_unclustered_people_says_to_compact(self):
        """10,000 people, never compacted: a dry run reads them all, all in
        no cluster, and says on stderr that `store compact` would speed up
        later runs (not with --quiet); after the compaction a run reads
        fewer, none outside a cluster, and says nothing of it."""
        tmp = tempfile.mkdtemp(prefix="sr-compact-hint-")
        try:
            v = Vault(os.path.join(tmp, "vault"), expected_people=20000)

            def schedule(pol):
                pol["retention"] = {"destroy_after_separation_years": YEARS}
                for r in pol["roles"].values():
                    r.pop("budget", None)
            v.edit_policy(schedule)
            v.add("intake", "intake", service=True)
            v.add("so", "security-officer")
            v.store(gen(10000, 53))
            dry = ["retention", "run", "--dry-run"] + RET
            p = v.sr(dry, who="so", check=0)
            out = json.loads(p.stdout)
            self.assertGreaterEqual(out["scanned"], 10000)
            self.assertEqual(out["unclustered"], out["scanned"])
            self.assertIn(("%d of the %d people read are in no retention "
                           "cluster" % (out["scanned"], out["scanned"]))
                          .encode(), p.stderr)
            self.assertIn(b"`strongroom store compact`", p.stderr)
            p = v.sr(dry + ["--quiet"], who="so", check=0)
            self.assertNotIn(b"store compact", p.stderr)
            v.sr(["store", "compact", "--quiet"], check=0)
            p = v.sr(dry, who="so", check=0)
            after = json.loads(p.stdout)
            self.assertEqual(after["unclustered"], 0)
            self.assertLess(after["scanned"], out["scanned"])
            self.assertEqual(after["due"], out["due"])
            self.assertNotIn(b"store compact", p.stderr)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
