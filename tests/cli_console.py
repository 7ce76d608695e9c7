#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The web console's server side (docs/console.md, src/server/console.c,
src/server/session.c), over plain HTTP on loopback:

  - the console's files: served at / and /console/NAME with a strict
    Content-Security-Policy (no inline script), nosniff, no framing, no
    referrer and no-store; nothing else under /console/;
  - the page itself holds no inline script or style, and every script it
    loads comes from /console/;
  - sessions: sign-in with a passphrase or a token sets an HttpOnly,
    Secure, SameSite=Strict cookie and answers a CSRF token; the cookie
    alone reads; a request that changes something needs the CSRF token
    too; a wrong or missing session is the one 401; sign-out ends the
    session and revokes the token the sign-in made (not one the user
    brought); an idle session ends.

Needs SR_CLI and SR_SOURCE_DIR in the environment (ctest sets them)."""
import html.parser
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from srcli import CLI, ON_PG, PASS, Vault, gen  # noqa: E402
from srserver import Server, check_problem  # noqa: E402

SOURCE_DIR = os.environ["SR_SOURCE_DIR"]
PW = "console passphrase for hr"
W = None


def add_user(v, name, role, passphrase):
    """A user who signs in with a passphrase (given on a pipe), and a
    token of theirs."""
    r, w = os.pipe()
    os.write(w, passphrase.encode() + b"\n")
    os.close(w)
    env = dict(os.environ, STRONGROOM_PASSPHRASE=PASS,
               STRONGROOM_TOKEN=v.tokens["admin"])
    subprocess.run([CLI, "user", "add", name, "--role", role,
                    "--vault", v.path, "--password-fd", str(r)],
                   env=env, pass_fds=(r,), check=True, capture_output=True)
    os.close(r)
    v.tokens[name] = v.new_token(name)


class World:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="sr-console-")
        self.v = Vault(os.path.join(self.tmp, "vault"), expected_people=100)
        add_user(self.v, "hr", "hr-clerk", PW)
        self.s = Server(self.v, settings={"session-idle": 60})


def setUpModule():
    global W
    W = World()


def tearDownModule():
    W.s.stop()
    shutil.rmtree(W.tmp, ignore_errors=True)


def cookie_of(headers):
    """The session id from a Set-Cookie header, and its attributes."""
    c = headers["set-cookie"]
    first, *attrs = [a.strip() for a in c.split(";")]
    name, _, value = first.partition("=")
    return name, value, attrs


class Page(html.parser.HTMLParser):
    """What the page holds: scripts (src or inline), styles, inline event
    handlers and style attributes."""

    def __init__(self):
        super().__init__()
        self.scripts, self.inline, self.styles, self.handlers = [], 0, [], []
        self.in_script = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for k in a:
            if k.startswith("on") or k == "style":
                self.handlers.append((tag, k))
        if tag == "script":
            self.in_script = True
            if "src" in a:
                self.scripts.append(a["src"])
        if tag == "link" and a.get("rel") == "stylesheet":
            self.styles.append(a["href"])
        if tag == "style":
            self.inline += 1

    def handle_endtag(self, tag):
        if tag == "script":
            self.in_script = False

    def handle_data(self, data):
        if self.in_script and data.strip():
            self.inline += 1


class Files(unittest.TestCase):
    def test_the_page_and_its_files_come_with_a_strict_policy(self):
        st, h, body = W.s.request("GET", "/")
        self.assertEqual(st, 200)
        self.assertTrue(h["content-type"].startswith("text/html"))
        csp = h["content-security-policy"]
        self.assertIn("script-src 'self'", csp)
        self.assertIn("default-src 'none'", csp)
        self.assertIn("frame-ancestors 'none'", csp)
        self.assertNotIn("unsafe-inline", csp)
        self.assertNotIn("unsafe-eval", csp)
        self.assertEqual(h["x-content-type-options"], "nosniff")
        self.assertEqual(h["x-frame-options"], "DENY")
        self.assertEqual(h["referrer-policy"], "no-referrer")
        self.assertEqual(h["cache-control"], "no-store")
        page = Page()
        page.feed(body.decode())
        self.assertEqual((page.inline, page.handlers), (0, []))
        self.assertTrue(page.scripts)
        for src in page.scripts + page.styles:
            self.assertTrue(src.startswith("/console/"), src)
            st, h2, data = W.s.request("GET", src)
            self.assertEqual(st, 200, src)
            self.assertEqual(h2["cache-control"], "no-store")
            self.assertIn("script-src 'self'", h2["content-security-policy"])
            self.assertTrue(data)
        # Each file served is the file in web/.
        for name in os.listdir(os.path.join(SOURCE_DIR, "web")):
            with open(os.path.join(SOURCE_DIR, "web", name), "rb") as f:
                self.assertEqual(W.s.request("GET", "/console/" + name)[2],
                                 f.read(), name)

    def test_nothing_else_is_served_under_console(self):
        for path in ("/console/", "/console/nope.js", "/console/../vault.db",
                     "/console/.hidden", "/console/a/b.js"):
            st, h, data = W.s.request("GET", path)
            check_problem(self, st, h, data, "not-found", 404)


class Sessions(unittest.TestCase):
    def open(self, body):
        st, h, data = W.s.request("POST", "/v1/session", body)
        self.assertEqual(st, 200, data)
        name, sid, attrs = cookie_of(h)
        self.assertEqual(name, "sr_session")
        for a in ("HttpOnly", "Secure", "SameSite=Strict", "Path=/"):
            self.assertIn(a, attrs)
        self.assertEqual(h["cache-control"], "no-store")
        o = json.loads(data)
        self.assertNotIn("token", o)
        self.assertNotIn(sid, data.decode())
        return sid, o

    def get(self, sid, path="/v1/whoami"):
        return W.s.request("GET", path,
                           headers={"Cookie": "sr_session=" + sid})

    def post(self, sid, path, body, csrf=None):
        h = {"Cookie": "sr_session=" + sid}
        if csrf is not None:
            h["X-CSRF-Token"] = csrf
        return W.s.request("POST", path, body, headers=h)

    def test_a_passphrase_sign_in_reads_with_the_cookie_alone(self):
        sid, o = self.open({"name": "hr", "passphrase": PW})
        self.assertEqual((o["principal"], o["role"]), ("hr", "hr-clerk"))
        self.assertEqual(o["idle_timeout"], 60)
        st, _, data = self.get(sid)
        self.assertEqual(st, 200)
        self.assertEqual(json.loads(data)["principal"], "hr")

    def test_a_change_needs_the_csrf_token(self):
        sid, o = self.open({"name": "hr", "passphrase": PW})
        body = {"purpose": "hr-action", "ssn": "123-45-6789"}
        # The token with its last character changed (to one it is not).
        near = o["csrf"][:-1] + ("B" if o["csrf"][-1] == "A" else "A")
        for csrf in (None, "", "x" * 43, near):
            st, h, data = self.post(sid, "/v1/persons/search", body, csrf)
            check_problem(self, st, h, data, "csrf", 403)
        st, _, data = self.post(sid, "/v1/persons/search", body, o["csrf"])
        self.assertEqual(st, 200, data)
        self.assertEqual(json.loads(data)["count"], 0)
        # Another session's CSRF token is not this one's.
        sid2, o2 = self.open({"name": "hr", "passphrase": PW})
        st, h, data = self.post(sid, "/v1/persons/search", body, o2["csrf"])
        check_problem(self, st, h, data, "csrf", 403)

    def test_a_wrong_or_bad_sign_in_and_an_unknown_session_are_the_one_401(self):
        for body in ({"name": "hr", "passphrase": "wrong"},
                     {"name": "nobody", "passphrase": PW},
                     {"token": "sr1_0123456789abcdef_" + "A" * 43}):
            st, h, data = W.s.request("POST", "/v1/session", body)
            check_problem(self, st, h, data, "unauthorized", 401)
            self.assertNotIn("set-cookie", h)
        for body in ({"name": "hr"}, {"token": "t", "name": "hr"}, {},
                     {"name": "hr", "passphrase": PW, "ttl": 5}):
            st, h, data = W.s.request("POST", "/v1/session", body)
            check_problem(self, st, h, data, "bad-request", 400)
        for sid in ("", "A" * 43, "../../etc", "x" * 200):
            st, h, data = self.get(sid)
            check_problem(self, st, h, data, "unauthorized", 401)

    def test_sign_out_ends_the_session_and_revokes_its_own_token(self):
        sid, o = self.open({"name": "hr", "passphrase": PW})
        tokens = [json.loads(l) for l in W.v.sr(
            ["token", "list"], check=0).stdout.splitlines()]
        live = {t["id"] for t in tokens if t["principal"] == "hr"
                and not t["revoked"]}
        st, h, _ = self.post(sid, "/v1/session/end", None)
        self.assertEqual(st, 403)  # no CSRF token: not even sign-out
        st, h, _ = self.post(sid, "/v1/session/end", None, o["csrf"])
        self.assertEqual(st, 204)
        name, value, attrs = cookie_of(h)
        self.assertEqual((name, value), ("sr_session", ""))
        self.assertIn("Max-Age=0", attrs)
        st, h, data = self.get(sid)
        check_problem(self, st, h, data, "unauthorized", 401)
        tokens = [json.loads(l) for l in W.v.sr(
            ["token", "list"], check=0).stdout.splitlines()]
        revoked = {t["id"] for t in tokens if t["revoked"]}
        self.assertEqual(len(live & revoked), 1)
        # A token brought by the user outlives the session it opened.
        sid, o = self.open({"token": W.v.tokens["hr"]})
        st, _, _ = self.post(sid, "/v1/session/end", None, o["csrf"])
        self.assertEqual(st, 204)
        st, _, _ = W.s.request("GET", "/v1/whoami", token=W.v.tokens["hr"])
        self.assertEqual(st, 200)

    def test_a_bearer_token_wins_over_a_cookie_and_needs_no_csrf(self):
        sid, _ = self.open({"name": "hr", "passphrase": PW})
        st, _, data = W.s.request(
            "POST", "/v1/persons/search",
            {"purpose": "hr-action", "ssn": "123-45-6789"},
            token=W.v.tokens["hr"], headers={"Cookie": "sr_session=" + sid})
        self.assertEqual(st, 200, data)


class ConsoleApi(unittest.TestCase):
    """The routes the console's pages read: /v1/caseload (each principal
    its own cases), /v1/alerts and /v1/principals (the freeze action
    only), /v1/audit/key (the log's key, as in log.vkey)."""

    @classmethod
    def setUpClass(cls):
        cls.v = Vault(os.path.join(W.tmp, "api"), expected_people=10)
        for name, role in (("inv", "investigator"), ("inv2", "investigator"),
                           ("so", "security-officer"), ("aud", "auditor")):
            cls.v.add(name, role)
        for case, who in (("C-1", "inv"), ("C-2", "inv2"), ("C-3", "inv")):
            cls.v.sr(["case", "open", case], check=0)
            cls.v.sr(["case", "assign", case, "--to", who], check=0)
        cls.v.sr(["principal", "freeze", "inv2", "--reason", "ticket-9"],
                 who="so", check=0)
        cls.s = Server(cls.v)

    @classmethod
    def tearDownClass(cls):
        cls.s.stop()

    def get(self, path, who):
        return self.s.json("GET", path, token=self.v.tokens[who])

    def test_a_caseload_is_the_callers_own(self):
        st, _, o = self.get("/v1/caseload", "inv")
        self.assertEqual(st, 200)
        self.assertEqual(sorted(c["case"] for c in o["cases"]), ["C-1", "C-3"])
        st, _, o = self.get("/v1/caseload", "aud")
        self.assertEqual((st, o["cases"]), (200, []))

    def test_alerts_and_principal_states_are_for_the_officer(self):
        st, _, o = self.get("/v1/alerts?limit=5", "so")
        self.assertEqual(st, 200)
        self.assertEqual([(a["kind"], a["principal"], a["reason"])
                          for a in o["alerts"]],
                         [("principal.frozen", "inv2", "ticket-9")])
        st, _, o = self.get("/v1/principals", "so")
        self.assertEqual(st, 200)
        by = {p["name"]: p for p in o["principals"]}
        self.assertTrue(by["inv2"]["frozen"])
        self.assertEqual(by["inv2"]["frozen_reason"], "ticket-9")
        self.assertFalse(by["inv"]["frozen"])
        self.assertEqual(by["inv"]["budget"]["people_per_hour"], 20)
        self.assertIsNone(by["aud"]["budget"])
        for who in ("inv", "aud"):
            for path in ("/v1/alerts", "/v1/principals"):
                st, h, data = self.s.request("GET", path,
                                             token=self.v.tokens[who])
                check_problem(self, st, h, data, "denied", 403)
        st, h, data = self.s.request("GET", "/v1/alerts?limit=0",
                                     token=self.v.tokens["so"])
        check_problem(self, st, h, data, "bad-request", 400)

    def test_no_api_reply_is_cached(self):
        for path, who in (("/v1/caseload", "inv"), ("/v1/alerts", "so"),
                          ("/v1/audit/key", "aud"), ("/v1/whoami", "aud")):
            st, h, _ = self.s.request("GET", path, token=self.v.tokens[who])
            self.assertEqual(h.get("cache-control"), "no-store", path)
        st, h, _ = self.s.request("POST", "/v1/audit/entries", {"limit": 1},
                                  token=self.v.tokens["aud"])
        self.assertEqual((st, h.get("cache-control")), (200, "no-store"))

    def test_the_log_key_is_log_vkey(self):
        st, _, o = self.get("/v1/audit/key", "aud")
        self.assertEqual(st, 200)
        with open(os.path.join(self.v.path, "log.vkey")) as f:
            self.assertEqual(o["vkey"], f.read().strip())


class Idle(unittest.TestCase):
    def test_an_idle_session_ends_and_a_used_one_does_not(self):
        v = Vault(os.path.join(W.tmp, "idle"), expected_people=10)
        add_user(v, "hr", "hr-clerk", PW)
        s = Server(v, settings={"session-idle": 2})
        try:
            sids = []
            for _ in range(2):
                st, h, data = s.request("POST", "/v1/session",
                                        {"name": "hr", "passphrase": PW})
                self.assertEqual(st, 200)
                sids.append(cookie_of(h)[1])
            busy, idle = sids
            # busy is used every half second; idle is left alone for
            # longer than two seconds (the server's clock decides).
            for _ in range(7):
                time.sleep(0.5)
                st, _, _ = s.request("GET", "/v1/whoami", headers={
                    "Cookie": "sr_session=" + busy})
                self.assertEqual(st, 200)
            st, h, data = s.request("GET", "/v1/whoami", headers={
                "Cookie": "sr_session=" + idle})
            check_problem(self, st, h, data, "unauthorized", 401)
        finally:
            s.stop()


BROWSER_DIR = os.path.join(SOURCE_DIR, "tests", "browser")
CHROMIUM = os.environ.get("SR_CHROMIUM", "/usr/bin/chromium")


def browser_missing():
    """Why the browser test cannot run here, or None. CI (.ci/run) installs
    chromium, node and the npm packages and sets SR_REQUIRE_BROWSER, so
    there a missing piece fails the test instead of skipping it."""
    if not os.path.exists(CHROMIUM):
        return "no chromium at " + CHROMIUM
    if shutil.which("node") is None:
        return "no node"
    if not os.path.isdir(os.path.join(BROWSER_DIR, "node_modules",
                                      "playwright-core")):
        return "no tests/browser/node_modules (npm ci --prefix tests/browser)"
    return None


class Browser(unittest.TestCase):
    """tests/browser/console.mjs in Debian's chromium, headless: sign in,
    a purpose before anything, search, reveal one class at a time with
    its receipt, the SSN masked until shown, a denial with its rule, the
    CSRF check, sign out; axe-core on every page state; nothing in the
    address, the title or the history."""

    @unittest.skipIf(ON_PG, "the browser's walk is the same on either "
                     "store: the sessions and API it uses are tested on both")
    def test_the_console_in_a_browser(self):
        why = browser_missing()
        if why is not None:
            if os.environ.get("SR_REQUIRE_BROWSER"):
                self.fail(why)
            self.skipTest(why)
        v = Vault(os.path.join(W.tmp, "browser"), expected_people=100)
        v.add("intake", "intake", service=True)
        add_user(v, "inv", "investigator", "an investigator's passphrase")
        people = gen(4, 77)
        ids = []
        for p in people:
            out = v.sr(["put", "--purpose", "intake"], who="intake",
                       stdin=json.dumps(p).encode(), check=0).stdout
            ids.append(out.decode().strip())
        for case, who in (("C-7", "inv"), ("C-8", None)):
            v.sr(["case", "open", case], check=0)
            if who:
                v.sr(["case", "assign", case, "--to", who], check=0)
        v.sr(["case", "add", "C-7", "--person", ids[0]], check=0)
        add_user(v, "so", "security-officer", "an officer's passphrase")
        add_user(v, "aud", "auditor", "an auditor's passphrase")
        decoy = json.loads(v.sr(["decoy", "list"], who="so",
                                check=0).stdout.splitlines()[0])["id"]
        v.sr(["case", "add", "C-7", "--person", decoy], check=0)
        # The decoy's SSN, for the browser's investigator to search for:
        # read by a probe on the same case (who is frozen for it).
        v.add("probe", "investigator")
        v.sr(["case", "assign", "C-7", "--to", "probe"], check=0)
        decoy_ssn = json.loads(v.sr(
            ["get", decoy, "--purpose", "initial-investigation", "--case",
             "C-7"], who="probe", check=0).stdout)["ssn"]
        approval = v.sr(["approval", "request", "share", "--person", ids[0],
                         "--fields", "name", "--purpose",
                         "initial-investigation", "--case", "C-7"],
                        who="inv", check=0).stdout.decode().strip()
        world = {
            "inv": {"name": "inv", "pass": "an investigator's passphrase",
                    "token": v.tokens["inv"]},
            "so": {"name": "so", "pass": "an officer's passphrase"},
            "aud": {"name": "aud", "pass": "an auditor's passphrase"},
            "decoy_ssn": decoy_ssn, "approval": approval,
            "person": {"ssn": people[0]["ssn"],
                       "family": people[0]["name"]["family"],
                       "dob": people[0]["birth"]["date"]},
            "case": "C-7", "other_case": "C-8"}
        s = Server(v)
        try:
            env = dict(os.environ, SR_URL="http://127.0.0.1:%d" % s.port,
                       SR_WORLD=json.dumps(world), SR_CHROMIUM=CHROMIUM)
            p = subprocess.run(["node", os.path.join(BROWSER_DIR,
                                                     "console.mjs")],
                               env=env, capture_output=True, timeout=300)
            out = p.stdout.decode(errors="replace")
            self.assertEqual(p.returncode, 0, out + p.stderr.decode(
                errors="replace")[-3000:])
            self.assertIn("ok - done", out)
        finally:
            self.assertEqual(s.stop(), 0)
        # Every read is in the log, with its purpose and case: the two
        # reveals in the browser (and the probe's read of the decoy).
        reads = [e for e in v.entries() if e["action"] == "get"]
        self.assertEqual(sorted((e["principal"], e["classes"][0])
                                for e in reads if e["principal"] == "inv"),
                         [("inv", "identity"), ("inv", "name")])
        # The search that found the decoy froze the investigator.
        (fz,) = [e for e in v.entries() if e["action"] == "principal.freeze"
                 and e["principal"] == "inv"]
        self.assertEqual(fz["rule"], "decoy.read")
        # The approval, by the officer.
        (ap,) = [e for e in v.entries() if e["action"] == "approval.approve"]
        self.assertEqual(ap["principal"], "so")
        self.assertIn(approval, ap["detail"])
        self.assertTrue(all(e["purpose"] == "initial-investigation" and
                            e["case"] == "C-7" for e in reads))
        # The unfreeze, with the officer's reason.
        (u,) = [e for e in v.entries() if e["action"] == "principal.unfreeze"]
        self.assertEqual((u["principal"], u["detail"].count("ticket-4711")),
                         ("so", 1))


if __name__ == "__main__":
    unittest.main(verbosity=2)
