/* SPDX-License-Identifier: Apache-2.0 */
/*
 * shred.c - crypto-shredding (docs/retention.md). A person is destroyed by
 * deleting their row (the wrapped data key and every envelope) and their
 * blind-index rows with SQLite's secure delete, which overwrites the
 * freed bytes in the file, then emptying the write-ahead log so no older
 * page image of them survives there. Their decoy marker and case
 * memberships go too. What remains is the audit log's entries, which name
 * them only by keyed reference; the entry of the shredding itself is
 * written before the deletion is committed.
 *
 * `strongroom retention run` does the same for every person separated
 * longer than the policy's retention, in batches of SHRED_BATCH people per
 * transaction and one audit entry per ENTRY_REFS_MAX of them.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "vault_int.h"

/* People per transaction. Each deletes index rows all over the indexes,
 * so every commit rewrites most of their pages: fewer, larger commits
 * write less (8,192 took 21.5 s over 130,446 people, 65,536 17.8 s;
 * docs/BENCHMARKS.md). One transaction of all 130,497 was no faster
 * (14.4-15.7 s against 14.6-14.9 s, 2026-12-05). */
#define SHRED_BATCH 65536u
#define KIND_CASE "case"
#define KIND_CASE_PERSON "case_person"
#define KIND_DECOY "decoy"
#define PURGE_TRIES 50

typedef struct doomed {
    uint8_t id[SR_ID_BYTES];
    uint8_t ref[ENTRY_REF_BYTES]; /* audit reference: case memberships */
    index_rows rows;
} doomed;

typedef struct doomed_list {
    doomed *d;
    size_t n, cap;
} doomed_list;

static sr_status doomed_add(sr_vault *v, doomed_list *l, const store_row *row)
{
    if (array_room((void **)&l->d, &l->cap, l->n, sizeof *l->d) != SR_OK)
        return vault_fail(v, SR_ERR_NOMEM, "out of memory");
    doomed *d = &l->d[l->n];
    memcpy(d->id, row->id, SR_ID_BYTES);
    crypto_person_ref(v->keys, row->id, d->ref);
    sr_status st = vault_row_index(v, row, &d->rows);
    if (st == SR_OK)
        l->n++;
    return st;
}

static int ref_cmp(const void *a, const void *b)
{
    return memcmp(((const doomed *)a)->ref, ((const doomed *)b)->ref,
                  ENTRY_REF_BYTES);
}

/* ---- what goes with a person ----------------------------------------------
 */

typedef struct sweep_ctx {
    sr_vault *v;
    const doomed_list *l; /* sorted by ref */
    char (*keys)[STORE_DOC_KEY_MAX];
    size_t n, cap;
} sweep_ctx;

/* A case membership "<case>/<ref hex>" of a doomed person: remember it. */
static sr_status sweep_doc(void *ctx, const char *key, const uint8_t *p,
                           size_t len)
{
    sweep_ctx *s = ctx;
    doomed want;
    (void)p;
    (void)len;
    const char *slash = strrchr(key, '/');
    if (slash == NULL || strlen(slash + 1) != 2 * ENTRY_REF_BYTES ||
        !hex_decode(want.ref, ENTRY_REF_BYTES, slash + 1, 2 * ENTRY_REF_BYTES))
        return SR_OK;
    if (s->l->n == 0 ||
        bsearch(&want, s->l->d, s->l->n, sizeof want, ref_cmp) == NULL)
        return SR_OK;
    if (array_room((void **)&s->keys, &s->cap, s->n, sizeof *s->keys) != SR_OK)
        return SR_ERR_NOMEM;
    (void)snprintf(s->keys[s->n++], STORE_DOC_KEY_MAX, "%s", key);
    return SR_OK;
}

