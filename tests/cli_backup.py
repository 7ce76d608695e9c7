#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Backups in which a shredded person stays shredded (docs/retention.md,
"Backups").

A vault of 40 people is backed up; then two are shredded and one more is
stored. The backup holds the records without a byte of their keys, and no
plaintext. Restored with the live vault's key table, the two shredded
people stay gone (from get, search and the restored file) while everyone
else reads as before, and the restored log verifies; restored with the
backup's own key file (made before the shreds) they come back, which is
why key files are kept apart and for a shorter time. Wrong or damaged key
files, a key file inside the backup, and principals without the
manage-backups action are refused.

On PostgreSQL (the cli_backup_pg twin) the same holds: the backup's
records are an embedded SQLite store whatever the live store, and the
restored vault is an embedded one.
"""
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from srcli import Vault, gen, plaintext_in  # noqa: E402

IR = ["--purpose", "incident-response"]
W = None


class World:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="sr-backup-")
        self.v = Vault(os.path.join(self.tmp, "vault"), expected_people=1000)
        for name, role, service in (("intake", "intake", True),
                                    ("so", "security-officer", False),
                                    ("aud", "auditor", False)):
            self.v.add(name, role, service=service)
        self.v.lift_budgets()
        self.people = gen(41, 29)
        self.late = self.people.pop()
        self.v.store(self.people)
        self.ids = [self.find(self.v, p) for p in self.people]
        self.wrapped = [bytes.fromhex(w) for (w,) in self.v.store_query(
            "SELECT %s FROM persons" % self.v.hex_sql("wrapped"))]
        # One decoy from init, and now and then one mixed in as people
        # come (1 in 10,000 a person): count them, do not assume.
        self.decoys = int(self.v.store_query(
            "SELECT count(*) FROM docs WHERE kind = 'decoy'")[0][0])
        self.counts = [int(self.v.store_query(
            "SELECT count(*) FROM " + t)[0][0])
            for t in ("persons", "blind_index", "docs")]
        self.backup = os.path.join(self.tmp, "backup")
        self.keydir = os.path.join(self.tmp, "keys")
        os.mkdir(self.keydir)
        self.keys1 = os.path.join(self.keydir, "before.keys")
        p = self.v.sr(["backup", "create", "--out", self.backup,
                       "--keys-out", self.keys1], check=0)
        self.summary = json.loads(p.stdout)
        # After the backup: two shredded, one stored.
        self.shredded = self.ids[:2]
        for pid in self.shredded:
            self.v.sr(["shred", pid, "--reason", "erasure-order",
                       "--purpose", "retention"], who="so", check=0)
        self.v.store([self.late])
        self.keys2 = os.path.join(self.keydir, "after.keys")
        self.v.sr(["backup", "keys", "--out", self.keys2], check=0)

    def find(self, v, p, who="so"):
        out = v.sr(["find", "--ssn", p["ssn"]] + IR, who=who, check=0).stdout
        return json.loads(out)["id"] if out else None

    def restore(self, name, keys, check=0):
        to = os.path.join(self.tmp, name)
        p = self.v.sr(["backup", "restore", "--from", self.backup, "--keys",
                       keys, "--to", to], check=check)
        r = Vault.__new__(Vault)
        r.__dict__.update(self.v.__dict__)
        r.path = to
        r.conninfo = None  # a restored vault is an embedded one
        return p, r


def setUpModule():
    global W
    W = World()


def tearDownModule():
    if W is not None:
        shutil.rmtree(W.tmp, ignore_errors=True)


class Backup(unittest.TestCase):
    def test_the_backup_holds_no_key_and_no_plaintext(self):
        self.assertEqual(W.summary["people"], len(W.people) + W.decoys)
        self.assertEqual(sorted(os.listdir(W.backup)),
                         ["audit", "backup.json", "log", "log.vkey",
                          "vault.db", "vault.key"])
        self.assertEqual(os.stat(W.backup).st_mode & 0o777, 0o700)
        data = b""
        for root, _, files in os.walk(W.backup):
            for name in files:
                with open(os.path.join(root, name), "rb") as f:
                    data += f.read()
        for w in W.wrapped:
            self.assertNotIn(w[:24], data)
            self.assertNotIn(w[-24:], data)
        con = sqlite3.connect(os.path.join(W.backup, "vault.db"))
        self.assertEqual(con.execute("SELECT count(*) FROM persons WHERE "
                                     "length(wrapped) > 0").fetchone()[0], 0)
        # Everything else is there: every person (the decoy too), index
        # row and document.
        counts = [con.execute("SELECT count(*) FROM " + t).fetchone()[0]
                  for t in ("persons", "blind_index", "docs")]
        self.assertEqual(counts, W.counts)
        self.assertEqual(W.counts[0], len(W.people) + W.decoys)
        con.close()
        self.assertIsNone(plaintext_in(data, W.people))
        with open(W.keys1, "rb") as f:
            keys = f.read()
        self.assertIsNone(plaintext_in(keys, W.people))
        self.assertEqual(os.stat(W.keys1).st_mode & 0o777, 0o600)

    def test_restored_with_todays_keys_the_shredded_stay_gone(self):
        p, r = W.restore("restored-now", W.keys2)
        self.assertEqual(os.path.exists(os.path.join(r.path, "store")), False)
        s = json.loads(p.stdout)
        self.assertEqual((s["removed"], s["unknown"]), (2, 1))
        self.assertEqual(s["restored"], len(W.people) + W.decoys - 2)
        for person, pid in zip(W.people, W.ids):
            got = W.find(r, person)
            if pid in W.shredded:
                self.assertIsNone(got)
                g = r.sr(["get", pid] + IR, who="so")
                self.assertNotEqual(g.returncode, 0)
            else:
                self.assertEqual(got, pid)
        pid = W.ids[5]
        rec = json.loads(r.sr(["get", pid] + IR, who="so", check=0).stdout)
        self.assertEqual(rec["name"], W.people[5]["name"])
        r.sr(["audit", "verify"], who="aud", check=0)
        entries = r.entries()
        self.assertIn("backup.create", [e["action"] for e in entries])
        self.assertIn("backup.restore", [e["action"] for e in entries])
        # Not a byte of the shredded people's records is left.
        data = r.stored_bytes()
        bcon = sqlite3.connect(os.path.join(W.backup, "vault.db"))
        rows = [b for b in bcon.execute(
            "SELECT c0, c1 FROM persons WHERE lower(hex(id)) IN (?, ?)",
            W.shredded).fetchall()]
        bcon.close()
        self.assertEqual(len(rows), 2)
        for row in rows:
            for blob in row:
                self.assertNotIn(blob[:32], data)

    def test_restored_with_the_old_key_file_the_shredded_come_back(self):
        p, r = W.restore("restored-old", W.keys1)
        s = json.loads(p.stdout)
        self.assertEqual(s["removed"], 0)
        self.assertEqual(W.find(r, W.people[0]), W.ids[0])

    def test_bad_key_files_and_principals_are_refused(self):
        # Another vault's keys.
        other = Vault(os.path.join(W.tmp, "other"), expected_people=100)
        okeys = os.path.join(W.keydir, "other.keys")
        other.sr(["backup", "keys", "--out", okeys], check=0)
        p, r = W.restore("restored-other", okeys, check=None)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"key file line 1: the keys of another vault", p.stderr)
        # A failed restore leaves nothing, and can be run again.
        self.assertFalse(os.path.exists(r.path))
        p, _ = W.restore("restored-other", W.keys2)
        self.assertEqual(json.loads(p.stdout)["removed"], 2)
        # A key that does not open: names its line and person.
        with open(W.keys2) as f:
            lines = f.read().splitlines(True)
        k = json.loads(lines[3])
        k["wrapped"] = k["wrapped"][:-2] + ("00" if k["wrapped"][-2:] != "00"
                                            else "01")
        bad = os.path.join(W.keydir, "bad.keys")
        with open(bad, "w") as f:
            f.write("".join(lines[:3]) + json.dumps(k) + "\n")
        p, r = W.restore("restored-bad", bad, check=None)
        self.assertNotEqual(p.returncode, 0)
        self.assertFalse(os.path.exists(r.path))
        self.assertIn(("key file line 4: the key of person %s does not open"
                       % k["id"]).encode(), p.stderr)
        with open(bad, "w") as f:
            f.write(lines[0] + '{"id": 1}\n')
        p, _ = W.restore("restored-bad2", bad, check=None)
        self.assertIn(b"key file line 2: not a key line", p.stderr)
        # The key file inside the backup: refused, nothing made.
        inside = os.path.join(W.tmp, "b2")
        p = W.v.sr(["backup", "create", "--out", inside, "--keys-out",
                    os.path.join(inside, "k")], check=None)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"the key file goes outside the backup directory",
                      p.stderr)
        self.assertFalse(os.path.exists(inside))
        # Only manage-backups.
        p = W.v.sr(["backup", "keys", "--out",
                    os.path.join(W.keydir, "so.keys")], who="so", check=None)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"denied by rule", p.stderr)
        self.assertFalse(os.path.exists(os.path.join(W.keydir, "so.keys")))


if __name__ == "__main__":
    unittest.main(verbosity=2)
