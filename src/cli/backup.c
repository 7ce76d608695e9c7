/* SPDX-License-Identifier: Apache-2.0 */
/*
 * backup.c - `strongroom backup create|keys|restore`: backups in which a
 * shredded person stays shredded (docs/retention.md, "Backups"); and
 * `strongroom store move`, the same copying of a store onto PostgreSQL
 * (docs/storage.md).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

const char help_backup[] =
    "usage: strongroom backup create --out DIR --keys-out FILE\n"
    "       strongroom backup keys --out FILE\n"
    "       strongroom backup restore --from DIR --keys FILE --to NEWDIR\n"
    "                                 [--store CONNINFO]\n"
    "\n"
    "Backups in which a shredded person stays shredded (docs/retention.md).\n"
    "create writes DIR (new, mode 0700): the records without their keys\n"
    "(vault.db, a consistent copy with every person's wrapped data key\n"
    "emptied), the sealed root key, the audit log and backup.json; the key\n"
    "table goes to FILE, outside DIR. Keep key files apart from the records\n"
    "and for a shorter time (e.g. records for years, key files for 30\n"
    "days): a person shredded after a backup cannot be restored from it once\n"
    "every key file made before the shred is gone. keys writes the live\n"
    "vault's key table alone. restore copies DIR into NEWDIR (a new vault\n"
    "directory), opens it with the vault's passphrase and your token (as\n"
    "they were at the backup), puts back the keys FILE holds and deletes\n"
    "everyone it holds none for; with the live vault's key table (backup\n"
    "keys), everyone shredded since the backup stays gone; with --store\n"
    "the restored vault is then moved onto that PostgreSQL database (as by\n"
    "strongroom store move). A restore that fails leaves no NEWDIR. Needs the\n"
    "manage-backups action (the administrator's); every step is logged. A\n"
    "backup holds no plaintext, and the key file none either: each key is\n"
    "sealed under the vault's key-encryption key.\n"
    "\n"
    "  --out DIR / FILE    where the backup, or the key file, goes\n"
    "  --keys-out FILE     the backup's key file (outside DIR)\n"
    "  --from DIR          the backup to restore\n"
    "  --keys FILE         the key file to restore with\n"
    "  --to NEWDIR         the restored vault\n"
    "  --store CONNINFO    restore onto this empty PostgreSQL "
    "database\n" COMMON_HELP
    "\nexample: strongroom backup create --out /backup/vault-2026-12-04 "
    "--keys-out /keys/vault-2026-12-04.keys\n";

/* A progress line for a move onto PostgreSQL or a compaction, on a
 * terminal. */
typedef struct moving {
    bool shown;
} moving;

static void compact_progress(void *ctx, uint64_t done, uint64_t total)
{
    moving *m = ctx;
    fprintf(stderr, "\rstore compact: %3u%% ",
            total > 0 ? (unsigned)(done * 100 / total) : 100u);
    m->shown = true;
}

static void move_progress(void *ctx, uint64_t done, uint64_t total)
{
    moving *m = ctx;
    fprintf(stderr, "\rstore move: %" PRIu64 " of %" PRIu64 " people copied ",
            done, total);
    m->shown = true;
}

/* sr_vault_move_store with a progress line when stderr is a terminal
 * (and not quiet). */
static sr_status move(sr_vault *v, const char *conninfo, bool quiet,
                      uint64_t *people)
{
    moving m = {false};
    bool show = !quiet && isatty(STDERR_FILENO);
    sr_status st = sr_vault_move_store(v, conninfo, show ? move_progress : NULL,
                                       &m, people);
    if (m.shown)
        fputc('\n', stderr);
    return st;
}

