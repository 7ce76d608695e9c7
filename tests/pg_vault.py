#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A vault whose people are stored in PostgreSQL (docs/storage.md), through
the CLI and the server, against the server tests/with_pg.sh starts (ctest
runs this as pg_vault, with SR_TEST_STORE set). One test per behaviour:

  - `init --store` keeps the connection string in <vault>/store, and the
    whole path works on it: import, search, read with a purpose, stats,
    the audit log verifies; a dump of the database (pg_dump) holds no
    SSN, name or birth date of anyone stored;
  - the server serves such a vault;
  - its backup is an embedded store without keys, which restores into a
    vault that reads without the database, or onto another database
    (backup restore --store);
  - an embedded vault moves onto PostgreSQL (store move), and what is
    refused there leaves it where it was;
  - a database that already holds a store is refused, and so is a
    connection string with a password in it (nothing is created).

Each test has a database of its own."""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from srcli import (EXIT_INVALID, Vault, gen, run,  # noqa: E402
                   run_on_terminal)
from srserver import Server  # noqa: E402

ADMIN = os.environ.get("SR_TEST_STORE", "")
PG_BIN = "/usr/lib/postgresql/15/bin"
HR = ["--purpose", "hr-action"]
EXIT_EXISTS = 21


def conninfo(db):
    """The server's connection string for database db."""
    parts = [p for p in ADMIN.split() if not p.startswith("dbname=")]
    return " ".join(parts + ["dbname=" + db])


def psql(db, sql):
    return subprocess.run([PG_BIN + "/psql", conninfo(db), "-qAtc", sql],
                          capture_output=True, check=True).stdout.decode()


