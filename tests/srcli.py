# SPDX-License-Identifier: Apache-2.0
"""What the CLI script tests (tests/cli_*.py) share: running the strongroom
command with a passphrase and an API token, setting up a vault with the
principals a test needs, and reading the public audit log (the C2SP
tlog-tiles under <vault>/log) independently of the C code: entry bundles,
the entry encoding, and the RFC 9162 Merkle tree hashes.

Not a test itself (ctest runs tests/cli_*.py only)."""
import base64
import hashlib
import datetime
import json
import glob
import os
import pty
import sqlite3
import subprocess
import unittest

CLI = os.environ["SR_CLI"]
PASS = "correct horse battery staple"
# tests/sr_reseal (ctest sets its path): reseals a new test vault's root
# key under the smallest Argon2id parameters, so each command's passphrase
# derivation takes about a millisecond rather than 0.2 s (tests/reseal.h).
# Without it the tests run as they are, only slower.
RESEAL = os.environ.get("SR_RESEAL") or None

# Exit codes: 10 + sr_status (docs/cli.md).
EXIT_REJECTS, EXIT_USAGE = 1, 2
EXIT_INVALID, EXIT_NOT_FOUND, EXIT_DUPLICATE, EXIT_AUTH = 11, 12, 13, 14
EXIT_CORRUPT, EXIT_LOCKED, EXIT_FULL, EXIT_NOT_VAULT = 15, 16, 17, 22
EXIT_DENIED, EXIT_AUDIT = 25, 26

# SR_SUITE_STORE (a PostgreSQL server's connection string, as
# tests/with_pg.sh --suite sets it): every test vault keeps its people in
# a new database of that server instead of its own SQLite file.
SUITE_STORE = os.environ.get("SR_SUITE_STORE") or None
ON_PG = SUITE_STORE is not None


def sqlite_only(why):
    """Skip a test that is about the SQLite file itself when the suite
    runs on PostgreSQL; why names what stands for it there."""
    return unittest.skipIf(ON_PG, "the SQLite file only: " + why)


# The one message for every token failure (sr_vault_authenticate).
AUTH_FAILED = b"authentication failed: the token is not valid"


def run(args, token=None, stdin=None, env_extra=None, check=None,
        preexec=None, passphrase=PASS):
    """Run `strongroom ARGS` with the passphrase and token in the
    environment (never on the command line)."""
    env = dict(os.environ)
    env.pop("STRONGROOM_TOKEN", None)
    env.pop("STRONGROOM_VAULT", None)
    if passphrase is not None:
        env["STRONGROOM_PASSPHRASE"] = passphrase
    if token is not None:
        env["STRONGROOM_TOKEN"] = token
    if env_extra:
        env.update(env_extra)
    p = subprocess.run([CLI] + args, input=stdin, capture_output=True,
                       env=env, preexec_fn=preexec)
    if check is not None and p.returncode != check:
        raise AssertionError("%s: exit %d, wanted %d\nstdout: %s\nstderr: %s" % (
            args, p.returncode, check, p.stdout[:2000], p.stderr[:2000]))
    return p


def run_on_terminal(args, token=None, passphrase=PASS):
    """Run `strongroom ARGS` with stderr on a terminal (a pty), as a person
    at a console would: (exit status, stdout, what the terminal showed)."""
    master, slave = pty.openpty()
    env = dict(os.environ)
    env.pop("STRONGROOM_TOKEN", None)
    env["STRONGROOM_PASSPHRASE"] = passphrase
    if token is not None:
        env["STRONGROOM_TOKEN"] = token
    p = subprocess.Popen([CLI] + args, stdout=subprocess.PIPE, stderr=slave,
                         env=env)
    os.close(slave)
    err = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        err += chunk
    out = p.stdout.read()
    p.stdout.close()
    rc = p.wait()
    os.close(master)
    return rc, out, err


def gen(count, seed):
    """`strongroom gen`: count synthetic people, as dicts."""
    out = run(["gen", "--count", str(count), "--seed", str(seed)],
              check=0).stdout
    return [json.loads(line) for line in out.splitlines()]


# Shorter strings than this turn up in a megabyte of ciphertext by chance
# (a 3-byte name about once in 16 MiB of random bytes per place it could
# start), so a search of binary data for them proves nothing.
MIN_BINARY_IDENTIFIER = 5


def plaintext_in(data, people):
    """The first identifier of people (SSN in both forms, family name,
    birth date) found in the bytes data, as "VALUE at offset N", or None.
    Family names shorter than MIN_BINARY_IDENTIFIER bytes are searched in
    their "Given Family" form instead. Meant for assertIsNone, so that a
    failure names the value and where, not the whole of data."""
    for p in people:
        family = p["name"]["family"]
        if len(family.encode()) < MIN_BINARY_IDENTIFIER:
            family = "%s %s" % (p["name"]["given"], family)
        for value in (p["ssn"], p["ssn"].replace("-", ""), family,
                      p["birth"]["date"]):
            at = data.find(value.encode())
            if at >= 0:
                return "%s at offset %d" % (value, at)
    return None


