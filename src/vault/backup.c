/* SPDX-License-Identifier: Apache-2.0 */
/*
 * backup.c - backups that let a shredded person stay shredded
 * (docs/retention.md, "Backups"). A backup holds the records without
 * their keys; the key table (every person's wrapped data key) is written
 * to a file of its own, kept apart and for a shorter time. A restore puts
 * the keys of a key file back and deletes everyone it has no key for: a
 * person shredded since that key file was made is not restored.
 *
 * The key file, JSON lines:
 *   {"strongroom_keys":1,"vault":"<vault id>","created":<unix seconds>}
 *   {"id":"<person id>","kek":<KEK version>,"wrapped":"<hex>"}   per person
 * It holds no plaintext: each key is sealed under the vault's KEK, bound
 * to the vault and the person.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "vault_int.h"

#define KEYS_LINE_MAX 512u

/* The directory path is in ("." for a bare name). */
static void parent_dir(const char *path, char out[PATH_MAX])
{
    (void)snprintf(out, PATH_MAX, "%s", path);
    char *slash = strrchr(out, '/');
    if (slash == NULL)
        (void)snprintf(out, PATH_MAX, ".");
    else if (slash == out)
        out[1] = '\0';
    else
        *slash = '\0';
}

/* ---- the key file ----------------------------------------------------------
 */

sr_status vault_keys_header(const char *line, size_t len,
                            uint8_t vault_id[SR_ID_BYTES])
{
    json_error_t jerr;
    json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    const char *id = json_string_value(json_object_get(o, "vault"));
    bool ok = json_is_object(o) && json_object_size(o) == 3 &&
              json_integer_value(json_object_get(o, "strongroom_keys")) == 1 &&
              json_is_integer(json_object_get(o, "created")) && id != NULL &&
              strlen(id) == SR_ID_STR_LEN &&
              hex_decode(vault_id, SR_ID_BYTES, id, SR_ID_STR_LEN);
    json_decref(o);
    return ok ? SR_OK : SR_ERR_INVALID;
}

sr_status vault_keys_line(const char *line, size_t len, vault_key_line *out)
{
    json_error_t jerr;
    json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    const char *id = json_string_value(json_object_get(o, "id"));
    const char *w = json_string_value(json_object_get(o, "wrapped"));
    const json_t *kek = json_object_get(o, "kek");
    bool ok =
        json_is_object(o) && json_object_size(o) == 3 && id != NULL &&
        w != NULL && json_is_integer(kek) && json_integer_value(kek) >= 1 &&
        json_integer_value(kek) <= UINT32_MAX && strlen(id) == SR_ID_STR_LEN &&
        hex_decode(out->id, SR_ID_BYTES, id, SR_ID_STR_LEN) &&
        strlen(w) == 2 * WRAPPED_KEY_BYTES &&
        hex_decode(out->wrapped, WRAPPED_KEY_BYTES, w, 2 * WRAPPED_KEY_BYTES);
    if (ok)
        out->kek = (uint32_t)json_integer_value(kek);
    json_decref(o);
    return ok ? SR_OK : SR_ERR_INVALID;
}

typedef struct keys_out {
    sr_vault *v;
    int fd;
    uint64_t people;
    int err; /* errno of a failed write */
} keys_out;

static sr_status key_row(void *ctx, const store_row *row)
{
    keys_out *k = ctx;
    char line[KEYS_LINE_MAX], id[SR_ID_STR_LEN + 1];
    char w[2 * WRAPPED_KEY_BYTES + 1];
    if (row->wrapped_len != WRAPPED_KEY_BYTES) {
        hex_encode(id, row->id, SR_ID_BYTES);
        return vault_fail(k->v, SR_ERR_CORRUPT,
                          "person %s has no whole wrapped key", id);
    }
    hex_encode(id, row->id, SR_ID_BYTES);
    hex_encode(w, row->wrapped, WRAPPED_KEY_BYTES);
    int n = snprintf(line, sizeof line,
                     "{\"id\":\"%s\",\"kek\":%" PRIu32 ",\"wrapped\":\"%s\"}\n",
                     id, row->kek_version, w);
    if (n < 0 || (size_t)n >= sizeof line)
        return SR_ERR_INTERNAL;
    if (!fd_write_all(k->fd, line, (size_t)n)) {
        k->err = errno;
        return errno == ENOSPC ? SR_ERR_FULL : SR_ERR_IO;
    }
    k->people++;
    return SR_OK;
}

