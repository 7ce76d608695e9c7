#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Principals, purposes and the tamper-evident audit log, driven through the
strongroom command (docs/cli.md, docs/policy.md). One test per behaviour;
each fails if the behaviour breaks:

  - API tokens: init prints one that works; malformed, unknown, wrong,
    revoked and expired tokens and disabled principals are refused alike
    (exit 14, one message) and logged with their rule;
  - the policy: separation of duties, purposes, caseloads (with no leak of
    whether a person exists), class limits, token scopes, policy changes;
  - the audit log: every read and every denial is an entry; auditors find a
    person's entries and resolve references; checkpoints, inclusion and
    consistency proofs verify in an independent RFC 9162 implementation
    below; `audit verify` names an edited entry;
  - log-then-reveal: a damaged journal, a full disk, or an entry that
    cannot be written reveal nothing.

Needs SR_CLI in the environment (ctest sets it); the full-disk test mounts
a tmpfs and is skipped where that is not allowed."""
import contextlib
import errno
import hashlib
import json
import os
import re
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from srcli import (AUTH_FAILED, CLI, EXIT_AUDIT, EXIT_AUTH, EXIT_DENIED,
                   EXIT_FULL, EXIT_INVALID, EXIT_USAGE, ON_PG, PASS, Vault, b64d,
                   bundle_path, decode_entry, journal_end, leaf_hash, mth,
                   parse_bundle, parse_checkpoint, read_leaves, run,
                   verify_consistency, verify_inclusion,
                   verify_note_signature)

HR_CLASSES = ["identity", "name", "contact", "employment"]
ALL_CLASSES = HR_CLASSES + ["investigation", "biometric"]
# Members of the exchange form by class (docs/formats/person.schema.json).
HR_MEMBERS = {"id", "ssn", "birth", "sex", "citizenship", "name",
              "former_names", "addresses", "phones", "emails", "employment"}
INV = ["--purpose", "initial-investigation"]
HR = ["--purpose", "hr-action"]


def gen_people(count, seed):
    out = subprocess.run([CLI, "gen", "--count", str(count), "--seed",
                          str(seed)], capture_output=True, check=True).stdout
    return [json.loads(l) for l in out.splitlines()]


class World:
    """One vault shared by the tests that do not damage it: an intake
    service account, an HR clerk, two investigators, an auditor; people A
    and B (both with investigations and fingerprints) and C; case C-1
    (assigned to inv, holding A) and C-2 (assigned to inv2, holding B)."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="sr-access-")
        self.v = Vault(os.path.join(self.tmp, "vault"), expected_people=100)
        self.v.add("intake", "intake", service=True)
        self.v.add("hr", "hr-clerk")
        self.v.add("inv", "investigator")
        self.v.add("inv2", "investigator")
        self.v.add("aud", "auditor")
        people = gen_people(12, 5)
        full = [p for p in people if p.get("investigations")
                and p.get("fingerprints")]
        self.a, self.b = full[0], full[1]
        self.c = next(p for p in people if p not in (self.a, self.b))
        self.ids = {}
        for key, p in (("a", self.a), ("b", self.b), ("c", self.c)):
            out = self.v.sr(["put", "--purpose", "intake"], who="intake",
                            stdin=json.dumps(p).encode(), check=0).stdout
            self.ids[key] = out.decode().strip()
        for case, who, person in (("C-1", "inv", "a"), ("C-2", "inv2", "b")):
            self.v.sr(["case", "open", case], check=0)
            self.v.sr(["case", "assign", case, "--to", who], check=0)
            self.v.sr(["case", "add", case, "--person", self.ids[person]],
                      check=0)
        # Stored nowhere: 128 random bits.
        self.nobody = os.urandom(16).hex()


W = None


def setUpModule():
    global W
    W = World()


def tearDownModule():
    shutil.rmtree(W.tmp, ignore_errors=True)


class AccessCase(unittest.TestCase):
    def sr(self, args, who, **kw):
        return W.v.sr(args, who=who, **kw)

    def since(self, before, vault=None):
        """The entries logged from index `before` up to now, without the
        auditor's own query."""
        v = vault or W.v
        after = v.log_size()
        return [e for e in v.entries(from_=before) if e["index"] < after]

    def ref_of(self, person_id):
        """A person's reference in the log: from an entry that names only
        them (the auditor's own query by person)."""
        before = W.v.log_size()
        W.v.entries(person=person_id)
        (show,) = [e for e in self.since(before) if e["action"] == "audit.show"]
        (ref,) = show["people"]
        return ref

    def assertDenied(self, p, rule):
        self.assertEqual(p.returncode, EXIT_DENIED, p.stderr)
        self.assertIn(("denied by rule %s:" % rule).encode(), p.stderr)
        self.assertEqual(p.stdout, b"")


# ---- tokens ------------------------------------------------------------------


