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

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def set_from(self, col, dst, src, table="persons"):
        """persons.col of dst := table.col of src (table: persons, or a
        copy kept earlier), as a DBA with write access can."""
        v = self.v
        v.store_sql("UPDATE persons SET {c} = (SELECT {c} FROM {t} WHERE {s}) "
                    "WHERE {d}".format(c=col, t=table, s=v.id_is(src),
                                       d=v.id_is(dst)))

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
        self.v.store_sql("CREATE TABLE kept AS SELECT * FROM persons")
        # 1. a class moved between people
        self.set_from("c1", a, b)
        results["class swapped"] = self.detected(a)
        self.set_from("c1", a, a, "kept")
        # 2. a wrapped data key moved between people
        self.set_from("wrapped", a, b)
        results["key swapped"] = self.detected(a)
        self.set_from("wrapped", a, a, "kept")
        # 3. an old version replayed after an update
        self.v.sr(["update", a] + HR, who="hr",
                  stdin=b'{"phones":["+1 202 555 0147"]}', check=0)
        self.set_from("c2", a, a, "kept")
        results["old version replayed"] = self.detected(a)
        # 4. one person's whole row copied over another's (all but the id)
        for c in ("version", "kek_version", "wrapped", "c0", "c1", "c2",
                  "c3", "c4", "c5", "present"):
            self.set_from(c, b, a)
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