/* One person fewer on the case of membership key "<case>/<ref>". */
static sr_status case_uncount(sr_vault *v, char *key)
{
    json_t *c = NULL;
    char *slash = strrchr(key, '/');
    *slash = '\0';
    sr_status st = vault_doc_load(v, KIND_CASE, key, &c);
    json_int_t n = json_integer_value(json_object_get(c, "people"));
    if (st == SR_OK &&
        json_object_set_new(c, "people", json_integer(n > 0 ? n - 1 : 0)) != 0)
        st = SR_ERR_NOMEM;
    if (st == SR_OK)
        st = vault_doc_save(v, KIND_CASE, key, c, false);
    json_decref(c);
    return st == SR_ERR_NOT_FOUND ? SR_OK : st;
}

/* Delete the case memberships and decoy markers of the doomed people
 * (inside the caller's transaction). */
static sr_status sweep(sr_vault *v, doomed_list *l)
{
    if (l->n > 1)
        qsort(l->d, l->n, sizeof *l->d, ref_cmp);
    sweep_ctx s = {v, l, NULL, 0, 0};
    sr_status st = v->ops->doc_scan(v->st, KIND_CASE_PERSON, sweep_doc, &s);
    for (size_t i = 0; st == SR_OK && i < s.n; i++) {
        st = v->ops->doc_delete(v->st, KIND_CASE_PERSON, s.keys[i]);
        if (st == SR_OK)
            st = case_uncount(v, s.keys[i]);
    }
    free(s.keys);
    for (size_t i = 0; st == SR_OK && i < l->n; i++) {
        uint8_t ref[CRYPTO_PERSON_REF_BYTES];
        char key[2 * CRYPTO_PERSON_REF_BYTES + 1];
        bool decoy = false;
        st = vault_decoy_hit(v, (const uint8_t(*)[SR_ID_BYTES])l->d[i].id, 1,
                             &decoy);
        if (st != SR_OK || !decoy)
            continue;
        crypto_decoy_ref(v->keys, l->d[i].id, ref);
        hex_encode(key, ref, sizeof ref);
        st = v->ops->doc_delete(v->st, KIND_DECOY, key);
        if (st == SR_ERR_NOT_FOUND)
            st = SR_OK;
    }
    if (st != SR_OK)
        return vault_store_fail(v, st,
                                "cannot remove a shredded person's "
                                "case memberships");
    return SR_OK;
}

/* Empty the WAL; a reader elsewhere (a server's) may hold it a moment. */
static sr_status purge(sr_vault *v)
{
    sr_status st = SR_ERR_LOCKED;
    for (int i = 0; i < PURGE_TRIES && st == SR_ERR_LOCKED; i++) {
        st = v->ops->purge(v->st);
        if (st == SR_ERR_LOCKED) {
            struct timespec ts = {0, 20 * 1000 * 1000};
            (void)nanosleep(&ts, NULL);
        }
    }
    if (st != SR_OK)
        return vault_store_fail(v, st,
                                "the people are shredded, but the write-ahead "
                                "log could not be emptied yet (it is at the "
                                "next checkpoint)");
    return SR_OK;
}

/* Tell opts' progress callback, if any. */
static void progress(const sr_retention_opts *opts, const char *phase,
                     uint64_t done, uint64_t total)
{
    if (opts != NULL && opts->progress != NULL)
        opts->progress(opts->progress_ctx, phase, done, total);
}

/* Remove the people of l[from, to) and log them, one entry per
 * ENTRY_REFS_MAX, inside the caller's transaction. */
