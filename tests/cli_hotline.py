#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""strongroom hotline: making a node, its public line, adding and listing
partner nodes (docs/hotline.md). Two nodes in temporary directories
exchange their lines as partners would."""
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from srcli import CLI, EXIT_NOT_VAULT, EXIT_USAGE, run  # noqa: E402

EXIT_EXISTS = 21
EXIT_INVALID = 11


def read(path):
    with open(path, "rb") as f:
        return f.read()


def hl(*args, check=None):
    return run(["hotline"] + list(args), check=check)


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
        self.assertRegex(self.pa, r"^srnode1:us-cert:[A-Za-z0-9+/]{86}==$")
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
            self.assertEqual(p.wait(), 0, p.stderr.read())
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
                     "$STRONGROOM_HOTLINE"):
            self.assertIn(word, out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
