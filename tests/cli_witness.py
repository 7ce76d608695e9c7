#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The witness issue, driven through the strongroom command: a witness is
made (strongroom witness init), cosigns a vault's checkpoints after
checking consistency (witness cosign [--publish]), refuses a fork shown to
it (a copy of the vault that went its own way), and the vault requires k
witness cosignatures (audit witness add/require/list/remove) that a
keyless 'audit verify' enforces, holding the published configuration to
the signed log.

Self-contained (needs only SR_CLI in the environment; ctest sets it)."""
import os
import shutil
import subprocess
import tempfile
import unittest

from srcli import reseal

CLI = os.environ["SR_CLI"]
PASS = "correct horse battery staple"
EXIT_REJECTS, EXIT_USAGE = 1, 2
EXIT_INVALID, EXIT_NOT_FOUND, EXIT_EXISTS, EXIT_DENIED = 11, 12, 21, 25


def run(args, vault=None, token=None, check=None):
    env = dict(os.environ)
    for k in ("STRONGROOM_TOKEN", "STRONGROOM_VAULT"):
        env.pop(k, None)
    env["STRONGROOM_PASSPHRASE"] = PASS
    if vault is not None:
        env["STRONGROOM_VAULT"] = vault
    if token is not None:
        env["STRONGROOM_TOKEN"] = token
    p = subprocess.run([CLI] + args, capture_output=True, env=env)
    if check is not None and p.returncode != check:
        raise AssertionError("%s: exit %d, wanted %d\nstdout: %s\nstderr: %s"
                             % (args, p.returncode, check, p.stdout[:2000],
                                p.stderr[:2000]))
    return p


class Witness(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sr_cli_witness_")
        self.vault = os.path.join(self.dir, "vault")
        p = run(["init", "--vault", self.vault, "--kdf", "interactive",
                 "--expected-people", "1000"], check=0)
        self.token = p.stdout.decode().strip()
        reseal(self.vault)
        self.w = {}
        for name in ("w1", "w2"):
            state = os.path.join(self.dir, name)
            p = run(["witness", "init", "--state", state, "--name",
                     "witness.test/" + name], check=0)
            vkey = p.stdout.decode().strip()
            with open(os.path.join(state, "witness.vkey")) as f:
                self.assertEqual(f.read(), vkey + "\n")
            self.w[name] = state

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def sr(self, args, vault=None, token=None, check=None):
        return run(args, vault=vault or self.vault,
                   token=token or self.token, check=check)

    def cosign(self, w, vault=None, publish=True, check=0):
        vault = vault or self.vault
        args = ["witness", "cosign", "--state", self.w[w], "--log",
                os.path.join(vault, "log"), "--log-key",
                os.path.join(vault, "log.vkey")]
        if publish:
            args.append("--publish")
        return run(args, check=check)

    def vkey_file(self, w):
        return os.path.join(self.w[w], "witness.vkey")

    def verify(self, *extra, check=None):
        return run(["audit", "verify", "--vault", self.vault] + list(extra),
                   check=check)

    # ---- the witness -------------------------------------------------

    def test_init_makes_a_private_key_once(self):
        key = os.path.join(self.w["w1"], "witness.key")
        self.assertEqual(os.stat(key).st_mode & 0o777, 0o600)
        self.assertEqual(os.stat(self.w["w1"]).st_mode & 0o777, 0o700)
        with open(key, "rb") as f:
            before = f.read()
        p = run(["witness", "init", "--state", self.w["w1"], "--name",
                 "witness.test/other"], check=EXIT_EXISTS)
        self.assertIn(b"never replaced", p.stderr)
        with open(key, "rb") as f:
            self.assertEqual(f.read(), before)
        run(["witness", "init", "--state", os.path.join(self.dir, "bad"),
             "--name", "has space"], check=EXIT_INVALID)
        run(["witness", "init", "--state", self.w["w1"]], check=EXIT_USAGE)
        run(["witness", "frobnicate", "--state", self.w["w1"]],
            check=EXIT_USAGE)
        p = run(["witness", "--help"], check=0)
        self.assertIn(b"trusted on first use", p.stdout)

    def test_cosign_publish_and_verify_with_explicit_witnesses(self):
        p = self.cosign("w1", publish=False)
        self.assertIn(b"trusted on first use", p.stdout)
        w1 = ["--witness", self.vkey_file("w1")]
        w12 = w1 + ["--witness", self.vkey_file("w2")]
        # Not published: the log carries no cosignature yet.
        p = self.verify(*w1, "--min-cosignatures", "1", check=EXIT_REJECTS)
        self.assertIn(b"0 valid witness cosignatures, 1 required", p.stderr)
        p = self.cosign("w1")
        self.assertIn(b"cosigned again", p.stdout)
        self.assertIn(b"published", p.stdout)
        p = self.verify(*w1, "--min-cosignatures", "1", check=0)
        self.assertIn(b"1 witness cosignatures", p.stdout)
        self.verify(*w12, "--min-cosignatures", "2", check=EXIT_REJECTS)
        self.cosign("w2")
        self.verify(*w12, "--min-cosignatures", "2", check=0)
        # The vault moves on (every command is logged): the new checkpoint
        # needs cosigning again, and the witness checks it grew.
        self.sr(["audit", "checkpoint"], check=0)
        self.verify(*w1, "--min-cosignatures", "1", check=EXIT_REJECTS)
        p = self.cosign("w1")
        self.assertIn(b"consistently", p.stdout)
        self.verify(*w1, "--min-cosignatures", "1", check=0)

    def test_a_fork_shown_to_a_witness_is_refused(self):
        self.cosign("w1")
        # A copy of the vault (same key, same log origin) that records
        # something else from here on: a fork of the log.
        fork = os.path.join(self.dir, "fork")
        shutil.copytree(self.vault, fork, symlinks=True)
        self.sr(["user", "add", "alice", "--role", "auditor"], check=0)
        self.sr(["user", "add", "mallory", "--role", "admin"], vault=fork,
                check=0)
        self.cosign("w1")
        with open(os.path.join(self.w["w1"], "logs", os.listdir(
                os.path.join(self.w["w1"], "logs"))[0]), "rb") as f:
            seen = f.read()
        p = self.cosign("w1", vault=fork, check=EXIT_REJECTS)
        self.assertIn(b"fork", p.stderr)
        self.assertIn(b"evidence in", p.stderr)
        forks = os.listdir(os.path.join(self.w["w1"], "forks"))
        self.assertEqual(len(forks), 1)
        with open(os.path.join(self.w["w1"], "forks", forks[0]), "rb") as f:
            evidence = f.read()
        with open(os.path.join(fork, "log", "checkpoint"), "rb") as f:
            forked = f.read()
        self.assertIn(forked, evidence)
        self.assertNotIn(b"witness.test/w1", forked)  # not published there
        with open(os.path.join(self.w["w1"], "logs", os.listdir(
                os.path.join(self.w["w1"], "logs"))[0]), "rb") as f:
            self.assertEqual(f.read(), seen)
        # The honest vault goes on and is still cosigned; the fork, grown
        # further, is still refused.
        self.sr(["audit", "checkpoint"], check=0)
        self.cosign("w1")
        self.sr(["audit", "checkpoint"], vault=fork, check=0)
        self.sr(["audit", "checkpoint"], vault=fork, check=0)
        self.sr(["audit", "checkpoint"], vault=fork, check=0)
        p = self.cosign("w1", vault=fork, check=EXIT_REJECTS)
        self.assertIn(b"fork", p.stderr)

    def test_cosign_refuses_bad_input(self):
        log = os.path.join(self.vault, "log")
        # The witness's own key is not the log's key.
        run(["witness", "cosign", "--state", self.w["w1"], "--log", log,
             "--log-key", self.vkey_file("w2")], check=EXIT_INVALID)
        run(["witness", "cosign", "--state", os.path.join(self.dir, "none"),
             "--log", log, "--log-key",
             os.path.join(self.vault, "log.vkey")], check=EXIT_NOT_FOUND)
        run(["witness", "cosign", "--state", self.w["w1"], "--log", log],
            check=EXIT_USAGE)
        # A checkpoint that lost its signature is refused, not cosigned.
        self.cosign("w1")
        cp = os.path.join(log, "checkpoint")
        with open(cp, "rb") as f:
            good = f.read()
        with open(cp, "wb") as f:
            f.write(good.replace(b"\n\n", b"\n\nx", 1))
        p = self.cosign("w1", check=26)
        self.assertIn(b"refused", p.stderr)
        with open(cp, "wb") as f:
            f.write(good)
        self.cosign("w1")

    # ---- the vault requires k witnesses ------------------------------

    def test_the_vault_requires_k_witness_cosignatures(self):
        self.sr(["audit", "witness", "add", "w1", self.vkey_file("w1")],
                check=0)
        self.sr(["audit", "witness", "add", "w2", self.vkey_file("w2")],
                check=0)
        # One key counts once; no more than there are; bad keys.
        self.sr(["audit", "witness", "add", "w3", self.vkey_file("w1")],
                check=EXIT_EXISTS)
        self.sr(["audit", "witness", "add", "log", os.path.join(
            self.vault, "log.vkey")], check=EXIT_INVALID)
        self.sr(["audit", "witness", "require", "3"], check=EXIT_INVALID)
        self.sr(["audit", "witness", "require", "2"], check=0)
        p = self.sr(["audit", "witness", "list"], check=0)
        lines = p.stdout.decode().splitlines()
        self.assertEqual(len(lines), 2)
        self.assertIn('"name":"w1"', lines[0])
        self.assertIn(b"2 cosignatures required", p.stderr)
        with open(os.path.join(self.vault, "log", "witnesses")) as f:
            published = f.read()
        self.assertTrue(published.startswith("min 2\n"))
        self.assertEqual(len(published.splitlines()), 3)

        # Another role may not change it (and the denial is logged).
        self.sr(["user", "add", "carol", "--role", "auditor"], check=0)
        carol = self.sr(["token", "create", "carol"],
                        check=0).stdout.decode().strip()
        self.sr(["audit", "witness", "require", "0"], token=carol,
                check=EXIT_DENIED)

        # audit verify enforces it with no flags: none, one, two.
        p = self.verify(check=EXIT_REJECTS)
        self.assertIn(b"0 valid witness cosignatures, 2 required", p.stderr)
        self.cosign("w1")
        self.verify(check=EXIT_REJECTS)
        self.cosign("w2")
        p = self.verify(check=0)
        self.assertIn(b"2 witness cosignatures (2 required by log/witnesses)",
                      p.stdout)
        # Explicit flags take over from the file.
        self.verify("--min-cosignatures", "0", check=0)

        # The file is held to the log: edited or removed, verify fails.
        path = os.path.join(self.vault, "log", "witnesses")
        with open(path, "w") as f:
            f.write("min 0\n")
        p = self.verify(check=EXIT_REJECTS)
        self.assertIn(b"witnesses: differs", p.stderr)
        os.unlink(path)
        p = self.verify(check=EXIT_REJECTS)
        self.assertIn(b"the file was removed", p.stderr)
        with open(path, "w") as f:
            f.write(published)
        self.verify(check=0)

        # Removing a witness needs the requirement lowered first.
        self.sr(["audit", "witness", "remove", "w2"], check=EXIT_INVALID)
        self.sr(["audit", "witness", "require", "1"], check=0)
        self.sr(["audit", "witness", "remove", "w2"], check=0)
        self.sr(["audit", "witness", "remove", "w2"], check=EXIT_NOT_FOUND)
        with open(path) as f:
            self.assertEqual(len(f.read().splitlines()), 2)
        self.verify(check=EXIT_REJECTS)
        self.cosign("w1")
        p = self.verify(check=0)
        self.assertIn(b"(1 required by log/witnesses)", p.stdout)


if __name__ == "__main__":
    unittest.main()
