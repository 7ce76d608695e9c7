#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Threat 2 (a stolen database file or backup): import 10,000 generated
people, then scan every byte of the vault directory -- the SQLite file, its
WAL (kept alive by a reader, as it would be on a live system), the shared
memory file, the key file -- for every SSN, name and date of birth those
people hold, in the forms a person would search for. Zero hits.

Needs SR_CLI in the environment (ctest sets it)."""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile

CLI = os.environ["SR_CLI"]
COUNT = int(os.environ.get("SR_LEAK_COUNT", "10000"))


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


def scan(tmp):
    env = dict(os.environ, STRONGROOM_PASSPHRASE="leak scan passphrase")
    vault = os.path.join(tmp, "vault")
    people_path = os.path.join(tmp, "people.jsonl")
    with open(people_path, "wb") as f:
        subprocess.run([CLI, "gen", "--count", str(COUNT), "--seed", "11"],
                       stdout=f, check=True)
    subprocess.run([CLI, "init", "--vault", vault, "--kdf", "interactive",
                    "--expected-people", str(COUNT)], env=env, check=True)
    # A reader holding a snapshot keeps the WAL from being checkpointed away.
    reader = sqlite3.connect(os.path.join(vault, "vault.db"))
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM meta").fetchone()
    subprocess.run([CLI, "import", people_path, "--vault", vault, "--quiet"],
                   env=env, check=True)
    with open(people_path, encoding="utf-8") as f:
        people = [json.loads(l) for l in f]
    ssns, dates, words = forms_of(people)
    # Every form is a fixed string: GNU grep -F matches them all in one
    # pass (Aho-Corasick), over the raw bytes (-a) of each file.
    patterns = os.path.join(tmp, "forms")
    with open(patterns, "wb") as f:
        for w in sorted(ssns | dates | words):
            f.write(w.encode() + b"\n")

    def grep(path):
        p = subprocess.run(["grep", "-a", "-o", "-b", "-F", "-f", patterns, path],
                           capture_output=True, env=dict(os.environ, LC_ALL="C"))
        if p.returncode not in (0, 1):
            raise RuntimeError("grep failed on " + path)
        return [int(l.split(b":", 1)[0]) for l in p.stdout.splitlines()]

    # The scanner must see plaintext where there is some.
    if len(grep(people_path)) < len(people):
        print("FAIL: the scan does not find the identifiers in the input")
        return 1
    os.remove(people_path)

    names = sorted(os.listdir(vault))
    sizes = {n: os.path.getsize(os.path.join(vault, n)) for n in names}
    print("scanning", sizes, "for", len(ssns), "SSN forms,", len(dates),
          "date forms,", len(words), "name forms")
    if sizes.get("vault.db-wal", 0) < 4096:
        print("FAIL: no WAL to scan")
        return 1
    hits = [(n, off, "identifier form") for n in names
            for off in grep(os.path.join(vault, n))]
    reader.close()  # only now may the WAL be checkpointed away
    if hits:
        # Report where, never what: the values are identifiers.
        for h in hits[:20]:
            print("FAIL: plaintext identifier in %s at offset %d (%s)" % h)
        return 1
    print("zero hits among %d people" % len(people))
    return 0


if __name__ == "__main__":
    sys.exit(main())