class Tokens(AccessCase):
    def refused(self, token, rule, principal):
        """The token is refused with exit 14 and the one message, and the
        log has one denied authentication naming the rule."""
        before = W.v.log_size()
        p = W.v.sr(["find", "--ssn", W.a["ssn"]] + HR, token=token)
        self.assertEqual(p.returncode, EXIT_AUTH, p.stderr)
        self.assertIn(AUTH_FAILED, p.stderr)
        self.assertEqual(p.stdout, b"")
        (e,) = self.since(before)
        self.assertEqual((e["action"], e["outcome"], e["rule"]),
                         ("authenticate", "denied", rule))
        self.assertEqual(e["principal"], principal)
        self.assertEqual(e["people"], [])
        return p.stderr

    def test_init_prints_a_token_that_works(self):
        tmp = tempfile.mkdtemp(prefix="sr-init-")
        try:
            v = Vault(os.path.join(tmp, "v"), expected_people=100)
            self.assertRegex(v.tokens["admin"],
                             r"^sr1_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$")
            self.assertIn(b"API token follows on stdout", v.init_stderr)
            out = v.sr(["user", "list"], check=0).stdout.decode()
            self.assertEqual([json.loads(l)["name"] for l in out.splitlines()],
                             ["admin"])
            p = v.sr(["user", "list"], who=None, check=EXIT_USAGE)
            self.assertIn(b"no API token", p.stderr)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_a_token_is_never_taken_from_the_command_line(self):
        p = run(["stats", "--vault", W.v.path, "--token",
                 W.v.tokens["admin"]], check=EXIT_USAGE)
        self.assertIn(b"never taken from the command line", p.stderr)

    def test_token_fd_is_read(self):
        r, w = os.pipe()
        os.write(w, (W.v.tokens["hr"] + "\n").encode())
        os.close(w)
        env = dict(os.environ, STRONGROOM_PASSPHRASE=PASS)
        env.pop("STRONGROOM_TOKEN", None)
        p = subprocess.run([CLI, "get", W.ids["c"], "--vault", W.v.path,
                            "--token-fd", str(r)] + HR,
                           capture_output=True, env=env, pass_fds=(r,))
        os.close(r)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout)["id"], W.ids["c"])

    def test_a_malformed_token_is_refused(self):
        self.refused("sr1_not-a-token", "token.malformed", "")

    def test_an_unknown_token_is_refused(self):
        good = W.v.tokens["hr"]
        unknown = "sr1_" + os.urandom(8).hex() + good[20:]
        self.refused(unknown, "token.unknown", "")

    def test_a_token_with_a_wrong_secret_is_refused(self):
        good = W.v.tokens["hr"]
        # The last base64url digit carries 2 padding bits: change another.
        wrong = good[:-2] + ("A" if good[-2] != "A" else "B") + good[-1]
        self.refused(wrong, "token.secret", "hr")

    def test_a_revoked_token_is_refused(self):
        tok = W.v.new_token("hr")
        W.v.sr(["find", "--ssn", W.a["ssn"]] + HR, token=tok, check=0)
        W.v.sr(["token", "revoke", tok.split("_", 2)[1]], check=0)
        self.refused(tok, "token.revoked", "hr")

    def test_an_expired_token_is_refused(self):
        tok = W.v.new_token("hr", "--expires", "1s")
        time.sleep(2)
        self.refused(tok, "token.expired", "hr")

    def test_a_disabled_principals_tokens_are_refused(self):
        W.v.add("leaver", "hr-clerk")
        second = W.v.new_token("leaver")
        W.v.sr(["find", "--ssn", W.a["ssn"]] + HR, who="leaver", check=0)
        W.v.sr(["user", "disable", "leaver"], check=0)
        self.refused(W.v.tokens["leaver"], "principal.disabled", "leaver")
        self.refused(second, "principal.disabled", "leaver")

    def test_a_frozen_principal_is_refused_until_a_security_officer_unfreezes_it(self):
        """`principal freeze` by a security officer: the principal's token
        is refused (principal.frozen) and its sign-in too; the
        administrator may neither freeze nor unfreeze; `principal
        unfreeze` by the officer lets the same token work again; both
        changes are logged with the reason; a reason that could be a
        person's data is refused."""
        W.v.add("officer", "security-officer")
        W.v.add("suspect", "hr-clerk")
        W.v.sr(["find", "--ssn", W.a["ssn"]] + HR, who="suspect", check=0)
        p = self.sr(["principal", "freeze", "suspect", "--reason",
                     "1971-03-09"], "officer")
        self.assertEqual(p.returncode, EXIT_INVALID, p.stderr)
        self.assertNotIn(b"1971-03-09", p.stderr)
        self.assertDenied(self.sr(["principal", "freeze", "suspect",
                                   "--reason", "budget"], "admin"),
                          "role.action")
        before = W.v.log_size()
        self.sr(["principal", "freeze", "suspect", "--reason", "ticket-9"],
                "officer", check=0)
        (e,) = [e for e in self.since(before)
                if e["action"] != "authenticate"]
        self.assertEqual((e["action"], e["principal"], e["detail"]),
                         ("principal.freeze", "officer",
                          "principal suspect, reason ticket-9"))
        with open(os.path.join(W.v.path, "alerts", "alerts.jsonl")) as f:
            last = json.loads(f.readlines()[-1])
        self.assertEqual((last["kind"], last["principal"], last["by"],
                          last["reason"], last["entry"]),
                         ("principal.frozen", "suspect", "officer",
                          "ticket-9", e["index"]))
        self.refused(W.v.tokens["suspect"], "principal.frozen", "suspect")
        users = [json.loads(x) for x in
                 self.sr(["user", "list"], "admin",
                         check=0).stdout.decode().splitlines()]
        (u,) = [u for u in users if u["name"] == "suspect"]
        self.assertTrue(u["frozen"])
        self.assertDenied(self.sr(["principal", "unfreeze", "suspect",
                                   "--reason", "mistake"], "admin"),
                          "role.action")
        self.sr(["principal", "unfreeze", "suspect", "--reason", "mistake"],
                "officer", check=0)
        p = W.v.sr(["find", "--ssn", W.a["ssn"]] + HR, who="suspect")
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_every_token_failure_has_the_same_message(self):
        good = W.v.tokens["hr"]
        revoked = W.v.new_token("hr")
        W.v.sr(["token", "revoke", revoked.split("_", 2)[1]], check=0)
        W.v.add("gone", "hr-clerk")
        W.v.sr(["user", "disable", "gone"], check=0)
        bad = ["sr1_x", "sr1_" + os.urandom(8).hex() + good[20:],
               good[:-2] + ("A" if good[-2] != "A" else "B") + good[-1],
               revoked, W.v.tokens["gone"]]
        messages = set()
        for tok in bad:
            p = W.v.sr(["get", W.ids["a"]] + HR, token=tok)
            self.assertEqual(p.returncode, EXIT_AUTH)
            messages.add(p.stderr)
        self.assertEqual(len(messages), 1, messages)

    def test_login_gives_a_token_and_a_failed_login_says_no_more(self):
        pw = b"a passphrase for login\n"
        r, w = os.pipe()
        os.write(w, pw)
        os.close(w)
        env = dict(os.environ, STRONGROOM_PASSPHRASE=PASS,
                   STRONGROOM_TOKEN=W.v.tokens["admin"])
        subprocess.run([CLI, "user", "add", "signer", "--role", "hr-clerk",
                        "--vault", W.v.path, "--password-fd", str(r)],
                       env=env, pass_fds=(r,), check=True,
                       capture_output=True)
        os.close(r)
        tok = W.v.sr(["login", "signer", "--password-fd", "0"], who=None,
                     stdin=pw, check=0).stdout.decode().strip()
        W.v.sr(["find", "--ssn", W.a["ssn"]] + HR, token=tok, check=0)
        messages = set()
        for name, secret, rule in (("signer", b"wrong\n", "login.passphrase"),
                                   (W.a["ssn"], pw, "login.unknown")):
            before = W.v.log_size()
            p = W.v.sr(["login", name, "--password-fd", "0"], who=None,
                       stdin=secret, check=EXIT_AUTH)
            self.assertEqual(p.stdout, b"")
            messages.add(p.stderr.replace(name.encode(), b"NAME"))
            (e,) = self.since(before)
            self.assertEqual((e["action"], e["outcome"], e["rule"]),
                             ("authenticate", "denied", rule))
            # A name that is no principal (here an SSN) is not logged.
            self.assertEqual(e["principal"],
                             "signer" if rule == "login.passphrase" else "")
        self.assertEqual(len(messages), 1)
        self.assertIn(b"sign-in failed", messages.pop())

    def test_a_self_made_token_lives_no_longer_than_the_one_in_hand(self):
        short = W.v.new_token("hr", "--expires", "1h")
        p = W.v.sr(["token", "create", "hr", "--expires", "52w"],
                   token=short, check=0)
        new_id = p.stdout.decode().split("_", 2)[1]
        rows = [json.loads(l) for l in
                W.v.sr(["token", "list"], check=0).stdout.splitlines()]
        (row,) = [r for r in rows if r["id"] == new_id]
        self.assertLessEqual(row["expires"] - row["created"], 3600)


