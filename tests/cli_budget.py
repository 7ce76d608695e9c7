#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Read budgets through the CLI (docs/policy.md, "Read budgets"): each
command is a process of its own, so what is counted lives on disk.

A policy gives the hr-clerk role 3 people per hour and 4 searches per
hour. Each test has its own clerk, so the budgets do not mix.
"""
import http.server
import json
import os
import shutil
import socket
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from srcli import Vault, run  # noqa: E402
from srserver import Server  # noqa: E402

HR = ["--purpose", "hr-action"]
EXIT_DENIED = 25
EXIT_AUTH = 14
W = None


class World:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="sr-budget-")
        self.v = Vault(os.path.join(self.tmp, "vault"), expected_people=100)
        self.v.add("intake", "intake", service=True)
        self.v.add("so", "security-officer")
        self.v.add("aud", "auditor")
        pol = json.loads(self.v.sr(["policy", "show"], check=0).stdout)
        pol["roles"]["hr-clerk"]["budget"] = {
            "people_per_hour": 3, "people_per_day": 5, "searches_per_hour": 4}
        path = os.path.join(self.tmp, "policy.json")
        with open(path, "w") as f:
            json.dump(pol, f)
        self.v.sr(["policy", "set", path], check=0)
        people = run(["gen", "--count", "8", "--seed", "9"], check=0).stdout
        src = os.path.join(self.tmp, "people.jsonl")
        with open(src, "wb") as f:
            f.write(people)
        self.people = [json.loads(l) for l in people.splitlines()]
        self.v.sr(["import", src, "--purpose", "intake", "--quiet"],
                  who="intake", check=0)
        self.ids = []
        self.v.add("finder", "hr-clerk")
        for p in self.people:
            out = self.v.sr(["find", "--ssn", p["ssn"]] + HR, who="finder",
                            check=0).stdout
            self.ids.append(json.loads(out)["id"])
            if len(self.ids) % 3 == 0:  # stay within the finder's budget
                self.v.sr(["principal", "unfreeze", "finder", "--reason",
                           "setup"], who="so", check=0)


def setUpModule():
    global W
    W = World()


def tearDownModule():
    shutil.rmtree(W.tmp, ignore_errors=True)


class Budgets(unittest.TestCase):
    n = 0

    def clerk(self):
        Budgets.n += 1
        name = "clerk%d" % Budgets.n
        W.v.add(name, "hr-clerk")
        return name

    def get(self, who, pid):
        return W.v.sr(["get", pid] + HR, who=who)

    def assertDenied(self, p, rule):
        self.assertEqual(p.returncode, EXIT_DENIED, p.stderr)
        self.assertIn(("denied by rule %s:" % rule).encode(), p.stderr)
        self.assertEqual(p.stdout, b"")

    def test_the_fourth_person_in_an_hour_freezes_the_clerk(self):
        """Three people read (one of them twice: it costs nothing again),
        the fourth is denied, the clerk is frozen and every later command
        is refused; user list says why; the log has the denial."""
        who = self.clerk()
        for pid in W.ids[:3] + W.ids[:1]:
            self.assertEqual(self.get(who, pid).returncode, 0)
        self.assertDenied(self.get(who, W.ids[3]), "budget.people_per_hour")
        p = self.get(who, W.ids[0])
        self.assertEqual(p.returncode, EXIT_AUTH, p.stderr)
        self.assertEqual(p.stdout, b"")
        users = [json.loads(l) for l in
                 W.v.sr(["user", "list"], check=0).stdout.splitlines()]
        (me,) = [u for u in users if u["name"] == who]
        self.assertTrue(me["frozen"])
        self.assertEqual(me["frozen_reason"], "budget.people_per_hour")
        denied = W.v.entries(principal=who, denied=True)
        self.assertEqual([e["rule"] for e in denied],
                         ["budget.people_per_hour", "principal.frozen"])
        self.assertEqual(denied[0]["action"], "get")
        self.assertEqual(len(denied[0]["people"]), 1)
        with open(os.path.join(W.v.path, "alerts", "alerts.jsonl")) as f:
            alerts = [json.loads(l) for l in f]
        self.assertIn(("principal.frozen", who, "budget.people_per_hour",
                       denied[0]["index"]),
                      [(a["kind"], a["principal"], a["reason"],
                        a.get("entry")) for a in alerts])

    def test_the_alert_is_posted_to_the_webhook(self):
        """With $STRONGROOM_ALERT_WEBHOOK set, the freeze's alert line is
        POSTed there as JSON, the same bytes as in alerts.jsonl; a webhook
        that is down fails nothing (the alert is on disk and in syslog)."""
        got = []

        class Hook(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers["Content-Length"])
                got.append((self.headers["Content-Type"], self.rfile.read(n)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        srv = http.server.HTTPServer(("127.0.0.1", 0), Hook)
        t = threading.Thread(target=srv.serve_forever, daemon=True)
        t.start()
        url = "http://127.0.0.1:%d/alerts" % srv.server_address[1]
        who = self.clerk()
        try:
            for pid in W.ids[:3]:
                self.assertEqual(self.get(who, pid).returncode, 0)
            p = W.v.sr(["get", W.ids[3]] + HR, who=who,
                       env_extra={"STRONGROOM_ALERT_WEBHOOK": url})
            self.assertEqual(p.returncode, EXIT_DENIED, p.stderr)
        finally:
            srv.shutdown()
            srv.server_close()
        with open(os.path.join(W.v.path, "alerts", "alerts.jsonl"),
                  "rb") as f:
            lines = [l.rstrip(b"\n") for l in f if who.encode() in l]
        self.assertEqual(got, [("application/json", lines[-1])])
        self.assertEqual(json.loads(got[0][1])["reason"],
                         "budget.people_per_hour")
        # Down: a port nobody listens on.
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        dead = "http://127.0.0.1:%d/" % s.getsockname()[1]
        s.close()
        who = self.clerk()
        for pid in W.ids[:3]:
            self.assertEqual(self.get(who, pid).returncode, 0)
        p = W.v.sr(["get", W.ids[3]] + HR, who=who,
                   env_extra={"STRONGROOM_ALERT_WEBHOOK": dead})
        self.assertEqual(p.returncode, EXIT_DENIED, p.stderr)
        self.assertIn(b"budget.people_per_hour", p.stderr)

    def test_a_freeze_by_another_process_stops_the_server_at_once(self):
        """The server answers a clerk (and so knows it is not frozen);
        the clerk then runs over its budget in a CLI process of its own,
        which freezes it; the server's very next request for that clerk
        is refused (401), without a restart: a freeze in any process
        reaches every process holding the vault."""
        who = self.clerk()
        srv = Server(W.v)
        try:
            st, _, _ = srv.request("GET", "/v1/whoami",
                                   token=W.v.tokens[who])
            self.assertEqual(st, 200)
            for pid in W.ids[:3]:
                self.assertEqual(self.get(who, pid).returncode, 0)
            self.assertDenied(self.get(who, W.ids[3]),
                              "budget.people_per_hour")
            st, _, body = srv.request("GET", "/v1/whoami",
                                      token=W.v.tokens[who])
            self.assertEqual(st, 401, body)
        finally:
            self.assertEqual(srv.stop(), 0, srv.stderr())

    def test_people_who_do_not_exist_count_too(self):
        """A get is charged before the lookup: walking random ids spends
        the budget as fast as walking real ones, and the denial is the
        same for both."""
        who = self.clerk()
        for i in range(3):
            p = self.get(who, os.urandom(16).hex())
            self.assertNotEqual(p.returncode, 0)
            self.assertNotIn(b"budget", p.stderr)
        self.assertDenied(self.get(who, W.ids[0]), "budget.people_per_hour")

    def test_searches_have_their_own_budget(self):
        """Four searches that find nobody; the fifth is denied before it
        looks."""
        who = self.clerk()
        for i in range(4):
            p = W.v.sr(["find", "--ssn", "078-05-%04d" % (1120 + i)] + HR,
                       who=who)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stdout, b"")
        p = W.v.sr(["find", "--ssn", W.people[0]["ssn"]] + HR, who=who)
        self.assertDenied(p, "budget.searches_per_hour")

    def test_an_unfreeze_starts_the_budget_afresh(self):
        """After the officer's unfreeze (logged) the clerk reads three more
        people: six in all, past the day's 5, since both the hour and the
        day count from the unfreeze."""
        who = self.clerk()
        for pid in W.ids[:3]:
            self.assertEqual(self.get(who, pid).returncode, 0)
        self.assertDenied(self.get(who, W.ids[3]), "budget.people_per_hour")
        W.v.sr(["principal", "unfreeze", who, "--reason", "ticket-12"],
               who="so", check=0)
        for pid in W.ids[3:6]:
            self.assertEqual(self.get(who, pid).returncode, 0)
        (e,) = [e for e in W.v.entries(principal="so")
                if e["action"] == "principal.unfreeze"
                and ("principal %s," % who) in e["detail"]]
        self.assertEqual(e["detail"], "principal %s, reason ticket-12" % who)


if __name__ == "__main__":
    unittest.main(verbosity=2)