/* Write the key table to path: a temporary file beside it, fsync,
 * rename, fsync of the directory. */
static sr_status write_keys(sr_vault *v, const char *path, uint64_t *people)
{
    char tmp[PATH_MAX], head[160], vid[SR_ID_STR_LEN + 1];
    *people = 0;
    if (snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid()) >=
        (int)sizeof tmp)
        return vault_fail(v, SR_ERR_INVALID, "the key file's path is too long");
    keys_out k = {v, -1, 0, 0};
    k.fd =
        open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (k.fd < 0)
        return vault_fail(v, SR_ERR_IO, "cannot create %s: %s", tmp,
                          strerror(errno));
    hex_encode(vid, v->vault_id, SR_ID_BYTES);
    int n = snprintf(head, sizeof head,
                     "{\"strongroom_keys\":1,\"vault\":\"%s\",\"created\":%lld}"
                     "\n",
                     vid, (long long)time(NULL));
    sr_status st = fd_write_all(k.fd, head, (size_t)n) ? SR_OK : SR_ERR_IO;
    v->errmsg[0] = '\0';
    if (st == SR_OK)
        st = v->ops->scan(v->st, 0, key_row, &k);
    if (st == SR_OK && fsync(k.fd) != 0)
        st = SR_ERR_IO;
    int e = k.err != 0 ? k.err : errno;
    if (close(k.fd) != 0 && st == SR_OK)
        st = SR_ERR_IO;
    if (st == SR_OK && rename(tmp, path) != 0) {
        e = errno;
        st = SR_ERR_IO;
    }
    if (st != SR_OK) {
        (void)unlink(tmp);
        if (v->errmsg[0] == '\0')
            st = vault_fail(v, st, "cannot write the key file %s: %s", path,
                            strerror(e));
        return st;
    }
    char dir[PATH_MAX];
    parent_dir(path, dir);
    st = dir_sync(dir);
    if (st != SR_OK)
        return vault_fail(v, st, "cannot sync the key file's directory");
    *people = k.people;
    return SR_OK;
}

/* ---- making a backup -------------------------------------------------------
 */

static sr_status authorize(sr_vault *v, const char *name, access_req *r)
{
    unsigned granted;
    memset(r, 0, sizeof *r);
    r->action = POLICY_MANAGE_BACKUPS;
    r->name = name;
    return vault_authorize(v, r, &granted);
}

/* Does path lie in directory dir (both resolved; dir must exist)? */
static bool inside(const char *dir, const char *path)
{
    char rd[PATH_MAX], rp[PATH_MAX], parent[PATH_MAX];
    parent_dir(path, parent);
    if (realpath(dir, rd) == NULL || realpath(parent, rp) == NULL)
        return false;
    size_t n = strlen(rd);
    return strncmp(rp, rd, n) == 0 && (rp[n] == '\0' || rp[n] == '/');
}

static sr_status copy_in(sr_vault *v, const char *dir, const char *name)
{
    char src[PATH_MAX], dst[PATH_MAX];
    if (snprintf(src, sizeof src, "%s/%s", v->dir, name) >= (int)sizeof src ||
        snprintf(dst, sizeof dst, "%s/%s", dir, name) >= (int)sizeof dst)
        return vault_fail(v, SR_ERR_INVALID, "the backup path is too long");
    sr_status st = path_copy(src, dst);
    if (st != SR_OK)
        return vault_fail(v, st, "cannot copy %s into the backup: %s", name,
                          strerror(errno));
    return SR_OK;
}

/* Copy the audit log while no process appends to it or integrates it:
 * the same flocks its writers take (src/audit/log.c). */
