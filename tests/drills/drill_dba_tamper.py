#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Drill (c): a DBA with write access to the database, but no keys, swaps
two people's ciphertexts and replays an old version.

Four attacks on a stored vault, each undone before the next: a field class
moved from one person to another, a wrapped data key moved likewise, an
older version of a class put back after an update, and the whole row of
one person copied over another's (keeping its id). Each must be detected
when the person is read: the read fails naming the person, and reveals
nothing (not the victim's data, not the other person's).

The last line printed is the figure: attacks detected on read (target
all).
"""
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from srcli import EXIT_CORRUPT, Vault, run  # noqa: E402

HR = ["--purpose", "hr-action"]
FIGURES = []


class DbaTamper(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sr-drill-c-")
        self.v = Vault(os.path.join(self.tmp, "vault"), expected_people=100)
        self.v.add("intake", "intake", service=True)
        self.v.add("hr", "hr-clerk")
        out = run(["gen", "--count", "2", "--seed", "4"], check=0).stdout
        self.people = [json.loads(l) for l in out.splitlines()]
        self.ids = []
        for p in self.people:
            self.ids.append(self.v.sr(["put", "--purpose", "intake"],
                                      who="intake", stdin=json.dumps(p)
                                      .encode(), check=0)
                            .stdout.decode().strip())
        self.db = os.path.join(self.v.path, "vault.db")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def sql(self, q, args=()):
        con = sqlite3.connect(self.db)
        rows = con.execute(q, args).fetchall()
        con.commit()
        con.close()
        return rows

    def row(self, pid, col):
        (x,) = self.sql("SELECT %s FROM persons WHERE lower(hex(id)) = ?"
                        % col, (pid,))[0]
        return x

    def detected(self, pid):
        p = self.v.sr(["get", pid] + HR, who="hr")
        other = [self.people[1 - self.ids.index(pid)]]
        leaked = any(v.encode() in p.stdout + p.stderr for o in other
                     for v in (o["ssn"], o["name"]["family"]))
        return (p.returncode == EXIT_CORRUPT and pid.encode() in p.stderr
                and p.stdout == b"" and not leaked)

    def test_every_attack_is_detected_on_read(self):
        a, b = self.ids
        results = {}
        # 1. a class moved between people
        saved = self.row(a, "c1")
        self.sql("UPDATE persons SET c1 = ? WHERE lower(hex(id)) = ?",
                 (self.row(b, "c1"), a))
        results["class swapped"] = self.detected(a)
        self.sql("UPDATE persons SET c1 = ? WHERE lower(hex(id)) = ?",
                 (saved, a))
        # 2. a wrapped data key moved between people
        saved = self.row(a, "wrapped")
        self.sql("UPDATE persons SET wrapped = ? WHERE lower(hex(id)) = ?",
                 (self.row(b, "wrapped"), a))
        results["key swapped"] = self.detected(a)
        self.sql("UPDATE persons SET wrapped = ? WHERE lower(hex(id)) = ?",
                 (saved, a))
        # 3. an old version replayed after an update
        old = self.row(a, "c2")
        self.v.sr(["update", a] + HR, who="hr",
                  stdin=b'{"phones":["+1 202 555 0147"]}', check=0)
        self.sql("UPDATE persons SET c2 = ? WHERE lower(hex(id)) = ?",
                 (old, a))
        results["old version replayed"] = self.detected(a)
        # 4. one person's whole row copied over another's
        cols = [c for (_, c, *_) in self.sql("PRAGMA table_info(persons)")
                if c not in ("id", "seq")]
        for c in cols:
            self.sql("UPDATE persons SET %s = (SELECT %s FROM persons WHERE "
                     "lower(hex(id)) = ?) WHERE lower(hex(id)) = ?" % (c, c),
                     (a, b))
        results["row copied over another"] = self.detected(b)
        self.assertEqual(results, {k: True for k in results})
        FIGURES.append("drill c (DBA swaps and replays ciphertexts): %d of "
                       "%d attacks detected on read, each naming the person "
                       "and revealing nothing (target all)"
                       % (sum(results.values()), len(results)))


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    for f in FIGURES:
        print(f)
    if not FIGURES:
        print("drill c (DBA swaps and replays ciphertexts): FAILED")
    sys.exit(0 if result.wasSuccessful() else 1)
