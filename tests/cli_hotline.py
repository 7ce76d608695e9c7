#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""strongroom hotline: making a node, its public line, adding and listing
partner nodes (docs/hotline.md). Two nodes in temporary directories
exchange their lines as partners would."""
import base64
import http.client
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from srcli import (CLI, EXIT_NOT_VAULT, EXIT_USAGE, Vault,  # noqa
                   decode_entry, gen, parse_checkpoint, read_leaves, run)
VERIFY = os.path.join(os.path.dirname(CLI), "strongroom-verify")
from srserver import Certs, free_port  # noqa: E402
import ssl  # noqa: E402

EXIT_EXISTS = 21
EXIT_INVALID = 11


def read(path):
    with open(path, "rb") as f:
        return f.read()


def hl(*args, check=None, stdin=None):
    return run(["hotline"] + list(args), check=check, stdin=stdin)


def bundle(*objects):
    return {"type": "bundle",
            "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d",
            "objects": list(objects)}


INDICATOR = {
    "type": "indicator", "spec_version": "2.1",
    "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
    "created": "2026-12-01T10:00:00.000Z",
    "modified": "2026-12-01T10:00:00.000Z",
    "pattern": "[ipv4-addr:value = '198.51.100.7']", "pattern_type": "stix",
    "valid_from": "2026-12-01T10:00:00Z"}

REQUEST = {
    "requesting_party": "US-CERT", "partner_case_id": "CN-88",
    "summary": "intrusion into a personnel records system",
    "indicators": bundle(INDICATOR), "legal_basis": "2015 guidelines",
    "urgency": "priority", "requested_action": "identify the hosts",
    "response_deadline": "2026-12-11T00:00:00Z"}


def cosignature_verifies(body, note, vkey_text):
    """A cosignature/v1 line (c2sp.org/tlog-cosignature) by vkey_text
    over checkpoint text body, in signed note `note`: the signature is
    base64(key hash (4) || time (8, big-endian) || Ed25519 (64)) over
    "cosignature/v1\ntime T\n" || body."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import \
        Ed25519PublicKey
    from cryptography.exceptions import InvalidSignature
    name, khash, kb64 = vkey_text.split("+", 2)
    key = base64.b64decode(kb64)
    if key[0] != 4:
        return False
    pub = Ed25519PublicKey.from_public_bytes(key[1:])
    for line in note[len(body) + 1:].decode().splitlines():
        parts = line.split(" ")
        if len(parts) != 3 or parts[1] != name:
            continue
        raw = base64.b64decode(parts[2])
        if raw[:4].hex() != khash or len(raw) != 76:
            continue
        t = int.from_bytes(raw[4:12], "big")
        try:
            pub.verify(raw[12:], b"cosignature/v1\ntime %d\n" % t + body)
            return True
        except InvalidSignature:
            return False
    return False