int cmd_backup(int argc, char **argv)
{
    enum { OPT_OUT = 1, OPT_KEYS_OUT, OPT_FROM, OPT_KEYS, OPT_TO, OPT_STORE };
    static const struct option opts[] = {
        COMMON_OPTIONS,
        {"out", required_argument, NULL, OPT_OUT},
        {"keys-out", required_argument, NULL, OPT_KEYS_OUT},
        {"from", required_argument, NULL, OPT_FROM},
        {"keys", required_argument, NULL, OPT_KEYS},
        {"to", required_argument, NULL, OPT_TO},
        {"store", required_argument, NULL, OPT_STORE},
        {0, 0, 0, 0}};
    common c = COMMON_INIT;
    const char *out = NULL, *keys_out = NULL, *from = NULL, *keys = NULL,
               *to = NULL, *conninfo = NULL;
    bool bad = false;
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (o == OPT_HELP) {
            fputs(help_backup, stdout);
            return 0;
        }
        if (common_option(&c, o, optarg, &bad))
            continue;
        switch (o) {
        case OPT_OUT:
            out = optarg;
            break;
        case OPT_KEYS_OUT:
            keys_out = optarg;
            break;
        case OPT_FROM:
            from = optarg;
            break;
        case OPT_KEYS:
            keys = optarg;
            break;
        case OPT_TO:
            to = optarg;
            break;
        case OPT_STORE:
            conninfo = optarg;
            break;
        default:
            return fail("backup", "bad option; see --help");
        }
    }
    const char *sub = optind + 1 == argc ? argv[optind] : "";
    bool create = strcmp(sub, "create") == 0,
         keyfile = strcmp(sub, "keys") == 0,
         restore = strcmp(sub, "restore") == 0;
    if (bad || !(create || keyfile || restore))
        return fail("backup", "give create, keys or restore; see --help");
    if (create && (out == NULL || keys_out == NULL))
        return fail("backup", "backup create needs --out DIR and --keys-out "
                              "FILE");
    if (keyfile && out == NULL)
        return fail("backup", "backup keys needs --out FILE");
    if (restore && (from == NULL || keys == NULL || to == NULL))
        return fail("backup", "backup restore needs --from DIR, --keys FILE "
                              "and --to NEWDIR");
    if (conninfo != NULL && !restore)
        return fail("backup", "--store goes with restore");
    if (restore) {
        char msg[512];
        sr_status st = sr_backup_copy(from, to, msg, sizeof msg);
        if (st != SR_OK) {
            fprintf(stderr, "strongroom backup: %s\n", msg);
            return exit_for(st);
        }
        c.vault = to;
    }
    sr_vault *v;
    int rc = open_vault("backup", &c,
                        create || keyfile ? SR_OPEN_READ : SR_OPEN_WRITE, &v);
    if (rc != 0) {
        if (restore)
            sr_backup_abandon(to);
        return rc;
    }
    sr_status st;
    if (create) {
        sr_backup_summary s;
        st = sr_vault_backup(v, out, keys_out, &s);
        if (st == SR_OK)
            printf("{\"people\":%" PRIu64 ",\"log_size\":%" PRIu64 "}\n",
                   s.people, s.log_size);
    } else if (keyfile) {
        uint64_t n = 0;
        st = sr_vault_backup_keys(v, out, &n);
        if (st == SR_OK)
            printf("{\"people\":%" PRIu64 "}\n", n);
    } else {
        sr_restore_summary s;
        uint64_t moved = 0;
        st = sr_vault_restore_keys(v, keys, &s);
        if (st == SR_OK && conninfo != NULL)
            st = move(v, conninfo, false, &moved);
        if (st == SR_OK)
            printf("{\"keys\":%" PRIu64 ",\"restored\":%" PRIu64
                   ",\"removed\":%" PRIu64 ",\"unknown\":%" PRIu64
                   ",\"store\":\"%s\"}\n",
                   s.keys, s.restored, s.removed, s.unknown,
                   conninfo != NULL ? "postgresql" : "sqlite");
    }
    rc = st == SR_OK ? 0 : lib_fail("backup", st, v);
    sr_vault_close(v);
    /* A restore that failed leaves nothing: it can be run again. */
    if (restore && st != SR_OK)
        sr_backup_abandon(to);
    return rc;
}