class PgCase(unittest.TestCase):
    n = 0

    def setUp(self):
        if not ADMIN:
            self.skipTest("SR_TEST_STORE is not set (run under with_pg.sh)")
        PgCase.n += 1
        self.db = "sr_vault_%d_%d" % (os.getpid(), PgCase.n)
        psql("postgres", "CREATE DATABASE " + self.db)
        self.tmp = tempfile.mkdtemp(prefix="sr-pgv-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def vault(self, name="v"):
        os.environ["STRONGROOM_STORE"] = conninfo(self.db)
        try:
            return Vault(os.path.join(self.tmp, name), expected_people=500)
        finally:
            del os.environ["STRONGROOM_STORE"]

    def stocked(self, people):
        v = self.vault()
        v.add("intake", "intake", service=True)
        v.add("hr", "hr-clerk")
        v.lift_budgets()
        src = os.path.join(self.tmp, "people.jsonl")
        with open(src, "w") as f:
            f.write("".join(json.dumps(p) + "\n" for p in people))
        v.sr(["import", src, "--quiet", "--purpose", "intake"], who="intake",
             check=0)
        return v


class PostgresVault(PgCase):
    def test_the_whole_path_works_and_the_database_holds_no_identifier(self):
        """init --store, import 60 people, find one by SSN, read it with a
        purpose (the same person comes back), stats count 60, the audit
        log verifies; pg_dump of the database has none of their SSNs,
        names or birth dates."""
        people = gen(60, 17)
        v = self.stocked(people)
        with open(os.path.join(v.path, "store")) as f:
            self.assertEqual(f.read().strip(), conninfo(self.db))
        self.assertFalse(os.path.exists(os.path.join(v.path, "vault.db")))
        p = people[7]
        found = json.loads(v.sr(["find", "--ssn", p["ssn"]] + HR, who="hr",
                                check=0).stdout)
        got = json.loads(v.sr(["get", found["id"]] + HR, who="hr",
                              check=0).stdout)
        self.assertEqual((got["ssn"], got["name"]), (p["ssn"], p["name"]))
        stats = json.loads(v.sr(["stats", "--json"], check=0).stdout)
        self.assertEqual(stats["people"], 60)
        self.assertIn(b"ok:", v.sr(["audit", "verify"], check=0).stdout)
        dump = subprocess.run([PG_BIN + "/pg_dump", conninfo(self.db)],
                              capture_output=True, check=True).stdout
        self.assertIn(b"blind_index", dump)
        for q in people:
            for s in (q["ssn"], q["ssn"].replace("-", ""),
                      q["name"]["family"], q["birth"]["date"]):
                self.assertNotIn(s.encode(), dump)

    def test_a_backup_is_an_embedded_store_that_outlives_the_database(self):
        """backup create writes the records as an embedded SQLite store
        without a byte of their keys; restored with its key file, that
        vault reads on its own once the database itself is dropped."""
        people = gen(5, 19)
        v = self.stocked(people)
        out = os.path.join(self.tmp, "backup")
        keys = os.path.join(self.tmp, "backup.keys")
        v.sr(["backup", "create", "--out", out, "--keys-out", keys], check=0)
        live = int(psql(self.db, "SELECT count(*) FROM persons"))
        con = sqlite3.connect(os.path.join(out, "vault.db"))
        self.assertEqual(con.execute("SELECT count(*), total(length(wrapped)) "
                                     "FROM persons").fetchone(), (live, 0))
        con.close()
        psql("postgres", "DROP DATABASE " + self.db)
        to = os.path.join(self.tmp, "restored")
        v.sr(["backup", "restore", "--from", out, "--keys", keys, "--to", to],
             check=0)
        self.assertFalse(os.path.exists(os.path.join(to, "store")))
        got = json.loads(run(["find", "--vault", to, "--ssn", people[2]["ssn"]]
                             + HR, token=v.tokens["hr"], check=0).stdout)
        got = json.loads(run(["get", "--vault", to, got["id"]] + HR,
                             token=v.tokens["hr"], check=0).stdout)
        self.assertEqual(got["name"], people[2]["name"])

    def test_an_embedded_vault_moves_onto_postgresql(self):
        """store move: everything the file held is in the database
        (people, index rows, principals and tokens, cases, the shredded
        still gone), the vault opens there, vault.db is gone, the log
        verifies with the move in it; a second move, a database that
        already holds a store and a password in the string are refused,
        each leaving the vault where it was."""
        people = gen(30, 23)
        v = Vault(os.path.join(self.tmp, "embedded"), expected_people=500)
        v.add("intake", "intake", service=True)
        v.add("hr", "hr-clerk")
        v.add("so", "security-officer")
        v.add("aud", "auditor")
        v.lift_budgets()
        v.store(people)
        ids = [json.loads(v.sr(["find", "--ssn", p["ssn"]] + HR, who="hr",
                                check=0).stdout)["id"] for p in people]
        v.sr(["shred", ids[0], "--reason", "erasure-order", "--purpose",
              "retention"], who="so", check=0)
        # Refused: a password in the string; a database holding a store.
        p = v.sr(["store", "move", "--to", conninfo(self.db) +
                  " password=secret"])
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"holds a password", p.stderr)
        self.assertNotIn(b"secret", p.stderr)
        other = self.vault("other")  # its database holds a store now
        p = v.sr(["store", "move", "--to", conninfo(self.db)])
        self.assertNotEqual(p.returncode, 0)
        self.assertTrue(os.path.exists(os.path.join(v.path, "vault.db")))
        self.assertFalse(os.path.exists(os.path.join(v.path, "store")))
        del other
        psql("postgres", "CREATE DATABASE %s_m" % self.db)
        target = conninfo(self.db + "_m")
        # Only the administrator's manage-backups.
        p = v.sr(["store", "move", "--to", target], who="hr")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"denied by rule", p.stderr)
        rc, out, shown = run_on_terminal(["store", "move", "--vault", v.path,
                                          "--to", target],
                                         token=v.tokens["admin"])
        self.assertEqual(rc, 0, shown)
        out = json.loads(out)
        self.assertIn(("store move: %d of %d people copied"
                       % (out["people"], out["people"])).encode(), shown)
        live = int(psql(self.db + "_m", "SELECT count(*) FROM persons"))
        self.assertEqual(out["people"], live)
        decoys = int(psql(self.db + "_m", "SELECT count(*) FROM docs "
                          "WHERE kind = 'decoy'"))
        self.assertGreaterEqual(decoys, 1)  # init's, maybe one mixed in
        self.assertEqual(live, len(people) - 1 + decoys)  # one shredded
        self.assertFalse(os.path.exists(os.path.join(v.path, "vault.db")))
        with open(os.path.join(v.path, "store")) as f:
            self.assertEqual(f.read().strip(), target)
        for p, pid in zip(people[1:], ids[1:]):
            got = json.loads(v.sr(["find", "--ssn", p["ssn"]] + HR, who="hr",
                                  check=0).stdout)
            self.assertEqual(got["id"], pid)
        got = v.sr(["find", "--ssn", people[0]["ssn"]] + HR, who="hr",
                   check=0).stdout
        self.assertEqual(got, b"")
        rec = json.loads(v.sr(["get", ids[4]] + HR, who="hr",
                              check=0).stdout)
        self.assertEqual(rec["name"], people[4]["name"])
        self.assertIn(b"ok:", v.sr(["audit", "verify"], check=0).stdout)
        moves = [(e["outcome"], e["principal"]) for e in v.entries()
                 if e["action"] == "store.move"]
        self.assertEqual(moves, [("failed", "admin"), ("failed", "admin"),
                                 ("denied", "hr"), ("allowed", "admin")])
        p = v.sr(["store", "move", "--to", target])
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"on PostgreSQL already", p.stderr)

    def test_a_move_whose_copy_fails_leaves_the_database_as_it_was(self):
        """store move into a database where writing people fails (an event
        trigger puts a failing trigger on the new persons table): the move
        fails naming the cause, the vault stays on its file and reads, the
        database holds no table of the store (nor any wrapped key), and
        once the obstacle is gone the same database takes the move."""
        people = gen(6, 31)
        v = Vault(os.path.join(self.tmp, "embedded"), expected_people=500)
        v.add("intake", "intake", service=True)
        v.add("hr", "hr-clerk")
        v.add("aud", "auditor")
        v.lift_budgets()
        v.store(people)
        db = self.db + "_f"
        psql("postgres", "CREATE DATABASE " + db)
        psql(db, """
            CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS
              $$ BEGIN RAISE EXCEPTION 'the disk said no'; END $$;
            CREATE FUNCTION arm() RETURNS event_trigger LANGUAGE plpgsql AS
              $$ BEGIN
                   IF to_regclass('persons') IS NOT NULL AND NOT EXISTS
                      (SELECT 1 FROM pg_trigger WHERE tgname = 'refuse')
                   THEN
                     CREATE TRIGGER refuse BEFORE INSERT ON persons
                       FOR EACH ROW EXECUTE FUNCTION refuse();
                   END IF;
                 END $$;
            CREATE EVENT TRIGGER arm ON ddl_command_end
              WHEN TAG IN ('CREATE TABLE') EXECUTE FUNCTION arm();""")
        p = v.sr(["store", "move", "--to", conninfo(db)])
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"cannot copy the vault into the PostgreSQL database",
                      p.stderr)
        self.assertIn(b"the disk said no", p.stderr)
        self.assertNotIn(b"still holds", p.stderr)
        self.assertTrue(os.path.exists(os.path.join(v.path, "vault.db")))
        self.assertFalse(os.path.exists(os.path.join(v.path, "store")))
        got = json.loads(v.sr(["find", "--ssn", people[2]["ssn"]] + HR,
                              who="hr", check=0).stdout)
        self.assertEqual(got["name"], people[2]["name"])
        tables = psql(db, "SELECT string_agg(tablename, ',') FROM pg_tables "
                          "WHERE schemaname = 'public'").strip()
        self.assertEqual(tables, "")
        psql(db, "DROP EVENT TRIGGER arm")
        p = v.sr(["store", "move", "--to", conninfo(db)])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout)["people"],
                         int(psql(db, "SELECT count(*) FROM persons")))
        moves = [e["outcome"] for e in v.entries()
                 if e["action"] == "store.move"]
        self.assertEqual(moves, ["failed", "allowed"])

    def test_a_backup_restores_onto_postgresql(self):
        """backup restore --store: the restored vault lives in the given
        database, without the people shredded since the backup."""
        people = gen(8, 29)
        v = self.stocked(people)
        v.add("so", "security-officer")
        out = os.path.join(self.tmp, "backup")
        keys = os.path.join(self.tmp, "before.keys")
        v.sr(["backup", "create", "--out", out, "--keys-out", keys], check=0)
        gone = json.loads(v.sr(["find", "--ssn", people[1]["ssn"]] + HR,
                               who="hr", check=0).stdout)["id"]
        v.sr(["shred", gone, "--reason", "erasure-order", "--purpose",
              "retention"], who="so", check=0)
        now = os.path.join(self.tmp, "now.keys")
        v.sr(["backup", "keys", "--out", now], check=0)
        psql("postgres", "CREATE DATABASE %s_r" % self.db)
        to = os.path.join(self.tmp, "restored")
        s = json.loads(v.sr(["backup", "restore", "--from", out, "--keys",
                             now, "--to", to, "--store",
                             conninfo(self.db + "_r")], check=0).stdout)
        self.assertEqual((s["removed"], s["store"]), (1, "postgresql"))
        self.assertFalse(os.path.exists(os.path.join(to, "vault.db")))
        self.assertEqual(int(psql(self.db + "_r",
                                  "SELECT count(*) FROM persons WHERE "
                                  "id = decode('%s', 'hex')" % gone)), 0)
        got = json.loads(run(["find", "--vault", to, "--ssn",
                              people[2]["ssn"]] + HR, token=v.tokens["hr"],
                             check=0).stdout)
        self.assertEqual(got["name"], people[2]["name"])

    def test_the_server_serves_a_postgresql_vault(self):
        """strongroom serve on the vault: a logged SSN search and a read
        over HTTP, and it stops cleanly."""
        people = gen(10, 18)
        v = self.stocked(people)
        srv = Server(v)
        try:
            st, _, o = srv.json("POST", "/v1/persons/search",
                                {"purpose": "hr-action",
                                 "ssn": people[3]["ssn"]},
                                token=v.tokens["hr"], want=200)
            self.assertEqual(o["count"], 1)
            st, _, o = srv.json("POST", "/v1/persons/read",
                                {"purpose": "hr-action",
                                 "id": o["matches"][0]["id"]},
                                token=v.tokens["hr"], want=200)
            self.assertEqual(o["person"]["ssn"], people[3]["ssn"])
        finally:
            self.assertEqual(srv.stop(), 0, srv.stderr())

    def test_a_database_with_a_store_is_refused(self):
        """A second vault on the same database: refused (exit 21, "a store
        already exists there"); the first still opens."""
        v = self.vault()
        os.environ["STRONGROOM_STORE"] = conninfo(self.db)
        try:
            p = run(["init", "--vault", os.path.join(self.tmp, "w"), "--kdf",
                     "interactive"])
        finally:
            del os.environ["STRONGROOM_STORE"]
        self.assertEqual(p.returncode, EXIT_EXISTS, p.stderr)
        self.assertIn(b"a store already exists there", p.stderr)
        self.assertNotIn(self.db.encode(), p.stderr)
        v.sr(["stats"], check=0)

    def test_a_password_in_the_connection_string_is_refused(self):
        """--store with password=...: refused before anything is made,
        pointing at ~/.pgpass; the database stays empty."""
        d = os.path.join(self.tmp, "v")
        p = run(["init", "--vault", d, "--kdf", "interactive", "--store",
                 conninfo(self.db) + " password=hunter2"])
        self.assertEqual(p.returncode, EXIT_INVALID, p.stderr)
        self.assertIn(b".pgpass", p.stderr)
        self.assertNotIn(b"hunter2", p.stderr)
        self.assertFalse(os.path.exists(os.path.join(d, "vault.key")))
        self.assertEqual(psql(self.db, "SELECT to_regclass('store_info')"),
                         "\n")


if __name__ == "__main__":
    unittest.main(verbosity=2)