static sr_status remove_range(sr_vault *v, const access_req *r,
                              const char *detail, doomed_list *l, size_t from,
                              size_t to, const sr_retention_opts *opts)
{
    uint8_t(*ids)[SR_ID_BYTES] = malloc((size_t)ENTRY_REFS_MAX * SR_ID_BYTES);
    store_removal *rm = malloc((size_t)ENTRY_REFS_MAX * sizeof *rm);
    sr_status st = ids != NULL && rm != NULL
                       ? SR_OK
                       : vault_fail(v, SR_ERR_NOMEM, "out of memory");
    for (size_t i = from; i < to && st == SR_OK;) {
        size_t k = 0;
        for (; i < to && k < ENTRY_REFS_MAX; i++, k++) {
            const doomed *d = &l->d[i];
            memcpy(ids[k], d->id, SR_ID_BYTES);
            rm[k] = (store_removal){d->id, d->rows.idx, d->rows.n};
        }
        /* One call for the people of one entry: on PostgreSQL, one round
         * trip. */
        st = v->ops->remove(v->st, rm, k);
        if (st != SR_OK)
            st = vault_store_fail(v, st, "cannot delete the people");
        /* Logged before the commit: a shredded person always has its
         * entry. */
        if (st == SR_OK)
            st = vault_record(v, r, ENTRY_ALLOWED, SR_OK, 0, detail, k,
                              (const uint8_t(*)[SR_ID_BYTES])ids, (uint32_t)k);
        if (st == SR_OK)
            progress(opts, "destroying", i, l->n);
    }
    free(rm);
    free(ids);
    return st;
}

/* Shred l in batches: remove, sweep, commit. The caller empties the WAL
 * (purge). */
static sr_status shred_all(sr_vault *v, const access_req *r, const char *detail,
                           doomed_list *l, uint64_t *shredded,
                           const sr_retention_opts *opts)
{
    sr_status st = SR_OK;
    for (size_t from = 0; from < l->n && st == SR_OK;) {
        size_t to = from + SHRED_BATCH < l->n ? from + SHRED_BATCH : l->n;
        st = v->ops->begin(v->st);
        if (st != SR_OK)
            return vault_store_fail(v, st, "cannot start a transaction");
        st = remove_range(v, r, detail, l, from, to, opts);
        if (st == SR_OK) {
            doomed_list part = {l->d + from, to - from, to - from};
            st = sweep(v, &part);
        }
        if (st == SR_OK && (st = v->ops->commit(v->st)) != SR_OK)
            st = vault_store_fail(v, st, "cannot commit the shredding");
        if (st != SR_OK) {
            (void)v->ops->rollback(v->st);
            break;
        }
        if (shredded != NULL)
            *shredded += to - from;
        from = to;
    }
    return st;
}

/* ---- one person ------------------------------------------------------------
 */

typedef struct one_ctx {
    sr_vault *v;
    doomed_list *l;
    sr_status st;
} one_ctx;

static sr_status one_row(void *ctx, const store_row *row)
{
    one_ctx *o = ctx;
    o->st = doomed_add(o->v, o->l, row);
    return o->st;
}

static bool reason_ok(const char *r)
{
    size_t n = r != NULL ? strlen(r) : 0;
    if (n == 0 || n > ENTRY_NAME_MAX || r[0] < 'a' || r[0] > 'z')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((r[i] >= 'a' && r[i] <= 'z') || (r[i] >= '0' && r[i] <= '9') ||
              r[i] == '.' || r[i] == '_' || r[i] == '-'))
            return false;
    return true;
}

