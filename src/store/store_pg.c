/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_pg.c - the PostgreSQL backend of the store interface (libpq).
 *
 * The same contract as store_sqlite.c, and the same rule: the database
 * sees only person ids, versions, wrapped data keys, sealed class
 * envelopes and truncated blind-index values. Every statement is prepared
 * once per connection and run with bound parameters (bytes in binary,
 * numbers as text; results in binary); no SQL text is built from data.
 * Server errors become sr_status in pg_status() and nowhere else, and the
 * message kept is the server's primary message only: its DETAIL can quote
 * key values.
 *
 * Schema version 2 (docs/storage.md), in the connection's search_path:
 *
 *   store_info(application_id integer, schema_version integer)
 *   meta(key text PRIMARY KEY, value bytea)
 *   persons(id bytea PRIMARY KEY,               -- 16 random bytes
 *           seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
 *                                               -- scan order only
 *           version integer, kek_version integer, wrapped bytea,
 *           c0 .. c5 bytea, present integer)
 *   blind_index(kind smallint, value bigint, id bytea,
 *               PRIMARY KEY(kind, value, id))
 *   docs(kind text, key text, value bytea, PRIMARY KEY(kind, key))
 *
 * Index rows name the person by id, not by seq: a person and its index
 * rows then share their distribution key when the tables are sharded by
 * id (docs/scaling.md), and no row depends on a sequence. seq only orders
 * a scan.
 *
 * Transactions: a writer's begin also takes a transaction-scoped advisory
 * lock, so writers of one vault run one at a time as with SQLite (the
 * vault's checks, such as an SSN's uniqueness, read before they write); a
 * reader's begin is REPEATABLE READ READ ONLY, one snapshot across several
 * lookups. Commits are synchronous (synchronous_commit = on). Each insert,
 * replace and remove is one statement (data-modifying CTEs), so a person
 * and its index rows land together or not at all, in one round trip, and
 * an expected refusal (a taken id, a moved version) is a count of 0 rather
 * than an error that would abort the caller's transaction.
 *
 * A scan reads a page of people at a time (by seq), so memory stays
 * bounded and the connection is free between pages for what the
 * callbacks ask of it; a lookup's few candidates and a kind of documents
 * come whole. A connection lost between
 * transactions is re-established at the next statement or begin outside
 * one (its statements prepared again); lost inside one, the error says so and
 * the caller's transaction is gone, as with any failed commit.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "store/store.h"
#include "util/util.h"

/* "SRm1", as SQLite's application_id. */
#define PG_APPLICATION_ID 0x53526d31
/* The advisory lock writers of one database take (any constant). */
#define PG_WRITER_LOCK "7264813315"
#define PG_META_MAX 4096u
#define PG_MSG_MAX 384u
#define PG_MAX_PARAMS 16
#define MASK_COUNT (1u << SR_CLASS_COUNT)
/* People a page of a scan (a whole page is read before its rows are
 * handed on). */
#define PG_SCAN_PAGE 512
#define PG_SCAN_PAGE_TEXT "512"

enum {
    Q_META_GET,
    Q_META_PUT,
    Q_INSERT,
    Q_UPDATE,
    Q_VERSION_OF,
    Q_DELETE,
    Q_STATS,
    Q_BY_KEK,
    Q_DOC_GET,
    Q_DOC_PUT,
    Q_DOC_INSERT,
    Q_DOC_DELETE,
    Q_DOC_SCAN,
    Q_SET_KEY,
    Q_FIXED_COUNT
};

static const char *const fixed_sql[Q_FIXED_COUNT] = {
    [Q_META_GET] = "SELECT value FROM meta WHERE key = $1",
    [Q_META_PUT] = "INSERT INTO meta(key, value) VALUES($1, $2) "
                   "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    /* A person and its index rows in one statement: atomic without a
     * savepoint (a failed statement would abort the caller's whole
     * transaction), one round trip. A taken id inserts nothing and
     * counts 0, without an error. */
    [Q_INSERT] =
        "WITH p AS (INSERT INTO persons(id, version, kek_version, wrapped, "
        "c0, c1, c2, c3, c4, c5, present) VALUES($1, $2, $3, $4, $5, $6, $7, "
        "$8, $9, $10, $11) ON CONFLICT (id) DO NOTHING RETURNING id), "
        "i AS (INSERT INTO blind_index(kind, value, id) SELECT k, v, p.id "
        "FROM p, unnest($12::smallint[], $13::bigint[]) AS t(k, v) "
        "ON CONFLICT DO NOTHING) "
        "SELECT count(*) FROM p",
    /* The old rows named ($13, $14) and the new ($15, $16) are disjoint
     * (index_diff): the parts of one statement share a snapshot, so a
     * row deleted and inserted at once would be lost. */
    [Q_UPDATE] =
        "WITH u AS (UPDATE persons SET version = $2, kek_version = $3, "
        "wrapped = $4, c0 = $5, c1 = $6, c2 = $7, c3 = $8, c4 = $9, "
        "c5 = $10, present = $11 WHERE id = $1 AND version = $12 "
        "RETURNING id), "
        "d AS (DELETE FROM blind_index AS b USING u, "
        "unnest($13::smallint[], $14::bigint[]) AS o(k, v) "
        "WHERE b.kind = o.k AND b.value = o.v AND b.id = u.id), "
        "i AS (INSERT INTO blind_index(kind, value, id) SELECT k, v, u.id "
        "FROM u, unnest($15::smallint[], $16::bigint[]) AS t(k, v) "
        "ON CONFLICT DO NOTHING) "
        "SELECT count(*) FROM u",
    [Q_VERSION_OF] = "SELECT version FROM persons WHERE id = $1",
    /* $1 the people's ids; $2-$4 their index rows, each with its
     * person's id. */
    [Q_DELETE] = "WITH p AS (DELETE FROM persons WHERE id = ANY($1::bytea[]) "
                 "RETURNING id), "
                 "d AS (DELETE FROM blind_index AS b USING "
                 "unnest($2::bytea[], $3::smallint[], $4::bigint[]) "
                 "AS o(id, k, v) "
                 "WHERE b.kind = o.k AND b.value = o.v AND b.id = o.id) "
                 "SELECT count(*) FROM p",
    [Q_STATS] =
        "SELECT (SELECT count(*) FROM persons), "
        "(SELECT count(*) FROM blind_index), "
        "(SELECT coalesce(sum(octet_length(wrapped) + "
        "coalesce(octet_length(c0), 0) + coalesce(octet_length(c1), 0) + "
        "coalesce(octet_length(c2), 0) + coalesce(octet_length(c3), 0) + "
        "coalesce(octet_length(c4), 0) + coalesce(octet_length(c5), 0)), 0)"
        "::bigint FROM persons), "
        "(pg_total_relation_size('persons') + "
        "pg_total_relation_size('blind_index') + "
        "pg_total_relation_size('docs') + pg_total_relation_size('meta'))"
        "::bigint",
    [Q_BY_KEK] = "SELECT kek_version, count(*) FROM persons "
                 "GROUP BY kek_version",
    [Q_DOC_GET] = "SELECT value FROM docs WHERE kind = $1 AND key = $2",
    [Q_DOC_PUT] = "INSERT INTO docs(kind, key, value) VALUES($1, $2, $3) "
                  "ON CONFLICT(kind, key) DO UPDATE SET value = excluded.value",
    [Q_DOC_INSERT] = "INSERT INTO docs(kind, key, value) VALUES($1, $2, $3)",
    [Q_DOC_DELETE] = "DELETE FROM docs WHERE kind = $1 AND key = $2",
    [Q_DOC_SCAN] = "SELECT key, value FROM docs WHERE kind = $1 ORDER BY key",
    [Q_SET_KEY] = "UPDATE persons SET wrapped = $2, kek_version = $3 "
                  "WHERE id = $1 AND octet_length(wrapped) = 0",
};

enum {
    MQ_GET = STORE_Q_GET,
    MQ_LOOKUP = STORE_Q_LOOKUP,
    MQ_SCAN = STORE_Q_SCAN,
    MQ_LOOKUP_ANY = STORE_QUERIES, /* store_masked_sql's LOOKUP, any value */
    MQ_COUNT
};

/* migrations[i] takes the schema from version i to i + 1 (one
 * transaction for all pending ones, with the version row). */