class Node:
    """A node directory and, once started, its server on a free port."""

    def __init__(self, root, name, certs=None):
        self.dir = os.path.join(root, name)
        self.name = name
        self.port = free_port()
        self.certs = certs  # serve over TLS with the certs' server pair
        self.url = "%s://127.0.0.1:%d/" % ("https" if certs else "http",
                                           self.port)
        self.line = hl("init", "--dir", self.dir, "--name", name,
                       check=0).stdout.decode().strip()
        self.proc = None

    def hl(self, *args, **kw):
        return hl(*args, "--dir", self.dir, **kw)

    def knows(self, other):
        self.hl("peer", "add", other.name, "--url", other.url, "--key",
                other.line, check=0)

    def start(self):
        # Deliveries are asked for explicitly: the loop waits an hour.
        transport = (["--tls-cert", self.certs.server_cert, "--tls-key",
                      self.certs.server_key] if self.certs
                     else ["--insecure-loopback"])
        self.proc = subprocess.Popen(
            [CLI, "hotline", "serve", "--dir", self.dir, "--listen",
             "127.0.0.1:%d" % self.port, "--interval", "3600"] + transport,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _ in range(200):  # until it answers; not a timed assertion
            try:
                self.post_raw("/healthz", None, "GET")
                return
            except OSError:
                time.sleep(0.02)
        raise AssertionError("the node did not start")

    def stop(self):
        """SIGTERM: the node stops cleanly, with exit 0."""
        if self.proc is not None:
            self.proc.terminate()
            rc = self.proc.wait(timeout=30)
            err = self.proc.stderr.read()
            self.proc.stderr.close()
            self.proc = None
            if rc != 0:
                raise AssertionError("hotline serve exited %d: %s"
                                     % (rc, err[-2000:]))

    def post_raw(self, path, body, method="POST"):
        if self.certs:
            ctx = ssl.create_default_context(cafile=self.certs.server_ca)
            c = http.client.HTTPSConnection("127.0.0.1", self.port,
                                            timeout=10, context=ctx)
        else:
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        c.request(method, path, body=body,
                  headers={"Content-Type": "application/json"})
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, r.getheader("Content-Type"), data

    def post(self, envelope):
        return self.post_raw("/hotline/v1/messages", envelope)

    def post_batch(self, envelopes):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        c.request("POST", "/hotline/v1/messages", body=b"\n".join(envelopes),
                  headers={"Content-Type": "application/x-ndjson"})
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, r.getheader("Content-Type"), data

    def messages(self, *extra):
        return [json.loads(l) for l in
                self.hl("messages", "--json", *extra, check=0).stdout
                .splitlines()]

    def log(self):
        """The node's log, checked by the independent verifier first:
        every entry, decoded."""
        logdir = os.path.join(self.dir, "log")
        p = subprocess.run([VERIFY, logdir, os.path.join(self.dir, "log.vkey"),
                            "--quiet"], capture_output=True)
        if p.returncode != 0:
            raise AssertionError("the node's log does not verify: %s"
                                 % p.stderr.decode())
        with open(os.path.join(logdir, "checkpoint")) as f:
            size = parse_checkpoint(f.read())["size"]
        return [decode_entry(e) for e in read_leaves(logdir, size)]

    def envelope(self, mid):
        con = sqlite3.connect(os.path.join(self.dir, "node.db"))
        try:
            (env,) = con.execute("SELECT envelope FROM messages WHERE "
                                 "lower(hex(id)) = ?", (mid,)).fetchone()
        finally:
            con.close()
        return env


class Hotline(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sr-hotline-")
        self.a = os.path.join(self.tmp, "a")
        self.b = os.path.join(self.tmp, "b")
        self.pa = hl("init", "--dir", self.a, "--name", "us-cert",
                     check=0).stdout.decode().strip()
        self.pb = hl("init", "--dir", self.b, "--name", "cn-cert",
                     check=0).stdout.decode().strip()

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_init_makes_a_private_node_and_prints_its_line(self):
        self.assertRegex(self.pa, r"^srnode1:us-cert:[A-Za-z0-9+/]{128}$")
        self.assertNotEqual(self.pa.split(":")[2], self.pb.split(":")[2])
        with open(os.path.join(self.a, "node.pub")) as f:
            self.assertEqual(f.read(), self.pa + "\n")
        self.assertEqual(stat.S_IMODE(os.stat(self.a).st_mode), 0o700)
        self.assertEqual(
            stat.S_IMODE(os.stat(os.path.join(self.a, "node.key")).st_mode),
            0o600)
        self.assertEqual(hl("key", "--dir", self.a, check=0).stdout.decode()
                         .strip(), self.pa)
        # The directory is the default from the environment too.
        p = run(["hotline", "key"], env_extra={"STRONGROOM_HOTLINE": self.b},
                check=0)
        self.assertEqual(p.stdout.decode().strip(), self.pb)

    def test_init_never_replaces_a_node_and_leaves_nothing_when_refused(self):
        before = read(os.path.join(self.a, "node.key"))
        p = hl("init", "--dir", self.a, "--name", "us-cert")
        self.assertEqual(p.returncode, EXIT_EXISTS, p.stderr)
        self.assertEqual(read(os.path.join(self.a, "node.key")), before)
        c = os.path.join(self.tmp, "c")
        for bad in ("US-CERT", "-x", "a b", "x" * 64, ""):
            p = hl("init", "--dir", c, "--name", bad)
            self.assertEqual(p.returncode, EXIT_INVALID, (bad, p.stderr))
            self.assertIn(b"node name", p.stderr)
            self.assertFalse(os.path.exists(c))

    def test_partners_add_each_other_and_list_them(self):
        hl("peer", "add", "cn-cert", "--dir", self.a, "--url",
           "https://hotline.cn.example:8443/v1", "--key", self.pb, check=0)
        hl("peer", "add", "us-cert", "--dir", self.b, "--url",
           "http://127.0.0.1:8443/", "--key", self.pa, check=0)
        out = hl("peer", "list", "--dir", self.a, check=0).stdout.decode()
        self.assertEqual(out, "cn-cert https://hotline.cn.example:8443/v1 %s\n"
                         % self.pb)
        (line,) = hl("peer", "list", "--dir", self.b, "--json",
                     check=0).stdout.splitlines()
        self.assertEqual(json.loads(line),
                         {"name": "us-cert", "url": "http://127.0.0.1:8443/",
                          "key": self.pa})

    def test_bad_peers_are_refused_and_the_file_is_unchanged(self):
        hl("peer", "add", "cn-cert", "--dir", self.a, "--url",
           "https://cn.example", "--key", self.pb, check=0)
        peers = os.path.join(self.a, "peers")
        before = read(peers)
        cases = [
            (["cn-cert", "--url", "https://cn.example", "--key", self.pb],
             EXIT_EXISTS, b"a peer already"),
            (["other", "--url", "https://o.example", "--key", self.pb],
             EXIT_INVALID, b"for node cn-cert, not other"),
            (["us-cert", "--url", "https://a.example", "--key", self.pa],
             EXIT_INVALID, b"is this node"),
            (["x1", "--url", "http://x1.example/", "--key", self.pb],
             EXIT_INVALID, b"https"),
            (["x1", "--url", "https://x1.example/", "--key", self.pb[:-4]],
             EXIT_INVALID, b"public line"),
            (["X1", "--url", "https://x1.example/", "--key", self.pb],
             EXIT_INVALID, b"node name"),
        ]
        for args, code, why in cases:
            p = hl("peer", "add", *args, "--dir", self.a)
            self.assertEqual(p.returncode, code, (args, p.stderr))
            self.assertIn(why, p.stderr)
        self.assertEqual(read(peers), before)
        p = hl("peer", "add", "cn-cert", "--dir", self.a, "--url",
               "https://cn.example")
        self.assertEqual(p.returncode, EXIT_USAGE)

    def test_concurrent_adds_both_land(self):
        nodes = []
        for i in range(6):
            d = os.path.join(self.tmp, "n%d" % i)
            line = hl("init", "--dir", d, "--name", "node-%d" % i,
                      check=0).stdout.decode().strip()
            nodes.append(("node-%d" % i, line))
        env = dict(os.environ)
        procs = [subprocess.Popen([CLI, "hotline", "peer", "add", name,
                                   "--dir", self.a, "--url",
                                   "https://%s.example" % name, "--key", line],
                                  env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE)
                 for name, line in nodes]
        for p in procs:
            err = p.stderr.read()
            p.stderr.close()
            self.assertEqual(p.wait(), 0, err)
        listed = hl("peer", "list", "--dir", self.a, check=0).stdout.decode()
        self.assertEqual(sorted(l.split()[0] for l in listed.splitlines()),
                         [name for name, _ in nodes])

    def test_a_directory_that_is_not_a_node_or_is_damaged_is_named(self):
        p = hl("key", "--dir", self.tmp)
        self.assertEqual(p.returncode, EXIT_NOT_VAULT)
        self.assertIn(b"not a hotline node", p.stderr)
        with open(os.path.join(self.a, "peers"), "a") as f:
            f.write("cn-cert https://cn.example srnode1:cn-cert:AAAA\n")
        p = hl("peer", "list", "--dir", self.a)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"peers, line 1", p.stderr)
        with open(os.path.join(self.b, "node.key"), "ab") as f:
            f.write(b"x")
        p = hl("key", "--dir", self.b)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"node.key: not a hotline key file", p.stderr)

    def test_help_explains_every_subcommand(self):
        out = hl("--help", check=0).stdout.decode()
        for word in ("init", "key", "peer add", "peer list", "--url",
                     "$STRONGROOM_HOTLINE", "request new", "inbox", "ack",
                     "respond", "close", "status", "report --period",
                     "--person", "--fields", "--approval", "forward",
                     "witness", "serve"):
            self.assertIn(word, out)


