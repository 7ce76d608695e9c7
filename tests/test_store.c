/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_store.c - a store backend against the contract of store.h: rows,
 * class masks, blind-index lookup, optimistic replace, scan order, meta
 * values, transactions, refusal of foreign stores, stats.
 *
 * SQLite (src/store/store_sqlite.c) by default, on a fresh temporary
 * directory per test, with its file-level cases too: foreign and
 * truncated files, and a full disk (RLIMIT_FSIZE in a child) that must not
 * lose committed rows. With SR_TEST_STORE set to a libpq connection
 * string (tests/with_pg.sh starts a server and sets it), PostgreSQL
 * (src/store/store_pg.c), on a fresh database per test, with its own
 * foreign-database cases instead of the file ones. The "ciphertext" here
 * is opaque filler: the store never looks inside.
 */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "crypto/crypto.h" /* the index kinds */
#include "store/store.h"
#include "strongroom/strongroom.h"
#include "util/util.h"

static const store_ops *ops = &store_sqlite_ops;
/* PostgreSQL: the server's connection string (SR_TEST_STORE), else NULL. */
static const char *pg_admin;
static unsigned pg_databases;

typedef struct fixture {
    char dir[256];
    char db[512]; /* SQLite: the file; PostgreSQL: the connection string */
    char pg_name[32];
    store *s;
} fixture;

/* Run sql (our own text) on a connection to the server's admin database. */
static bool pg_admin_exec(const char *sql)
{
    PGconn *c = PQconnectdb(pg_admin);
    bool ok = PQstatus(c) == CONNECTION_OK;
    if (ok) {
        PGresult *r = PQexec(c, sql);
        ok = PQresultStatus(r) == PGRES_COMMAND_OK ||
             PQresultStatus(r) == PGRES_TUPLES_OK;
        if (!ok)
            print_error("%s: %s", sql, PQerrorMessage(c));
        PQclear(r);
    }
    PQfinish(c);
    return ok;
}

/* SQLite only: the test reaches into the file. */
#define SQLITE_ONLY()                                                          \
    do {                                                                       \
        if (pg_admin != NULL)                                                  \
            skip();                                                            \
    } while (0)
#define PG_ONLY()                                                              \
    do {                                                                       \
        if (pg_admin == NULL)                                                  \
            skip();                                                            \
    } while (0)

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (f == NULL)
        return -1;
    if (pg_admin != NULL) {
        char sql[96];
        (void)snprintf(f->pg_name, sizeof f->pg_name, "sr_store_%u_%u",
                       (unsigned)getpid(), ++pg_databases);
        (void)snprintf(sql, sizeof sql, "CREATE DATABASE %s", f->pg_name);
        int w =
            snprintf(f->db, sizeof f->db, "%s dbname=%s", pg_admin, f->pg_name);
        if (w < 0 || (size_t)w >= sizeof f->db || !pg_admin_exec(sql)) {
            free(f);
            return -1;
        }
    }
    const char *tmp = getenv("TMPDIR");
    int w = snprintf(f->dir, sizeof f->dir, "%s/sr_store_XXXXXX",
                     tmp ? tmp : "/tmp");
    if (w < 0 || (size_t)w >= sizeof f->dir || mkdtemp(f->dir) == NULL) {
        free(f);
        return -1;
    }
    if (pg_admin == NULL)
        w = snprintf(f->db, sizeof f->db, "%s/vault.db", f->dir);
    if (w < 0 || (size_t)w >= sizeof f->db) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static void remove_with_suffix(const char *base, const char *suffix)
{
    char p[400];
    int w = snprintf(p, sizeof p, "%s%s", base, suffix);
    if (w > 0 && (size_t)w < sizeof p)
        (void)unlink(p);
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (f->s != NULL)
        ops->close(f->s);
    if (pg_admin != NULL) {
        char sql[96];
        (void)snprintf(sql, sizeof sql, "DROP DATABASE %s", f->pg_name);
        (void)pg_admin_exec(sql);
    }
    remove_with_suffix(f->db, "");
    remove_with_suffix(f->db, "-wal");
    remove_with_suffix(f->db, "-shm");
    remove_with_suffix(f->db, "-journal");
    remove_with_suffix(f->dir, "/other.db");
    remove_with_suffix(f->dir, "/junk.db");
    remove_with_suffix(f->dir, "/short.db");
    (void)rmdir(f->dir);
    free(f);
    return 0;
}

static store *open_or_fail(const char *path, unsigned flags)
{
    store *s = NULL;
    sr_status st = ops->open(&s, path, flags);
    if (st != SR_OK)
        fail_msg("open: %s: %s", sr_status_str(st), s ? ops->errmsg(s) : "?");
    return s;
}

static void create_store(fixture *f)
{
    f->s = open_or_fail(f->db, STORE_OPEN_CREATE | STORE_OPEN_WRITE);
}

static void reopen(fixture *f, unsigned flags)
{
    ops->close(f->s);
    f->s = open_or_fail(f->db, flags);
}

/* A person built from a small number: id, wrapped key and each class are
 * recognisable filler. */
typedef struct person_bytes {
    store_row row;
    uint8_t wrapped[72];
    uint8_t cls[SR_CLASS_COUNT][64];
} person_bytes;

static void person_make(person_bytes *p, uint32_t n, uint32_t version,
                        unsigned present_mask)
{
    memset(p, 0, sizeof *p);
    for (unsigned i = 0; i < SR_ID_BYTES; i++)
        p->row.id[i] = (uint8_t)(n >> (8 * (i % 4))) ^ (uint8_t)(i * 17);
    p->row.version = version;
    p->row.kek_version = 1 + n % 2;
    memset(p->wrapped, (int)(n & 0xff), sizeof p->wrapped);
    p->row.wrapped = p->wrapped;
    p->row.wrapped_len = sizeof p->wrapped;
    for (unsigned c = 0; c < SR_CLASS_COUNT; c++) {
        if (!(present_mask & SR_CLASS_BIT(c)))
            continue;
        size_t len = 41 + (n + c) % 20;
        memset(p->cls[c], (int)((n * 7 + c + version) & 0xff), len);
        p->row.cls[c] = p->cls[c];
        p->row.cls_len[c] = len;
    }
}

/* Collects rows handed to a callback. */
typedef struct collected {
    size_t n;
    uint8_t ids[64][SR_ID_BYTES];
    uint32_t versions[64];
    unsigned present[64];       /* which classes came back */
    bool match[64];             /* every returned class equals the expected */
    const person_bytes *expect; /* optional: compare bytes with this */
} collected;

static sr_status collect(void *ctx, const store_row *row)
{
    collected *c = ctx;
    if (c->n >= 64)
        return SR_ERR_INTERNAL;
    memcpy(c->ids[c->n], row->id, SR_ID_BYTES);
    c->versions[c->n] = row->version;
    c->present[c->n] = 0;
    c->match[c->n] = true;
    for (unsigned k = 0; k < SR_CLASS_COUNT; k++) {
        if (row->cls[k] == NULL)
            continue;
        c->present[c->n] |= SR_CLASS_BIT(k);
        if (c->expect != NULL &&
            (row->cls_len[k] != c->expect->row.cls_len[k] ||
             memcmp(row->cls[k], c->expect->cls[k], row->cls_len[k]) != 0))
            c->match[c->n] = false;
    }
    if (c->expect != NULL &&
        (row->wrapped_len != c->expect->row.wrapped_len ||
         memcmp(row->wrapped, c->expect->wrapped, row->wrapped_len) != 0 ||
         row->kek_version != c->expect->row.kek_version))
        c->match[c->n] = false;
    c->n++;
    return SR_OK;
}

static void insert_person(store *s, uint32_t n, const store_index *idx,
                          size_t nidx)
{
    person_bytes p;
    person_make(&p, n, 1, SR_CLASS_ALL);
    sr_status st = ops->insert(s, &p.row, idx, nidx);
    if (st != SR_OK)
        fail_msg("insert %u: %s: %s", n, sr_status_str(st), ops->errmsg(s));
}

/* ---- tests -------------------------------------------------------------- */

static void create_then_reopen_gives_an_empty_store(void **state)
{
    fixture *f = *state;
    store_stats st;
    create_store(f);
    reopen(f, 0);
    assert_int_equal(ops->stats(f->s, &st), SR_OK);
    assert_int_equal(st.people, 0);
    assert_int_equal(st.index_entries, 0);
    assert_true(st.db_bytes > 0);
}