static const char *const migrations[] = {
    /* 0 -> 1 */
    "CREATE TABLE meta(key text PRIMARY KEY, value bytea NOT NULL);"
    "CREATE TABLE persons("
    " id bytea PRIMARY KEY CHECK (octet_length(id) = 16),"
    " seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,"
    " version integer NOT NULL CHECK (version >= 1),"
    " kek_version integer NOT NULL CHECK (kek_version >= 1),"
    " wrapped bytea NOT NULL,"
    " c0 bytea, c1 bytea, c2 bytea, c3 bytea, c4 bytea, c5 bytea,"
    " present integer NOT NULL);"
    "CREATE TABLE blind_index("
    " kind smallint NOT NULL,"
    " value bigint NOT NULL,"
    " id bytea NOT NULL,"
    " PRIMARY KEY(kind, value, id));",
    /* 1 -> 2 */
    "CREATE TABLE docs("
    " kind text NOT NULL,"
    " key text NOT NULL,"
    " value bytea NOT NULL,"
    " PRIMARY KEY(kind, key));",
};
_Static_assert(sizeof migrations / sizeof migrations[0] == STORE_SCHEMA_VERSION,
               "one migration per schema version");

struct store {
    PGconn *c;
    bool writable;
    bool in_txn;
    char msg[PG_MSG_MAX];
    bool fixed_ready[Q_FIXED_COUNT];
    bool masked_ready[MQ_COUNT][MASK_COUNT];
};

/* Parameters of one statement: bytes in binary, numbers as text. */
typedef struct params {
    const char *v[PG_MAX_PARAMS];
    int len[PG_MAX_PARAMS];
    int fmt[PG_MAX_PARAMS];
    char num[PG_MAX_PARAMS][24];
    int n;
} params;

static void p_bytes(params *p, const uint8_t *b, size_t n)
{
    /* NULL is SQL NULL; an empty value needs a pointer all the same. */
    p->v[p->n] = b != NULL ? (n > 0 ? (const char *)b : "") : NULL;
    p->len[p->n] = (int)n;
    p->fmt[p->n] = 1;
    p->n++;
}

static void p_int(params *p, int64_t x)
{
    (void)snprintf(p->num[p->n], sizeof p->num[p->n], "%lld", (long long)x);
    p->v[p->n] = p->num[p->n];
    p->len[p->n] = 0;
    p->fmt[p->n] = 0;
    p->n++;
}

static void p_text(params *p, const char *s)
{
    p->v[p->n] = s;
    p->len[p->n] = 0;
    p->fmt[p->n] = 0;
    p->n++;
}

/* ---- messages and error mapping ------------------------------------------ */

static void set_msg(store *s, const char *what, const char *detail)
{
    if (detail != NULL && detail[0] != '\0')
        (void)snprintf(s->msg, sizeof s->msg, "%s: %s", what, detail);
    else
        (void)snprintf(s->msg, sizeof s->msg, "%s", what);
}

/* libpq's connection messages end with a newline. */
static void set_conn_msg(store *s, const char *what)
{
    char m[PG_MSG_MAX];
    (void)snprintf(m, sizeof m, "%s",
                   s->c != NULL ? PQerrorMessage(s->c) : "out of memory");
    size_t n = strlen(m);
    while (n > 0 && (m[n - 1] == '\n' || m[n - 1] == ' '))
        m[--n] = '\0';
    set_msg(s, what, m);
}

/* The one place server results become Strongroom statuses. The kept
 * message is the server's primary text (never its DETAIL, which can
 * quote a key value). NULL res: the connection's own error. */
static sr_status pg_status(store *s, const PGresult *res, const char *what)
{
    ExecStatusType es = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (es == PGRES_COMMAND_OK || es == PGRES_TUPLES_OK ||
        es == PGRES_SINGLE_TUPLE)
        return SR_OK;
    const char *state =
        res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *primary =
        res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (s->c == NULL || PQstatus(s->c) != CONNECTION_OK || state == NULL) {
        set_conn_msg(s, what);
        if (strstr(s->msg, "out of memory") != NULL)
            return SR_ERR_NOMEM;
        return SR_ERR_IO; /* the server went away, or never answered */
    }
    set_msg(s, what, primary);
    if (strcmp(state, "25006") == 0) /* a write on a read-only handle */
        return SR_ERR_IO;
    if (strcmp(state, "23505") == 0) /* unique_violation */
        return SR_ERR_EXISTS;
    if (strncmp(state, "23", 2) == 0) /* other integrity violations */
        return SR_ERR_INVALID;
    if (strcmp(state, "53100") == 0) /* disk_full */
        return SR_ERR_FULL;
    if (strcmp(state, "53200") == 0) /* out_of_memory */
        return SR_ERR_NOMEM;
    if (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0 ||
        strncmp(state, "58", 2) == 0) /* connection, shutdown, I/O */
        return SR_ERR_IO;
    if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
        strcmp(state, "55P03") == 0) /* serialization, deadlock, lock */
        return SR_ERR_LOCKED;
    if (strcmp(state, "XX001") == 0 || strcmp(state, "XX002") == 0)
        return SR_ERR_CORRUPT;        /* data or index corrupted */
    if (strncmp(state, "22", 2) == 0) /* data exception */
        return SR_ERR_INVALID;
    return SR_ERR_INTERNAL;
}

/* Run fixed text (our own constants) without parameters. */
static sr_status exec_text(store *s, const char *sql, const char *what)
{
    PGresult *res = PQexec(s->c, sql);
    sr_status st = pg_status(s, res, what);
    PQclear(res);
    return st;
}

/* Roll back the transaction a failed step left open, keeping the failed
 * step's message; returns st. */
static sr_status rollback_after(store *s, sr_status st)
{
    char keep[PG_MSG_MAX];
    memcpy(keep, s->msg, sizeof keep);
    (void)exec_text(s, "ROLLBACK", "rolling back");
    memcpy(s->msg, keep, sizeof keep);
    return st;
}

/* ---- statements ---------------------------------------------------------- */

static sr_status prepare(store *s, const char *name, const char *sql,
                         const char *what)
{
    PGresult *res = PQprepare(s->c, name, sql, 0, NULL);
    sr_status st = pg_status(s, res, what);
    PQclear(res);
    return st;
}

static sr_status reconnect(store *s);

/* Before a statement: a connection lost between transactions is made
 * again (inside one, the loss is the statement's error). */
static sr_status usable(store *s)
{
    return s->in_txn ? SR_OK : reconnect(s);
}

static sr_status fixed_name(store *s, unsigned q, char name[16],
                            const char *what)
{
    (void)snprintf(name, 16, "sr_f%u", q);
    sr_status st = usable(s);
    if (st != SR_OK || s->fixed_ready[q])
        return st;
    st = prepare(s, name, fixed_sql[q], what);
    s->fixed_ready[q] = st == SR_OK;
    return st;
}

/* The query of kind q returning the classes in mask (store_masked_sql);
 * a class not asked for is a NULL literal, its envelope never read. */
static sr_status masked_name(store *s, unsigned q, unsigned mask, char name[16],
                             const char *what)
{
    static const store_dialect pg_dialect = {
        {", present FROM persons WHERE id = $1",
         (", p.present FROM blind_index AS b JOIN persons AS p"
          " ON p.id = b.id WHERE b.kind = $1 AND b.value = $2"),
         ", present, seq FROM persons WHERE seq > $1 ORDER BY seq "
         "LIMIT " PG_SCAN_PAGE_TEXT},
        ", NULL::bytea",
    };
    /* lookup_any: the lookup's columns, the person named once however
     * many of the values it has. Each value, then each person, is an
     * index probe of its own (OFFSET 0 keeps the planner from merging the
     * subqueries): on a table just filled, before statistics exist, a
     * join of the whole value list tends to a scan of every person. */
    static const store_dialect pg_any_dialect = {
        {NULL,
         (", p.present FROM (SELECT DISTINCT b.id FROM "
          "unnest($2::bigint[]) AS v(x), LATERAL (SELECT id FROM blind_index "
          "WHERE kind = $1 AND value = v.x OFFSET 0) AS b) AS m, "
          "LATERAL (SELECT * FROM persons WHERE id = m.id OFFSET 0) AS p"),
         NULL},
        ", NULL::bytea",
    };
    char sql[STORE_SQL_MAX];
    (void)snprintf(name, 16, "sr_m%u_%u", q, mask);
    sr_status st = usable(s);
    if (st != SR_OK || s->masked_ready[q][mask])
        return st;
    if (q == MQ_LOOKUP_ANY)
        store_masked_sql(sql, STORE_Q_LOOKUP, mask, &pg_any_dialect);
    else
        store_masked_sql(sql, (store_query)q, mask, &pg_dialect);
    st = prepare(s, name, sql, what);
    s->masked_ready[q][mask] = st == SR_OK;
    return st;
}