def separated(p):
    """The day a generated person left (their latest end), if every
    employment entry is former; else None (docs/retention.md)."""
    emp = p.get("employment") or []
    if emp and all(e["status"] == "former" for e in emp):
        return max(e["end"] for e in emp)
    return None


def years_ago(n):
    """Today n years ago, ISO (28 February for 29 February)."""
    today = datetime.date.today()
    try:
        return today.replace(year=today.year - n).isoformat()
    except ValueError:  # 29 February
        return today.replace(year=today.year - n, day=28).isoformat()


def journal_end(path):
    """Where the records of the audit journal at path end (docs/audit.md,
    "Journal": a 32-byte header, records len | index | entry | MAC, then
    zeros written ahead); a record cut short ends them too."""
    with open(path, "rb") as f:
        data = f.read()
    off = 32
    while off + 12 <= len(data) and data[off:off + 12] != bytes(12):
        need = 12 + int.from_bytes(data[off:off + 4], "big") + 16
        if off + need > len(data) or data[off + need - 16:off + need] == bytes(16):
            break
        off += need
    return off


def reseal(vault_dir, passphrase=PASS):
    """Make the test vault at vault_dir cheap to open (RESEAL), if the
    helper is there."""
    if RESEAL is not None:
        env = dict(os.environ, STRONGROOM_PASSPHRASE=passphrase)
        subprocess.run([RESEAL, vault_dir], env=env, check=True)


