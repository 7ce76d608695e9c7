#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The strongroom command, driven as a user would: every command's happy
path, its exit codes, and the bad inputs of the vault-core issue, each
checked for a clear message, a non-zero exit and intact earlier data.

Every data command needs an API token and a purpose (docs/policy.md):
people are stored by an intake service account (purpose intake), read,
searched and updated by an HR clerk (purpose hr-action), and exported by a
records role this file adds to the policy, since the default policy grants
export to nobody.

Needs SR_CLI (the built binary) and SR_SCHEMA (person.schema.json) in the
environment; ctest sets both."""
import json
import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import unittest

import jsonschema

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from srcli import (CLI, EXIT_AUTH, EXIT_CORRUPT, EXIT_DUPLICATE, EXIT_FULL,
                   EXIT_INVALID, EXIT_LOCKED, EXIT_NOT_VAULT, EXIT_REJECTS,
                   EXIT_USAGE, PASS, Vault, run, sqlite_only)

SCHEMA = json.load(open(os.environ["SR_SCHEMA"]))
# Who does what, and why (docs/policy.md).
WHO = {"put": ("intake", "intake"), "import": ("intake", "intake"),
       "get": ("hr", "hr-action"), "find": ("hr", "hr-action"),
       "update": ("hr", "hr-action"), "export": ("records", "retention"),
       "stats": ("hr", None)}
# The default policy, plus a role that may export every class.
RECORDS_ROLE = {"description": "Backups for the tests: export everything.",
                "actions": ["export"],
                "classes": ["identity", "name", "contact", "employment",
                            "investigation", "biometric"],
                "purposes": ["retention"]}

ALICE = {
    "ssn": "219-09-9999",
    "name": {"given": "Alice", "middle": "Mary", "family": "O'Brien-Núñez"},
    "former_names": [{"given": "Alice", "family": "Smithson"}],
    "birth": {"date": "1971-03-09", "city": "Dayton", "state": "OH", "country": "US"},
    "sex": "F",
    "citizenship": ["US"],
    "addresses": [{"street": "1 Main St", "city": "Dayton", "state": "OH",
                   "postal_code": "45402", "country": "US", "from": "1990-01-01"}],
    "phones": ["+1 (937) 555-0100"],
    "emails": ["alice@example.org"],
    "employment": [{"agency": "Office of Personnel Management", "kind": "employee",
                    "status": "former", "start": "1995-06-01", "end": "2010-12-31"}],
}


class VaultCase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sr-cli-")
        self.vault = os.path.join(self.tmp, "vault")
        self.v = Vault(self.vault, expected_people=1000)
        self.v.add("intake", "intake", service=True)
        self.v.add("hr", "hr-clerk")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def sr(self, args, **kw):
        """Run a command as the principal that does it, for its purpose."""
        who, purpose = WHO[args[0]]
        if who == "records" and "records" not in self.v.tokens:
            self.add_records_role()
        if purpose is not None:
            args = args + ["--purpose", purpose]
        if args[0] == "export":  # the two-person rule
            args += ["--approval", self.v.approve(
                who, "so", "export", "--purpose", purpose)]
        return self.v.sr(args, who=who, **kw)

    def add_records_role(self):
        pol = json.loads(run(["policy", "default"], check=0).stdout)
        pol["roles"]["records"] = RECORDS_ROLE
        path = os.path.join(self.tmp, "policy.json")
        with open(path, "w") as f:
            json.dump(pol, f)
        self.v.sr(["policy", "set", path], check=0)
        self.v.add("records", "records")
        self.v.add("so", "security-officer")

    def put(self, person, check=0):
        p = self.sr(["put"], stdin=json.dumps(person).encode(), check=check)
        return p.stdout.decode().strip()

    def assertNoIdentifier(self, text, person=ALICE):
        """A message never carries an SSN, a name or a birth date."""
        if isinstance(text, bytes):
            text = text.decode(errors="replace")
        for value in (person["ssn"], person["ssn"].replace("-", ""),
                      person["name"]["family"], person["name"]["given"],
                      person["birth"]["date"]):
            self.assertNotIn(value, text)


class HappyPaths(VaultCase):
    def test_put_then_get_returns_the_person_with_its_id(self):
        pid = self.put(ALICE)
        self.assertRegex(pid, r"^[0-9a-f]{32}$")
        got = json.loads(self.sr(["get", pid], check=0).stdout)
        self.assertEqual(got.pop("id"), pid)
        self.assertEqual(got, ALICE)
        jsonschema.Draft202012Validator(SCHEMA).validate(got)

    def test_get_with_class_returns_only_those_classes(self):
        pid = self.put(ALICE)
        got = json.loads(self.sr(["get", pid, "--class", "name", "--class",
                                  "contact"], check=0).stdout)
        self.assertEqual(set(got), {"id", "name", "former_names", "addresses",
                                    "phones", "emails"})

    def test_find_by_ssn_in_either_form(self):
        pid = self.put(ALICE)
        for ssn in ("219-09-9999", "219099999"):
            out = self.sr(["find", "--ssn", ssn], check=0).stdout.decode()
            lines = [json.loads(l) for l in out.splitlines()]
            self.assertEqual(lines, [{"id": pid, "name": ALICE["name"]}])

    def test_find_by_name_ignores_case_accents_punctuation_and_former_names(self):
        pid = self.put(ALICE)
        for family in ("o'brien-núñez", "OBRIEN NUNEZ", "Obrien-Nunez", "smithson"):
            out = self.sr(["find", "--name", family, "--dob", "1971-03-09"],
                          check=0).stdout.decode()
            self.assertEqual(len(out.splitlines()), 1, family)
            self.assertEqual(json.loads(out)["id"], pid)

    def test_find_with_no_match_prints_nothing_and_exits_zero(self):
        self.put(ALICE)
        p = self.sr(["find", "--ssn", "219-09-9998"], check=0)
        self.assertEqual(p.stdout, b"")
        p = self.sr(["find", "--name", "O'Brien-Núñez", "--dob", "1971-03-10"], check=0)
        self.assertEqual(p.stdout, b"")

    def test_update_applies_a_merge_patch_and_reindexes(self):
        pid = self.put(ALICE)
        patch = {"name": {"family": "Walker"}, "sex": None, "ssn": "219-09-9990"}
        self.sr(["update", pid], stdin=json.dumps(patch).encode(), check=0)
        got = json.loads(self.sr(["get", pid], check=0).stdout)
        self.assertEqual(got["name"]["family"], "Walker")
        self.assertNotIn("sex", got)
        self.assertEqual(self.sr(["find", "--ssn", "219-09-9999"], check=0).stdout, b"")
        out = self.sr(["find", "--name", "walker", "--dob", "1971-03-09"], check=0).stdout
        self.assertEqual(json.loads(out)["id"], pid)
        out = self.sr(["find", "--ssn", "219-09-9990"], check=0).stdout
        self.assertEqual(json.loads(out)["id"], pid)

    def test_update_that_breaks_a_rule_changes_nothing(self):
        pid = self.put(ALICE)
        before = self.sr(["get", pid], check=0).stdout
        p = self.sr(["update", pid], stdin=b'{"birth":{"date":"1971-02-30"}}',
                    check=EXIT_INVALID)
        self.assertIn(b"/birth/date", p.stderr)
        self.assertEqual(self.sr(["get", pid], check=0).stdout, before)

    def test_stats_counts_without_identifiers(self):
        self.put(ALICE)
        p = self.sr(["stats", "--json"], check=0)
        st = json.loads(p.stdout)
        self.assertEqual(st["people"], 1)
        self.assertGreaterEqual(st["index_entries"], 3)
        self.assertEqual(st["people_by_kek_version"], {"1": 1})
        self.assertNoIdentifier(p.stdout)

    def test_every_command_explains_itself(self):
        for cmd in ("init", "put", "get", "find", "update", "import",
                    "export", "gen", "stats", "user", "token", "login",
                    "case", "policy", "audit"):
            p = run([cmd, "--help"], check=0)
            self.assertIn(b"usage: strongroom " + cmd.encode(), p.stdout)
            self.assertIn(b"example", p.stdout)
        self.assertEqual(run(["no-such-command"]).returncode, EXIT_USAGE)

    def test_passphrase_and_token_are_refused_on_the_command_line(self):
        p = run(["get", "--vault", self.vault, "--passphrase", PASS, "x" * 32],
                token=self.v.tokens["hr"])
        self.assertEqual(p.returncode, EXIT_USAGE)
        p = run(["get", "--vault", self.vault, "--token=" + self.v.tokens["hr"],
                 "x" * 32, "--purpose", "hr-action"])
        self.assertEqual(p.returncode, EXIT_USAGE)
        self.assertNotIn(self.v.tokens["hr"].encode(), p.stdout + p.stderr)

    def test_passphrase_fd_and_token_fd_are_read(self):
        pid = self.put(ALICE)
        r, w = os.pipe()
        os.write(w, (PASS + "\n").encode())
        os.close(w)
        tr, tw = os.pipe()
        os.write(tw, (self.v.tokens["hr"] + "\n").encode())
        os.close(tw)
        env = dict(os.environ)
        env.pop("STRONGROOM_PASSPHRASE", None)
        env.pop("STRONGROOM_TOKEN", None)
        p = subprocess.run([CLI, "get", "--vault", self.vault, "--passphrase-fd",
                            str(r), "--token-fd", str(tr), pid, "--purpose",
                            "hr-action"], capture_output=True, env=env,
                           pass_fds=(r, tr))
        os.close(r)
        os.close(tr)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout)["id"], pid)

    def test_a_data_command_needs_a_token(self):
        pid = self.put(ALICE)
        p = self.v.sr(["get", pid, "--purpose", "hr-action"], who=None,
                      check=EXIT_USAGE)
        self.assertIn(b"no API token", p.stderr)
        self.assertEqual(p.stdout, b"")


class ImportExport(VaultCase):
    def gen(self, n, fmt="jsonl", seed=7):
        path = os.path.join(self.tmp, "people." + fmt)
        with open(path, "wb") as f:
            subprocess.run([CLI, "gen", "--count", str(n), "--seed", str(seed),
                            "--format", fmt], stdout=f, check=True)
        return path

    def test_import_then_export_is_lossless_and_valid_against_the_schema(self):
        path = self.gen(300)
        self.sr(["import", path, "--quiet"], check=0)
        out = self.sr(["export"], check=0).stdout.decode().splitlines()
        validator = jsonschema.Draft202012Validator(SCHEMA)
        exported = {}
        for line in out:
            person = json.loads(line)
            validator.validate(person)
            self.assertRegex(person.pop("id"), r"^[0-9a-f]{32}$")
            exported[person["ssn"]] = person
        original = [json.loads(l) for l in open(path, encoding="utf-8")]
        self.assertEqual(len(exported), len(original))
        for person in original:
            self.assertEqual(exported[person["ssn"]], person)

    def test_csv_import_stores_the_subset(self):
        path = self.gen(50, "csv")
        p = self.sr(["import", path, "--quiet"], check=0)
        self.assertIn(b"50 stored", p.stderr)
        validator = jsonschema.Draft202012Validator(SCHEMA)
        for line in self.sr(["export"], check=0).stdout.decode().splitlines():
            validator.validate(json.loads(line))

    def test_bad_csv_rows_are_rejected_with_line_and_column(self):
        path = self.gen(3, "csv")
        with open(path, encoding="utf-8") as f:
            header, *rows = f.read().splitlines()
        cols = header.split(",")
        bad_quote = rows[1].replace(",", ',"', 1)  # an unterminated quote
        short = ",".join(rows[2].split(",")[:5])   # too few cells
        bad_date = rows[0].split(",")
        bad_date[cols.index("birth_date")] = "1970-13-01"
        bad_date[cols.index("ssn")] = "219-09-9997"
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join([header, rows[0], bad_quote, short,
                                ",".join(bad_date)]) + "\n")
        rejects = os.path.join(self.tmp, "csv.rejects")
        p = self.sr(["import", path, "--rejects", rejects, "--quiet"],
                    check=EXIT_REJECTS)
        self.assertIn(b"1 stored", p.stderr)
        with open(rejects) as f:
            text = f.read()
        self.assertRegex(text, r"line 3: /csv")
        self.assertRegex(text, r"line 4: /csv")
        self.assertRegex(text, r"line 5: /birth/date")
        self.assertNotIn("1970-13-01", text)

    def test_import_on_a_terminal_shows_rate_and_eta(self):
        path = self.gen(200)
        # script(1) gives the import a terminal; the bar goes to stderr.
        cmd = "%s import %s --vault %s --batch 50 --purpose intake" % (
            CLI, path, self.vault)
        p = subprocess.run(["script", "-qec", cmd, "/dev/null"],
                           capture_output=True,
                           env=dict(os.environ, STRONGROOM_PASSPHRASE=PASS,
                                    STRONGROOM_TOKEN=self.v.tokens["intake"]))
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertIn(b"ETA", p.stdout)
        self.assertIn(b"/s", p.stdout)
        self.assertIn(b"200 stored", p.stdout)

    def test_rerunning_an_import_skips_people_already_stored(self):
        path = self.gen(120)
        self.sr(["import", path, "--quiet", "--batch", "25"], check=0)
        p = self.sr(["import", path, "--quiet"], check=0)
        self.assertIn(b"0 stored, 120 already stored (skipped), 0 rejected", p.stderr)
        st = json.loads(self.sr(["stats", "--json"], check=0).stdout)
        self.assertEqual(st["people"], 120)

    def test_bad_lines_are_rejected_with_line_number_and_reason_only(self):
        good = [json.loads(l) for l in open(self.gen(3), encoding="utf-8")]
        bad_ssn = dict(good[1], ssn="666-12-3456")
        lines = [json.dumps(good[0]), "{not json", json.dumps(bad_ssn),
                 json.dumps(dict(good[2], shoe_size=44)), json.dumps(good[0]),
                 json.dumps(dict(good[0], sex="M" if good[0].get("sex") != "M" else "F"))]
        path = os.path.join(self.tmp, "mixed.jsonl")
        open(path, "w").write("\n".join(lines) + "\n")
        rejects = os.path.join(self.tmp, "mixed.rejects")
        p = self.sr(["import", path, "--rejects", rejects, "--quiet"], check=EXIT_REJECTS)
        self.assertIn(b"1 stored, 1 already stored (skipped), 4 rejected", p.stderr)
        text = open(rejects).read()
        self.assertRegex(text, r"line 2: .*malformed JSON")
        self.assertRegex(text, r"line 3: /ssn: .*area")
        self.assertRegex(text, r"line 4: /shoe_size: unknown member")
        self.assertRegex(text, r"line 6: /ssn: already stored, with other content")
        for person in good:
            self.assertNoIdentifier(text, person)
        self.assertNotIn("666-12-3456", text)

    def test_search_drops_blind_index_collisions(self):
        # 1000 people on an index sized for 1000: about 4 share each value,
        # so every search must decrypt candidates and keep only the match.
        path = self.gen(1000)
        self.sr(["import", path, "--quiet"], check=0)
        people = [json.loads(l) for l in open(path, encoding="utf-8")]
        st = json.loads(self.sr(["stats", "--json"], check=0).stdout)
        self.assertLess(2 ** st["index_bits"], 1000)
        for person in people[::40]:
            out = self.sr(["find", "--ssn", person["ssn"]], check=0).stdout
            found = [json.loads(l) for l in out.splitlines()]
            self.assertEqual([f["name"] for f in found], [person["name"]])
            out = self.sr(["find", "--name", person["name"]["family"], "--dob",
                           person["birth"]["date"]], check=0).stdout
            names = [json.loads(l)["name"] for l in out.splitlines()]
            self.assertIn(person["name"], names)
            for n in names:  # namesakes born the same day only
                self.assertEqual(n["family"].lower(), person["name"]["family"].lower())

    def test_gen_is_deterministic_per_seed(self):
        a = subprocess.run([CLI, "gen", "--count", "20", "--seed", "3"],
                           capture_output=True, check=True).stdout
        b = subprocess.run([CLI, "gen", "--count", "10", "--seed", "3", "--start", "10"],
                           capture_output=True, check=True).stdout
        c = subprocess.run([CLI, "gen", "--count", "20", "--seed", "4"],
                           capture_output=True, check=True).stdout
        self.assertEqual(a.splitlines()[10:], b.splitlines())
        self.assertNotEqual(a, c)


class BadInput(VaultCase):
    def test_invalid_ssn_names_the_path_not_the_value(self):
        for ssn in ("000-12-3456", "666-12-3456", "912-12-3456", "123-00-4567",
                    "123-45-0000", "123456789"):
            p = self.sr(["put"], stdin=json.dumps(dict(ALICE, ssn=ssn)).encode(),
                        check=EXIT_INVALID)
            self.assertIn(b"/ssn", p.stderr)
            self.assertNotIn(ssn.encode(), p.stderr)

    def test_malformed_json_is_rejected(self):
        p = self.sr(["put"], stdin=b'{"ssn": "219-09-9999", ', check=EXIT_INVALID)
        self.assertIn(b"malformed JSON", p.stderr)

    def test_duplicate_ssn_is_refused_and_the_first_person_kept(self):
        pid = self.put(ALICE)
        other = dict(ALICE, name={"given": "Eve", "family": "Mallory"})
        p = self.sr(["put"], stdin=json.dumps(other).encode(), check=EXIT_DUPLICATE)
        self.assertIn(pid.encode(), p.stderr)
        self.assertNoIdentifier(p.stderr)
        st = json.loads(self.sr(["stats", "--json"], check=0).stdout)
        self.assertEqual(st["people"], 1)

    def test_wrong_passphrase_is_refused(self):
        self.put(ALICE)
        p = self.sr(["stats"], env_extra={"STRONGROOM_PASSPHRASE": "wrong"},
                    check=EXIT_AUTH)
        self.assertIn(b"wrong passphrase", p.stderr)
        # A right passphrase does not make up for a wrong token.
        p = self.v.sr(["stats"], token=self.v.tokens["hr"][:-3] + "AAA",
                      check=EXIT_AUTH)
        self.assertIn(b"authentication failed", p.stderr)

    def edit_db(self, sql):
        self.v.store_sql(sql)

    def column_hex(self, col, pid=None):
        where = " WHERE " + self.v.id_is(pid) if pid else ""
        return self.v.store_query("SELECT %s FROM persons%s"
                                  % (self.v.hex_sql(col), where))[0][0]

    def test_edited_ciphertext_is_detected_and_names_the_person(self):
        pid = self.put(ALICE)
        blob = bytearray.fromhex(self.column_hex("c0"))
        blob[len(blob) // 2] ^= 1
        self.edit_db("UPDATE persons SET c0 = %s" % self.v.blob_sql(blob.hex()))
        p = self.sr(["get", pid], check=EXIT_CORRUPT)
        self.assertIn(pid.encode(), p.stderr)
        self.assertIn(b"identity", p.stderr)
        self.assertEqual(p.stdout, b"")

    def move_column(self, col, src, dst):
        self.edit_db("UPDATE persons SET {c} = (SELECT {c} FROM persons WHERE "
                     "{s}) WHERE {d}".format(c=col, s=self.v.id_is(src),
                                             d=self.v.id_is(dst)))

    def test_ciphertext_swapped_between_two_people_is_detected(self):
        a = self.put(ALICE)
        b = self.put(dict(ALICE, ssn="219-09-9998", name={"given": "Bob", "family": "Ray"}))
        self.move_column("c1", b, a)
        p = self.sr(["get", a], check=EXIT_CORRUPT)
        self.assertIn(a.encode(), p.stderr)
        self.assertNotIn(b"Bob", p.stdout + p.stderr)
        self.sr(["get", b], check=0)

    def test_wrapped_key_swapped_between_two_people_is_detected(self):
        a = self.put(ALICE)
        b = self.put(dict(ALICE, ssn="219-09-9998"))
        self.move_column("wrapped", b, a)
        p = self.sr(["get", a], check=EXIT_CORRUPT)
        self.assertIn(a.encode(), p.stderr)

    def test_a_deleted_class_is_detected(self):
        pid = self.put(ALICE)
        self.edit_db("UPDATE persons SET c3 = NULL")
        p = self.sr(["get", pid], check=EXIT_CORRUPT)
        self.assertIn(b"employment class is missing", p.stderr)
        # Clearing its bit too: every other envelope was sealed with it.
        self.edit_db("UPDATE persons SET present = present & ~8")
        p = self.sr(["get", pid, "--class", "name"], check=EXIT_CORRUPT)
        self.assertIn(pid.encode(), p.stderr)
        self.assertEqual(p.stdout, b"")

    def test_an_older_version_replayed_is_detected(self):
        pid = self.put(ALICE)
        old = self.column_hex("c2")
        self.sr(["update", pid], stdin=b'{"phones":["+1 202 555 0101"]}', check=0)
        self.edit_db("UPDATE persons SET c2 = %s" % self.v.blob_sql(old))
        p = self.sr(["get", pid, "--class", "contact"], check=EXIT_CORRUPT)
        self.assertIn(b"contact", p.stderr)

    @sqlite_only("a PostgreSQL database is never a file of the vault's; "
                 "test_store_pg and pg_vault.py check a database that is "
                 "not a store, or another application's")
    def test_truncated_database_is_not_a_vault(self):
        self.put(ALICE)
        db = os.path.join(self.vault, "vault.db")
        with open(db, "r+b") as f:
            f.truncate(100)
        p = self.sr(["stats"])
        self.assertIn(p.returncode, (EXIT_NOT_VAULT, EXIT_CORRUPT))
        self.assertIn(b"vault.db", p.stderr)

    @sqlite_only("as above")
    def test_a_foreign_file_is_not_a_vault(self):
        db = os.path.join(self.vault, "vault.db")
        os.remove(db)
        other = sqlite3.connect(db)
        other.execute("CREATE TABLE t(x)")
        other.commit()
        other.close()
        p = self.sr(["stats"], check=EXIT_NOT_VAULT)
        self.assertIn(b"not a Strongroom", p.stderr)
        with open(db, "wb") as f:
            f.write(b"hello, this is not a database" * 100)
        self.sr(["stats"], check=EXIT_NOT_VAULT)
        p = run(["stats", "--vault", self.tmp], token=self.v.tokens["hr"],
                check=EXIT_NOT_VAULT)
        self.assertIn(b"strongroom init", p.stderr)

    def test_second_writer_is_refused_while_one_holds_the_vault(self):
        # -o: the lock stays with flock itself, so killing it releases it.
        holder = subprocess.Popen(["flock", "-o", os.path.join(self.vault, "lock"),
                                   "sleep", "30"])
        try:
            import time
            for _ in range(100):  # wait until flock holds it; not a timed assertion
                probe = subprocess.run(["flock", "-n", os.path.join(self.vault, "lock"),
                                        "true"])
                if probe.returncode != 0:
                    break
                time.sleep(0.05)
            p = self.sr(["put"], stdin=json.dumps(ALICE).encode(), check=EXIT_LOCKED)
            self.assertIn(b"open for writing by another process", p.stderr)
            self.sr(["stats"], check=0)  # readers are not blocked
        finally:
            holder.kill()
            holder.wait()
        self.put(ALICE)

    @sqlite_only("a full disk is the server's (SQLSTATE 53100, mapped "
                 "to disk full in store_pg.c)")
    def test_full_disk_fails_clearly_and_keeps_what_was_stored(self):
        gen = os.path.join(self.tmp, "people.jsonl")
        with open(gen, "wb") as f:
            subprocess.run([CLI, "gen", "--count", "3000", "--seed", "5"],
                           stdout=f, check=True)
        first = os.path.join(self.tmp, "first.jsonl")
        with open(gen, "rb") as f:
            lines = f.readlines()
        open(first, "wb").writelines(lines[:200])
        self.sr(["import", first, "--quiet"], check=0)
        db_size = os.path.getsize(os.path.join(self.vault, "vault.db"))

        def limit():
            # No more than ~1 MiB more for any file: a disk that fills up.
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            lim = db_size + (1 << 20)
            resource.setrlimit(resource.RLIMIT_FSIZE, (lim, lim))

        p = self.sr(["import", gen, "--quiet", "--batch", "500"], preexec=limit)
        self.assertEqual(p.returncode, EXIT_FULL, p.stderr)
        self.assertIn(b"disk full", p.stderr)
        self.assertIn(b"line ", p.stderr)
        self.assertIn(b"resumes", p.stderr)
        st = json.loads(self.sr(["stats", "--json"], check=0).stdout)
        self.assertGreaterEqual(st["people"], 200)
        self.assertLess(st["people"], 3000)
        # Everything stored before reads back, and the import resumes.
        self.assertEqual(len(self.sr(["export"], check=0).stdout.splitlines()),
                         st["people"])
        p = self.sr(["import", gen, "--quiet"], check=0)
        st2 = json.loads(self.sr(["stats", "--json"], check=0).stdout)
        self.assertEqual(st2["people"], 3000)


if __name__ == "__main__":
    unittest.main(verbosity=2)