/* Run prepared statement `name` with p; the result (caller clears) in
 * *out, or its status. */
static sr_status run(store *s, const char *name, const params *p,
                     const char *what, PGresult **out)
{
    PGresult *res = PQexecPrepared(
        s->c, name, p != NULL ? p->n : 0, p != NULL ? p->v : NULL,
        p != NULL ? p->len : NULL, p != NULL ? p->fmt : NULL, 1);
    sr_status st = pg_status(s, res, what);
    if (st != SR_OK) {
        PQclear(res);
        res = NULL;
    }
    *out = res;
    return st;
}

static sr_status run_fixed(store *s, unsigned q, const params *p,
                           const char *what, PGresult **out)
{
    char name[16];
    *out = NULL;
    sr_status st = fixed_name(s, q, name, what);
    return st == SR_OK ? run(s, name, p, what, out) : st;
}

/* A binary integer column (int2, int4 or int8, network order). */
static bool col_int(const PGresult *res, int row, int col, int64_t *out)
{
    if (PQgetisnull(res, row, col))
        return false;
    const uint8_t *b = (const uint8_t *)PQgetvalue(res, row, col);
    int n = PQgetlength(res, row, col);
    if (n != 2 && n != 4 && n != 8)
        return false;
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | b[i];
    /* Sign-extend the narrower widths. */
    if (n < 8 && (b[0] & 0x80))
        v |= ~(uint64_t)0 << (8 * n);
    *out = (int64_t)v;
    return true;
}

/* Rows changed by a command ("UPDATE 1"). */
static long changed(const PGresult *res)
{
    const char *t = PQcmdTuples((PGresult *)res);
    return t != NULL && t[0] != '\0' ? strtol(t, NULL, 10) : 0;
}

/* ---- rows ---------------------------------------------------------------- */

/* $1..$11 of Q_INSERT / Q_UPDATE. */
static void bind_row(params *p, const store_row *row)
{
    p_bytes(p, row->id, SR_ID_BYTES);
    p_int(p, row->version);
    p_int(p, row->kek_version);
    p_bytes(p, row->wrapped, row->wrapped_len);
    for (int c = 0; c < SR_CLASS_COUNT; c++)
        p_bytes(p, row->cls[c], row->cls_len[c]);
    p_int(p, row->present);
}

/* Row r of res (id, version, kek_version, wrapped, c0..c5, present). */
static sr_status row_read(store *s, const PGresult *res, int r, store_row *row)
{
    int64_t ver = 0, kek = 0, present = -1;
    memset(row, 0, sizeof *row);
    if (PQnfields(res) < 5 + SR_CLASS_COUNT || PQgetisnull(res, r, 0) ||
        PQgetlength(res, r, 0) != SR_ID_BYTES || !col_int(res, r, 1, &ver) ||
        !col_int(res, r, 2, &kek) ||
        !col_int(res, r, 4 + SR_CLASS_COUNT, &present) || ver < 1 ||
        ver > UINT32_MAX || kek < 1 || kek > UINT32_MAX || present < 0 ||
        present > (int64_t)SR_CLASS_ALL || PQgetisnull(res, r, 3)) {
        set_msg(s, "a stored person row is malformed", NULL);
        return SR_ERR_CORRUPT;
    }
    memcpy(row->id, PQgetvalue(res, r, 0), SR_ID_BYTES);
    row->version = (uint32_t)ver;
    row->kek_version = (uint32_t)kek;
    row->present = (unsigned)present;
    row->wrapped = (const uint8_t *)PQgetvalue(res, r, 3);
    row->wrapped_len = (size_t)PQgetlength(res, r, 3);
    for (int c = 0; c < SR_CLASS_COUNT; c++) {
        if (PQgetisnull(res, r, 4 + c))
            continue;
        row->cls[c] = (const uint8_t *)PQgetvalue(res, r, 4 + c);
        row->cls_len[c] = (size_t)PQgetlength(res, r, 4 + c);
        if (row->cls_len[c] == 0) {
            set_msg(s, "a stored class envelope is empty", NULL);
            return SR_ERR_CORRUPT;
        }
    }
    return SR_OK;
}

/* Run a row-returning prepared statement and hand each row of its whole
 * result to each(res, row, ctx). The result is read before any callback
 * runs, so a callback may use the connection itself (an export checks
 * more than the row it is given). Callers keep results small: a lookup's
 * candidates, a kind of documents, a page of a scan. *count gets the
 * rows handed on. */
typedef sr_status (*each_fn)(store *s, const PGresult *res, int row, void *ctx);

static sr_status walk(store *s, const char *name, const params *p,
                      const char *what, each_fn each, void *ctx, int *count)
{
    PGresult *res;
    *count = 0;
    sr_status st = run(s, name, p, what, &res);
    for (int r = 0; st == SR_OK && r < PQntuples(res); r++) {
        st = each(s, res, r, ctx);
        (*count)++;
    }
    PQclear(res);
    return st;
}

typedef struct row_walk {
    store_row_fn fn;
    void *ctx;
    int64_t last_seq; /* a scan: the seq of the last row handed on */
} row_walk;

static sr_status each_row(store *s, const PGresult *res, int r, void *ctx)
{
    row_walk *w = ctx;
    store_row row;
    sr_status st = row_read(s, res, r, &row);
    /* A scan's page has the row's seq after `present`. */
    if (st == SR_OK && PQnfields(res) > 5 + SR_CLASS_COUNT &&
        !col_int(res, r, 5 + SR_CLASS_COUNT, &w->last_seq)) {
        set_msg(s, "a stored person row is malformed", NULL);
        st = SR_ERR_CORRUPT;
    }
    return st == SR_OK ? w->fn(w->ctx, &row) : st;
}

/* ---- opening ------------------------------------------------------------- */

/* Bring the schema to STORE_SCHEMA_VERSION; create makes it from nothing
 * and refuses a database that has one. */
static sr_status migrate(store *s, bool create)
{
    PGresult *res = PQexec(s->c, "SELECT to_regclass('store_info') IS NULL");
    sr_status st = pg_status(s, res, "looking for the schema");
    bool none =
        st == SR_OK && PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    if (st != SR_OK)
        return st;
    int64_t have = 0;
    if (!none) {
        if (create) {
            set_msg(s, "a store already exists there", NULL);
            return SR_ERR_EXISTS;
        }
        res = PQexecParams(s->c,
                           "SELECT application_id, schema_version "
                           "FROM store_info",
                           0, NULL, NULL, NULL, NULL, 1);
        int64_t app = 0;
        st = pg_status(s, res, "reading the schema version");
        if (st == SR_OK &&
            (PQntuples(res) != 1 || !col_int(res, 0, 0, &app) ||
             !col_int(res, 0, 1, &have) || app != PG_APPLICATION_ID)) {
            set_msg(s, "not a Strongroom store",
                    "a database of another application");
            st = SR_ERR_NOT_VAULT;
        }
        PQclear(res);
        if (st != SR_OK)
            return st;
    } else if (!create) {
        set_msg(s, "not a Strongroom store", "the database has no store");
        return SR_ERR_NOT_VAULT;
    }
    if (have > (int64_t)STORE_SCHEMA_VERSION || have < 0) {
        set_msg(s, "the store has a newer schema than this program",
                "upgrade Strongroom");
        return SR_ERR_VERSION;
    }
    if (have == STORE_SCHEMA_VERSION)
        return SR_OK;
    if (!s->writable) {
        set_msg(s, "the store needs a schema upgrade",
                "open it for writing once");
        return SR_ERR_VERSION;
    }
    st = exec_text(s, "BEGIN", "upgrading the schema");
    if (st == SR_OK)
        st = exec_text(s, "SELECT pg_advisory_xact_lock(" PG_WRITER_LOCK ")",
                       "upgrading the schema");
    if (st == SR_OK && none)
        st = exec_text(s,
                       "CREATE TABLE store_info(application_id integer NOT "
                       "NULL, schema_version integer NOT NULL);"
                       "INSERT INTO store_info VALUES(1397910833, 0)",
                       "creating the store");
    for (int64_t v = have; st == SR_OK && v < (int64_t)STORE_SCHEMA_VERSION;
         v++)
        st = exec_text(s, migrations[v], "upgrading the schema");
    if (st == SR_OK) {
        char sql[96];
        (void)snprintf(sql, sizeof sql,
                       "UPDATE store_info SET schema_version = %u",
                       STORE_SCHEMA_VERSION);
        st = exec_text(s, sql, "upgrading the schema");
    }
    if (st == SR_OK)
        return exec_text(s, "COMMIT", "upgrading the schema");
    return rollback_after(s, st);
}
_Static_assert(PG_APPLICATION_ID == 1397910833, "the id in the DDL");

