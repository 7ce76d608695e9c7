#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Drill (e): a decoy is touched.

A vault with the default decoy rate (it starts with one decoy) and 40
people, behind the server. Two stolen HR-clerk tokens: one reads the
decoy by id, the other searches for it by SSN (as a thief holding a list
of SSNs from elsewhere would). Each answer looks like any other; each
thief is frozen after that one request, and the security officer sees
the alert and the decoy on GET /v1/decoys.

The last line printed is the figure: reads before the freeze (target 1)
and the time to the alert.
"""
import json
import os
import shutil
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from srcli import Vault, run  # noqa: E402
from srserver import Server  # noqa: E402

HR = "hr-action"
FIGURES = []


def alerts(vault):
    path = os.path.join(vault.path, "alerts", "alerts.jsonl")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f]


class DecoyTouched(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sr-drill-e-")
        cls.v = Vault(os.path.join(cls.tmp, "vault"), expected_people=1000)
        for name, role, service in (("intake", "intake", True),
                                    ("clerk1", "hr-clerk", False),
                                    ("clerk2", "hr-clerk", False),
                                    ("so", "security-officer", False)):
            cls.v.add(name, role, service=service)
        cls.srv = Server(cls.v)
        out = run(["gen", "--count", "40", "--seed", "5"], check=0).stdout
        cls.people = [json.loads(line) for line in out.splitlines()]
        cls.ids = []
        for p in cls.people:
            _, _, o = cls.srv.json("POST", "/v1/persons",
                                   {"purpose": "intake", "person": p},
                                   token=cls.v.tokens["intake"], want=201)
            cls.ids.append(o["id"])
        _, _, o = cls.srv.json("GET", "/v1/decoys", token=cls.v.tokens["so"],
                               want=200)
        cls.decoys = [d["id"] for d in o["decoys"]]

    @classmethod
    def tearDownClass(cls):
        rc = cls.srv.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        if rc != 0:
            raise AssertionError("serve exited %d" % rc)

    def walk(self, token, first):
        """Send `first` (a request body for /v1/persons/read or /search),
        then read real people until refused: (requests answered, the time
        the first was sent)."""
        sent = time.time()
        route, body = first
        answered = 0
        st, _, o = self.srv.json("POST", route, body, token=token)
        self.assertEqual(st, 200, o)
        answered += 1
        for pid in self.ids[:5]:
            st, _, _ = self.srv.json("POST", "/v1/persons/read",
                                     {"id": pid, "purpose": HR}, token=token)
            if st != 200:
                self.assertEqual(st, 401)
                break
            answered += 1
        return answered, sent, o

    def test_one_touch_of_a_decoy_freezes_the_thief(self):
        self.assertGreaterEqual(len(self.decoys), 1)
        decoy = self.decoys[0]
        self.assertNotIn(decoy, self.ids)

        # Thief 1 reads the decoy by id: a record like any other.
        n1, sent, o = self.walk(self.v.tokens["clerk1"],
                                ("/v1/persons/read",
                                 {"id": decoy, "purpose": HR}))
        self.assertEqual(o["person"]["id"], decoy)
        self.assertIn("ssn", o["person"])
        found = []
        while not found and time.time() - sent < 5:
            found = [a for a in alerts(self.v) if a["principal"] == "clerk1"
                     and a["reason"] == "decoy.read"]
            seen = time.time()
        self.assertTrue(found, "no alert")
        self.assertEqual(n1, 1)

        # Thief 2 searches by the decoy's SSN.
        n2, _, o2 = self.walk(self.v.tokens["clerk2"],
                              ("/v1/persons/search",
                               {"ssn": o["person"]["ssn"], "purpose": HR}))
        self.assertEqual([m["id"] for m in o2["matches"]], [decoy])
        self.assertEqual(n2, 1)

        # The officer's view: both frozen by decoy.read, logged.
        _, _, u = self.srv.json("GET", "/v1/users", token=self.v.tokens["admin"],
                                want=200)
        frozen = {x["name"]: x.get("frozen_reason") for x in u["users"]
                  if x["frozen"]}
        self.assertEqual(frozen, {"clerk1": "decoy.read",
                                  "clerk2": "decoy.read"})
        FIGURES.append("drill e (decoy touched): frozen after %d read and "
                       "after %d search (target 1 each), alert seen %.1f ms "
                       "after the read was sent (target <= 1000 ms)"
                       % (n1, n2, (seen - sent) * 1000))


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    for f in FIGURES:
        print(f)
    if not FIGURES:
        print("drill e (decoy touched): FAILED")
    sys.exit(0 if result.wasSuccessful() else 1)