sr_status sr_vault_shred(sr_vault *v, const sr_access *acc, const char *id,
                         const char *reason)
{
    uint8_t bin[SR_ID_BYTES];
    unsigned granted;
    char detail[ENTRY_TEXT_MAX];
    doomed_list l = {NULL, 0, 0};
    access_req r = {POLICY_SHRED, "shred", acc, NULL, 0};
    if (!v->writable)
        return vault_fail(v, SR_ERR_INVALID, "the vault was opened read-only");
    if (id == NULL || strlen(id) != SR_ID_STR_LEN ||
        !hex_decode(bin, sizeof bin, id, SR_ID_STR_LEN))
        return vault_fail(v, SR_ERR_INVALID,
                          "a person id is %d hexadecimal digits",
                          SR_ID_STR_LEN);
    if (!reason_ok(reason))
        return vault_fail(v, SR_ERR_INVALID,
                          "a reason is 1-64 of a-z 0-9 . _ - starting with a "
                          "letter (a word or a ticket reference, never a "
                          "person's data)");
    r.person = bin;
    sr_status st = vault_authorize(v, &r, &granted);
    if (st != SR_OK)
        return st;
    one_ctx o = {v, &l, SR_OK};
    v->errmsg[0] = '\0';
    st = v->ops->get(v->st, bin,
                     SR_CLASS_BIT(SR_CLASS_IDENTITY) |
                         SR_CLASS_BIT(SR_CLASS_NAME),
                     one_row, &o);
    if (st == SR_OK && l.n == 0)
        st = vault_fail(v, SR_ERR_NOT_FOUND, "no person with id %s", id);
    if (st != SR_OK && v->errmsg[0] == '\0')
        st = vault_store_fail(v, st, "cannot read the person");
    if (st != SR_OK) {
        char keep[sizeof v->errmsg];
        memcpy(keep, v->errmsg, sizeof keep);
        sr_status rs = vault_record(v, &r, ENTRY_FAILED, st, 0, "", 0, NULL, 0);
        memcpy(v->errmsg, keep, sizeof keep);
        free(l.d);
        return rs != SR_OK ? rs : st;
    }
    (void)snprintf(detail, sizeof detail, "reason %s", reason);
    st = shred_all(v, &r, detail, &l, NULL, NULL);
    if (st == SR_OK)
        st = purge(v);
    sodium_memzero(l.d, l.n * sizeof *l.d);
    free(l.d);
    return st;
}

/* ---- retention --------------------------------------------------------------
 */

/* A person some of whose classes are due before the person is. */
typedef struct trim {
    uint8_t id[SR_ID_BYTES];
    unsigned mask;
} trim;

typedef struct ret_ctx {
    sr_vault *v;
    const sr_retention_opts *opts; /* the run's; NULL in a half's */
    int32_t cutoff; /* separated on or before this day: destroyed */
    int32_t class_cutoff[SR_CLASS_COUNT]; /* INT32_MIN: no schedule */
    doomed_list l;
    trim *t;
    size_t nt, tcap;
    uint64_t scanned, separated;
    uint64_t unclustered; /* read from no cluster (store_row.cluster 0) */
    sr_status st;
} ret_ctx;

/* The separated people whose classes are due, by class mask then id. */
static int trim_cmp(const void *a, const void *b)
{
    const trim *x = a, *y = b;
    if (x->mask != y->mask)
        return x->mask < y->mask ? -1 : 1;
    return memcmp(x->id, y->id, SR_ID_BYTES);
}

/* The day `years` years before today (a 29 February steps back to the
 * 28th), as text and as days. */
static bool cutoff_day(uint32_t years, char text[11], int32_t *day)
{
    char today[11];
    date_format(date_today(), today);
    int y = (today[0] - '0') * 1000 + (today[1] - '0') * 100 +
            (today[2] - '0') * 10 + (today[3] - '0') - (int)years;
    (void)snprintf(text, 11, "%04d%s", y, today + 4);
    if (strcmp(today + 4, "-02-29") == 0)
        (void)snprintf(text, 11, "%04d-02-28", y);
    return date_parse(text, 10, day);
}
static sr_status ret_row(void *ctx, const store_row *row)
{
    ret_ctx *c = ctx;
    bool decoy = false;
    /* Decoys are no people: no schedule applies to them, and they stay
     * where they are, as tripwires. */
    sr_status ds = vault_decoy_hit(c->v, (const uint8_t(*)[SR_ID_BYTES])row->id,
                                   1, &decoy);
    if (ds != SR_OK || decoy)
        return c->st = ds;
    c->scanned++;
    c->unclustered += row->cluster == 0;
    int32_t left = RECORD_NOT_SEPARATED;
    sr_status st = vault_row_left(c->v, row, &left);
    if (st == SR_OK && left != RECORD_NOT_SEPARATED) {
        c->separated++;
        if (left <= c->cutoff)
            return c->st = doomed_add(c->v, &c->l, row);
        unsigned mask = 0;
        for (unsigned k = 0; k < SR_CLASS_COUNT; k++)
            if ((row->present & SR_CLASS_BIT(k)) && left <= c->class_cutoff[k])
                mask |= SR_CLASS_BIT(k);
        if (mask != 0 &&
            array_room((void **)&c->t, &c->tcap, c->nt, sizeof *c->t) != SR_OK)
            st = vault_fail(c->v, SR_ERR_NOMEM, "out of memory");
        else if (mask != 0) {
            memcpy(c->t[c->nt].id, row->id, SR_ID_BYTES);
            c->t[c->nt++].mask = mask;
        }
    }
    c->st = st;
    return st;
}