/* Settings every connection runs with. */
static sr_status session_setup(store *s)
{
    return exec_text(s,
                     "SET synchronous_commit = on;"
                     "SET client_min_messages = warning;"
                     "SET default_transaction_isolation = 'read committed'",
                     "setting up the connection");
}

static sr_status pg_open(store **out, const char *location, unsigned flags)
{
    *out = NULL;
    store *s = calloc(1, sizeof *s);
    if (s == NULL)
        return SR_ERR_NOMEM;
    *out = s;
    bool create = (flags & STORE_OPEN_CREATE) != 0;
    s->writable = create || (flags & STORE_OPEN_WRITE) != 0;
    if (location == NULL || location[0] == '\0') {
        set_msg(s, "no PostgreSQL connection string", NULL);
        return SR_ERR_INVALID;
    }
    s->c = PQconnectdb(location);
    if (s->c == NULL || PQstatus(s->c) != CONNECTION_OK) {
        set_conn_msg(s, "cannot connect to PostgreSQL");
        return SR_ERR_IO;
    }
    if (PQserverVersion(s->c) < 150000) {
        set_msg(s, "PostgreSQL 15 or later is needed", NULL);
        return SR_ERR_VERSION;
    }
    sr_status st = session_setup(s);
    if (st == SR_OK && !s->writable)
        st = exec_text(s, "SET default_transaction_read_only = on",
                       "setting up the connection");
    if (st == SR_OK)
        st = migrate(s, create);
    if (st == SR_OK)
        s->msg[0] = '\0';
    return st;
}

static void pg_close(store *s)
{
    if (s == NULL)
        return;
    PQfinish(s->c); /* an open transaction is rolled back by the server */
    free(s);
}

static const char *pg_errmsg(const store *s)
{
    if (s == NULL)
        return "out of memory";
    return s->msg[0] != '\0' ? s->msg : "no error";
}

/* Between transactions: re-establish a lost connection (once). */
static sr_status reconnect(store *s)
{
    if (PQstatus(s->c) == CONNECTION_OK)
        return SR_OK;
    PQreset(s->c);
    if (PQstatus(s->c) != CONNECTION_OK) {
        set_conn_msg(s, "the PostgreSQL server went away and cannot be "
                        "reached again");
        return SR_ERR_IO;
    }
    memset(s->fixed_ready, 0, sizeof s->fixed_ready);
    memset(s->masked_ready, 0, sizeof s->masked_ready);
    sr_status st = session_setup(s);
    if (st == SR_OK && !s->writable)
        st = exec_text(s, "SET default_transaction_read_only = on",
                       "setting up the connection");
    return st;
}

/* ---- meta ---------------------------------------------------------------- */

static sr_status pg_meta_get(store *s, const char *key, uint8_t *buf,
                             size_t cap, size_t *len)
{
    params p = {.n = 0};
    PGresult *res;
    *len = 0;
    p_text(&p, key);
    sr_status st = run_fixed(s, Q_META_GET, &p, "reading a meta value", &res);
    if (st != SR_OK)
        return st;
    if (PQntuples(res) == 0) {
        set_msg(s, "no such meta value", NULL);
        st = SR_ERR_NOT_FOUND;
    } else {
        size_t n = (size_t)PQgetlength(res, 0, 0);
        *len = n;
        if (n > cap) {
            set_msg(s, "a meta value is larger than the buffer", NULL);
            st = SR_ERR_INVALID;
        } else if (n > 0) {
            memcpy(buf, PQgetvalue(res, 0, 0), n);
        }
    }
    PQclear(res);
    return st;
}

static sr_status pg_meta_put(store *s, const char *key, const uint8_t *v,
                             size_t len)
{
    params p = {.n = 0};
    PGresult *res;
    if (len > PG_META_MAX || (v == NULL && len > 0)) {
        set_msg(s, "a meta value is too large", NULL);
        return SR_ERR_INVALID;
    }
    p_text(&p, key);
    p_bytes(&p, len > 0 ? v : (const uint8_t *)"", len);
    sr_status st = run_fixed(s, Q_META_PUT, &p, "writing a meta value", &res);
    PQclear(res);
    return st;
}

/* ---- transactions -------------------------------------------------------- */

static sr_status pg_begin(store *s)
{
    sr_status st = usable(s);
    if (st != SR_OK)
        return st;
    if (s->in_txn) {
        set_msg(s, "starting a transaction", "one is already open");
        return SR_ERR_INTERNAL;
    }
    if (s->writable) {
        st = exec_text(s, "BEGIN", "starting a transaction");
        if (st == SR_OK)
            st =
                exec_text(s, "SELECT pg_advisory_xact_lock(" PG_WRITER_LOCK ")",
                          "waiting for the other writer");
    } else {
        st = exec_text(s, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
                       "starting a transaction");
    }
    if (st != SR_OK)
        return rollback_after(s, st);
    s->in_txn = true;
    return SR_OK;
}

static sr_status pg_commit(store *s)
{
    /* Whatever happens, the transaction is over: a failed COMMIT rolls
     * back. */
    s->in_txn = false;
    return exec_text(s, "COMMIT", "committing");
}

static sr_status pg_rollback(store *s)
{
    if (!s->in_txn)
        return SR_OK;
    s->in_txn = false;
    if (PQstatus(s->c) != CONNECTION_OK)
        return SR_OK; /* the server rolled it back as the link broke */
    return exec_text(s, "ROLLBACK", "rolling back");
}

/* Index rows as two array literals, "{kinds}" and "{values}" (numbers
 * only), leaving out those also in `except` (nex of them). Values are
 * < 2^48: a bigint holds them unchanged. NULL on failure (out of memory). */
static char *index_arrays(const store_index *idx, size_t n,
                          const store_index *except, size_t nex, char **values)
{
    size_t cap = 4 + n * 8, vcap = 4 + n * 24;
    char *k = malloc(cap), *v = malloc(vcap);
    size_t kl = 0, vl = 0;
    if (k == NULL || v == NULL) {
        free(k);
        free(v);
        return NULL;
    }
    k[kl++] = '{';
    v[vl++] = '{';
    for (size_t i = 0; i < n; i++) {
        bool skip = false;
        for (size_t j = 0; j < nex && !skip; j++)
            skip = except[j].kind == idx[i].kind &&
                   except[j].value == idx[i].value;
        if (skip)
            continue;
        int a = snprintf(k + kl, cap - kl, "%s%u", kl > 1 ? "," : "",
                         (unsigned)idx[i].kind);
        int b = snprintf(v + vl, vcap - vl, "%s%llu", vl > 1 ? "," : "",
                         (unsigned long long)idx[i].value);
        if (a < 0 || b < 0 || (size_t)a >= cap - kl || (size_t)b >= vcap - vl) {
            free(k);
            free(v);
            return NULL;
        }
        kl += (size_t)a;
        vl += (size_t)b;
    }
    k[kl++] = '}';
    k[kl] = '\0';
    v[vl++] = '}';
    v[vl] = '\0';
    *values = v;
    return k;
}

/* The count the write statements return: 1 if the person was written. */
static int64_t written(const PGresult *res)
{
    int64_t n = 0;
    return PQntuples(res) == 1 && col_int(res, 0, 0, &n) ? n : -1;
}

static sr_status pg_insert(store *s, const store_row *row,
                           const store_index *idx, size_t nidx)
{
    if (!store_row_valid(row) || (idx == NULL && nidx > 0)) {
        set_msg(s, "insert: malformed row", NULL);
        return SR_ERR_INVALID;
    }
    char *values = NULL, *kinds = index_arrays(idx, nidx, NULL, 0, &values);
    if (kinds == NULL)
        return SR_ERR_NOMEM;
    params p = {.n = 0};
    PGresult *res = NULL;
    bind_row(&p, row);
    p_text(&p, kinds);
    p_text(&p, values);
    sr_status r = run_fixed(s, Q_INSERT, &p, "inserting a person", &res);
    if (r == SR_OK && written(res) != 1) {
        set_msg(s, "inserting a person", "the id is taken");
        r = SR_ERR_EXISTS;
    }
    PQclear(res);
    free(kinds);
    free(values);
    return r;
}