# ---- separation of duties, purposes, cases, classes, scopes -----------------


class SeparationOfDuties(AccessCase):
    def test_admin_cannot_get_or_find(self):
        for purpose in ("hr-action", "incident-response", "audit"):
            p = self.sr(["get", W.ids["a"], "--purpose", purpose], "admin")
            self.assertDenied(p, "role.action")
            p = self.sr(["find", "--ssn", W.a["ssn"], "--purpose", purpose],
                        "admin")
            self.assertDenied(p, "role.action")

    def test_a_policy_giving_admin_a_read_is_refused_with_its_path(self):
        pol = json.loads(run(["policy", "default"], check=0).stdout)
        pol["roles"]["admin"]["actions"].append("get")
        pol["roles"]["admin"]["classes"] = ["name"]
        path = os.path.join(W.tmp, "admin-reads.json")
        with open(path, "w") as f:
            json.dump(pol, f, indent=2)
        p = self.sr(["policy", "set", path], "admin", check=EXIT_INVALID)
        self.assertIn(b"/roles/admin/actions/4", p.stderr)
        self.assertIn(b"separation of duties", p.stderr)
        p = self.sr(["get", W.ids["a"]] + HR, "admin")
        self.assertDenied(p, "role.action")


class Purposes(AccessCase):
    def test_a_read_without_a_purpose_is_denied(self):
        self.assertDenied(self.sr(["get", W.ids["a"]], "hr"),
                          "purpose.missing")
        self.assertDenied(self.sr(["find", "--ssn", W.a["ssn"]], "hr"),
                          "purpose.missing")

    def test_a_purpose_the_role_lacks_is_denied(self):
        p = self.sr(["get", W.ids["a"], "--purpose", "adjudication"], "hr")
        self.assertDenied(p, "role.purpose")
        p = self.sr(["get", W.ids["a"], "--purpose", "curiosity"], "hr")
        self.assertDenied(p, "purpose.unknown")


class Caseload(AccessCase):
    def test_an_investigator_without_a_case_is_denied(self):
        p = self.sr(["get", W.ids["a"]] + INV, "inv")
        self.assertDenied(p, "case.missing")

    def test_an_investigator_on_a_case_not_assigned_is_denied(self):
        p = self.sr(["get", W.ids["b"]] + INV + ["--case", "C-2"], "inv")
        self.assertDenied(p, "case.unassigned")

    def test_an_investigator_asking_for_a_person_off_the_case_is_denied(self):
        p = self.sr(["get", W.ids["b"]] + INV + ["--case", "C-1"], "inv")
        self.assertDenied(p, "case.person")

    def test_a_denial_does_not_tell_whether_a_case_exists(self):
        real = self.sr(["get", W.ids["b"]] + INV + ["--case", "C-2"], "inv")
        fake = self.sr(["get", W.ids["b"]] + INV + ["--case", "C-404"], "inv")
        self.assertDenied(real, "case.unassigned")
        self.assertEqual(real.stderr, fake.stderr)

    def test_a_denial_does_not_tell_whether_the_person_exists(self):
        for extra in ([], ["--case", "C-2"], ["--case", "C-404"],
                      ["--case", "C-1"]):
            before = W.v.log_size()
            real = self.sr(["get", W.ids["b"]] + INV + extra, "inv")
            fake = self.sr(["get", W.nobody] + INV + extra, "inv")
            self.assertEqual(real.returncode, EXIT_DENIED, extra)
            self.assertEqual((real.returncode, real.stdout, real.stderr),
                             (fake.returncode, fake.stdout, fake.stderr),
                             extra)
            denials = [e for e in self.since(before) if e["action"] == "get"]
            # Each denial names the person asked about (by reference), and
            # is otherwise the same entry whether or not that person exists.
            for e in denials:
                del e["index"], e["time"]
                self.assertEqual(len(e.pop("people")), 1, extra)
            self.assertEqual(len(denials), 2)
            self.assertEqual(denials[0], denials[1])

    def test_an_investigator_reads_a_person_on_an_assigned_case(self):
        p = self.sr(["get", W.ids["a"]] + INV + ["--case", "C-1"], "inv",
                    check=0)
        got = json.loads(p.stdout)
        self.assertEqual(got.pop("id"), W.ids["a"])
        self.assertEqual(got, W.a)  # every class, fingerprints included

    def test_an_investigators_search_returns_only_people_on_the_case(self):
        case = INV + ["--case", "C-1"]
        out = self.sr(["find", "--ssn", W.a["ssn"]] + case, "inv",
                      check=0).stdout
        self.assertEqual([json.loads(l)["id"] for l in out.splitlines()],
                         [W.ids["a"]])
        for person in (W.b, W.c):
            p = self.sr(["find", "--ssn", person["ssn"]] + case, "inv",
                        check=0)
            self.assertEqual(p.stdout, b"")
            p = self.sr(["find", "--name", person["name"]["family"], "--dob",
                         person["birth"]["date"]] + case, "inv", check=0)
            self.assertEqual(p.stdout, b"")
        # The same search by HR (no caseload) finds them: they exist.
        out = self.sr(["find", "--ssn", W.b["ssn"]] + HR, "hr", check=0).stdout
        self.assertEqual(json.loads(out)["id"], W.ids["b"])


