#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The HTTP API of `strongroom serve` (docs/server.md, docs/openapi.json),
driven over loopback through the real server. One test per behaviour; each
fails if the behaviour breaks:

  - every route's happy path, its reply checked against the schema that
    docs/openapi.json gives for it;
  - every reply that reveals record data names its audit entry, which is
    in the log with the right principal and action, and is not cached;
  - every authentication failure is the same 401 (and logged, but for a
    request with no credential); a token scoped too narrowly is a 403;
  - every problem the API answers to ordinary misuse has its type, status
    and detail, and never echoes an SSN, a name or a birth date; an
    investigator cannot tell whether a person off their caseload exists;
  - the public log: checkpoints, tiles and entry bundles with their cache
    headers, proofs that verify in the independent RFC 9162 code of
    srcli.py, and no way out of the log directory;
  - the OpenAPI document and the route table describe the same routes;
  - the access log has one line per request and no identifier.

One vault and one plain-HTTP server (--insecure-loopback) for the whole
module: the tests add what they need under names of their own. Needs
SR_CLI in the environment (ctest sets it) and the cryptography package
for the signature checks."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from srcli import (CLI, ON_PG, Vault, b64d, decode_entry, leaf_hash,
                   parse_bundle, parse_checkpoint, run, tile_index_path,
                   verify_consistency, verify_inclusion,
                   verify_note_signature)
from srserver import Server, check_problem

SOURCE_DIR = os.environ.get(
    "SR_SOURCE_DIR",
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HR = "hr-action"
INV = "initial-investigation"
MAX_BODY = 16384  # every person gen makes is under 5 KiB
IMMUTABLE = "public, max-age=31536000, immutable"
PARTIAL = "public, max-age=60"


def gen_people(count, seed):
    out = subprocess.run([CLI, "gen", "--count", str(count), "--seed",
                          str(seed)], capture_output=True, check=True).stdout
    return [json.loads(l) for l in out.splitlines()]


# ---- a small JSON Schema check (the keywords docs/openapi.json uses) --------


def resolve(doc, node):
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), ref
        node = doc
        for part in ref[2:].split("/"):
            node = node[part]
    return node


_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool,
          "null": type(None)}


def _type_ok(t, v):
    if t == "integer":
        return isinstance(v, int) and not isinstance(v, bool)
    if t == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    return isinstance(v, _TYPES[t])


def schema_errors(doc, schema, v, where="$"):
    """What is wrong with value v under schema: a list of texts."""
    s = resolve(doc, schema)
    errs = []
    if "type" in s:
        types = s["type"] if isinstance(s["type"], list) else [s["type"]]
        if not any(_type_ok(t, v) for t in types):
            return ["%s: %r is not %s" % (where, v, s["type"])]
    if "const" in s and v != s["const"]:
        errs.append("%s: %r is not %r" % (where, v, s["const"]))
    if "enum" in s and v not in s["enum"]:
        errs.append("%s: %r not in %r" % (where, v, s["enum"]))
    if isinstance(v, str):
        if "pattern" in s and not re.search(s["pattern"], v):
            errs.append("%s: %r does not match %s" % (where, v, s["pattern"]))
        if len(v) < s.get("minLength", 0) or len(v) > s.get("maxLength",
                                                              len(v)):
            errs.append("%s: length %d" % (where, len(v)))
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        if "minimum" in s and v < s["minimum"]:
            errs.append("%s: %r < %r" % (where, v, s["minimum"]))
        if "maximum" in s and v > s["maximum"]:
            errs.append("%s: %r > %r" % (where, v, s["maximum"]))
    if isinstance(v, dict):
        for k in s.get("required", []):
            if k not in v:
                errs.append("%s: %s is required" % (where, k))
        props = s.get("properties", {})
        extra = s.get("additionalProperties", True)
        for k, x in v.items():
            if k in props:
                errs += schema_errors(doc, props[k], x, where + "." + k)
            elif extra is False:
                errs.append("%s: %s is not allowed" % (where, k))
            elif isinstance(extra, dict):
                errs += schema_errors(doc, extra, x, where + "." + k)
        if len(v) > s.get("maxProperties", len(v)):
            errs.append("%s: too many members" % where)
    if isinstance(v, list):
        if "items" in s:
            for i, x in enumerate(v):
                errs += schema_errors(doc, s["items"], x,
                                      "%s[%d]" % (where, i))
        if len(v) > s.get("maxItems", len(v)):
            errs.append("%s: too many items" % where)
        if s.get("uniqueItems") and len({json.dumps(x, sort_keys=True)
                                         for x in v}) != len(v):
            errs.append("%s: items not unique" % where)
    return errs


def path_template(doc, path):
    """The OpenAPI path a concrete path (without its query) falls under."""
    for tmpl in doc["paths"]:
        rx = "^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(tmpl)) + "$"
        if re.match(rx, path):
            return tmpl
    return None


# ---- the world --------------------------------------------------------------


