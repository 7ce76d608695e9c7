#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Threat 2 (a stolen database file or backup) and "leak nothing by
accident": import 10,000 generated people, use the vault as its users do --
reads and searches for a purpose, within a case, denials of every kind,
identifiers typed into the wrong option, an auditor's queries and proofs --
then scan every byte of every file under the vault directory for every SSN,
name and date of birth those people hold, in the forms a person would
search for. Zero hits. The files are the SQLite file, its WAL (kept alive
by a reader, as it would be on a live system) and shared memory, the key
file, and the audit log: <vault>/log/ (entry bundles, hash tiles,
checkpoints, which are meant to be published) and <vault>/audit/ (the
journal, left holding records by an import killed mid-way, and the node
index).

Needs SR_CLI in the environment (ctest sets it)."""
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from srcli import CLI, ON_PG, PASS, Vault, journal_end, run

COUNT = int(os.environ.get("SR_LEAK_COUNT", "10000"))
HR = ["--purpose", "hr-action"]
INV = ["--purpose", "initial-investigation"]


def main():
    tmp = tempfile.mkdtemp(prefix="sr-leak-")
    try:
        return scan(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def forms_of(people):
    ssns, dates, words = set(), set(), set()
    for p in people:
        s = p["ssn"]
        ssns.update({s, s.replace("-", ""), s.replace("-", " ")})
        y, m, d = p["birth"]["date"].split("-")
        dates.update({"%s-%s-%s" % (y, m, d), y + m + d, "%s/%s/%s" % (m, d, y)})
        names = [p["name"]] + p.get("former_names", [])
        for n in names:
            full = "%s %s" % (n["given"], n["family"])
            words.update({full, "%s, %s" % (n["family"], n["given"]), full.upper()})
            for part in (n["given"], n["family"], n.get("middle")):
                # Very short names are checked through the full-name forms:
                # 4 random ciphertext bytes match some short name by chance.
                if part and len(part.encode()) >= 5:
                    words.update({part, part.upper(), part.lower()})
    return ssns, dates, words


def vocabulary():
    """The words Strongroom itself writes: its documentation, default
    policy and help texts. Rules, policies and messages land in the log and
    the database ("unassigned", "granted"), and some names are words too
    ("Signe", "Grant"): a form found in this text is not evidence of a
    leak, so it is not searched for alone (the full-name forms still are)."""
    src = os.environ.get("SR_SOURCE_DIR",
                         os.path.dirname(os.path.dirname(
                             os.path.abspath(__file__))))
    docs = os.path.join(src, "docs")
    texts = []
    for name in sorted(os.listdir(docs)):
        if name.endswith(".md") or name.endswith(".json"):
            with open(os.path.join(docs, name), encoding="utf-8") as f:
                texts.append(f.read())
    texts.append(run(["--help"]).stdout.decode())
    for cmd in ("init", "put", "get", "find", "update", "import", "export",
                "stats", "user", "token", "login", "case", "policy", "audit"):
        texts.append(run([cmd, "--help"]).stdout.decode())
    return "\n".join(texts)


class Failed(Exception):
    pass


def use_the_vault(v, people, ids):
    """What users do, allowed and denied, including their mistakes. Every
    command's stderr is checked too: messages name rules, paths and ids."""
    a, b, c = people[0], people[1], people[2]

    def sr(args, who, want):
        p = v.sr(args, who=who)
        if p.returncode != want:
            raise Failed("%s as %s: exit %d, wanted %d: %s" % (
                args[0], who, p.returncode, want, p.stderr[:300]))
        return p

    # HR reads and searches, for its purpose.
    for person in people[3:23]:
        out = sr(["find", "--ssn", person["ssn"]] + HR, "hr1", 0).stdout
        pid = json.loads(out)["id"]
        sr(["find", "--ssn", person["ssn"].replace("-", "")] + HR, "hr1", 0)
        sr(["find", "--name", person["name"]["family"], "--dob",
            person["birth"]["date"]] + HR, "hr1", 0)
        sr(["get", pid] + HR, "hr1", 0)
        sr(["get", pid, "--class", "name"] + HR, "hr1", 0)
    # An investigator within a case, and outside it.
    v.sr(["case", "open", "CASE-1"], check=0)
    v.sr(["case", "assign", "CASE-1", "--to", "inv1"], check=0)
    v.sr(["case", "add", "CASE-1", "--person", ids[0]], check=0)
    case = INV + ["--case", "CASE-1"]
    sr(["get", ids[0]] + case, "inv1", 0)
    sr(["find", "--ssn", a["ssn"]] + case, "inv1", 0)
    sr(["find", "--ssn", b["ssn"]] + case, "inv1", 0)
    sr(["find", "--name", b["name"]["family"], "--dob", b["birth"]["date"]]
       + case, "inv1", 0)
    denials = [
        (["get", ids[1]] + case, "inv1"),                      # case.person
        (["get", ids[1]] + INV, "inv1"),                       # case.missing
        (["find", "--ssn", b["ssn"]] + INV, "inv1"),           # case.missing
        (["get", ids[0]] + INV + ["--case", "CASE-2"], "inv1"),  # unassigned
        (["get", ids[0], "--class", "investigation"] + HR, "hr1"),
        (["get", ids[0], "--purpose", "adjudication"], "hr1"),
        (["find", "--ssn", a["ssn"]], "hr1"),                  # no purpose
        (["find", "--ssn", a["ssn"]] + HR, "admin"),           # role.action
        (["get", ids[0]] + HR, "aud1"),
        # Identifiers typed into the wrong option.
        (["get", ids[2], "--purpose", c["ssn"]], "hr1"),
        (["find", "--ssn", c["ssn"], "--purpose",
          c["ssn"].replace("-", "")], "hr1"),
        (["get", ids[2]] + INV + ["--case", c["ssn"]], "inv1"),
        (["get", ids[2]] + INV + ["--case", c["birth"]["date"]], "inv1"),
    ]
    for args, who in denials:
        p = sr(args, who, 25)
        # The denial message names the rule, never an identifier; a purpose
        # given is echoed by the policy's reason text only when it is not a
        # defined purpose, and then only to the caller who typed it.
        if "--purpose" in args and args[args.index("--purpose") + 1] in (
                c["ssn"], c["ssn"].replace("-", "")):
            continue
        yield ("stderr of " + " ".join(args[:1]), p.stderr)
    # Allowed, with an identifier typed as the case of a purpose that
    # needs none.
    sr(["get", ids[2]] + HR + ["--case", c["ssn"].replace("-", "")], "hr1", 0)
    # Sign-in with an SSN as the name.
    p = v.sr(["login", c["ssn"], "--password-fd", "0"], who=None,
             stdin=b"whatever\n")
    if p.returncode != 14:
        raise Failed("login: exit %d" % p.returncode)
    # The auditor's work.
    out = sr(["audit", "show", "--person", ids[0]], "aud1", 0).stdout
    refs = {r for l in out.splitlines() for r in json.loads(l)["people"]}
    for ref in refs:
        sr(["audit", "resolve", ref], "aud1", 0)
    sr(["audit", "checkpoint"], "aud1", 0)
    sr(["audit", "proof", "--inclusion", "1"], "aud1", 0)
    sr(["audit", "proof", "--consistency", "2", "5"], "aud1", 0)
    sr(["audit", "show", "--denied"], "aud1", 0)
    # An import killed after it logged its start leaves records in the
    # journal that no checkpoint holds yet.
    journal = os.path.join(v.path, "audit", "journal")
    header = journal_end(journal)
    env = dict(os.environ, STRONGROOM_PASSPHRASE=PASS,
               STRONGROOM_TOKEN=v.tokens["intake1"])
    imp = subprocess.Popen([CLI, "import", "-", "--vault", v.path,
                            "--purpose", "intake", "--quiet"],
                           stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, env=env)
    for _ in range(400):
        if journal_end(journal) > header + 150:
            break
        time.sleep(0.05)
    imp.kill()
    imp.wait()
    if journal_end(journal) <= header + 150:
        raise Failed("the killed import left no journal records")


