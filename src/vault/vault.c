/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vault.c - the vault facade: composes record (validation, encoding),
 * crypto (keys, envelopes, blind indexes) and store (ciphertext on disk)
 * into the operations of strongroom/vault.h.
 *
 * Data flows one way: input is validated and encoded, each field class is
 * sealed under the person's data key, and only ciphertext, the wrapped key
 * and truncated blind-index values reach the store. On the way back every
 * envelope is verified before a byte of it is decoded.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <dirent.h>
#include <sodium.h>

#include "vault_int.h"

#define KEY_FILE "vault.key"
#define DB_FILE "vault.db"
#define STORE_FILE "store" /* a PostgreSQL store's connection string */
#define LOCK_FILE "lock"
#define PATH_CAP 4096
#define LINE_MAX_BYTES (RECORD_MAX_JSON + 4096u)

/* ---- messages ------------------------------------------------------------ */

sr_status vault_fail(sr_vault *v, sr_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(v->errmsg, sizeof v->errmsg, fmt, ap);
    va_end(ap);
    return st;
}

sr_status vault_store_fail(sr_vault *v, sr_status st, const char *what)
{
    if (st == SR_ERR_FULL)
        return vault_fail(v, st, "%s: disk full (%s)", what,
                          v->ops->errmsg(v->st));
    return vault_fail(v, st, "%s: %s", what, v->ops->errmsg(v->st));
}

const char *sr_vault_errmsg(const sr_vault *v)
{
    if (v == NULL)
        return "out of memory";
    return v->errmsg[0] ? v->errmsg : "no error";
}

static void id_hex(char out[SR_ID_STR_LEN + 1], const uint8_t id[SR_ID_BYTES])
{
    hex_encode(out, id, SR_ID_BYTES);
}

static bool id_parse(uint8_t id[SR_ID_BYTES], const char *s)
{
    return s != NULL && hex_decode(id, SR_ID_BYTES, s, strlen(s));
}

/* ---- secrets handed to the caller --------------------------------------- */

typedef union {
    size_t n;
    max_align_t align;
} secret_head;

