#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""bench/retention_floor.py BEFORE AFTER WORK: the plain-SQLite floor
beside `strongroom retention run` (bench/retention runs it).

BEFORE is a copy of vault.db taken before the run, AFTER the vault.db the
run left. The people the run destroyed are the persons rows in BEFORE and
not in AFTER. On a fresh copy of BEFORE (in the directory WORK, removed
afterwards) this deletes exactly those rows and their blind-index rows
the cheapest way SQLite offers: one transaction, one set-based DELETE per
table through a temporary table of their rowids, with the settings the
vault keeps (WAL, synchronous=FULL, secure_delete=ON, the same 256 MiB
page cache), then empties the WAL (wal_checkpoint(TRUNCATE)), as the run
does. No decryption, no deciding who is due, no audit entries: what is
left is the deleting itself, the floor for any store with this layout.
Prints one line of figures and the time in seconds as the last field.
"""
import os
import shutil
import sqlite3
import sys
import time


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    before, after, work = sys.argv[1:]
    con = sqlite3.connect("file:%s?mode=ro" % after, uri=True)
    con.execute("ATTACH ? AS b", ("file:%s?mode=ro" % before,))
    gone = [s for (s,) in con.execute(
        "SELECT seq FROM b.persons EXCEPT SELECT seq FROM main.persons")]
    con.close()
    os.makedirs(work)
    try:
        db = os.path.join(work, "floor.db")
        shutil.copyfile(before, db)
        con = sqlite3.connect(db, isolation_level=None)
        for p in ("journal_mode = WAL", "synchronous = FULL",
                  "secure_delete = ON", "cache_size = -262144",
                  "temp_store = MEMORY"):
            con.execute("PRAGMA " + p).fetchall()
        t0 = time.monotonic()
        con.execute("BEGIN IMMEDIATE")
        con.execute("CREATE TEMP TABLE gone(seq INTEGER PRIMARY KEY)")
        con.executemany("INSERT INTO gone VALUES (?)", ((s,) for s in gone))
        con.execute("DELETE FROM blind_index WHERE seq IN "
                    "(SELECT seq FROM gone)")
        t1 = time.monotonic()
        con.execute("DELETE FROM persons WHERE seq IN (SELECT seq FROM gone)")
        t2 = time.monotonic()
        con.execute("COMMIT")
        t3 = time.monotonic()
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        t4 = time.monotonic()
        con.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("plain SQLite floor: %d people deleted: index rows %.2f s, rows "
          "%.2f s, commit %.2f s, emptying the WAL %.2f s; %.0f/s; %.2f"
          % (len(gone), t1 - t0, t2 - t1, t3 - t2, t4 - t3,
             len(gone) / (t4 - t0), t4 - t0))


if __name__ == "__main__":
    main()