/* ---- binary COPY (bulk import) ------------------------------------------ */

/* COPY ... FROM STDIN (FORMAT binary): a signature and two zero words,
 * then per row a field count and each field as a length (-1: NULL) and
 * its bytes, all numbers in network order; a count of -1 ends the data.
 * Bytes go to the server COPY_CHUNK at a time. */
#define COPY_CHUNK (64u << 10)

typedef struct copy_out {
    store *s;
    uint8_t buf[COPY_CHUNK];
    size_t len;
    bool failed;
} copy_out;

static void cp_flush(copy_out *c)
{
    if (!c->failed && c->len > 0 &&
        PQputCopyData(c->s->c, (const char *)c->buf, (int)c->len) != 1)
        c->failed = true;
    c->len = 0;
}

static void cp_put(copy_out *c, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n > 0) {
        if (c->len == COPY_CHUNK)
            cp_flush(c);
        size_t take = COPY_CHUNK - c->len < n ? COPY_CHUNK - c->len : n;
        memcpy(c->buf + c->len, b, take);
        c->len += take;
        b += take;
        n -= take;
    }
}

static void cp_uint(copy_out *c, uint64_t x, size_t width)
{
    uint8_t b[8];
    for (size_t i = 0; i < width; i++)
        b[i] = (uint8_t)(x >> (8 * (width - 1 - i)));
    cp_put(c, b, width);
}

/* One field: its length, then its bytes; NULL is SQL NULL. */
static void cp_bytes(copy_out *c, const uint8_t *p, size_t n)
{
    if (p == NULL) {
        cp_uint(c, 0xffffffffu, 4);
        return;
    }
    cp_uint(c, n, 4);
    cp_put(c, p, n);
}

static void cp_int(copy_out *c, uint64_t x, size_t width)
{
    cp_uint(c, width, 4);
    cp_uint(c, x, width);
}

typedef struct bulk {
    const store_row *rows;
    const store_index *const *idx;
    const size_t *nidx;
    size_t n;
} bulk;

static void fill_persons(copy_out *c, const bulk *b)
{
    for (size_t i = 0; i < b->n; i++) {
        const store_row *row = &b->rows[i];
        cp_uint(c, 5 + SR_CLASS_COUNT, 2);
        cp_bytes(c, row->id, SR_ID_BYTES);
        cp_int(c, row->version, 4);
        cp_int(c, row->kek_version, 4);
        cp_bytes(c, row->wrapped, row->wrapped_len);
        for (int k = 0; k < SR_CLASS_COUNT; k++)
            cp_bytes(c, row->cls[k], row->cls_len[k]);
        cp_int(c, row->present, 4);
    }
}

static void fill_index(copy_out *c, const bulk *b)
{
    for (size_t i = 0; i < b->n; i++)
        for (size_t j = 0; j < b->nidx[i]; j++) {
            /* A person's rows may repeat (two names alike): one each, as
             * Q_INSERT's ON CONFLICT DO NOTHING keeps. */
            bool seen = false;
            for (size_t k = 0; k < j && !seen; k++)
                seen = b->idx[i][k].kind == b->idx[i][j].kind &&
                       b->idx[i][k].value == b->idx[i][j].value;
            if (seen)
                continue;
            cp_uint(c, 3, 2);
            cp_int(c, b->idx[i][j].kind, 2);
            cp_int(c, b->idx[i][j].value, 8);
            cp_bytes(c, b->rows[i].id, SR_ID_BYTES);
        }
}

/* Run one COPY FROM STDIN (sql, our constant) with the rows fill writes. */
static sr_status copy_in(store *s, const char *sql, const bulk *b,
                         void (*fill)(copy_out *, const bulk *),
                         const char *what)
{
    static const uint8_t signature[11] = {'P',  'G',  'C',  'O',  'P', 'Y',
                                          '\n', 0xff, '\r', '\n', 0};
    PGresult *res = PQexec(s->c, sql);
    if (res == NULL || PQresultStatus(res) != PGRES_COPY_IN) {
        sr_status st = pg_status(s, res, what);
        PQclear(res);
        return st != SR_OK ? st : SR_ERR_INTERNAL;
    }
    PQclear(res);
    copy_out *c = malloc(sizeof *c);
    if (c != NULL) {
        c->s = s;
        c->len = 0;
        c->failed = false;
        cp_put(c, signature, sizeof signature);
        cp_uint(c, 0, 4); /* flags */
        cp_uint(c, 0, 4); /* header extension length */
        fill(c, b);
        cp_uint(c, 0xffff, 2);
        cp_flush(c);
    }
    bool ok = c != NULL && !c->failed;
    free(c);
    /* Ending with an error message makes the server fail the COPY. */
    if (PQputCopyEnd(s->c, ok ? NULL : "the client could not send") != 1) {
        set_conn_msg(s, what);
        return SR_ERR_IO;
    }
    sr_status st = SR_OK;
    while ((res = PQgetResult(s->c)) != NULL) {
        sr_status r = pg_status(s, res, what);
        if (st == SR_OK)
            st = r;
        PQclear(res);
    }
    if (st == SR_OK && !ok)
        st = c == NULL ? SR_ERR_NOMEM : SR_ERR_IO;
    return st;
}

static sr_status pg_insert_many(store *s, const store_row *rows,
                                const store_index *const *idx,
                                const size_t *nidx, size_t n)
{
    if (n == 0)
        return SR_OK;
    if (rows == NULL || idx == NULL || nidx == NULL) {
        set_msg(s, "insert: malformed rows", NULL);
        return SR_ERR_INVALID;
    }
    for (size_t i = 0; i < n; i++)
        if (!store_row_valid(&rows[i]) || (idx[i] == NULL && nidx[i] > 0)) {
            set_msg(s, "insert: malformed row", NULL);
            return SR_ERR_INVALID;
        }
    if (!s->in_txn) {
        /* Two statements: without the caller's transaction, a failure
         * between them would leave people without their index rows. */
        set_msg(s, "inserting people", "not inside a transaction");
        return SR_ERR_INTERNAL;
    }
    bulk b = {rows, idx, nidx, n};
    sr_status st = copy_in(s,
                           "COPY persons(id, version, kek_version, wrapped, "
                           "c0, c1, c2, c3, c4, c5, present) FROM STDIN "
                           "(FORMAT binary)",
                           &b, fill_persons, "inserting people");
    if (st == SR_OK)
        st = copy_in(s,
                     "COPY blind_index(kind, value, id) FROM STDIN "
                     "(FORMAT binary)",
                     &b, fill_index, "inserting index rows");
    return st;
}

/* After an update or delete that matched nothing: why. */
static sr_status why_not(store *s, const uint8_t *id, const char *what,
                         bool version_matters)
{
    params p = {.n = 0};
    PGresult *res;
    p_bytes(&p, id, SR_ID_BYTES);
    sr_status st = run_fixed(s, Q_VERSION_OF, &p, what, &res);
    if (st != SR_OK)
        return st;
    if (PQntuples(res) > 0 && version_matters) {
        set_msg(s, what, "the record changed since it was read");
        st = SR_ERR_CONFLICT;
    } else if (PQntuples(res) > 0) {
        set_msg(s, what, "the person has a key already");
        st = SR_ERR_EXISTS;
    } else {
        set_msg(s, what, "no such person");
        st = SR_ERR_NOT_FOUND;
    }
    PQclear(res);
    return st;
}