class Vault:
    """A vault directory and the tokens of its principals, by name."""

    def __init__(self, path, expected_people=1000, log_origin=None,
                 init_args=(), cheap_kdf=True):
        self.path = path
        args = ["init", "--vault", path, "--kdf", "interactive",
                "--expected-people", str(expected_people)] + list(init_args)
        if log_origin:
            args += ["--log-origin", log_origin]
        self.conninfo = None
        if ON_PG:
            base = " ".join(x for x in SUITE_STORE.split()
                            if not x.startswith("dbname="))
            self.db_name = "sr_" + os.urandom(6).hex()
            subprocess.run(["psql", base + " dbname=postgres", "-qc",
                            "CREATE DATABASE " + self.db_name], check=True)
            self.conninfo = base + " dbname=" + self.db_name
            args += ["--store", self.conninfo]
        p = run(args, check=0)
        self.tokens = {"admin": p.stdout.decode().strip()}
        self.init_stderr = p.stderr
        if cheap_kdf:
            reseal(path)

    def sr(self, args, who="admin", token=None, **kw):
        """Run a command on this vault as principal `who`."""
        if token is None and who is not None:
            token = self.tokens[who]
        return run(args[:1] + ["--vault", self.path] + args[1:], token=token,
                   **kw)

    def add(self, name, role, service=False):
        """Add a principal with a fresh token; returns the token."""
        args = ["user", "add", name, "--role", role]
        if service:
            args.append("--service")
        self.sr(args, check=0)
        self.tokens[name] = self.new_token(name)
        return self.tokens[name]

    def edit_policy(self, change):
        """Read the policy in force, let change(policy) edit the dict, and
        set the result; returns it."""
        pol = json.loads(self.sr(["policy", "show"], check=0).stdout)
        change(pol)
        path = os.path.join(self.path, "..", "policy-edited.json")
        with open(path, "w") as f:
            json.dump(pol, f)
        self.sr(["policy", "set", path], check=0)
        return pol

    def lift_budgets(self):
        """Store the current policy without its read budgets: for tests
        whose subject is not the budget but which read more people than a
        budget allows (tests of budgets keep them)."""
        def lift(pol):
            for role in pol["roles"].values():
                role.pop("budget", None)
        self.edit_policy(lift)

    def stored_bytes(self):
        """What a thief with the disk would have, as one byte string: the
        database file and its write-ahead log. On PostgreSQL, after a
        checkpoint, every file of the store's tables, their indexes and
        TOAST tables (all forks and segments), and the server's log
        (tests/with_pg.sh keeps the cluster in $dir/data, the log in
        $dir). Not the WAL: it holds the same tuples, and also the
        catalogs the new database copied from template1, whose collation
        names ("English (Diego Garcia)") contain common family names."""
        if self.conninfo:
            self.store_sql("CHECKPOINT")
            ours = ("SELECT oid FROM pg_class WHERE relnamespace = "
                    "'public'::regnamespace")
            toast = ("SELECT reltoastrelid FROM pg_class WHERE relnamespace "
                     "= 'public'::regnamespace AND reltoastrelid <> 0")
            rels = self.store_query(
                "SELECT pg_relation_filepath(oid) FROM pg_class WHERE "
                "(oid IN (%s) OR oid IN (%s) OR oid IN (SELECT indexrelid "
                "FROM pg_index WHERE indrelid IN (%s))) AND "
                "pg_relation_filepath(oid) IS NOT NULL" % (ours, toast, toast))
            top = self.conninfo.split("host=")[1].split()[0]
            data = os.path.join(top, "data")
            paths = [os.path.join(top, "server.log")]
            for (rel,) in rels:
                base = os.path.join(data, rel)
                paths += [base] + sorted(glob.glob(base + "[._]*"))
        else:
            paths = [os.path.join(self.path, n)
                     for n in ("vault.db", "vault.db-wal")]
        out = b""
        for path in paths:
            if os.path.isfile(path):
                with open(path, "rb") as f:
                    out += f.read()
        return out

    def id_is(self, pid):
        """SQL true for the persons row of person pid (hex, ours)."""
        assert all(c in "0123456789abcdef" for c in pid)
        if self.conninfo:
            return "id = decode('%s', 'hex')" % pid
        return "lower(hex(id)) = '%s'" % pid

    def hex_sql(self, expr):
        """SQL for the bytes of expr as lowercase hex."""
        form = "encode(%s, 'hex')" if self.conninfo else "lower(hex(%s))"
        return form % expr

    def blob_sql(self, hexstr):
        """SQL for the bytes hexstr spells."""
        assert all(c in "0123456789abcdef" for c in hexstr)
        return ("decode('%s', 'hex')" if self.conninfo else "X'%s'") % hexstr

    def store_sql(self, sql):
        """Run SQL statements on the vault's store behind its back, as a
        DBA could (SQLite file or PostgreSQL database)."""
        if self.conninfo:
            subprocess.run(["psql", self.conninfo, "-v", "ON_ERROR_STOP=1",
                            "-qc", sql], check=True, capture_output=True)
            return
        con = sqlite3.connect(os.path.join(self.path, "vault.db"))
        try:
            con.executescript(sql)
            con.commit()
        finally:
            con.close()

    def store_query(self, sql):
        """Rows of one query on the store, every value as text."""
        if self.conninfo:
            p = subprocess.run(["psql", self.conninfo, "-v",
                                "ON_ERROR_STOP=1", "-AtF", "\t", "-c", sql],
                               check=True, capture_output=True)
            return [tuple(l.split("\t"))
                    for l in p.stdout.decode().splitlines()]
        con = sqlite3.connect(os.path.join(self.path, "vault.db"))
        try:
            return [tuple("" if v is None else str(v) for v in r)
                    for r in con.execute(sql).fetchall()]
        finally:
            con.close()

    def store(self, people, who="intake"):
        """Store people (dicts) with `import` as `who`, for purpose
        intake."""
        path = os.path.join(self.path, "..", "store-people.jsonl")
        with open(path, "w") as f:
            for p in people:
                f.write(json.dumps(p) + "\n")
        self.sr(["import", path, "--quiet", "--purpose", "intake"], who=who,
                check=0)
        os.remove(path)

    def approve(self, who, approver, what, *args):
        """A two-person approval (docs/policy.md) of `what` ("export" or
        "find") with options args, asked for by who and approved by
        approver; returns its id."""
        aid = self.sr(["approval", "request", what] + list(args), who=who,
                      check=0).stdout.decode().strip()
        self.sr(["approval", "approve", aid], who=approver, check=0)
        return aid

    def new_token(self, name, *extra):
        p = self.sr(["token", "create", name] + list(extra), check=0)
        return p.stdout.decode().strip()

    def token_id(self, name):
        return self.tokens[name].split("_", 2)[1]

    def log_size(self):
        """The tree size of the latest checkpoint, read from the file (no
        command run, so nothing is logged)."""
        with open(os.path.join(self.path, "log", "checkpoint")) as f:
            return int(f.read().split("\n")[1])

    def entries(self, who="aud", **filters):
        """`audit show` as a list of dicts (filters become options: from_=N
        is --from N, denied=True is --denied)."""
        args = ["audit", "show"]
        for k, v in filters.items():
            opt = "--" + k.rstrip("_").replace("_", "-")
            args += [opt] if v is True else [opt, str(v)]
        out = self.sr(args, who=who, check=0).stdout.decode()
        return [json.loads(l) for l in out.splitlines()]


# ---- the public log, read independently -----------------------------------

TILE_WIDTH = 256


def tile_index_path(n):
    """C2SP tlog-tiles: N in 3-digit groups, all but the last prefixed x."""
    s = "%03d" % (n % 1000)
    n //= 1000
    while n > 0:
        s = "x%03d/" % (n % 1000) + s
        n //= 1000
    return s