class World:
    """One vault and one server: an intake service account, an HR clerk,
    two investigators, an auditor; people A, B and C stored through the API;
    case C-1 assigned to inv and holding A. Every identifier of every
    generated person (stored or not) is kept, for the leak checks."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="sr-api-")
        self.v = Vault(os.path.join(self.tmp, "vault"), expected_people=200)

        def records_role(pol):
            pol["roles"]["records"] = {
                "actions": ["export"], "classes": ["identity", "name"],
                "purposes": ["retention"]}
        self.v.edit_policy(records_role)
        for name, role, service in (("intake", "intake", True),
                                    ("rec", "records", False),
                                    ("hr", "hr-clerk", False),
                                    ("inv", "investigator", False),
                                    ("inv2", "investigator", False),
                                    ("aud", "auditor", False),
                                    ("so", "security-officer", False),
                                    ("temp", "hr-clerk", False)):
            self.v.add(name, role, service=service)
        self.access_log = os.path.join(self.tmp, "access.log")
        self.srv = Server(self.v, settings={"max-body": MAX_BODY},
                          access_log=self.access_log)
        with open(os.path.join(SOURCE_DIR, "docs", "openapi.json")) as f:
            self.openapi = json.load(f)
        # 0-2 stored now; 3 create; 4-6 import; 7 and up never stored.
        self.people = gen_people(16, 23)
        self.a, self.b, self.c = self.people[:3]
        self.ids = {}
        for key, p in zip("abc", self.people):
            st, _, o = self.srv.json("POST", "/v1/persons",
                                     {"purpose": "intake", "person": p},
                                     token=self.v.tokens["intake"], want=201)
            self.ids[key] = o["id"]
        admin = self.v.tokens["admin"]
        self.srv.json("POST", "/v1/cases", {"case": "C-1"}, token=admin,
                      want=201)
        self.srv.json("POST", "/v1/cases/C-1/assign", {"principal": "inv"},
                      token=admin, want=200)
        self.srv.json("POST", "/v1/cases/C-1/people", {"id": self.ids["a"]},
                      token=admin, want=200)
        # Stored nowhere: 128 random bits.
        self.nobody = os.urandom(16).hex()

    def identifiers(self, p):
        """The strings of p that identify a person: SSN, names, birth
        date (and place)."""
        n = p["name"]
        return [s for s in (p["ssn"], n.get("family"), n.get("given"),
                            p["birth"]["date"]) if s]

    def all_identifiers(self):
        out = []
        for p in self.people:
            out += self.identifiers(p)
        return out


W = None


def setUpModule():
    global W
    W = World()


def tearDownModule():
    if W is None:
        return
    rc = W.srv.stop()
    shutil.rmtree(W.tmp, ignore_errors=True)
    if rc != 0:
        raise AssertionError("serve exited %d: %s" % (rc, W.srv.stderr()))


class ApiCase(unittest.TestCase):
    maxDiff = None

    def call(self, method, path, body=None, who=None, token=None, want=None,
             **kw):
        """One request as principal `who` (or with `token`); returns
        (status, headers, body bytes)."""
        if token is None and who is not None:
            token = W.v.tokens[who]
        st, h, data = W.srv.request(method, path, body, token, **kw)
        if want is not None:
            self.assertEqual(st, want, "%s %s: %s" % (method, path,
                                                      data[:1000]))
        return st, h, data

    def ok(self, method, path, body=None, who=None, want=200, **kw):
        """A request that must succeed with `want`; its JSON reply is
        checked against the schema docs/openapi.json gives for it.
        Returns (reply, headers)."""
        st, h, data = self.call(method, path, body, who, want=want, **kw)
        self.assertTrue(h.get("content-type", "").startswith(
            "application/json"), h)
        o = json.loads(data)
        self.assertSchema(method, path, st, o)
        return o, h

    def assertSchema(self, method, path, status, o):
        doc = W.openapi
        tmpl = path_template(doc, path.split("?")[0])
        self.assertIsNotNone(tmpl, path)
        op = doc["paths"][tmpl][method.lower()]
        resp = resolve(doc, op["responses"][str(status)])
        schema = resp["content"]["application/json"]["schema"]
        errs = schema_errors(doc, schema, o)
        self.assertEqual(errs, [], "%s %s: the reply does not match the "
                         "OpenAPI document" % (method, path))

    def assertProblem(self, resp, slug, status, leaks=()):
        """resp is an RFC 9457 problem of that slug and status, holding no
        identifier of any generated person nor any of `leaks`."""
        st, h, data = resp
        self.assertEqual(st, status, data[:1000])
        p = check_problem(self, st, h, data, slug)
        self.assertNoIdentifiers(data, leaks)
        return p

    def assertNoIdentifiers(self, data, extra=()):
        text = data.decode("utf-8", "replace") if isinstance(
            data, bytes) else data
        for s in list(W.all_identifiers()) + list(extra):
            self.assertNotIn(s, text)

    def entry(self, index):
        """Audit entry `index`, as the auditor reads it over the API."""
        o, _ = self.ok("POST", "/v1/audit/entries",
                       {"from": index, "limit": 1}, who="aud")
        self.assertEqual(len(o["entries"]), 1, o)
        e = o["entries"][0]
        self.assertEqual(e["index"], index)
        return e

    def assertLogged(self, reply, principal, action, outcome="allowed"):
        """reply names its audit entry, and that entry is in the log."""
        self.assertIsInstance(reply.get("entry"), int, reply)
        e = self.entry(reply["entry"])
        self.assertEqual((e["principal"], e["action"], e["outcome"]),
                         (principal, action, outcome), e)
        return e


# ---- the public routes ------------------------------------------------------


class PublicRoutes(ApiCase):
    def test_healthz_and_readyz_answer_without_a_token(self):
        """GET /healthz is {"status":"ok"}, /readyz {"status":"ready"}."""
        o, _ = self.ok("GET", "/healthz")
        self.assertEqual(o, {"status": "ok"})
        o, _ = self.ok("GET", "/readyz")
        self.assertEqual(o, {"status": "ready"})

    def test_metrics_count_requests_and_audit_appends(self):
        """/metrics is Prometheus text with the request counter by route
        and status and the audit append histogram."""
        self.call("GET", "/v1/users", who="admin", want=200)
        st, h, data = self.call("GET", "/metrics", want=200)
        self.assertTrue(h["content-type"].startswith(
            "text/plain; version=0.0.4"), h)
        text = data.decode()
        self.assertRegex(text, r'(?m)^strongroom_http_requests_total\{route='
                         r'"/v1/users",status="200"\} [1-9]\d*$')
        self.assertRegex(text, r'(?m)^strongroom_audit_append_seconds_bucket'
                         r'\{le="\+Inf"\} [1-9]\d*$')
        self.assertRegex(text, r'(?m)^strongroom_audit_append_seconds_bucket'
                         r'\{le="[0-9.e-]+"\} \d+$')

    def test_openapi_json_is_the_document_in_docs(self):
        """/openapi.json parses, is OpenAPI 3.1.0, and is docs/openapi.json."""
        o, h = self.ok("GET", "/openapi.json")
        self.assertEqual(o["openapi"], "3.1.0")
        self.assertEqual(o, W.openapi)

    def test_log_checkpoint_is_signed_by_the_log_key_and_not_cached(self):
        """/log/checkpoint verifies against <vault>/log.vkey; no-cache."""
        st, h, data = self.call("GET", "/log/checkpoint", want=200)
        self.assertEqual(h["cache-control"], "no-cache")
        self.assertTrue(h["content-type"].startswith("text/plain"), h)
        cp = parse_checkpoint(data.decode())
        with open(os.path.join(W.v.path, "log.vkey")) as f:
            self.assertTrue(verify_note_signature(cp, f.read()))
        self.assertGreater(cp["size"], 0)

    def wait_checkpoint(self, size):
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            _, _, data = self.call("GET", "/log/checkpoint", want=200)
            cp = parse_checkpoint(data.decode())
            if cp["size"] >= size:
                return cp
            time.sleep(0.05)
        self.fail("no checkpoint of %d entries published" % size)

    def test_full_and_partial_tiles_are_served_with_their_cache_headers(self):
        """Once the log passes 256 entries, the full level-0 tile and entry
        bundle 000 are immutable; the partial ones (.p/W) of the published
        size are cached 60 s; the bundle's entries hash to the tile."""
        conn = W.srv.conn()
        for _ in range(260):  # each is an entry (user.list)
            st, _, _ = W.srv.request("GET", "/v1/users",
                                     token=W.v.tokens["admin"], conn=conn)
            self.assertEqual(st, 200)
        conn.close()
        cp = self.wait_checkpoint(257)
        size = cp["size"]
        for path in ("/log/tile/0/000", "/log/tile/entries/000"):
            st, h, data = self.call("GET", path, want=200)
            self.assertEqual(h["cache-control"], IMMUTABLE, path)
            self.assertEqual(h["content-type"], "application/octet-stream")
            if "entries" in path:
                bundle = [e for _, e in parse_bundle(data)]
            else:
                tile = data
        self.assertEqual(len(bundle), 256)
        self.assertEqual(b"".join(leaf_hash(e) for e in bundle), tile)
        last, w = divmod(size, 256)
        if w == 0:  # no partial tile at this size: one more entry
            self.call("GET", "/v1/users", who="admin", want=200)
            size = self.wait_checkpoint(size + 1)["size"]
            last, w = divmod(size, 256)
        for path in ("/log/tile/0/%s.p/%d" % (tile_index_path(last), w),
                     "/log/tile/entries/%s.p/%d" % (tile_index_path(last),
                                                    w)):
            st, h, data = self.call("GET", path, want=200)
            self.assertEqual(h["cache-control"], PARTIAL, path)
        self.assertEqual(len(parse_bundle(data)), w)

    def test_history_checkpoints_are_immutable(self):
        """/log/history/<size> is an earlier signed checkpoint, immutable."""
        sizes = sorted(int(n) for n in os.listdir(
            os.path.join(W.v.path, "log", "history")))
        st, h, data = self.call("GET", "/log/history/%d" % sizes[0],
                                want=200)
        self.assertEqual(h["cache-control"], IMMUTABLE)
        cp = parse_checkpoint(data.decode())
        self.assertEqual(cp["size"], sizes[0])
        with open(os.path.join(W.v.path, "log.vkey")) as f:
            self.assertTrue(verify_note_signature(cp, f.read()))

    def test_no_path_leads_out_of_the_log_directory(self):
        """Traversal (plain or percent-encoded), dot segments, and names
        that are not log files are 404; so is the vault key by any path."""
        for path in ("/log/../vault.key", "/log/tile/../../vault.key",
                     "/log/%2e%2e/vault.key", "/log/tile/%2e%2e/%2e%2e/"
                     "vault.key", "/log/./checkpoint", "/log/tile/./0/000",
                     "/log/vault.key", "/log/../log.vkey", "/log/",
                     "/log/tile//0/000", "/log/Checkpoint",
                     "/log/tile/entries/../../../vault.key",
                     "/log/history/..", "/log/tile/0/000.p/../../../.."):
            st, h, data = self.call("GET", path)
            self.assertEqual(st, 404, path)
            check_problem(self, st, h, data, "not-found")


# ---- principals, tokens, sign-in --------------------------------------------


