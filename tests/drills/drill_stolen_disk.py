#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Drill (b): the database file, its WAL and a backup are stolen, without
the passphrase.

A vault of 300 people, used (reads, searches, an update) with a reader
holding the WAL open, then copied as a thief would: vault.db, vault.db-wal,
an online backup made with SQLite's backup API, and Strongroom's own
backup (`backup create`: its directory and its key file). On PostgreSQL:
the database's files, a pg_dump and the same Strongroom backup. The thief
greps every
byte for each person's SSN (with and without dashes), given and family
names and birth date, dumps every table and column SQLite will give up, and
tries to open the vault with a guessed passphrase.

The last line printed is the figure: plaintext identifiers recovered
(target 0).
"""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from srcli import ON_PG, Vault, run  # noqa: E402

HR = ["--purpose", "hr-action"]
FIGURES = []


def needles(people):
    """What a thief would grep for. Names shorter than 6 bytes are looked
    for only as "Given Family": random ciphertext holds some 4- or
    5-letter word by chance (cli_leak_scan.py does the long search)."""
    out = set()
    for p in people:
        ssn, n = p["ssn"], p["name"]
        out |= {ssn, ssn.replace("-", ""), p["birth"]["date"],
                "%s %s" % (n.get("given", ""), n["family"])}
        for k in ("given", "family"):
            if len(n.get(k, "").encode()) >= 6:
                out.add(n[k])
    return sorted(out)


class StolenDisk(unittest.TestCase):
    def test_nothing_readable_in_the_files(self):
        tmp = tempfile.mkdtemp(prefix="sr-drill-b-")
        try:
            self.run_drill(tmp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def steal_sqlite(self, v, tmp, db, keep):
        """The SQLite file, its WAL and an online backup, as one haystack
        with everything SQLite gives up as text."""
        loot = os.path.join(tmp, "loot")
        os.mkdir(loot)
        for name in ("vault.db", "vault.db-wal"):
            if os.path.exists(os.path.join(v.path, name)):
                shutil.copy(os.path.join(v.path, name), loot)
        backup = sqlite3.connect(os.path.join(loot, "backup.db"))
        src_db = sqlite3.connect(db)
        src_db.backup(backup)
        src_db.close()
        backup.close()
        keep.rollback()
        keep.close()
        self.assertTrue(os.path.getsize(os.path.join(loot, "vault.db-wal"))
                        > 0, "the WAL was merged before it was stolen")

        # 1. grep every byte of every stolen file
        blobs = []
        for name in sorted(os.listdir(loot)):
            with open(os.path.join(loot, name), "rb") as f:
                blobs.append(f.read())
        # 2. everything SQLite gives up, as text
        dump = []
        con = sqlite3.connect(os.path.join(loot, "backup.db"))
        con.text_factory = bytes
        for (t,) in con.execute(
                "SELECT name FROM sqlite_master WHERE type='table'"):
            for row in con.execute("SELECT * FROM \"%s\"" % t.decode()):
                dump.append(repr(row).encode())
        con.close()
        blobs.append(b"\n".join(dump))
        return b"\n".join(blobs)

    def steal_backup(self, v, tmp):
        """Every byte of a backup the vault's administrator made, and of
        its key file."""
        out, keys = os.path.join(tmp, "backup"), os.path.join(tmp, "b.keys")
        v.sr(["backup", "create", "--out", out, "--keys-out", keys], check=0)
        blobs = []
        for root, _, files in os.walk(out):
            for name in sorted(files):
                with open(os.path.join(root, name), "rb") as f:
                    blobs.append(f.read())
        with open(keys, "rb") as f:
            blobs.append(f.read())
        self.assertGreater(len(blobs), 4)
        return b"\n".join(blobs)

    def run_drill(self, tmp):
        v = Vault(os.path.join(tmp, "vault"), expected_people=1000)
        v.add("intake", "intake", service=True)
        v.add("hr", "hr-clerk")
        v.lift_budgets()  # the clerk reads more than a budget allows
        out = run(["gen", "--count", "300", "--seed", "21"], check=0).stdout
        people = [json.loads(l) for l in out.splitlines()]
        src = os.path.join(tmp, "people.jsonl")
        with open(src, "wb") as f:
            f.write(out)
        v.sr(["import", src, "--quiet", "--purpose", "intake"], who="intake",
             check=0)
        os.unlink(src)
        db = os.path.join(v.path, "vault.db")
        if not ON_PG:
            keep = sqlite3.connect(db)  # a reader keeps the WAL from merging
            keep.execute("BEGIN")
            keep.execute("SELECT count(*) FROM persons").fetchone()
        ids = []
        for p in people[:40]:
            o = v.sr(["find", "--ssn", p["ssn"]] + HR, who="hr",
                     check=0).stdout
            ids.append(json.loads(o)["id"])
        for pid in ids[:20]:
            v.sr(["get", pid] + HR, who="hr", check=0)
        v.sr(["update", ids[0]] + HR, who="hr",
             stdin=b'{"phones":["+1 202 555 0199"]}', check=0)

        if ON_PG:
            # The server's disk: every file of the vault's database and
            # the WAL (raw pages, dead rows included), and a backup as its
            # operators make them (pg_dump), every column as text.
            dump = subprocess.run(["pg_dump", v.conninfo], check=True,
                                  capture_output=True).stdout
            hay = v.stored_bytes() + b"\n" + dump
        else:
            hay = self.steal_sqlite(v, tmp, db, keep)
        hay += b"\n" + self.steal_backup(v, tmp)
        wanted = needles(people)
        found = [n for n in wanted if n.encode() in hay or
                 n.lower().encode() in hay]
        self.assertEqual(found, [])

        # 3. the vault with a guessed passphrase
        p = run(["stats", "--vault", v.path], token=v.tokens["hr"],
                passphrase="password123")
        self.assertNotEqual(p.returncode, 0)
        self.assertEqual(p.stdout, b"")
        FIGURES.append("drill b (stolen database, WAL and backup, no "
                       "passphrase): %d plaintext identifiers recovered of "
                       "%d searched in %d bytes (target 0)"
                       % (len(found), len(wanted), len(hay)))


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    for f in FIGURES:
        print(f)
    if not FIGURES:
        print("drill b (stolen database, WAL and backup): FAILED")
    sys.exit(0 if result.wasSuccessful() else 1)