static sr_status copy_log(sr_vault *v, const char *dir)
{
    static const char *const locks[] = {"audit/lock", "audit/ilock"};
    int fds[2] = {-1, -1};
    sr_status st = SR_OK;
    for (size_t i = 0; i < 2 && st == SR_OK; i++) {
        char p[PATH_MAX];
        (void)snprintf(p, sizeof p, "%s/%s", v->dir, locks[i]);
        fds[i] = open(p, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
        while (fds[i] >= 0 && flock(fds[i], LOCK_EX) != 0 && errno == EINTR)
            ;
        if (fds[i] < 0)
            st = vault_fail(v, SR_ERR_IO, "cannot lock the audit log: %s",
                            strerror(errno));
    }
    static const char *const parts[] = {"log", "log.vkey", "audit"};
    for (size_t i = 0; i < 3 && st == SR_OK; i++)
        st = copy_in(v, dir, parts[i]);
    for (size_t i = 0; i < 2; i++)
        if (fds[i] >= 0)
            (void)close(fds[i]); /* releases the flock */
    return st;
}

static sr_status write_manifest(sr_vault *v, const char *dir,
                                const char *keys_path,
                                const sr_backup_summary *s)
{
    char vid[SR_ID_STR_LEN + 1], path[PATH_MAX];
    hex_encode(vid, v->vault_id, SR_ID_BYTES);
    json_t *o =
        json_pack("{s:i, s:s, s:I, s:I, s:I, s:i, s:s}", "strongroom_backup", 1,
                  "vault", vid, "created", (json_int_t)time(NULL), "people",
                  (json_int_t)s->people, "log_size", (json_int_t)s->log_size,
                  "kek_version", (int)v->kek_version, "keys", keys_path);
    char *text = o != NULL ? json_to_text(o, JSON_INDENT(2)) : NULL;
    json_decref(o);
    if (text == NULL)
        return vault_fail(v, SR_ERR_NOMEM, "out of memory");
    size_t n = strlen(text);
    text[n] = '\n';
    (void)snprintf(path, sizeof path, "%s/backup.json", dir);
    sr_status st = file_write_atomic(path, text, n + 1, 0600);
    free(text);
    if (st != SR_OK)
        return vault_fail(v, st, "cannot write backup.json");
    return SR_OK;
}

sr_status sr_vault_backup(sr_vault *v, const char *dir, const char *keys_path,
                          sr_backup_summary *out)
{
    access_req r;
    char db[PATH_MAX], detail[ENTRY_TEXT_MAX];
    memset(out, 0, sizeof *out);
    sr_status st = authorize(v, "backup.create", &r);
    if (st != SR_OK)
        return st;
    if (dir == NULL || keys_path == NULL)
        return vault_fail(v, SR_ERR_INVALID,
                          "a backup needs its directory and a key file");
    if (snprintf(db, sizeof db, "%s/vault.db", dir) >= (int)sizeof db)
        return vault_fail(v, SR_ERR_INVALID, "the backup path is too long");
    if (mkdir(dir, 0700) != 0)
        return vault_fail(v, errno == EEXIST ? SR_ERR_EXISTS : SR_ERR_IO,
                          "cannot create the backup directory %s: %s", dir,
                          strerror(errno));
    if (inside(dir, keys_path)) {
        (void)rmdir(dir);
        return vault_fail(v, SR_ERR_INVALID,
                          "the key file goes outside the backup directory: "
                          "keys are kept apart from the records, and for a "
                          "shorter time (docs/retention.md)");
    }
    /* The records first, then their keys: a person shredded in between
     * is in the records without a key, and is not restored; one stored
     * in between has a key and no record, which a restore skips. */
    v->errmsg[0] = '\0';
    st = v->ops->backup(v->st, db);
    if (st != SR_OK)
        st = vault_store_fail(v, st, "cannot write the backup");
    if (st == SR_OK)
        st = write_keys(v, keys_path, &out->people);
    bool keys_written = st == SR_OK;
    if (st == SR_OK)
        st = copy_in(v, dir, "vault.key");
    /* Logged, and the log checkpointed, before the log is copied: the
     * backup holds the entry of its own making. */
    (void)snprintf(detail, sizeof detail, "people %" PRIu64, out->people);
    if (st == SR_OK)
        st = vault_record(v, &r, ENTRY_ALLOWED, SR_OK, 0, detail, out->people,
                          NULL, 0);
    if (st == SR_OK)
        st = vault_audit_checkpoint(v, &out->log_size);
    if (st == SR_OK)
        st = copy_log(v, dir);
    if (st == SR_OK)
        st = write_manifest(v, dir, keys_path, out);
    if (st == SR_OK && dir_sync(dir) != SR_OK)
        st = vault_fail(v, SR_ERR_IO, "cannot sync the backup directory");
    if (st != SR_OK) {
        /* Nothing half-made stays: not the directory, not the keys. */
        dir_remove_tree(dir);
        if (keys_written)
            (void)unlink(keys_path);
    }
    return st;
}

sr_status sr_vault_backup_keys(sr_vault *v, const char *keys_path,
                               uint64_t *people)
{
    access_req r;
    char detail[ENTRY_TEXT_MAX];
    *people = 0;
    sr_status st = authorize(v, "backup.keys", &r);
    if (st == SR_OK)
        st = write_keys(v, keys_path, people);
    (void)snprintf(detail, sizeof detail, "people %" PRIu64, *people);
    if (st == SR_OK)
        st = vault_record(v, &r, ENTRY_ALLOWED, SR_OK, 0, detail, *people, NULL,
                          0);
    return st;
}

/* ---- restoring ---------------------------------------------------------- */

sr_status sr_backup_copy(const char *from, const char *to, char *msg,
                         size_t msg_cap)
{
    static const char *const parts[] = {"vault.db", "vault.key", "log.vkey",
                                        "log", "audit"};
    char src[PATH_MAX], dst[PATH_MAX];
    if (mkdir(to, 0700) != 0) {
        (void)snprintf(msg, msg_cap, "cannot create %s: %s", to,
                       strerror(errno));
        return errno == EEXIST ? SR_ERR_EXISTS : SR_ERR_IO;
    }
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        if (snprintf(src, sizeof src, "%s/%s", from, parts[i]) >=
                (int)sizeof src ||
            snprintf(dst, sizeof dst, "%s/%s", to, parts[i]) >=
                (int)sizeof dst) {
            (void)snprintf(msg, msg_cap, "the path is too long");
            return SR_ERR_INVALID;
        }
        sr_status st = path_copy(src, dst);
        if (st != SR_OK) {
            (void)snprintf(msg, msg_cap, "cannot copy %s from the backup: %s",
                           parts[i],
                           st == SR_ERR_NOT_FOUND ? "it is not there (is "
                                                    "this a backup?)"
                                                  : strerror(errno));
            dir_remove_tree(to);
            return st;
        }
    }
    if (dir_sync(to) != SR_OK) {
        (void)snprintf(msg, msg_cap, "cannot sync %s", to);
        dir_remove_tree(to);
        return SR_ERR_IO;
    }
    return SR_OK;
}

