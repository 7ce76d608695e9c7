#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Drill (d): audit entries deleted or edited on disk.

A vault whose log holds more than one full entry bundle (256 entries) of
reads. On copies of it, an insider with the disk (no keys): edits one
entry's bytes, deletes one entry from a bundle, and deletes a whole
bundle. Each time `strongroom audit verify` and the keyless
`strongroom-verify` must fail and name the place (the entry, or the
bundle); the untouched log verifies.

The last line printed is the figure: tamperings detected and named
(target all).
"""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from srcli import CLI, Vault, run  # noqa: E402
from srserver import Server  # noqa: E402

FIGURES = []
VERIFY = os.path.join(os.path.dirname(CLI), "strongroom-verify")


def entries(data):
    """The entries of a bundle: big-endian 16-bit length, then bytes."""
    out, i = [], 0
    while i < len(data):
        n = int.from_bytes(data[i:i + 2], "big")
        out.append(data[i + 2:i + 2 + n])
        i += 2 + n
    return out


def bundle(items):
    return b"".join(len(e).to_bytes(2, "big") + e for e in items)


class LogTamper(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sr-drill-d-")
        cls.v = Vault(os.path.join(cls.tmp, "vault"), expected_people=100)
        cls.v.add("intake", "intake", service=True)
        cls.v.add("aud", "auditor")
        # 300 failed authentications through the server: 300 entries.
        srv = Server(cls.v)
        conn = srv.conn()
        for _ in range(300):
            st, _, _ = srv.request("GET", "/v1/whoami", conn=conn,
                                   token="sr1_0123456789abcdef_" + "A" * 43)
            assert st == 401, st
        conn.close()
        assert srv.stop() == 0
        cls.v.sr(["audit", "checkpoint"], who="aud", check=0)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def copy(self, name):
        d = os.path.join(self.tmp, name)
        shutil.copytree(self.v.path, d)
        return d

    def verify(self, vault):
        """Both verifiers: (they failed, their messages)."""
        a = run(["audit", "verify", "--vault", vault])
        b = subprocess.run([VERIFY, os.path.join(vault, "log"),
                            os.path.join(vault, "log.vkey")],
                           capture_output=True)
        return (a.returncode != 0 and b.returncode != 0,
                a.stderr + a.stdout + b.stderr + b.stdout)

    def test_every_tampering_fails_verification_and_is_named(self):
        ok, text = self.verify(self.copy("clean"))
        self.assertFalse(ok, text)
        results = {}
        full = os.path.join("log", "tile", "entries", "000")

        d = self.copy("edited")
        with open(os.path.join(d, full), "r+b") as f:
            items = entries(f.read())
            e = bytearray(items[100])
            e[-1] ^= 1
            items[100] = bytes(e)
            f.seek(0)
            f.write(bundle(items))
        failed, text = self.verify(d)
        results["entry edited"] = failed and b"entry 100" in text

        d = self.copy("deleted")
        with open(os.path.join(d, full), "r+b") as f:
            items = entries(f.read())
            del items[57]
            f.seek(0)
            f.truncate()
            f.write(bundle(items))
        failed, text = self.verify(d)
        results["entry deleted"] = failed and (b"entry 57" in text or
                                               b"entries/000" in text)

        d = self.copy("bundle")
        os.unlink(os.path.join(d, full))
        failed, text = self.verify(d)
        results["bundle deleted"] = failed and b"entries/000" in text

        self.assertEqual(results, {k: True for k in results}, text)
        FIGURES.append("drill d (audit entries deleted or edited on disk): "
                       "%d of %d tamperings fail `audit verify` and "
                       "`strongroom-verify`, each naming the entry or bundle "
                       "(target all)" % (sum(results.values()), len(results)))


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    for f in FIGURES:
        print(f)
    if not FIGURES:
        print("drill d (audit entries deleted or edited on disk): FAILED")
    sys.exit(0 if result.wasSuccessful() else 1)