def bundle_path(logdir, n, size):
    """The entry bundle N of a tree of `size` entries."""
    full = (n + 1) * TILE_WIDTH <= size
    rel = "tile/entries/" + tile_index_path(n)
    if not full:
        rel += ".p/%d" % (size - n * TILE_WIDTH)
    return os.path.join(logdir, rel)


def parse_bundle(data):
    """A bundle is each entry as a big-endian uint16 length and the bytes;
    returns [(offset of the entry's bytes, bytes)]."""
    out, i = [], 0
    while i < len(data):
        n = int.from_bytes(data[i:i + 2], "big")
        out.append((i + 2, data[i + 2:i + 2 + n]))
        i += 2 + n
    if i != len(data):
        raise ValueError("truncated entry bundle")
    return out


def read_leaves(logdir, size):
    """Every entry of a tree of `size` entries, from the bundles."""
    leaves = []
    for n in range((size + TILE_WIDTH - 1) // TILE_WIDTH):
        with open(bundle_path(logdir, n, size), "rb") as f:
            leaves += [e for _, e in parse_bundle(f.read())]
    if len(leaves) != size:
        raise ValueError("%d entries in the bundles, %d expected" %
                         (len(leaves), size))
    return leaves


def _varint(b, i):
    v = shift = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << shift
        shift += 7
        if not c & 0x80:
            return v, i


def decode_entry(b):
    """The entry encoding (src/audit/entry.c): version, time, then
    varint-length strings, bytes and varints in a fixed order."""
    e, i = {}, 1
    if b[0] != 1:
        raise ValueError("entry version %d" % b[0])

    def s():
        nonlocal i
        n, i = _varint(b, i)
        i += n
        return b[i - n:i].decode()

    e["time_ns"], i = _varint(b, i)
    e["principal"], e["token"], e["action"] = s(), s(), s()
    e["outcome"], e["status"] = b[i], b[i + 1]
    i += 2
    e["purpose"], e["case"] = s(), s()
    e["classes"] = b[i]
    i += 1
    e["rule"], e["detail"] = s(), s()
    e["count"], i = _varint(b, i)
    nrefs, i = _varint(b, i)
    e["people"] = [b[i + 16 * k:i + 16 * (k + 1)].hex() for k in range(nrefs)]
    if i + 16 * nrefs != len(b):
        raise ValueError("trailing bytes in an entry")
    return e


# ---- RFC 9162 Merkle trees --------------------------------------------------


def sha256(b):
    return hashlib.sha256(b).digest()


def leaf_hash(data):
    return sha256(b"\x00" + data)


def node_hash(left, right):
    return sha256(b"\x01" + left + right)


def mth(leaves):
    """MTH (RFC 9162 2.1.1) of a list of leaf hashes."""
    n = len(leaves)
    if n == 0:
        return sha256(b"")
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def verify_inclusion(index, size, leaf, path, root):
    """RFC 9162 2.1.3.2, step by step."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(first, second, first_hash, second_hash, path):
    """RFC 9162 2.1.4.2, step by step (0 < first < second)."""
    if not path or not 0 < first < second:
        return False
    path = list(path)
    if first & (first - 1) == 0:
        path.insert(0, first_hash)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_hash and sr == second_hash


def b64d(s):
    return base64.b64decode(s)


def parse_checkpoint(text):
    """A C2SP signed checkpoint: origin, size, root, blank line, then
    signature lines "— NAME BASE64"."""
    body, _, sigs = text.partition("\n\n")
    lines = body.split("\n")
    return {"origin": lines[0], "size": int(lines[1]), "root": b64d(lines[2]),
            "signed": (body + "\n").encode(),
            "signatures": [l.split(" ", 2)[1:] for l in sigs.splitlines()
                           if l.startswith("\u2014 ")]}


def verify_note_signature(cp, vkey_text):
    """Ed25519 signed note (c2sp.org/signed-note): the key is
    NAME+HASH+base64(0x01 || public key); a signature is base64(key hash
    (4 bytes) || signature). Returns True if one signature by that key
    verifies. Needs the cryptography package."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import \
        Ed25519PublicKey
    from cryptography.exceptions import InvalidSignature
    name, khash, kb64 = vkey_text.strip().split("+", 2)
    key = b64d(kb64)
    if key[0] != 1 or len(key) != 33:
        return False
    want_hash = sha256(name.encode() + b"\n" + key)[:4]
    if want_hash.hex() != khash:
        return False
    pub = Ed25519PublicKey.from_public_bytes(key[1:])
    for sname, sig in cp["signatures"]:
        raw = b64d(sig)
        if sname != name or raw[:4] != want_hash:
            continue
        try:
            pub.verify(raw[4:], cp["signed"])
            return True
        except InvalidSignature:
            return False
    return False