# Random bytes and encoded strings hold identifier-shaped text by chance:
# an 8- or 9-digit form inside a run of hex digits (token ids, hashes,
# the vault id), or a name inside a long run of base64 in a signed note
# (roots, signatures, keys). Those runs hold no free text.
HEXRUN = re.compile(rb"[0-9a-f]{16,}")
B64RUN = re.compile(rb"[A-Za-z0-9+/=]{40,}")


# A form spelt with hex digits only (a date's or an SSN's digits, a name
# such as "abebe") inside a longer hex run is chance; pg_dump prints every
# bytea column as hex.
HEXWORD = re.compile(rb"[0-9a-f]+")
# pg_dump prints the blind index values and row numbers in decimal: a
# date's or an SSN's digits inside a longer number there are chance.
DECRUN = re.compile(rb"-?[0-9]{10,}")


def by_chance(path, data, off, match):
    end = off + len(match)
    if HEXWORD.fullmatch(match):
        runs = [HEXRUN]
        if path.endswith("postgresql-store"):
            runs.append(DECRUN)
        for run_re in runs:
            for m in run_re.finditer(data, max(0, off - 64), end + 64):
                if m.start() <= off and end <= m.end() and \
                        m.end() - m.start() > len(match):
                    return True
    note = "/log/checkpoint" in path or "/log/history/" in path or \
        path.endswith("log.vkey")
    if note:
        for m in B64RUN.finditer(data, max(0, off - 200), end + 200):
            if m.start() <= off and end <= m.end():
                return True
    return False