static sr_status pg_replace(store *s, const store_row *row,
                            const store_index *old_idx, size_t nold,
                            const store_index *idx, size_t nidx)
{
    if (!store_row_valid(row) || row->version < 2 ||
        (idx == NULL && nidx > 0) || (old_idx == NULL && nold > 0)) {
        set_msg(s, "replace: malformed row", NULL);
        return SR_ERR_INVALID;
    }
    /* Rows in both stay as they are: only the difference is written. */
    char *old_v = NULL, *new_v = NULL;
    char *old_k = index_arrays(old_idx, nold, idx, nidx, &old_v);
    char *new_k =
        old_k != NULL ? index_arrays(idx, nidx, old_idx, nold, &new_v) : NULL;
    sr_status r = new_k != NULL ? SR_OK : SR_ERR_NOMEM;
    params p = {.n = 0};
    PGresult *res = NULL;
    if (r == SR_OK) {
        bind_row(&p, row);
        p_int(&p, (int64_t)row->version - 1);
        p_text(&p, old_k);
        p_text(&p, old_v);
        p_text(&p, new_k);
        p_text(&p, new_v);
    }
    if (r == SR_OK)
        r = run_fixed(s, Q_UPDATE, &p, "replacing a person", &res);
    if (r == SR_OK && written(res) != 1)
        r = why_not(s, row->id, "replacing a person", true);
    PQclear(res);
    free(old_k);
    free(old_v);
    free(new_k);
    free(new_v);
    return r;
}

/* The array literals of Q_DELETE for rm[0..n): ids, then each index
 * row's person id, kind and value. A bytea element is "\\x<hex>": quoted,
 * its backslash escaped for the array parser. */
enum { RM_IDS, RM_OWNERS, RM_KINDS, RM_VALUES, RM_ARRAYS };
#define RM_ELEM_MAX (2 * SR_ID_BYTES + 8)

/* Append sep, then the bytea element of the id spelt hex. */
static sr_status append_id(sr_buf *b, const char *sep, const char *hex)
{
    sr_status st = buf_append_str(b, sep);
    if (st == SR_OK)
        st = buf_append_str(b, "\"\\\\x");
    if (st == SR_OK)
        st = buf_append_str(b, hex);
    return st == SR_OK ? buf_append_byte(b, '"') : st;
}

static sr_status remove_arrays(const store_removal *rm, size_t n,
                               sr_buf a[RM_ARRAYS])
{
    char hex[2 * SR_ID_BYTES + 1], num[32];
    size_t rows = 0;
    sr_status st = SR_OK;
    for (int k = 0; k < RM_ARRAYS && st == SR_OK; k++)
        st = buf_append_byte(&a[k], '{');
    for (size_t i = 0; i < n && st == SR_OK; i++) {
        if (rm[i].id == NULL || (rm[i].idx == NULL && rm[i].nidx > 0))
            return SR_ERR_INVALID;
        hex_encode(hex, rm[i].id, SR_ID_BYTES);
        st = append_id(&a[RM_IDS], i > 0 ? "," : "", hex);
        for (size_t j = 0; j < rm[i].nidx && st == SR_OK; j++, rows++) {
            const char *sep = rows > 0 ? "," : "";
            st = append_id(&a[RM_OWNERS], sep, hex);
            (void)snprintf(num, sizeof num, "%s%u", sep,
                           (unsigned)rm[i].idx[j].kind);
            if (st == SR_OK)
                st = buf_append_str(&a[RM_KINDS], num);
            (void)snprintf(num, sizeof num, "%s%llu", sep,
                           (unsigned long long)rm[i].idx[j].value);
            if (st == SR_OK)
                st = buf_append_str(&a[RM_VALUES], num);
        }
    }
    for (int k = 0; k < RM_ARRAYS && st == SR_OK; k++) {
        st = buf_append_byte(&a[k], '}');
        if (st == SR_OK)
            st = buf_append_byte(&a[k], '\0');
    }
    return st;
}

static sr_status pg_remove(store *s, const store_removal *rm, size_t n)
{
    if (n == 0)
        return SR_OK;
    if (rm == NULL) {
        set_msg(s, "remove: malformed people", NULL);
        return SR_ERR_INVALID;
    }
    /* Each array at most RM_ELEM_MAX bytes an element (a quoted id, or a
     * kind or value with its comma), for each person and index row. */
    size_t rows = 0;
    for (size_t i = 0; i < n; i++)
        rows += rm[i].nidx;
    sr_buf a[RM_ARRAYS];
    for (int k = 0; k < RM_ARRAYS; k++)
        buf_init(&a[k], RM_ELEM_MAX * (n + rows) + 3);
    sr_status st = remove_arrays(rm, n, a);
    if (st != SR_OK)
        set_msg(s,
                st == SR_ERR_INVALID ? "remove: malformed people"
                                     : "deleting people: out of memory",
                NULL);
    /* One statement; outside the caller's transaction, one of its own, so
     * that none goes when one is missing. */
    bool own = !s->in_txn;
    if (st == SR_OK && own)
        st = pg_begin(s);
    if (st == SR_OK) {
        params p = {.n = 0};
        PGresult *res = NULL;
        for (int k = 0; k < RM_ARRAYS; k++)
            p_text(&p, (const char *)a[k].p);
        st = run_fixed(s, Q_DELETE, &p, "deleting people", &res);
        int64_t gone = st == SR_OK ? written(res) : 0;
        if (st == SR_OK && gone != (int64_t)n) {
            char why[80];
            (void)snprintf(
                why, sizeof why, "%llu of %zu missing",
                (unsigned long long)(n - (size_t)(gone > 0 ? gone : 0)), n);
            set_msg(s, "deleting people", why);
            st = SR_ERR_NOT_FOUND;
        }
        PQclear(res);
        if (own && st == SR_OK)
            st = pg_commit(s);
        else if (own) {
            s->in_txn = false;
            st = rollback_after(s, st);
        }
    }
    for (int k = 0; k < RM_ARRAYS; k++)
        buf_free(&a[k]);
    return st;
}

/* PostgreSQL never overwrites a deleted row's bytes in place: VACUUM
 * makes its space reusable and a checkpoint lets the WAL segments that
 * hold it be recycled. That is all a store can ask of it (docs/storage.md
 * says what it means for crypto-shredding). */
static sr_status pg_purge(store *s)
{
    if (s->in_txn) {
        set_msg(s, "emptying the WAL", "not inside a transaction");
        return SR_ERR_INTERNAL;
    }
    sr_status st = reconnect(s);
    if (st == SR_OK)
        st = exec_text(s, "VACUUM persons, blind_index",
                       "vacuuming the people's tables");
    if (st == SR_OK) {
        /* CHECKPOINT needs pg_checkpoint (or a superuser): without it
         * the server's own schedule checkpoints. */
        PGresult *res = PQexec(s->c, "CHECKPOINT");
        const char *state =
            res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
        if (PQresultStatus(res) != PGRES_COMMAND_OK &&
            (state == NULL || strcmp(state, "42501") != 0))
            st = pg_status(s, res, "checkpointing");
        PQclear(res);
    }
    return st;
}

/* ---- backups ------------------------------------------------------------- */

/* copy_to (store.h): everything read in one REPEATABLE READ snapshot (a
 * writer elsewhere goes on), PG_SCAN_PAGE rows at a time through a
 * cursor, into the sink. */

#define COPY_CURSOR "sr_copy"

/* Each row of sql's result to each, a page at a time from a cursor, in
 * binary (inside the caller's transaction). */
static sr_status cursor_walk(store *s, const char *sql, const char *what,
                             each_fn each, void *ctx)
{
    char decl[1024];
    if (snprintf(decl, sizeof decl,
                 "DECLARE " COPY_CURSOR " NO SCROLL CURSOR FOR %s",
                 sql) >= (int)sizeof decl) {
        set_msg(s, what, "the query is too long");
        return SR_ERR_INTERNAL;
    }
    sr_status st = exec_text(s, decl, what);
    int n = PG_SCAN_PAGE;
    while (st == SR_OK && n == PG_SCAN_PAGE) {
        PGresult *res =
            PQexecParams(s->c, "FETCH " PG_SCAN_PAGE_TEXT " FROM " COPY_CURSOR,
                         0, NULL, NULL, NULL, NULL, 1);
        st = pg_status(s, res, what);
        n = st == SR_OK ? PQntuples(res) : 0;
        for (int r = 0; st == SR_OK && r < n; r++)
            st = each(s, res, r, ctx);
        PQclear(res);
    }
    if (st == SR_OK)
        st = exec_text(s, "CLOSE " COPY_CURSOR, what);
    return st;
}

static sr_status copy_meta(store *s, const PGresult *res, int r, void *ctx)
{
    if (PQgetisnull(res, r, 0) || PQgetisnull(res, r, 1)) {
        set_msg(s, "copying a meta value", "a meta value is malformed");
        return SR_ERR_CORRUPT;
    }
    return store_sink_meta(ctx, PQgetvalue(res, r, 0),
                           (const uint8_t *)PQgetvalue(res, r, 1),
                           (size_t)PQgetlength(res, r, 1));
}