class Mistakes(AccessCase):
    def test_an_identifier_typed_as_purpose_or_case_is_not_logged(self):
        ssn = W.c["ssn"]
        dob = W.c["birth"]["date"]
        family = "".join(ch for ch in W.c["name"]["family"].lower()
                         if "a" <= ch <= "z") or "smith"
        before = W.v.log_size()
        for who, args in (
                ("hr", ["get", W.ids["c"], "--purpose", ssn]),
                ("hr", ["find", "--ssn", ssn, "--purpose",
                        ssn.replace("-", "")]),
                ("hr", ["get", W.ids["c"], "--purpose", dob]),
                ("inv", ["get", W.ids["c"]] + INV + ["--case", ssn]),
                ("inv", ["get", W.ids["c"]] + INV + ["--case", dob]),
                ("hr", ["get", W.ids["c"]] + HR + ["--case", family]),
                ("hr", ["get", W.ids["c"]] + HR +
                 ["--case", ssn.replace("-", "")])):
            self.sr(args, who)
        logged = self.since(before)
        self.assertEqual(
            [(e["purpose"], e["case"]) for e in logged
             if e["action"] != "authenticate"],
            [("(undefined)", "")] * 3 +
            [("initial-investigation", "(unknown)")] * 2 +
            [("hr-action", "(unknown)")] * 2)
        # Nor anywhere in the files of the log or the journal.
        for sub in ("log", "audit"):
            for root, _, files in os.walk(os.path.join(W.v.path, sub)):
                for name in files:
                    with open(os.path.join(root, name), "rb") as f:
                        data = f.read()
                    for value in (ssn, ssn.replace("-", ""), dob, family):
                        self.assertNotIn(value.encode(), data,
                                         os.path.join(root, name))


class Cases(AccessCase):
    def test_a_person_added_twice_is_counted_once(self):
        W.v.sr(["case", "open", "C-TWICE"], check=0)
        for _ in range(2):
            W.v.sr(["case", "add", "C-TWICE", "--person", W.ids["c"]],
                   check=0)
        rows = [json.loads(l) for l in
                W.v.sr(["case", "list"], check=0).stdout.splitlines()]
        (row,) = [r for r in rows if r["case"] == "C-TWICE"]
        self.assertEqual(row["people"], 1)


class Classes(AccessCase):
    def test_an_hr_clerk_reads_only_the_classes_of_its_role(self):
        got = json.loads(self.sr(["get", W.ids["a"]] + HR, "hr",
                                 check=0).stdout)
        self.assertLessEqual(set(got), HR_MEMBERS)
        self.assertNotIn("investigations", got)
        self.assertNotIn("fingerprints", got)
        self.assertEqual(got["ssn"], W.a["ssn"])
        self.assertEqual(got["employment"], W.a["employment"])

    def test_asking_for_a_class_the_role_lacks_is_denied(self):
        for cls in ("investigation", "biometric"):
            p = self.sr(["get", W.ids["a"], "--class", cls] + HR, "hr")
            self.assertDenied(p, "role.classes")
            self.assertIn(cls.encode(), p.stderr)


class Scopes(AccessCase):
    def test_a_token_scoped_to_find_cannot_get(self):
        tok = W.v.new_token("hr", "--scope", "find")
        p = W.v.sr(["find", "--ssn", W.a["ssn"]] + HR, token=tok, check=0)
        self.assertEqual(json.loads(p.stdout)["id"], W.ids["a"])
        p = W.v.sr(["get", W.ids["a"]] + HR, token=tok)
        self.assertDenied(p, "token.scope")


# ---- what the audit log records ---------------------------------------------