static void create_refuses_an_existing_database(void **state)
{
    fixture *f = *state;
    store *s = NULL;
    create_store(f);
    insert_person(f->s, 1, NULL, 0);
    ops->close(f->s);
    f->s = NULL;
    assert_int_equal(ops->open(&s, f->db, STORE_OPEN_CREATE | STORE_OPEN_WRITE),
                     SR_ERR_EXISTS);
    ops->close(s);
}

static void open_of_missing_file_is_not_found(void **state)
{
    SQLITE_ONLY();
    fixture *f = *state;
    store *s = NULL;
    assert_int_equal(ops->open(&s, f->db, 0), SR_ERR_NOT_FOUND);
    assert_non_null(s);
    assert_non_null(strstr(ops->errmsg(s), "cannot open"));
    ops->close(s);
}

static void get_returns_only_the_requested_classes(void **state)
{
    fixture *f = *state;
    person_bytes p;
    create_store(f);
    /* Contact and biometric classes empty. */
    unsigned present = SR_CLASS_ALL & ~(SR_CLASS_BIT(SR_CLASS_CONTACT) |
                                        SR_CLASS_BIT(SR_CLASS_BIOMETRIC));
    person_make(&p, 42, 1, present);
    assert_int_equal(ops->insert(f->s, &p.row, NULL, 0), SR_OK);
    for (unsigned mask = 0; mask <= SR_CLASS_ALL; mask++) {
        collected c = {.expect = &p};
        assert_int_equal(ops->get(f->s, p.row.id, mask, collect, &c), SR_OK);
        assert_int_equal(c.n, 1);
        assert_memory_equal(c.ids[0], p.row.id, SR_ID_BYTES);
        assert_int_equal(c.versions[0], 1);
        assert_int_equal(c.present[0], mask & present);
        assert_true(c.match[0]);
    }
    collected c = {0};
    uint8_t other[SR_ID_BYTES] = {0};
    assert_int_equal(ops->get(f->s, other, SR_CLASS_ALL, collect, &c),
                     SR_ERR_NOT_FOUND);
    assert_int_equal(c.n, 0);
    assert_int_equal(ops->get(f->s, p.row.id, SR_CLASS_ALL + 1, collect, &c),
                     SR_ERR_INVALID);
}

static void insert_of_a_taken_id_is_exists_and_keeps_the_first(void **state)
{
    fixture *f = *state;
    person_bytes p, q;
    store_index idx = {INDEX_SSN, 77};
    create_store(f);
    person_make(&p, 5, 1, SR_CLASS_ALL);
    assert_int_equal(ops->insert(f->s, &p.row, NULL, 0), SR_OK);
    person_make(&q, 5, 1, SR_CLASS_BIT(0));
    q.wrapped[0] ^= 1;
    assert_int_equal(ops->insert(f->s, &q.row, &idx, 1), SR_ERR_EXISTS);
    assert_non_null(strstr(ops->errmsg(f->s), "id is taken"));
    collected c = {.expect = &p};
    assert_int_equal(ops->get(f->s, p.row.id, SR_CLASS_ALL, collect, &c),
                     SR_OK);
    assert_true(c.match[0]);
    /* The failed insert left no index row behind. */
    store_stats st;
    assert_int_equal(ops->stats(f->s, &st), SR_OK);
    assert_int_equal(st.index_entries, 0);
}

static void
lookup_returns_exactly_the_people_with_that_index_value(void **state)
{
    fixture *f = *state;
    create_store(f);
    /* People 1..6: SSN values 100,100,100,200,200,300; name values too. */
    const uint64_t ssn[] = {100, 100, 100, 200, 200, 300};
    for (uint32_t n = 1; n <= 6; n++) {
        store_index idx[3] = {{INDEX_SSN, ssn[n - 1]},
                              {INDEX_NAME_DOB, 100 + n},
                              {INDEX_NAME_DOB, 100 + n}}; /* duplicate */
        insert_person(f->s, n, idx, 3);
    }
    collected c = {0};
    assert_int_equal(
        ops->lookup(f->s, INDEX_SSN, 100, SR_CLASS_BIT(0), collect, &c), SR_OK);
    assert_int_equal(c.n, 3);
    for (size_t i = 0; i < c.n; i++) {
        assert_int_equal(c.present[i], SR_CLASS_BIT(0));
        bool known = false;
        for (uint32_t n = 1; n <= 3; n++) {
            person_bytes p;
            person_make(&p, n, 1, SR_CLASS_ALL);
            known |= memcmp(c.ids[i], p.row.id, SR_ID_BYTES) == 0;
        }
        assert_true(known);
    }
    memset(&c, 0, sizeof c);
    assert_int_equal(
        ops->lookup(f->s, INDEX_SSN, 300, SR_CLASS_ALL, collect, &c), SR_OK);
    assert_int_equal(c.n, 1);
    /* Same value under the other kind is another index. */
    memset(&c, 0, sizeof c);
    assert_int_equal(
        ops->lookup(f->s, INDEX_NAME_DOB, 100, SR_CLASS_ALL, collect, &c),
        SR_OK);
    assert_int_equal(c.n, 0);
    memset(&c, 0, sizeof c);
    assert_int_equal(
        ops->lookup(f->s, INDEX_NAME_DOB, 104, SR_CLASS_ALL, collect, &c),
        SR_OK);
    assert_int_equal(c.n, 1);
    /* An absent value is an empty result, not an error. */
    memset(&c, 0, sizeof c);
    assert_int_equal(
        ops->lookup(f->s, INDEX_SSN, 999, SR_CLASS_ALL, collect, &c), SR_OK);
    assert_int_equal(c.n, 0);
    store_stats st;
    assert_int_equal(ops->stats(f->s, &st), SR_OK);
    assert_int_equal(st.index_entries, 12); /* the duplicate collapsed */
}

static sr_status stop_after_one(void *ctx, const store_row *row)
{
    (void)row;
    (*(unsigned *)ctx)++;
    return SR_ERR_CONFLICT;
}

static void callback_status_stops_the_walk_and_is_returned(void **state)
{
    fixture *f = *state;
    unsigned calls = 0;
    create_store(f);
    for (uint32_t n = 1; n <= 3; n++) {
        store_index idx = {INDEX_SSN, 5};
        insert_person(f->s, n, &idx, 1);
    }
    assert_int_equal(ops->lookup(f->s, INDEX_SSN, 5, 0, stop_after_one, &calls),
                     SR_ERR_CONFLICT);
    assert_int_equal(calls, 1);
    calls = 0;
    assert_int_equal(ops->scan(f->s, 0, stop_after_one, &calls),
                     SR_ERR_CONFLICT);
    assert_int_equal(calls, 1);
}

static void replace_needs_the_previous_version(void **state)
{
    fixture *f = *state;
    person_bytes p, v2, stale, ghost;
    store_index old_idx = {INDEX_SSN, 11}, new_idx = {INDEX_SSN, 22};
    create_store(f);
    person_make(&p, 9, 1, SR_CLASS_ALL);
    assert_int_equal(ops->insert(f->s, &p.row, &old_idx, 1), SR_OK);

    person_make(&v2, 9, 2, SR_CLASS_BIT(1));
    assert_int_equal(ops->replace(f->s, &v2.row, &old_idx, 1, &new_idx, 1),
                     SR_OK);
    collected c = {.expect = &v2};
    assert_int_equal(ops->get(f->s, p.row.id, SR_CLASS_ALL, collect, &c),
                     SR_OK);
    assert_int_equal(c.versions[0], 2);
    assert_int_equal(c.present[0], SR_CLASS_BIT(1)); /* emptied classes */
    assert_true(c.match[0]);
    /* Index rows moved with the record. */
    memset(&c, 0, sizeof c);
    assert_int_equal(ops->lookup(f->s, INDEX_SSN, 11, 0, collect, &c), SR_OK);
    assert_int_equal(c.n, 0);
    assert_int_equal(ops->lookup(f->s, INDEX_SSN, 22, 0, collect, &c), SR_OK);
    assert_int_equal(c.n, 1);

    /* A writer that read version 1 loses: version 2 would repeat. */
    person_make(&stale, 9, 2, SR_CLASS_ALL);
    assert_int_equal(ops->replace(f->s, &stale.row, &new_idx, 1, &old_idx, 1),
                     SR_ERR_CONFLICT);
    /* Jumping ahead is a conflict too. */
    person_make(&stale, 9, 5, SR_CLASS_ALL);
    assert_int_equal(ops->replace(f->s, &stale.row, &new_idx, 1, &old_idx, 1),
                     SR_ERR_CONFLICT);
    person_make(&ghost, 12345, 2, SR_CLASS_ALL);
    assert_int_equal(ops->replace(f->s, &ghost.row, NULL, 0, NULL, 0),
                     SR_ERR_NOT_FOUND);
    /* The failures changed nothing. */
    memset(&c, 0, sizeof c);
    c.expect = &v2;
    assert_int_equal(ops->get(f->s, p.row.id, SR_CLASS_ALL, collect, &c),
                     SR_OK);
    assert_true(c.match[0]);
    store_stats st;
    assert_int_equal(ops->stats(f->s, &st), SR_OK);
    assert_int_equal(st.index_entries, 1);
}