void sr_backup_abandon(const char *to)
{
    dir_remove_tree(to);
}

typedef struct restore_ctx {
    sr_vault *v;
    sr_restore_summary *out;
    uint8_t *dk; /* sodium_malloc: each key is opened once, to check it */
} restore_ctx;

static sr_status restore_line(void *ctx, const char *line, size_t len,
                              bool newline, uint64_t lineno)
{
    restore_ctx *c = ctx;
    sr_vault *v = c->v;
    (void)newline;
    if (lineno == 1) {
        uint8_t vid[SR_ID_BYTES];
        if (vault_keys_header(line, len, vid) != SR_OK)
            return vault_fail(v, SR_ERR_INVALID,
                              "key file line 1: not a Strongroom key file");
        if (sodium_memcmp(vid, v->vault_id, SR_ID_BYTES) != 0)
            return vault_fail(v, SR_ERR_INVALID,
                              "key file line 1: the keys of another vault");
        return SR_OK;
    }
    vault_key_line k;
    char hex[SR_ID_STR_LEN + 1];
    if (vault_keys_line(line, len, &k) != SR_OK)
        return vault_fail(v, SR_ERR_INVALID,
                          "key file line %" PRIu64 ": not a key line", lineno);
    c->out->keys++;
    hex_encode(hex, k.id, SR_ID_BYTES);
    sr_status st = crypto_unwrap_key(v->keys, k.kek, k.id, k.wrapped,
                                     WRAPPED_KEY_BYTES, c->dk);
    sodium_memzero(c->dk, CRYPTO_KEY_BYTES);
    if (st != SR_OK)
        return vault_fail(v, SR_ERR_CORRUPT,
                          "key file line %" PRIu64
                          ": the key of person %s does not open (%s)",
                          lineno, hex, sr_status_str(st));
    st = v->ops->set_key(v->st, k.id, k.kek, k.wrapped, WRAPPED_KEY_BYTES);
    switch (st) {
    case SR_OK:
        c->out->restored++;
        return SR_OK;
    case SR_ERR_NOT_FOUND: /* stored after the backup */
        c->out->unknown++;
        return SR_OK;
    case SR_ERR_EXISTS: /* restored already: a second run */
        return SR_OK;
    default:
        return vault_store_fail(v, st, "cannot restore a key");
    }
}