class Exchange(unittest.TestCase):
    """Two nodes on loopback run a case: a referral, its receipts, an
    acknowledgement and a response; and what must not get through."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sr-hotline-x-")
        self.a = Node(self.tmp, "us-cert")
        self.b = Node(self.tmp, "cn-cert")
        self.a.knows(self.b)
        self.b.knows(self.a)

    def tearDown(self):
        self.a.stop()
        self.b.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def request(self, case="US-2026-0042", tlp="TLP:AMBER", body=REQUEST):
        return self.a.hl("request", "new", "cn-cert", "--case", case,
                         "--tlp", tlp, stdin=json.dumps(body).encode(),
                         check=0).stdout.decode().strip()

    def test_a_case_end_to_end_with_a_peer_down_at_first(self):
        rid = self.request()
        # B is down: the attempt fails, is kept with its cause, and waits.
        self.assertEqual(self.a.hl("deliver", check=0).stdout,
                         b"delivered 0, failed 1, waiting 0\n")
        (m,) = self.a.messages()
        self.assertEqual((m["id"], m["state"], m["attempts"], m["seq"]),
                         (rid, "queued", 1, 1))
        self.assertEqual(self.a.hl("deliver", check=0).stdout,
                         b"delivered 0, failed 0, waiting 1\n")
        self.b.start()
        self.assertEqual(self.a.hl("deliver", "--now", check=0).stdout,
                         b"delivered 1, failed 0, waiting 0\n")
        self.assertEqual(self.a.messages()[0]["state"], "delivered")
        (got,) = self.b.messages("--inbox")
        self.assertEqual((got["id"], got["peer"], got["case"], got["kind"],
                          got["tlp"]),
                         (rid, "us-cert", "US-2026-0042", "request",
                          "TLP:AMBER"))
        shown = self.b.hl("show", rid, check=0).stdout.splitlines()
        self.assertEqual(json.loads(shown[1]), REQUEST)
        # B acknowledges and answers; A takes both in, in order.
        ack = self.b.hl("ack", rid, "--note", "received", check=0).stdout
        resp = self.b.hl("respond", rid, stdin=json.dumps(
            {"answer": "the hosts are in AS64500",
             "indicators": bundle(INDICATOR)}).encode(), check=0).stdout
        self.a.start()
        self.assertEqual(self.b.hl("deliver", check=0).stdout,
                         b"delivered 2, failed 0, waiting 0\n")
        inbox = self.a.messages("--inbox")
        self.assertEqual([(m["kind"], m["seq"], m["tlp"]) for m in inbox],
                         [("ack", 1, "TLP:AMBER"), ("response", 2,
                                                    "TLP:AMBER")])
        self.assertEqual([m["id"] for m in inbox],
                         [ack.decode().strip(), resp.decode().strip()])
        # Each node's log names every message it sent, took in and had
        # receipted: by peer, case, number, id and SHA-256, and verifies.
        st, ct, cp = self.a.post_raw("/hotline/log/checkpoint", None, "GET")
        self.assertEqual((st, ct), (200, "text/plain; charset=utf-8"))
        self.assertTrue(cp.startswith(b"strongroom-hotline/us-cert\n"), cp)
        self.a.stop()
        self.b.stop()
        want = {
            self.a: [("hotline.send.request", "cn-cert", 1),
                     ("hotline.delivered", "cn-cert", 1),
                     ("hotline.receive.ack", "cn-cert", 1),
                     ("hotline.receive.response", "cn-cert", 2)],
            self.b: [("hotline.receive.request", "us-cert", 1),
                     ("hotline.send.ack", "us-cert", 1),
                     ("hotline.send.response", "us-cert", 2),
                     ("hotline.delivered", "us-cert", 1),
                     ("hotline.delivered", "us-cert", 2)]}
        for node, entries in want.items():
            log = node.log()
            self.assertEqual([(e["action"], e["principal"], e["count"])
                              for e in log], entries)
            for e in log:
                self.assertEqual(e["case"], "US-2026-0042")
                self.assertRegex(e["detail"], r"^seq \d+ id [0-9a-f]{32} "
                                 r"sha256 [0-9a-f]{64} tlp TLP:AMBER")
        self.assertIn("id %s " % rid, self.b.log()[0]["detail"])
        # Nothing of the body is on either disk in the clear.
        for node in (self.a, self.b):
            data = b"".join(read(os.path.join(root, n))
                            for root, _, names in os.walk(node.dir)
                            for n in names)
            self.assertIn(b"US-2026-0042", data)  # the case id is metadata
            self.assertNotIn(b"AS64500", data)
            self.assertNotIn(b"personnel records", data)

    def test_replays_reorders_forgeries_and_retargeting_are_refused(self):
        first = self.request()
        second = self.a.hl("send", "cn-cert", "--case", "US-2026-0042",
                           "--kind", "close", "--tlp", "TLP:AMBER",
                           stdin=b'{"reason":"withdrawn"}', check=0).stdout
        second = second.decode().strip()
        e1, e2 = self.a.envelope(first), self.a.envelope(second)
        self.b.start()
        # Out of order: message 2 before message 1.
        st, ct, body = self.b.post(e2)
        self.assertEqual(st, 409, body)
        self.assertEqual(ct, "application/problem+json")
        self.assertIn(b"out of order", body)
        # Altered in flight: the signature fails.
        forged = json.loads(e1)
        forged["tlp"] = "TLP:CLEAR"
        st, _, body = self.b.post(json.dumps(forged).encode())
        self.assertEqual(st, 403, body)
        self.assertIn(b"signature", body)
        st, _, r1 = self.b.post(e1)
        self.assertEqual(st, 200, r1)
        # The same message again (its receipt was lost): the same receipt.
        st, _, again = self.b.post(e1)
        self.assertEqual((st, again), (200, r1))
        self.assertEqual(self.b.post(e2)[0], 200)
        self.assertEqual(len(self.b.messages("--inbox")), 2)
        # Sent to B, shown to a third node that knows A: refused.
        c = Node(self.tmp, "third.example")
        c.knows(self.a)
        c.start()
        try:
            st, _, body = c.post(e1)
            self.assertEqual(st, 403, body)
            self.assertIn(b"addressed to another node", body)
        finally:
            c.stop()
        # A delivers what B already took in: both receipted, nothing twice.
        self.assertEqual(self.a.hl("deliver", check=0).stdout,
                         b"delivered 2, failed 0, waiting 0\n")
        self.assertEqual(len(self.b.messages("--inbox")), 2)

    def check_cosignature_held(self, node, witness):
        """node keeps witness's cosignature of node's log: its checkpoint
        signed by node's log key and cosigned (cosignature/v1) by the
        witness's key, at the size node's log had; a forged or altered
        one is refused."""
        (row,) = [json.loads(l) for l in node.hl(
            "cosignatures", "--json", check=0).stdout.splitlines()]
        self.assertEqual((row["peer"], row["held"]), (witness.name, True))
        with open(row["file"], "rb") as f:
            note = f.read()
        with open(os.path.join(node.dir, "log", "checkpoint"), "rb") as f:
            ours = f.read()
        body = note[:note.index(b"\n\n") + 1]
        self.assertTrue(ours.startswith(body))
        self.assertEqual(int(body.split(b"\n")[1]), row["size"])
        with open(os.path.join(witness.dir, "witness",
                               "witness.vkey")) as f:
            wkey = f.read().strip()
        self.assertTrue(cosignature_verifies(body, note, wkey))
        # Sent by someone else, or altered: refused.
        line = json.loads(json.dumps({"from": witness.name, "vkey": wkey,
                                      "note": note.decode(),
                                      "sig": base64.b64encode(
                                          b"\0" * 64).decode()}))
        st, _, _ = node.post_raw("/hotline/v1/cosignatures",
                              json.dumps(line).encode())
        self.assertEqual(st, 403)

    def test_a_partner_that_rewrites_its_log_is_caught_by_the_witness(self):
        # The log key in the public line is the one the node's log uses.
        with open(os.path.join(self.b.dir, "log.vkey")) as f:
            vkey = f.read().strip()
        self.assertTrue(vkey.startswith("strongroom-hotline/cn-cert+"))
        self.a.start()
        self.b.start()
        self.request("C-1")
        self.a.hl("deliver", check=0)
        self.a.stop()  # closing checkpoints A's log
        self.b.stop()
        self.b.start()
        out = self.a.hl("witness", check=0).stdout.decode()
        self.assertEqual(out, "cn-cert cosigned (sent back)\n")
        cosigned = os.listdir(os.path.join(self.a.dir, "witness", "cosigned"))
        self.assertEqual(len(cosigned), 1)
        self.check_cosignature_held(self.b, self.a)
        # B keeps a copy of its log as it is now, then goes on honestly.
        self.b.stop()
        saved = os.path.join(self.tmp, "b-log-saved")
        for part in ("log", "audit"):
            shutil.copytree(os.path.join(self.b.dir, part),
                            os.path.join(saved, part))
        self.b.start()
        self.request("C-2")
        self.a.hl("deliver", check=0)
        self.b.stop()
        self.b.start()
        self.assertEqual(self.a.hl("witness", check=0).stdout.decode(),
                         "cn-cert cosigned (sent back)\n")
        # Then B puts the old log back and writes another history on it,
        # as long as the one A saw: a fork.
        self.b.stop()
        for part in ("log", "audit"):
            shutil.rmtree(os.path.join(self.b.dir, part))
            shutil.copytree(os.path.join(saved, part),
                            os.path.join(self.b.dir, part))
        self.b.start()
        self.request("C-3")
        self.a.hl("deliver", check=0)
        self.b.stop()
        self.b.start()
        p = self.a.hl("witness")
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(b"cn-cert REWRITTEN OR ROLLED BACK", p.stdout)
        forks = os.listdir(os.path.join(self.a.dir, "witness", "forks"))
        self.assertEqual(len(forks), 1)
        # A peer that is down is said so, and is no fork.
        self.b.stop()
        p = self.a.hl("witness", check=0)
        self.assertIn(b"cn-cert not checked", p.stdout)

    def test_deadlines_show_in_both_sides_status_and_report(self):
        """Four requests: answered in time, answered after its deadline,
        unanswered past it, unanswered before it. Each side's report
        counts them the same."""
        future, past = "2099-01-01T00:00:00Z", "2026-01-01T00:00:00Z"
        ids = {}
        for case, deadline in (("C-ok", future), ("C-late", past),
                               ("C-overdue", past), ("C-open", future)):
            ids[case] = self.request(case, body=dict(
                REQUEST, response_deadline=deadline))
        self.b.start()
        self.a.hl("deliver", check=0)
        self.b.hl("ack", ids["C-ok"], check=0)
        for case in ("C-ok", "C-late"):
            self.b.hl("respond", ids[case], stdin=b'{"answer":"done"}',
                      check=0)
        self.a.start()
        self.assertEqual(self.b.hl("deliver", check=0).stdout,
                         b"delivered 3, failed 0, waiting 0\n")
        want = {"C-ok": ("answered", True), "C-late": ("late", False),
                "C-overdue": ("overdue", False), "C-open": ("open", False)}
        for node, direction in ((self.a, "out"), (self.b, "in")):
            rows = [json.loads(l) for l in node.hl(
                "status", "--json", check=0).stdout.splitlines()]
            self.assertEqual({r["case"]: (r["state"], r["acknowledged"])
                              for r in rows}, want)
            self.assertEqual({r["direction"] for r in rows}, {direction})
            today = time.strftime("%Y-%m-%d", time.gmtime())
            (row,) = [json.loads(l) for l in node.hl(
                "report", "--period", "%s..%s" % (today, today), "--json",
                check=0).stdout.splitlines()]
            self.assertEqual(
                {k: row[k] for k in ("requests", "acknowledged", "in_time",
                                     "late", "overdue", "open")},
                {"requests": 4, "acknowledged": 1, "in_time": 1, "late": 1,
                 "overdue": 1, "open": 1})
            # A period without them counts nothing.
            self.assertEqual(node.hl("report", "--period",
                                     "2020-01-01..2020-12-31",
                                     check=0).stdout, b"")
        p = self.a.hl("report", "--period", "2026-12-31..2026-01-01")
        self.assertEqual(p.returncode, EXIT_USAGE)

    def test_a_partner_that_withholds_its_receipts_shows_in_the_report(self):
        """A partner that takes messages and answers without a receipt:
        the sender's report counts them as not receipted, and keeps
        trying."""
        import http.server
        import threading

        class Mute(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers["Content-Length"]))
                body = b'{"detail":"taken"}\n'
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        mute = Node(self.tmp, "mute.example")
        srv = http.server.HTTPServer(("127.0.0.1", mute.port), Mute)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        try:
            self.a.knows(mute)
            self.a.hl("request", "new", "mute.example", "--case", "M-1",
                      "--tlp", "TLP:AMBER", stdin=json.dumps(REQUEST).encode(),
                      check=0)
            self.request("M-2")  # to cn-cert, which does receipt
            self.b.start()
            self.assertEqual(self.a.hl("deliver", check=0).stdout,
                             b"delivered 1, failed 1, waiting 0\n")
            today = time.strftime("%Y-%m-%d", time.gmtime())
            rows = {r["peer"]: r for r in (json.loads(l) for l in self.a.hl(
                "report", "--period", "%s..%s" % (today, today), "--json",
                check=0).stdout.splitlines())}
            self.assertEqual((rows["mute.example"]["requests"],
                              rows["mute.example"]["unreceipted"]), (1, 1))
            self.assertEqual(rows["cn-cert"]["unreceipted"], 0)
            text = self.a.hl("report", "--period", "%s..%s" % (today, today),
                             check=0).stdout.decode()
            self.assertIn("mute.example", text)
            self.assertIn("messages not receipted 1", text)
            # Nothing came in to the sender; the receiver's inbox has one.
            self.assertEqual(self.a.hl("inbox", check=0).stdout, b"")
            self.assertEqual(len(self.b.hl("inbox", "--json", check=0)
                                 .stdout.splitlines()), 1)
            (m,) = [m for m in self.a.messages() if m["peer"] ==
                    "mute.example"]
            self.assertEqual((m["state"], m["attempts"]), ("queued", 1))
        finally:
            srv.shutdown()
            srv.server_close()

    def test_no_message_is_lost_or_doubled_when_either_side_is_killed(self):
        """30 messages in one case; the receiver is killed (SIGKILL) while
        they are being delivered, then the sender's deliver is killed
        too; once both are back, every message is delivered exactly once,
        in order, and both logs verify."""
        sent = [self.a.hl("send", "cn-cert", "--case", "C-9", "--kind",
                          "close" if i == 29 else "ack", "--tlp", "TLP:GREEN",
                          stdin=(b'{"reason":"end"}' if i == 29 else
                                 b'{"note":"%d"}' % i), check=0)
                .stdout.decode().strip() for i in range(30)]
        self.b.start()
        deliver = subprocess.Popen([CLI, "hotline", "deliver", "--dir",
                                    self.a.dir], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE)
        # Wait until B has taken some in (not a timed assertion: the kill
        # may land anywhere, and what follows must hold wherever it does).
        for _ in range(500):
            if len(self.b.messages("--inbox")) >= 3:
                break
            time.sleep(0.01)
        self.b.proc.kill()
        self.b.proc.wait()
        self.b.proc.stderr.close()
        self.b.proc = None
        deliver.kill()
        deliver.wait()
        deliver.stdout.close()
        deliver.stderr.close()
        self.b.start()
        for _ in range(10):
            out = self.a.hl("deliver", "--now", check=0).stdout
            if all(m["state"] == "delivered" for m in self.a.messages()):
                break
        self.assertTrue(all(m["state"] == "delivered"
                            for m in self.a.messages()), out)
        got = self.b.messages("--inbox")
        self.assertEqual([m["id"] for m in got], sent)
        self.assertEqual([m["seq"] for m in got], list(range(1, 31)))
        self.b.stop()
        # An attempt killed between its log entry and its commit is
        # logged again when retried: each message at least once.
        delivered = [e["count"] for e in self.a.log()
                     if e["action"] == "hotline.delivered"]
        self.assertEqual(sorted(set(delivered)), list(range(1, 31)))
        received = [e for e in self.b.log()
                    if e["action"].startswith("hotline.receive.")]
        # A message taken in whose receipt was lost is taken in again as
        # the same message (the same receipt): logged once per taking in,
        # and stored once.
        self.assertGreaterEqual(len(received), 30)
        self.assertEqual(sorted({e["count"] for e in received}),
                         list(range(1, 31)))

    def test_a_batch_answers_each_message_in_its_place(self):
        """One POST of several messages (what deliver sends): each gets
        its own answer, in order; a bad one is refused alone, and one of
        its case after it is then out of order."""
        ids = [self.a.hl("send", "cn-cert", "--case", case, "--kind", "ack",
                         "--tlp", "TLP:GREEN", stdin=b"{}", check=0)
               .stdout.decode().strip()
               for case in ("K-1", "K-1", "K-2", "K-1")]
        env = [self.a.envelope(i) for i in ids]
        forged = json.loads(env[1])
        forged["tlp"] = "TLP:CLEAR"
        self.b.start()
        st, ct, body = self.b.post_batch(
            [env[0], json.dumps(forged).encode(), env[2], env[3]])
        self.assertEqual((st, ct), (200, "application/x-ndjson"))
        lines = [json.loads(l) for l in body.splitlines()]
        self.assertEqual(len(lines), 4)
        self.assertEqual([l.get("kind") for l in lines],
                         ["receipt", None, "receipt", None])
        self.assertEqual((lines[1]["problem"], lines[1]["status"]),
                         ("not-accepted", 403))
        self.assertEqual((lines[3]["problem"], lines[3]["status"]),
                         ("sequence", 409))
        self.assertIn("out of order", lines[3]["detail"])
        self.assertEqual(sorted(m["id"] for m in self.b.messages("--inbox")),
                         sorted([ids[0], ids[2]]))
        # The sender's own delivery then brings the rest, in order.
        self.assertEqual(self.a.hl("deliver", check=0).stdout,
                         b"delivered 4, failed 0, waiting 0\n")
        self.assertEqual([m["id"] for m in self.b.messages("--inbox")
                          if m["case"] == "K-1"], [ids[0], ids[1], ids[3]])

    def test_only_clear_and_green_are_passed_on_to_a_third_node(self):
        c = Node(self.tmp, "third.example")
        self.b.knows(c)
        c.knows(self.b)
        ids = {tlp: self.request("F-" + tlp.split(":")[1].replace("+", "-"),
                                 tlp=tlp)
               for tlp in ("TLP:RED", "TLP:AMBER+STRICT", "TLP:AMBER",
                           "TLP:GREEN", "TLP:CLEAR")}
        self.b.start()
        self.a.hl("deliver", check=0)
        for tlp in ("TLP:RED", "TLP:AMBER+STRICT", "TLP:AMBER"):
            p = self.b.hl("forward", ids[tlp], "--to", "third.example")
            self.assertEqual(p.returncode, 25, (tlp, p.stderr))
            self.assertIn(tlp.encode(), p.stderr)
        # Back to its sender is no forwarding.
        p = self.b.hl("forward", ids["TLP:GREEN"], "--to", "us-cert")
        self.assertEqual(p.returncode, EXIT_INVALID, p.stderr)
        self.assertEqual([m for m in self.b.messages() if m["direction"] ==
                          "out"], [])
        for tlp in ("TLP:GREEN", "TLP:CLEAR"):
            self.b.hl("forward", ids[tlp], "--to", "third.example",
                      "--case", "CN-FWD-1", check=0)
        c.start()
        try:
            self.assertEqual(self.b.hl("deliver", check=0).stdout,
                             b"delivered 2, failed 0, waiting 0\n")
            got = c.messages("--inbox")
            self.assertEqual([(m["tlp"], m["case"], m["peer"]) for m in got],
                             [("TLP:GREEN", "CN-FWD-1", "cn-cert"),
                              ("TLP:CLEAR", "CN-FWD-1", "cn-cert")])
            body = c.hl("show", got[0]["id"], check=0).stdout.splitlines()[1]
            self.assertEqual(json.loads(body), REQUEST)
        finally:
            c.stop()

    def test_attachments_travel_encrypted_hashed_and_bounded(self):
        sample = os.path.join(self.tmp, "sample.bin")
        data = os.urandom(100000) + b"MALWARE-MARKER"
        with open(sample, "wb") as f:
            f.write(data)
        p = self.a.hl("request", "new", "cn-cert", "--case", "A-1", "--tlp",
                      "TLP:RED", "--attach", sample,
                      stdin=json.dumps(REQUEST).encode(), check=0)
        rid = p.stdout.decode().strip()
        self.b.start()
        self.a.hl("deliver", check=0)
        out = os.path.join(self.tmp, "got.bin")
        self.b.hl("attachment", rid, "0", "--out", out, check=0)
        self.assertEqual(read(out), data)
        # Never over an existing file; no such attachment.
        self.assertEqual(self.b.hl("attachment", rid, "0", "--out",
                                   out).returncode, 21)
        self.assertEqual(self.b.hl("attachment", rid, "1", "--out",
                                   out + "2").returncode, 12)
        # Encrypted on the wire and at rest: the sample is in no file.
        for node in (self.a, self.b):
            blob = b"".join(read(os.path.join(r, n))
                            for r, _, names in os.walk(node.dir)
                            for n in names)
            self.assertNotIn(b"MALWARE-MARKER", blob)
        # A hash that does not match, and a sample over 4 MiB: refused.
        bad = dict(REQUEST, attachments=[{
            "name": "x.bin", "media_type": "application/octet-stream",
            "size": 3, "sha256": "00" * 32, "data": "YWJj"}])
        p = self.a.hl("request", "new", "cn-cert", "--case", "A-2", "--tlp",
                      "TLP:RED", stdin=json.dumps(bad).encode())
        self.assertEqual(p.returncode, EXIT_INVALID, p.stderr)
        self.assertIn(b"does not hash to its sha256", p.stderr)
        big = os.path.join(self.tmp, "big.bin")
        with open(big, "wb") as f:
            f.write(b"\0" * ((4 << 20) + 1))
        p = self.a.hl("request", "new", "cn-cert", "--case", "A-3", "--tlp",
                      "TLP:RED", "--attach", big,
                      stdin=json.dumps(REQUEST).encode())
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"larger than 4 MiB", p.stderr)

    def test_a_running_node_takes_in_a_peer_added_meanwhile(self):
        self.b.start()
        d = Node(self.tmp, "late.example")
        d.knows(self.b)
        self.b.knows(d)  # while B runs
        d.hl("send", "cn-cert", "--case", "L-1", "--kind", "ack", "--tlp",
             "TLP:GREEN", stdin=b"{}", check=0)
        self.assertEqual(d.hl("deliver", check=0).stdout,
                         b"delivered 1, failed 0, waiting 0\n")

    def test_large_messages_are_sent_in_batches_the_peer_takes(self):
        """Two messages of about 7.5 MB each (a 4 MiB sample, base64 twice
        over): together longer than a peer takes in one request, so they
        go in two."""
        sample = os.path.join(self.tmp, "big-sample.bin")
        with open(sample, "wb") as f:
            f.write(os.urandom(4 << 20))
        for case in ("B-1", "B-2"):
            self.a.hl("request", "new", "cn-cert", "--case", case, "--tlp",
                      "TLP:RED", "--attach", sample,
                      stdin=json.dumps(REQUEST).encode(), check=0)
        self.b.start()
        self.assertEqual(self.a.hl("deliver", check=0).stdout,
                         b"delivered 2, failed 0, waiting 0\n")

    def test_over_tls_with_the_peers_certificate_checked(self):
        certs = Certs(self.tmp)
        c = Node(self.tmp, "tls-node", certs=certs)
        self.a.knows(c)
        c.knows(self.a)
        c.start()
        try:
            self.a.hl("send", "tls-node", "--case", "T-1", "--kind", "ack",
                      "--tlp", "TLP:GREEN", stdin=b"{}", check=0)
            # Without the CA that signed its certificate: not delivered.
            out = self.a.hl("deliver", check=0).stdout
            self.assertEqual(out, b"delivered 0, failed 1, waiting 0\n")
            (m,) = self.a.messages()
            self.assertIn("certificate", m["state"] + self.a.hl(
                "messages", check=0).stdout.decode())
            out = self.a.hl("deliver", "--now", "--ca", certs.server_ca,
                            check=0).stdout
            self.assertEqual(out, b"delivered 1, failed 0, waiting 0\n")
            self.assertEqual(len(c.messages("--inbox")), 1)
        finally:
            c.stop()

    def test_bad_bodies_and_unknown_peers_are_refused_before_queueing(self):
        bad = dict(REQUEST, urgency="whenever")
        p = self.a.hl("request", "new", "cn-cert", "--case", "C-1", "--tlp",
                      "TLP:RED", stdin=json.dumps(bad).encode())
        self.assertEqual(p.returncode, EXIT_INVALID, p.stderr)
        self.assertIn(b"urgency", p.stderr)
        p = self.a.hl("request", "new", "nobody", "--case", "C-1", "--tlp",
                      "TLP:RED", stdin=json.dumps(REQUEST).encode())
        self.assertEqual(p.returncode, 12, p.stderr)
        p = self.a.hl("request", "new", "cn-cert", "--case", "C 1", "--tlp",
                      "TLP:RED", stdin=json.dumps(REQUEST).encode())
        self.assertEqual(p.returncode, EXIT_INVALID, p.stderr)
        p = self.a.hl("request", "new", "cn-cert", "--case", "C-1", "--tlp",
                      "TLP:WHITE", stdin=json.dumps(REQUEST).encode())
        self.assertEqual(p.returncode, EXIT_INVALID, p.stderr)
        self.assertEqual(self.a.messages(), [])

    def test_a_message_id_that_is_not_there_is_named(self):
        missing = "0" * 31 + "1"
        for args in (("show", missing), ("respond", missing),
                     ("forward", missing, "--to", "cn-cert")):
            p = self.a.hl(*args, stdin=json.dumps(REQUEST).encode())
            self.assertEqual(p.returncode, 12, (args, p.stderr))
            self.assertIn(("message %s: no such message" % missing).encode(),
                          p.stderr, args)
            p = self.a.hl(args[0], "c0ffee", *args[2:],
                          stdin=json.dumps(REQUEST).encode())
            self.assertEqual(p.returncode, EXIT_INVALID, (args, p.stderr))
            self.assertIn(b"a message id is 32 hex digits", p.stderr)
        self.assertEqual(self.a.messages(), [])


class PersonalData(unittest.TestCase):
    """A referral that carries personal data from the vault (issue 9 item
    5): only under a second person's approval bound to the people and the
    fields, only those fields leave, the read is in the vault's log, and
    the message is never passed on."""

    FIELDS = ["--fields", "birth.date, name"]

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sr-hotline-pd-")
        self.a = Node(self.tmp, "us-cert")
        self.b = Node(self.tmp, "cn-cert")
        self.a.knows(self.b)
        self.b.knows(self.a)
        self.v = Vault(os.path.join(self.tmp, "vault"), expected_people=100)
        for name, role, service in (("intake", "intake", True),
                                    ("inv", "investigator", False),
                                    ("so", "security-officer", False),
                                    ("aud", "auditor", False)):
            self.v.add(name, role, service=service)
        self.people = gen(3, 41)
        self.ids = []
        for p in self.people:
            out = self.v.sr(["put", "--purpose", "intake"], who="intake",
                            stdin=json.dumps(p).encode(), check=0).stdout
            self.ids.append(out.decode().strip())
        self.v.sr(["case", "open", "C-9"], check=0)
        self.v.sr(["case", "assign", "C-9", "--to", "inv"], check=0)
        for pid in self.ids[:2]:
            self.v.sr(["case", "add", "C-9", "--person", pid], check=0)
        self.access = ["--purpose", "initial-investigation"]

    def tearDown(self):
        self.a.stop()
        self.b.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def refer(self, people, approval, tlp="TLP:RED", fields=None):
        return run(["hotline", "request", "new", "cn-cert", "--dir",
                    self.a.dir, "--case", "US-PD-1", "--tlp", tlp,
                    "--vault", self.v.path, "--person", ",".join(people),
                    "--vault-case", "C-9", "--approval", approval]
                   + self.access + (fields or self.FIELDS),
                   token=self.v.tokens["inv"],
                   stdin=json.dumps(REQUEST).encode())

    def approval(self, people, fields=None):
        return self.v.approve("inv", "so", "share", "--person",
                              ",".join(people), "--case", "C-9",
                              *(self.access + (fields or self.FIELDS)))

    def test_only_the_approved_fields_of_the_approved_people_leave(self):
        two = self.ids[:2]
        # Without an approval, or with one asked for but not approved:
        # refused by the vault, nothing queued.
        p = self.refer(two, "0123456789abcdef")
        self.assertEqual(p.returncode, 12, p.stderr)
        pending = self.v.sr(["approval", "request", "share", "--person",
                             ",".join(two), "--case", "C-9"] + self.access
                            + self.FIELDS, who="inv",
                            check=0).stdout.decode().strip()
        p = self.refer(two, pending)
        self.assertEqual(p.returncode, 25, p.stderr)
        self.assertIn(b"approval.invalid", p.stderr)
        self.assertIn(b"not approved yet", p.stderr)
        # The requester cannot approve its own request.
        p = self.v.sr(["approval", "approve", pending], who="inv")
        self.assertEqual(p.returncode, 25, p.stderr)
        aid = self.approval(two)
        # The approval is bound to the people and the fields.
        for people, fields, why in (
                (two[:1], None, b"other people or fields"),
                (two, ["--fields", "name,birth"], b"other people or fields"),
                (two, ["--fields", "name,ssn"], b"other people or fields"),
                (two, ["--fields", "name"], b"other field classes")):
            p = self.refer(people, aid, fields=fields)
            self.assertEqual(p.returncode, 25, (people, fields, p.stderr))
            self.assertIn(b"approval.invalid", p.stderr)
            self.assertIn(why, p.stderr)
        # A person off the case: the policy refuses before the approval.
        p = self.refer(two[:1] + self.ids[2:], aid)
        self.assertEqual(p.returncode, 25, p.stderr)
        self.assertIn(b"case.person", p.stderr)
        # Personal data stays within the recipient's organisation.
        p = self.refer(two, aid, tlp="TLP:AMBER")
        self.assertEqual(p.returncode, EXIT_USAGE, p.stderr)
        self.assertEqual(self.a.messages(), [])
        before = self.v.log_size()
        p = self.refer(two, aid)
        self.assertEqual(p.returncode, 0, p.stderr)
        mid = p.stdout.decode().strip()
        self.b.start()
        self.assertEqual(self.a.hl("deliver", check=0).stdout,
                         b"delivered 1, failed 0, waiting 0\n")
        got = self.b.messages("--inbox")
        self.assertEqual([(m["id"], m["tlp"]) for m in got],
                         [(mid, "TLP:RED")])
        body = json.loads(self.b.hl("show", mid,
                                    check=0).stdout.splitlines()[1])
        pd = body.pop("personal_data")
        self.assertEqual(body, REQUEST)
        self.assertEqual(pd["approval"], aid)
        self.assertEqual(pd["fields"], "name,birth.date")
        self.assertEqual(pd["people"],
                         [{"name": p["name"],
                           "birth": {"date": p["birth"]["date"]}}
                          for p in self.people[:2]])
        # The vault logged the read: who, which people, which approval and
        # fields; the approver saw the fields, never the people.
        shares = [e for e in self.v.entries(from_=before)
                  if e["action"] == "share"]
        self.assertEqual(len(shares), 1, shares)
        self.assertEqual(shares[0]["principal"], "inv")
        self.assertEqual(shares[0]["outcome"], "allowed")
        self.assertEqual(shares[0]["detail"],
                         "approval %s, fields name,birth.date" % aid)
        self.assertEqual(len(shares[0]["people"]), 2)
        listed = [json.loads(l) for l in self.v.sr(
            ["approval", "list"], who="so", check=0).stdout.splitlines()]
        mine = next(a for a in listed if a["id"] == aid)
        self.assertEqual((mine["action"], mine["fields"], mine["people"]),
                         ("share", "name,birth.date", 2))
        self.assertNotIn(self.ids[0], json.dumps(listed))
        # A breach report on the sharer names the people and classes sent.
        rep = json.loads(self.v.sr(
            ["breach", "report", "--principal", "inv", "--format", "json"],
            who="so", check=0).stdout.splitlines()[0])
        self.assertEqual((rep["people"], rep["people_by_class"]["name"],
                          rep["people_by_class"]["identity"],
                          rep["people_by_class"]["contact"]), (2, 2, 2, 0))
        # Never passed on, whatever the node is told.
        c = Node(self.tmp, "third.example")
        self.b.knows(c)
        p = self.b.hl("forward", mid, "--to", "third.example")
        self.assertEqual(p.returncode, 25, p.stderr)
        self.assertIn(b"carries personal data", p.stderr)

    def test_sharing_a_decoy_freezes_the_sharer(self):
        decoy = json.loads(self.v.sr(["decoy", "list"], who="so",
                                     check=0).stdout.splitlines()[0])["id"]
        self.v.sr(["case", "add", "C-9", "--person", decoy], check=0)
        aid = self.approval([self.ids[0], decoy])
        p = self.refer([self.ids[0], decoy], aid)
        self.assertEqual(p.returncode, 0, p.stderr)
        # As with a get: served, and the next request is refused (a frozen
        # principal's token fails as any bad token does).
        p = self.refer([self.ids[0], decoy], aid)
        self.assertEqual(p.returncode, 14, p.stderr)
        self.assertEqual(len(self.a.messages()), 1)
        users = [json.loads(l) for l in self.v.sr(
            ["user", "list"], check=0).stdout.splitlines()]
        self.assertTrue(next(u for u in users if u["name"] == "inv")
                        ["frozen"])

    def test_a_body_holding_more_than_its_fields_is_refused(self):
        person = self.people[0]
        for pd in (
                {"approval": "0123456789abcdef", "fields": "name",
                 "people": [{"name": person["name"], "ssn": person["ssn"]}]},
                {"approval": "0123456789abcdef", "fields": "birth.date",
                 "people": [{"birth": {"date": person["birth"]["date"],
                                       "city": "Springfield"}}]},
                {"approval": "0123456789abcdef", "fields": "birth.date,name",
                 "people": [{"name": person["name"]}]},
                {"approval": "0123456789abcdef", "fields": "id",
                 "people": [{"id": self.ids[0]}]},
                {"approval": "0123456789abcdef", "fields": "name",
                 "people": []}):
            p = self.a.hl("request", "new", "cn-cert", "--case", "US-PD-2",
                          "--tlp", "TLP:RED",
                          stdin=json.dumps(dict(REQUEST,
                                                personal_data=pd)).encode())
            self.assertEqual(p.returncode, EXIT_INVALID, (pd, p.stderr))
            self.assertIn(b"personal_data", p.stderr)
            self.assertNotIn(person["ssn"].encode(), p.stderr)
        # Well formed but marked for wider sharing than its recipient.
        pd = {"approval": "0123456789abcdef", "fields": "name",
              "people": [{"name": person["name"]}]}
        p = self.a.hl("request", "new", "cn-cert", "--case", "US-PD-2",
                      "--tlp", "TLP:AMBER",
                      stdin=json.dumps(dict(REQUEST,
                                            personal_data=pd)).encode())
        self.assertEqual(p.returncode, EXIT_INVALID, p.stderr)
        self.assertIn(b"TLP:AMBER+STRICT or TLP:RED", p.stderr)
        self.assertEqual(self.a.messages(), [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