class AuditTrail(AccessCase):
    def test_a_denial_is_one_entry_with_its_request(self):
        before = W.v.log_size()
        self.sr(["get", W.ids["b"]] + INV + ["--case", "C-1"], "inv",
                check=EXIT_DENIED)
        auth, e = self.since(before)
        self.assertEqual((auth["action"], auth["outcome"], auth["principal"]),
                         ("authenticate", "allowed", "inv"))
        self.assertEqual(e["token"], W.v.token_id("inv"))
        self.assertEqual(
            (e["principal"], e["action"], e["outcome"], e["rule"],
             e["purpose"], e["case"], e["classes"], e["count"]),
            ("inv", "get", "denied", "case.person", "initial-investigation",
             "C-1", [], 0))

    def test_every_kind_of_denial_is_logged_with_its_rule(self):
        cases = [("hr", ["get", W.ids["a"]], "purpose.missing"),
                 ("hr", ["get", W.ids["a"], "--purpose", "adjudication"],
                  "role.purpose"),
                 ("hr", ["get", W.ids["a"], "--class", "biometric"] + HR,
                  "role.classes"),
                 ("admin", ["find", "--ssn", W.a["ssn"]] + HR, "role.action"),
                 ("inv", ["find", "--ssn", W.a["ssn"]] + INV, "case.missing"),
                 ("inv", ["get", W.ids["b"]] + INV + ["--case", "C-2"],
                  "case.unassigned")]
        for who, args, rule in cases:
            before = W.v.log_size()
            self.assertDenied(self.sr(args, who), rule)
            entries = self.since(before)
            self.assertEqual(len(entries), 2, (args, entries))
            e = entries[1]
            self.assertEqual((e["principal"], e["outcome"], e["rule"]),
                             (who, "denied", rule), args)
            self.assertEqual(e["action"], "get" if args[0] == "get"
                             else "find.ssn")

    def test_an_allowed_read_is_one_entry_naming_the_person(self):
        before = W.v.log_size()
        self.sr(["get", W.ids["a"]] + HR, "hr", check=0)
        auth, e = self.since(before)
        self.assertEqual(auth["action"], "authenticate")
        self.assertEqual(
            (e["principal"], e["action"], e["outcome"], e["rule"],
             e["purpose"], e["case"], e["classes"], e["count"]),
            ("hr", "get", "allowed", "allow", "hr-action", "", HR_CLASSES, 1))
        self.assertEqual(e["people"], [self.ref_of(W.ids["a"])])
        # An investigator's read records the case and every class.
        before = W.v.log_size()
        self.sr(["get", W.ids["a"]] + INV + ["--case", "C-1"], "inv", check=0)
        e = self.since(before)[1]
        self.assertEqual((e["case"], e["classes"], e["people"]),
                         ("C-1", ALL_CLASSES, [self.ref_of(W.ids["a"])]))

    def test_a_search_is_one_entry_naming_the_people_found(self):
        before = W.v.log_size()
        self.sr(["find", "--ssn", W.b["ssn"]] + HR, "hr", check=0)
        self.sr(["find", "--ssn", "219-09-9999"] + HR, "hr", check=0)
        found = [e for e in self.since(before) if e["action"] == "find.ssn"]
        self.assertEqual([(e["outcome"], e["count"]) for e in found],
                         [("allowed", 1), ("allowed", 0)])
        self.assertEqual(found[0]["people"], [self.ref_of(W.ids["b"])])
        self.assertEqual(found[1]["people"], [])

    def test_audit_show_person_finds_that_persons_reads_only(self):
        before = W.v.log_size()
        self.sr(["get", W.ids["a"]] + HR, "hr", check=0)
        self.sr(["get", W.ids["a"]] + INV + ["--case", "C-1"], "inv", check=0)
        self.sr(["get", W.ids["c"]] + HR, "hr", check=0)
        mine = W.v.entries(person=W.ids["a"], from_=before)
        reads = [(e["principal"], e["action"]) for e in mine
                 if e["action"] == "get"]
        self.assertEqual(reads, [("hr", "get"), ("inv", "get")])
        ref = self.ref_of(W.ids["a"])
        for e in mine:
            self.assertIn(ref, e["people"])
        every = W.v.entries(person=W.ids["a"])
        self.assertTrue(any(e["action"] == "put" for e in every))
        self.assertTrue(any(e["action"] == "case.add" for e in every))

    def test_audit_resolve_gives_the_auditor_the_person_id(self):
        before = W.v.log_size()
        self.sr(["get", W.ids["b"]] + HR, "hr", check=0)
        (e,) = [e for e in self.since(before) if e["action"] == "get"]
        (ref,) = e["people"]
        p = self.sr(["audit", "resolve", ref], "aud", check=0)
        self.assertEqual(p.stdout.decode().strip(), W.ids["b"])

    def test_audit_show_and_resolve_are_for_auditors_only(self):
        ref = self.ref_of(W.ids["a"])
        for who in ("admin", "hr", "inv"):
            self.assertDenied(self.sr(["audit", "resolve", ref], who),
                              "role.action")
            self.assertDenied(self.sr(["audit", "show"], who), "role.action")


# ---- the policy -------------------------------------------------------------


