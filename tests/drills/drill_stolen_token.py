#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Drill (a): a stolen investigator token walks SSNs as fast as it can.

The vault holds 300 people; the investigator's case holds 150 of them, so
half of what the thief tries is on the caseload the token may read. The
thief sends searches by SSN over one keep-alive connection, one after
another, with the default policy (investigator: 20 people per hour, 60
searches per hour), until the server stops answering with people.

Measured and checked:
  - people revealed before the freeze (target <= 20);
  - time from sending the request that spent the budget to seeing the
    alert line in <vault>/alerts/alerts.jsonl (target <= 1 s);
  - after the freeze nothing more is revealed, to any route;
  - the denial is in the audit log with its budget rule, the principal is
    listed frozen, and only the security officer's unfreeze (logged)
    lets it read again.
The last line printed is the figure.
"""
import datetime
import json
import os
import shutil
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from srcli import CLI, Vault, run  # noqa: E402
from srserver import Server  # noqa: E402

INV = "initial-investigation"
PEOPLE = 300
ON_CASE = 150
FIGURES = []


def gen_people(count, seed):
    out = run(["gen", "--count", str(count), "--seed", str(seed)],
              check=0).stdout
    return [json.loads(line) for line in out.splitlines()]


def alert_time(path, principal):
    """The time of the first principal.frozen alert about principal, or
    None."""
    if not os.path.exists(path):
        return None
    with open(path) as f:
        for line in f:
            a = json.loads(line)
            if a["kind"] == "principal.frozen" and a["principal"] == principal:
                t = datetime.datetime.strptime(a["time"],
                                               "%Y-%m-%dT%H:%M:%S.%fZ")
                return t.replace(tzinfo=datetime.timezone.utc).timestamp(), a
    return None


class StolenInvestigatorToken(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sr-drill-a-")
        cls.v = Vault(os.path.join(cls.tmp, "vault"), expected_people=1000)
        for name, role, service in (("intake", "intake", True),
                                    ("inv", "investigator", False),
                                    ("so", "security-officer", False),
                                    ("aud", "auditor", False)):
            cls.v.add(name, role, service=service)
        cls.srv = Server(cls.v)
        cls.people = gen_people(PEOPLE, 1)
        admin = cls.v.tokens["admin"]
        conn = cls.srv.conn()
        cls.srv.json("POST", "/v1/cases", {"case": "C-7"}, token=admin,
                     want=201, conn=conn)
        cls.srv.json("POST", "/v1/cases/C-7/assign", {"principal": "inv"},
                     token=admin, want=200, conn=conn)
        for i, p in enumerate(cls.people):
            _, _, o = cls.srv.json("POST", "/v1/persons",
                                   {"purpose": "intake", "person": p},
                                   token=cls.v.tokens["intake"], want=201,
                                   conn=conn)
            if i % 2 == 0:
                cls.srv.json("POST", "/v1/cases/C-7/people", {"id": o["id"]},
                             token=admin, want=200, conn=conn)
        conn.close()

    @classmethod
    def tearDownClass(cls):
        rc = cls.srv.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        if rc != 0:
            raise AssertionError("serve exited %d" % rc)

    def test_a_stolen_token_is_frozen_within_its_budget(self):
        stolen = self.v.tokens["inv"]
        conn = self.srv.conn()
        revealed, sent_at, refusal = set(), None, None
        for p in self.people:
            t = time.time()
            st, _, o = self.srv.json("POST", "/v1/persons/search",
                                     {"ssn": p["ssn"], "purpose": INV,
                                      "case": "C-7"},
                                     token=stolen, conn=conn)
            if st != 200:
                sent_at, refusal = t, (st, o)
                break
            for m in o["matches"]:
                revealed.add(m["id"])
        conn.close()
        self.assertIsNotNone(refusal, "the walk was never stopped")
        self.assertEqual(refusal[0], 403, refusal)
        self.assertEqual(refusal[1]["type"], "urn:strongroom:problem:denied")
        self.assertIn("budget.", refusal[1]["detail"])
        self.assertLessEqual(len(revealed), 20)
        self.assertGreater(len(revealed), 0)

        # Watch the alert file as a responder would: the time from
        # sending the request to seeing the alert bounds the alert's delay
        # (the server writes it before it answers).
        path = os.path.join(self.v.path, "alerts", "alerts.jsonl")
        found = None
        while found is None and time.time() - sent_at < 5:
            found = alert_time(path, "inv")
        seen_at = time.time()
        self.assertIsNotNone(found, "no alert was raised")
        at, alert = found
        self.assertTrue(alert["reason"].startswith("budget."), alert)
        self.assertGreaterEqual(at, sent_at - 0.001)
        to_alert = seen_at - sent_at
        self.assertLessEqual(to_alert, 1.0)

        # Frozen: nothing more, to any route, with the stolen token.
        for p in self.people[:10]:
            st, _, _ = self.srv.json("POST", "/v1/persons/search",
                                     {"ssn": p["ssn"], "purpose": INV,
                                      "case": "C-7"}, token=stolen)
            self.assertEqual(st, 401)
        st, _, _ = self.srv.json("POST", "/v1/persons/read",
                                 {"id": next(iter(revealed)), "purpose": INV,
                                  "case": "C-7"}, token=stolen)
        self.assertEqual(st, 401)

        # The log holds the denial with its rule; the principal is listed
        # frozen with the rule as its reason.
        denied = [e for e in self.v.entries(principal="inv", denied=True)
                  if e["rule"].startswith("budget.")]
        self.assertEqual(len(denied), 1, denied)
        users = [json.loads(line) for line in
                 self.v.sr(["user", "list"], check=0).stdout.splitlines()]
        (inv,) = [u for u in users if u["name"] == "inv"]
        self.assertTrue(inv["frozen"])
        self.assertEqual(inv["frozen_reason"], alert["reason"])

        # The administrator cannot unfreeze; the security officer can,
        # and the budget starts afresh.
        p = self.v.sr(["principal", "unfreeze", "inv", "--reason", "drill"])
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"denied by rule role.action", p.stderr)
        self.v.sr(["principal", "unfreeze", "inv", "--reason", "drill"],
                  who="so", check=0)
        st, _, o = self.srv.json("POST", "/v1/persons/search",
                                 {"ssn": self.people[0]["ssn"], "purpose": INV,
                                  "case": "C-7"}, token=stolen)
        self.assertEqual(st, 200, o)
        FIGURES.append("drill a (stolen investigator token): %d people "
                       "revealed before the freeze (target <= 20), alert "
                       "seen %.1f ms after the request that spent the "
                       "budget was sent (target <= 1000 ms)"
                       % (len(revealed), to_alert * 1000))


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    ok = result.wasSuccessful()
    for f in FIGURES:
        print(f)
    if not FIGURES:
        print("drill a (stolen investigator token): FAILED")
    sys.exit(0 if ok else 1)