class Principals(ApiCase):
    def test_a_user_with_a_passphrase_signs_in(self):
        """POST /v1/users with a passphrase, then POST /v1/login returns a
        token (not cached) that authenticates as that user."""
        o, _ = self.ok("POST", "/v1/users",
                       {"name": "alice", "role": "hr-clerk",
                        "passphrase": "alice's long passphrase"},
                       who="admin", want=201)
        self.assertEqual((o["name"], o["role"]), ("alice", "hr-clerk"))
        o, h = self.ok("POST", "/v1/login",
                       {"name": "alice",
                        "passphrase": "alice's long passphrase", "ttl": 600})
        self.assertEqual(h.get("cache-control"), "no-store")
        self.assertEqual((o["principal"], o["role"]), ("alice", "hr-clerk"))
        me, _ = self.ok("GET", "/v1/whoami", token=o["token"])
        self.assertEqual(me, {"principal": "alice", "role": "hr-clerk"})

    def test_whoami_names_the_caller_and_role(self):
        """GET /v1/whoami is the token's principal and role."""
        for who, role in (("admin", "admin"), ("hr", "hr-clerk"),
                          ("aud", "auditor"), ("intake", "intake")):
            o, _ = self.ok("GET", "/v1/whoami", who=who)
            self.assertEqual(o, {"principal": who, "role": role})

    def test_stats_are_counts_only(self):
        """GET /v1/stats: counts and sizes, at least the three people
        stored at the start, and no identifier."""
        st, h, data = self.call("GET", "/v1/stats", who="admin", want=200)
        o = json.loads(data)
        self.assertSchema("GET", "/v1/stats", 200, o)
        self.assertGreaterEqual(o["people"], 3)
        for k, val in o.items():
            if k != "vault_id":
                self.assertIsInstance(val, int, k)
        self.assertNoIdentifiers(data, W.ids.values())

    def test_users_are_listed_added_and_disabled(self):
        """GET /v1/users lists a new service account; POST
        /v1/users/{name}/disable disables it and the list shows it."""
        o, _ = self.ok("POST", "/v1/users",
                       {"name": "feeder", "role": "intake", "service": True},
                       who="admin", want=201)
        self.assertEqual((o["name"], o["role"]), ("feeder", "intake"))
        users, _ = self.ok("GET", "/v1/users", who="admin")
        (u,) = [u for u in users["users"] if u["name"] == "feeder"]
        self.assertEqual((u["role"], u["kind"], u["disabled"]),
                         ("intake", "service", False))
        o, _ = self.ok("POST", "/v1/tokens", {"principal": "feeder"},
                       who="admin", want=201)
        token = o["token"]
        self.call("GET", "/v1/whoami", token=token, want=200)
        o, _ = self.ok("POST", "/v1/users/feeder/disable", who="admin")
        self.assertEqual(o, {"name": "feeder", "disabled": True})
        # Its token, checked (and remembered) a moment ago, stops at once.
        self.call("GET", "/v1/whoami", token=token, want=401)
        users, _ = self.ok("GET", "/v1/users", who="admin")
        (u,) = [u for u in users["users"] if u["name"] == "feeder"]
        self.assertTrue(u["disabled"])

    def test_a_security_officer_freezes_and_unfreezes_a_principal(self):
        """POST /v1/principals/{name}/freeze (the security officer's): the
        principal's token, just used, is refused on the next request, the
        user list and /metrics show it frozen, both changes are logged
        with their reason; the administrator may not unfreeze; after
        /unfreeze the same token works again. A reason that is not a
        name is refused before anything is logged."""
        self.ok("GET", "/v1/whoami", who="temp")
        st, h, data = self.call("POST", "/v1/principals/temp/freeze",
                                {"reason": "123-45-6789"}, who="so",
                                want=422)
        self.assertNotIn(b"123-45-6789", data)
        o, _ = self.ok("POST", "/v1/principals/temp/freeze",
                       {"reason": "ticket-4711"}, who="so")
        self.assertEqual(o, {"name": "temp", "frozen": True})
        self.call("GET", "/v1/whoami", who="temp", want=401)
        users, _ = self.ok("GET", "/v1/users", who="admin")
        (u,) = [u for u in users["users"] if u["name"] == "temp"]
        self.assertTrue(u["frozen"])
        m = self.call("GET", "/metrics", want=200)[2].decode()
        self.assertRegex(m, r"(?m)^strongroom_principals_frozen [1-9]")
        st, h, data = self.call("POST", "/v1/principals/temp/unfreeze",
                                {"reason": "false-alarm"}, who="admin")
        check_problem(self, st, h, data, "denied", 403)
        self.call("GET", "/v1/whoami", who="temp", want=401)
        o, _ = self.ok("POST", "/v1/principals/temp/unfreeze",
                       {"reason": "false-alarm"}, who="so")
        self.assertEqual(o, {"name": "temp", "frozen": False})
        self.ok("GET", "/v1/whoami", who="temp")
        entries, _ = self.ok("POST", "/v1/audit/entries",
                             {"principal": "so"}, who="aud")
        details = [(e["action"], e.get("detail")) for e in entries["entries"]
                   if e["action"].startswith("principal.")]
        self.assertIn(("principal.freeze", "principal temp, reason ticket-4711"),
                      details)
        self.assertIn(("principal.unfreeze",
                       "principal temp, reason false-alarm"), details)
        denied, _ = self.ok("POST", "/v1/audit/entries",
                            {"principal": "temp", "denied": True}, who="aud")
        self.assertIn("principal.frozen",
                      [e.get("rule") for e in denied["entries"]])
        # Each change raised an alert: a synced line in the alert file,
        # naming its audit entry, and a count in /metrics.
        with open(os.path.join(W.v.path, "alerts", "alerts.jsonl")) as f:
            alerts = [json.loads(x) for x in f]
        mine = [(a["kind"], a["principal"], a["by"], a["reason"])
                for a in alerts if a["principal"] == "temp"]
        self.assertEqual(mine, [("principal.frozen", "temp", "so",
                                 "ticket-4711"),
                                ("principal.unfrozen", "temp", "so",
                                 "false-alarm")])
        by_entry = {e["index"]: e for e in entries["entries"]}
        for a in alerts:
            if a["principal"] == "temp":
                self.assertEqual(by_entry[a["entry"]]["action"],
                                 "principal." + a["kind"].split(".")[1]
                                 .replace("frozen", "freeze")
                                 .replace("unfreeze", "unfreeze"))
        m = self.call("GET", "/metrics", want=200)[2].decode()
        self.assertRegex(m, r'strongroom_alerts_total\{kind="principal'
                            r'.frozen"\} [1-9]')

    def test_tokens_are_listed_created_and_revoked(self):
        """POST /v1/tokens makes a scoped token (not cached); GET
        /v1/tokens lists it by id and scope, never its secret; POST
        /v1/tokens/{id}/revoke revokes it and the list shows it."""
        o, h = self.ok("POST", "/v1/tokens",
                       {"principal": "hr", "ttl": 3600, "scope": "get,find"},
                       who="admin", want=201)
        self.assertEqual(h.get("cache-control"), "no-store")
        tid, secret = o["id"], o["token"].split("_", 2)[2]
        self.assertTrue(o["token"].startswith("sr1_%s_" % tid))
        st, h, data = self.call("GET", "/v1/tokens", who="admin", want=200)
        self.assertNotIn(secret.encode(), data)
        lst = json.loads(data)
        self.assertSchema("GET", "/v1/tokens", 200, lst)
        (t,) = [t for t in lst["tokens"] if t["id"] == tid]
        self.assertEqual((t["principal"], sorted(t["scope"]), t["revoked"]),
                         ("hr", ["find", "get"], False))
        self.assertAlmostEqual(t["expires"] - t["created"], 3600, delta=2)
        # In use (the server remembers tokens it checked), then revoked:
        # the very next request with it fails.
        for _ in range(3):
            self.call("GET", "/v1/whoami", token=o["token"], want=200)
        token = o["token"]
        o, _ = self.ok("POST", "/v1/tokens/%s/revoke" % tid, who="admin")
        self.assertEqual(o, {"id": tid, "revoked": True})
        self.call("GET", "/v1/whoami", token=token, want=401)
        self.call("POST", "/v1/persons/search", {"purpose": HR,
                  "ssn": W.people[0]["ssn"]}, token=token, want=401)
        lst, _ = self.ok("GET", "/v1/tokens", who="admin")
        (t,) = [t for t in lst["tokens"] if t["id"] == tid]
        self.assertTrue(t["revoked"])


# ---- people -----------------------------------------------------------------


class Persons(ApiCase):
    def test_create_returns_the_id_and_its_put_entry(self):
        """POST /v1/persons: 201 {"id","entry"}; the entry is a put by the
        intake account, in the log."""
        o, _ = self.ok("POST", "/v1/persons",
                       {"purpose": "intake", "person": W.people[3]},
                       who="intake", want=201)
        self.assertRegex(o["id"], "^[0-9a-f]{32}$")
        e = self.assertLogged(o, "intake", "put")
        self.assertEqual(e["purpose"], "intake")

    def test_read_gives_the_classes_asked_for_logged_and_not_cached(self):
        """POST /v1/persons/read with classes: exactly those classes'
        members; the reply names its get entry, is no-store."""
        o, h = self.ok("POST", "/v1/persons/read",
                       {"id": W.ids["a"], "purpose": HR,
                        "classes": ["name"]}, who="hr")
        self.assertEqual(h.get("cache-control"), "no-store")
        self.assertEqual(o["person"], {"id": W.ids["a"], "name": W.a["name"]})
        e = self.assertLogged(o, "hr", "get")
        self.assertEqual((e["purpose"], e["classes"], len(e["people"])),
                         (HR, ["name"], 1))
        o, h = self.ok("POST", "/v1/persons/read",
                       {"id": W.ids["a"], "purpose": HR,
                        "classes": ["identity", "name"]}, who="hr")
        self.assertEqual(h.get("cache-control"), "no-store")
        p = o["person"]
        self.assertEqual((p["ssn"], p["birth"], p["name"]),
                         (W.a["ssn"], W.a["birth"], W.a["name"]))
        self.assertNotIn("addresses", p)
        self.assertLogged(o, "hr", "get")

    def test_read_without_classes_gives_the_role_s_classes(self):
        """An HR clerk's read without classes has the HR members and no
        investigation or biometric data."""
        o, _ = self.ok("POST", "/v1/persons/read",
                       {"id": W.ids["b"], "purpose": HR}, who="hr")
        p = o["person"]
        self.assertEqual(p["ssn"], W.b["ssn"])
        self.assertNotIn("investigations", p)
        self.assertNotIn("fingerprints", p)
        self.assertLogged(o, "hr", "get")

    def test_search_by_ssn_is_logged_and_not_cached(self):
        """POST /v1/persons/search by SSN: the one match with its name;
        the reply names its find.ssn entry; no-store."""
        o, h = self.ok("POST", "/v1/persons/search",
                       {"purpose": HR, "ssn": W.b["ssn"]}, who="hr")
        self.assertEqual(h.get("cache-control"), "no-store")
        self.assertEqual(o["count"], 1)
        self.assertEqual(o["matches"], [{"id": W.ids["b"],
                                         "name": W.b["name"]}])
        e = self.assertLogged(o, "hr", "find.ssn")
        self.assertEqual(len(e["people"]), 1)

    def test_search_by_family_name_and_birth_date_is_logged(self):
        """POST /v1/persons/search by family_name and dob finds the
        person; the reply names its find.name entry; no-store."""
        o, h = self.ok("POST", "/v1/persons/search",
                       {"purpose": HR, "family_name": W.c["name"]["family"],
                        "dob": W.c["birth"]["date"]}, who="hr")
        self.assertEqual(h.get("cache-control"), "no-store")
        self.assertIn(W.ids["c"], [m["id"] for m in o["matches"]])
        self.assertEqual(o["count"], len(o["matches"]))
        self.assertLogged(o, "hr", "find.name")

    def test_search_that_finds_no_one_is_still_logged(self):
        """A search for an SSN not stored: count 0, and an entry."""
        o, h = self.ok("POST", "/v1/persons/search",
                       {"purpose": HR, "ssn": W.people[12]["ssn"]},
                       who="hr")
        self.assertEqual((o["count"], o["matches"]), (0, []))
        self.assertEqual(h.get("cache-control"), "no-store")
        self.assertLogged(o, "hr", "find.ssn")

    def test_update_applies_a_merge_patch(self):
        """POST /v1/persons/update: {"id","entry"} (an update entry), and
        a read shows the patched member."""
        phones = ["+1 (202) 555-0142"]
        o, _ = self.ok("POST", "/v1/persons/update",
                       {"id": W.ids["c"], "purpose": HR,
                        "patch": {"phones": phones}}, who="hr")
        self.assertEqual(o["id"], W.ids["c"])
        self.assertLogged(o, "hr", "update")
        o, _ = self.ok("POST", "/v1/persons/read",
                       {"id": W.ids["c"], "purpose": HR,
                        "classes": ["contact"]}, who="hr")
        self.assertEqual(o["person"]["phones"], phones)

    def test_import_streams_jsonl_and_rejects_a_bad_line_by_number(self):
        """POST /v1/persons/import, a chunked JSONL body: good lines
        stored, the bad one counted and named by its line number and path,
        never by its data."""
        good1, bad, good2 = W.people[4], dict(W.people[5]), W.people[6]
        bad["ssn"] = "12-345-67890"
        lines = [json.dumps(good1) + "\n", json.dumps(bad) + "\n",
                 json.dumps(good2) + "\n"]
        conn = W.srv.conn()
        conn.request("POST", "/v1/persons/import?purpose=intake",
                     body=(l.encode() for l in lines),
                     headers={"Authorization": "Bearer " +
                              W.v.tokens["intake"],
                              "Content-Type": "application/x-ndjson"},
                     encode_chunked=True)
        r = conn.getresponse()
        data = r.read()
        conn.close()
        self.assertEqual(r.status, 200, data)
        o = json.loads(data)
        self.assertSchema("POST", "/v1/persons/import", 200, o)
        self.assertEqual((o["lines"], o["stored"], o["skipped"],
                          o["rejected"]), (3, 2, 0, 1))
        (rej,) = o["rejects"]
        self.assertRegex(rej, r"^line 2: /ssn: ")
        self.assertNoIdentifiers(data, [bad["ssn"]])
        found, _ = self.ok("POST", "/v1/persons/search",
                           {"purpose": HR, "ssn": good2["ssn"]}, who="hr")
        self.assertEqual(found["count"], 1)

    def test_import_of_csv_by_its_content_type(self):
        """A text/csv body imports as CSV (docs/csv.md), as gen writes it."""
        csv = subprocess.run([CLI, "gen", "--count", "2", "--seed", "77",
                              "--format", "csv"], capture_output=True,
                             check=True).stdout
        o, _ = self.ok("POST", "/v1/persons/import?purpose=intake", csv,
                       who="intake", content_type="text/csv")
        self.assertEqual((o["stored"], o["rejected"]), (2, 0), o)