/* ---- the first pass, on two threads --------------------------------------
 *
 * Deciding who is due means decrypting everyone's employment class: the
 * scan hands batches of rows (copied: their envelopes, no plaintext) to a
 * second handle on a second thread, which decides the first half of each
 * batch while this thread decides the second; their findings are then
 * appended in row order, so the deletions still follow the file.
 */

#define SCAN_BATCH 2048u
#define SCAN_CLASSES                                                           \
    (SR_CLASS_BIT(SR_CLASS_IDENTITY) | SR_CLASS_BIT(SR_CLASS_NAME) |           \
     SR_CLASS_BIT(SR_CLASS_EMPLOYMENT))

typedef struct row_copy {
    store_row row; /* its pointers into buf */
    uint8_t *buf;
} row_copy;

typedef struct half {
    ret_ctx c; /* this side's findings for one batch */
    const row_copy *rows;
    size_t n;
} half;

typedef struct scan2 {
    ret_ctx *main;   /* the run's context and final lists */
    sr_vault *other; /* the second handle; NULL: one thread */
    row_copy rows[SCAN_BATCH];
    size_t n;
} scan2;

static sr_status copy_row(row_copy *d, const store_row *row)
{
    size_t need = row->wrapped_len;
    for (unsigned k = 0; k < SR_CLASS_COUNT; k++)
        need += row->cls[k] != NULL ? row->cls_len[k] : 0;
    d->row = *row;
    d->buf = malloc(need ? need : 1);
    if (d->buf == NULL)
        return SR_ERR_NOMEM;
    uint8_t *at = d->buf;
    memcpy(at, row->wrapped, row->wrapped_len);
    d->row.wrapped = at;
    at += row->wrapped_len;
    for (unsigned k = 0; k < SR_CLASS_COUNT; k++)
        if (row->cls[k] != NULL) {
            memcpy(at, row->cls[k], row->cls_len[k]);
            d->row.cls[k] = at;
            at += row->cls_len[k];
        }
    return SR_OK;
}

static void *half_run(void *arg)
{
    half *h = arg;
    for (size_t i = 0; i < h->n && h->c.st == SR_OK; i++)
        (void)ret_row(&h->c, &h->rows[i].row);
    return NULL;
}

/* An empty context deciding with handle v by m's schedule. */
static void side_of(const ret_ctx *m, sr_vault *v, ret_ctx *c)
{
    memset(c, 0, sizeof *c);
    c->v = v;
    c->cutoff = m->cutoff;
    memcpy(c->class_cutoff, m->class_cutoff, sizeof c->class_cutoff);
}

/* Append src's findings to dst's, and its counts. */
static sr_status merge(ret_ctx *dst, ret_ctx *src)
{
    dst->scanned += src->scanned;
    dst->separated += src->separated;
    dst->unclustered += src->unclustered;
    for (size_t i = 0; i < src->l.n; i++) {
        if (array_room((void **)&dst->l.d, &dst->l.cap, dst->l.n,
                       sizeof *dst->l.d) != SR_OK)
            return SR_ERR_NOMEM;
        dst->l.d[dst->l.n++] = src->l.d[i];
    }
    for (size_t i = 0; i < src->nt; i++) {
        if (array_room((void **)&dst->t, &dst->tcap, dst->nt, sizeof *dst->t) !=
            SR_OK)
            return SR_ERR_NOMEM;
        dst->t[dst->nt++] = src->t[i];
    }
    return SR_OK;
}