static void replace_keeps_the_index_rows_old_and_new_share(void **state)
{
    /* An update that keeps the name but changes the SSN: the name row is
     * in both the old and the new set, and must survive. Then one inside
     * a transaction, after a refused replace: the transaction goes on. */
    fixture *f = *state;
    person_bytes p, v2, v3, stale;
    store_index v1_idx[2] = {{INDEX_SSN, 11}, {INDEX_NAME_DOB, 5}};
    store_index v2_idx[2] = {{INDEX_SSN, 12}, {INDEX_NAME_DOB, 5}};
    store_index v3_idx[3] = {
        {INDEX_SSN, 12}, {INDEX_NAME_DOB, 5}, {INDEX_NAME_DOB, 6}};
    create_store(f);
    person_make(&p, 3, 1, SR_CLASS_ALL);
    assert_int_equal(ops->insert(f->s, &p.row, v1_idx, 2), SR_OK);
    person_make(&v2, 3, 2, SR_CLASS_ALL);
    assert_int_equal(ops->replace(f->s, &v2.row, v1_idx, 2, v2_idx, 2), SR_OK);
    collected c = {0};
    assert_int_equal(ops->lookup(f->s, INDEX_NAME_DOB, 5, 0, collect, &c),
                     SR_OK);
    assert_int_equal(c.n, 1);
    memset(&c, 0, sizeof c);
    assert_int_equal(ops->lookup(f->s, INDEX_SSN, 11, 0, collect, &c), SR_OK);
    assert_int_equal(c.n, 0);
    assert_int_equal(ops->begin(f->s), SR_OK);
    person_make(&stale, 3, 2, SR_CLASS_ALL);
    assert_int_equal(ops->replace(f->s, &stale.row, v1_idx, 2, v3_idx, 3),
                     SR_ERR_CONFLICT);
    person_make(&v3, 3, 3, SR_CLASS_ALL);
    assert_int_equal(ops->replace(f->s, &v3.row, v2_idx, 2, v3_idx, 3), SR_OK);
    assert_int_equal(ops->commit(f->s), SR_OK);
    store_stats st;
    assert_int_equal(ops->stats(f->s, &st), SR_OK);
    assert_int_equal(st.index_entries, 3);
    memset(&c, 0, sizeof c);
    assert_int_equal(ops->lookup(f->s, INDEX_NAME_DOB, 6, 0, collect, &c),
                     SR_OK);
    assert_int_equal(c.n, 1);
}

static void scan_walks_people_in_storage_order(void **state)
{
    fixture *f = *state;
    const uint32_t order[] = {30, 4, 17, 9, 1};
    /* SQLite appends a replaced person at the end (store.h: a row that
     * grew in place would split a page in the middle of the table);
     * PostgreSQL's seq stays. */
    const uint32_t moved[] = {30, 17, 9, 1, 4};
    const uint32_t *want = ops == &store_sqlite_ops ? moved : order;
    create_store(f);
    for (size_t i = 0; i < 5; i++)
        insert_person(f->s, order[i], NULL, 0);
    person_bytes p;
    person_make(&p, 4, 2, SR_CLASS_ALL);
    assert_int_equal(ops->replace(f->s, &p.row, NULL, 0, NULL, 0), SR_OK);
    collected c = {0};
    assert_int_equal(ops->scan(f->s, SR_CLASS_BIT(5), collect, &c), SR_OK);
    assert_int_equal(c.n, 5);
    for (size_t i = 0; i < 5; i++) {
        person_make(&p, want[i], 1, SR_CLASS_ALL);
        assert_memory_equal(c.ids[i], p.row.id, SR_ID_BYTES);
        assert_int_equal(c.present[i], SR_CLASS_BIT(5));
    }
}

/* Compaction's cluster function: n % 3 + 1 for person n (its wrapped
 * key's bytes are n), counting the rows that came with other classes
 * than class 2 alone; fails on person fail_at. */
typedef struct clustering {
    unsigned wrong_classes;
    uint32_t fail_at;
} clustering;

static sr_status cluster_by_n(void *ctx, const store_row *row, uint16_t *c)
{
    clustering *k = ctx;
    uint32_t n = row->wrapped[0];
    for (unsigned i = 0; i < SR_CLASS_COUNT; i++)
        if ((row->cls[i] != NULL) != (i == 2))
            k->wrong_classes++;
    if (n == k->fail_at)
        return SR_ERR_AUTH;
    *c = (uint16_t)(n % 3 + 1);
    return SR_OK;
}

static void expect_people(const collected *c, const uint32_t *want, size_t n)
{
    assert_int_equal(c->n, n);
    for (size_t i = 0; i < n; i++) {
        person_bytes p;
        person_make(&p, want[i], 1, SR_CLASS_ALL);
        assert_memory_equal(c->ids[i], p.row.id, SR_ID_BYTES);
    }
}