# ---- cases ------------------------------------------------------------------


class Cases(ApiCase):
    def test_cases_are_opened_assigned_filled_and_listed(self):
        """POST /v1/cases, /assign, /people; GET /v1/cases shows the case
        with its investigator and one person; the investigator then reads
        that person under the case (logged, no-store)."""
        o, _ = self.ok("POST", "/v1/cases", {"case": "C-2"}, who="admin",
                       want=201)
        self.assertEqual(o, {"case": "C-2"})
        o, _ = self.ok("POST", "/v1/cases/C-2/assign", {"principal": "inv2"},
                       who="admin")
        self.assertEqual(o, {"case": "C-2", "principal": "inv2"})
        o, _ = self.ok("POST", "/v1/cases/C-2/people", {"id": W.ids["b"]},
                       who="admin")
        self.assertEqual(o, {"case": "C-2", "added": True})
        lst, _ = self.ok("GET", "/v1/cases", who="admin")
        (c,) = [c for c in lst["cases"] if c["case"] == "C-2"]
        self.assertEqual((c["assigned"], c["people"]), (["inv2"], 1))
        o, h = self.ok("POST", "/v1/persons/read",
                       {"id": W.ids["b"], "purpose": INV, "case": "C-2"},
                       who="inv2")
        self.assertEqual(h.get("cache-control"), "no-store")
        self.assertEqual(o["person"]["ssn"], W.b["ssn"])
        e = self.assertLogged(o, "inv2", "get")
        self.assertEqual(e["case"], "C-2")

    def test_off_caseload_is_the_same_403_whether_or_not_the_person_exists(
            self):
        """inv asks under C-1 for C (stored, not on C-1) and for a random
        id: the same 403 denied body, byte for byte, naming no one."""
        replies = []
        for pid in (W.ids["c"], W.nobody):
            r = self.call("POST", "/v1/persons/read",
                          {"id": pid, "purpose": INV, "case": "C-1"},
                          who="inv")
            self.assertProblem(r, "denied", 403, [W.ids["c"], W.nobody])
            replies.append(r[2])
        self.assertEqual(replies[0], replies[1])
        # A search by the SSN of someone stored off the caseload answers
        # as for an SSN stored nowhere: no match (only the entry differs).
        found = []
        for ssn in (W.c["ssn"], W.people[12]["ssn"]):
            o, _ = self.ok("POST", "/v1/persons/search",
                           {"ssn": ssn, "purpose": INV, "case": "C-1"},
                           who="inv")
            self.assertLogged(o, "inv", "find.ssn")
            del o["entry"]
            found.append(o)
        self.assertEqual(found, [{"count": 0, "matches": []}] * 2)


# ---- the two-person rule and decoys -------------------------------------------


class TwoPersonsAndDecoys(ApiCase):
    def test_an_approval_is_asked_approved_by_another_and_listed(self):
        """POST /v1/approvals as the clerk (a search it could make), the
        clerk cannot approve (403), the officer can (200), once (409);
        GET /v1/approvals lists it without the search's terms."""
        p = W.people[5]
        o, _ = self.ok("POST", "/v1/approvals",
                       {"action": "find.name", "purpose": HR,
                        "family_name": p["name"]["family"],
                        "dob": p["birth"]["date"]}, who="hr", want=201)
        aid = o["id"]
        r = self.call("POST", "/v1/approvals/%s/approve" % aid, who="hr")
        self.assertProblem(r, "denied", 403)
        o, _ = self.ok("POST", "/v1/approvals/%s/approve" % aid, who="so")
        self.assertEqual(o, {"id": aid, "approved": True})
        r = self.call("POST", "/v1/approvals/%s/approve" % aid, who="so")
        self.assertProblem(r, "conflict", 409)
        o, _ = self.ok("GET", "/v1/approvals", who="so")
        (mine,) = [a for a in o["approvals"] if a["id"] == aid]
        self.assertEqual((mine["requester"], mine["approved_by"]),
                         ("hr", "so"))
        self.assertNoIdentifiers(json.dumps(o).encode())
        r = self.call("GET", "/v1/approvals", who="hr")
        self.assertProblem(r, "denied", 403)
        # The approved search runs with it (it matches nobody over the
        # threshold here, so it would run without too).
        o, _ = self.ok("POST", "/v1/persons/search",
                       {"family_name": p["name"]["family"],
                        "dob": p["birth"]["date"], "purpose": HR,
                        "approval": aid}, who="hr")
        self.assertEqual(o["count"], 0)

    def export(self, body, who="rec", **kw):
        return self.call("POST", "/v1/persons/export", body, who=who, **kw)

    def test_an_approved_export_streams_every_person_once_logged(self):
        """POST /v1/persons/export without an approval is a 403 naming
        approval.required; with one the officer approved it is a 200
        stream of JSONL, one line per person stored (the decoys left
        out), each with the classes the role may read, not cached; its
        groups are logged as export naming the approval."""
        body = {"purpose": "retention"}
        r = self.export(body)
        p = self.assertProblem(r, "denied", 403)
        self.assertIn("approval.required", p["detail"])
        o, _ = self.ok("POST", "/v1/approvals",
                       {"action": "export", "purpose": "retention"},
                       who="rec", want=201)
        aid = o["id"]
        self.ok("POST", "/v1/approvals/%s/approve" % aid, who="so")
        st, h, data = self.export(dict(body, approval=aid), want=200)
        self.assertEqual(h["content-type"], "application/x-ndjson")
        self.assertEqual(h["cache-control"], "no-store")
        self.assertEqual(h.get("transfer-encoding"), "chunked")
        lines = [json.loads(l) for l in data.decode().splitlines()]
        stats, _ = self.ok("GET", "/v1/stats", who="admin")
        self.assertEqual(len(lines), stats["people"])
        ssns = {x["ssn"] for x in lines}
        self.assertLessEqual({W.a["ssn"], W.b["ssn"], W.c["ssn"]}, ssns)
        self.assertTrue(all("address" not in x for x in lines))
        o, _ = self.ok("POST", "/v1/audit/entries",
                       {"principal": "rec", "limit": 1000}, who="aud")
        exported = [e for e in o["entries"] if e["action"] == "export"
                    and e["outcome"] == "allowed"]
        self.assertTrue(exported)
        self.assertEqual(sum(e["count"] for e in exported), len(lines))
        self.assertTrue(all(e["detail"] == "approval " + aid
                            for e in exported))

    def test_an_export_the_role_may_not_make_is_denied(self):
        """The clerk has no export: 403 with the rule, nothing streamed;
        an unknown member is a 400 that does not echo it."""
        r = self.export({"purpose": HR}, who="hr")
        self.assertProblem(r, "denied", 403)
        r = self.export({"purpose": "retention", W.a["ssn"]: 1})
        self.assertProblem(r, "bad-request", 400)

    def test_the_decoys_are_listed_for_the_officer_only(self):
        o, _ = self.ok("GET", "/v1/decoys", who="so")
        self.assertGreaterEqual(len(o["decoys"]), 1)
        self.assertNotIn(o["decoys"][0]["id"], W.ids.values())
        r = self.call("GET", "/v1/decoys", who="admin")
        self.assertProblem(r, "denied", 403)