static void half_free(half *h)
{
    if (h->c.l.d != NULL)
        sodium_memzero(h->c.l.d, h->c.l.cap * sizeof *h->c.l.d);
    free(h->c.l.d);
    free(h->c.t);
}

/* Decide the batch held: the first half on the other thread. */
static sr_status scan2_flush(scan2 *s)
{
    ret_ctx *m = s->main;
    half a, b;
    size_t cut = s->other != NULL ? s->n / 2 : 0;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    side_of(m, s->other, &a.c);
    side_of(m, m->v, &b.c);
    a.rows = s->rows;
    a.n = cut;
    b.rows = s->rows + cut;
    b.n = s->n - cut;
    pthread_t t;
    bool two = cut > 0 && pthread_create(&t, NULL, half_run, &a) == 0;
    if (!two) {
        a.c.v = m->v;
        (void)half_run(&a);
    }
    (void)half_run(&b);
    if (two)
        (void)pthread_join(t, NULL);
    sr_status st = a.c.st != SR_OK ? a.c.st : b.c.st;
    if (a.c.st != SR_OK && a.c.v != m->v)
        st = vault_fail(m->v, st, "%s", sr_vault_errmsg(a.c.v));
    if (st == SR_OK && (merge(m, &a.c) != SR_OK || merge(m, &b.c) != SR_OK))
        st = vault_fail(m->v, SR_ERR_NOMEM, "out of memory");
    if (st == SR_OK)
        progress(m->opts, "reading", m->scanned, 0);
    half_free(&a);
    half_free(&b);
    for (size_t i = 0; i < s->n; i++)
        free(s->rows[i].buf);
    s->n = 0;
    return m->st = st;
}

static sr_status scan2_row(void *ctx, const store_row *row)
{
    scan2 *s = ctx;
    if (copy_row(&s->rows[s->n], row) != SR_OK)
        return s->main->st =
                   vault_fail(s->main->v, SR_ERR_NOMEM, "out of memory");
    s->n++;
    return s->n == SCAN_BATCH ? scan2_flush(s) : SR_OK;
}

static int u16_cmp(const void *a, const void *b)
{
    uint16_t x = *(const uint16_t *)a, y = *(const uint16_t *)b;
    return (x > y) - (x < y);
}

/* The clusters that may hold someone due by c's cutoffs: those of every
 * year up to the latest cutoff's, and 0 (everyone in no cluster: never
 * compacted, or written since), in storage order, each once. Returns how
 * many are in out. */
#define DUE_CLUSTERS_MAX (10000 - VAULT_CLUSTER_FIRST_YEAR + 2)
static size_t due_clusters(const sr_vault *v, const ret_ctx *c,
                           uint16_t out[DUE_CLUSTERS_MAX])
{
    int32_t last = c->cutoff;
    for (unsigned k = 0; k < SR_CLASS_COUNT; k++)
        if (c->class_cutoff[k] > last)
            last = c->class_cutoff[k];
    char day[11];
    date_format(last, day);
    int year = (day[0] - '0') * 1000 + (day[1] - '0') * 100 +
               (day[2] - '0') * 10 + (day[3] - '0');
    size_t n = 0;
    out[n++] = 0;
    /* The first year's cluster holds everyone who left before it too. */
    out[n++] = vault_cluster_of_year(v, VAULT_CLUSTER_FIRST_YEAR);
    for (int y = VAULT_CLUSTER_FIRST_YEAR + 1;
         y <= year && n < DUE_CLUSTERS_MAX; y++)
        out[n++] = vault_cluster_of_year(v, y);
    qsort(out, n, sizeof *out, u16_cmp);
    size_t w = 1;
    for (size_t i = 1; i < n; i++)
        if (out[i] != out[w - 1])
            out[w++] = out[i];
    return w;
}