sr_status sr_vault_restore_keys(sr_vault *v, const char *keys_path,
                                sr_restore_summary *out)
{
    access_req r;
    char detail[ENTRY_TEXT_MAX];
    uint64_t lineno = 0;
    memset(out, 0, sizeof *out);
    if (!v->writable)
        return vault_fail(v, SR_ERR_INVALID, "the vault was opened read-only");
    sr_status st = authorize(v, "backup.restore", &r);
    if (st != SR_OK)
        return st;
    restore_ctx c = {v, out, sodium_malloc(CRYPTO_KEY_BYTES)};
    if (c.dk == NULL)
        return vault_fail(v, SR_ERR_NOMEM, "cannot allocate locked memory");
    st = v->ops->begin(v->st);
    if (st != SR_OK) {
        sodium_free(c.dk);
        return vault_store_fail(v, st, "cannot start a transaction");
    }
    v->errmsg[0] = '\0';
    st = file_lines(keys_path, KEYS_LINE_MAX, restore_line, &c, &lineno);
    if (st != SR_OK && v->errmsg[0] == '\0')
        st = vault_fail(v, st,
                        st == SR_ERR_INVALID
                            ? "key file line %" PRIu64 ": the line is too long"
                            : "cannot read the key file (line %" PRIu64 ")",
                        lineno);
    if (st == SR_OK && lineno == 0)
        st = vault_fail(v, SR_ERR_INVALID, "the key file is empty");
    if (st == SR_OK &&
        (st = v->ops->drop_keyless(v->st, &out->removed)) != SR_OK)
        st = vault_store_fail(v, st, "cannot remove the people without a key");
    (void)snprintf(detail, sizeof detail,
                   "restored %" PRIu64 ", removed %" PRIu64
                   " without a key, %" PRIu64 " keys of people not in it",
                   out->restored, out->removed, out->unknown);
    /* Logged before the commit, like every change. */
    if (st == SR_OK)
        st = vault_record(v, &r, ENTRY_ALLOWED, SR_OK, 0, detail, out->restored,
                          NULL, 0);
    if (st == SR_OK && (st = v->ops->commit(v->st)) != SR_OK)
        st = vault_store_fail(v, st, "cannot commit the restore");
    if (st != SR_OK)
        (void)v->ops->rollback(v->st);
    sodium_free(c.dk);
    if (st == SR_OK && out->removed > 0 && (st = v->ops->purge(v->st)) != SR_OK)
        st = vault_store_fail(v, st, "cannot empty the write-ahead log");
    return st;
}