class ShredRetentionBreach(ApiCase):
    def test_a_person_is_shredded_and_gone(self):
        """POST /v1/persons/shred as the officer: 200 naming the entry;
        the person is then not found (404) and the entry is a shred with
        the reason; a clerk is denied; a bad reason is a 400 that does
        not echo it."""
        p = W.people[12]
        _, _, o = W.srv.json("POST", "/v1/persons",
                             {"purpose": "intake", "person": p},
                             token=W.v.tokens["intake"], want=201)
        pid = o["id"]
        r = self.call("POST", "/v1/persons/shred",
                      {"id": pid, "purpose": HR, "reason": "erasure"},
                      who="hr")
        self.assertProblem(r, "denied", 403)
        r = self.call("POST", "/v1/persons/shred",
                      {"id": pid, "purpose": "retention",
                       "reason": p["ssn"]}, who="so")
        self.assertIn(r[0], (400, 422))
        self.assertNoIdentifiers(r[2])
        o, _ = self.ok("POST", "/v1/persons/shred",
                       {"id": pid, "purpose": "retention",
                        "reason": "court-order-9"}, who="so")
        self.assertEqual((o["id"], o["shredded"]), (pid, True))
        e = self.entry(o["entry"])
        self.assertEqual((e["action"], e["detail"], e["principal"]),
                         ("shred", "reason court-order-9", "so"))
        r = self.call("POST", "/v1/persons/read",
                      {"id": pid, "purpose": "incident-response"}, who="so")
        self.assertProblem(r, "not-found", 404)

    def test_a_retention_dry_run_counts(self):
        """POST /v1/retention/run: 422 while the policy sets no retention;
        with one, a dry run counts and changes nothing."""
        r = self.call("POST", "/v1/retention/run",
                      {"purpose": "retention", "dry_run": True}, who="so")
        self.assertProblem(r, "invalid", 422)
        cur, _ = self.ok("GET", "/v1/policy", who="admin")
        pol = cur["policy"]
        pol["retention"] = {"destroy_after_separation_years": 200}
        self.ok("PUT", "/v1/policy", pol, who="admin")
        try:
            o, _ = self.ok("POST", "/v1/retention/run",
                           {"purpose": "retention", "dry_run": True},
                           who="so")
            self.assertEqual((o["due"], o["shredded"], o["dry_run"]),
                             (0, 0, True))
            self.assertGreaterEqual(o["scanned"], 3)
            # Never compacted: nobody is in a retention cluster (and on
            # PostgreSQL there are none to be outside of).
            self.assertEqual(o["unclustered"], 0 if ON_PG else o["scanned"])
        finally:
            pol.pop("retention")
            self.ok("PUT", "/v1/policy", pol, who="admin")

    def test_a_breach_report_for_the_auditor(self):
        """POST /v1/breach/report as the auditor: the summary first, the
        log verified, people by id and never by an identifier; a clerk is
        denied; nothing to scope by is a 400-class refusal."""
        self.ok("POST", "/v1/persons/read",
                {"id": W.ids["b"], "purpose": HR}, who="hr")
        o, _ = self.ok("POST", "/v1/breach/report", {"principal": "hr"},
                       who="aud")
        self.assertFalse(o["truncated"])
        summary = o["report"][0]
        self.assertEqual(summary["kind"], "summary")
        self.assertTrue(summary["log"]["verified"])
        people = [x["id"] for x in o["report"] if x["kind"] == "person"]
        self.assertIn(W.ids["b"], people)
        self.assertNoIdentifiers(json.dumps(o).encode())
        r = self.call("POST", "/v1/breach/report", {"principal": "hr"},
                      who="hr")
        self.assertProblem(r, "denied", 403)
        r = self.call("POST", "/v1/breach/report", {}, who="aud")
        self.assertIn(r[0], (400, 422))


# ---- the policy and witnesses -----------------------------------------------


class PolicyAndWitnesses(ApiCase):
    def test_policy_put_back_with_a_change_raises_the_version(self):
        """GET /v1/policy, change its description, PUT it back: the version
        goes up by one and GET shows the change."""
        cur, _ = self.ok("GET", "/v1/policy", who="admin")
        pol = cur["policy"]
        self.assertIn("hr-clerk", pol["roles"])
        pol["description"] = "changed by cli_server_api"
        o, _ = self.ok("PUT", "/v1/policy", pol, who="admin")
        self.assertEqual(o, {"version": cur["version"] + 1})
        new, _ = self.ok("GET", "/v1/policy", who="admin")
        self.assertEqual(new["version"], cur["version"] + 1)
        self.assertEqual(new["policy"]["description"],
                         "changed by cli_server_api")

    def test_a_new_policy_applies_to_the_next_read(self):
        """The read handles are pooled: after PUT /v1/policy takes
        hr-action from hr-clerk, hr's next read is denied (role.purpose),
        and after it is given back the read is allowed again."""
        cur, _ = self.ok("GET", "/v1/policy", who="admin")
        body = {"id": W.ids["a"], "purpose": "hr-action"}
        for _ in range(4):  # warm several pooled handles on the old policy
            self.ok("POST", "/v1/persons/read", body, who="hr")
        pol = json.loads(json.dumps(cur["policy"]))
        purposes = pol["roles"]["hr-clerk"]["purposes"]
        self.assertIn("hr-action", purposes)
        pol["roles"]["hr-clerk"]["purposes"] = [
            x for x in purposes if x != "hr-action"] or ["audit"]
        try:
            self.ok("PUT", "/v1/policy", pol, who="admin")
            for _ in range(4):
                r = self.call("POST", "/v1/persons/read", body, who="hr")
                self.assertProblem(r, "denied", 403)
                self.assertIn(b"role.purpose", r[2])
        finally:
            self.ok("PUT", "/v1/policy", cur["policy"], who="admin")
        self.ok("POST", "/v1/persons/read", body, who="hr")

    def test_policy_put_of_a_broken_policy_is_invalid(self):
        """A policy naming an undefined purpose: 422, version unchanged."""
        cur, _ = self.ok("GET", "/v1/policy", who="admin")
        pol = cur["policy"]
        pol["roles"]["hr-clerk"]["purposes"] = ["no-such-purpose"]
        r = self.call("PUT", "/v1/policy", pol, who="admin")
        self.assertProblem(r, "invalid", 422)
        new, _ = self.ok("GET", "/v1/policy", who="admin")
        self.assertEqual(new["version"], cur["version"])

    def test_witnesses_are_added_required_listed_and_removed(self):
        """POST /v1/witnesses with a key from `witness init`; PUT
        /v1/witnesses/required; GET lists both and /log/witnesses
        publishes them (no-cache); then the requirement is lowered and the
        witness removed."""
        state = os.path.join(W.tmp, "w1")
        vkey = run(["witness", "init", "--state", state, "--name",
                    "w1.example.org"], check=0).stdout.decode().strip()
        o, _ = self.ok("POST", "/v1/witnesses",
                       {"name": "w1.example.org", "vkey": vkey}, who="admin",
                       want=201)
        self.assertEqual(o, {"name": "w1.example.org"})
        o, _ = self.ok("PUT", "/v1/witnesses/required", {"min": 1},
                       who="admin")
        self.assertEqual(o, {"min": 1})
        lst, _ = self.ok("GET", "/v1/witnesses", who="admin")
        self.assertEqual(lst["min"], 1)
        self.assertEqual([(w["name"], w["vkey"]) for w in lst["witnesses"]],
                         [("w1.example.org", vkey)])
        st, h, data = self.call("GET", "/log/witnesses", want=200)
        self.assertEqual(h["cache-control"], "no-cache")
        self.assertIn(vkey, data.decode())
        self.ok("PUT", "/v1/witnesses/required", {"min": 0}, who="admin")
        o, _ = self.ok("POST", "/v1/witnesses/w1.example.org/remove",
                       who="admin")
        self.assertEqual(o, {"name": "w1.example.org", "removed": True})
        lst, _ = self.ok("GET", "/v1/witnesses", who="admin")
        self.assertEqual((lst["min"], lst["witnesses"]), (0, []))


# ---- the audit log over the API ---------------------------------------------