def scan(tmp):
    vault = os.path.join(tmp, "vault")
    people_path = os.path.join(tmp, "people.jsonl")
    with open(people_path, "wb") as f:
        subprocess.run([CLI, "gen", "--count", str(COUNT), "--seed", "11"],
                       stdout=f, check=True)
    v = Vault(vault, expected_people=COUNT)
    v.add("intake1", "intake", service=True)
    v.add("hr1", "hr-clerk")
    v.add("inv1", "investigator")
    v.add("aud1", "auditor")
    # A reader holding a snapshot keeps the WAL from being checkpointed away.
    reader = None
    if not ON_PG:
        reader = sqlite3.connect(os.path.join(vault, "vault.db"))
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM meta").fetchone()
    v.sr(["import", people_path, "--purpose", "intake", "--quiet"],
         who="intake1", check=0)
    with open(people_path, encoding="utf-8") as f:
        people = [json.loads(l) for l in f]
    ids = []
    for person in people[:3]:
        out = v.sr(["find", "--ssn", person["ssn"]] + HR, who="hr1",
                   check=0).stdout
        ids.append(json.loads(out)["id"])
    ssns, dates, words = forms_of(people)
    vocab = vocabulary()
    words_in_vocab = {w for w in words if w in vocab}
    words -= words_in_vocab
    # Every form is a fixed string: GNU grep -F matches them all in one
    # pass (Aho-Corasick), over the raw bytes (-a) of each file.
    patterns = os.path.join(tmp, "forms")
    with open(patterns, "wb") as f:
        for w in sorted(ssns | dates | words):
            f.write(w.encode() + b"\n")

    def grep_all(paths):
        """{path: [(offset, match)]}, one grep for every file."""
        p = subprocess.run(["grep", "-a", "-o", "-b", "-H", "-F", "-f",
                            patterns, "--"] + paths, capture_output=True,
                           env=dict(os.environ, LC_ALL="C"))
        if p.returncode not in (0, 1):
            raise RuntimeError("grep failed: " + p.stderr.decode())
        hits = {path: [] for path in paths}
        for line in p.stdout.splitlines():
            path, off, match = line.split(b":", 2)
            hits[path.decode()].append((int(off), match))
        return hits

    def grep(path):
        return grep_all([path])[path]

    def grep_text(name, text):
        path = os.path.join(tmp, "text")
        with open(path, "wb") as f:
            f.write(text)
        return [(name, off, "identifier form") for off, _ in grep(path)]

    # The scanner must see plaintext where there is some.
    if len(grep(people_path)) < len(people):
        print("FAIL: the scan does not find the identifiers in the input")
        return 1
    os.remove(people_path)

    hits = []
    try:
        for name, text in use_the_vault(v, people, ids):
            hits += grep_text(name, text)
    except Failed as e:
        print("FAIL:", e)
        return 1

    files = []
    for root, _, names in os.walk(vault):
        files += [os.path.join(root, n) for n in names]
    if ON_PG:
        # The store is the server's: every file of the vault's database
        # and the WAL, and a pg_dump of it, scanned as one more file.
        dump = subprocess.run(["pg_dump", v.conninfo], check=True,
                              capture_output=True).stdout
        store = os.path.join(tmp, "postgresql-store")
        with open(store, "wb") as f:
            f.write(v.stored_bytes() + b"\n" + dump)
        files.append(store)
    sizes = {}
    for path in files:
        rel = os.path.relpath(path, vault)
        top = rel.split(os.sep)[0]
        if not rel.startswith(".."):
            sizes[top] = sizes.get(top, 0) + os.path.getsize(path)
        else:
            sizes["postgresql"] = os.path.getsize(path)
    print("scanning", len(files), "files", sizes, "for", len(ssns),
          "SSN forms,", len(dates), "date forms,", len(words),
          "name forms (%d single names that are words of the docs left out)"
          % len(words_in_vocab))
    if not ON_PG and sizes.get("vault.db-wal", 0) < 4096:
        print("FAIL: no WAL to scan")
        return 1
    for part in ("log", "audit"):
        if sizes.get(part, 0) < 4096:
            print("FAIL: nothing in %s/ to scan" % part)
            return 1
    chance = 0
    for path, found in grep_all(files).items():
        with open(path, "rb") as f:
            data = f.read()
        for off, match in found:
            if by_chance(path, data, off, match):
                chance += 1
            else:
                hits.append((os.path.relpath(path, vault), off,
                             "identifier form"))
    if reader is not None:
        reader.close()  # only now may the WAL be checkpointed away
    if hits:
        # Report where, never what: the values are identifiers.
        for h in hits[:20]:
            print("FAIL: plaintext identifier in %s at offset %d (%s)" % h)
        return 1
    print("zero hits among %d people (%d chance matches inside hex or "
          "base64 runs)" % (len(people), chance))
    return 0


if __name__ == "__main__":
    sys.exit(main())