static void compaction_groups_people_by_cluster_and_keeps_them_all(void **st)
{
    SQLITE_ONLY();
    fixture *f = *st;
    create_store(f);
    for (uint32_t n = 1; n <= 12; n++) {
        store_index idx = {INDEX_SSN, n};
        insert_person(f->s, n, &idx, 1);
    }
    /* A failing cluster function: nothing changes. */
    clustering k = {0, 7};
    assert_int_equal(
        ops->compact(f->s, SR_CLASS_BIT(2), cluster_by_n, &k, NULL),
        SR_ERR_AUTH);
    collected c = {0};
    assert_int_equal(ops->scan(f->s, 0, collect, &c), SR_OK);
    const uint32_t inserted[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    expect_people(&c, inserted, 12);

    k.fail_at = 0;
    assert_int_equal(
        ops->compact(f->s, SR_CLASS_BIT(2), cluster_by_n, &k, NULL), SR_OK);
    assert_int_equal(k.wrong_classes, 0);
    /* Cluster by cluster, each in the order its people came. */
    memset(&c, 0, sizeof c);
    assert_int_equal(ops->scan(f->s, 0, collect, &c), SR_OK);
    const uint32_t grouped[] = {3, 6, 9, 12, 1, 4, 7, 10, 2, 5, 8, 11};
    expect_people(&c, grouped, 12);
    uint16_t two = 2;
    memset(&c, 0, sizeof c);
    assert_int_equal(ops->scan_clusters(f->s, &two, 1, 0, collect, &c), SR_OK);
    expect_people(&c, (const uint32_t[]){1, 4, 7, 10}, 4);
    /* Every byte and index row there. */
    for (uint32_t n = 1; n <= 12; n++) {
        person_bytes p;
        person_make(&p, n, 1, SR_CLASS_ALL);
        collected one = {.expect = &p};
        assert_int_equal(
            ops->lookup(f->s, INDEX_SSN, n, SR_CLASS_ALL, collect, &one),
            SR_OK);
        assert_int_equal(one.n, 1);
        assert_true(one.match[0]);
    }
    store_stats sst;
    assert_int_equal(ops->stats(f->s, &sst), SR_OK);
    assert_int_equal(sst.people, 12);
    assert_int_equal(sst.index_entries, 12);

    /* Written since: in no cluster, at the end. */
    insert_person(f->s, 13, NULL, 0);
    person_bytes v2;
    person_make(&v2, 4, 2, SR_CLASS_ALL);
    store_index idx4 = {INDEX_SSN, 4};
    assert_int_equal(ops->replace(f->s, &v2.row, &idx4, 1, &idx4, 1), SR_OK);
    uint16_t none = 0;
    memset(&c, 0, sizeof c);
    assert_int_equal(ops->scan_clusters(f->s, &none, 1, 0, collect, &c), SR_OK);
    expect_people(&c, (const uint32_t[]){13, 4}, 2);
    memset(&c, 0, sizeof c);
    assert_int_equal(ops->scan_clusters(f->s, &two, 1, 0, collect, &c), SR_OK);
    expect_people(&c, (const uint32_t[]){1, 7, 10}, 3);
    /* The handle goes on writing to the new file, which reopens. */
    reopen(f, STORE_OPEN_WRITE);
    memset(&c, 0, sizeof c);
    assert_int_equal(ops->scan(f->s, 0, collect, &c), SR_OK);
    assert_int_equal(c.n, 13);
    char left[600];
    (void)snprintf(left, sizeof left, "%s-compact", f->db);
    assert_int_equal(access(left, F_OK), -1);
}

/* A scan callback that reads the person it is given again, through the
 * same handle, and counts people in order. */
typedef struct rescan {
    store *s;
    uint32_t n;
    uint32_t ok;
} rescan;

static sr_status count_match(void *ctx, const store_row *row)
{
    (*(uint32_t *)ctx) += row->version == 1;
    return SR_OK;
}

static sr_status read_again(void *ctx, const store_row *row)
{
    rescan *r = ctx;
    person_bytes p;
    person_make(&p, ++r->n, 1, SR_CLASS_ALL);
    if (memcmp(p.row.id, row->id, SR_ID_BYTES) != 0)
        return SR_ERR_INTERNAL; /* out of order */
    uint8_t id[SR_ID_BYTES];
    memcpy(id, row->id, SR_ID_BYTES); /* row is valid only in this call */
    return ops->get(r->s, id, SR_CLASS_BIT(0), count_match, &r->ok);
}

static void scan_callbacks_may_use_the_store_past_one_page(void **state)
{
    /* An export reads more than the row it is given; PostgreSQL reads a
     * scan in pages of 512, and one connection runs one query at a time. */
    fixture *f = *state;
    const uint32_t people = 1100;
    create_store(f);
    assert_int_equal(ops->begin(f->s), SR_OK);
    for (uint32_t n = 1; n <= people; n++)
        insert_person(f->s, n, NULL, 0);
    assert_int_equal(ops->commit(f->s), SR_OK);
    rescan r = {f->s, 0, 0};
    assert_int_equal(ops->scan(f->s, SR_CLASS_BIT(0), read_again, &r), SR_OK);
    assert_int_equal(r.n, people);
    assert_int_equal(r.ok, people);
}

static void meta_values_round_trip_and_overwrite(void **state)
{
    fixture *f = *state;
    uint8_t buf[16];
    size_t n = 99;
    create_store(f);
    assert_int_equal(ops->meta_get(f->s, "index_bits", buf, sizeof buf, &n),
                     SR_ERR_NOT_FOUND);
    assert_int_equal(
        ops->meta_put(f->s, "index_bits", (const uint8_t *)"\x16", 1), SR_OK);
    assert_int_equal(ops->meta_put(f->s, "vault_id",
                                   (const uint8_t *)"0123456789abcdef", 16),
                     SR_OK);
    assert_int_equal(
        ops->meta_put(f->s, "index_bits", (const uint8_t *)"\x17", 1), SR_OK);
    assert_int_equal(ops->meta_put(f->s, "empty", NULL, 0), SR_OK);
    reopen(f, 0);
    assert_int_equal(ops->meta_get(f->s, "index_bits", buf, sizeof buf, &n),
                     SR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(buf[0], 0x17);
    assert_int_equal(ops->meta_get(f->s, "vault_id", buf, sizeof buf, &n),
                     SR_OK);
    assert_int_equal(n, 16);
    assert_memory_equal(buf, "0123456789abcdef", 16);
    assert_int_equal(ops->meta_get(f->s, "vault_id", buf, 8, &n),
                     SR_ERR_INVALID);
    assert_int_equal(n, 16);
    assert_int_equal(ops->meta_get(f->s, "empty", buf, sizeof buf, &n), SR_OK);
    assert_int_equal(n, 0);
    static uint8_t big[4097];
    reopen(f, STORE_OPEN_WRITE);
    assert_int_equal(ops->meta_put(f->s, "big", big, sizeof big),
                     SR_ERR_INVALID);
    assert_int_equal(ops->meta_put(f->s, "big", big, sizeof big - 1), SR_OK);
}

static void rollback_leaves_nothing_behind(void **state)
{
    fixture *f = *state;
    store_stats st;
    create_store(f);
    insert_person(f->s, 1, NULL, 0);
    assert_int_equal(ops->begin(f->s), SR_OK);
    for (uint32_t n = 2; n <= 10; n++) {
        store_index idx = {INDEX_SSN, n};
        insert_person(f->s, n, &idx, 1);
    }
    assert_int_equal(ops->meta_put(f->s, "k", (const uint8_t *)"v", 1), SR_OK);
    assert_int_equal(ops->rollback(f->s), SR_OK);
    reopen(f, 0);
    assert_int_equal(ops->stats(f->s, &st), SR_OK);
    assert_int_equal(st.people, 1);
    assert_int_equal(st.index_entries, 0);
    uint8_t b[4];
    size_t n;
    assert_int_equal(ops->meta_get(f->s, "k", b, sizeof b, &n),
                     SR_ERR_NOT_FOUND);
    /* A committed transaction is kept. */
    reopen(f, STORE_OPEN_WRITE);
    assert_int_equal(ops->begin(f->s), SR_OK);
    insert_person(f->s, 2, NULL, 0);
    assert_int_equal(ops->commit(f->s), SR_OK);
    reopen(f, 0);
    assert_int_equal(ops->stats(f->s, &st), SR_OK);
    assert_int_equal(st.people, 2);
    /* Rollback without a transaction is harmless. */
    assert_int_equal(ops->rollback(f->s), SR_OK);
}

/* The number of people with index row (kind, value). */
static size_t count_of(store *s, uint8_t kind, uint64_t value)
{
    collected c = {0};
    assert_int_equal(ops->lookup(s, kind, value, 0, collect, &c), SR_OK);
    return c.n;
}

static void remove_takes_people_with_their_index_rows_all_or_none(void **state)
{
    fixture *f = *state;
    store_stats st;
    person_bytes p[6];
    store_index idx[6][2];
    store_removal rm[6];
    create_store(f);
    /* Five people, each with an SSN row of their own and one name+DOB row
     * they all share; a sixth that is never stored. */
    for (uint32_t n = 1; n <= 6; n++) {
        person_make(&p[n - 1], n, 1, SR_CLASS_ALL);
        idx[n - 1][0] = (store_index){INDEX_SSN, 100 + n};
        idx[n - 1][1] = (store_index){INDEX_NAME_DOB, 200};
        rm[n - 1] = (store_removal){p[n - 1].row.id, idx[n - 1], 2};
        if (n <= 5)
            assert_int_equal(ops->insert(f->s, &p[n - 1].row, idx[n - 1], 2),
                             SR_OK);
    }
    assert_int_equal(ops->remove(f->s, NULL, 0), SR_OK);
    /* Outside a transaction, one missing (the sixth): none goes. */
    const store_removal with_missing[3] = {rm[0], rm[5], rm[1]};
    assert_int_equal(ops->remove(f->s, with_missing, 3), SR_ERR_NOT_FOUND);
    assert_non_null(strstr(ops->errmsg(f->s), "deleting"));
    assert_int_equal(count_of(f->s, INDEX_NAME_DOB, 200), 5);
    assert_int_equal(count_of(f->s, INDEX_SSN, 101), 1);
    /* Two at once, with their rows; the others keep theirs. */
    assert_int_equal(ops->remove(f->s, rm, 2), SR_OK);
    assert_int_equal(count_of(f->s, INDEX_SSN, 101), 0);
    assert_int_equal(count_of(f->s, INDEX_SSN, 102), 0);
    assert_int_equal(count_of(f->s, INDEX_SSN, 103), 1);
    assert_int_equal(count_of(f->s, INDEX_NAME_DOB, 200), 3);
    collected c = {0};
    assert_int_equal(ops->get(f->s, p[0].row.id, SR_CLASS_ALL, collect, &c),
                     SR_ERR_NOT_FOUND);
    assert_int_equal(ops->stats(f->s, &st), SR_OK);
    assert_int_equal(st.people, 3);
    assert_int_equal(st.index_entries, 6);
    /* Removed already: not found, and nothing else goes with it. */
    assert_int_equal(ops->remove(f->s, rm + 1, 2), SR_ERR_NOT_FOUND);
    assert_int_equal(count_of(f->s, INDEX_SSN, 103), 1);
    /* Inside a transaction a failure leaves it to the caller's rollback,
     * which brings back what the call before it removed. */
    assert_int_equal(ops->begin(f->s), SR_OK);
    assert_int_equal(ops->remove(f->s, rm + 2, 1), SR_OK);
    const store_removal fourth_and_missing[2] = {rm[3], rm[5]};
    assert_int_equal(ops->remove(f->s, fourth_and_missing, 2),
                     SR_ERR_NOT_FOUND);
    assert_int_equal(ops->rollback(f->s), SR_OK);
    assert_int_equal(count_of(f->s, INDEX_NAME_DOB, 200), 3);
    /* And a committed one keeps them gone. */
    assert_int_equal(ops->begin(f->s), SR_OK);
    assert_int_equal(ops->remove(f->s, rm + 2, 2), SR_OK);
    assert_int_equal(ops->commit(f->s), SR_OK);
    reopen(f, 0);
    assert_int_equal(ops->stats(f->s, &st), SR_OK);
    assert_int_equal(st.people, 1);
    assert_int_equal(st.index_entries, 2);
    assert_int_equal(count_of(f->s, INDEX_SSN, 105), 1);
}

/* What the copy tests put in a store: more people than one batch of the
 * copy (STORE_SINK_BATCH), each with two index rows, a meta value and
 * two documents. */
#define COPY_PEOPLE 600u
#define COPY_SSN(n) (1000u + (n) % 97u)

static void stock_for_copy(const store_ops *o, store *s)
{
    assert_int_equal(o->begin(s), SR_OK);
    for (uint32_t n = 1; n <= COPY_PEOPLE; n++) {
        person_bytes p;
        person_make(&p, n, 1, SR_CLASS_ALL);
        store_index idx[2] = {{INDEX_SSN, COPY_SSN(n)},
                              {INDEX_NAME_DOB, 5000 + n}};
        sr_status st = o->insert(s, &p.row, idx, 2);
        if (st != SR_OK)
            fail_msg("insert %u: %s: %s", n, sr_status_str(st), o->errmsg(s));
    }
    assert_int_equal(o->commit(s), SR_OK);
    assert_int_equal(
        o->meta_put(s, "vault_id", (const uint8_t *)"0123456789abcdef", 16),
        SR_OK);
    assert_int_equal(
        o->doc_put(s, "principal", "ann", (const uint8_t *)"{\"a\":1}", 7),
        SR_OK);
    assert_int_equal(o->doc_put(s, "case", "c-1", (const uint8_t *)"{}", 2),
                     SR_OK);
}

/* Everything stock_for_copy wrote is in b; keyless: without the keys,
 * which set_key then puts back as a restore does (a second time is
 * refused). */
static void check_copied(const store_ops *o, store *b, bool keyless)
{
    store_stats stats;
    assert_int_equal(o->stats(b, &stats), SR_OK);
    assert_int_equal(stats.people, COPY_PEOPLE);
    assert_int_equal(stats.index_entries, 2 * COPY_PEOPLE);
    for (uint32_t n = 1; n <= COPY_PEOPLE; n++) {
        person_bytes want;
        person_make(&want, n, 1, SR_CLASS_ALL);
        if (keyless) {
            assert_int_equal(o->set_key(b, want.row.id, want.row.kek_version,
                                        want.wrapped, sizeof want.wrapped),
                             SR_OK);
            assert_int_equal(o->set_key(b, want.row.id, want.row.kek_version,
                                        want.wrapped, sizeof want.wrapped),
                             SR_ERR_EXISTS);
        }
        collected c = {0};
        c.expect = &want;
        assert_int_equal(
            o->lookup(b, INDEX_NAME_DOB, 5000 + n, SR_CLASS_ALL, collect, &c),
            SR_OK);
        assert_int_equal(c.n, 1);
        assert_true(c.match[0]);
    }
    size_t same = 0;
    for (uint32_t n = 1; n <= COPY_PEOPLE; n++)
        same += COPY_SSN(n) == COPY_SSN(3);
    collected c = {0};
    assert_int_equal(o->lookup(b, INDEX_SSN, COPY_SSN(3), 0, collect, &c),
                     SR_OK);
    assert_int_equal(c.n, same);
    uint8_t buf[16];
    size_t n = 0;
    assert_int_equal(o->meta_get(b, "vault_id", buf, sizeof buf, &n), SR_OK);
    assert_memory_equal(buf, "0123456789abcdef", 16);
    sr_buf doc;
    buf_init(&doc, 1024);
    assert_int_equal(o->doc_get(b, "principal", "ann", &doc), SR_OK);
    assert_int_equal(doc.len, 7);
    assert_int_equal(o->doc_get(b, "case", "c-1", &doc), SR_OK);
    buf_free(&doc);
}

/* The backup (store.h) of either backend is a SQLite store holding
 * every person, index row, document and meta value, and not one key. */
static void backup_copies_everything_but_the_keys(void **state)
{
    fixture *f = *state;
    char path[600];
    create_store(f);
    stock_for_copy(ops, f->s);
    (void)snprintf(path, sizeof path, "%s/backup.db", f->dir);
    sr_status st = ops->backup(f->s, path);
    if (st != SR_OK)
        fail_msg("backup: %s: %s", sr_status_str(st), ops->errmsg(f->s));
    /* A second backup to the same path is refused and leaves the first. */
    assert_int_equal(ops->backup(f->s, path), SR_ERR_EXISTS);
    /* No byte of any key in the file (the keys are runs of one byte). */
    sr_buf raw;
    buf_init(&raw, 64u << 20);
    assert_int_equal(file_read(path, &raw), SR_OK);
    for (uint32_t k = 1; k <= COPY_PEOPLE; k++) {
        person_bytes p;
        person_make(&p, k, 1, SR_CLASS_ALL);
        if (p.wrapped[0] != 0) /* a run of zeros is no key to look for */
            assert_null(memmem(raw.p, raw.len, p.wrapped, sizeof p.wrapped));
    }
    buf_free(&raw);
    store *b = NULL;
    assert_int_equal(store_sqlite_ops.open(&b, path, STORE_OPEN_WRITE), SR_OK);
    check_copied(&store_sqlite_ops, b, true);
    store_sqlite_ops.close(b);
}

/* copy_to moves everything, keys included, into a new store of the other
 * backend (SQLite into SQLite when no PostgreSQL is given): PostgreSQL
 * into a SQLite file, and a SQLite file into a new PostgreSQL database. */
static void count_progress(void *ctx, uint64_t done)
{
    uint64_t *last = ctx;
    assert_true(done > *last); /* it only goes forward */
    *last = done;
}

static void copy_to_moves_everything_into_another_store(void **state)
{
    fixture *f = *state;
    uint64_t last = 0;
    store_progress progress = {count_progress, &last};
    char path[600], conninfo[600];
    store *dst = NULL, *src = NULL;
    create_store(f);
    stock_for_copy(ops, f->s);
    (void)snprintf(path, sizeof path, "%s/copy.db", f->dir);
    assert_int_equal(
        store_sqlite_ops.open(&dst, path, STORE_OPEN_CREATE | STORE_OPEN_WRITE),
        SR_OK);
    sr_status st = ops->copy_to(f->s, &store_sqlite_ops, dst, &progress);
    if (st != SR_OK)
        fail_msg("copy_to: %s: %s", sr_status_str(st), ops->errmsg(f->s));
    check_copied(&store_sqlite_ops, dst, false);
    assert_int_equal(last, COPY_PEOPLE); /* heard to the end */
    if (pg_admin == NULL) {
        store_sqlite_ops.close(dst);
        return;
    }
    /* The SQLite copy into a new PostgreSQL database. */
    char sql[96];
    (void)snprintf(sql, sizeof sql, "CREATE DATABASE %s_b", f->pg_name);
    assert_true(pg_admin_exec(sql));
    (void)snprintf(conninfo, sizeof conninfo, "%s dbname=%s_b", pg_admin,
                   f->pg_name);
    src = dst;
    dst = NULL;
    assert_int_equal(
        store_pg_ops.open(&dst, conninfo, STORE_OPEN_CREATE | STORE_OPEN_WRITE),
        SR_OK);
    st = store_sqlite_ops.copy_to(src, &store_pg_ops, dst, NULL);
    if (st != SR_OK)
        fail_msg("copy_to: %s: %s", sr_status_str(st),
                 store_sqlite_ops.errmsg(src));
    check_copied(&store_pg_ops, dst, false);
    /* Into a store that already holds someone: refused, all of it. */
    st = store_sqlite_ops.copy_to(src, &store_pg_ops, dst, NULL);
    assert_int_equal(st, SR_ERR_EXISTS);
    store_stats stats;
    assert_int_equal(store_pg_ops.stats(dst, &stats), SR_OK);
    assert_int_equal(stats.people, COPY_PEOPLE);
    store_pg_ops.close(dst);
    store_sqlite_ops.close(src);
    (void)snprintf(sql, sizeof sql, "DROP DATABASE %s_b", f->pg_name);
    assert_true(pg_admin_exec(sql));
}

/* A keyless store (a backup's) writes a person without their key, and
 * takes no replacement and no key. */
static void keyless_store_never_writes_a_key(void **state)
{
    fixture *f = *state;
    char path[600];
    store *s = NULL;
    person_bytes p;
    (void)snprintf(path, sizeof path, "%s/keyless.db", f->dir);
    assert_int_equal(
        store_sqlite_ops.open(&s, path, STORE_OPEN_CREATE | STORE_OPEN_KEYLESS),
        SR_OK);
    person_make(&p, 7, 1, SR_CLASS_ALL);
    store_index idx = {INDEX_SSN, 77};
    assert_int_equal(store_sqlite_ops.insert(s, &p.row, &idx, 1), SR_OK);
    person_bytes next;
    person_make(&next, 7, 2, SR_CLASS_ALL);
    assert_int_equal(store_sqlite_ops.replace(s, &next.row, &idx, 1, &idx, 1),
                     SR_ERR_INVALID);
    assert_int_equal(
        store_sqlite_ops.set_key(s, p.row.id, 1, p.wrapped, sizeof p.wrapped),
        SR_ERR_INVALID);
    store_sqlite_ops.close(s);
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT count(*), total(length("
                                        "wrapped)) FROM persons",
                                        -1, &q, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(q, 0), 1);
    assert_int_equal(sqlite3_column_int(q, 1), 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    /* Opened as any store, the key goes back and the person reads. */
    assert_int_equal(store_sqlite_ops.open(&s, path, STORE_OPEN_WRITE), SR_OK);
    assert_int_equal(store_sqlite_ops.set_key(s, p.row.id, p.row.kek_version,
                                              p.wrapped, sizeof p.wrapped),
                     SR_OK);
    collected c = {0};
    c.expect = &p;
    assert_int_equal(
        store_sqlite_ops.get(s, p.row.id, SR_CLASS_ALL, collect, &c), SR_OK);
    assert_int_equal(c.n, 1);
    assert_true(c.match[0]);
    store_sqlite_ops.close(s);
}

static void read_only_store_refuses_writes(void **state)
{
    fixture *f = *state;
    create_store(f);
    reopen(f, 0);
    person_bytes p;
    person_make(&p, 1, 1, SR_CLASS_ALL);
    sr_status st = ops->insert(f->s, &p.row, NULL, 0);
    assert_int_not_equal(st, SR_OK);
    assert_int_equal(st, SR_ERR_IO);
}

static void write_file(const char *path, const void *p, size_t n)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(p, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
}

static void expect_not_vault(const char *path, const char *why)
{
    for (unsigned flags = 0; flags <= STORE_OPEN_WRITE;
         flags += STORE_OPEN_WRITE) {
        store *s = NULL;
        sr_status st = ops->open(&s, path, flags);
        if (st != SR_ERR_NOT_VAULT)
            fail_msg("%s: got %s: %s", why, sr_status_str(st),
                     s ? ops->errmsg(s) : "?");
        assert_non_null(s);
        assert_non_null(strstr(ops->errmsg(s), "not a Strongroom store"));
        ops->close(s);
    }
}

static void non_sqlite_file_is_not_a_vault(void **state)
{
    SQLITE_ONLY();
    fixture *f = *state;
    char path[400];
    (void)snprintf(path, sizeof path, "%s/junk.db", f->dir);
    static const char junk[] = "name,ssn\nJane Roe,123-45-6789\n"
                               "padding padding padding padding padding "
                               "padding padding padding padding padding\n";
    write_file(path, junk, sizeof junk - 1);
    expect_not_vault(path, "text file");
    write_file(path, "", 0);
    expect_not_vault(path, "empty file");
}

static void truncated_store_is_not_a_vault(void **state)
{
    SQLITE_ONLY();
    fixture *f = *state;
    create_store(f);
    for (uint32_t n = 1; n <= 300; n++) {
        store_index idx = {INDEX_SSN, n};
        insert_person(f->s, n, &idx, 1);
    }
    ops->close(f->s); /* checkpoints: the WAL is folded in and removed */
    f->s = NULL;
    struct stat sb;
    assert_int_equal(stat(f->db, &sb), 0);
    assert_true(sb.st_size > 8192);
    /* Cut it in half, and down to a sliver of the header. */
    assert_int_equal(truncate(f->db, sb.st_size / 2), 0);
    expect_not_vault(f->db, "half a file");
    assert_int_equal(truncate(f->db, 60), 0);
    expect_not_vault(f->db, "60 bytes");
}

static void foreign_sqlite_database_is_not_a_vault(void **state)
{
    SQLITE_ONLY();
    fixture *f = *state;
    char path[400];
    sqlite3 *db = NULL;
    (void)snprintf(path, sizeof path, "%s/other.db", f->dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "CREATE TABLE persons(id, ssn);"
                                  "INSERT INTO persons VALUES(1, 'x');",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    expect_not_vault(path, "foreign database");
    /* Even one with our schema but no application id. */
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db, "PRAGMA application_id = 7", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    expect_not_vault(path, "other application id");
}

static void newer_schema_is_a_version_error(void **state)
{
    SQLITE_ONLY();
    fixture *f = *state;
    sqlite3 *db = NULL;
    store *s = NULL;
    create_store(f);
    ops->close(f->s);
    f->s = NULL;
    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(ops->open(&s, f->db, STORE_OPEN_WRITE), SR_ERR_VERSION);
    assert_non_null(strstr(ops->errmsg(s), "newer schema"));
    ops->close(s);
}

static void schema_is_stamped_with_application_id_and_version(void **state)
{
    SQLITE_ONLY();
    fixture *f = *state;
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    create_store(f);
    ops->close(f->s);
    f->s = NULL;
    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT (SELECT application_id FROM "
                                        "pragma_application_id), (SELECT "
                                        "user_version FROM "
                                        "pragma_user_version), (SELECT "
                                        "journal_mode FROM "
                                        "pragma_journal_mode)",
                                        -1, &q, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int64(q, 0), 0x53526d31);
    assert_int_equal(sqlite3_column_int64(q, 1), STORE_SCHEMA_VERSION);
    assert_string_equal((const char *)sqlite3_column_text(q, 2), "wal");
    sqlite3_finalize(q);
    sqlite3_close(db);
}

static void stats_count_people_index_rows_and_ciphertext(void **state)
{
    fixture *f = *state;
    store_stats st;
    uint64_t ct = 0;
    create_store(f);
    for (uint32_t n = 1; n <= 5; n++) {
        store_index idx[2] = {{INDEX_SSN, n}, {INDEX_NAME_DOB, n}};
        insert_person(f->s, n, idx, 2);
        person_bytes p;
        person_make(&p, n, 1, SR_CLASS_ALL);
        ct += p.row.wrapped_len;
        for (unsigned c = 0; c < SR_CLASS_COUNT; c++)
            ct += p.row.cls_len[c];
    }
    assert_int_equal(ops->stats(f->s, &st), SR_OK);
    assert_int_equal(st.people, 5);
    assert_int_equal(st.index_entries, 10);
    assert_int_equal(st.ciphertext_bytes, ct);
    /* kek_version is 1 + n % 2: n = 2, 4 -> 1; n = 1, 3, 5 -> 2. */
    assert_int_equal(st.people_by_kek[0], 2);
    assert_int_equal(st.people_by_kek[1], 3);
    assert_int_equal(st.people_by_kek[2], 0);
    assert_true(st.db_bytes >= 4096);
    /* SQLite, an open writer: its log is live. PostgreSQL's WAL is the
     * server's, not the store's: none is counted. */
    assert_true(pg_admin != NULL ? st.wal_bytes == 0 : st.wal_bytes > 0);
}

/* The brief's disk-full drill: a child process with a file-size limit
 * (SIGXFSZ ignored, so write() fails with EFBIG) keeps inserting until the
 * store says SR_ERR_FULL; afterwards every row committed before is intact. */
static void disk_full_is_reported_and_loses_nothing_committed(void **state)
{
    SQLITE_ONLY();
    fixture *f = *state;
    const uint32_t committed = 50;
    create_store(f);
    for (uint32_t n = 1; n <= committed; n++) {
        store_index idx = {INDEX_SSN, n};
        insert_person(f->s, n, &idx, 1);
    }
    ops->close(f->s);
    f->s = NULL;

    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* Child: only _exit codes, no cmocka. */
        struct stat sb;
        store *s = NULL;
        if (signal(SIGXFSZ, SIG_IGN) == SIG_ERR || stat(f->db, &sb) != 0)
            _exit(10);
        struct rlimit rl = {.rlim_cur = (rlim_t)sb.st_size + 256 * 1024,
                            .rlim_max = RLIM_INFINITY};
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
            _exit(11);
        if (ops->open(&s, f->db, STORE_OPEN_WRITE) != SR_OK)
            _exit(12);
        static uint8_t big[8000];
        memset(big, 0x5a, sizeof big);
        sr_status st = SR_OK;
        for (uint32_t n = committed + 1; n < 100000 && st == SR_OK; n++) {
            person_bytes p;
            person_make(&p, n, 1, SR_CLASS_ALL);
            p.row.cls[SR_CLASS_BIOMETRIC] = big;
            p.row.cls_len[SR_CLASS_BIOMETRIC] = sizeof big;
            store_index idx = {INDEX_SSN, n};
            st = ops->begin(s);
            if (st == SR_OK)
                st = ops->insert(s, &p.row, &idx, 1);
            if (st == SR_OK)
                st = ops->commit(s);
            if (st != SR_OK)
                (void)ops->rollback(s);
        }
        if (st != SR_ERR_FULL)
            fprintf(stderr, "child: %s: %s\n", sr_status_str(st),
                    ops->errmsg(s));
        int code = st == SR_ERR_FULL ? 0 : 20 + (int)st;
        if (st == SR_ERR_FULL &&
            strstr(ops->errmsg(s), "File too large") == NULL &&
            strstr(ops->errmsg(s), "full") == NULL)
            code = 13; /* the message should say why */
        ops->close(s);
        _exit(code);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);

    /* Reopen (recovering the WAL) and read every committed row back. */
    f->s = open_or_fail(f->db, STORE_OPEN_WRITE);
    store_stats st;
    assert_int_equal(ops->stats(f->s, &st), SR_OK);
    assert_true(st.people > committed); /* the child got some in */
    for (uint32_t n = 1; n <= committed; n++) {
        person_bytes p;
        person_make(&p, n, 1, SR_CLASS_ALL);
        collected c = {.expect = &p};
        assert_int_equal(ops->get(f->s, p.row.id, SR_CLASS_ALL, collect, &c),
                         SR_OK);
        assert_true(c.match[0]);
        memset(&c, 0, sizeof c);
        assert_int_equal(ops->lookup(f->s, INDEX_SSN, n, 0, collect, &c),
                         SR_OK);
        assert_int_equal(c.n, 1);
    }
    /* Every person the child committed has its index row: no half rows. */
    assert_int_equal(st.index_entries, st.people);
}

/* Not a correctness test: the cost of one lookup returning one person
 * with two classes, at 20,000 people. */
/* PostgreSQL: run sql on the test's own database. */
static void pg_exec_on(const fixture *f, const char *sql)
{
    PGconn *c = PQconnectdb(f->db);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, sql);
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    PQfinish(c);
}

static void pg_a_database_without_a_store_is_not_a_vault(void **state)
{
    PG_ONLY();
    fixture *f = *state;
    store *s = NULL;
    pg_exec_on(f, "CREATE TABLE people(ssn text)");
    assert_int_equal(ops->open(&s, f->db, STORE_OPEN_WRITE), SR_ERR_NOT_VAULT);
    assert_non_null(strstr(ops->errmsg(s), "no store"));
    ops->close(s);
}

/* A new store, then sql run on its database behind the store's back:
 * opening it for writing now fails with want. */
static void pg_tampered(fixture *f, const char *sql, sr_status want)
{
    store *s = NULL;
    create_store(f);
    ops->close(f->s);
    f->s = NULL;
    pg_exec_on(f, sql);
    assert_int_equal(ops->open(&s, f->db, STORE_OPEN_WRITE), want);
    ops->close(s);
}

static void pg_a_foreign_store_info_is_not_a_vault(void **state)
{
    PG_ONLY();
    pg_tampered(*state, "UPDATE store_info SET application_id = 7",
                SR_ERR_NOT_VAULT);
}

static void pg_newer_schema_is_a_version_error(void **state)
{
    PG_ONLY();
    pg_tampered(*state, "UPDATE store_info SET schema_version = 99",
                SR_ERR_VERSION);
}

static void pg_a_lost_server_is_an_io_error_then_reconnected(void **state)
{
    PG_ONLY();
    fixture *f = *state;
    create_store(f);
    insert_person(f->s, 1, NULL, 0);
    /* Every other connection to the test's database is cut off. */
    char sql[160];
    (void)snprintf(sql, sizeof sql,
                   "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                   "WHERE datname = '%s' AND pid <> pg_backend_pid()",
                   f->pg_name);
    assert_true(pg_admin_exec(sql));
    store_stats st;
    sr_status r = ops->stats(f->s, &st);
    assert_int_equal(r, SR_ERR_IO);
    assert_non_null(strstr(ops->errmsg(f->s), "counting people"));
    assert_non_null(strstr(ops->errmsg(f->s), "connection"));
    /* The next transaction connects again. */
    assert_int_equal(ops->begin(f->s), SR_OK);
    assert_int_equal(ops->stats(f->s, &st), SR_OK);
    assert_int_equal(ops->commit(f->s), SR_OK);
    assert_int_equal(st.people, 1);
}

static sr_status count_row(void *ctx, const store_row *row)
{
    (void)row;
    (*(size_t *)ctx)++;
    return SR_OK;
}

/* A store with bulk operations (PostgreSQL's binary COPY): people
 * inserted at once are stored whole, with their index rows, and found by
 * any of several values, each person once. */
static void
bulk_insert_stores_people_and_lookup_any_finds_each_once(void **state)
{
    fixture *f = *state;
    if (ops->insert_many == NULL || ops->lookup_any == NULL)
        skip();
    enum { N = 300 };
    person_bytes *p = calloc(N, sizeof *p);
    store_row *rows = calloc(N, sizeof *rows);
    store_index(*idx)[3] = calloc(N, sizeof *idx);
    const store_index **pidx = calloc(N, sizeof *pidx);
    size_t *nidx = calloc(N, sizeof *nidx);
    assert_true(p && rows && idx && pidx && nidx);
    for (uint32_t i = 0; i < N; i++) {
        person_make(&p[i], i + 1, 1, i % 2 ? SR_CLASS_ALL : 0x5u);
        rows[i] = p[i].row;
        idx[i][0] = (store_index){INDEX_SSN, i + 1};
        idx[i][1] = (store_index){INDEX_NAME_DOB, (i + 1) / 4};
        idx[i][2] = idx[i][1]; /* a repeated row is kept once */
        pidx[i] = idx[i];
        nidx[i] = 3;
    }
    create_store(f);
    /* Outside a transaction the two steps could come apart: refused. */
    assert_int_not_equal(ops->insert_many(f->s, rows, pidx, nidx, N), SR_OK);
    assert_int_equal(ops->begin(f->s), SR_OK);
    assert_int_equal(ops->insert_many(f->s, rows, pidx, nidx, N), SR_OK);
    assert_int_equal(ops->commit(f->s), SR_OK);

    store_stats st;
    assert_int_equal(ops->stats(f->s, &st), SR_OK);
    assert_int_equal(st.people, N);
    assert_int_equal(st.index_entries, 2 * N);
    /* Whole rows, byte for byte. */
    for (uint32_t i = 0; i < N; i += 37) {
        collected c = {.expect = &p[i]};
        assert_int_equal(ops->get(f->s, p[i].row.id, SR_CLASS_ALL, collect, &c),
                         SR_OK);
        assert_int_equal(c.n, 1);
        assert_true(c.match[0]);
        assert_int_equal(c.present[0], i % 2 ? SR_CLASS_ALL : 0x5u);
    }
    /* 2 twice and 9999 (nobody): 1, 2 and 300, once each. */
    uint64_t values[] = {2, 1, 9999, 2, N};
    collected c = {.n = 0};
    assert_int_equal(ops->lookup_any(f->s, INDEX_SSN, values, 5,
                                     SR_CLASS_BIT(SR_CLASS_IDENTITY), collect,
                                     &c),
                     SR_OK);
    assert_int_equal(c.n, 3);
    unsigned seen = 0;
    for (size_t k = 0; k < c.n; k++) {
        for (unsigned want = 0; want < 3; want++) {
            uint32_t who = want == 0 ? 0 : want == 1 ? 1 : N - 1;
            if (memcmp(c.ids[k], p[who].row.id, SR_ID_BYTES) == 0)
                seen |= 1u << want;
        }
        /* Only the class asked for is read. */
        assert_int_equal(c.present[k] & ~SR_CLASS_BIT(SR_CLASS_IDENTITY), 0);
    }
    assert_int_equal(seen, 7u);
    /* The second index: (i + 1) / 4 == 1 for people 4..7. */
    size_t rows_found = 0;
    assert_int_equal(
        ops->lookup(f->s, INDEX_NAME_DOB, 1, 0, count_row, &rows_found), SR_OK);
    assert_int_equal(rows_found, 4);

    /* A taken id fails the batch; the caller rolls back and nothing of it
     * stays. */
    person_bytes fresh;
    person_make(&fresh, N + 1, 1, SR_CLASS_ALL);
    store_row two[2] = {fresh.row, p[5].row};
    store_index one = {INDEX_SSN, N + 1};
    const store_index *two_idx[2] = {&one, &one};
    size_t two_n[2] = {1, 1};
    assert_int_equal(ops->begin(f->s), SR_OK);
    assert_int_equal(ops->insert_many(f->s, two, two_idx, two_n, 2),
                     SR_ERR_EXISTS);
    assert_int_equal(ops->rollback(f->s), SR_OK);
    assert_int_equal(ops->stats(f->s, &st), SR_OK);
    assert_int_equal(st.people, N);
    assert_int_equal(st.index_entries, 2 * N);
    free(p);
    free(rows);
    free(idx);
    free(pidx);
    free(nidx);
}

static void lookup_speed(void **state)
{
    fixture *f = *state;
    /* A server round trip per lookup: fewer rounds on PostgreSQL. */
    const uint32_t people = pg_admin != NULL ? 2000 : 20000;
    create_store(f);
    assert_int_equal(ops->begin(f->s), SR_OK);
    for (uint32_t n = 1; n <= people; n++) {
        person_bytes p;
        person_make(&p, n, 1, SR_CLASS_ALL);
        store_index idx[2] = {{INDEX_SSN, n}, {INDEX_NAME_DOB, n / 4}};
        assert_int_equal(ops->insert(f->s, &p.row, idx, 2), SR_OK);
    }
    assert_int_equal(ops->commit(f->s), SR_OK);
    if (getenv("SR_BENCH_WRITER") == NULL)
        reopen(f, 0);
    size_t rows = 0;
    const unsigned rounds = pg_admin != NULL ? 5000 : 100000;
    unsigned mask =
        SR_CLASS_BIT(SR_CLASS_IDENTITY) | SR_CLASS_BIT(SR_CLASS_NAME);
    uint64_t t0 = now_ns();
    for (unsigned i = 0; i < rounds; i++)
        assert_int_equal(ops->lookup(f->s, INDEX_SSN, 1 + (i * 7919u) % people,
                                     mask, count_row, &rows),
                         SR_OK);
    uint64_t t1 = now_ns();
    assert_int_equal(rows, rounds);
    rows = 0;
    uint64_t t2 = now_ns();
    for (unsigned i = 0; i < rounds; i++)
        assert_int_equal(ops->lookup(f->s, INDEX_NAME_DOB,
                                     (1 + (i * 7919u) % people) / 4, mask,
                                     count_row, &rows),
                         SR_OK);
    uint64_t t3 = now_ns();
    /* The same SSN lookups inside one read transaction: no WAL read lock
     * (two fcntl calls) per lookup. */
    assert_int_equal(ops->begin(f->s), SR_OK);
    uint64_t t4 = now_ns();
    for (unsigned i = 0; i < rounds; i++)
        assert_int_equal(ops->lookup(f->s, INDEX_SSN, 1 + (i * 7919u) % people,
                                     mask, count_row, &rows),
                         SR_OK);
    uint64_t t5 = now_ns();
    assert_int_equal(ops->commit(f->s), SR_OK);
    print_message("lookup (1 match): %.0f ns; lookup (~4 matches): %.0f ns; "
                  "lookup (1 match) in one read transaction: %.0f ns\n",
                  (double)(t1 - t0) / rounds, (double)(t3 - t2) / rounds,
                  (double)(t5 - t4) / rounds);
}

int main(void)
{
    if (sr_init() != SR_OK)
        return 1;
    pg_admin = getenv("SR_TEST_STORE");
    if (pg_admin != NULL && pg_admin[0] == '\0')
        pg_admin = NULL;
    if (pg_admin != NULL)
        ops = &store_pg_ops;
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        T(create_then_reopen_gives_an_empty_store),
        T(create_refuses_an_existing_database),
        T(open_of_missing_file_is_not_found),
        T(get_returns_only_the_requested_classes),
        T(insert_of_a_taken_id_is_exists_and_keeps_the_first),
        T(lookup_returns_exactly_the_people_with_that_index_value),
        T(callback_status_stops_the_walk_and_is_returned),
        T(replace_needs_the_previous_version),
        T(replace_keeps_the_index_rows_old_and_new_share),
        T(scan_walks_people_in_storage_order),
        T(scan_callbacks_may_use_the_store_past_one_page),
        T(compaction_groups_people_by_cluster_and_keeps_them_all),
        T(meta_values_round_trip_and_overwrite),
        T(rollback_leaves_nothing_behind),
        T(remove_takes_people_with_their_index_rows_all_or_none),
        T(read_only_store_refuses_writes),
        T(backup_copies_everything_but_the_keys),
        T(copy_to_moves_everything_into_another_store),
        T(keyless_store_never_writes_a_key),
        T(non_sqlite_file_is_not_a_vault),
        T(truncated_store_is_not_a_vault),
        T(foreign_sqlite_database_is_not_a_vault),
        T(newer_schema_is_a_version_error),
        T(schema_is_stamped_with_application_id_and_version),
        T(stats_count_people_index_rows_and_ciphertext),
        T(disk_full_is_reported_and_loses_nothing_committed),
        T(pg_a_database_without_a_store_is_not_a_vault),
        T(pg_a_foreign_store_info_is_not_a_vault),
        T(pg_newer_schema_is_a_version_error),
        T(pg_a_lost_server_is_an_io_error_then_reconnected),
        T(bulk_insert_stores_people_and_lookup_any_finds_each_once),
        T(lookup_speed),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