static sr_status copy_doc(store *s, const PGresult *res, int r, void *ctx)
{
    if (PQgetisnull(res, r, 0) || PQgetisnull(res, r, 1) ||
        PQgetisnull(res, r, 2)) {
        set_msg(s, "copying a document", "a document is malformed");
        return SR_ERR_CORRUPT;
    }
    return store_sink_doc(ctx, PQgetvalue(res, r, 0), PQgetvalue(res, r, 1),
                          (const uint8_t *)PQgetvalue(res, r, 2),
                          (size_t)PQgetlength(res, r, 2));
}

static sr_status copy_person(store *s, const PGresult *res, int r, void *ctx)
{
    store_row row;
    sr_status st = row_read(s, res, r, &row);
    const int col = 5 + SR_CLASS_COUNT;
    if (st == SR_OK && PQnfields(res) <= col) {
        set_msg(s, "copying people", "an unexpected answer");
        st = SR_ERR_INTERNAL;
    }
    return st == SR_OK
               ? store_sink_person(
                     ctx, &row,
                     PQgetisnull(res, r, col) ? NULL : PQgetvalue(res, r, col))
               : st;
}

/* Everyone with their index rows, in insertion order. */
#define COPY_PERSONS_SQL                                                       \
    "SELECT p.id, p.version, p.kek_version, p.wrapped, p.c0, p.c1, p.c2, "     \
    "p.c3, p.c4, p.c5, p.present, "                                            \
    "string_agg(b.kind::text || ':' || b.value::text, ',') "                   \
    "FROM persons p LEFT JOIN blind_index b ON b.id = p.id "                   \
    "GROUP BY p.id ORDER BY p.seq"

static sr_status pg_copy_to(store *s, const store_ops *dst_ops, store *dst,
                            const store_progress *progress)
{
    if (s->in_txn) {
        set_msg(s, "copying the store", "not inside a transaction");
        return SR_ERR_INTERNAL;
    }
    store_sink *k = malloc(sizeof *k);
    if (k == NULL)
        return SR_ERR_NOMEM;
    sr_status st = reconnect(s);
    if (st == SR_OK)
        st = exec_text(s, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
                       "starting the copy's snapshot");
    if (st != SR_OK) {
        free(k);
        return st;
    }
    s->in_txn = true;
    k->msg[0] = '\0';
    st = store_sink_begin(k, dst_ops, dst, progress);
    if (st == SR_OK)
        st = cursor_walk(s, "SELECT key, value FROM meta ORDER BY key",
                         "copying the meta values", copy_meta, k);
    if (st == SR_OK)
        st = cursor_walk(s,
                         "SELECT kind, key, value FROM docs ORDER BY kind, key",
                         "copying the documents", copy_doc, k);
    if (st == SR_OK)
        st = cursor_walk(s, COPY_PERSONS_SQL, "copying people", copy_person, k);
    st = store_sink_end(k, st);
    if (st != SR_OK && k->msg[0] != '\0')
        set_msg(s, k->msg, NULL);
    (void)pg_rollback(s); /* read only: nothing to keep */
    free(k);
    return st;
}

/* A backup is in the embedded format whatever the live store: a new
 * SQLite file at path, opened keyless (STORE_OPEN_KEYLESS) so not one
 * byte of a wrapped key is written there, filled by copy_to; a restore
 * opens it as any SQLite vault. A failure removes the file. */
static sr_status pg_backup(store *s, const char *path)
{
    char why[STORE_WHY_MAX];
    sr_status st = store_backup_copy(s, &store_pg_ops, path, why);
    if (st != SR_OK && why[0] != '\0')
        set_msg(s, why, NULL);
    return st;
}

static sr_status pg_set_key(store *s, const uint8_t id[SR_ID_BYTES],
                            uint32_t kek_version, const uint8_t *wrapped,
                            size_t len)
{
    params p = {.n = 0};
    PGresult *res;
    p_bytes(&p, id, SR_ID_BYTES);
    p_bytes(&p, wrapped, len);
    p_int(&p, kek_version);
    sr_status st = run_fixed(s, Q_SET_KEY, &p, "restoring a key", &res);
    if (st == SR_OK && changed(res) == 0)
        st = why_not(s, id, "restoring a key", false);
    PQclear(res);
    return st;
}

static sr_status pg_drop_keyless(store *s, uint64_t *removed)
{
    *removed = 0;
    sr_status st = exec_text(s,
                             "DELETE FROM blind_index WHERE id IN (SELECT id "
                             "FROM persons WHERE octet_length(wrapped) = 0)",
                             "removing the people without a key");
    if (st != SR_OK)
        return st;
    PGresult *res =
        PQexec(s->c, "DELETE FROM persons WHERE octet_length(wrapped) = 0");
    st = pg_status(s, res, "removing the people without a key");
    if (st == SR_OK)
        *removed = (uint64_t)changed(res);
    PQclear(res);
    return st;
}

/* ---- reading ------------------------------------------------------------- */

static sr_status check_mask(store *s, unsigned mask)
{
    if (mask & ~(unsigned)SR_CLASS_ALL) {
        set_msg(s, "unknown class in the class mask", NULL);
        return SR_ERR_INVALID;
    }
    return SR_OK;
}

static sr_status pg_get(store *s, const uint8_t id[SR_ID_BYTES],
                        unsigned class_mask, store_row_fn fn, void *ctx)
{
    char name[16];
    sr_status st = check_mask(s, class_mask);
    if (st == SR_OK)
        st = masked_name(s, MQ_GET, class_mask, name, "reading a person");
    if (st != SR_OK)
        return st;
    params p = {.n = 0};
    PGresult *res;
    p_bytes(&p, id, SR_ID_BYTES);
    st = run(s, name, &p, "reading a person", &res);
    if (st != SR_OK)
        return st;
    if (PQntuples(res) == 0) {
        set_msg(s, "no such person", NULL);
        st = SR_ERR_NOT_FOUND;
    } else {
        store_row row;
        st = row_read(s, res, 0, &row);
        if (st == SR_OK)
            st = fn(ctx, &row);
    }
    PQclear(res);
    return st;
}

static sr_status pg_discard(store *s)
{
    if (!s->writable) {
        set_msg(s, "the store was opened read-only", NULL);
        return SR_ERR_INVALID;
    }
    (void)pg_rollback(s); /* a copy that failed may have left one open */
    sr_status st = exec_text(s, "BEGIN", "removing the store");
    if (st == SR_OK)
        st = exec_text(s,
                       "DROP TABLE docs, blind_index, persons, meta, "
                       "store_info",
                       "removing the store");
    if (st == SR_OK)
        return exec_text(s, "COMMIT", "removing the store");
    return rollback_after(s, st);
}

static sr_status pg_lookup(store *s, uint8_t kind, uint64_t value,
                           unsigned class_mask, store_row_fn fn, void *ctx)
{
    char name[16];
    int count;
    sr_status st = check_mask(s, class_mask);
    if (st == SR_OK)
        st = masked_name(s, MQ_LOOKUP, class_mask, name, "searching the index");
    if (st != SR_OK)
        return st;
    params p = {.n = 0};
    p_int(&p, kind);
    p_int(&p, (int64_t)value);
    row_walk w = {fn, ctx, 0};
    return walk(s, name, &p, "searching the index", each_row, &w, &count);
}

static sr_status pg_lookup_any(store *s, uint8_t kind, const uint64_t *values,
                               size_t n, unsigned class_mask, store_row_fn fn,
                               void *ctx)
{
    char name[16];
    int count;
    if (n == 0)
        return SR_OK;
    if (values == NULL) {
        set_msg(s, "searching the index", "no values");
        return SR_ERR_INVALID;
    }
    sr_status st = check_mask(s, class_mask);
    if (st == SR_OK)
        st = masked_name(s, MQ_LOOKUP_ANY, class_mask, name,
                         "searching the index");
    if (st != SR_OK)
        return st;
    store_index *idx = malloc(n * sizeof *idx);
    if (idx == NULL)
        return SR_ERR_NOMEM;
    for (size_t i = 0; i < n; i++)
        idx[i] = (store_index){kind, values[i]};
    char *vals = NULL, *kinds = index_arrays(idx, n, NULL, 0, &vals);
    free(idx);
    if (kinds == NULL)
        return SR_ERR_NOMEM;
    params p = {.n = 0};
    p_int(&p, kind);
    p_text(&p, vals);
    row_walk w = {fn, ctx, 0};
    st = walk(s, name, &p, "searching the index", each_row, &w, &count);
    free(kinds);
    free(vals);
    return st;
}