/* The first pass over the rows that may be due (every row when the store
 * keeps no clusters), on two threads when a second handle opens (on one
 * otherwise). */
static sr_status scan_due(sr_vault *v, ret_ctx *c)
{
    scan2 *s = calloc(1, sizeof *s);
    if (s == NULL)
        return vault_fail(v, SR_ERR_NOMEM, "out of memory");
    s->main = c;
    if (sr_vault_open_another(&s->other, v) != SR_OK)
        s->other = NULL;
    v->errmsg[0] = '\0';
    sr_status st;
    if (v->ops->scan_clusters != NULL) {
        uint16_t clusters[DUE_CLUSTERS_MAX];
        size_t n = due_clusters(v, c, clusters);
        st = v->ops->scan_clusters(v->st, clusters, n, SCAN_CLASSES, scan2_row,
                                   s);
    } else {
        st = v->ops->scan(v->st, SCAN_CLASSES, scan2_row, s);
    }
    if (st == SR_OK && s->n > 0)
        st = scan2_flush(s);
    for (size_t i = 0; i < s->n; i++)
        free(s->rows[i].buf);
    if (s->other != NULL)
        sr_vault_close(s->other);
    free(s);
    if (st != SR_OK && v->errmsg[0] == '\0')
        st = vault_store_fail(v, st, "cannot read the vault");
    return st;
}

/* The class names of mask, comma-separated. */
#define CLASS_NAMES_MAX 80
static void class_names(unsigned mask, char out[CLASS_NAMES_MAX])
{
    size_t n = 0;
    out[0] = '\0';
    for (unsigned k = 0; k < SR_CLASS_COUNT; k++)
        if (mask & SR_CLASS_BIT(k)) {
            int w = snprintf(out + n, CLASS_NAMES_MAX - n, "%s%s", n ? "," : "",
                             sr_class_name((sr_class)k));
            if (w > 0 && (size_t)w < CLASS_NAMES_MAX - n)
                n += (size_t)w;
        }
}

/* Destroy the due classes of c->t, SHRED_BATCH people a transaction, one
 * entry per ENTRY_REFS_MAX people with the same classes (the entry's
 * classes are those destroyed). */
static sr_status trim_all(sr_vault *v, const access_req *r, ret_ctx *c,
                          uint64_t *done)
{
    const sr_retention_opts *opts = c->opts;
    uint8_t(*ids)[SR_ID_BYTES] = malloc((size_t)ENTRY_REFS_MAX * SR_ID_BYTES);
    char detail[ENTRY_TEXT_MAX], names[CLASS_NAMES_MAX];
    sr_status st = ids != NULL ? SR_OK
                               : vault_fail(v, SR_ERR_NOMEM,
                                            "out of "
                                            "memory");
    if (c->nt > 1)
        qsort(c->t, c->nt, sizeof *c->t, trim_cmp);
    for (size_t from = 0; from < c->nt && st == SR_OK;) {
        size_t to = from + SHRED_BATCH < c->nt ? from + SHRED_BATCH : c->nt;
        if ((st = v->ops->begin(v->st)) != SR_OK) {
            st = vault_store_fail(v, st, "cannot start a transaction");
            break;
        }
        for (size_t i = from; i < to && st == SR_OK;) {
            unsigned mask = c->t[i].mask;
            uint32_t k = 0;
            for (; i < to && k < ENTRY_REFS_MAX && c->t[i].mask == mask &&
                   st == SR_OK;
                 i++, k++) {
                memcpy(ids[k], c->t[i].id, SR_ID_BYTES);
                st = vault_drop_classes(v, c->t[i].id, mask);
            }
            class_names(mask, names);
            (void)snprintf(detail, sizeof detail, "destroyed classes %s",
                           names);
            if (st == SR_OK)
                st = vault_record(v, r, ENTRY_ALLOWED, SR_OK, mask, detail, k,
                                  (const uint8_t(*)[SR_ID_BYTES])ids, k);
            if (st == SR_OK)
                progress(opts, "destroying classes", i, c->nt);
        }
        if (st == SR_OK && (st = v->ops->commit(v->st)) != SR_OK)
            st = vault_store_fail(v, st, "cannot commit the retention");
        if (st != SR_OK) {
            (void)v->ops->rollback(v->st);
            break;
        }
        *done += to - from;
        from = to;
    }
    free(ids);
    return st;
}