class Audit(ApiCase):
    def test_entries_filtered_by_principal(self):
        """POST /v1/audit/entries {"principal"}: only that principal's."""
        self.ok("POST", "/v1/persons/search",
                {"purpose": HR, "ssn": W.a["ssn"]}, who="hr")
        o, _ = self.ok("POST", "/v1/audit/entries", {"principal": "hr"},
                       who="aud")
        self.assertTrue(o["entries"])
        self.assertEqual({e["principal"] for e in o["entries"]}, {"hr"})
        self.assertIn("find.ssn", {e["action"] for e in o["entries"]})

    def test_entries_filtered_by_person_and_resolved(self):
        """{"person": id} finds the entries naming that person, by one
        reference; POST /v1/audit/resolve turns it back into the id."""
        read, _ = self.ok("POST", "/v1/persons/read",
                          {"id": W.ids["a"], "purpose": HR}, who="hr")
        o, _ = self.ok("POST", "/v1/audit/entries", {"person": W.ids["a"]},
                       who="aud")
        self.assertIn(read["entry"], [e["index"] for e in o["entries"]])
        refs = {r for e in o["entries"] for r in e["people"]}
        self.assertEqual(len(refs), 1, refs)
        self.assertNotIn(W.ids["a"], refs)
        got, _ = self.ok("POST", "/v1/audit/resolve", {"ref": refs.pop()},
                         who="aud")
        self.assertEqual(got, {"id": W.ids["a"]})

    def test_entries_limit_truncates(self):
        """{"limit": 2} over a longer log: two entries, truncated true."""
        o, _ = self.ok("POST", "/v1/audit/entries", {"limit": 2}, who="aud")
        self.assertEqual([e["index"] for e in o["entries"]], [0, 1])
        self.assertTrue(o["truncated"])

    def test_entries_since_and_action_filters(self):
        """since (RFC 3339) and action narrow the entries."""
        o, _ = self.ok("POST", "/v1/audit/entries",
                       {"since": "2000-01-01T00:00:00Z",
                        "action": "vault.create"}, who="aud")
        self.assertEqual([e["action"] for e in o["entries"]],
                         ["vault.create"])
        o, _ = self.ok("POST", "/v1/audit/entries",
                       {"until": "2000-01-01T00:00:00Z"}, who="aud")
        self.assertEqual(o["entries"], [])

    def test_checkpoint_is_fresh_signed_and_not_cached(self):
        """GET /v1/audit/checkpoint: a checkpoint signed by the log key,
        covering the auditor's own request; no-store."""
        st, h, data = self.call("GET", "/v1/audit/checkpoint", who="aud",
                                want=200)
        self.assertEqual(h.get("cache-control"), "no-store")
        cp = parse_checkpoint(data.decode())
        with open(os.path.join(W.v.path, "log.vkey")) as f:
            self.assertTrue(verify_note_signature(cp, f.read()))
        self.assertGreater(cp["size"], 10)

    def published(self):
        """The published checkpoint (over /log/) and the leaves of its
        tree, from the entry bundles served under /log/tile/entries/."""
        _, _, data = self.call("GET", "/log/checkpoint", want=200)
        cp = parse_checkpoint(data.decode())
        size, leaves = cp["size"], []
        for n in range((size + 255) // 256):
            rel = tile_index_path(n)
            if (n + 1) * 256 > size:
                rel += ".p/%d" % (size - n * 256)
            _, _, b = self.call("GET", "/log/tile/entries/" + rel, want=200)
            leaves += [e for _, e in parse_bundle(b)]
        self.assertEqual(len(leaves), size)
        return cp, leaves

    def test_inclusion_proof_of_a_read_verifies_against_the_public_log(self):
        """The entry a read names is, in the public log, a get by hr; GET
        /v1/audit/proof/inclusion for it at the published size verifies
        (RFC 9162) to the published root."""
        read, _ = self.ok("POST", "/v1/persons/read",
                          {"id": W.ids["b"], "purpose": HR}, who="hr")
        i = read["entry"]
        deadline = time.monotonic() + 10
        while True:
            cp, leaves = self.published()
            if cp["size"] > i or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertGreater(cp["size"], i)
        e = decode_entry(leaves[i])
        self.assertEqual((e["principal"], e["action"]), ("hr", "get"))
        o, _ = self.ok("GET", "/v1/audit/proof/inclusion?index=%d&size=%d"
                       % (i, cp["size"]), who="aud")
        self.assertEqual((o["index"], o["tree_size"]), (i, cp["size"]))
        leaf = leaf_hash(leaves[i])
        self.assertEqual(b64d(o["leaf_hash"]), leaf)
        self.assertEqual(b64d(o["root_hash"]), cp["root"])
        self.assertTrue(verify_inclusion(
            i, cp["size"], leaf, [b64d(p) for p in o["inclusion_path"]],
            cp["root"]))

    def test_consistency_proof_verifies_between_published_checkpoints(self):
        """GET /v1/audit/proof/consistency from an old checkpoint (served
        at /log/history/M) to the published one verifies (RFC 9162)."""
        _, _, data = self.call("GET", "/log/checkpoint", want=200)
        new = parse_checkpoint(data.decode())
        sizes = sorted(int(n) for n in os.listdir(
            os.path.join(W.v.path, "log", "history")))
        m = [s for s in sizes if 0 < s < new["size"]][len(sizes) // 2 - 1]
        _, _, data = self.call("GET", "/log/history/%d" % m, want=200)
        old = parse_checkpoint(data.decode())
        o, _ = self.ok("GET", "/v1/audit/proof/consistency?from=%d&to=%d"
                       % (m, new["size"]), who="aud")
        self.assertEqual((o["first_size"], o["second_size"]),
                         (m, new["size"]))
        self.assertEqual(b64d(o["first_root"]), old["root"])
        self.assertEqual(b64d(o["second_root"]), new["root"])
        self.assertTrue(verify_consistency(
            m, new["size"], old["root"], new["root"],
            [b64d(p) for p in o["consistency_path"]]))

    def test_proofs_default_to_the_current_tree(self):
        """Without size/to, proofs are for the whole tree as it is now."""
        o, _ = self.ok("GET", "/v1/audit/proof/inclusion?index=0", who="aud")
        c, _ = self.ok("GET", "/v1/audit/proof/consistency?from=1", who="aud")
        self.assertGreater(o["tree_size"], 1)
        self.assertGreater(c["second_size"], 1)


# ---- authentication ---------------------------------------------------------


class Authentication(ApiCase):
    @classmethod
    def setUpClass(cls):
        admin = W.v.tokens["admin"]
        _, _, o = W.srv.json("POST", "/v1/tokens",
                             {"principal": "hr", "ttl": 1}, token=admin,
                             want=201)
        cls.short = o["token"]
        cls.short_made = time.monotonic()

    def denials(self):
        o, _ = self.ok("POST", "/v1/audit/entries",
                       {"action": "authenticate", "denied": True},
                       who="aud")
        return {e["index"]: e for e in o["entries"]}

    def refused(self, token=None, headers=None, rule=None, principal=None,
                path="/v1/whoami"):
        """The request is refused with the one 401 and, if rule, one new
        denied authenticate entry naming it (none without a credential)."""
        before = self.denials()
        st, h, data = W.srv.request("GET", path, token=token,
                                    headers=headers)
        p = self.assertProblem((st, h, data), "unauthorized", 401)
        self.assertTrue(h.get("www-authenticate", "").startswith("Bearer"),
                        h)
        if token:
            self.assertNotIn(token.encode(), data)
        new = [e for i, e in self.denials().items() if i not in before]
        if rule is None:
            self.assertEqual(new, [])
        else:
            self.assertEqual(len(new), 1, new)
            self.assertEqual((new[0]["rule"], new[0]["principal"],
                              new[0]["outcome"]),
                             (rule, principal, "denied"))
        return p["detail"]

    def one_detail(self):
        """The detail every 401 has: the one for an unknown token."""
        good = W.v.tokens["hr"]
        return self.refused(token="sr1_" + os.urandom(8).hex() + good[20:],
                            rule="token.unknown", principal="")

    def test_no_authorization_header(self):
        """No credential: the 401, with no audit entry."""
        self.assertEqual(self.refused(), self.one_detail())

    def test_a_scheme_other_than_bearer(self):
        """Authorization: Basic ...: the same 401."""
        self.assertEqual(self.refused(headers={"Authorization":
                                               "Basic aHI6aHI="}),
                         self.one_detail())

    def test_a_malformed_token(self):
        """A token that is not sr1_<id>_<secret>: the same 401, logged."""
        self.assertEqual(self.refused(token="sr1_not-a-token",
                                      rule="token.malformed", principal=""),
                         self.one_detail())

    def test_an_unknown_token(self):
        """A well-formed token no one was given: 401, logged."""
        self.assertIsInstance(self.one_detail(), str)

    def test_a_wrong_secret(self):
        """A real token id with another secret: the same 401, logged
        against its principal."""
        good = W.v.tokens["hr"]
        # The last base64url digit carries 2 padding bits: change another.
        wrong = good[:-2] + ("A" if good[-2] != "A" else "B") + good[-1]
        self.assertEqual(self.refused(token=wrong,
                                      rule="token.secret", principal="hr"),
                         self.one_detail())

    def test_an_expired_token(self):
        """A token made with ttl 1 (POST /v1/tokens), once past it: the
        same 401, logged as token.expired."""
        wait = self.short_made + 2.2 - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self.assertEqual(self.refused(token=self.short, rule="token.expired",
                                      principal="hr"),
                         self.one_detail())

    def test_a_revoked_token(self):
        """A token revoked with POST /v1/tokens/{id}/revoke: it worked,
        and now gets the same 401, logged as token.revoked."""
        o, _ = self.ok("POST", "/v1/tokens", {"principal": "hr"},
                       who="admin", want=201)
        self.ok("GET", "/v1/whoami", token=o["token"])
        self.ok("POST", "/v1/tokens/%s/revoke" % o["id"], who="admin")
        self.assertEqual(self.refused(token=o["token"], rule="token.revoked",
                                      principal="hr"),
                         self.one_detail())

    def test_a_disabled_principal(self):
        """The token of a principal disabled with POST
        /v1/users/{name}/disable: the same 401, logged."""
        self.ok("POST", "/v1/users", {"name": "leaver", "role": "hr-clerk"},
                who="admin", want=201)
        o, _ = self.ok("POST", "/v1/tokens", {"principal": "leaver"},
                       who="admin", want=201)
        self.ok("GET", "/v1/whoami", token=o["token"])
        self.ok("POST", "/v1/users/leaver/disable", who="admin")
        self.assertEqual(self.refused(token=o["token"],
                                      rule="principal.disabled",
                                      principal="leaver"),
                         self.one_detail())

    def test_a_wrong_passphrase_at_login(self):
        """POST /v1/login with a wrong passphrase: the same 401, logged
        as login.passphrase."""
        self.ok("POST", "/v1/users", {"name": "signer", "role": "auditor",
                                      "passphrase": "the right one, long"},
                who="admin", want=201)
        before = self.denials()
        r = self.call("POST", "/v1/login", {"name": "signer",
                                            "passphrase": "a wrong one"})
        p = self.assertProblem(r, "unauthorized", 401, ["a wrong one"])
        self.assertEqual(p["detail"], self.one_detail())
        new = [e for i, e in self.denials().items() if i not in before]
        self.assertIn(("login.passphrase", "signer"),
                      [(e["rule"], e["principal"]) for e in new])

    def test_a_token_scope_without_the_action_is_403_token_scope(self):
        """A token scoped "get" may read but not search: 403 denied
        naming token.scope, logged as a denial."""
        o, _ = self.ok("POST", "/v1/tokens", {"principal": "hr",
                                              "scope": "get"},
                       who="admin", want=201)
        tok = o["token"]
        self.ok("POST", "/v1/persons/read", {"id": W.ids["a"], "purpose": HR,
                                             "classes": ["name"]}, token=tok)
        r = self.call("POST", "/v1/persons/search",
                      {"purpose": HR, "ssn": W.a["ssn"]}, token=tok)
        p = self.assertProblem(r, "denied", 403)
        self.assertIn("token.scope", p["detail"])
        o, _ = self.ok("POST", "/v1/audit/entries",
                       {"principal": "hr", "denied": True}, who="aud")
        self.assertIn(("find.ssn", "token.scope"),
                      [(e["action"], e["rule"]) for e in o["entries"]])


# ---- problems ---------------------------------------------------------------


class Problems(ApiCase):
    def person_body(self, k=8, **change):
        p = json.loads(json.dumps(W.people[k]))
        p.update(change)
        return {"purpose": "intake", "person": p}

    def test_bad_json_names_line_and_column(self):
        """A body that is not JSON: 400, "line L column C", no echo."""
        p = W.people[8]
        body = ('{"purpose": "intake",\n "person": {"ssn": "%s", "name": '
                '"%s" ' % (p["ssn"], p["name"]["family"]))
        r = self.call("POST", "/v1/persons", body, who="intake")
        d = self.assertProblem(r, "bad-request", 400)["detail"]
        self.assertRegex(d, r"^line 2 column \d+: ")

    def test_a_body_that_is_not_an_object(self):
        """A JSON array or string body: 400."""
        for body in ('["%s"]' % W.people[8]["ssn"],
                     '"%s"' % W.people[8]["ssn"], ""):
            r = self.call("POST", "/v1/persons/search", body, who="hr")
            self.assertProblem(r, "bad-request", 400)

    def test_an_unknown_member_is_named_by_its_pointer(self):
        """An unknown member: 400 naming /member, not its value."""
        body = dict(self.person_body(), surname=W.people[8]["name"]["family"])
        r = self.call("POST", "/v1/persons", body, who="intake")
        self.assertEqual(self.assertProblem(r, "bad-request", 400)["detail"],
                         "/surname: unknown member")
        r = self.call("POST", "/v1/persons/search",
                      {"purpose": HR, "ssn": W.a["ssn"],
                       W.people[9]["ssn"]: 1}, who="hr")
        self.assertEqual(self.assertProblem(r, "bad-request", 400)["detail"],
                         "/?: unknown member")

    def test_a_missing_member_is_named_by_its_pointer(self):
        """Missing purpose, person or id: 400 naming /purpose etc."""
        for path, body, member in (
                ("/v1/persons", {"person": W.people[8]}, "/purpose"),
                ("/v1/persons", {"purpose": "intake"}, "/person"),
                ("/v1/persons/read", {"purpose": HR}, "/id"),
                ("/v1/users", {"name": "x"}, "/role")):
            who = {"/v1/persons": "intake", "/v1/users": "admin"}.get(path,
                                                                      "hr")
            r = self.call("POST", path, body, who=who)
            self.assertTrue(self.assertProblem(r, "bad-request", 400)
                            ["detail"].startswith(member + ":"), path)

    def test_a_member_of_the_wrong_type(self):
        """An SSN given as a number, classes not an array: 400 by pointer."""
        r = self.call("POST", "/v1/persons/search",
                      {"purpose": HR, "ssn": 123456789}, who="hr")
        d = self.assertProblem(r, "bad-request", 400, ["123456789"])["detail"]
        self.assertTrue(d.startswith("/ssn:"), d)
        r = self.call("POST", "/v1/persons/read",
                      {"purpose": HR, "id": W.ids["a"], "classes": "name"},
                      who="hr")
        self.assertTrue(self.assertProblem(r, "bad-request", 400)
                        ["detail"].startswith("/classes"))

    def test_search_needs_ssn_or_name_and_birth_date(self):
        """A search by family name alone, or by both kinds: 400."""
        p = W.people[9]
        for body in ({"purpose": HR, "family_name": p["name"]["family"]},
                     {"purpose": HR, "ssn": p["ssn"],
                      "family_name": p["name"]["family"],
                      "dob": p["birth"]["date"]}):
            r = self.call("POST", "/v1/persons/search", body, who="hr")
            self.assertProblem(r, "bad-request", 400)

    def test_a_bad_query_is_400(self):
        """A proof with no index or a non-number: 400 naming the
        parameter; an import without a purpose: 400."""
        for path in ("/v1/audit/proof/inclusion",
                     "/v1/audit/proof/inclusion?index=x",
                     "/v1/audit/proof/consistency?from=-1"):
            r = self.call("GET", path, who="aud")
            self.assertProblem(r, "bad-request", 400)
        r = self.call("POST", "/v1/persons/import",
                      json.dumps(W.people[10]) + "\n", who="intake",
                      content_type="application/x-ndjson")
        self.assertProblem(r, "bad-request", 400)

    def test_wrong_content_type_is_415(self):
        """A JSON route sent text/plain or no Content-Type: 415."""
        body = json.dumps(self.person_body())
        for ct in ("text/plain", "application/jsonx", None):
            r = self.call("POST", "/v1/persons", body, who="intake",
                          content_type=ct)
            self.assertProblem(r, "unsupported-media-type", 415)

    def test_unknown_route_is_404(self):
        """A path no route has: 404 "no such route" (ids in the path are
        not echoed)."""
        for path in ("/v1/nothing", "/v1/persons/" + W.ids["a"],
                     "/v1/persons/" + W.people[8]["ssn"], "/v2/whoami",
                     "/v1/whoami/"):
            r = self.call("GET", path, who="hr")
            p = self.assertProblem(r, "not-found", 404, [W.ids["a"]])
            self.assertEqual(p.get("detail"), "no such route", path)

    def test_unknown_person_is_404_for_a_role_allowed_to_ask(self):
        """An HR clerk reading a random id: 404 not-found."""
        r = self.call("POST", "/v1/persons/read",
                      {"id": W.nobody, "purpose": HR}, who="hr")
        self.assertProblem(r, "not-found", 404, [W.nobody])

    def test_unknown_principal_case_or_witness_is_404(self):
        """Disabling no such user, assigning no such case, removing no
        such witness: 404."""
        for path, body in (("/v1/users/nobody/disable", None),
                           ("/v1/cases/C-none/assign", {"principal": "inv"}),
                           ("/v1/witnesses/nobody/remove", None)):
            r = self.call("POST", path, body, who="admin")
            self.assertProblem(r, "not-found", 404)

    def test_wrong_method_is_405_with_allow(self):
        """A known path with another method: 405 with Allow."""
        for method, path, allow in (("DELETE", "/v1/users", {"GET", "POST"}),
                                    ("GET", "/v1/persons", {"POST"}),
                                    ("PUT", "/v1/persons/read", {"POST"}),
                                    ("POST", "/v1/policy", {"GET", "PUT"}),
                                    ("POST", "/healthz", {"GET"}),
                                    ("DELETE", "/log/checkpoint", {"GET"})):
            r = self.call(method, path, who="admin")
            self.assertProblem(r, "method-not-allowed", 405)
            got = {m.strip() for m in r[1].get("allow", "").split(",")}
            self.assertEqual(got, allow, (method, path))

    def test_duplicate_ssn_is_409_without_the_ssn(self):
        """Storing A again: 409 conflict; the detail has no SSN or name."""
        r = self.call("POST", "/v1/persons",
                      {"purpose": "intake", "person": W.a}, who="intake")
        self.assertProblem(r, "conflict", 409)

    def test_existing_principal_or_case_is_409(self):
        """Adding a user or opening a case that exists: 409."""
        r = self.call("POST", "/v1/users", {"name": "hr", "role": "auditor"},
                      who="admin")
        self.assertProblem(r, "conflict", 409)
        r = self.call("POST", "/v1/cases", {"case": "C-1"}, who="admin")
        self.assertProblem(r, "conflict", 409)

    def test_a_body_over_max_body_is_413(self):
        """Over --max-body, announced by Content-Length: 413, and the body
        is not echoed; sent chunked (length unknown): 411 at once."""
        p = W.people[11]
        big = self.person_body(11, pad="x" * MAX_BODY)
        r = self.call("POST", "/v1/persons", big, who="intake")
        self.assertProblem(r, "payload-too-large", 413)
        # Chunked: the answer comes after the headers, before any chunk.
        conn = W.srv.conn()
        conn.putrequest("POST", "/v1/persons")
        conn.putheader("Authorization", "Bearer " + W.v.tokens["intake"])
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        resp = conn.getresponse()
        body = resp.read()
        conn.close()
        self.assertProblem((resp.status, {k.lower(): v for k, v in
                                          resp.getheaders()}, body),
                           "length-required", 411)
        # Not stored.
        o, _ = self.ok("POST", "/v1/persons/search",
                       {"purpose": HR, "ssn": p["ssn"]}, who="hr")
        self.assertEqual(o["count"], 0)

    def test_a_person_failing_the_schema_is_422_by_path_never_value(self):
        """Each schema failure: 422 invalid naming the JSON path, without
        the submitted value."""
        p = W.people[12]
        cases = [
            ("/ssn", {"ssn": "12-345-67890"}, "12-345-67890"),
            ("/birth/date", {"birth": dict(p["birth"], date="1999-02-31")},
             "1999-02-31"),
            ("/name/family", {"name": dict(p["name"], family=7)}, None),
            ("/sex", {"sex": "Zebediah-Q"}, "Zebediah-Q"),
            ("/surname", {"surname": p["name"]["family"]}, None),
        ]
        for path, change, value in cases:
            r = self.call("POST", "/v1/persons",
                          self.person_body(12, **change), who="intake")
            d = self.assertProblem(r, "invalid", 422,
                                   [value] if value else [])["detail"]
            self.assertIn(path, d)

    def test_a_bad_update_patch_is_422_by_path(self):
        """A merge patch that breaks the schema: 422, value not echoed."""
        r = self.call("POST", "/v1/persons/update",
                      {"id": W.ids["c"], "purpose": HR,
                       "patch": {"ssn": "999-99-99999"}}, who="hr")
        d = self.assertProblem(r, "invalid", 422, ["999-99-99999"])["detail"]
        self.assertIn("/ssn", d)

    def test_wrong_purpose_for_the_role_is_403_naming_the_rule(self):
        """An HR clerk reading for an investigation: 403 role.purpose."""
        r = self.call("POST", "/v1/persons/search",
                      {"purpose": INV, "case": "C-1", "ssn": W.a["ssn"]},
                      who="hr")
        self.assertIn("role.purpose",
                      self.assertProblem(r, "denied", 403)["detail"])

    def test_an_action_outside_the_role_is_403(self):
        """The admin reading a record, the auditor storing one, the
        intake account reading: 403 denied naming role.action."""
        for who, path, body in (
                ("admin", "/v1/persons/read", {"id": W.ids["a"],
                                               "purpose": HR}),
                ("aud", "/v1/persons", {"purpose": "audit",
                                        "person": W.people[13]}),
                ("intake", "/v1/persons/search", {"purpose": "intake",
                                                  "ssn": W.a["ssn"]}),
                ("hr", "/v1/users", {"name": "x2", "role": "admin"}),
                ("hr", "/v1/audit/entries", {})):
            r = self.call("POST", path, body, who=who)
            d = self.assertProblem(r, "denied", 403, [W.ids["a"]])["detail"]
            self.assertRegex(d, r"role\.(action|purpose|classes)", who)


# ---- the OpenAPI document and the route table -------------------------------


class OpenApiMatchesServer(ApiCase):
    def routes(self):
        out = run(["serve", "--list-routes"], check=0).stdout.decode()
        routes = [tuple(l.split(" ", 1)) for l in out.splitlines() if l]
        self.assertGreater(len(routes), 30)
        return routes

    def test_every_route_is_in_the_document(self):
        """Each route `serve --list-routes` prints is an operation of
        docs/openapi.json (a prefix route: some path under it)."""
        paths = W.openapi["paths"]
        for method, path in self.routes():
            if path.endswith("*"):
                under = [p for p in paths if p.startswith(path[:-1]) and
                         method.lower() in paths[p]]
                self.assertTrue(under, (method, path))
            else:
                self.assertIn(path, paths, method)
                self.assertIn(method.lower(), paths[path], path)

    def test_every_operation_in_the_document_is_served(self):
        """Each operation of docs/openapi.json is a route of the server
        (in --list-routes, and a request to it is neither 404 "no such
        route" nor 405)."""
        routes = self.routes()
        fill = {"name": "nobody", "id": "0123456789abcdef", "case": "C-9",
                "level": "0", "index": "000", "size": "1"}
        for path, ops in W.openapi["paths"].items():
            for method in ops:
                if method not in ("get", "put", "post", "delete", "patch"):
                    continue
                M = method.upper()
                self.assertTrue(any(
                    m == M and (p == path or (p.endswith("*") and
                                              path.startswith(p[:-1])))
                    for m, p in routes), (M, path))
                concrete = re.sub(r"\{([^}]+)\}",
                                  lambda m: fill[m.group(1)], path)
                body = "{}" if M in ("POST", "PUT") else None
                try:
                    st, h, data = self.call(M, concrete, body)
                except OSError as e:
                    raise AssertionError("%s %s: %r" % (M, concrete, e))
                self.assertNotEqual(st, 405, (M, concrete))
                if st == 404:
                    self.assertNotEqual(json.loads(data).get("detail"),
                                        "no such route", (M, concrete))

    def test_every_problem_slug_is_documented(self):
        """The Problem schema's type lists each slug the server's problem
        table (src/server/reply.c) has, with its status, and no other."""
        with open(os.path.join(SOURCE_DIR, "src", "server", "reply.c")) as f:
            table = re.findall(r'\{"([a-z-]+)", (\d{3}),', f.read())
        self.assertGreaterEqual(len(table), 18)
        schema = W.openapi["components"]["schemas"]["Problem"]
        enum = schema["properties"]["type"]["enum"]
        self.assertEqual(sorted(enum), sorted("urn:strongroom:problem:" + s
                                              for s, _ in table))
        text = schema["properties"]["type"]["description"]
        for slug, status in table:
            self.assertIn("%s %s" % (slug, status), text)


# ---- the access log ---------------------------------------------------------


class AccessLog(ApiCase):
    def lines(self):
        with open(W.access_log) as f:
            return [json.loads(l) for l in f.read().splitlines()]

    def test_one_line_per_request_with_no_identifier(self):
        """Requests carrying SSNs, names, birth dates and person ids (in
        bodies, paths and queries) give one line each, in order, with the
        route template, status, ms and principal; the whole log holds no
        identifier, no person id and no body."""
        before = len(self.lines())
        p, q = W.people[14], W.people[15]
        made = []

        def req(method, path, body=None, who=None, route=None, **kw):
            st, _, data = self.call(method, path, body, who, **kw)
            made.append((method, route or path.split("?")[0], st, who))
            return st, data

        st, data = req("POST", "/v1/persons", {"purpose": "intake",
                                               "person": p}, "intake")
        pid = json.loads(data)["id"]
        req("POST", "/v1/persons/read", {"id": pid, "purpose": HR}, "hr")
        req("POST", "/v1/persons/search", {"purpose": HR, "ssn": p["ssn"]},
            "hr")
        req("POST", "/v1/persons/search",
            {"purpose": HR, "family_name": p["name"]["family"],
             "dob": p["birth"]["date"]}, "hr")
        req("POST", "/v1/persons/update",
            {"id": pid, "purpose": HR, "patch": {"emails": ["a@b.example"]}},
            "hr")
        req("POST", "/v1/persons", {"purpose": "intake", "person": dict(
            q, ssn="1" + q["ssn"])}, "intake")
        req("POST", "/v1/persons/search", '{"ssn": "%s", ' % q["ssn"], "hr")
        req("POST", "/v1/persons/import?purpose=intake&ssn=" + q["ssn"],
            json.dumps(q) + "\n", "intake",
            content_type="application/x-ndjson")
        req("GET", "/v1/persons/" + pid, None, "hr", route="unmatched")
        req("GET", "/v1/persons/" + q["ssn"], None, None, route="unmatched")
        req("POST", "/v1/audit/entries", {"person": pid}, "aud")
        req("GET", "/v1/whoami", None, "hr")
        req("GET", "/v1/whoami", None, None)
        req("GET", "/healthz")
        deadline = time.monotonic() + 10
        while len(self.lines()) < before + len(made) and \
                time.monotonic() < deadline:
            time.sleep(0.02)
        lines = self.lines()[before:]
        self.assertEqual(len(lines), len(made))
        for (method, route, st, who), l in zip(made, lines):
            self.assertEqual((l["method"], l["route"], l["status"]),
                             (method, route, st), l)
            self.assertIsInstance(l["ms"], float)
            self.assertGreaterEqual(l["ms"], 0)
            if st < 400 and route.startswith("/v1/"):
                self.assertEqual(l["principal"], who, l)
            elif who is None:
                self.assertIsNone(l["principal"], l)
        with open(W.access_log) as f:
            text = f.read()
        self.assertNoIdentifiers(text, [pid] + list(W.ids.values()) +
                                 [W.nobody, "a@b.example", "purpose",
                                  "intake&", "ssn="])

    def test_the_entry_of_a_read_is_the_one_its_reply_names(self):
        """The line of a read carries the reply's entry; a request that
        logs nothing (whoami, healthz) carries entry null."""
        before = len(self.lines())
        o, _ = self.ok("POST", "/v1/persons/read",
                       {"id": W.ids["a"], "purpose": HR,
                        "classes": ["name"]}, who="hr")
        self.ok("GET", "/v1/whoami", who="hr")
        self.ok("GET", "/v1/stats", who="admin")
        self.ok("GET", "/healthz")
        deadline = time.monotonic() + 10
        while len(self.lines()) < before + 4 and time.monotonic() < deadline:
            time.sleep(0.02)
        lines = self.lines()[before:]
        self.assertEqual([l["route"] for l in lines],
                         ["/v1/persons/read", "/v1/whoami", "/v1/stats",
                          "/healthz"])
        self.assertEqual([l["entry"] for l in lines],
                         [o["entry"], None, None, None])


if __name__ == "__main__":
    unittest.main(verbosity=2)
