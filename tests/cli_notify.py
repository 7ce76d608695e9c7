#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""`strongroom breach notify` (docs/breach.md): a letter to each person a
breach report names, under the incident-response purpose and a second
officer's approval bound to exactly those people; resumable; logged.

One vault of 24 generated people and two made by hand (one whose name
needs escaping in HTML and CSV, one with no address). The clerk "thief"
reads 10 of them; officer "so1" reports on the thief, asks for the
approval, "so2" approves it.
"""
import csv
import json
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from srcli import Vault, gen  # noqa: E402

IR = ["--purpose", "incident-response"]
W = None


def odd_person(ssn, family, addresses):
    return {"ssn": ssn,
            "name": {"given": "Zoë", "family": family},
            "birth": {"date": "1971-03-04", "country": "US"},
            "addresses": addresses}


class World:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="sr-notify-")
        self.v = Vault(os.path.join(self.tmp, "vault"), expected_people=100)
        for name, role, service in (("intake", "intake", True),
                                    ("thief", "hr-clerk", False),
                                    ("so1", "security-officer", False),
                                    ("so2", "security-officer", False),
                                    ("aud", "auditor", False)):
            self.v.add(name, role, service=service)
        self.v.lift_budgets()
        self.people = gen(24, 31)
        self.people.append(odd_person(
            "123-45-0001", "<b>O'Neil & \"Sons\"</b>",
            [{"street": "=1+2 Formula Rd", "city": "Reston", "state": "VA",
              "postal_code": "20190", "country": "US"}]))
        self.people.append(odd_person("123-45-0002", "Nowhere", []))
        self.v.store(self.people)
        self.ids = []
        for p in self.people:
            o = self.v.sr(["find", "--ssn", p["ssn"]] + IR, who="so1",
                          check=0).stdout
            self.ids.append(json.loads(o)["id"])
        self.by_id = dict(zip(self.ids, self.people))
        # The thief reads 8 generated people and the two odd ones.
        self.read = self.ids[:8] + self.ids[24:26]
        for pid in self.read:
            self.v.sr(["get", pid, "--purpose", "hr-action"], who="thief",
                      check=0)
        self.report = os.path.join(self.tmp, "thief.jsonl")
        self.v.sr(["breach", "report", "--principal", "thief", "--out",
                   self.report], who="so1", check=0)
        self.aid = self.v.approve("so1", "so2", "notify", "--report",
                                  self.report)

    def notify(self, out, *extra, report=None, approval=None, who="so1",
               check=0):
        args = ["breach", "notify", "--report", report or self.report,
                "--out", out, "--approval", approval or self.aid]
        return self.v.sr(args + list(extra), who=who, check=check)


def setUpModule():
    global W
    W = World()


def tearDownModule():
    shutil.rmtree(W.tmp, ignore_errors=True)


def read_rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def current(p):
    addrs = p.get("addresses", [])
    open_ = [a for a in addrs if "to" not in a]
    if open_:
        return max(open_, key=lambda a: a.get("from", ""))
    return max(addrs, key=lambda a: a["to"]) if addrs else None


class Notify(unittest.TestCase):
    def test_a_whole_run_writes_one_letter_per_person_with_an_address(self):
        out = os.path.join(W.tmp, "run-whole")
        before = W.v.log_size()
        summary = json.loads(W.notify(out).stdout)
        self.assertEqual(summary["people"], 10)
        self.assertEqual(summary["letters"], 9)
        self.assertEqual(summary["no_address"], 1)
        self.assertEqual(summary["gone"], 0)
        letters = sorted(os.listdir(os.path.join(out, "letters")))
        want = sorted(pid + ".html" for pid in W.read
                      if current(W.by_id[pid]) is not None)
        self.assertEqual(letters, want)
        rows = read_rows(os.path.join(out, "mailing.csv"))
        self.assertEqual(sorted(r["reference"] for r in rows),
                         sorted(f[:-5] for f in want))
        for r in rows:
            p = W.by_id[r["reference"]]
            a = current(p)
            self.assertEqual(r["letter"], "letters/%s.html" % r["reference"])
            self.assertIn(p["name"]["family"], r["name"])
            self.assertEqual(r["city"], a["city"])
            self.assertEqual(r["postal_code"], a.get("postal_code", ""))
            with open(os.path.join(out, r["letter"]), encoding="utf-8") as f:
                text = f.read()
            self.assertIn(a["city"], text)
            # Nothing but the name and the address: no SSN, no birth date.
            self.assertNotIn(p["ssn"], text)
            self.assertNotIn(p["birth"]["date"], text)
            self.assertNotIn("{{", text)
            self.assertEqual(os.stat(os.path.join(out, r["letter"]))
                             .st_mode & 0o777, 0o600)
        unreach = read_rows(os.path.join(out, "unreachable.csv"))
        self.assertEqual([(u["reference"], u["reason"]) for u in unreach],
                         [(W.ids[25], "no address on record")])
        with open(os.path.join(out, "notify.json")) as f:
            self.assertEqual(json.load(f)["letters"], 9)
        self.assertEqual(os.stat(out).st_mode & 0o777, 0o700)
        # Each person read was logged as a notify read, under the
        # approval, before anything was written.
        entries = W.v.entries(from_=before)
        reads = [e for e in entries if e["action"] == "notify"]
        self.assertEqual(sum(e["count"] for e in reads), 10)
        self.assertTrue(all(e["detail"] == "approval " + W.aid
                            for e in reads))
        self.assertTrue(all(e["purpose"] == "incident-response"
                            for e in reads))

    def test_names_are_escaped_in_letters_and_csv(self):
        out = os.path.join(W.tmp, "run-escape")
        W.notify(out)
        odd = W.ids[24]
        with open(os.path.join(out, "letters", odd + ".html"),
                  encoding="utf-8") as f:
            text = f.read()
        self.assertIn("Zoë &lt;b&gt;O&#39;Neil &amp; &quot;Sons&quot;"
                      "&lt;/b&gt;", text)
        self.assertNotIn("<b>O'Neil", text)
        row = [r for r in read_rows(os.path.join(out, "mailing.csv"))
               if r["reference"] == odd][0]
        self.assertEqual(row["name"], "Zoë <b>O'Neil & \"Sons\"</b>")
        # A spreadsheet must not run a field as a formula.
        self.assertEqual(row["street"], "'=1+2 Formula Rd")

    def test_an_interrupted_run_resumes_without_writing_twice(self):
        whole = os.path.join(W.tmp, "run-ref")
        W.notify(whole)
        out = os.path.join(W.tmp, "run-resume")
        W.notify(out)
        # As if killed: the journal kept 3 people and half a line; a row
        # and a letter were written after its last sync.
        jpath = os.path.join(out, "notify.journal")
        with open(jpath) as f:
            jl = f.read().splitlines(True)
        kept = jl[:4]
        end = int(kept[-1].split()[2])
        with open(jpath, "w") as f:
            f.write("".join(kept) + jl[4][:20])
        os.remove(os.path.join(out, "notify.json"))
        for name in os.listdir(os.path.join(out, "letters")):
            if not any(line.startswith(name[:-5]) for line in kept[1:]):
                os.remove(os.path.join(out, "letters", name))
        with open(os.path.join(out, "mailing.csv"), "rb+") as f:
            f.seek(0, 2)
            self.assertGreater(f.tell(), end)
        before = W.v.log_size()
        summary = json.loads(W.notify(out).stdout)
        self.assertEqual(summary["done_before"], 3)
        self.assertEqual(summary["letters"], 9)
        with open(os.path.join(out, "mailing.csv"), "rb") as a, \
                open(os.path.join(whole, "mailing.csv"), "rb") as b:
            ra, rb = a.read().splitlines(), b.read().splitlines()
        self.assertEqual(len(ra), len(set(ra)))
        self.assertEqual(sorted(ra), sorted(rb))
        self.assertEqual(sorted(os.listdir(os.path.join(out, "letters"))),
                         sorted(os.listdir(os.path.join(whole, "letters"))))
        reads = [e for e in W.v.entries(from_=before)
                 if e["action"] == "notify"]
        self.assertEqual(sum(e["count"] for e in reads), 7)
        # A finished run run again reads no one.
        before = W.v.log_size()
        summary = json.loads(W.notify(out).stdout)
        self.assertEqual(summary["done_before"], 10)
        self.assertEqual([e for e in W.v.entries(from_=before)
                          if e["action"] == "notify"], [])

    def test_a_run_stopped_right_after_its_journal_began_resumes(self):
        """Killed after the journal's first line and before anything else:
        the next run finds its journal and does the whole job."""
        import hashlib
        out = os.path.join(W.tmp, "run-early")
        os.mkdir(out)
        with open(W.report, "rb") as f:
            rd = hashlib.blake2b(f.read(), digest_size=32).hexdigest()
        with open(os.path.join(os.environ["SR_SOURCE_DIR"], "docs",
                               "letter.html"), "rb") as f:
            td = hashlib.blake2b(f.read(), digest_size=32).hexdigest()
        with open(os.path.join(out, "notify.journal"), "w") as f:
            f.write("strongroom-notify 1 report %s template %s\n" % (rd, td))
        summary = json.loads(W.notify(out).stdout)
        self.assertEqual((summary["done_before"], summary["letters"]), (0, 9))
        self.assertEqual(len(read_rows(os.path.join(out, "mailing.csv"))), 9)

    def test_a_resume_with_another_template_or_a_used_directory_is_refused(self):
        out = os.path.join(W.tmp, "run-tpl")
        W.notify(out)
        tpl = os.path.join(W.tmp, "short.html")
        with open(tpl, "w") as f:
            f.write("<p>{{name}}</p>\n<p>{{address}}</p>\n")
        p = W.notify(out, "--template", tpl, check=None)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"another report or template", p.stderr)
        other = os.path.join(W.tmp, "used")
        os.mkdir(other)
        open(os.path.join(other, "notes.txt"), "w").close()
        p = W.notify(other, check=None)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"holds files but no notification run", p.stderr)

    def test_a_custom_template_is_filled_and_a_bad_one_named(self):
        tpl = os.path.join(W.tmp, "mine.html")
        with open(tpl, "w") as f:
            f.write("<h1>{{family}}</h1>\n<p>{{classes}}</p>{{reads}}\n")
        out = os.path.join(W.tmp, "run-custom")
        W.notify(out, "--template", tpl)
        pid = W.ids[0]
        with open(os.path.join(out, "letters", pid + ".html")) as f:
            text = f.read()
        self.assertEqual(
            text, "<h1>%s</h1>\n<p>identity (Social Security number, date "
            "and place of birth, sex, citizenship); name (your name and "
            "former names); contact (addresses, telephone numbers, e-mail "
            "addresses); employment (your employment history)</p>1\n"
            % W.by_id[pid]["name"]["family"])
        with open(tpl, "w") as f:
            f.write("<p>ok</p>\n<p>{{ssn}}</p>\n")
        p = W.notify(os.path.join(W.tmp, "run-bad"), "--template", tpl,
                     check=None)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"template line 2: unknown placeholder {{ssn}}",
                      p.stderr)
        p = W.v.sr(["breach", "notify", "--print-template"], who="so1",
                   check=0)
        self.assertIn(b"{{address}}", p.stdout)

    def test_without_a_valid_approval_nothing_is_read(self):
        # Asked for and approved by the same officer: refused.
        aid = W.v.sr(["approval", "request", "notify", "--report",
                      W.report], who="so1", check=0).stdout.decode().strip()
        p = W.v.sr(["approval", "approve", aid], who="so1", check=None)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"approval.self", p.stderr)
        out = os.path.join(W.tmp, "run-unapproved")
        p = W.notify(out, approval=aid, check=None)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"not approved yet", p.stderr)
        self.assertEqual(os.listdir(os.path.join(out, "letters")), [])
        # A report edited to name one more person: not the people
        # approved.
        with open(W.report) as f:
            lines = f.read().splitlines(True)
        extra = json.loads(lines[1])
        extra["id"] = W.ids[20]
        edited = os.path.join(W.tmp, "edited.jsonl")
        with open(edited, "w") as f:
            f.write("".join(lines) + json.dumps(extra) + "\n")
        p = W.notify(os.path.join(W.tmp, "run-edited"), report=edited,
                     check=None)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"it is for other people", p.stderr)
        # Another officer may not use so1's approval.
        p = W.notify(os.path.join(W.tmp, "run-other"), who="so2", check=None)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"asked for by another principal", p.stderr)
        # A clerk may not ask for one.
        p = W.v.sr(["approval", "request", "notify", "--report", W.report],
                   who="thief", check=None)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"denied by rule", p.stderr)
        listed = [json.loads(l) for l in W.v.sr(
            ["approval", "list"], who="so2", check=0).stdout.splitlines()]
        mine = [a for a in listed if a["id"] == W.aid][0]
        self.assertEqual((mine["action"], mine["people"]), ("notify", 10))

    def test_a_bad_report_is_named_by_line(self):
        bad = os.path.join(W.tmp, "bad.jsonl")
        with open(W.report) as f:
            lines = f.read().splitlines(True)
        with open(bad, "w") as f:
            f.write(lines[0] + lines[1] + '{"kind":"person","id":"zz"}\n')
        p = W.v.sr(["approval", "request", "notify", "--report", bad],
                   who="so1", check=None)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"report line 3:", p.stderr)
        with open(bad, "w") as f:
            f.write(lines[1])
        p = W.notify(os.path.join(W.tmp, "run-badrep"), report=bad,
                     check=None)
        self.assertIn(b"report line 1: a report starts with its summary",
                      p.stderr)

    def test_z_a_person_shredded_since_the_report_gets_no_letter(self):
        victim = W.ids[3]
        W.v.sr(["shred", victim, "--reason", "court-order-7", "--purpose",
                "retention"], who="so2", check=0)
        out = os.path.join(W.tmp, "run-shred")
        summary = json.loads(W.notify(out).stdout)
        self.assertEqual(summary["gone"], 1)
        self.assertEqual(summary["letters"], 8)
        self.assertFalse(os.path.exists(
            os.path.join(out, "letters", victim + ".html")))
        unreach = read_rows(os.path.join(out, "unreachable.csv"))
        self.assertIn((victim, "shredded since the report"),
                      [(u["reference"], u["reason"]) for u in unreach])


if __name__ == "__main__":
    unittest.main(verbosity=2)