static sr_status pg_scan(store *s, unsigned class_mask, store_row_fn fn,
                         void *ctx)
{
    char name[16];
    int count;
    sr_status st = check_mask(s, class_mask);
    if (st == SR_OK)
        st = masked_name(s, MQ_SCAN, class_mask, name, "scanning");
    if (st != SR_OK)
        return st;
    /* A page at a time, by seq: memory stays bounded, and between pages
     * the connection is free for what the callbacks ask of it. */
    row_walk w = {fn, ctx, 0};
    do {
        params p = {.n = 0};
        p_int(&p, w.last_seq);
        st = walk(s, name, &p, "scanning", each_row, &w, &count);
    } while (st == SR_OK && count == PG_SCAN_PAGE);
    return st;
}

static sr_status pg_stats(store *s, store_stats *out)
{
    store_stats t;
    PGresult *res;
    int64_t people = 0, index = 0, ct = 0, bytes = 0;
    memset(&t, 0, sizeof t);
    sr_status st = run_fixed(s, Q_STATS, NULL, "counting people", &res);
    if (st != SR_OK)
        return st;
    if (PQntuples(res) != 1 || !col_int(res, 0, 0, &people) ||
        !col_int(res, 0, 1, &index) || !col_int(res, 0, 2, &ct) ||
        !col_int(res, 0, 3, &bytes)) {
        set_msg(s, "counting people", "an unexpected answer");
        st = SR_ERR_INTERNAL;
    }
    PQclear(res);
    if (st != SR_OK)
        return st;
    t.people = (uint64_t)people;
    t.index_entries = (uint64_t)index;
    t.ciphertext_bytes = (uint64_t)ct;
    t.db_bytes = (uint64_t)bytes;
    st = run_fixed(s, Q_BY_KEK, NULL, "counting people per key version", &res);
    if (st != SR_OK)
        return st;
    for (int i = 0; i < PQntuples(res); i++) {
        int64_t v = 0, n = 0;
        if (col_int(res, i, 0, &v) && col_int(res, i, 1, &n) && v >= 1 &&
            v <= 8)
            t.people_by_kek[v - 1] = (uint64_t)n;
    }
    PQclear(res);
    *out = t;
    return SR_OK;
}

/* ---- documents ----------------------------------------------------------- */

static sr_status doc_keys(store *s, params *p, const char *kind,
                          const char *key)
{
    if (strlen(kind) > STORE_DOC_KEY_MAX ||
        (key != NULL && strlen(key) > STORE_DOC_KEY_MAX)) {
        set_msg(s, "a document key is too long", NULL);
        return SR_ERR_INVALID;
    }
    p_text(p, kind);
    if (key != NULL)
        p_text(p, key);
    return SR_OK;
}

static sr_status pg_doc_get(store *s, const char *kind, const char *key,
                            sr_buf *out)
{
    params p = {.n = 0};
    PGresult *res;
    sr_status st = doc_keys(s, &p, kind, key);
    if (st == SR_OK)
        st = run_fixed(s, Q_DOC_GET, &p, "reading a document", &res);
    if (st != SR_OK)
        return st;
    if (PQntuples(res) == 0) {
        set_msg(s, "no such document", NULL);
        st = SR_ERR_NOT_FOUND;
    } else {
        size_t n = (size_t)PQgetlength(res, 0, 0);
        st = n > 0 ? buf_append(out, PQgetvalue(res, 0, 0), n) : SR_OK;
        if (st != SR_OK)
            set_msg(s, "a document is larger than the buffer", NULL);
    }
    PQclear(res);
    return st;
}

static sr_status doc_write(store *s, unsigned q, const char *kind,
                           const char *key, const uint8_t *v, size_t len)
{
    params p = {.n = 0};
    PGresult *res;
    if (len > STORE_DOC_MAX || (v == NULL && len > 0)) {
        set_msg(s, "a document is too large", NULL);
        return SR_ERR_INVALID;
    }
    sr_status st = doc_keys(s, &p, kind, key);
    if (st != SR_OK)
        return st;
    p_bytes(&p, len > 0 ? v : (const uint8_t *)"", len);
    st = run_fixed(s, q, &p, "writing a document", &res);
    PQclear(res);
    return st;
}

static sr_status pg_doc_put(store *s, const char *kind, const char *key,
                            const uint8_t *v, size_t len)
{
    return doc_write(s, Q_DOC_PUT, kind, key, v, len);
}

static sr_status pg_doc_insert(store *s, const char *kind, const char *key,
                               const uint8_t *v, size_t len)
{
    return doc_write(s, Q_DOC_INSERT, kind, key, v, len);
}

static sr_status pg_doc_delete(store *s, const char *kind, const char *key)
{
    params p = {.n = 0};
    PGresult *res;
    sr_status st = doc_keys(s, &p, kind, key);
    if (st == SR_OK)
        st = run_fixed(s, Q_DOC_DELETE, &p, "deleting a document", &res);
    if (st != SR_OK)
        return st;
    if (changed(res) == 0) {
        set_msg(s, "no such document", NULL);
        st = SR_ERR_NOT_FOUND;
    }
    PQclear(res);
    return st;
}

typedef struct doc_walk {
    store_doc_fn fn;
    void *ctx;
} doc_walk;

static sr_status each_doc(store *s, const PGresult *res, int r, void *ctx)
{
    doc_walk *w = ctx;
    /* The key came back in binary: text's binary form is its bytes,
     * without a NUL. */
    char key[STORE_DOC_KEY_MAX + 1];
    int n = PQgetlength(res, r, 0);
    if (PQgetisnull(res, r, 0) || PQgetisnull(res, r, 1) || n < 0 ||
        (size_t)n > STORE_DOC_KEY_MAX) {
        set_msg(s, "a stored document is malformed", NULL);
        return SR_ERR_CORRUPT;
    }
    memcpy(key, PQgetvalue(res, r, 0), (size_t)n);
    key[n] = '\0';
    size_t len = (size_t)PQgetlength(res, r, 1);
    return w->fn(w->ctx, key,
                 len > 0 ? (const uint8_t *)PQgetvalue(res, r, 1)
                         : (const uint8_t *)"",
                 len);
}

static sr_status pg_doc_scan(store *s, const char *kind, store_doc_fn fn,
                             void *ctx)
{
    char name[16];
    params p = {.n = 0};
    int count;
    sr_status st = doc_keys(s, &p, kind, NULL);
    if (st == SR_OK)
        st = fixed_name(s, Q_DOC_SCAN, name, "scanning documents");
    if (st != SR_OK)
        return st;
    doc_walk w = {fn, ctx};
    return walk(s, name, &p, "scanning documents", each_doc, &w, &count);
}

bool store_pg_conninfo_check(const char *conninfo, bool *password)
{
    char *err = NULL;
    *password = false;
    PQconninfoOption *o = PQconninfoParse(conninfo, &err);
    PQfreemem(err);
    if (o == NULL)
        return false;
    for (const PQconninfoOption *i = o; i->keyword != NULL; i++)
        if (strcmp(i->keyword, "password") == 0 && i->val != NULL &&
            i->val[0] != '\0')
            *password = true;
    PQconninfoFree(o);
    return true;
}

const store_ops store_pg_ops = {
    .name = "postgresql",
    .open = pg_open,
    .close = pg_close,
    .errmsg = pg_errmsg,
    .meta_get = pg_meta_get,
    .meta_put = pg_meta_put,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .insert = pg_insert,
    .replace = pg_replace,
    .remove = pg_remove,
    .purge = pg_purge,
    .backup = pg_backup,
    .set_key = pg_set_key,
    .drop_keyless = pg_drop_keyless,
    .discard = pg_discard,
    .copy_to = pg_copy_to,
    .get = pg_get,
    .lookup = pg_lookup,
    .lookup_any = pg_lookup_any,
    .insert_many = pg_insert_many,
    .scan = pg_scan,
    .stats = pg_stats,
    .doc_get = pg_doc_get,
    .doc_put = pg_doc_put,
    .doc_insert = pg_doc_insert,
    .doc_delete = pg_doc_delete,
    .doc_scan = pg_doc_scan,
};