/* A NUL-terminated copy of p in memory sr_secret_free will wipe. */
static char *secret_dup(const uint8_t *p, size_t n)
{
    if (n > SIZE_MAX - sizeof(secret_head) - 1)
        return NULL;
    secret_head *h = malloc(sizeof(secret_head) + n + 1);
    if (h == NULL)
        return NULL;
    h->n = n + 1;
    char *s = (char *)(h + 1);
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

void sr_secret_free(char *p)
{
    if (p == NULL)
        return;
    secret_head *h = (secret_head *)(void *)p - 1;
    sodium_memzero(p, h->n);
    free(h);
}

/* ---- sealed people ------------------------------------------------------- */

void sealed_init(sealed_person *sp)
{
    memset(sp, 0, sizeof *sp);
    buf_init(&sp->plain, (size_t)SR_CLASS_COUNT * RECORD_MAX_ENCODED);
    buf_init(&sp->cipher, (size_t)SR_CLASS_COUNT * RECORD_MAX_ENCODED +
                              WRAPPED_KEY_BYTES +
                              SR_CLASS_COUNT * ENVELOPE_OVERHEAD);
}

void sealed_reset(sealed_person *sp)
{
    buf_reset(&sp->plain);
    buf_reset(&sp->cipher);
    sodium_memzero(sp->ssn, sizeof sp->ssn);
    sp->index.n = 0;
}

void sealed_free(sealed_person *sp)
{
    buf_free(&sp->plain);
    buf_free(&sp->cipher);
    sodium_memzero(sp, sizeof *sp);
}

sr_status scratch_init(seal_scratch *sc)
{
    sc->dk = sodium_malloc(CRYPTO_KEY_BYTES);
    return sc->dk ? SR_OK : SR_ERR_NOMEM;
}

void scratch_free(seal_scratch *sc)
{
    if (sc->dk != NULL)
        sodium_free(sc->dk); /* wipes */
    sc->dk = NULL;
}

static void ad_init(envelope_ad *ad, const sr_vault *v,
                    const uint8_t id[SR_ID_BYTES], sr_class c, unsigned present,
                    uint32_t record_version, uint32_t key_version)
{
    memcpy(ad->vault_id, v->vault_id, SR_ID_BYTES);
    memcpy(ad->person_id, id, SR_ID_BYTES);
    ad->cls = (uint8_t)c;
    ad->present = (uint8_t)present;
    ad->record_version = record_version;
    ad->key_version = key_version;
}

/* Index value of a normalised family name and a birth date
 * ("YYYY-MM-DD"). */
static uint64_t name_dob_value(const sr_vault *v, const char *norm,
                               const char *dob)
{
    char in[RECORD_NAME_NORM_CAP + 12];
    size_t n = strnlen(norm, RECORD_NAME_NORM_CAP - 1);
    memcpy(in, norm, n);
    in[n++] = '\0'; /* separator: no name ends in NUL */
    memcpy(in + n, dob, 10);
    n += 10;
    uint64_t value = crypto_blind_index(v->keys, INDEX_NAME_DOB, (uint8_t *)in,
                                        n, v->index_bits);
    sodium_memzero(in, sizeof in);
    return value;
}

/* The same for a family name as written; false if it normalises to
 * nothing. */
static bool name_dob_index(const sr_vault *v, const char *family,
                           const char *dob, uint64_t *value)
{
    char norm[RECORD_NAME_NORM_CAP];
    if (!record_norm_name(family, norm, sizeof norm))
        return false;
    *value = name_dob_value(v, norm, dob);
    sodium_memzero(norm, sizeof norm);
    return true;
}

static void add_index(index_rows *ir, uint8_t kind, uint64_t value)
{
    for (size_t i = 0; i < ir->n; i++)
        if (ir->idx[i].kind == kind && ir->idx[i].value == value)
            return; /* a former name that normalises like the current */
    if (ir->n < VAULT_MAX_INDEX) {
        ir->idx[ir->n].kind = kind;
        ir->idx[ir->n].value = value;
        ir->n++;
    }
}

/* The blind-index rows of a validated person, and its SSN digits. */
static sr_status index_person(const sr_vault *v, const json_t *person,
                              index_rows *ir, char ssn_out[10])
{
    const char *ssn = json_string_value(json_object_get(person, "ssn"));
    const char *dob = json_string_value(
        json_object_get(json_object_get(person, "birth"), "date"));
    ir->n = 0;
    if (ssn == NULL || dob == NULL || !record_norm_ssn(ssn, ssn_out))
        return SR_ERR_INVALID;
    add_index(ir, INDEX_SSN,
              crypto_blind_index(v->keys, INDEX_SSN, (uint8_t *)ssn_out, 9,
                                 v->index_bits));
    uint64_t value;
    const char *family = json_string_value(
        json_object_get(json_object_get(person, "name"), "family"));
    if (family != NULL && name_dob_index(v, family, dob, &value))
        add_index(ir, INDEX_NAME_DOB, value);
    size_t i;
    json_t *former;
    json_array_foreach(json_object_get(person, "former_names"), i, former) {
        family = json_string_value(json_object_get(former, "family"));
        if (family != NULL && name_dob_index(v, family, dob, &value))
            add_index(ir, INDEX_NAME_DOB, value);
    }
    return SR_OK;
}

/* Encode and seal every class of person under sc->dk, for record version
 * `version`, filling sp's plain and cipher buffers. */
static sr_status seal_classes(const sr_vault *v, seal_scratch *sc,
                              const json_t *person, uint32_t version,
                              sealed_person *sp, char *msg, size_t msg_cap)
{
    sr_status st;
    for (unsigned c = 0; c < SR_CLASS_COUNT; c++) {
        size_t before = sp->plain.len;
        st = record_encode_class(person, (sr_class)c, &sp->plain);
        if (st != SR_OK) {
            (void)snprintf(msg, msg_cap, "cannot encode the %s class: %s",
                           sr_class_name((sr_class)c), sr_status_str(st));
            return st;
        }
        sp->plain_off[c] = before;
        sp->plain_len[c] = sp->plain.len - before;
    }
    sp->present = 0;
    for (unsigned c = 0; c < SR_CLASS_COUNT; c++)
        if (sp->plain_len[c] != 0)
            sp->present |= SR_CLASS_BIT(c);
    for (unsigned c = 0; c < SR_CLASS_COUNT; c++) {
        sp->cls_off[c] = sp->cipher.len;
        sp->cls_len[c] = 0;
        if (sp->plain_len[c] == 0)
            continue; /* empty class: no ciphertext at all */
        size_t n = sp->plain_len[c] + ENVELOPE_OVERHEAD;
        st = buf_reserve(&sp->cipher, n);
        if (st != SR_OK)
            return st;
        envelope_ad ad;
        ad_init(&ad, v, sp->id, (sr_class)c, sp->present, version,
                v->kek_version);
        st = crypto_seal_class(sc->dk, &ad, sp->plain.p + sp->plain_off[c],
                               sp->plain_len[c], sp->cipher.p + sp->cipher.len);
        if (st != SR_OK)
            return st;
        sp->cipher.len += n;
        sp->cls_len[c] = n;
    }
    return SR_OK;
}

/* ---- retention clusters --------------------------------------------------
 *
 * A person's cluster says where the store keeps them (store.h): those who
 * left in the same year lie together, and a retention run reads and
 * deletes whole runs of pages. The tag is keyed (INDEX_CLUSTER), so the
 * file shows which people share a year, as a blind index shows who
 * shares a value, but not the year (docs/storage.md).
 */

uint16_t vault_cluster_of_year(const sr_vault *v, int year)
{
    char in[16];
    if (year != 0 && year < VAULT_CLUSTER_FIRST_YEAR)
        year = VAULT_CLUSTER_FIRST_YEAR;
    int n = year == 0 ? snprintf(in, sizeof in, "employed")
                      : snprintf(in, sizeof in, "left %04d", year);
    if (n < 0 || (size_t)n >= sizeof in)
        return 1;
    uint64_t tag = crypto_blind_index(v->keys, INDEX_CLUSTER, (uint8_t *)in,
                                      (size_t)n, 16);
    return tag == 0 ? 1 : (uint16_t)tag;
}

uint16_t vault_cluster_of(const sr_vault *v, int32_t left)
{
    char day[11];
    if (left == RECORD_NOT_SEPARATED)
        return vault_cluster_of_year(v, 0);
    date_format(left, day);
    return vault_cluster_of_year(v, (day[0] - '0') * 1000 +
                                        (day[1] - '0') * 100 +
                                        (day[2] - '0') * 10 + (day[3] - '0'));
}

sr_status vault_seal_person(const sr_vault *v, seal_scratch *sc,
                            const json_t *person, const uint8_t *id,
                            uint32_t version, sealed_person *sp, char *msg,
                            size_t msg_cap)
{
    sealed_reset(sp);
    if (id != NULL)
        memcpy(sp->id, id, SR_ID_BYTES);
    else
        randombytes_buf(sp->id, sizeof sp->id);
    crypto_data_key_new(sc->dk);
    sr_status st = index_person(v, person, &sp->index, sp->ssn);
    if (st != SR_OK) {
        (void)snprintf(msg, msg_cap,
                       "person has no indexable SSN or birth date");
        goto cleanup;
    }
    /* The wrapped key goes first in the cipher buffer. */
    st = buf_reserve(&sp->cipher, WRAPPED_KEY_BYTES);
    if (st != SR_OK)
        goto cleanup;
    st = crypto_wrap_key(v->keys, v->kek_version, sp->id, sc->dk, sp->cipher.p);
    if (st != SR_OK)
        goto cleanup;
    sp->cipher.len = WRAPPED_KEY_BYTES;
    st = seal_classes(v, sc, person, version, sp, msg, msg_cap);
cleanup:
    sodium_memzero(sc->dk, CRYPTO_KEY_BYTES);
    if (st != SR_OK && msg[0] == '\0')
        (void)snprintf(msg, msg_cap, "cannot seal the person: %s",
                       sr_status_str(st));
    return st;
}

static void row_from_sealed(store_row *row, const sealed_person *sp,
                            uint32_t version, uint32_t kek_version)
{
    memset(row, 0, sizeof *row);
    memcpy(row->id, sp->id, SR_ID_BYTES);
    row->version = version;
    row->kek_version = kek_version;
    row->present = sp->present;
    row->wrapped = sp->cipher.p;
    row->wrapped_len = WRAPPED_KEY_BYTES;
    for (unsigned c = 0; c < SR_CLASS_COUNT; c++) {
        if (sp->cls_len[c] == 0)
            continue;
        row->cls[c] = sp->cipher.p + sp->cls_off[c];
        row->cls_len[c] = sp->cls_len[c];
    }
}

/* ---- opening rows -------------------------------------------------------- */

/* Unwrap the row's data key into v->dk. */
static sr_status unwrap_row(sr_vault *v, const store_row *row)
{
    char hex[SR_ID_STR_LEN + 1];
    sr_status st = crypto_unwrap_key(v->keys, row->kek_version, row->id,
                                     row->wrapped, row->wrapped_len, v->dk);
    if (st == SR_OK)
        return SR_OK;
    id_hex(hex, row->id);
    if (st == SR_ERR_VERSION)
        return vault_fail(v, SR_ERR_CORRUPT,
                          "person %s: data key wrapped under unknown key "
                          "version %u",
                          hex, row->kek_version);
    return vault_fail(v, SR_ERR_CORRUPT,
                      "person %s: the wrapped data key failed authentication "
                      "(edited, or moved from another person or vault)",
                      hex);
}

/* Open class c of row (data key already in v->dk) into v->pt. */
static sr_status open_class(sr_vault *v, const store_row *row, sr_class c)
{
    char hex[SR_ID_STR_LEN + 1];
    buf_reset(&v->pt);
    size_t n = row->cls_len[c];
    sr_status st = SR_ERR_CORRUPT;
    if (n > ENVELOPE_OVERHEAD) {
        st = buf_reserve(&v->pt, n - ENVELOPE_OVERHEAD);
        if (st != SR_OK)
            return vault_fail(v, st, "out of memory opening a record");
        envelope_ad ad;
        ad_init(&ad, v, row->id, c, row->present, row->version,
                row->kek_version);
        st = crypto_open_class(v->dk, &ad, row->cls[c], n, v->pt.p);
    }
    if (st != SR_OK) {
        id_hex(hex, row->id);
        return vault_fail(v, SR_ERR_CORRUPT,
                          "person %s: the %s class failed authentication "
                          "(ciphertext edited, swapped between people or "
                          "classes, or replayed from another version)",
                          hex, sr_class_name(c));
    }
    v->pt.len = n - ENVELOPE_OVERHEAD;
    return SR_OK;
}

/* A class the row says it has must be there, and no other: the set is
 * bound into every envelope, so a class deleted together with its bit is
 * caught when any other class is opened, and one deleted alone here. */
static sr_status check_presence(sr_vault *v, const store_row *row, sr_class c)
{
    char hex[SR_ID_STR_LEN + 1];
    bool listed = (row->present & SR_CLASS_BIT(c)) != 0;
    if (listed == (row->cls[c] != NULL))
        return SR_OK;
    id_hex(hex, row->id);
    return vault_fail(v, SR_ERR_CORRUPT, "person %s: the %s class is %s", hex,
                      sr_class_name(c),
                      listed ? "missing (deleted from the database?)"
                             : "there but not recorded as written");
}

/* Decrypt the classes of row in mask into person (an object). */
static sr_status open_row(sr_vault *v, const store_row *row, unsigned mask,
                          json_t *person)
{
    char hex[SR_ID_STR_LEN + 1];
    sr_status st = unwrap_row(v, row);
    if (st != SR_OK)
        return st;
    for (unsigned c = 0; c < SR_CLASS_COUNT && st == SR_OK; c++) {
        if (!(mask & SR_CLASS_BIT(c)))
            continue;
        st = check_presence(v, row, (sr_class)c);
        if (st != SR_OK || row->cls[c] == NULL)
            continue;
        st = open_class(v, row, (sr_class)c);
        if (st != SR_OK)
            break;
        record_error err;
        st = record_decode_class(v->pt.p, v->pt.len, (sr_class)c, person, &err);
        buf_reset(&v->pt);
        if (st != SR_OK) {
            char why[400];
            record_error_format(&err, why, sizeof why);
            id_hex(hex, row->id);
            st = vault_fail(v, SR_ERR_CORRUPT,
                            "person %s: the %s class does not decode: %s", hex,
                            sr_class_name((sr_class)c), why);
        }
    }
    sodium_memzero(v->dk, CRYPTO_KEY_BYTES);
    return st;
}

/* Serialise json as one compact line into v->out. */
static sr_status dump_line(sr_vault *v, const json_t *json)
{
    buf_reset(&v->out);
    size_t need = json_dumpb(json, NULL, 0, JSON_COMPACT);
    if (need == 0)
        return vault_fail(v, SR_ERR_INTERNAL, "cannot serialise a record");
    sr_status st = buf_reserve(&v->out, need);
    if (st != SR_OK)
        return vault_fail(v, st, "cannot serialise a record: too large");
    v->out.len = json_dumpb(json, (char *)v->out.p, need, JSON_COMPACT);
    return v->out.len == need
               ? SR_OK
               : vault_fail(v, SR_ERR_INTERNAL, "cannot serialise a record");
}

/* A new person object {"id": hex}, members to follow in schema order. */
static json_t *person_with_id(const uint8_t id[SR_ID_BYTES])
{
    char hex[SR_ID_STR_LEN + 1];
    id_hex(hex, id);
    json_t *o = json_object();
    if (o != NULL && json_object_set_new(o, "id", json_string(hex)) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* ---- files and locks ----------------------------------------------------- */

static sr_status join_path(sr_vault *v, char out[PATH_CAP], const char *name)
{
    int n = snprintf(out, PATH_CAP, "%s/%s", v->dir, name);
    if (n < 0 || n >= PATH_CAP)
        return vault_fail(v, SR_ERR_INVALID, "vault path is too long");
    return SR_OK;
}

static sr_status take_lock(sr_vault *v)
{
    char path[PATH_CAP];
    sr_status st = join_path(v, path, LOCK_FILE);
    if (st != SR_OK)
        return st;
    v->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (v->lock_fd < 0)
        return vault_fail(v, SR_ERR_IO, "cannot open the vault lock %s: %s",
                          path, strerror(errno));
    if (flock(v->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        if (e == EWOULDBLOCK)
            return vault_fail(v, SR_ERR_LOCKED,
                              "the vault %s is open for writing by another "
                              "process; try again when it has finished",
                              v->dir);
        return vault_fail(v, SR_ERR_IO, "cannot lock the vault: %s",
                          strerror(e));
    }
    return SR_OK;
}

static sr_status fsync_dir(sr_vault *v)
{
    int fd = open(v->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return vault_fail(v, SR_ERR_IO, "cannot sync the vault directory: %s",
                          strerror(e));
    }
    close(fd);
    return SR_OK;
}

/* Write the key file: temp file, fsync, rename, fsync the directory, so a
 * crash leaves either no key file or a whole one. */
static sr_status write_keyfile(sr_vault *v)
{
    char path[PATH_CAP], tmp[PATH_CAP];
    uint8_t bytes[KEYFILE_SIZE];
    sr_status st = join_path(v, path, KEY_FILE);
    if (st == SR_OK)
        st = join_path(v, tmp, KEY_FILE ".tmp");
    if (st != SR_OK)
        return st;
    keyfile_serialize(&v->kf, bytes);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return vault_fail(v, SR_ERR_IO, "cannot create %s: %s", tmp,
                          strerror(errno));
    ssize_t w = write(fd, bytes, sizeof bytes);
    int e = errno;
    if (w != (ssize_t)sizeof bytes || fsync(fd) != 0) {
        e = w >= 0 && w != (ssize_t)sizeof bytes ? ENOSPC : errno;
        close(fd);
        (void)unlink(tmp);
        return vault_fail(v, e == ENOSPC ? SR_ERR_FULL : SR_ERR_IO,
                          "cannot write %s: %s", tmp, strerror(e));
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        e = errno;
        (void)unlink(tmp);
        return vault_fail(v, SR_ERR_IO, "cannot install %s: %s", path,
                          strerror(e));
    }
    return fsync_dir(v);
}

static sr_status read_keyfile(sr_vault *v)
{
    char path[PATH_CAP];
    uint8_t bytes[KEYFILE_SIZE + 1];
    sr_status st = join_path(v, path, KEY_FILE);
    if (st != SR_OK)
        return st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return vault_fail(v, SR_ERR_NOT_VAULT,
                              "%s is not a Strongroom vault (no %s); create "
                              "one with 'strongroom init'",
                              v->dir, KEY_FILE);
        return vault_fail(v, SR_ERR_IO, "cannot open %s: %s", path,
                          strerror(errno));
    }
    ssize_t n = read(fd, bytes, sizeof bytes);
    int e = errno;
    close(fd);
    if (n < 0)
        return vault_fail(v, SR_ERR_IO, "cannot read %s: %s", path,
                          strerror(e));
    st = keyfile_parse(bytes, (size_t)n, &v->kf);
    if (st == SR_ERR_VERSION)
        return vault_fail(v, st, "%s was written by a newer Strongroom", path);
    if (st != SR_OK)
        return vault_fail(v, st, "%s is not a valid Strongroom key file (%s)",
                          path, sr_status_str(st));
    memcpy(v->vault_id, v->kf.vault_id, SR_ID_BYTES);
    return SR_OK;
}

/* ---- meta values --------------------------------------------------------- */

static sr_status meta_put_u64(sr_vault *v, const char *key, uint64_t x)
{
    uint8_t b[8];
    for (unsigned i = 0; i < 8; i++)
        b[i] = (uint8_t)(x >> (56 - 8 * i));
    return v->ops->meta_put(v->st, key, b, sizeof b);
}

static sr_status meta_get_u64(sr_vault *v, const char *key, uint64_t *x)
{
    uint8_t b[8];
    size_t n = 0;
    sr_status st = v->ops->meta_get(v->st, key, b, sizeof b, &n);
    if (st != SR_OK)
        return st;
    if (n != 8)
        return SR_ERR_CORRUPT;
    *x = 0;
    for (unsigned i = 0; i < 8; i++)
        *x = *x << 8 | b[i];
    return SR_OK;
}

/* ---- lifecycle ----------------------------------------------------------- */

static sr_status vault_alloc(sr_vault **out, const char *dir)
{
    *out = NULL;
    sr_vault *v = calloc(1, sizeof *v);
    if (v == NULL)
        return SR_ERR_NOMEM;
    v->lock_fd = -1;
    v->last_entry = UINT64_MAX;
    v->ops = &store_sqlite_ops;
    buf_init(&v->pt, RECORD_MAX_ENCODED);
    buf_init(&v->out, LINE_MAX_BYTES);
    sealed_init(&v->sp);
    *out = v;
    if (sr_init() != SR_OK)
        return vault_fail(v, SR_ERR_INTERNAL, "libsodium failed to start");
    v->dk = sodium_malloc(CRYPTO_KEY_BYTES);
    if (v->dk == NULL || scratch_init(&v->sc) != SR_OK)
        return vault_fail(v, SR_ERR_NOMEM, "cannot allocate locked memory");
    if (dir == NULL || dir[0] == '\0')
        return vault_fail(v, SR_ERR_INVALID, "no vault directory given");
    v->dir = strdup(dir);
    if (v->dir == NULL)
        return vault_fail(v, SR_ERR_NOMEM, "out of memory");
    return SR_OK;
}

void sr_vault_close(sr_vault *v)
{
    if (v == NULL)
        return;
    /* A deferred entry still held is made durable (or fails) first. */
    sr_status ignored = sr_vault_defer_audit(v, false);
    (void)ignored;
    audit_log_release(v->log); /* checkpoints what this handle logged */
    vault_family_leave(v);
    vault_access_free(v);
    if (v->st != NULL)
        v->ops->close(v->st);
    keyring_free(v->keys);
    if (v->dk != NULL)
        sodium_free(v->dk);
    scratch_free(&v->sc);
    sealed_free(&v->sp);
    buf_free(&v->pt);
    buf_free(&v->out);
    if (v->lock_fd >= 0)
        close(v->lock_fd); /* releases the flock */
    free(v->dir);
    sodium_memzero(v, sizeof *v);
    free(v);
}

/* Where the store is: <dir>/store names a PostgreSQL database (its libpq
 * connection string, one line); without it, <dir>/vault.db is SQLite's.
 * location gets the connection string or the file's path, and *what the
 * words for messages (never the connection string: it may name a host). */
static sr_status store_location(sr_vault *v, char location[PATH_CAP],
                                const char **what)
{
    char path[PATH_CAP];
    sr_buf b;
    sr_status st = join_path(v, path, STORE_FILE);
    if (st != SR_OK)
        return st;
    buf_init(&b, PATH_CAP - 1);
    st = file_read(path, &b);
    if (st == SR_ERR_NOT_FOUND) {
        buf_free(&b);
        v->ops = &store_sqlite_ops;
        *what = "the vault database";
        return join_path(v, location, DB_FILE);
    }
    if (st == SR_OK) {
        while (b.len > 0 && (b.p[b.len - 1] == '\n' || b.p[b.len - 1] == ' '))
            b.len--;
        if (b.len == 0 || memchr(b.p, '\n', b.len) != NULL ||
            memchr(b.p, '\0', b.len) != NULL)
            st = SR_ERR_CORRUPT;
        else {
            memcpy(location, b.p, b.len);
            location[b.len] = '\0';
        }
    }
    buf_free(&b);
    if (st != SR_OK)
        return vault_fail(v, st == SR_ERR_CORRUPT ? SR_ERR_NOT_VAULT : st,
                          "cannot read %s: it must hold one PostgreSQL "
                          "connection string",
                          path);
    v->ops = &store_pg_ops;
    *what = "the vault's PostgreSQL database";
    return SR_OK;
}

static sr_status open_store(sr_vault *v, unsigned flags)
{
    char location[PATH_CAP];
    const char *what = NULL;
    sr_status st = store_location(v, location, &what);
    if (st != SR_OK)
        return st;
    st = v->ops->open(&v->st, location, flags);
    if (st != SR_OK) {
        /* A file's path is safe to show; a connection string is not
         * repeated (the store's message names what failed). */
        bool file = v->ops == &store_sqlite_ops;
        if (v->st != NULL)
            return vault_fail(v, st, "cannot open %s%s%s: %s", what,
                              file ? " " : "", file ? location : "",
                              v->ops->errmsg(v->st));
        return vault_fail(v, st, "cannot open %s%s%s", what, file ? " " : "",
                          file ? location : "");
    }
    return SR_OK;
}

/* A PostgreSQL connection string fit for <dir>/store: one line, parsed by
 * libpq, and without a password, which belongs in ~/.pgpass (PGPASSFILE)
 * or the environment, not beside the vault's keys. */
static sr_status store_check(sr_vault *v, const char *conninfo)
{
    size_t n = strlen(conninfo);
    if (n >= PATH_CAP - 1 || memchr(conninfo, '\n', n) != NULL)
        return vault_fail(v, SR_ERR_INVALID,
                          "the store's connection string is too long or has "
                          "a line break");
    bool password = false;
    if (!store_pg_conninfo_check(conninfo, &password))
        return vault_fail(v, SR_ERR_INVALID,
                          "the store is not a PostgreSQL connection string "
                          "(host=... dbname=... or postgresql://...)");
    if (password)
        return vault_fail(v, SR_ERR_INVALID,
                          "the store's connection string holds a password: "
                          "put it in ~/.pgpass (or PGPASSFILE) instead");
    return SR_OK;
}

/* <dir>/store, atomically: from now on the vault opens that database. */
static sr_status store_write(sr_vault *v, const char *conninfo)
{
    char path[PATH_CAP];
    size_t n = strlen(conninfo);
    sr_status st = join_path(v, path, STORE_FILE);
    if (st == SR_OK) {
        char line[PATH_CAP + 1];
        (void)snprintf(line, sizeof line, "%s\n", conninfo);
        st = file_write_atomic(path, line, n + 1, 0600);
        if (st != SR_OK)
            st =
                vault_fail(v, st, "cannot write %s: %s", path, strerror(errno));
    }
    return st;
}

/* A new vault on PostgreSQL: its connection string goes to <dir>/store. */
static sr_status store_choose(sr_vault *v, const char *conninfo)
{
    if (conninfo == NULL || conninfo[0] == '\0')
        return SR_OK;
    sr_status st = store_check(v, conninfo);
    return st == SR_OK ? store_write(v, conninfo) : st;
}

/* The caller's progress callback, with the total it knows. */
typedef struct move_progress {
    void (*fn)(void *ctx, uint64_t done, uint64_t total);
    void *ctx;
    uint64_t total;
} move_progress;

static void move_heard(void *ctx, uint64_t done)
{
    move_progress *m = ctx;
    m->fn(m->ctx, done, m->total);
}

/* sr_vault_move_store once allowed; logs the move before <dir>/store
 * names the database. */
static sr_status move_store(sr_vault *v, const access_req *r,
                            const char *conninfo, move_progress *mp,
                            uint64_t *people)
{
    char detail[ENTRY_TEXT_MAX], db[PATH_CAP];
    store_stats stats;
    store *dst = NULL;
    sr_status st;
    if (v->ops != &store_sqlite_ops)
        return vault_fail(v, SR_ERR_INVALID,
                          "the vault's store is on PostgreSQL already");
    if (conninfo == NULL || conninfo[0] == '\0')
        return vault_fail(v, SR_ERR_INVALID,
                          "give the PostgreSQL database's connection string");
    st = store_check(v, conninfo);
    if (st == SR_OK && (st = v->ops->stats(v->st, &stats)) != SR_OK)
        st = vault_store_fail(v, st, "cannot count the people");
    if (st == SR_OK)
        st = join_path(v, db, DB_FILE);
    if (st != SR_OK)
        return st;
    /* The copy first: until <dir>/store is written the vault is where it
     * was, whatever fails. */
    st =
        store_pg_ops.open(&dst, conninfo, STORE_OPEN_CREATE | STORE_OPEN_WRITE);
    if (st != SR_OK) {
        st = vault_fail(v, st,
                        "cannot make the store in the PostgreSQL database: %s",
                        dst != NULL ? store_pg_ops.errmsg(dst) : "");
        if (dst != NULL)
            store_pg_ops.close(dst);
        return st;
    }
    mp->total = stats.people;
    store_progress sp = {move_heard, mp};
    st =
        v->ops->copy_to(v->st, &store_pg_ops, dst, mp->fn != NULL ? &sp : NULL);
    if (st != SR_OK)
        st = vault_fail(v, st,
                        "cannot copy the vault into the PostgreSQL database: "
                        "%s",
                        v->ops->errmsg(v->st));
    (void)snprintf(detail, sizeof detail, "people %llu, to PostgreSQL",
                   (unsigned long long)stats.people);
    if (st == SR_OK)
        st = vault_record(v, r, ENTRY_ALLOWED, SR_OK, 0, detail, stats.people,
                          NULL, 0);
    if (st == SR_OK)
        st = store_write(v, conninfo);
    if (st != SR_OK) {
        /* The vault stays where it was; so does the database, without the
         * store made here (and the copy of every wrapped key in it, which
         * nothing would ever shred). */
        if (store_pg_ops.discard(dst) != SR_OK) {
            size_t n = strlen(v->errmsg);
            (void)snprintf(v->errmsg + n, sizeof v->errmsg - n,
                           "; the database still holds the store made for "
                           "it, to drop before another try: %s",
                           store_pg_ops.errmsg(dst));
        }
        store_pg_ops.close(dst);
        return st;
    }
    /* From here on the vault is on PostgreSQL, this handle too; the file
     * goes (its blocks are not wiped: see docs/storage.md). */
    v->ops->close(v->st);
    v->ops = &store_pg_ops;
    v->st = dst;
    store_sqlite_remove(db);
    if (dir_sync(v->dir) != SR_OK)
        return vault_fail(v, SR_ERR_IO, "cannot sync %s", v->dir);
    *people = stats.people;
    return SR_OK;
}

sr_status sr_vault_move_store(sr_vault *v, const char *conninfo,
                              void (*progress)(void *ctx, uint64_t done,
                                               uint64_t total),
                              void *progress_ctx, uint64_t *people)
{
    access_req r = {POLICY_MANAGE_BACKUPS, "store.move", NULL, NULL, 0};
    move_progress mp = {progress, progress_ctx, 0};
    unsigned granted;
    *people = 0;
    if (!v->writable)
        return vault_fail(v, SR_ERR_INVALID, "the vault was opened read-only");
    sr_status st = vault_authorize(v, &r, &granted);
    if (st == SR_OK && (st = move_store(v, &r, conninfo, &mp, people)) != SR_OK)
        st = vault_record_failure(v, &r, st, 0);
    return st;
}

/* ---- compaction ---------------------------------------------------------- */

/* The retention cluster of a stored person, from their employment. */
static sr_status cluster_of_row(void *ctx, const store_row *row,
                                uint16_t *cluster)
{
    sr_vault *v = ctx;
    int32_t left = RECORD_NOT_SEPARATED;
    sr_status st = vault_row_left(v, row, &left);
    if (st == SR_OK)
        *cluster = vault_cluster_of(v, left);
    return st;
}

sr_status sr_vault_compact(sr_vault *v,
                           void (*progress)(void *ctx, uint64_t done,
                                            uint64_t total),
                           void *progress_ctx, uint64_t *people)
{
    access_req r = {POLICY_MANAGE_BACKUPS, "store.compact", NULL, NULL, 0};
    move_progress mp = {progress, progress_ctx, 0};
    store_stats stats;
    unsigned granted;
    char detail[ENTRY_TEXT_MAX];
    *people = 0;
    if (!v->writable)
        return vault_fail(v, SR_ERR_INVALID, "the vault was opened read-only");
    sr_status st = vault_authorize(v, &r, &granted);
    if (st != SR_OK)
        return st;
    if (v->ops->compact == NULL)
        st = vault_fail(v, SR_ERR_INVALID,
                        "the vault's store is on PostgreSQL, which keeps no "
                        "retention clusters");
    if (st == SR_OK && (st = v->ops->stats(v->st, &stats)) != SR_OK)
        st = vault_store_fail(v, st, "cannot count the people");
    if (st == SR_OK) {
        store_progress sp = {move_heard, &mp};
        mp.total = 2 * stats.people;
        v->errmsg[0] = '\0';
        st = v->ops->compact(v->st, SR_CLASS_BIT(SR_CLASS_EMPLOYMENT),
                             cluster_of_row, v, progress != NULL ? &sp : NULL);
        if (st != SR_OK && v->errmsg[0] == '\0')
            st = vault_store_fail(v, st, "cannot compact the store");
    }
    (void)snprintf(detail, sizeof detail, "people %llu",
                   (unsigned long long)(st == SR_OK ? stats.people : 0));
    if (st == SR_OK)
        st = vault_record(v, &r, ENTRY_ALLOWED, SR_OK, 0, detail, stats.people,
                          NULL, 0);
    else
        st = vault_record_failure(v, &r, st, 0);
    if (st == SR_OK)
        *people = stats.people;
    return st;
}

/* The audit log's origin (and key name): stored at creation. */
static sr_status log_origin(sr_vault *v, char out[AUDIT_ORIGIN_MAX + 1])
{
    size_t n = 0;
    sr_status st = v->ops->meta_get(v->st, META_LOG_ORIGIN, (uint8_t *)out,
                                    AUDIT_ORIGIN_MAX, &n);
    if (st != SR_OK)
        return vault_fail(v, SR_ERR_NOT_VAULT,
                          "the vault has no audit log settings (made by an "
                          "older version?)");
    out[n] = '\0';
    return SR_OK;
}

/* Open the audit log before anything can be read: a log that fails its
 * checks at open fails the whole open (fail closed). */
static sr_status open_log(sr_vault *v)
{
    char origin[AUDIT_ORIGIN_MAX + 1], msg[AUDIT_MSG_MAX];
    sr_status st = log_origin(v, origin);
    if (st != SR_OK)
        return st;
    audit_log_config c = {v->dir, keyring_audit_key(v->keys, AUDIT_KEY_JOURNAL),
                          keyring_audit_key(v->keys, AUDIT_KEY_LOG_SIGN),
                          origin};
    st = audit_log_open(&v->log, &c, msg);
    if (st != SR_OK)
        return vault_fail(v, st == SR_ERR_NOMEM ? st : SR_ERR_AUDIT,
                          "the audit log of %s cannot be opened, so nothing "
                          "can be read: %s",
                          v->dir, msg);
    return SR_OK;
}

static sr_status derive_keys(sr_vault *v, const char *pass, size_t pass_len)
{
    uint8_t *root = sodium_malloc(CRYPTO_KEY_BYTES);
    if (root == NULL)
        return vault_fail(v, SR_ERR_NOMEM, "cannot allocate locked memory");
    sr_status st = keyfile_open(&v->kf, pass, pass_len, root);
    if (st == SR_OK)
        st = keyring_new(&v->keys, root, v->vault_id, v->kek_version);
    sodium_free(root);
    if (st == SR_ERR_AUTH)
        return vault_fail(v, st, "wrong passphrase for the vault %s", v->dir);
    if (st != SR_OK)
        return vault_fail(v, st, "cannot unlock the vault: %s",
                          sr_status_str(st));
    return SR_OK;
}

/* Open the store and read the vault's settings from it (after the key
 * file, which names the vault the store must belong to). */
static sr_status load_settings(sr_vault *v)
{
    sr_status st = open_store(v, v->writable ? STORE_OPEN_WRITE : 0);
    if (st != SR_OK)
        return st;
    uint8_t id[SR_ID_BYTES];
    size_t n = 0;
    uint64_t bits = 0, kek = 0;
    st = v->ops->meta_get(v->st, META_VAULT_ID, id, sizeof id, &n);
    if (st == SR_OK &&
        (n != SR_ID_BYTES || sodium_memcmp(id, v->vault_id, SR_ID_BYTES) != 0))
        return vault_fail(v, SR_ERR_NOT_VAULT,
                          "%s/%s belongs to another vault than %s", v->dir,
                          DB_FILE, KEY_FILE);
    if (st == SR_OK)
        st = meta_get_u64(v, META_INDEX_BITS, &bits);
    if (st == SR_OK)
        st = meta_get_u64(v, META_EXPECTED, &v->expected_people);
    if (st == SR_OK)
        st = meta_get_u64(v, META_KEK_VERSION, &kek);
    if (st != SR_OK)
        return vault_fail(v, SR_ERR_NOT_VAULT,
                          "%s/%s lacks its vault settings (%s)", v->dir,
                          DB_FILE, sr_status_str(st));
    if (bits < 8 || bits > 48 || kek < 1 || kek > 8)
        return vault_fail(v, SR_ERR_CORRUPT,
                          "%s/%s has impossible vault settings", v->dir,
                          DB_FILE);
    v->index_bits = (unsigned)bits;
    v->kek_version = (uint32_t)kek;
    /* A vault made before decoys has none. */
    uint64_t every = 0;
    st = meta_get_u64(v, META_DECOY_EVERY, &every);
    if (st != SR_OK && st != SR_ERR_NOT_FOUND)
        return vault_store_fail(v, st, "cannot read the vault settings");
    v->decoy_every = every <= UINT32_MAX ? (uint32_t)every : 0;
    return SR_OK;
}

sr_status sr_vault_open(sr_vault **out, const char *dir, const char *pass,
                        size_t pass_len, unsigned flags)
{
    sr_status st = vault_alloc(out, dir);
    sr_vault *v = *out;
    if (st != SR_OK)
        return st;
    v->writable = (flags & SR_OPEN_WRITE) != 0;
    st = read_keyfile(v);
    if (st == SR_OK && v->writable)
        st = take_lock(v);
    if (st == SR_OK)
        st = load_settings(v);
    if (st == SR_OK)
        st = derive_keys(v, pass, pass_len);
    if (st == SR_OK)
        st = open_log(v);
    if (st == SR_OK)
        st = vault_access_load(v);
    if (st == SR_OK)
        st = vault_family_join(v, NULL);
    return st;
}

static sr_status open_from(sr_vault **out, const sr_vault *from, bool writable)
{
    sr_status st = vault_alloc(out, from != NULL ? from->dir : NULL);
    sr_vault *v = *out;
    if (st != SR_OK)
        return st;
    if (from->keys == NULL || from->log == NULL || from->pol == NULL)
        return vault_fail(v, SR_ERR_INVALID,
                          "the vault to share keys with is not open");
    /* Another writer only beside the one holding the write lock: no other
     * process writes meanwhile, and SQLite orders the two. */
    if (writable && (!from->writable || from->lock_fd < 0))
        return vault_fail(v, SR_ERR_INVALID,
                          "another writer is opened only from the handle "
                          "that opened the vault for writing");
    v->writable = writable;
    st = read_keyfile(v);
    if (st == SR_OK &&
        sodium_memcmp(v->vault_id, from->vault_id, SR_ID_BYTES) != 0)
        return vault_fail(v, SR_ERR_NOT_VAULT,
                          "%s now holds another vault than the one open",
                          v->dir);
    if (st == SR_OK)
        st = load_settings(v);
    if (st == SR_OK && keyring_clone(from->keys, &v->keys) != SR_OK)
        return vault_fail(v, SR_ERR_NOMEM, "cannot allocate locked memory");
    if (st == SR_OK && v->kek_version != keyring_kek_version(v->keys))
        return vault_fail(v, SR_ERR_INVALID,
                          "the vault's keys were rotated since it was opened; "
                          "open it again with the passphrase");
    if (st == SR_OK)
        st = open_log(v);
    if (st == SR_OK)
        st = vault_access_load(v);
    if (st == SR_OK)
        st = vault_family_join(v, from);
    return st;
}

sr_status sr_vault_open_another(sr_vault **out, const sr_vault *from)
{
    return open_from(out, from, false);
}

sr_status sr_vault_open_another_writer(sr_vault **out, const sr_vault *from)
{
    return open_from(out, from, true);
}

static sr_status check_empty_dir(sr_vault *v)
{
    if (mkdir(v->dir, 0700) == 0)
        return SR_OK;
    if (errno != EEXIST)
        return vault_fail(v, SR_ERR_IO, "cannot create %s: %s", v->dir,
                          strerror(errno));
    DIR *d = opendir(v->dir);
    if (d == NULL)
        return vault_fail(v, SR_ERR_IO, "cannot open %s: %s", v->dir,
                          strerror(errno));
    struct dirent *e;
    bool empty = true;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            empty = false;
    closedir(d);
    if (!empty)
        return vault_fail(v, SR_ERR_EXISTS,
                          "%s is not empty; a vault is created only in a new "
                          "or empty directory",
                          v->dir);
    return SR_OK;
}

/* A new vault's first decoy, in a transaction of its own. */
static sr_status seed_decoys(sr_vault *v)
{
    sr_status st = v->ops->begin(v->st);
    if (st != SR_OK)
        return vault_store_fail(v, st, "cannot start a transaction");
    st = vault_decoy_add(v, 1);
    if (st == SR_OK) {
        st = v->ops->commit(v->st);
        if (st != SR_OK)
            st = vault_store_fail(v, st, "cannot store the first decoy");
    }
    if (st != SR_OK)
        (void)v->ops->rollback(v->st);
    return st;
}

sr_status sr_vault_create(sr_vault **out, const char *dir, const char *pass,
                          size_t pass_len, const sr_init_options *opt,
                          char admin_token[SR_TOKEN_MAX])
{
    sr_init_options defaults = {SR_KDF_MODERATE, 0, NULL, 0, NULL, 0, NULL};
    char origin[AUDIT_ORIGIN_MAX + 1], msg[AUDIT_MSG_MAX];
    sr_status st = vault_alloc(out, dir);
    sr_vault *v = *out;
    uint8_t *root = NULL;
    if (st != SR_OK)
        return st;
    admin_token[0] = '\0';
    if (opt == NULL)
        opt = &defaults;
    if (pass == NULL || pass_len == 0)
        return vault_fail(v, SR_ERR_INVALID, "the passphrase is empty");
    st = check_empty_dir(v);
    if (st == SR_OK)
        st = take_lock(v);
    if (st == SR_OK)
        st = vault_family_join(v, NULL);
    if (st != SR_OK)
        return st;
    v->writable = true;
    v->kek_version = 1;
    v->expected_people = opt->expected_people ? opt->expected_people
                                              : SR_DEFAULT_EXPECTED_PEOPLE;
    v->index_bits = crypto_index_bits(v->expected_people);
    randombytes_buf(v->vault_id, sizeof v->vault_id);
    if (opt->log_origin != NULL) {
        size_t on = strlen(opt->log_origin);
        if (on == 0 || on > AUDIT_ORIGIN_MAX)
            return vault_fail(v, SR_ERR_INVALID,
                              "the log origin is 1 to %u characters",
                              AUDIT_ORIGIN_MAX);
        memcpy(origin, opt->log_origin, on + 1);
    } else {
        char hex[SR_ID_STR_LEN + 1];
        id_hex(hex, v->vault_id);
        (void)snprintf(origin, sizeof origin, "strongroom/%s", hex);
    }

    memcpy(v->kf.vault_id, v->vault_id, SR_ID_BYTES);
    v->kf.kdf_alg = 1;
    switch (opt->kdf) {
    case SR_KDF_INTERACTIVE:
        v->kf.opslimit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
        v->kf.memlimit = crypto_pwhash_MEMLIMIT_INTERACTIVE;
        break;
    case SR_KDF_SENSITIVE:
        v->kf.opslimit = crypto_pwhash_OPSLIMIT_SENSITIVE;
        v->kf.memlimit = crypto_pwhash_MEMLIMIT_SENSITIVE;
        break;
    case SR_KDF_MODERATE:
    default:
        v->kf.opslimit = crypto_pwhash_OPSLIMIT_MODERATE;
        v->kf.memlimit = crypto_pwhash_MEMLIMIT_MODERATE;
        break;
    }

    root = sodium_malloc(CRYPTO_KEY_BYTES);
    if (root == NULL) {
        st = vault_fail(v, SR_ERR_NOMEM, "cannot allocate locked memory");
        goto cleanup;
    }
    randombytes_buf(root, CRYPTO_KEY_BYTES);
    st = keyfile_seal(&v->kf, pass, pass_len, root);
    if (st != SR_OK) {
        st = vault_fail(v, st, "cannot seal the root key: %s",
                        sr_status_str(st));
        goto cleanup;
    }
    st = keyring_new(&v->keys, root, v->vault_id, v->kek_version);
    if (st != SR_OK) {
        st = vault_fail(v, st, "cannot derive the vault keys");
        goto cleanup;
    }
    /* The database first, the key file last: a vault without a key file
     * is not a vault, so a crash in between leaves nothing usable. */
    st = store_choose(v, opt->store);
    if (st == SR_OK)
        st = open_store(v, STORE_OPEN_CREATE | STORE_OPEN_WRITE);
    if (st != SR_OK)
        goto cleanup;
    st = v->ops->begin(v->st);
    if (st == SR_OK)
        st = v->ops->meta_put(v->st, META_VAULT_ID, v->vault_id, SR_ID_BYTES);
    if (st == SR_OK)
        st = meta_put_u64(v, META_INDEX_BITS, v->index_bits);
    if (st == SR_OK)
        st = meta_put_u64(v, META_EXPECTED, v->expected_people);
    if (st == SR_OK)
        st = meta_put_u64(v, META_KEK_VERSION, v->kek_version);
    v->decoy_every = opt->decoy_every == 0 ? SR_DEFAULT_DECOY_EVERY
                     : opt->decoy_every == SR_DECOYS_NONE ? 0
                                                          : opt->decoy_every;
    if (st == SR_OK)
        st = meta_put_u64(v, META_DECOY_EVERY, v->decoy_every);
    if (st == SR_OK)
        st = v->ops->meta_put(v->st, META_LOG_ORIGIN, (const uint8_t *)origin,
                              strlen(origin));
    if (st == SR_OK)
        st = v->ops->commit(v->st);
    if (st != SR_OK) {
        (void)v->ops->rollback(v->st);
        st = vault_store_fail(v, st, "cannot initialise the vault database");
        goto cleanup;
    }
    audit_log_config lc = {
        v->dir, keyring_audit_key(v->keys, AUDIT_KEY_JOURNAL),
        keyring_audit_key(v->keys, AUDIT_KEY_LOG_SIGN), origin};
    st = audit_log_create(&lc, msg);
    if (st != SR_OK) {
        st = vault_fail(v, st, "cannot create the audit log: %s", msg);
        goto cleanup;
    }
    st = open_log(v);
    if (st == SR_OK)
        st = vault_access_init(v, opt->admin_name, opt->admin_token_ttl,
                               admin_token);
    if (st == SR_OK && v->decoy_every != 0)
        st = seed_decoys(v);
    if (st == SR_OK)
        st = write_keyfile(v);
cleanup:
    if (root != NULL)
        sodium_free(root);
    return st;
}

sr_status vault_row_index(sr_vault *v, const store_row *row, index_rows *rows)
{
    char ssn[10];
    json_t *person = json_object();
    if (person == NULL)
        return vault_fail(v, SR_ERR_NOMEM, "out of memory");
    sr_status st = open_row(
        v, row, SR_CLASS_BIT(SR_CLASS_IDENTITY) | SR_CLASS_BIT(SR_CLASS_NAME),
        person);
    if (st == SR_OK && index_person(v, person, rows, ssn) != SR_OK)
        st = vault_fail(v, SR_ERR_CORRUPT, "a stored person has no SSN");
    sodium_memzero(ssn, sizeof ssn);
    json_decref(person);
    return st;
}

sr_status vault_open_row(sr_vault *v, const store_row *row, unsigned mask,
                         json_t *person)
{
    return open_row(v, row, mask, person);
}

/* ---- SSN uniqueness ------------------------------------------------------ */

typedef struct ssn_probe {
    sr_vault *v;
    const char *ssn;     /* 9 digits */
    const uint8_t *skip; /* a person id not to count (update), or NULL */
    bool found;
    uint8_t id[SR_ID_BYTES];
} ssn_probe;

/* Open class c of row alone into v->pt, its data key unwrapped and wiped
 * again; *absent if the row has no such class (nothing opened). The
 * caller reads v->pt without building JSON, then buf_resets it. */
static sr_status open_one_class(sr_vault *v, const store_row *row, sr_class c,
                                bool *absent)
{
    sr_status st = check_presence(v, row, c);
    *absent = st == SR_OK && row->cls[c] == NULL;
    if (st != SR_OK || *absent)
        return st;
    st = unwrap_row(v, row);
    if (st == SR_OK)
        st = open_class(v, row, c);
    sodium_memzero(v->dk, CRYPTO_KEY_BYTES);
    return st;
}

/* The SSN of a stored row into out (9 digits): opens only the identity
 * class, decoding no JSON -- the test every blind-index candidate goes
 * through. */
static sr_status row_ssn(sr_vault *v, const store_row *row, char out[10])
{
    char hex[SR_ID_STR_LEN + 1];
    bool absent = false;
    sr_status st = open_one_class(v, row, SR_CLASS_IDENTITY, &absent);
    if (st == SR_OK &&
        (absent || !record_identity_ssn(v->pt.p, v->pt.len, out))) {
        /* Formatted only here: every search candidate passes this way. */
        id_hex(hex, row->id);
        st = vault_fail(v, SR_ERR_CORRUPT, "person %s: the identity class %s",
                        hex, absent ? "is missing" : "does not decode");
    }
    buf_reset(&v->pt);
    return st;
}

sr_status vault_row_left(sr_vault *v, const store_row *row, int32_t *left)
{
    char hex[SR_ID_STR_LEN + 1];
    bool absent = false;
    *left = RECORD_NOT_SEPARATED; /* also with no employment at all */
    sr_status st = open_one_class(v, row, SR_CLASS_EMPLOYMENT, &absent);
    if (st == SR_OK && !absent &&
        !record_employment_left(v->pt.p, v->pt.len, left)) {
        id_hex(hex, row->id);
        st = vault_fail(v, SR_ERR_CORRUPT,
                        "person %s: the employment class does not decode", hex);
    }
    buf_reset(&v->pt);
    return st;
}

/* Does row hold the probe's SSN? */
static sr_status probe_row(void *ctx, const store_row *row)
{
    ssn_probe *pr = ctx;
    char ssn[10];
    if (pr->skip != NULL && memcmp(row->id, pr->skip, SR_ID_BYTES) == 0)
        return SR_OK;
    sr_status st = row_ssn(pr->v, row, ssn);
    if (st == SR_OK && sodium_memcmp(ssn, pr->ssn, 9) == 0) {
        pr->found = true;
        memcpy(pr->id, row->id, SR_ID_BYTES);
    }
    sodium_memzero(ssn, sizeof ssn);
    return st;
}

/* Look for a stored person with this SSN (9 digits). */
static sr_status find_ssn_holder(sr_vault *v, const char *ssn,
                                 const uint8_t *skip, ssn_probe *pr)
{
    memset(pr, 0, sizeof *pr);
    pr->v = v;
    pr->ssn = ssn;
    pr->skip = skip;
    uint64_t value = crypto_blind_index(v->keys, INDEX_SSN,
                                        (const uint8_t *)ssn, 9, v->index_bits);
    v->errmsg[0] = '\0';
    sr_status st =
        v->ops->lookup(v->st, INDEX_SSN, value, SR_CLASS_BIT(SR_CLASS_IDENTITY),
                       probe_row, pr);
    if (st != SR_OK && v->errmsg[0] == '\0')
        return vault_store_fail(v, st, "cannot search the SSN index");
    return st;
}

/* Compare the stored classes of a person with sp's plaintext. */
typedef struct same_probe {
    sr_vault *v;
    const sealed_person *sp;
    bool same;
} same_probe;

static sr_status same_row(void *ctx, const store_row *row)
{
    same_probe *pr = ctx;
    sr_vault *v = pr->v;
    sr_status st = unwrap_row(v, row);
    pr->same = st == SR_OK;
    for (unsigned c = 0; c < SR_CLASS_COUNT && st == SR_OK && pr->same; c++) {
        size_t want = pr->sp->plain_len[c];
        st = check_presence(v, row, (sr_class)c);
        if (st != SR_OK)
            break;
        if (row->cls[c] == NULL) {
            pr->same = want == 0;
            continue;
        }
        st = open_class(v, row, (sr_class)c);
        if (st == SR_OK)
            pr->same = v->pt.len == want &&
                       memcmp(v->pt.p, pr->sp->plain.p + pr->sp->plain_off[c],
                              want) == 0;
        buf_reset(&v->pt);
    }
    sodium_memzero(v->dk, CRYPTO_KEY_BYTES);
    return st;
}

/* sp's SSN is held by stored person id: the same content, or other? */
static sr_status held_outcome(sr_vault *v, const sealed_person *sp,
                              const uint8_t id[SR_ID_BYTES],
                              commit_outcome *outcome)
{
    same_probe sm = {v, sp, false};
    sr_status st = v->ops->get(v->st, id, SR_CLASS_ALL, same_row, &sm);
    if (st != SR_OK) {
        if (v->errmsg[0] == '\0')
            return vault_store_fail(v, st, "cannot read the stored person");
        return st;
    }
    *outcome = sm.same ? COMMIT_SAME : COMMIT_CONFLICT;
    return SR_OK;
}

sr_status vault_commit_person(sr_vault *v, const sealed_person *sp,
                              commit_outcome *outcome,
                              uint8_t existing[SR_ID_BYTES])
{
    ssn_probe pr;
    sr_status st = find_ssn_holder(v, sp->ssn, NULL, &pr);
    if (st != SR_OK)
        return st;
    if (pr.found) {
        memcpy(existing, pr.id, SR_ID_BYTES);
        return held_outcome(v, sp, pr.id, outcome);
    }
    store_row row;
    row_from_sealed(&row, sp, 1, v->kek_version);
    st = v->ops->insert(v->st, &row, sp->index.idx, sp->index.n);
    if (st != SR_OK)
        return vault_store_fail(v, st, "cannot store the person");
    *outcome = COMMIT_STORED;
    return SR_OK;
}

/* Bulk commits: the pending people sorted by the blind index of their
 * SSN, so a stored row (or an earlier pending person) finds the others
 * with its SSN by a binary search on a value that is not secret (it is
 * in the store), and only those few compare SSNs, in constant time. */
typedef struct bulk_key {
    uint64_t value; /* the SSN blind index of sp[i] */
    size_t i;
} bulk_key;

typedef struct bulk_probe {
    sr_vault *v;
    const sealed_person *const *sp;
    size_t n;
    uint64_t *value; /* value[i]: the SSN blind index of sp[i] */
    bulk_key *key;   /* by value, then by i */
    bool *found;     /* found[i]: held by a stored person, id in holder[i] */
    uint8_t (*holder)[SR_ID_BYTES];
} bulk_probe;

static int by_key(const void *a, const void *b)
{
    const bulk_key *x = a, *y = b;
    if (x->value != y->value)
        return x->value < y->value ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* The first position in key whose value is >= x. */
static size_t first_at(const bulk_probe *bp, uint64_t x)
{
    size_t lo = 0, hi = bp->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (bp->key[mid].value < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static sr_status bulk_probe_row(void *ctx, const store_row *row)
{
    bulk_probe *bp = ctx;
    sr_vault *v = bp->v;
    char ssn[10];
    sr_status st = row_ssn(v, row, ssn);
    if (st != SR_OK)
        return st;
    uint64_t x = crypto_blind_index(v->keys, INDEX_SSN, (const uint8_t *)ssn, 9,
                                    v->index_bits);
    for (size_t k = first_at(bp, x); k < bp->n && bp->key[k].value == x; k++) {
        size_t i = bp->key[k].i;
        if (sodium_memcmp(ssn, bp->sp[i]->ssn, 9) == 0) {
            bp->found[i] = true;
            memcpy(bp->holder[i], row->id, SR_ID_BYTES);
        }
    }
    sodium_memzero(ssn, sizeof ssn);
    return SR_OK;
}

/* Do two sealed people hold the same plaintext in every class? */
static bool sealed_same(const sealed_person *a, const sealed_person *b)
{
    for (unsigned c = 0; c < SR_CLASS_COUNT; c++)
        if (a->plain_len[c] != b->plain_len[c] ||
            (a->plain_len[c] > 0 &&
             sodium_memcmp(a->plain.p + a->plain_off[c],
                           b->plain.p + b->plain_off[c], a->plain_len[c]) != 0))
            return false;
    return true;
}

/* With bp's values and keys set: search, sort out who is new, insert. */
static sr_status commit_bulk(sr_vault *v, bulk_probe *bp,
                             commit_outcome *outcome,
                             uint8_t (*existing)[SR_ID_BYTES], store_row *rows,
                             const store_index **idx, size_t *nidx)
{
    const sealed_person *const *sp = bp->sp;
    size_t n = bp->n, nrows = 0;
    v->errmsg[0] = '\0';
    sr_status st =
        v->ops->lookup_any(v->st, INDEX_SSN, bp->value, n,
                           SR_CLASS_BIT(SR_CLASS_IDENTITY), bulk_probe_row, bp);
    if (st != SR_OK)
        return v->errmsg[0] != '\0'
                   ? st
                   : vault_store_fail(v, st, "cannot search the SSN index");
    for (size_t i = 0; i < n; i++) {
        outcome[i] = COMMIT_STORED;
        if (bp->found[i]) {
            memcpy(existing[i], bp->holder[i], SR_ID_BYTES);
            st = held_outcome(v, sp[i], bp->holder[i], &outcome[i]);
            if (st != SR_OK)
                return st;
            continue;
        }
        /* An earlier one of this batch, stored here, holds the SSN. */
        bool held = false;
        for (size_t k = first_at(bp, bp->value[i]);
             k < n && bp->key[k].value == bp->value[i] && !held; k++) {
            size_t j = bp->key[k].i;
            if (j < i && !bp->found[j] && outcome[j] == COMMIT_STORED &&
                sodium_memcmp(sp[j]->ssn, sp[i]->ssn, 9) == 0) {
                held = true;
                memcpy(existing[i], sp[j]->id, SR_ID_BYTES);
                outcome[i] =
                    sealed_same(sp[j], sp[i]) ? COMMIT_SAME : COMMIT_CONFLICT;
            }
        }
        if (held)
            continue;
        row_from_sealed(&rows[nrows], sp[i], 1, v->kek_version);
        idx[nrows] = sp[i]->index.idx;
        nidx[nrows] = sp[i]->index.n;
        nrows++;
    }
    st = v->ops->insert_many(v->st, rows, idx, nidx, nrows);
    if (st != SR_OK)
        return vault_store_fail(v, st, "cannot store the people");
    return SR_OK;
}

sr_status vault_commit_people(sr_vault *v, const sealed_person *const *sp,
                              size_t n, commit_outcome *outcome,
                              uint8_t (*existing)[SR_ID_BYTES])
{
    if (n > VAULT_COMMIT_MAX)
        return vault_fail(v, SR_ERR_INTERNAL, "too many people at once");
    if (v->ops->lookup_any == NULL || v->ops->insert_many == NULL || n < 2) {
        for (size_t i = 0; i < n; i++) {
            sr_status st =
                vault_commit_person(v, sp[i], &outcome[i], existing[i]);
            if (st != SR_OK)
                return st;
        }
        return SR_OK;
    }
    bulk_probe bp = {v, sp, n, NULL, NULL, NULL, NULL};
    store_row *rows = malloc(n * sizeof *rows);
    const store_index **idx = malloc(n * sizeof *idx);
    size_t *nidx = malloc(n * sizeof *nidx);
    bp.value = malloc(n * sizeof *bp.value);
    bp.key = malloc(n * sizeof *bp.key);
    bp.found = calloc(n, sizeof *bp.found);
    bp.holder = malloc(n * sizeof *bp.holder);
    sr_status st;
    if (rows != NULL && idx != NULL && nidx != NULL && bp.value != NULL &&
        bp.key != NULL && bp.found != NULL && bp.holder != NULL) {
        for (size_t i = 0; i < n; i++) {
            bp.value[i] = crypto_blind_index(v->keys, INDEX_SSN,
                                             (const uint8_t *)sp[i]->ssn, 9,
                                             v->index_bits);
            bp.key[i] = (bulk_key){bp.value[i], i};
        }
        qsort(bp.key, n, sizeof *bp.key, by_key);
        st = commit_bulk(v, &bp, outcome, existing, rows, idx, nidx);
    } else {
        st = vault_fail(v, SR_ERR_NOMEM, "out of memory");
    }
    free(rows);
    free(idx);
    free(nidx);
    free(bp.value);
    free(bp.key);
    free(bp.found);
    free(bp.holder);
    return st;
}

/* ---- the operations ------------------------------------------------------ */

static sr_status need_writable(sr_vault *v)
{
    if (!v->writable)
        return vault_fail(v, SR_ERR_INVALID, "the vault was opened read-only");
    return SR_OK;
}

static sr_status invalid_record(sr_vault *v, const record_error *err)
{
    char why[400];
    record_error_format(err, why, sizeof why);
    return vault_fail(v, SR_ERR_INVALID, "invalid person: %s", why);
}

/* Record an allowed request that then failed; the caller's error (and
 * its message) is what the caller gets, unless the log fails too. */
sr_status vault_record_failure(sr_vault *v, const access_req *r,
                               sr_status result, unsigned classes)
{
    char keep[sizeof v->errmsg];
    memcpy(keep, v->errmsg, sizeof keep);
    sr_status st =
        vault_record(v, r, ENTRY_FAILED, result, classes, "", 0, NULL, 0);
    if (st != SR_OK)
        return st;
    memcpy(v->errmsg, keep, sizeof keep);
    return result;
}

sr_status sr_vault_put(sr_vault *v, const sr_access *acc, const char *json,
                       size_t len, char id_out[SR_ID_STR_LEN + 1])
{
    record_error err;
    json_t *person = NULL;
    char msg[256] = "";
    commit_outcome outcome;
    uint8_t existing[SR_ID_BYTES];
    char hex[SR_ID_STR_LEN + 1];
    access_req r = {POLICY_PUT, "put", acc, NULL, 0};
    unsigned granted;

    id_out[0] = '\0';
    sr_status st = need_writable(v);
    if (st != SR_OK)
        return st;
    st = record_parse(json, len, date_today(), &person, &err);
    if (st != SR_OK) {
        st = invalid_record(v, &err);
        goto cleanup;
    }
    st = vault_seal_person(v, &v->sc, person, NULL, 1, &v->sp, msg, sizeof msg);
    json_decref(person);
    if (st != SR_OK) {
        st = vault_fail(v, st, "%s", msg);
        goto cleanup;
    }
    /* The classes written are the classes asked for. */
    r.classes = v->sp.present;
    st = vault_authorize(v, &r, &granted);
    if (st != SR_OK)
        goto cleanup;
    st = v->ops->begin(v->st);
    if (st != SR_OK) {
        st = vault_store_fail(v, st, "cannot start a transaction");
        goto cleanup;
    }
    st = vault_commit_person(v, &v->sp, &outcome, existing);
    if (st == SR_OK && outcome != COMMIT_STORED) {
        id_hex(hex, existing);
        st = vault_fail(v, SR_ERR_DUPLICATE,
                        "the SSN is already stored, for person %s", hex);
    }
    if (st == SR_OK)
        st = vault_decoy_maybe(v);
    /* Logged before the commit: a stored person always has its entry. */
    if (st == SR_OK)
        st = vault_record(v, &r, ENTRY_ALLOWED, SR_OK, r.classes, "", 1,
                          (const uint8_t(*)[SR_ID_BYTES])v->sp.id, 1);
    if (st == SR_OK) {
        st = v->ops->commit(v->st);
        if (st != SR_OK)
            st = vault_store_fail(v, st, "cannot commit the new person");
    }
    if (st != SR_OK) {
        (void)v->ops->rollback(v->st);
        if (st != SR_ERR_AUDIT)
            st = vault_record_failure(v, &r, st, r.classes);
        goto cleanup;
    }
    id_hex(id_out, v->sp.id);
cleanup:
    sealed_reset(&v->sp);
    return st;
}

typedef struct read_ctx {
    sr_vault *v;
    unsigned mask;
    json_t *person;   /* set once the row is read */
    uint32_t version; /* of the row read */
} read_ctx;

static sr_status read_row(void *ctx, const store_row *row)
{
    read_ctx *rc = ctx;
    rc->version = row->version;
    rc->person = person_with_id(row->id);
    if (rc->person == NULL)
        return vault_fail(rc->v, SR_ERR_NOMEM, "out of memory");
    return open_row(rc->v, row, rc->mask, rc->person);
}

/* Read and decrypt one person; *person is a new reference. */
static sr_status read_person(sr_vault *v, const char *id_str, unsigned mask,
                             uint8_t id[SR_ID_BYTES], json_t **person,
                             uint32_t *version)
{
    *person = NULL;
    if (!id_parse(id, id_str))
        return vault_fail(v, SR_ERR_INVALID,
                          "a person id is %d hexadecimal digits",
                          SR_ID_STR_LEN);
    read_ctx rc = {v, mask & SR_CLASS_ALL, NULL, 0};
    v->errmsg[0] = '\0';
    sr_status st = v->ops->get(v->st, id, rc.mask, read_row, &rc);
    if (st == SR_OK && rc.person == NULL)
        st = vault_fail(v, SR_ERR_NOT_FOUND, "no person with id %s", id_str);
    if (st != SR_OK) {
        if (v->errmsg[0] == '\0')
            st = vault_store_fail(v, st, "cannot read the person");
        json_decref(rc.person);
        return st;
    }
    *person = rc.person;
    if (version != NULL)
        *version = rc.version;
    return SR_OK;
}

sr_status vault_read_line(sr_vault *v, const char *id, unsigned mask)
{
    uint8_t bin[SR_ID_BYTES];
    json_t *person;
    sr_status st = read_person(v, id, mask, bin, &person, NULL);
    if (st != SR_OK)
        return st;
    st = dump_line(v, person);
    json_decref(person);
    return st;
}

sr_status vault_decoy_check(sr_vault *v, const uint8_t (*ids)[SR_ID_BYTES],
                            size_t n)
{
    bool hit = false;
    sr_status st = vault_decoy_hit(v, ids, n, &hit);
    if (st == SR_OK && hit)
        st = vault_decoy_trip(v);
    return st;
}

sr_status sr_vault_get(sr_vault *v, const sr_access *acc, const char *id,
                       unsigned class_mask, char **json_out, size_t *len_out)
{
    uint8_t bin[SR_ID_BYTES];
    unsigned granted;
    access_req r = {POLICY_GET, "get", acc, NULL, class_mask};
    *json_out = NULL;
    if (id == NULL || !id_parse(bin, id))
        return vault_fail(v, SR_ERR_INVALID,
                          "a person id is %d hexadecimal digits",
                          SR_ID_STR_LEN);
    /* The policy decides from the case tables alone, before the person is
     * looked up: a denial says nothing about whether the person exists. */
    r.person = bin;
    sr_status st = vault_authorize(v, &r, &granted);
    /* Charged before the lookup too: the budget says nothing about
     * whether the person exists. */
    if (st == SR_OK)
        st = vault_budget_charge(v, &r, (const uint8_t(*)[SR_ID_BYTES])bin, 1,
                                 0, false, true);
    if (st != SR_OK)
        return st;
    st = vault_read_line(v, id, granted);
    if (st != SR_OK) {
        buf_reset(&v->out);
        return vault_record_failure(v, &r, st, granted);
    }
    /* Log, then reveal: the plaintext leaves only once its entry is on
     * disk. */
    st = vault_record(v, &r, ENTRY_ALLOWED, SR_OK, granted, "", 1,
                      (const uint8_t(*)[SR_ID_BYTES])bin, 1);
    if (st == SR_OK)
        st = vault_decoy_check(v, (const uint8_t(*)[SR_ID_BYTES])bin, 1);
    if (st == SR_OK) {
        *json_out = secret_dup(v->out.p, v->out.len);
        if (*json_out == NULL)
            st = vault_fail(v, SR_ERR_NOMEM, "out of memory");
        else if (len_out != NULL)
            *len_out = v->out.len;
    }
    buf_reset(&v->out);
    return st;
}

/* ---- search -------------------------------------------------------------- */

typedef struct find_ctx {
    sr_vault *v;
    const char *ssn;    /* 9 digits, or NULL */
    const char *family; /* normalised, or NULL */
    const char *dob;
    const char *case_id; /* caseload roles: only people on this case */
    unsigned granted;    /* the name is shown only if granted */
    sr_buf lines;        /* the matches, held until they are logged */
    uint8_t (*ids)[SR_ID_BYTES];
    size_t count;
} find_ctx;

static bool family_matches(const json_t *name, const char *want)
{
    char norm[RECORD_NAME_NORM_CAP];
    const char *family = json_string_value(json_object_get(name, "family"));
    bool same = family != NULL && record_norm_name(family, norm, sizeof norm) &&
                strcmp(norm, want) == 0;
    sodium_memzero(norm, sizeof norm);
    return same;
}

/* Is the decrypted candidate really born that day with that family name
 * (current or former), or a blind-index collision? */
static bool name_candidate_matches(const find_ctx *f, const json_t *person)
{
    const char *dob = json_string_value(
        json_object_get(json_object_get(person, "birth"), "date"));
    if (dob == NULL || strcmp(dob, f->dob) != 0)
        return false;
    if (family_matches(json_object_get(person, "name"), f->family))
        return true;
    size_t i;
    json_t *former;
    json_array_foreach(json_object_get(person, "former_names"), i, former) {
        if (family_matches(former, f->family))
            return true;
    }
    return false;
}

static sr_status find_row(void *ctx, const store_row *row)
{
    find_ctx *f = ctx;
    sr_vault *v = f->v;
    json_t *person = NULL, *line = NULL;
    sr_status st;
    bool match;
    if (f->ssn != NULL) {
        /* Only the identity class of each candidate is opened; the name
         * only for the real match. */
        char ssn[10];
        st = row_ssn(v, row, ssn);
        match = st == SR_OK && sodium_memcmp(ssn, f->ssn, 9) == 0;
        sodium_memzero(ssn, sizeof ssn);
        if (!match)
            return st;
        person = json_object();
        st = person ? open_row(v, row, SR_CLASS_BIT(SR_CLASS_NAME), person)
                    : SR_ERR_NOMEM;
    } else {
        person = json_object();
        st = person ? open_row(v, row,
                               SR_CLASS_BIT(SR_CLASS_IDENTITY) |
                                   SR_CLASS_BIT(SR_CLASS_NAME),
                               person)
                    : SR_ERR_NOMEM;
        if (st == SR_OK && !name_candidate_matches(f, person))
            goto cleanup;
    }
    if (st != SR_OK)
        goto cleanup;
    if (f->case_id != NULL) {
        bool on = false;
        st = vault_case_has_person(v, f->case_id, row->id, &on);
        if (st != SR_OK || !on)
            goto cleanup; /* not on the case: not a match for this reader */
    }
    if (f->count >= ENTRY_REFS_MAX) {
        st = vault_fail(v, SR_ERR_INVALID,
                        "more than %u people match; narrow the search",
                        ENTRY_REFS_MAX);
        goto cleanup;
    }
    line = person_with_id(row->id);
    if (line == NULL ||
        ((f->granted & SR_CLASS_BIT(SR_CLASS_NAME)) &&
         json_object_set(line, "name", json_object_get(person, "name")) != 0)) {
        st = vault_fail(v, SR_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    st = dump_line(v, line);
    if (st == SR_OK)
        st = buf_append(&f->lines, v->out.p, v->out.len);
    if (st == SR_OK)
        st = buf_append_byte(&f->lines, '\n');
    if (st == SR_OK) {
        memcpy(f->ids[f->count], row->id, SR_ID_BYTES);
        f->count++;
    }
    buf_reset(&v->out);
cleanup:
    if (st == SR_ERR_NOMEM && v->errmsg[0] == '\0')
        st = vault_fail(v, st, "out of memory");
    json_decref(line);
    json_decref(person);
    return st;
}

/* Search, log the people found, then hand them to fn. */
static sr_status run_find(sr_vault *v, find_ctx *f, const access_req *r,
                          uint8_t kind, uint64_t value, sr_line_fn fn,
                          void *ctx, size_t *count)
{
    sr_status st;
    buf_init(&f->lines, (size_t)ENTRY_REFS_MAX * 2048u);
    f->ids = malloc((size_t)ENTRY_REFS_MAX * SR_ID_BYTES);
    if (f->ids == NULL) {
        st = vault_fail(v, SR_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    v->errmsg[0] = '\0';
    st = v->ops->lookup(v->st, kind, value,
                        SR_CLASS_BIT(SR_CLASS_IDENTITY) |
                            SR_CLASS_BIT(SR_CLASS_NAME),
                        find_row, f);
    if (st != SR_OK && v->errmsg[0] == '\0')
        st = vault_store_fail(v, st, "cannot search");
    if (st != SR_OK) {
        st = vault_record_failure(v, r, st, f->granted);
        goto cleanup;
    }
    /* More people than the bulk threshold: only under a second person's
     * approval of this very search. */
    char detail[ENTRY_TEXT_MAX] = "";
    uint32_t bulk = policy_bulk_threshold(v->pol);
    if (bulk > 0 && f->count > bulk) {
        char digest[VAULT_DIGEST_HEX];
        st = vault_search_digest(v, f->family, f->dob, digest);
        if (st == SR_OK)
            st = vault_approval_check(v, r, digest, detail);
        if (st != SR_OK)
            goto cleanup;
    }
    st = vault_budget_charge(v, r, (const uint8_t(*)[SR_ID_BYTES])f->ids,
                             f->count, 1, false, true);
    if (st != SR_OK)
        goto cleanup;
    st =
        vault_record(v, r, ENTRY_ALLOWED, SR_OK, f->granted, detail, f->count,
                     (const uint8_t(*)[SR_ID_BYTES])f->ids, (uint32_t)f->count);
    if (st == SR_OK)
        st = vault_decoy_check(v, (const uint8_t(*)[SR_ID_BYTES])f->ids,
                               f->count);
    if (st != SR_OK)
        goto cleanup;
    if (count != NULL)
        *count = f->count;
    for (size_t off = 0; fn != NULL && off < f->lines.len;) {
        const uint8_t *nl = memchr(f->lines.p + off, '\n', f->lines.len - off);
        size_t n = (size_t)(nl - (f->lines.p + off));
        st = fn(ctx, (const char *)f->lines.p + off, n);
        if (st != SR_OK) {
            st = vault_fail(v, st, "the caller stopped the search");
            break;
        }
        off += n + 1;
    }
cleanup:
    buf_free(&f->lines);
    free(f->ids);
    return st;
}

/* Authorize a search; fills f's case filter and name permission. */
static sr_status find_authorize(sr_vault *v, access_req *r, find_ctx *f)
{
    sr_status st = vault_authorize(v, r, &f->granted);
    /* The search itself, and room for one more person, before the lookup:
     * a principal at its budget learns nothing from a search. */
    if (st == SR_OK)
        st = vault_budget_check(v, r, 1, true);
    if (st == SR_OK && vault_caseload(v))
        f->case_id = r->acc->case_id;
    return st;
}

sr_status sr_vault_find_ssn(sr_vault *v, const sr_access *acc, const char *ssn,
                            sr_line_fn fn, void *ctx, size_t *count)
{
    char norm[10];
    access_req r = {POLICY_FIND, "find.ssn", acc, NULL, 0};
    if (count != NULL)
        *count = 0;
    if (ssn == NULL || !record_norm_ssn(ssn, norm))
        return vault_fail(v, SR_ERR_INVALID,
                          "an SSN is written 123-45-6789 or 123456789");
    find_ctx f = {v, norm, NULL, NULL, NULL, 0, {0}, NULL, 0};
    sr_status st = find_authorize(v, &r, &f);
    if (st == SR_OK) {
        uint64_t value = crypto_blind_index(
            v->keys, INDEX_SSN, (const uint8_t *)norm, 9, v->index_bits);
        st = run_find(v, &f, &r, INDEX_SSN, value, fn, ctx, count);
    }
    sodium_memzero(norm, sizeof norm);
    return st;
}

sr_status vault_name_dob_terms(sr_vault *v, const char *family, const char *dob,
                               char norm[RECORD_NAME_NORM_CAP])
{
    int32_t days;
    if (dob == NULL || !date_parse(dob, strlen(dob), &days))
        return vault_fail(v, SR_ERR_INVALID,
                          "a date of birth is a real date written YYYY-MM-DD");
    if (family == NULL || !record_norm_name(family, norm, RECORD_NAME_NORM_CAP))
        return vault_fail(v, SR_ERR_INVALID,
                          "the family name has no letters or digits, or is "
                          "not valid UTF-8");
    return SR_OK;
}

sr_status sr_vault_find_name_dob(sr_vault *v, const sr_access *acc,
                                 const char *family, const char *dob,
                                 sr_line_fn fn, void *ctx, size_t *count)
{
    char norm[RECORD_NAME_NORM_CAP];
    access_req r = {POLICY_FIND, "find.name", acc, NULL, 0};
    uint64_t value;
    if (count != NULL)
        *count = 0;
    sr_status cs = vault_name_dob_terms(v, family, dob, norm);
    if (cs != SR_OK)
        return cs;
    find_ctx f = {v, NULL, norm, dob, NULL, 0, {0}, NULL, 0};
    sr_status st = find_authorize(v, &r, &f);
    if (st == SR_OK) {
        value = name_dob_value(v, norm, dob);
        st = run_find(v, &f, &r, INDEX_NAME_DOB, value, fn, ctx, count);
    }
    sodium_memzero(norm, sizeof norm);
    return st;
}

/* ---- update -------------------------------------------------------------- */

/* The classes a merge patch touches (its top-level members). */
static unsigned patch_classes(const json_t *patch)
{
    unsigned m = 0;
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)patch, k, x) {
        int c = record_class_of_member(k);
        if (c >= 0)
            m |= SR_CLASS_BIT((unsigned)c);
    }
    return m;
}

/* A stored person read for a change (inside the caller's transaction):
 * every class, its version (which must leave room for one more) and the
 * index rows it has, which the change replaces. *person is a new
 * reference, also on failure (NULL then). */
typedef struct change {
    uint8_t id[SR_ID_BYTES];
    json_t *person;
    uint32_t version;
    index_rows old_rows;
} change;

static sr_status change_read(sr_vault *v, const char *hex, change *c)
{
    char ssn[10];
    c->person = NULL;
    sr_status st =
        read_person(v, hex, SR_CLASS_ALL, c->id, &c->person, &c->version);
    if (st != SR_OK)
        return st;
    if (c->version == UINT32_MAX)
        return vault_fail(v, SR_ERR_CONFLICT,
                          "person %s has reached the last record version", hex);
    st = index_person(v, c->person, &c->old_rows, ssn);
    sodium_memzero(ssn, sizeof ssn);
    if (st != SR_OK)
        return vault_fail(v, SR_ERR_CORRUPT,
                          "person %s: the stored record has no SSN or birth "
                          "date",
                          hex);
    return SR_OK;
}

/* Seal the changed person afresh and put it in place of the old row. A
 * new version gets a new data key: every class is sealed again, and its
 * associated data names the new version, so the old ciphertext cannot be
 * put back in its place. With check_ssn, an SSN another person holds is
 * SR_ERR_DUPLICATE. v->sp holds the sealed person until sealed_reset. */
static sr_status change_write(sr_vault *v, const char *hex, const change *c,
                              bool check_ssn)
{
    char msg[256] = "", other[SR_ID_STR_LEN + 1];
    sr_status st = vault_seal_person(v, &v->sc, c->person, c->id,
                                     c->version + 1, &v->sp, msg, sizeof msg);
    if (st != SR_OK)
        return vault_fail(v, st, "person %s: %s", hex, msg);
    if (check_ssn) {
        ssn_probe pr;
        st = find_ssn_holder(v, v->sp.ssn, c->id, &pr);
        if (st != SR_OK)
            return st;
        if (pr.found) {
            id_hex(other, pr.id);
            return vault_fail(v, SR_ERR_DUPLICATE,
                              "the new SSN is already stored, for person %s",
                              other);
        }
    }
    store_row row;
    row_from_sealed(&row, &v->sp, c->version + 1, v->kek_version);
    st = v->ops->replace(v->st, &row, c->old_rows.idx, c->old_rows.n,
                         v->sp.index.idx, v->sp.index.n);
    if (st != SR_OK)
        return vault_store_fail(v, st, "cannot store the updated person");
    return SR_OK;
}

sr_status vault_drop_classes(sr_vault *v, const uint8_t id[SR_ID_BYTES],
                             unsigned mask)
{
    char hex[SR_ID_STR_LEN + 1];
    change c;
    id_hex(hex, id);
    sr_status st = change_read(v, hex, &c);
    if (st == SR_OK) {
        const char *key;
        json_t *val, *tmp;
        json_object_foreach_safe(c.person, tmp, key, val)
        {
            int k = record_class_of_member(key);
            if (k >= 0 && (mask & SR_CLASS_BIT(k)))
                (void)json_object_del(c.person, key);
        }
        st = change_write(v, hex, &c, false);
    }
    json_decref(c.person);
    sealed_reset(&v->sp);
    return st;
}

sr_status sr_vault_update(sr_vault *v, const sr_access *acc, const char *id,
                          const char *patch_text, size_t len)
{
    access_req r = {POLICY_UPDATE, "update", acc, NULL, 0};
    unsigned granted;
    uint8_t bin[SR_ID_BYTES];
    json_t *patch = NULL;
    json_error_t jerr;
    record_error err;
    change c;
    c.person = NULL;

    sr_status st = need_writable(v);
    if (st != SR_OK)
        return st;
    if (len > RECORD_MAX_JSON)
        return vault_fail(v, SR_ERR_INVALID,
                          "the patch is larger than %u bytes", RECORD_MAX_JSON);
    patch = json_loadb(patch_text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (patch == NULL)
        return vault_fail(v, SR_ERR_INVALID,
                          "the patch is not JSON (line %d, column %d)",
                          jerr.line, jerr.column);
    if (!json_is_object(patch)) {
        json_decref(patch);
        return vault_fail(v, SR_ERR_INVALID, "the patch is not a JSON object");
    }
    if (id == NULL || !id_parse(bin, id)) {
        json_decref(patch);
        return vault_fail(v, SR_ERR_INVALID,
                          "a person id is %d hexadecimal digits",
                          SR_ID_STR_LEN);
    }
    /* The classes changed are the classes asked for. */
    r.person = bin;
    r.classes = patch_classes(patch);
    st = vault_authorize(v, &r, &granted);
    if (st != SR_OK) {
        json_decref(patch);
        return st;
    }
    st = v->ops->begin(v->st);
    if (st != SR_OK) {
        st = vault_store_fail(v, st, "cannot start a transaction");
        goto cleanup;
    }
    st = change_read(v, id, &c);
    if (st != SR_OK)
        goto rollback;
    /* The id is not the caller's to change. */
    const json_t *pid = json_object_get(patch, "id");
    if (pid != NULL &&
        !(json_is_string(pid) && strcmp(json_string_value(pid), id) == 0)) {
        st = vault_fail(v, SR_ERR_INVALID, "invalid patch: /id cannot change");
        goto rollback;
    }
    st = record_merge_patch(c.person, patch, &err);
    if (st == SR_OK)
        st = record_validate(c.person, date_today(), &err);
    if (st != SR_OK) {
        st = invalid_record(v, &err);
        goto rollback;
    }
    st = change_write(v, id, &c, true);
    if (st != SR_OK)
        goto rollback;
    /* Logged before the commit, as a put. */
    st = vault_record(v, &r, ENTRY_ALLOWED, SR_OK, r.classes, "", 1,
                      (const uint8_t(*)[SR_ID_BYTES])bin, 1);
    if (st != SR_OK)
        goto rollback;
    st = v->ops->commit(v->st);
    if (st == SR_OK)
        goto cleanup;
    st = vault_store_fail(v, st, "cannot store the updated person");
rollback:
    (void)v->ops->rollback(v->st);
    if (st != SR_ERR_AUDIT)
        st = vault_record_failure(v, &r, st, r.classes);
cleanup:
    json_decref(patch);
    json_decref(c.person);
    sealed_reset(&v->sp);
    return st;
}

/* ---- export and statistics ----------------------------------------------- */

sr_status vault_held_begin(sr_vault *v, const access_req *r, const char *digest,
                           sr_line_fn fn, void *ctx, const char *what,
                           vault_held *h)
{
    memset(h, 0, sizeof *h);
    buf_init(&h->lines, (size_t)4 * VAULT_GROUP * LINE_MAX_BYTES);
    h->v = v;
    h->r = *r;
    h->fn = fn;
    h->fn_ctx = ctx;
    h->what = what;
    sr_status st = vault_authorize(v, r, &h->granted);
    /* A bulk read: only under a second person's approval. */
    if (st == SR_OK)
        st = vault_approval_check(v, r, digest, h->detail);
    return st;
}

void vault_held_free(vault_held *h)
{
    buf_free(&h->lines);
    sodium_memzero(h, sizeof *h);
}

sr_status vault_held_flush(vault_held *h)
{
    sr_vault *v = h->v;
    sr_status st = SR_OK;
    if (h->n > 0)
        st = vault_record(v, &h->r, ENTRY_ALLOWED, SR_OK, h->granted, h->detail,
                          h->n, (const uint8_t(*)[SR_ID_BYTES])h->ids,
                          (uint32_t)h->n);
    for (size_t off = 0; st == SR_OK && off < h->lines.len;) {
        const uint8_t *nl = memchr(h->lines.p + off, '\n', h->lines.len - off);
        size_t n = (size_t)(nl - (h->lines.p + off));
        st = h->fn(h->fn_ctx, (const char *)h->lines.p + off, n);
        if (st != SR_OK)
            st = vault_fail(v, st, "%s was stopped by its writer", h->what);
        else
            h->passed++;
        off += n + 1;
    }
    buf_reset(&h->lines);
    h->n = 0;
    h->held = 0;
    return st;
}

sr_status vault_held_add(vault_held *h, const void *line, size_t len,
                         const uint8_t *id)
{
    sr_status st = buf_append(&h->lines, line, len);
    if (st == SR_OK)
        st = buf_append_byte(&h->lines, '\n');
    if (st != SR_OK)
        return vault_fail(h->v, st, "out of memory");
    h->held++;
    if (id != NULL)
        memcpy(h->ids[h->n++], id, SR_ID_BYTES);
    if (h->n == VAULT_GROUP || h->held == 4 * VAULT_GROUP)
        return vault_held_flush(h);
    return SR_OK;
}

typedef struct export_ctx {
    vault_held held;
    const char *case_id; /* caseload roles: only people on this case */
} export_ctx;

static sr_status export_row(void *ctx, const store_row *row)
{
    export_ctx *x = ctx;
    sr_vault *v = x->held.v;
    bool decoy = false;
    sr_status st =
        vault_decoy_hit(v, (const uint8_t(*)[SR_ID_BYTES])row->id, 1, &decoy);
    if (st != SR_OK || decoy)
        return st; /* decoys are never exported */
    if (x->case_id != NULL) {
        bool on = false;
        st = vault_case_has_person(v, x->case_id, row->id, &on);
        if (st != SR_OK || !on)
            return st;
    }
    json_t *person = person_with_id(row->id);
    if (person == NULL)
        return vault_fail(v, SR_ERR_NOMEM, "out of memory");
    st = open_row(v, row, x->held.granted, person);
    if (st == SR_OK)
        st = dump_line(v, person);
    json_decref(person);
    if (st == SR_OK)
        st = vault_held_add(&x->held, v->out.p, v->out.len, row->id);
    buf_reset(&v->out);
    return st;
}

sr_status sr_vault_export(sr_vault *v, const sr_access *acc, sr_line_fn fn,
                          void *ctx, uint64_t *count)
{
    access_req r = {POLICY_EXPORT, "export", acc, NULL, 0};
    export_ctx *x = calloc(1, sizeof *x);
    if (count != NULL)
        *count = 0;
    if (x == NULL)
        return vault_fail(v, SR_ERR_NOMEM, "out of memory");
    /* Every export is a bulk read: only under a second person's approval. */
    sr_status st = vault_held_begin(v, &r, "", fn, ctx, "the export", &x->held);
    x->case_id = vault_caseload(v) ? acc->case_id : NULL;
    if (st == SR_OK) {
        v->errmsg[0] = '\0';
        st = v->ops->scan(v->st, x->held.granted, export_row, x);
        if (st == SR_OK)
            st = vault_held_flush(&x->held);
        if (st != SR_OK && v->errmsg[0] == '\0')
            st = vault_store_fail(v, st, "cannot read the vault");
    }
    if (count != NULL)
        *count = x->held.passed;
    vault_held_free(&x->held);
    sodium_memzero(x, sizeof *x);
    free(x);
    return st;
}

sr_status sr_vault_stats_get(sr_vault *v, sr_vault_stats *out)
{
    store_stats ss;
    memset(out, 0, sizeof *out);
    sr_status st = v->ops->stats(v->st, &ss);
    if (st != SR_OK)
        return vault_store_fail(v, st, "cannot read the vault statistics");
    /* Decoys are never counted as people. */
    uint64_t decoys = 0, decoy_kek[8];
    st = vault_decoy_count(v, &decoys);
    if (st == SR_OK)
        st = vault_decoy_by_kek(v, decoy_kek);
    if (st != SR_OK)
        return st;
    out->people = ss.people > decoys ? ss.people - decoys : 0;
    for (unsigned i = 0; i < 8; i++)
        ss.people_by_kek[i] -= decoy_kek[i] <= ss.people_by_kek[i]
                                   ? decoy_kek[i]
                                   : ss.people_by_kek[i];
    out->index_entries = ss.index_entries;
    out->db_bytes = ss.db_bytes;
    out->wal_bytes = ss.wal_bytes;
    out->ciphertext_bytes = ss.ciphertext_bytes;
    memcpy(out->people_by_kek, ss.people_by_kek, sizeof out->people_by_kek);
    out->schema_version = STORE_SCHEMA_VERSION;
    out->kek_version = v->kek_version;
    out->index_bits = v->index_bits;
    out->expected_people = v->expected_people;
    out->kdf_opslimit = v->kf.opslimit;
    out->kdf_memlimit = v->kf.memlimit;
    id_hex(out->vault_id, v->vault_id);
    return SR_OK;
}