const char help_store[] =
    "usage: strongroom store move --to CONNINFO\n"
    "       strongroom store compact\n"
    "\n"
    "Move the vault's records from its embedded SQLite file (vault.db) onto\n"
    "PostgreSQL (docs/storage.md). CONNINFO is a libpq connection string of\n"
    "an empty database, without a password (use ~/.pgpass). Every person,\n"
    "index row and document is copied in one snapshot and one transaction,\n"
    "the move is logged (store.move), then <vault>/store names the database\n"
    "and vault.db is removed. Stop the server first. If anything fails the\n"
    "vault stays on its file and the tables made in the database are\n"
    "dropped, so another try can follow. Needs the manage-backups action\n"
    "(the administrator's). Prints {\"people\": N}; a progress line\n"
    "on a terminal.\n"
    "\n"
    "compact rewrites vault.db with its people grouped by the year they\n"
    "left (under a keyed tag, so the file does not show the year), so that\n"
    "a retention run reads and deletes only the groups that may be due and\n"
    "everyone written since (docs/storage.md, \"Compaction\"). Every table\n"
    "is written in key order into a new file that takes vault.db's place,\n"
    "and the old file is overwritten with zeros, so nothing deleted from\n"
    "it survives in its free space. Run it before a retention run, or on a\n"
    "schedule; it needs twice the file's size on disk while it runs. Stop\n"
    "the server first. Needs the manage-backups action; logged as\n"
    "store.compact. SQLite only. Prints {\"people\": N}; a progress line on\n"
    "a terminal.\n"
    "\n"
    "  --to CONNINFO       the PostgreSQL database\n"
    "  --quiet             no progress line\n" COMMON_HELP
    "\nexamples: strongroom store move --to \"host=/run/postgresql "
    "dbname=strongroom\"\n"
    "          strongroom store compact\n";

int cmd_store(int argc, char **argv)
{
    enum { OPT_TO = 1, OPT_QUIET };
    static const struct option opts[] = {
        COMMON_OPTIONS,
        {"to", required_argument, NULL, OPT_TO},
        {"quiet", no_argument, NULL, OPT_QUIET},
        {0, 0, 0, 0}};
    common c = COMMON_INIT;
    const char *to = NULL;
    bool bad = false, quiet = false;
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (o == OPT_HELP) {
            fputs(help_store, stdout);
            return 0;
        }
        if (common_option(&c, o, optarg, &bad))
            continue;
        if (o == OPT_QUIET)
            quiet = true;
        else if (o == OPT_TO)
            to = optarg;
        else
            return fail("store", "bad option; see --help");
    }
    bool compact =
        !bad && optind + 1 == argc && strcmp(argv[optind], "compact") == 0;
    if (bad || optind + 1 != argc ||
        (!compact && strcmp(argv[optind], "move") != 0))
        return fail("store", "give move or compact; see --help");
    if (!compact && to == NULL)
        return fail("store", "store move needs --to CONNINFO");
    if (compact && to != NULL)
        return fail("store", "store compact takes no --to");
    sr_vault *v;
    int rc = open_vault("store", &c, SR_OPEN_WRITE, &v);
    if (rc != 0)
        return rc;
    uint64_t people = 0;
    sr_status st;
    if (compact) {
        moving m = {false};
        bool show = !quiet && isatty(STDERR_FILENO);
        st = sr_vault_compact(v, show ? compact_progress : NULL, &m, &people);
        if (m.shown)
            fputc('\n', stderr);
    } else {
        st = move(v, to, quiet, &people);
    }
    if (st == SR_OK)
        printf("{\"people\":%" PRIu64 "}\n", people);
    rc = st == SR_OK ? 0 : lib_fail("store", st, v);
    sr_vault_close(v);
    return rc;
}
