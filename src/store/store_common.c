/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_common.c - what the backends share (store.h, "shared by the
 * backends"): the check of a row before it is written, the text of the
 * row-returning queries (one variant per class mask), a backup's new
 * file, and the writing side of copy_to (the sink).
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "store/store.h"
#include "util/util.h"

sr_status store_backup_claim(const char *path)
{
    int fd =
        open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return errno == EEXIST ? SR_ERR_EXISTS : SR_ERR_IO;
    return close(fd) == 0 ? SR_OK : SR_ERR_IO;
}

sr_status store_backup_copy(store *s, const store_ops *ops, const char *path,
                            char why[STORE_WHY_MAX])
{
    store *dst = NULL;
    why[0] = '\0';
    sr_status st = store_backup_claim(path);
    if (st != SR_OK) {
        (void)snprintf(why, STORE_WHY_MAX, "creating the backup: %s",
                       strerror(errno));
        return st;
    }
    st = store_sqlite_ops.open(&dst, path,
                               STORE_OPEN_CREATE | STORE_OPEN_KEYLESS);
    if (st != SR_OK)
        (void)snprintf(why, STORE_WHY_MAX, "creating the backup: %s",
                       dst != NULL ? store_sqlite_ops.errmsg(dst)
                                   : "out of memory");
    else
        st = ops->copy_to(s, &store_sqlite_ops, dst, NULL);
    if (dst != NULL)
        store_sqlite_ops.close(dst);
    if (st == SR_OK && file_sync(path) != SR_OK) {
        (void)snprintf(why, STORE_WHY_MAX, "syncing the backup: %s",
                       strerror(errno));
        st = SR_ERR_IO;
    }
    if (st != SR_OK)
        store_sqlite_remove(path);
    return st;
}

bool store_row_valid_keyless(const store_row *row)
{
    if (row == NULL || row->version == 0 || row->kek_version == 0)
        return false;
    for (unsigned c = 0; c < SR_CLASS_COUNT; c++)
        if (row->cls[c] != NULL && row->cls_len[c] == 0)
            return false;
    return true;
}

bool store_row_valid(const store_row *row)
{
    return store_row_valid_keyless(row) && row->wrapped != NULL &&
           row->wrapped_len > 0;
}

static void sql_append(char *dst, size_t cap, size_t *len, const char *src)
{
    size_t n = strlen(src);
    if (*len + n >= cap)
        n = 0; /* never: the buffer is sized for the longest variant */
    memcpy(dst + *len, src, n);
    *len += n;
    dst[*len] = '\0';
}

void store_masked_sql(char sql[STORE_SQL_MAX], store_query q, unsigned mask,
                      const store_dialect *d)
{
    static const char *const heads[STORE_QUERIES] = {
        [STORE_Q_GET] = "SELECT id, version, kek_version, wrapped",
        [STORE_Q_LOOKUP] = "SELECT p.id, p.version, p.kek_version, p.wrapped",
        [STORE_Q_SCAN] = "SELECT id, version, kek_version, wrapped",
        [STORE_Q_RANGE] = "SELECT id, version, kek_version, wrapped",
    };
    _Static_assert(STORE_QUERIES == 4, "a head for every query");
    static const char *const cols[2][SR_CLASS_COUNT] = {
        {", c0", ", c1", ", c2", ", c3", ", c4", ", c5"},
        {", p.c0", ", p.c1", ", p.c2", ", p.c3", ", p.c4", ", p.c5"},
    };
    size_t len = 0;
    sql[0] = '\0';
    sql_append(sql, STORE_SQL_MAX, &len, heads[q]);
    for (unsigned c = 0; c < SR_CLASS_COUNT; c++)
        sql_append(sql, STORE_SQL_MAX, &len,
                   (mask & SR_CLASS_BIT(c)) ? cols[q == STORE_Q_LOOKUP][c]
                                            : d->null_column);
    sql_append(sql, STORE_SQL_MAX, &len, d->tails[q]);
}

/* ---- copy_to's writing side ---------------------------------------------- */

static sr_status sink_fail(store_sink *k, sr_status st, const char *what)
{
    (void)snprintf(k->msg, sizeof k->msg, "%s: %s", what,
                   k->ops->errmsg(k->dst));
    return st;
}

sr_status store_sink_begin(store_sink *k, const store_ops *ops, store *dst,
                           const store_progress *progress)
{
    memset(k, 0, offsetof(store_sink, rows));
    k->ops = ops;
    k->dst = dst;
    k->arena = NULL;
    k->used = k->cap = 0;
    k->progress = progress;
    k->written = 0;
    k->msg[0] = '\0';
    sr_status st = ops->begin(dst);
    return st == SR_OK ? SR_OK : sink_fail(k, st, "starting the copy");
}

sr_status store_sink_meta(store_sink *k, const char *key, const uint8_t *v,
                          size_t len)
{
    sr_status st = k->ops->meta_put(k->dst, key, v, len);
    return st == SR_OK ? SR_OK : sink_fail(k, st, "copying a meta value");
}

sr_status store_sink_doc(store_sink *k, const char *kind, const char *key,
                         const uint8_t *v, size_t len)
{
    sr_status st = k->ops->doc_put(k->dst, kind, key, v, len);
    return st == SR_OK ? SR_OK : sink_fail(k, st, "copying a document");
}

static sr_status sink_flush(store_sink *k)
{
    sr_status st = SR_OK;
    if (k->n > 0 && k->ops->insert_many != NULL) {
        st = k->ops->insert_many(k->dst, k->rows, k->idxp, k->nidx, k->n);
    } else {
        for (size_t i = 0; i < k->n && st == SR_OK; i++)
            st = k->ops->insert(k->dst, &k->rows[i], k->idxp[i], k->nidx[i]);
    }
    k->written += k->n;
    if (st == SR_OK && k->n > 0 && k->progress != NULL &&
        k->progress->fn != NULL)
        k->progress->fn(k->progress->ctx, k->written);
    k->n = 0;
    k->used = 0;
    return st == SR_OK ? SR_OK : sink_fail(k, st, "copying people");
}

bool store_index_text_parse(const char *t, store_index *idx, size_t *n)
{
    *n = 0;
    while (t != NULL && *t != '\0') {
        char *end;
        errno = 0;
        unsigned long kind = strtoul(t, &end, 10);
        if (end == t || *end != ':' || kind > UINT8_MAX || errno != 0 ||
            *n == STORE_SINK_INDEX_MAX)
            return false;
        t = end + 1;
        unsigned long long value = strtoull(t, &end, 10);
        if (end == t || (*end != ',' && *end != '\0') || errno != 0)
            return false;
        idx[*n].kind = (uint8_t)kind;
        idx[(*n)++].value = (uint64_t)value;
        t = *end == ',' ? end + 1 : end;
        if (*end == ',' && *t == '\0')
            return false; /* a trailing comma: not a source's text */
    }
    return true;
}

/* Room for need more bytes of the batch: flush first if it would move
 * the rows already pointing into the arena. */
static sr_status sink_room(store_sink *k, size_t need)
{
    if (k->used + need <= k->cap)
        return SR_OK;
    if (k->n > 0) {
        sr_status st = sink_flush(k);
        if (st != SR_OK || k->used + need <= k->cap)
            return st;
    }
    size_t cap = k->cap ? k->cap : 1u << 20;
    while (cap < need)
        cap *= 2;
    uint8_t *p = realloc(k->arena, cap);
    if (p == NULL) {
        (void)snprintf(k->msg, sizeof k->msg, "copying people: out of memory");
        return SR_ERR_NOMEM;
    }
    k->arena = p;
    k->cap = cap;
    return SR_OK;
}

static const uint8_t *sink_keep(store_sink *k, const uint8_t *p, size_t n)
{
    if (p == NULL)
        return NULL;
    uint8_t *at = k->arena + k->used;
    if (n > 0)
        memcpy(at, p, n);
    k->used += n;
    return at;
}

sr_status store_sink_person(store_sink *k, const store_row *row,
                            const char *index_text)
{
    store_index idx[STORE_SINK_INDEX_MAX];
    size_t n = 0;
    if (!store_index_text_parse(index_text, idx, &n)) {
        (void)snprintf(k->msg, sizeof k->msg,
                       "copying people: a person's index rows are malformed");
        return SR_ERR_CORRUPT;
    }
    return store_sink_person_idx(k, row, idx, n);
}

sr_status store_sink_person_idx(store_sink *k, const store_row *row,
                                const store_index *idx, size_t nidx)
{
    if (nidx > STORE_SINK_INDEX_MAX) {
        (void)snprintf(k->msg, sizeof k->msg,
                       "copying people: a person has too many index rows");
        return SR_ERR_CORRUPT;
    }
    size_t need = row->wrapped_len;
    for (unsigned c = 0; c < SR_CLASS_COUNT; c++)
        need += row->cls[c] != NULL ? row->cls_len[c] : 0;
    sr_status st = sink_room(k, need);
    if (st != SR_OK)
        return st;
    size_t i = k->n;
    if (nidx > 0)
        memcpy(k->idx[i], idx, nidx * sizeof *idx);
    k->nidx[i] = nidx;
    store_row *r = &k->rows[i];
    *r = *row;
    r->wrapped = sink_keep(k, row->wrapped, row->wrapped_len);
    for (unsigned c = 0; c < SR_CLASS_COUNT; c++)
        r->cls[c] = sink_keep(k, row->cls[c], row->cls_len[c]);
    k->idxp[i] = k->idx[i];
    k->n++;
    return k->n == STORE_SINK_BATCH ? sink_flush(k) : SR_OK;
}

sr_status store_sink_end(store_sink *k, sr_status st)
{
    if (st == SR_OK)
        st = sink_flush(k);
    if (st == SR_OK && (st = k->ops->commit(k->dst)) != SR_OK)
        st = sink_fail(k, st, "committing the copy");
    if (st != SR_OK)
        (void)k->ops->rollback(k->dst);
    if (k->arena != NULL)
        sodium_memzero(k->arena, k->cap);
    free(k->arena);
    k->arena = NULL;
    k->used = k->cap = 0;
    return st;
}