sr_status sr_vault_retention_run(sr_vault *v, const sr_access *acc,
                                 const sr_retention_opts *opts,
                                 sr_retention_summary *out)
{
    static const sr_retention_opts none = {false, NULL, NULL};
    if (opts == NULL)
        opts = &none;
    bool dry_run = opts->dry_run;
    unsigned granted;
    char detail[ENTRY_TEXT_MAX];
    access_req r = {POLICY_SHRED, dry_run ? "retention.plan" : "retention.run",
                    acc, NULL, 0};
    memset(out, 0, sizeof *out);
    if (!dry_run && !v->writable)
        return vault_fail(v, SR_ERR_INVALID, "the vault was opened read-only");
    uint32_t years = policy_retention_years(v->pol);
    if (years == 0)
        return vault_fail(v, SR_ERR_INVALID,
                          "the policy sets no retention "
                          "(\"retention\": {\"destroy_after_separation_"
                          "years\": N}, docs/policy.md)");
    sr_status st = vault_authorize(v, &r, &granted);
    if (st != SR_OK)
        return st;
    /* Separated on or before the same day `years` years ago. */
    char cut[11], ccut[11];
    ret_ctx c;
    memset(&c, 0, sizeof c);
    c.v = v;
    c.opts = opts;
    if (!cutoff_day(years, cut, &c.cutoff))
        return vault_fail(v, SR_ERR_INTERNAL, "cannot compute the cutoff");
    for (unsigned k = 0; k < SR_CLASS_COUNT; k++) {
        uint32_t cy = policy_retention_class_years(v->pol, (sr_class)k);
        c.class_cutoff[k] = INT32_MIN;
        if (cy != 0 && !cutoff_day(cy, ccut, &c.class_cutoff[k]))
            return vault_fail(v, SR_ERR_INTERNAL, "cannot compute the cutoff");
    }
    st = scan_due(v, &c);
    out->scanned = c.scanned;
    /* Only a store that keeps clusters has people outside them. */
    out->unclustered = v->ops->compact != NULL ? c.unclustered : 0;
    out->separated = c.separated;
    out->due = c.l.n;
    out->classes_due = c.nt;
    (void)snprintf(detail, sizeof detail,
                   "separated on or before %s (%u years)", cut, years);
    /* Destroying more people than the bulk threshold is a two-person
     * act too: judged once the run knows how many are due. */
    uint32_t bulk = policy_bulk_threshold(v->pol);
    char used[ENTRY_TEXT_MAX] = "";
    if (st == SR_OK && !dry_run && bulk > 0 && c.l.n + c.nt > bulk)
        st = vault_approval_check(v, &r, "", used);
    if (st == SR_OK && used[0] != '\0') {
        size_t n = strlen(detail);
        (void)snprintf(detail + n, sizeof detail - n, ", %s", used);
    }
    if (st == SR_OK && dry_run)
        st = vault_record(v, &r, ENTRY_ALLOWED, SR_OK, 0, detail, c.l.n + c.nt,
                          NULL, 0);
    else if (st == SR_OK)
        st = shred_all(v, &r, detail, &c.l, &out->shredded, opts);
    if (st == SR_OK && !dry_run)
        st = trim_all(v, &r, &c, &out->classes_destroyed);
    if (st == SR_OK && !dry_run && out->shredded + out->classes_destroyed > 0)
        st = purge(v);
    if (c.l.d != NULL)
        sodium_memzero(c.l.d, c.l.cap * sizeof *c.l.d);
    free(c.l.d);
    free(c.t);
    return st;
}