class Policy(AccessCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sr-policy-")
        cls.v = Vault(os.path.join(cls.tmp, "v"), expected_people=100)
        cls.v.add("aud", "auditor")
        cls.v.add("hr", "hr-clerk")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def version(self):
        p = self.v.sr(["policy", "show"], check=0)
        return int(re.search(rb"policy version (\d+)", p.stderr).group(1))

    def test_policy_text_that_is_not_json_is_refused_with_its_line(self):
        v0 = self.version()
        path = self.write("broken.json", '{\n  "strongroom_policy": 1,\n'
                          '  "purposes": {,\n}\n')
        p = self.v.sr(["policy", "set", path], check=EXIT_INVALID)
        self.assertRegex(p.stderr, rb"line 3\b")
        self.assertEqual(self.version(), v0)

    def test_an_invalid_policy_is_refused_with_its_json_path(self):
        v0 = self.version()
        pol = json.loads(run(["policy", "default"], check=0).stdout)
        pol["roles"]["hr-clerk"]["actions"].append("fly")
        n = len(pol["roles"]["hr-clerk"]["actions"]) - 1
        path = self.write("fly.json", json.dumps(pol))
        p = self.v.sr(["policy", "set", path], check=EXIT_INVALID)
        self.assertIn(b"/roles/hr-clerk/actions/%d" % n, p.stderr)
        self.assertEqual(self.version(), v0)

    def test_only_a_policy_manager_may_set_the_policy(self):
        path = self.write("default.json",
                          run(["policy", "default"], check=0).stdout.decode())
        self.assertDenied(self.v.sr(["policy", "set", path], who="hr"),
                          "role.action")

    def test_a_valid_policy_becomes_the_next_version_and_is_logged(self):
        v0 = self.version()
        pol = json.loads(run(["policy", "default"], check=0).stdout)
        pol["description"] = "test: records officers export names (v%d)" % v0
        pol["roles"]["records-officer"] = {
            "actions": ["find", "export"], "classes": ["name"],
            "purposes": ["retention"]}
        path = self.write("next.json", json.dumps(pol, indent=1))
        p = self.v.sr(["policy", "set", path], check=0)
        self.assertIn(b"policy version %d is in force" % (v0 + 1), p.stderr)
        shown = self.v.sr(["policy", "show"], check=0)
        self.assertIn(b"policy version %d" % (v0 + 1), shown.stderr)
        self.assertEqual(json.loads(shown.stdout), pol)
        canonical = shown.stdout.rstrip(b"\n")
        (e,) = self.v.entries(who="aud", action="policy.set",
                              principal="admin")[-1:]
        self.assertEqual(e["detail"], "version %d, sha256 %s" % (
            v0 + 1, hashlib.sha256(canonical).hexdigest()))
        # And it is in force: the new role exists.
        self.v.add("ro", "records-officer")


class Listings(AccessCase):
    def test_user_list_and_token_list_print_no_secret_or_hash(self):
        r, w = os.pipe()
        os.write(w, b"a user passphrase\n")
        os.close(w)
        env = dict(os.environ, STRONGROOM_PASSPHRASE=PASS,
                   STRONGROOM_TOKEN=W.v.tokens["admin"])
        subprocess.run([CLI, "user", "add", "withpw", "--role", "auditor",
                        "--vault", W.v.path, "--password-fd", str(r)],
                       env=env, pass_fds=(r,), check=True,
                       capture_output=True)
        os.close(r)
        login = W.v.sr(["login", "withpw", "--password-fd", "0"], who=None,
                       stdin=b"a user passphrase\n", check=0)
        secrets = list(W.v.tokens.values()) + [login.stdout.decode().strip()]
        text = ("convert_from(value, 'UTF8')" if ON_PG
                else "CAST(value AS TEXT)")
        stored = [json.loads(v) for (v,) in W.v.store_query(
            "SELECT %s FROM docs WHERE kind IN ('token', 'principal')"
            % text)]
        hashes = [d[k] for d in stored for k in ("hash", "pwhash") if k in d]
        self.assertGreater(len(hashes), len(W.v.tokens))
        for cmd in (["user", "list"], ["token", "list"]):
            out = W.v.sr(cmd, check=0).stdout.decode()
            self.assertTrue(out)
            for tok in secrets:
                self.assertNotIn(tok.split("_", 2)[2], out)
            for h in hashes:
                self.assertNotIn(h, out)
                self.assertNotIn(h[:16], out)
            self.assertNotIn("hash", out)
            self.assertNotIn("$argon2", out)


# ---- the log: checkpoints, proofs, verification ------------------------------


class Log(AccessCase):
    def checkpoint(self):
        text = W.v.sr(["audit", "checkpoint"], "aud", check=0).stdout.decode()
        return parse_checkpoint(text)

    def test_a_checkpoint_is_a_signed_note_over_every_entry(self):
        vault_id = json.loads(W.v.sr(["stats", "--json"], "hr",
                                     check=0).stdout)["vault_id"]
        cp = self.checkpoint()
        with open(os.path.join(W.v.path, "log.vkey")) as f:
            vkey = f.read()
        self.assertEqual(cp["origin"], "strongroom/" + vault_id)
        self.assertEqual(vkey.split("+")[0], cp["origin"])
        # The size is the number of entries: the bundles hold exactly that
        # many, and `audit show` lists them and the two of its own.
        leaves = read_leaves(os.path.join(W.v.path, "log"), cp["size"])
        shown = W.v.entries()
        self.assertEqual([e["index"] for e in shown],
                         list(range(cp["size"] + 2)))
        self.assertEqual(mth([leaf_hash(l) for l in leaves]), cp["root"])
        for raw, e in zip(leaves, shown):
            d = decode_entry(raw)
            self.assertEqual((d["principal"], d["action"], d["rule"]),
                             (e["principal"], e["action"], e["rule"]))
        try:
            import cryptography  # noqa: F401
        except ImportError:
            self.skipTest("no cryptography module to check the signature")
        self.assertTrue(verify_note_signature(cp, vkey))
        forged = dict(cp, signed=cp["signed"].replace(
            b"\n%d\n" % cp["size"], b"\n%d\n" % (cp["size"] + 1)))
        self.assertFalse(verify_note_signature(forged, vkey))

    def test_inclusion_proofs_verify_independently(self):
        cp = self.checkpoint()
        n = cp["size"]
        leaves = read_leaves(os.path.join(W.v.path, "log"), n)
        for i in sorted({0, 1, n // 3, n // 2, n - 2, n - 1}):
            out = W.v.sr(["audit", "proof", "--inclusion", str(i), "--size",
                          str(n)], "aud", check=0).stdout
            proof = json.loads(out)
            path = [b64d(h) for h in proof["inclusion_path"]]
            self.assertEqual((proof["index"], proof["tree_size"]), (i, n))
            self.assertEqual(b64d(proof["leaf_hash"]), leaf_hash(leaves[i]))
            self.assertEqual(b64d(proof["root_hash"]), cp["root"])
            self.assertTrue(verify_inclusion(i, n, leaf_hash(leaves[i]), path,
                                             cp["root"]), i)
            # The verifier is not a rubber stamp.
            self.assertFalse(verify_inclusion(i, n, leaf_hash(leaves[i] + b"x"),
                                              path, cp["root"]))
            if path:
                bent = [bytes([path[0][0] ^ 1]) + path[0][1:]] + path[1:]
                self.assertFalse(verify_inclusion(i, n, leaf_hash(leaves[i]),
                                                  bent, cp["root"]))
        p = W.v.sr(["audit", "proof", "--inclusion", str(n + 100), "--size",
                    str(n)], "aud")
        self.assertNotEqual(p.returncode, 0)

    def test_proofs_hold_for_tree_sizes_never_checkpointed(self):
        cp = self.checkpoint()
        n = cp["size"]
        hashes = [leaf_hash(l) for l in
                  read_leaves(os.path.join(W.v.path, "log"), n)]
        hist = set(os.listdir(os.path.join(W.v.path, "log", "history")))
        sizes = [s for s in range(3, n) if str(s) not in hist]
        self.assertGreaterEqual(len(sizes), 2)
        m, size = sizes[0], sizes[-1]
        for i in (0, m - 1, size - 1):
            out = W.v.sr(["audit", "proof", "--inclusion", str(i), "--size",
                          str(size)], "aud", check=0).stdout
            proof = json.loads(out)
            self.assertEqual(b64d(proof["root_hash"]), mth(hashes[:size]))
            self.assertTrue(verify_inclusion(
                i, size, hashes[i], [b64d(h) for h in
                                     proof["inclusion_path"]],
                mth(hashes[:size])))
        out = W.v.sr(["audit", "proof", "--consistency", str(m), str(size)],
                     "aud", check=0).stdout
        path = [b64d(h) for h in json.loads(out)["consistency_path"]]
        self.assertTrue(verify_consistency(m, size, mth(hashes[:m]),
                                           mth(hashes[:size]), path))

    def test_consistency_proofs_verify_independently(self):
        cp = self.checkpoint()
        n = cp["size"]
        hashes = [leaf_hash(l) for l in
                  read_leaves(os.path.join(W.v.path, "log"), n)]
        for m in sorted({1, 2, 3, 4, 7, 8, n // 2, n - 1}):
            out = W.v.sr(["audit", "proof", "--consistency", str(m), str(n)],
                         "aud", check=0).stdout
            proof = json.loads(out)
            path = [b64d(h) for h in proof["consistency_path"]]
            first = mth(hashes[:m])
            self.assertEqual(b64d(proof["first_root"]), first)
            self.assertEqual(b64d(proof["second_root"]), cp["root"])
            self.assertTrue(verify_consistency(m, n, first, cp["root"], path),
                            m)
            self.assertFalse(verify_consistency(m, n, mth(hashes[:m - 1] +
                                                          [hashes[m]]),
                                                cp["root"], path))
        # An earlier signed checkpoint is consistent with the latest.
        hist = os.path.join(W.v.path, "log", "history")
        m = max(int(s) for s in os.listdir(hist) if s.isdigit() and
                0 < int(s) < n)
        with open(os.path.join(hist, str(m))) as f:
            old = parse_checkpoint(f.read())
        out = W.v.sr(["audit", "proof", "--consistency", str(m), str(n)],
                     "aud", check=0).stdout
        path = [b64d(h) for h in json.loads(out)["consistency_path"]]
        self.assertTrue(verify_consistency(m, n, old["root"], cp["root"],
                                           path))

    def test_audit_verify_passes_on_a_healthy_log(self):
        n = W.v.log_size()
        p = W.v.sr(["audit", "verify"], who=None, passphrase=None, check=0)
        self.assertIn(b"ok: %d entries" % n, p.stdout)


class Tampering(AccessCase):
    def test_audit_verify_names_an_edited_entry(self):
        tmp = tempfile.mkdtemp(prefix="sr-tamper-")
        try:
            v = Vault(os.path.join(tmp, "v"), expected_people=100)
            for name in ("a1", "a2", "a3"):
                v.add(name, "auditor")
            v.sr(["audit", "verify"], who=None, check=0)
            n = v.log_size()
            path = bundle_path(os.path.join(v.path, "log"), 0, n)
            with open(path, "rb") as f:
                data = bytearray(f.read())
            i = n // 2
            off, entry = parse_bundle(bytes(data))[i]
            data[off + 1] ^= 0x01  # the entry's time: still decodes
            with open(path, "wb") as f:
                f.write(data)
            p = v.sr(["audit", "verify"], who=None, passphrase=None)
            self.assertNotEqual(p.returncode, 0)
            self.assertRegex(p.stderr, rb"entry %d\b" % i)
            self.assertIn(b"FAILS", p.stderr)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


# ---- log-then-reveal: fail closed --------------------------------------------


def small_vault(path):
    """A vault with an intake account, an HR clerk, an auditor and one
    person; returns (vault, person, person id)."""
    v = Vault(path, expected_people=100)
    v.add("intake", "intake", service=True)
    v.add("hr", "hr-clerk")
    v.add("aud", "auditor")
    person = gen_people(1, 9)[0]
    pid = v.sr(["put", "--purpose", "intake"], who="intake",
               stdin=json.dumps(person).encode(), check=0).stdout
    return v, person, pid.decode().strip()


def hold_wal(vault_path):
    """A reader holding a snapshot keeps vault.db-wal and -shm in place, as
    on a live system, so a read needs no new space for SQLite. On
    PostgreSQL the store is not on this disk: nothing to hold."""
    if ON_PG:
        return contextlib.nullcontext()
    db = sqlite3.connect(os.path.join(vault_path, "vault.db"))
    db.execute("BEGIN")
    db.execute("SELECT count(*) FROM meta").fetchone()
    return db


class FailClosed(AccessCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sr-closed-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def reads(self, v, person, pid):
        return [(["get", pid] + HR, "hr"),
                (["find", "--ssn", person["ssn"]] + HR, "hr"),
                (["find", "--name", person["name"]["family"], "--dob",
                  person["birth"]["date"]] + HR, "hr"),
                (["audit", "show"], "aud"),
                (["audit", "proof", "--inclusion", "0"], "aud"),
                (["stats"], "hr")]

    def test_a_damaged_journal_record_fails_every_read_closed(self):
        v, person, pid = small_vault(os.path.join(self.tmp, "v"))
        journal = os.path.join(v.path, "audit", "journal")
        header = journal_end(journal)
        # An import that dies after logging leaves records in the journal
        # that no checkpoint holds yet.
        env = dict(os.environ, STRONGROOM_PASSPHRASE=PASS,
                   STRONGROOM_TOKEN=v.tokens["intake"])
        imp = subprocess.Popen([CLI, "import", "-", "--vault", v.path,
                                "--purpose", "intake", "--quiet"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=env)
        try:
            for _ in range(400):
                if journal_end(journal) > header + 150:
                    break
                time.sleep(0.05)
            time.sleep(0.2)
        finally:
            imp.kill()
            imp.communicate()
        end = journal_end(journal)
        self.assertGreater(end, header + 150)
        # Control: as the import left it, the vault reads fine.
        control = os.path.join(self.tmp, "control")
        shutil.copytree(v.path, control)
        p = run(["get", pid, "--vault", control] + HR, token=v.tokens["hr"],
                check=0)
        self.assertEqual(json.loads(p.stdout)["ssn"], person["ssn"])
        # One bit of the last record's MAC (zeros follow it: the room
        # written ahead).
        with open(journal, "r+b") as f:
            f.seek(end - 1)
            last = f.read(1)
            f.seek(end - 1)
            f.write(bytes([last[0] ^ 1]))
        other = json.dumps(gen_people(2, 9)[1]).encode()
        for args, who in self.reads(v, person, pid) + [
                (["put", "--purpose", "intake"], "intake")]:
            p = v.sr(args, who=who, stdin=other)
            self.assertEqual(p.returncode, EXIT_AUDIT, (args, p.stderr))
            self.assertEqual(p.stdout, b"", args)
            self.assertIn(b"audit journal", p.stderr)
            self.assertIn(b"nothing can be read", p.stderr)

    def test_a_read_whose_entry_cannot_be_written_reveals_nothing(self):
        v, person, pid = small_vault(os.path.join(self.tmp, "v"))
        v.sr(["stats"], who="hr", check=0)
        n = v.log_size()
        leaves = read_leaves(os.path.join(v.path, "log"), n)
        auth = [l for l in leaves if decode_entry(l)["action"] ==
                "authenticate" and decode_entry(l)["principal"] == "hr"][-1]
        journal = os.path.join(v.path, "audit", "journal")
        # Room in the journal for the authentication record (length, index,
        # entry, MAC) and not one byte more: zeros written ahead up to
        # there, as an append leaves them (docs/audit.md, "Journal"), and
        # a file size limit at their end, which the read's entry would
        # have to grow past.
        room = journal_end(journal) + 4 + 8 + len(auth) + 16
        self.assertLessEqual(os.path.getsize(journal), room)
        os.truncate(journal, room)

        def limit(size):
            def f():
                signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
                resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
            return f

        hold = hold_wal(v.path)
        try:
            p = v.sr(["get", pid] + HR, who="hr", preexec=limit(room))
            self.assertEqual(p.returncode, EXIT_AUDIT, p.stderr)
            self.assertEqual(p.stdout, b"")
            self.assertIn(b"nothing is revealed", p.stderr)
            # Control: with room for its entry the same read succeeds.
            p = v.sr(["get", pid] + HR, who="hr", preexec=limit(1 << 20),
                     check=0)
            self.assertEqual(json.loads(p.stdout)["ssn"], person["ssn"])
        finally:
            getattr(hold, "close", lambda: None)()
        # The refused read was authenticated and authorised, and has no
        # entry: it revealed nothing, so there is nothing to record.
        got = [(e["principal"], e["action"], e["outcome"])
               for e in v.entries(from_=n) if e["principal"] == "hr"]
        self.assertEqual(got, [("hr", "authenticate", "allowed"),
                               ("hr", "authenticate", "allowed"),
                               ("hr", "get", "allowed")])

    def test_a_read_on_a_full_disk_reveals_nothing(self):
        if os.geteuid() != 0:
            self.skipTest("mounting a tmpfs needs root")
        mnt = os.path.join(self.tmp, "mnt")
        os.mkdir(mnt)
        m = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs",
                            mnt], capture_output=True)
        if m.returncode != 0:
            self.skipTest("cannot mount a tmpfs: %s" % m.stderr.decode())
        hold = None
        try:
            v, person, pid = small_vault(os.path.join(mnt, "v"))
            hold = hold_wal(v.path)
            filler = os.path.join(mnt, "filler")
            fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                while True:
                    os.write(fd, b"\0" * 65536)
            except OSError as e:
                self.assertEqual(e.errno, errno.ENOSPC)
            try:
                while True:
                    os.write(fd, b"\0")
            except OSError as e:
                self.assertEqual(e.errno, errno.ENOSPC)
            os.close(fd)
            # Reads go on while their entries fit in the journal's last
            # page; each that printed is in the log. Then they stop, and
            # print nothing.
            shown = 0
            for _ in range(200):
                p = v.sr(["get", pid] + HR, who="hr")
                if p.returncode != 0:
                    break
                self.assertEqual(json.loads(p.stdout)["ssn"], person["ssn"])
                shown += 1
            self.assertIn(p.returncode, (EXIT_AUDIT, EXIT_FULL), p.stderr)
            self.assertEqual(p.stdout, b"")
            self.assertIn(b"No space left on device", p.stderr)
            for args, who in self.reads(v, person, pid):
                p = v.sr(args, who=who)
                self.assertIn(p.returncode, (EXIT_AUDIT, EXIT_FULL),
                              (args, p.stderr))
                self.assertEqual(p.stdout, b"", args)
            os.remove(filler)
            getattr(hold, "close", lambda: None)()
            hold = None
            # Every read that printed has its entry, and no other does.
            gets = [e for e in v.entries(principal="hr", action="get")]
            self.assertEqual(len(gets), shown)
            self.assertTrue(all(e["outcome"] == "allowed" for e in gets))
            v.sr(["audit", "verify"], who=None, check=0)
        finally:
            if hold is not None:
                getattr(hold, "close", lambda: None)()
            subprocess.run(["umount", "-l", mnt])


if __name__ == "__main__":
    unittest.main(verbosity=2)
