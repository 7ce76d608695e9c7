/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_sqlite.c - the embedded SQLite backend of the store interface.
 *
 * The database holds only what store.h allows: person ids, versions,
 * wrapped data keys, sealed class envelopes and truncated blind-index
 * values. Every statement is prepared once (SQLITE_PREPARE_PERSISTENT) and
 * reused with bound parameters; no SQL text is ever built from data. SQLite
 * result codes become sr_status in store_status() and nowhere else, and
 * the message kept on the handle never contains data.
 *
 * Schema version 2 (docs/storage.md):
 *
 *   meta(key TEXT PRIMARY KEY, value BLOB NOT NULL)
 *   persons(seq INTEGER PRIMARY KEY,            -- rowid: writes append
 *           id BLOB NOT NULL UNIQUE,            -- 16 random bytes
 *           version INTEGER NOT NULL,           -- record version >= 1
 *           kek_version INTEGER NOT NULL,       -- KEK wrapping the data key
 *           wrapped BLOB NOT NULL,              -- nonce || ct || tag
 *           c0 .. c5 BLOB)                      -- envelopes, NULL = empty
 *   blind_index(kind INTEGER, value INTEGER, seq INTEGER,  -- persons.seq
 *               PRIMARY KEY(kind, value, seq)) WITHOUT ROWID
 *   docs(kind TEXT, key TEXT, value BLOB,      -- schema 2: principals,
 *        PRIMARY KEY(kind, key)) WITHOUT ROWID  -- tokens, cases, policy
 *
 * seq says where a person lies (docs/storage.md, "Compaction"): below
 * 2^40 in a store never compacted; cluster c's people, as a compaction
 * wrote them, at c << 40 | n (c from 1 to 65535); from SEQ_TAIL on, the
 * people written since. Every write takes a seq above every other, so
 * SQLite only ever appends to the table.
 *
 * PRAGMA application_id marks the file as a Strongroom store and
 * user_version is the schema version. Writers run journal_mode=WAL with
 * synchronous=FULL (a commit is on disk when it returns: the audit log's
 * log-then-reveal depends on it) and secure_delete=ON (freed pages are
 * zeroed, which crypto-shredding needs).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "store/store.h"
#include "util/util.h"

/* "SRm1": a Strongroom store (PRAGMA application_id, header offset 68). */
#define STORE_APPLICATION_ID 0x53526d31
#define STORE_META_MAX 4096u
/* The most of the file read through mmap (SQLite caps it at its own
 * SQLITE_MAX_MMAP_SIZE, 2 GiB in Debian's build). */
#define STORE_SQLITE_MMAP_BYTES "17179869184"

/* Page cache per connection, in KiB (negative cache_size). */
#ifndef STORE_SQLITE_CACHE_KIB
#define STORE_SQLITE_CACHE_KIB 262144
#endif
/* Readers wait this long for a checkpoint or a writer's lock. */
#define STORE_BUSY_TIMEOUT_MS 2000
#define STORE_MSG_MAX 384u
#define MASK_COUNT (1u << SR_CLASS_COUNT)

/* seq = cluster << SEQ_CLUSTER_SHIFT | n for the people a compaction put
 * in cluster 1..65535; SEQ_TAIL and up for those written since. */
#define SEQ_CLUSTER_SHIFT 40
#define SEQ_CLUSTER_FIRST(c) ((int64_t)(c) << SEQ_CLUSTER_SHIFT)
#define SEQ_TAIL SEQ_CLUSTER_FIRST(65536)
/* A new row's seq: after every other, and past the clusters once there
 * are any (2^40 = 1099511627776, SEQ_TAIL = 2^56 = 72057594037927936). */
#define NEXT_SEQ_SQL                                                           \
    "(SELECT CASE WHEN m IS NULL THEN 1 "                                      \
    "WHEN m >= 1099511627776 AND m < 72057594037927936 "                       \
    "THEN 72057594037927936 ELSE m + 1 END "                                   \
    "FROM (SELECT max(seq) AS m FROM persons))"
_Static_assert(SEQ_CLUSTER_FIRST(1) == 1099511627776LL &&
                   SEQ_TAIL == 72057594037927936LL,
               "NEXT_SEQ_SQL spells the bounds out");

/* The fixed statements; the class-mask variants live in mask_stmt. */
enum {
    STMT_META_GET,
    STMT_META_PUT,
    STMT_BEGIN,
    STMT_BEGIN_READ,
    STMT_COMMIT,
    STMT_ROLLBACK,
    STMT_SAVEPOINT,
    STMT_RELEASE,
    STMT_ROLLBACK_TO,
    STMT_INSERT,
    STMT_UPDATE,
    STMT_SEQ_OF,
    STMT_VERSION_OF,
    STMT_DELETE,
    STMT_PURGE,
    STMT_INDEX_INSERT,
    STMT_INDEX_DELETE,
    STMT_COUNT_PEOPLE,
    STMT_COUNT_INDEX,
    STMT_CT_BYTES,
    STMT_BY_KEK,
    STMT_PAGE_COUNT,
    STMT_PAGE_SIZE,
    STMT_DOC_GET,
    STMT_DOC_PUT,
    STMT_DOC_INSERT,
    STMT_DOC_DELETE,
    STMT_DOC_SCAN,
    STMT_SET_KEY,
    STMT_FIXED_COUNT
};

static const char *const fixed_sql[STMT_FIXED_COUNT] = {
    [STMT_META_GET] = "SELECT value FROM meta WHERE key = ?1",
    [STMT_META_PUT] = "INSERT INTO meta(key, value) VALUES(?1, ?2) "
                      "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    /* IMMEDIATE: take the write lock at BEGIN, so two writers cannot both
     * read and then deadlock on the upgrade. */
    [STMT_BEGIN] = "BEGIN IMMEDIATE",
    /* A reader's begin holds one snapshot (and one WAL read lock) across
     * several lookups. */
    [STMT_BEGIN_READ] = "BEGIN DEFERRED",
    [STMT_COMMIT] = "COMMIT",
    [STMT_ROLLBACK] = "ROLLBACK",
    [STMT_SAVEPOINT] = "SAVEPOINT sr_row",
    [STMT_RELEASE] = "RELEASE sr_row",
    [STMT_ROLLBACK_TO] = "ROLLBACK TO sr_row",
    [STMT_INSERT] = "INSERT INTO persons(seq, id, version, kek_version, "
                    "wrapped, c0, c1, c2, c3, c4, c5, present) "
                    "VALUES(" NEXT_SEQ_SQL ", ?1, ?2, ?3, ?4, ?5, ?6, ?7, "
                    "?8, ?9, ?10, ?12)",
    /* A new version goes to the end of the table, where SQLite only
     * appends: rewritten in place, a row that grew would split a page in
     * the middle of the table, and a split leaves stale copies of its
     * neighbours' rows in free space that secure delete never zeroes
     * (docs/storage.md). The old row is deleted (secure delete zeroes
     * it). */
    [STMT_UPDATE] = "UPDATE persons SET seq = " NEXT_SEQ_SQL
                    ", version = ?2, kek_version = ?3, "
                    "wrapped = ?4, c0 = ?5, c1 = ?6, c2 = ?7, c3 = ?8, "
                    "c4 = ?9, c5 = ?10, present = ?12 "
                    "WHERE id = ?1 AND version = ?11 RETURNING seq",
    [STMT_SEQ_OF] = "SELECT seq FROM persons WHERE id = ?1",
    [STMT_VERSION_OF] = "SELECT version FROM persons WHERE id = ?1",
    [STMT_DELETE] = "DELETE FROM persons WHERE id = ?1 RETURNING seq",
    /* A restored backup's person gets its key back (store.h: set_key). */
    [STMT_SET_KEY] = "UPDATE persons SET wrapped = ?2, kek_version = ?3 "
                     "WHERE id = ?1 AND length(wrapped) = 0",
    [STMT_PURGE] = "PRAGMA wal_checkpoint(TRUNCATE)",
    /* OR IGNORE: two former names may give the same truncated value. */
    [STMT_INDEX_INSERT] = "INSERT OR IGNORE INTO blind_index(kind, value, "
                          "seq) VALUES(?1, ?2, ?3)",
    [STMT_INDEX_DELETE] = "DELETE FROM blind_index WHERE kind = ?1 AND "
                          "value = ?2 AND seq = ?3",
    [STMT_COUNT_PEOPLE] = "SELECT count(*) FROM persons",
    [STMT_COUNT_INDEX] = "SELECT count(*) FROM blind_index",
    /* length() of a blob reads only the record header, not the content. */
    [STMT_CT_BYTES] = "SELECT total(length(wrapped) + ifnull(length(c0), 0) "
                      "+ ifnull(length(c1), 0) + ifnull(length(c2), 0) "
                      "+ ifnull(length(c3), 0) + ifnull(length(c4), 0) "
                      "+ ifnull(length(c5), 0)) FROM persons",
    [STMT_BY_KEK] = "SELECT kek_version, count(*) FROM persons "
                    "GROUP BY kek_version",
    [STMT_PAGE_COUNT] = "PRAGMA page_count",
    [STMT_PAGE_SIZE] = "PRAGMA page_size",
    [STMT_DOC_GET] = "SELECT value FROM docs WHERE kind = ?1 AND key = ?2",
    [STMT_DOC_PUT] = "INSERT INTO docs(kind, key, value) VALUES(?1, ?2, ?3) "
                     "ON CONFLICT(kind, key) DO UPDATE SET value = "
                     "excluded.value",
    [STMT_DOC_INSERT] = "INSERT INTO docs(kind, key, value) "
                        "VALUES(?1, ?2, ?3)",
    [STMT_DOC_DELETE] = "DELETE FROM docs WHERE kind = ?1 AND key = ?2",
    [STMT_DOC_SCAN] = "SELECT key, value FROM docs WHERE kind = ?1 "
                      "ORDER BY key",
};

/* The row-returning queries, one variant per class mask. */
enum {
    QUERY_GET = STORE_Q_GET,
    QUERY_LOOKUP = STORE_Q_LOOKUP,
    QUERY_SCAN = STORE_Q_SCAN,
    QUERY_RANGE = STORE_Q_RANGE,
    QUERY_COUNT = STORE_QUERIES
};

/* ---- migrations ---------------------------------------------------------- */

/* migrations[i] takes the schema from version i to i + 1. All pending
 * ones run in one transaction with the user_version bump, so a crash
 * leaves either the old schema or the new one. */
static const char *const migrations[] = {
    /* 0 -> 1 */
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value BLOB NOT NULL);"
    "CREATE TABLE persons("
    " seq INTEGER PRIMARY KEY,"
    " id BLOB NOT NULL UNIQUE,"
    " version INTEGER NOT NULL,"
    " kek_version INTEGER NOT NULL,"
    " wrapped BLOB NOT NULL,"
    " c0 BLOB, c1 BLOB, c2 BLOB, c3 BLOB, c4 BLOB, c5 BLOB,"
    " present INTEGER NOT NULL);"
    "CREATE TABLE blind_index("
    " kind INTEGER NOT NULL,"
    " value INTEGER NOT NULL,"
    " seq INTEGER NOT NULL,"
    " PRIMARY KEY(kind, value, seq)) WITHOUT ROWID;",
    /* 1 -> 2: principals, tokens, cases, policy versions */
    "CREATE TABLE docs("
    " kind TEXT NOT NULL,"
    " key TEXT NOT NULL,"
    " value BLOB NOT NULL,"
    " PRIMARY KEY(kind, key)) WITHOUT ROWID;",
};
_Static_assert(sizeof migrations / sizeof migrations[0] == STORE_SCHEMA_VERSION,
               "one migration per schema version");

struct store {
    sqlite3 *db;
    char *path;
    bool writable;
    bool keyless; /* STORE_OPEN_KEYLESS */
    char msg[STORE_MSG_MAX];
    sqlite3_stmt *fixed[STMT_FIXED_COUNT];
    sqlite3_stmt *masked[QUERY_COUNT][MASK_COUNT];
};

/* ---- messages and error mapping ------------------------------------------ */

static void store_set_msg(store *s, const char *what, const char *detail)
{
    if (detail != NULL && detail[0] != '\0')
        (void)snprintf(s->msg, sizeof s->msg, "%s: %s", what, detail);
    else
        (void)snprintf(s->msg, sizeof s->msg, "%s", what);
}

/* s's message from another handle's (one this code opened and failed):
 * what, then as much of the other's message as fits. */
static void store_set_msg_from(store *s, const char *what, const store *other)
{
    char d[STORE_MSG_MAX / 2];
    size_t n = other != NULL ? strnlen(other->msg, sizeof d - 1) : 0;
    if (other != NULL)
        memcpy(d, other->msg, n);
    d[n] = '\0';
    store_set_msg(s, what, other != NULL ? d : "out of memory");
}

/* The one place SQLite codes become Strongroom statuses. `what` says what
 * was being done; the message appends sqlite3_errmsg, which quotes SQL
 * and constraint names but never bound values. */
static sr_status store_status(store *s, int rc, const char *what)
{
    int saved_errno = errno; /* before anything below can change it */
    int primary = rc & 0xff;
    int sys = s->db != NULL ? sqlite3_system_errno(s->db) : 0;
    sr_status st;

    /* SQLite records the OS error only on some paths: a failed WAL write
     * during COMMIT leaves sqlite3_system_errno() at 0. The write paths
     * clear errno before stepping (write_begin), so what errno holds now
     * came from that step. */
    if (sys == 0 && primary == SQLITE_IOERR)
        sys = saved_errno;

    switch (primary) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
        return SR_OK;
    case SQLITE_FULL:
        st = SR_ERR_FULL;
        break;
    case SQLITE_IOERR:
        /* A write refused for lack of space or over a file-size limit
         * (EFBIG, RLIMIT_FSIZE) or quota is a full disk to the user. */
        st = (sys == ENOSPC || sys == EFBIG || sys == EDQUOT) ? SR_ERR_FULL
                                                              : SR_ERR_IO;
        break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        st = SR_ERR_LOCKED;
        break;
    case SQLITE_NOTADB:
        st = SR_ERR_NOT_VAULT;
        break;
    case SQLITE_CORRUPT:
        st = SR_ERR_CORRUPT;
        break;
    case SQLITE_CONSTRAINT:
        /* persons.id and docs(kind, key) are the unique keys a caller can
         * collide on. */
        st = (rc == SQLITE_CONSTRAINT_UNIQUE ||
              rc == SQLITE_CONSTRAINT_PRIMARYKEY)
                 ? SR_ERR_EXISTS
                 : SR_ERR_INVALID;
        break;
    case SQLITE_NOMEM:
        st = SR_ERR_NOMEM;
        break;
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_READONLY:
        st = SR_ERR_IO;
        break;
    case SQLITE_TOOBIG:
    case SQLITE_RANGE:
    case SQLITE_MISMATCH:
        st = SR_ERR_INVALID;
        break;
    default:
        st = SR_ERR_INTERNAL;
        break;
    }
    if (s->db != NULL) {
        if (primary == SQLITE_IOERR || primary == SQLITE_FULL ||
            primary == SQLITE_CANTOPEN)
            /* The extended code says which I/O step failed. */
            (void)snprintf(s->msg, sizeof s->msg, "%s: %s (code %d, %s)", what,
                           sqlite3_errmsg(s->db), rc,
                           sys != 0 ? strerror(sys) : "no OS error");
        else
            store_set_msg(s, what, sqlite3_errmsg(s->db));
    } else {
        store_set_msg(s, what, sqlite3_errstr(rc));
    }
    return st;
}

/* ---- statements ---------------------------------------------------------- */

static sr_status stmt_prepare(store *s, const char *sql, sqlite3_stmt **out)
{
    int rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, out,
                                NULL);
    if (rc != SQLITE_OK)
        return store_status(s, rc, "preparing a statement");
    return SR_OK;
}

/* Reset after use: releases the read snapshot and drops the bound
 * pointers (bound with SQLITE_STATIC, so they must not outlive the call). */
static void stmt_done(sqlite3_stmt *st)
{
    (void)sqlite3_reset(st);
    (void)sqlite3_clear_bindings(st);
}

/* Called before every step that may write: see store_status. */
static void write_begin(void)
{
    errno = 0;
}

/* Step a statement that returns no rows (or whose rows we ignore). */
static sr_status stmt_exec(store *s, unsigned which, const char *what)
{
    sqlite3_stmt *st = s->fixed[which];
    sr_status r = SR_OK;

    write_begin();
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        r = store_status(s, rc, what);
    stmt_done(st);
    return r;
}

/* Run a statement that returns one integer. */
static sr_status stmt_int(store *s, unsigned which, const char *what,
                          int64_t *out)
{
    sqlite3_stmt *st = s->fixed[which];
    int rc = sqlite3_step(st);
    sr_status r = SR_OK;

    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    else
        r = rc == SQLITE_DONE ? SR_ERR_INTERNAL : store_status(s, rc, what);
    stmt_done(st);
    return r;
}

/* The query of kind q returning the classes in mask (store_masked_sql).
 * Prepared on first use and kept for the life of the handle. */
static sr_status masked_stmt(store *s, unsigned q, unsigned mask,
                             sqlite3_stmt **out)
{
    /* Unrequested classes are NULL literals, so SQLite never reads their
     * (possibly large, overflow-page) content. */
    static const store_dialect sqlite_dialect = {
        {", present, seq FROM persons WHERE id = ?1",
         (", p.present, p.seq FROM blind_index AS b JOIN persons AS p"
          " ON p.seq = b.seq WHERE b.kind = ?1 AND b.value = ?2"),
         ", present, seq FROM persons ORDER BY seq",
         ", present, seq FROM persons WHERE seq >= ?1 AND seq < ?2 "
         "ORDER BY seq"},
        ", NULL",
    };
    char sql[STORE_SQL_MAX];
    if (s->masked[q][mask] != NULL) {
        *out = s->masked[q][mask];
        return SR_OK;
    }
    store_masked_sql(sql, (store_query)q, mask, &sqlite_dialect);
    sr_status st = stmt_prepare(s, sql, &s->masked[q][mask]);
    if (st == SR_OK)
        *out = s->masked[q][mask];
    return st;
}

/* ---- binding and reading rows -------------------------------------------- */

static int bind_blob(sqlite3_stmt *st, int i, const uint8_t *p, size_t n)
{
    if (p == NULL)
        return sqlite3_bind_null(st, i);
    return sqlite3_bind_blob64(st, i, p, (sqlite3_uint64)n, SQLITE_STATIC);
}

/* Bind ?1..?10 of STMT_INSERT / STMT_UPDATE from a row. */
static int bind_row(sqlite3_stmt *st, const store_row *row)
{
    int rc = sqlite3_bind_blob(st, 1, row->id, SR_ID_BYTES, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 2, row->version);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 3, row->kek_version);
    if (rc == SQLITE_OK)
        rc = bind_blob(st, 4, row->wrapped, row->wrapped_len);
    for (int c = 0; rc == SQLITE_OK && c < SR_CLASS_COUNT; c++)
        rc = bind_blob(st, 5 + c, row->cls[c], row->cls_len[c]);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 12, row->present);
    return rc;
}

/* The cluster of the row at seq (0: none). */
static uint16_t seq_cluster(int64_t seq)
{
    return seq >= SEQ_CLUSTER_FIRST(1) && seq < SEQ_TAIL
               ? (uint16_t)(seq >> SEQ_CLUSTER_SHIFT)
               : 0;
}

/* Read the current result row (id, version, kek_version, wrapped,
 * c0..c5, present, seq) into row. Anything that cannot have been written
 * by insert or replace is damage: SR_ERR_CORRUPT. */
static sr_status row_read(store *s, sqlite3_stmt *st, store_row *row)
{
    const void *id = sqlite3_column_blob(st, 0);
    int idlen = sqlite3_column_bytes(st, 0);
    int64_t ver = sqlite3_column_int64(st, 1);
    int64_t kek = sqlite3_column_int64(st, 2);
    int64_t present = sqlite3_column_int64(st, 4 + SR_CLASS_COUNT);
    int64_t seq = sqlite3_column_int64(st, 5 + SR_CLASS_COUNT);

    memset(row, 0, sizeof *row);
    if (id == NULL || idlen != SR_ID_BYTES || ver < 1 || ver > UINT32_MAX ||
        kek < 1 || kek > UINT32_MAX || present < 0 ||
        present > (int64_t)SR_CLASS_ALL || seq < 1 ||
        sqlite3_column_type(st, 3) != SQLITE_BLOB) {
        store_set_msg(s, "a stored person row is malformed", NULL);
        return SR_ERR_CORRUPT;
    }
    memcpy(row->id, id, SR_ID_BYTES);
    row->version = (uint32_t)ver;
    row->kek_version = (uint32_t)kek;
    row->present = (unsigned)present;
    row->cluster = seq_cluster(seq);
    row->wrapped = sqlite3_column_blob(st, 3);
    row->wrapped_len = (size_t)sqlite3_column_bytes(st, 3);
    for (int c = 0; c < SR_CLASS_COUNT; c++) {
        int type = sqlite3_column_type(st, 4 + c);
        if (type == SQLITE_NULL)
            continue;
        if (type != SQLITE_BLOB) {
            store_set_msg(s, "a stored class column is not a blob", NULL);
            return SR_ERR_CORRUPT;
        }
        row->cls[c] = sqlite3_column_blob(st, 4 + c);
        row->cls_len[c] = (size_t)sqlite3_column_bytes(st, 4 + c);
        if (row->cls[c] == NULL) { /* an empty blob: never an envelope */
            store_set_msg(s, "a stored class envelope is empty", NULL);
            return SR_ERR_CORRUPT;
        }
    }
    if (row->wrapped == NULL) {
        store_set_msg(s, "a stored wrapped key is empty", NULL);
        return SR_ERR_CORRUPT;
    }
    return SR_OK;
}

/* Step st to the end, handing each row to fn. */
static sr_status rows_walk(store *s, sqlite3_stmt *st, store_row_fn fn,
                           void *ctx, const char *what, size_t *count)
{
    sr_status r = SR_OK;
    store_row row;
    int rc;

    *count = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        r = row_read(s, st, &row);
        if (r != SR_OK)
            goto cleanup;
        (*count)++;
        r = fn(ctx, &row);
        if (r != SR_OK)
            goto cleanup;
    }
    if (rc != SQLITE_DONE)
        r = store_status(s, rc, what);
cleanup:
    stmt_done(st);
    return r;
}

/* ---- opening ------------------------------------------------------------- */

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           (uint32_t)p[3];
}

static bool file_nonempty(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && sb.st_size > 0;
}

/*
 * Look at the 100-byte database header ourselves before SQLite does, so a
 * foreign or damaged file is refused with a clear message instead of a
 * lazy SQLITE_NOTADB on some later query (or, for a truncated file, quiet
 * use of what is left). SQLite's file format, section 1.3: magic at 0,
 * page size at 16, change counter at 24, size in pages at 28 (valid when
 * the counter at 92 matches), application id at 68.
 *
 * Read through SQLite's own open file, never a descriptor of our own:
 * closing any descriptor of a file drops every POSIX lock this process
 * holds on it, SQLite's included. A server opening one more handle used
 * to drop the locks of the connections it had; the next process to close
 * the vault then took itself for the last one, checkpointed and deleted
 * the write-ahead log, and the server went on writing into the deleted
 * file: its later writes were invisible to others, and lost if it died.
 */
static sr_status store_check_header(store *s, const char *path)
{
    uint8_t h[100];
    sqlite3_file *f = NULL;
    sqlite3_int64 size = 0;
    char wal[4096];

    if (sqlite3_file_control(s->db, "main", SQLITE_FCNTL_FILE_POINTER, &f) !=
            SQLITE_OK ||
        f == NULL || f->pMethods == NULL) {
        store_set_msg(s, "cannot read the database file", NULL);
        return SR_ERR_IO;
    }
    int rc = f->pMethods->xFileSize(f, &size);
    if (rc == SQLITE_OK)
        rc = f->pMethods->xRead(f, h, (int)sizeof h, 0);
    if (rc != SQLITE_OK && rc != SQLITE_IOERR_SHORT_READ) {
        store_set_msg(s, "cannot read the database file", strerror(errno));
        return SR_ERR_IO;
    }
    if (rc == SQLITE_IOERR_SHORT_READ ||
        memcmp(h, "SQLite format 3", 16) != 0) {
        store_set_msg(s, "not a Strongroom store",
                      "the file is not an SQLite database (or is truncated)");
        return SR_ERR_NOT_VAULT;
    }
    if (be32(h + 68) != STORE_APPLICATION_ID) {
        store_set_msg(s, "not a Strongroom store",
                      "an SQLite database of another application");
        return SR_ERR_NOT_VAULT;
    }
    uint32_t page = (uint32_t)h[16] << 8 | h[17];
    if (page == 1)
        page = 65536;
    uint32_t pages = be32(h + 28);
    /* With a live write-ahead log the main file may lag the header; SQLite
     * then decides (a damaged log reads as SQLITE_CORRUPT). */
    int w = snprintf(wal, sizeof wal, "%s-wal", path);
    bool wal_live = w > 0 && (size_t)w < sizeof wal && file_nonempty(wal);
    if (!wal_live && be32(h + 24) == be32(h + 92) && pages > 0 &&
        (uint64_t)size < (uint64_t)pages * page) {
        store_set_msg(s, "not a Strongroom store",
                      "the database file is truncated");
        return SR_ERR_NOT_VAULT;
    }
    return SR_OK;
}

static sr_status store_pragma(store *s, const char *sql)
{
    char *err = NULL;
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, &err);
    sqlite3_free(err); /* sqlite3_errmsg still holds the text */
    if (rc != SQLITE_OK)
        return store_status(s, rc, "setting up the connection");
    return SR_OK;
}

/* PRAGMA name = value. A pragma takes no bound parameters; the values
 * are our own constants. */
static sr_status store_pragma_set(store *s, const char *name, long long value)
{
    char sql[96];
    int n = snprintf(sql, sizeof sql, "PRAGMA %s = %lld", name, value);
    if (n < 0 || (size_t)n >= sizeof sql)
        return SR_ERR_INTERNAL;
    return store_pragma(s, sql);
}

/* Bring the schema to STORE_SCHEMA_VERSION in one transaction. */
static sr_status store_migrate(store *s)
{
    sr_status st;
    sqlite3_stmt *q = NULL;
    int64_t have = 0;
    int rc;

    st = stmt_prepare(s, "PRAGMA user_version", &q);
    if (st != SR_OK)
        goto cleanup;
    rc = sqlite3_step(q);
    if (rc != SQLITE_ROW) {
        st = store_status(s, rc, "reading the schema version");
        goto cleanup;
    }
    have = sqlite3_column_int64(q, 0);
    (void)sqlite3_reset(q);
    if (have > (int64_t)STORE_SCHEMA_VERSION || have < 0) {
        store_set_msg(s, "the store has a newer schema than this program",
                      "upgrade Strongroom");
        st = SR_ERR_VERSION;
        goto cleanup;
    }
    if (have == STORE_SCHEMA_VERSION)
        goto cleanup;
    if (!s->writable) {
        store_set_msg(s, "the store needs a schema upgrade",
                      "open it for writing once");
        st = SR_ERR_VERSION;
        goto cleanup;
    }
    st = store_pragma(s, "BEGIN IMMEDIATE");
    if (st != SR_OK)
        goto cleanup;
    for (int64_t v = have; v < (int64_t)STORE_SCHEMA_VERSION; v++) {
        st = store_pragma(s, migrations[v]);
        if (st != SR_OK)
            goto rollback;
    }
    st = store_pragma_set(s, "user_version", STORE_SCHEMA_VERSION);
    if (st != SR_OK)
        goto rollback;
    st = store_pragma(s, "COMMIT");
    if (st == SR_OK)
        goto cleanup;
rollback:
    if (!sqlite3_get_autocommit(s->db))
        (void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
cleanup:
    (void)sqlite3_finalize(q);
    return st;
}

/* sqlite_open, with the page size of a new file (0: SQLite's, 4 KiB). */
static sr_status open_sized(store **out, const char *location, unsigned flags,
                            long long page_size)
{
    sr_status st = SR_OK;
    store *s = NULL;
    bool create = (flags & STORE_OPEN_CREATE) != 0;
    int oflags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
    int rc;

    *out = NULL;
    s = calloc(1, sizeof *s);
    if (s == NULL)
        return SR_ERR_NOMEM;
    *out = s;
    s->writable = create || (flags & STORE_OPEN_WRITE) != 0;
    s->keyless = (flags & STORE_OPEN_KEYLESS) != 0;
    if (location == NULL || location[0] == '\0') {
        store_set_msg(s, "no database path", NULL);
        st = SR_ERR_INVALID;
        goto cleanup;
    }
    s->path = strdup(location);
    if (s->path == NULL) {
        st = SR_ERR_NOMEM;
        goto cleanup;
    }
    if (create) {
        if (file_nonempty(location)) {
            store_set_msg(s, "a database already exists there", NULL);
            st = SR_ERR_EXISTS;
            goto cleanup;
        }
        oflags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    } else {
        struct stat sb;
        if (stat(location, &sb) != 0) {
            store_set_msg(s, "cannot open the database file", strerror(errno));
            st = errno == ENOENT ? SR_ERR_NOT_FOUND : SR_ERR_IO;
            goto cleanup;
        }
        /* Readers open read-write too, and are held to reading by
         * query_only below: a SQLITE_OPEN_READONLY connection cannot create
         * the WAL index (-shm) when no writer is about, and then re-reads
         * the WAL and drops its page cache at every transaction, which made
         * each lookup ten times slower. */
        oflags |= SQLITE_OPEN_READWRITE;
    }
    rc = sqlite3_open_v2(location, &s->db, oflags, NULL);
    if (rc != SQLITE_OK) {
        st = store_status(s, rc, "opening the database");
        goto cleanup;
    }
    (void)sqlite3_extended_result_codes(s->db, 1);
    if (!create) {
        st = store_check_header(s, location);
        if (st != SR_OK)
            goto cleanup;
    }
    rc = sqlite3_busy_timeout(s->db, STORE_BUSY_TIMEOUT_MS);
    if (rc != SQLITE_OK) {
        st = store_status(s, rc, "setting the busy timeout");
        goto cleanup;
    }
    if (create && page_size != 0) {
        /* Before the first write, which fixes it. */
        st = store_pragma_set(s, "page_size", page_size);
        if (st != SR_OK)
            goto cleanup;
    }
    if (create) {
        /* Stamp the file before it turns to WAL mode, so the mark reaches
         * the main file at once and store_check_header can see it. */
        st = store_pragma_set(s, "application_id", STORE_APPLICATION_ID);
        if (st != SR_OK)
            goto cleanup;
    }
    st = store_pragma_set(s, "cache_size", -(long long)STORE_SQLITE_CACHE_KIB);
    if (st != SR_OK)
        goto cleanup;
    /* Readers read pages through a memory map: a search touches a few
     * random rows (every blind-index candidate), and mapping them is
     * cheaper than copying each into the page cache. The writer keeps to
     * its bounded cache, so a long import does not map the whole file. */
    st = s->writable
             ? SR_OK
             : store_pragma(s, "PRAGMA mmap_size = " STORE_SQLITE_MMAP_BYTES);
    if (st == SR_OK)
        st = store_pragma(s, "PRAGMA temp_store = MEMORY");
    if (st == SR_OK && !s->writable)
        st = store_pragma(s, "PRAGMA query_only = ON");
    if (st != SR_OK)
        goto cleanup;
    if (s->writable) {
        st = store_pragma(s, "PRAGMA journal_mode = WAL;"
                             "PRAGMA synchronous = FULL;"
                             "PRAGMA secure_delete = ON;");
        if (st != SR_OK)
            goto cleanup;
    }
    /* Also catches what the header check cannot: SQLite's own verdict
     * (SQLITE_NOTADB) on the rest of page 1. */
    {
        int64_t app = 0;
        sqlite3_stmt *q = NULL;
        st = stmt_prepare(s, "PRAGMA application_id", &q);
        if (st == SR_OK) {
            rc = sqlite3_step(q);
            if (rc == SQLITE_ROW)
                app = sqlite3_column_int64(q, 0);
            else
                st = store_status(s, rc, "reading the database header");
        }
        (void)sqlite3_finalize(q);
        if (st == SR_ERR_CORRUPT)
            st = SR_ERR_NOT_VAULT;
        if (st != SR_OK)
            goto cleanup;
        if (app != STORE_APPLICATION_ID) {
            store_set_msg(s, "not a Strongroom store",
                          "an SQLite database of another application");
            st = SR_ERR_NOT_VAULT;
            goto cleanup;
        }
    }
    st = store_migrate(s);
    if (st != SR_OK)
        goto cleanup;
    for (unsigned i = 0; i < STMT_FIXED_COUNT; i++) {
        st = stmt_prepare(s, fixed_sql[i], &s->fixed[i]);
        if (st != SR_OK)
            goto cleanup;
    }
    s->msg[0] = '\0';
cleanup:
    /* On failure the handle stays in *out so the caller can read the
     * message; it closes it. */
    return st;
}

static sr_status sqlite_open(store **out, const char *location, unsigned flags)
{
    return open_sized(out, location, flags, 0);
}

static void sqlite_close(store *s)
{
    if (s == NULL)
        return;
    for (unsigned i = 0; i < STMT_FIXED_COUNT; i++)
        (void)sqlite3_finalize(s->fixed[i]);
    for (unsigned q = 0; q < QUERY_COUNT; q++)
        for (unsigned m = 0; m < MASK_COUNT; m++)
            (void)sqlite3_finalize(s->masked[q][m]);
    if (s->db != NULL && !sqlite3_get_autocommit(s->db))
        (void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    (void)sqlite3_close_v2(s->db);
    free(s->path);
    free(s);
}

static const char *sqlite_errmsg(const store *s)
{
    if (s == NULL)
        return "out of memory";
    return s->msg[0] != '\0' ? s->msg : "no error";
}

/* ---- meta ---------------------------------------------------------------- */

static sr_status sqlite_meta_get(store *s, const char *key, uint8_t *buf,
                                 size_t cap, size_t *len)
{
    sqlite3_stmt *st = s->fixed[STMT_META_GET];
    sr_status r = SR_OK;
    int rc = sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);

    *len = 0;
    if (rc != SQLITE_OK) {
        r = store_status(s, rc, "reading a meta value");
        goto cleanup;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        store_set_msg(s, "no such meta value", NULL);
        r = SR_ERR_NOT_FOUND;
        goto cleanup;
    }
    if (rc != SQLITE_ROW) {
        r = store_status(s, rc, "reading a meta value");
        goto cleanup;
    }
    const void *v = sqlite3_column_blob(st, 0);
    size_t n = (size_t)sqlite3_column_bytes(st, 0);
    *len = n;
    if (n > cap) {
        store_set_msg(s, "a meta value is larger than the buffer", NULL);
        r = SR_ERR_INVALID;
        goto cleanup;
    }
    if (n > 0)
        memcpy(buf, v, n);
cleanup:
    stmt_done(st);
    return r;
}

static sr_status sqlite_meta_put(store *s, const char *key, const uint8_t *v,
                                 size_t len)
{
    sqlite3_stmt *st = s->fixed[STMT_META_PUT];
    sr_status r = SR_OK;
    int rc;

    if (len > STORE_META_MAX || (v == NULL && len > 0)) {
        store_set_msg(s, "a meta value is too large", NULL);
        return SR_ERR_INVALID;
    }
    rc = sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        /* zeroblob-safe: a NULL pointer with len 0 would bind SQL NULL. */
        rc = sqlite3_bind_blob(st, 2, len ? (const void *)v : (const void *)"",
                               (int)len, SQLITE_STATIC);
    write_begin();
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc != SQLITE_DONE)
        r = store_status(s, rc, "writing a meta value");
    stmt_done(st);
    return r;
}

/* ---- transactions -------------------------------------------------------- */

static sr_status sqlite_begin(store *s)
{
    return stmt_exec(s, s->writable ? STMT_BEGIN : STMT_BEGIN_READ,
                     "starting a transaction");
}

static sr_status sqlite_commit(store *s)
{
    return stmt_exec(s, STMT_COMMIT, "committing");
}

static sr_status sqlite_rollback(store *s)
{
    /* SQLite rolls back by itself after some errors (SQLITE_FULL, IOERR,
     * NOMEM); then there is nothing left to undo. */
    if (sqlite3_get_autocommit(s->db))
        return SR_OK;
    return stmt_exec(s, STMT_ROLLBACK, "rolling back");
}

/* Each insert or replace runs in a savepoint: the person row and its
 * index rows land together or not at all, inside or outside a caller's
 * transaction. */
static sr_status row_savepoint_end(store *s, sr_status r)
{
    if (r == SR_OK) {
        r = stmt_exec(s, STMT_RELEASE, "releasing a savepoint");
        if (r == SR_OK)
            return SR_OK;
    }
    /* After an automatic rollback the savepoint is gone with the rest. */
    if (!sqlite3_get_autocommit(s->db)) {
        char keep[STORE_MSG_MAX];
        memcpy(keep, s->msg, sizeof keep);
        (void)stmt_exec(s, STMT_ROLLBACK_TO, "rolling back a savepoint");
        (void)stmt_exec(s, STMT_RELEASE, "releasing a savepoint");
        memcpy(s->msg, keep, sizeof keep);
    }
    return r;
}

/* Insert (STMT_INDEX_INSERT) or delete (STMT_INDEX_DELETE) the index rows
 * idx of person id. */
/* Index rows point at the person's rowid (seq), not its id: a candidate
 * is then one descent of the persons table instead of two (the id index,
 * then the table), and each index row is 12 bytes smaller. */
static sr_status index_write(store *s, unsigned which, int64_t seq,
                             const store_index *idx, size_t nidx)
{
    sqlite3_stmt *st = s->fixed[which];
    sr_status r = SR_OK;

    for (size_t i = 0; i < nidx && r == SR_OK; i++) {
        int rc = sqlite3_bind_int(st, 1, idx[i].kind);
        if (rc == SQLITE_OK)
            /* Values are < 2^48 and fit an SQLite integer unchanged. */
            rc = sqlite3_bind_int64(st, 2, (sqlite3_int64)idx[i].value);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(st, 3, seq);
        write_begin();
        if (rc == SQLITE_OK)
            rc = sqlite3_step(st);
        if (rc != SQLITE_DONE)
            r = store_status(s, rc,
                             which == STMT_INDEX_INSERT
                                 ? "writing an index row"
                                 : "deleting an index row");
        stmt_done(st);
    }
    return r;
}

static sr_status sqlite_insert(store *s, const store_row *row,
                               const store_index *idx, size_t nidx)
{
    sqlite3_stmt *st = s->fixed[STMT_INSERT];
    sr_status r;
    int rc;

    if (!(s->keyless ? store_row_valid_keyless(row) : store_row_valid(row)) ||
        (idx == NULL && nidx > 0)) {
        store_set_msg(s, "insert: malformed row", NULL);
        return SR_ERR_INVALID;
    }
    r = stmt_exec(s, STMT_SAVEPOINT, "starting a savepoint");
    if (r != SR_OK)
        return r;
    rc = bind_row(st, row);
    if (rc == SQLITE_OK && s->keyless)
        rc = sqlite3_bind_zeroblob(st, 4, 0);
    write_begin();
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) {
        r = store_status(s, rc, "inserting a person");
        if (r == SR_ERR_EXISTS)
            store_set_msg(s, "inserting a person", "the id is taken");
    }
    stmt_done(st);
    if (r == SR_OK)
        r = index_write(s, STMT_INDEX_INSERT, sqlite3_last_insert_rowid(s->db),
                        idx, nidx);
    return row_savepoint_end(s, r);
}

static sr_status sqlite_replace(store *s, const store_row *row,
                                const store_index *old_idx, size_t nold,
                                const store_index *idx, size_t nidx)
{
    sqlite3_stmt *st = s->fixed[STMT_UPDATE];
    sr_status r;
    int rc;

    if (s->keyless || !store_row_valid(row) || row->version < 2 ||
        (idx == NULL && nidx > 0) || (old_idx == NULL && nold > 0)) {
        store_set_msg(s, "replace: malformed row", NULL);
        return SR_ERR_INVALID;
    }
    r = stmt_exec(s, STMT_SAVEPOINT, "starting a savepoint");
    if (r != SR_OK)
        return r;
    /* Where the person is now (their index rows point there), and
     * whether they are there at all. */
    int64_t was = 0;
    sqlite3_stmt *w = s->fixed[STMT_SEQ_OF];
    rc = sqlite3_bind_blob(w, 1, row->id, SR_ID_BYTES, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(w);
    if (rc == SQLITE_ROW)
        was = sqlite3_column_int64(w, 0);
    else if (rc == SQLITE_DONE) {
        store_set_msg(s, "replacing a person", "no such person");
        r = SR_ERR_NOT_FOUND;
    } else {
        r = store_status(s, rc, "replacing a person");
    }
    stmt_done(w);
    if (r != SR_OK)
        return row_savepoint_end(s, r);
    rc = bind_row(st, row);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 11, (sqlite3_int64)row->version - 1);
    write_begin();
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    bool updated = rc == SQLITE_ROW;
    int64_t seq = updated ? sqlite3_column_int64(st, 0) : 0;
    if (updated)
        rc = sqlite3_step(st);
    if (rc != SQLITE_DONE)
        r = store_status(s, rc, "replacing a person");
    stmt_done(st);
    if (r == SR_OK && !updated) {
        /* The person is there (above): their version moved. */
        store_set_msg(s, "replacing a person",
                      "the record changed since it was read");
        r = SR_ERR_CONFLICT;
    }
    if (r == SR_OK)
        r = index_write(s, STMT_INDEX_DELETE, was, old_idx, nold);
    if (r == SR_OK)
        r = index_write(s, STMT_INDEX_INSERT, seq, idx, nidx);
    return row_savepoint_end(s, r);
}

/* One person of remove, and their index rows. */
static sr_status remove_one(store *s, const store_removal *rm)
{
    sqlite3_stmt *st = s->fixed[STMT_DELETE];
    if (rm->id == NULL || (rm->idx == NULL && rm->nidx > 0)) {
        store_set_msg(s, "remove: malformed person", NULL);
        return SR_ERR_INVALID;
    }
    sr_status r = SR_OK;
    int rc = sqlite3_bind_blob(st, 1, rm->id, SR_ID_BYTES, SQLITE_STATIC);
    write_begin();
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    bool found = rc == SQLITE_ROW;
    int64_t seq = found ? sqlite3_column_int64(st, 0) : 0;
    if (found)
        rc = sqlite3_step(st);
    if (rc != SQLITE_DONE)
        r = store_status(s, rc, "deleting a person");
    stmt_done(st);
    if (r == SR_OK && !found) {
        store_set_msg(s, "deleting a person", "no such person");
        r = SR_ERR_NOT_FOUND;
    }
    if (r == SR_OK)
        r = index_write(s, STMT_INDEX_DELETE, seq, rm->idx, rm->nidx);
    return r;
}

static sr_status sqlite_remove(store *s, const store_removal *rm, size_t n)
{
    if (rm == NULL && n > 0) {
        store_set_msg(s, "remove: malformed people", NULL);
        return SR_ERR_INVALID;
    }
    /* Inside the caller's transaction, which a failure loses whole
     * (store.h), no savepoint of its own: a retention run removes 65,536
     * people in one. */
    bool own = sqlite3_get_autocommit(s->db) != 0;
    sr_status r =
        own ? stmt_exec(s, STMT_SAVEPOINT, "starting a savepoint") : SR_OK;
    if (r != SR_OK)
        return r;
    for (size_t i = 0; i < n && r == SR_OK; i++)
        r = remove_one(s, &rm[i]);
    return own ? row_savepoint_end(s, r) : r;
}

static sr_status sqlite_purge(store *s)
{
    sqlite3_stmt *st = s->fixed[STMT_PURGE];
    int rc = sqlite3_step(st);
    /* One row: busy (1 if a reader kept it from finishing), log, done. */
    bool busy = rc == SQLITE_ROW && sqlite3_column_int(st, 0) != 0;
    if (rc == SQLITE_ROW)
        rc = sqlite3_step(st);
    sr_status r =
        rc == SQLITE_DONE ? SR_OK : store_status(s, rc, "emptying the WAL");
    stmt_done(st);
    if (r == SR_OK && busy) {
        store_set_msg(s, "emptying the WAL",
                      "another connection still reads an older state");
        r = SR_ERR_LOCKED;
    }
    return r;
}

/* ---- backups ------------------------------------------------------------- */

/* Run sql on db (our own constant statements). */
static int exec_sql(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
    sqlite3_free(err);
    return rc;
}

/* Remove the -wal and -shm beside path (what is not there is no error). */
static void remove_sides(const char *path)
{
    char side[PATH_MAX];
    if (snprintf(side, sizeof side, "%s-wal", path) < (int)sizeof side)
        (void)unlink(side);
    if (snprintf(side, sizeof side, "%s-shm", path) < (int)sizeof side)
        (void)unlink(side);
}

void store_sqlite_remove(const char *path)
{
    (void)unlink(path);
    remove_sides(path);
}

/* The records without their keys: copied row by row into a new keyless
 * store (store_backup_copy), never a page copy with the keys then
 * overwritten. A page copy takes every byte of every page, the free
 * space between a page's cell pointers and its cells included; secure
 * delete zeroes a cell freed after, but not what a split in the middle
 * of the tree left in that space (SQLite's rebuildPage writes the cells
 * and leaves the rest as it was): tests/cli_backup.py found wrapped keys
 * there in a layout that inserted in the middle (docs/storage.md). */
static sr_status sqlite_backup(store *s, const char *path)
{
    char why[STORE_WHY_MAX];
    sr_status st = store_backup_copy(s, &store_sqlite_ops, path, why);
    if (st != SR_OK && why[0] != '\0')
        store_set_msg(s, why, NULL);
    return st;
}

/* ---- copy_to ------------------------------------------------------------ */

/* Each row of sql (our own text) to each, inside the copy's read
 * transaction. */
typedef sr_status (*copy_each_fn)(store *s, sqlite3_stmt *q, store_sink *k);

static sr_status copy_walk(store *s, const char *sql, const char *what,
                           copy_each_fn each, store_sink *k)
{
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &q, NULL);
    sr_status st = SR_OK;
    if (rc == SQLITE_OK)
        while (st == SR_OK && (rc = sqlite3_step(q)) == SQLITE_ROW)
            st = each(s, q, k);
    if (st == SR_OK && rc != SQLITE_DONE)
        st = store_status(s, rc, what);
    (void)sqlite3_finalize(q);
    return st;
}

static sr_status copy_meta(store *s, sqlite3_stmt *q, store_sink *k)
{
    const char *key = (const char *)sqlite3_column_text(q, 0);
    const void *v = sqlite3_column_blob(q, 1);
    if (key == NULL) {
        store_set_msg(s, "copying a meta value", "a meta key is missing");
        return SR_ERR_CORRUPT;
    }
    return store_sink_meta(k, key, v,
                           v != NULL ? (size_t)sqlite3_column_bytes(q, 1) : 0);
}

static sr_status copy_doc(store *s, sqlite3_stmt *q, store_sink *k)
{
    const char *kind = (const char *)sqlite3_column_text(q, 0);
    const char *key = (const char *)sqlite3_column_text(q, 1);
    const void *v = sqlite3_column_blob(q, 2);
    if (kind == NULL || key == NULL) {
        store_set_msg(s, "copying a document", "a document is malformed");
        return SR_ERR_CORRUPT;
    }
    return store_sink_doc(k, kind, key, v,
                          v != NULL ? (size_t)sqlite3_column_bytes(q, 2) : 0);
}

/* Collect the index rows of person seq from x (the blind index in seq
 * order, its current row in *xrc), stepping x past them. */
static sr_status copy_index_of(store *s, sqlite3_stmt *x, int *xrc, int64_t seq,
                               store_index *idx, size_t *n)
{
    *n = 0;
    /* Index rows of no person (damage) were never copied by a join
     * either: passed over. */
    while (*xrc == SQLITE_ROW && sqlite3_column_int64(x, 0) < seq)
        *xrc = sqlite3_step(x);
    while (*xrc == SQLITE_ROW && sqlite3_column_int64(x, 0) == seq) {
        int64_t kind = sqlite3_column_int64(x, 1);
        int64_t value = sqlite3_column_int64(x, 2);
        if (*n == STORE_SINK_INDEX_MAX || kind < 0 || kind > UINT8_MAX ||
            value < 0) {
            store_set_msg(s, "copying people",
                          "a person's index rows are malformed");
            return SR_ERR_CORRUPT;
        }
        idx[*n].kind = (uint8_t)kind;
        idx[(*n)++].value = (uint64_t)value;
        *xrc = sqlite3_step(x);
    }
    return SR_OK;
}

/* Every person with their index rows. The persons table and the blind
 * index are each walked in seq order and merged here: the blind index has
 * no index on seq, and SQLite ran the join it once was as a nested loop
 * (still at it after ten minutes at a million people). */
static sr_status copy_people(store *s, store_sink *k)
{
    sqlite3_stmt *p = NULL, *x = NULL;
    int rc = sqlite3_prepare_v2(s->db,
                                "SELECT id, version, kek_version, wrapped, "
                                "c0, c1, c2, c3, c4, c5, present, seq "
                                "FROM persons ORDER BY seq",
                                -1, &p, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(s->db,
                                "SELECT seq, kind, value FROM blind_index "
                                "ORDER BY seq",
                                -1, &x, NULL);
    sr_status st =
        rc == SQLITE_OK ? SR_OK : store_status(s, rc, "copying people");
    int xrc = st == SR_OK ? sqlite3_step(x) : SQLITE_DONE;
    while (st == SR_OK && (rc = sqlite3_step(p)) == SQLITE_ROW) {
        store_row row;
        store_index idx[STORE_SINK_INDEX_MAX];
        size_t n = 0;
        st = row_read(s, p, &row);
        if (st == SR_OK)
            st = copy_index_of(s, x, &xrc,
                               sqlite3_column_int64(p, 5 + SR_CLASS_COUNT), idx,
                               &n);
        if (st == SR_OK)
            st = store_sink_person_idx(k, &row, idx, n);
    }
    if (st == SR_OK && rc != SQLITE_DONE)
        st = store_status(s, rc, "copying people");
    if (st == SR_OK && xrc != SQLITE_ROW && xrc != SQLITE_DONE)
        st = store_status(s, xrc, "copying index rows");
    (void)sqlite3_finalize(p);
    (void)sqlite3_finalize(x);
    return st;
}

static sr_status sqlite_copy_to(store *s, const store_ops *dst_ops, store *dst,
                                const store_progress *progress)
{
    if (!sqlite3_get_autocommit(s->db)) {
        store_set_msg(s, "copying the store", "not inside a transaction");
        return SR_ERR_INTERNAL;
    }
    store_sink *k = malloc(sizeof *k);
    if (k == NULL)
        return SR_ERR_NOMEM;
    k->msg[0] = '\0';
    sr_status st = stmt_exec(s, STMT_BEGIN_READ, "starting the copy");
    if (st != SR_OK) {
        free(k);
        return st;
    }
    st = store_sink_begin(k, dst_ops, dst, progress);
    if (st == SR_OK)
        st = copy_walk(s, "SELECT key, value FROM meta ORDER BY key",
                       "copying the meta values", copy_meta, k);
    if (st == SR_OK)
        st =
            copy_walk(s, "SELECT kind, key, value FROM docs ORDER BY kind, key",
                      "copying the documents", copy_doc, k);
    if (st == SR_OK)
        st = copy_people(s, k);
    st = store_sink_end(k, st);
    if (st != SR_OK && k->msg[0] != '\0')
        store_set_msg(s, k->msg, NULL);
    (void)stmt_exec(s, STMT_ROLLBACK, "ending the copy");
    free(k);
    return st;
}

static sr_status sqlite_set_key(store *s, const uint8_t id[SR_ID_BYTES],
                                uint32_t kek_version, const uint8_t *wrapped,
                                size_t len)
{
    sqlite3_stmt *q = s->fixed[STMT_SET_KEY];
    if (s->keyless) {
        store_set_msg(s, "restoring a key", "the store is keyless");
        return SR_ERR_INVALID;
    }
    int rc = sqlite3_bind_blob(q, 1, id, SR_ID_BYTES, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_blob(q, 2, wrapped, (int)len, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(q, 3, (sqlite3_int64)kek_version);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(q);
    sr_status st =
        rc == SQLITE_DONE ? SR_OK : store_status(s, rc, "restoring a key");
    stmt_done(q);
    if (st != SR_OK || sqlite3_changes(s->db) > 0)
        return st;
    /* Nothing changed: a person with a key already, or none. */
    q = s->fixed[STMT_VERSION_OF];
    rc = sqlite3_bind_blob(q, 1, id, SR_ID_BYTES, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        store_set_msg(s, "restoring a key", "the person has a key already");
        st = SR_ERR_EXISTS;
    } else if (rc == SQLITE_DONE) {
        store_set_msg(s, "restoring a key", "no such person");
        st = SR_ERR_NOT_FOUND;
    } else {
        st = store_status(s, rc, "restoring a key");
    }
    stmt_done(q);
    return st;
}

static sr_status sqlite_drop_keyless(store *s, uint64_t *removed)
{
    *removed = 0;
    int rc = exec_sql(s->db, "DELETE FROM blind_index WHERE seq IN "
                             "(SELECT seq FROM persons "
                             "WHERE length(wrapped) = 0)");
    if (rc == SQLITE_OK)
        rc = exec_sql(s->db, "DELETE FROM persons WHERE length(wrapped) = 0");
    if (rc != SQLITE_OK)
        return store_status(s, rc, "removing the people without a key");
    *removed = (uint64_t)sqlite3_changes64(s->db);
    return SR_OK;
}

/* ---- reading ------------------------------------------------------------- */

static sr_status check_mask(store *s, unsigned mask)
{
    if (mask & ~(unsigned)SR_CLASS_ALL) {
        store_set_msg(s, "unknown class in the class mask", NULL);
        return SR_ERR_INVALID;
    }
    return SR_OK;
}

static sr_status sqlite_get(store *s, const uint8_t id[SR_ID_BYTES],
                            unsigned class_mask, store_row_fn fn, void *ctx)
{
    sqlite3_stmt *st = NULL;
    size_t count = 0;
    sr_status r = check_mask(s, class_mask);

    if (r == SR_OK)
        r = masked_stmt(s, QUERY_GET, class_mask, &st);
    if (r != SR_OK)
        return r;
    int rc = sqlite3_bind_blob(st, 1, id, SR_ID_BYTES, SQLITE_STATIC);
    if (rc != SQLITE_OK) {
        stmt_done(st);
        return store_status(s, rc, "reading a person");
    }
    r = rows_walk(s, st, fn, ctx, "reading a person", &count);
    if (r == SR_OK && count == 0) {
        store_set_msg(s, "no such person", NULL);
        r = SR_ERR_NOT_FOUND;
    }
    return r;
}

static sr_status sqlite_lookup(store *s, uint8_t kind, uint64_t value,
                               unsigned class_mask, store_row_fn fn, void *ctx)
{
    sqlite3_stmt *st = NULL;
    size_t count = 0;
    sr_status r = check_mask(s, class_mask);

    if (r == SR_OK)
        r = masked_stmt(s, QUERY_LOOKUP, class_mask, &st);
    if (r != SR_OK)
        return r;
    int rc = sqlite3_bind_int(st, 1, kind);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 2, (sqlite3_int64)value);
    if (rc != SQLITE_OK) {
        stmt_done(st);
        return store_status(s, rc, "searching the index");
    }
    return rows_walk(s, st, fn, ctx, "searching the index", &count);
}

static sr_status sqlite_scan(store *s, unsigned class_mask, store_row_fn fn,
                             void *ctx)
{
    sqlite3_stmt *st = NULL;
    size_t count = 0;
    sr_status r = check_mask(s, class_mask);

    if (r == SR_OK)
        r = masked_stmt(s, QUERY_SCAN, class_mask, &st);
    if (r != SR_OK)
        return r;
    return rows_walk(s, st, fn, ctx, "scanning", &count);
}

/* ---- retention clusters and compaction ----------------------------------- */

/* The people with lo <= seq < hi, in seq order. */
static sr_status range_walk(store *s, unsigned mask, int64_t lo, int64_t hi,
                            store_row_fn fn, void *ctx)
{
    sqlite3_stmt *st = NULL;
    size_t count = 0;
    sr_status r = masked_stmt(s, QUERY_RANGE, mask, &st);
    if (r != SR_OK)
        return r;
    int rc = sqlite3_bind_int64(st, 1, lo);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 2, hi);
    if (rc != SQLITE_OK) {
        stmt_done(st);
        return store_status(s, rc, "reading a cluster");
    }
    return rows_walk(s, st, fn, ctx, "reading a cluster", &count);
}

static sr_status sqlite_scan_clusters(store *s, const uint16_t *clusters,
                                      size_t n, unsigned class_mask,
                                      store_row_fn fn, void *ctx)
{
    sr_status r = check_mask(s, class_mask);
    for (size_t i = 0; i < n && r == SR_OK; i++) {
        uint16_t c = clusters[i];
        if (c != 0) {
            r = range_walk(s, class_mask, SEQ_CLUSTER_FIRST(c),
                           SEQ_CLUSTER_FIRST(c + 1), fn, ctx);
            continue;
        }
        /* Not in a cluster: never compacted, or written since. */
        r = range_walk(s, class_mask, 0, SEQ_CLUSTER_FIRST(1), fn, ctx);
        if (r == SR_OK)
            r = range_walk(s, class_mask, SEQ_TAIL, INT64_MAX, fn, ctx);
    }
    return r;
}

/* One person's place: their seq now, and after the compaction. */
typedef struct place {
    uint16_t cluster;
    int64_t old, new;
} place;

static int place_cmp(const void *a, const void *b)
{
    const place *x = a, *y = b;
    if (x->cluster != y->cluster)
        return x->cluster < y->cluster ? -1 : 1;
    return (x->old > y->old) - (x->old < y->old);
}

#define COMPACT_BATCH 65536u
/* A compacted file's page: 8 KiB holds four people of about 2 KB where
 * 4 KiB holds two and leaves 400 bytes over, so the file is a tenth
 * smaller, and a retention run's deletions write fewer pages (the run
 * about a second faster at 1M people; lookups the same within their
 * noise: docs/BENCHMARKS.md, "Compaction, built"). */
#define COMPACT_PAGE_SIZE 8192

static void heard(const store_progress *p, uint64_t done)
{
    if (p != NULL && p->fn != NULL)
        p->fn(p->ctx, done);
}

/* Every person's place (fn names the cluster), sorted by the new seq. */
static sr_status compact_places(store *s, unsigned mask, store_cluster_fn fn,
                                void *ctx, const store_progress *progress,
                                place **out, size_t *n)
{
    sqlite3_stmt *st = NULL;
    size_t cap = 0;
    place *p = NULL;
    int rc;
    *n = 0;
    sr_status r = masked_stmt(s, QUERY_SCAN, mask, &st);
    while (r == SR_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        store_row row;
        uint16_t c = 0;
        r = row_read(s, st, &row);
        if (r == SR_OK)
            r = fn(ctx, &row, &c);
        if (r == SR_OK && c == 0) {
            store_set_msg(s, "compacting", "a person was given cluster 0");
            r = SR_ERR_INTERNAL;
        }
        if (r == SR_OK && *n == cap) {
            size_t ncap = cap == 0 ? 4096 : cap * 2;
            place *q = realloc(p, ncap * sizeof *p);
            if (q == NULL)
                r = SR_ERR_NOMEM;
            else {
                p = q;
                cap = ncap;
            }
        }
        if (r != SR_OK)
            break;
        p[*n].cluster = c;
        p[*n].old = sqlite3_column_int64(st, 5 + SR_CLASS_COUNT);
        if (++*n % COMPACT_BATCH == 0)
            heard(progress, *n);
    }
    if (r == SR_OK && rc != SQLITE_DONE)
        r = store_status(s, rc, "reading the people to compact");
    if (st != NULL)
        stmt_done(st);
    if (r == SR_OK && *n > 0) {
        qsort(p, *n, sizeof *p, place_cmp);
        int64_t k = 0;
        for (size_t i = 0; i < *n; i++) {
            k = i > 0 && p[i].cluster == p[i - 1].cluster ? k + 1 : 1;
            p[i].new = SEQ_CLUSTER_FIRST(p[i].cluster) + k;
        }
    }
    if (r != SR_OK) {
        free(p);
        p = NULL;
        *n = 0;
    }
    *out = p;
    return r;
}

/* Run one statement of ours with up to two integer parameters. */
static sr_status run_sql(store *s, const char *sql, int64_t a, int64_t b,
                         const char *what)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    int np = rc == SQLITE_OK ? sqlite3_bind_parameter_count(st) : 0;
    if (rc == SQLITE_OK && np >= 1)
        rc = sqlite3_bind_int64(st, 1, a);
    if (rc == SQLITE_OK && np >= 2)
        rc = sqlite3_bind_int64(st, 2, b);
    write_begin();
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
        rc = SQLITE_OK;
    (void)sqlite3_finalize(st);
    return rc == SQLITE_DONE ? SR_OK : store_status(s, rc, what);
}

/* The new file's rows, inside the transaction that holds both files: the
 * map of places, then the people, the index rows, meta and documents,
 * each in key order so that every insert is an append. */
static sr_status compact_copy(store *s, const place *p, size_t n,
                              const store_progress *progress)
{
    sqlite3_stmt *ins = NULL;
    sr_status r = run_sql(s,
                          "CREATE TEMP TABLE sr_place(old INTEGER PRIMARY KEY, "
                          "new INTEGER NOT NULL)",
                          0, 0, "compacting");
    int rc = r == SR_OK
                 ? sqlite3_prepare_v2(s->db,
                                      "INSERT INTO temp.sr_place(old, new) "
                                      "VALUES(?1, ?2)",
                                      -1, &ins, NULL)
                 : SQLITE_OK;
    for (size_t i = 0; r == SR_OK && rc == SQLITE_OK && i < n; i++) {
        rc = sqlite3_bind_int64(ins, 1, p[i].old);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(ins, 2, p[i].new);
        if (rc == SQLITE_OK && (rc = sqlite3_step(ins)) == SQLITE_DONE)
            rc = sqlite3_reset(ins);
    }
    (void)sqlite3_finalize(ins);
    if (r == SR_OK && rc != SQLITE_OK)
        r = store_status(s, rc, "compacting");
    if (r == SR_OK)
        r = run_sql(s, "CREATE INDEX temp.sr_place_new ON sr_place(new, old)",
                    0, 0, "compacting");
    /* The people, a batch at a time (for the progress), in new order. */
    for (size_t i = 0; r == SR_OK && i < n; i += COMPACT_BATCH) {
        size_t end = n - i < COMPACT_BATCH ? n : i + COMPACT_BATCH;
        r = run_sql(s,
                    "INSERT INTO sr_dst.persons(seq, id, version, "
                    "kek_version, wrapped, c0, c1, c2, c3, c4, c5, present) "
                    "SELECT m.new, p.id, p.version, p.kek_version, "
                    "p.wrapped, p.c0, p.c1, p.c2, p.c3, p.c4, p.c5, "
                    "p.present FROM temp.sr_place AS m "
                    "JOIN main.persons AS p ON p.seq = m.old "
                    "WHERE m.new >= ?1 AND m.new <= ?2 ORDER BY m.new",
                    p[i].new, p[end - 1].new, "copying people");
        if (r == SR_OK)
            heard(progress, n + end);
    }
    if (r == SR_OK)
        r = run_sql(s,
                    "INSERT INTO sr_dst.blind_index(kind, value, seq) "
                    "SELECT b.kind, b.value, m.new FROM main.blind_index AS b "
                    "JOIN temp.sr_place AS m ON m.old = b.seq "
                    "ORDER BY b.kind, b.value, m.new",
                    0, 0, "copying index rows");
    if (r == SR_OK)
        r = run_sql(s,
                    "INSERT INTO sr_dst.meta(key, value) "
                    "SELECT key, value FROM main.meta ORDER BY key",
                    0, 0, "copying the meta values");
    if (r == SR_OK)
        r = run_sql(s,
                    "INSERT INTO sr_dst.docs(kind, key, value) "
                    "SELECT kind, key, value FROM main.docs ORDER BY kind, key",
                    0, 0, "copying the documents");
    /* Everything there, or the source is damaged (an index row of no
     * person, which the copy passed over): then no compaction. */
    if (r == SR_OK) {
        sqlite3_stmt *q = NULL;
        rc = sqlite3_prepare_v2(s->db,
                                "SELECT (SELECT count(*) FROM main.persons) = "
                                "(SELECT count(*) FROM sr_dst.persons) AND "
                                "(SELECT count(*) FROM main.blind_index) = "
                                "(SELECT count(*) FROM sr_dst.blind_index)",
                                -1, &q, NULL);
        if (rc == SQLITE_OK)
            rc = sqlite3_step(q);
        if (rc != SQLITE_ROW)
            r = store_status(s, rc, "checking the copy");
        else if (sqlite3_column_int(q, 0) != 1) {
            store_set_msg(s, "checking the copy",
                          "the store has index rows of no person (damage)");
            r = SR_ERR_CORRUPT;
        }
        (void)sqlite3_finalize(q);
    }
    (void)run_sql(s, "DROP TABLE IF EXISTS temp.sr_place", 0, 0, "compacting");
    return r;
}

/* Overwrite and remove the new file beside the old, and its journal
 * files (what is not there is no error). */
static sr_status compact_wipe(const char *tmp)
{
    char side[PATH_MAX];
    sr_status r = file_wipe(tmp);
    if (snprintf(side, sizeof side, "%s-wal", tmp) < (int)sizeof side) {
        sr_status w = file_wipe(side);
        r = r == SR_OK ? w : r;
    }
    if (snprintf(side, sizeof side, "%s-shm", tmp) < (int)sizeof side)
        (void)unlink(side);
    return r;
}

/* Close s's connection, keeping the handle (for a reopen in place). */
static void release_db(store *s)
{
    for (unsigned i = 0; i < STMT_FIXED_COUNT; i++) {
        (void)sqlite3_finalize(s->fixed[i]);
        s->fixed[i] = NULL;
    }
    for (unsigned q = 0; q < QUERY_COUNT; q++)
        for (unsigned m = 0; m < MASK_COUNT; m++) {
            (void)sqlite3_finalize(s->masked[q][m]);
            s->masked[q][m] = NULL;
        }
    if (s->db != NULL && !sqlite3_get_autocommit(s->db))
        (void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    (void)sqlite3_close_v2(s->db);
    s->db = NULL;
}

/* Open s's file again on s, after release_db; on failure s has no
 * connection (every call fails) and its message says why. */
static sr_status reopen(store *s)
{
    store *now = NULL;
    sr_status r = sqlite_open(&now, s->path, STORE_OPEN_WRITE);
    if (r == SR_OK) {
        s->db = now->db;
        memcpy(s->fixed, now->fixed, sizeof s->fixed);
        free(now->path);
        free(now);
        return SR_OK;
    }
    store_set_msg_from(s, "opening the store again", now);
    sqlite_close(now);
    return r;
}

/* Write the new file tmp: made empty with the schema, attached, filled in
 * one transaction that also holds the old file's write lock. */
static sr_status compact_write(store *s, const char *tmp, unsigned mask,
                               store_cluster_fn fn, void *ctx,
                               const store_progress *progress, size_t *people)
{
    store *d = NULL;
    /* Made here first: mode 0600, like every file of a vault. */
    sr_status r = store_backup_claim(tmp);
    if (r != SR_OK) {
        store_set_msg(s, "making the compacted file", strerror(errno));
        return r;
    }
    r = open_sized(&d, tmp, STORE_OPEN_CREATE | STORE_OPEN_WRITE,
                   COMPACT_PAGE_SIZE);
    if (r != SR_OK)
        store_set_msg_from(s, "making the compacted file", d);
    sqlite_close(d);
    if (r != SR_OK)
        return r;
    sqlite3_stmt *at = NULL;
    int rc = sqlite3_prepare_v2(s->db, "ATTACH DATABASE ?1 AS sr_dst", -1, &at,
                                NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(at, 1, tmp, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(at);
    (void)sqlite3_finalize(at);
    if (rc != SQLITE_DONE)
        return store_status(s, rc, "opening the compacted file");
    /* No journal while it fills: nothing is rolled back into it (a failed
     * compaction wipes it), and no page passes through a WAL that would
     * then be freed to the filesystem with the keys still in it. */
    r = store_pragma(s, "PRAGMA sr_dst.journal_mode = OFF;"
                        "PRAGMA sr_dst.synchronous = FULL;"
                        "PRAGMA sr_dst.cache_size = -262144;");
    if (r == SR_OK)
        r = stmt_exec(s, STMT_BEGIN, "starting the compaction");
    place *p = NULL;
    size_t n = 0;
    if (r == SR_OK)
        r = compact_places(s, mask, fn, ctx, progress, &p, &n);
    if (r == SR_OK)
        r = compact_copy(s, p, n, progress);
    free(p);
    if (r == SR_OK)
        r = stmt_exec(s, STMT_COMMIT, "committing the compacted file");
    if (r != SR_OK)
        (void)sqlite_rollback(s);
    /* Back to the vault's journal (the mode is kept in the file). */
    if (r == SR_OK)
        r = store_pragma(s, "PRAGMA sr_dst.journal_mode = WAL");
    if (exec_sql(s->db, "DETACH DATABASE sr_dst") != SQLITE_OK && r == SR_OK)
        r = store_status(s, sqlite3_extended_errcode(s->db),
                         "closing the compacted file");
    *people = n;
    return r;
}

static sr_status sqlite_compact(store *s, unsigned class_mask,
                                store_cluster_fn fn, void *ctx,
                                const store_progress *progress)
{
    char tmp[PATH_MAX];
    size_t people = 0;
    sr_status r = check_mask(s, class_mask);
    if (r != SR_OK)
        return r;
    if (!s->writable || s->keyless || !sqlite3_get_autocommit(s->db)) {
        store_set_msg(s, "compacting",
                      "needs the writer's handle outside a transaction");
        return SR_ERR_INVALID;
    }
    if (snprintf(tmp, sizeof tmp, "%s-compact", s->path) >= (int)sizeof tmp) {
        store_set_msg(s, "compacting", "the path is too long");
        return SR_ERR_INVALID;
    }
    /* What a compaction that crashed left: it holds keys, so it is
     * overwritten before it goes. */
    if (compact_wipe(tmp) != SR_OK) {
        store_set_msg(s, "overwriting what an earlier compaction left",
                      strerror(errno));
        return SR_ERR_IO;
    }
    r = compact_write(s, tmp, class_mask, fn, ctx, progress, &people);
    /* Nothing of the old file may be left in its WAL beside the new one. */
    if (r == SR_OK)
        r = sqlite_purge(s);
    int old = -1;
    if (r == SR_OK && (old = open(s->path, O_RDWR | O_CLOEXEC)) < 0) {
        store_set_msg(s, "compacting", strerror(errno));
        r = SR_ERR_IO;
    }
    if (r == SR_OK && file_sync(tmp) != SR_OK) {
        store_set_msg(s, "syncing the compacted file", strerror(errno));
        r = SR_ERR_IO;
    }
    if (r != SR_OK) {
        if (old >= 0)
            (void)close(old);
        sr_status w = compact_wipe(tmp);
        (void)w; /* the failure that brought us here is the one to tell */
        return r;
    }
    /* The switch: this connection closes (nothing is left in its WAL),
     * the new file takes the old one's name, and the handle opens it. */
    release_db(s);
    if (rename(tmp, s->path) != 0) {
        int e = errno;
        (void)close(old);
        sr_status w = compact_wipe(tmp);
        (void)w;
        sr_status o = reopen(s);
        (void)o;
        store_set_msg(s, "putting the compacted file in place", strerror(e));
        return SR_ERR_IO;
    }
    remove_sides(s->path);
    remove_sides(tmp);
    r = parent_sync(s->path);
    if (r != SR_OK)
        store_set_msg(s, "syncing the directory", strerror(errno));
    /* The old file's bytes, stale copies and all, overwritten. */
    sr_status z = fd_zero(old);
    if (z != SR_OK && r == SR_OK) {
        store_set_msg(s, "overwriting the old file", strerror(errno));
        r = z;
    }
    (void)close(old);
    sr_status o = reopen(s);
    if (o != SR_OK)
        r = o;
    heard(progress, 2 * (uint64_t)people);
    return r;
}

static sr_status sqlite_stats(store *s, store_stats *out)
{
    store_stats stt;
    int64_t n = 0, pages = 0, page_size = 0;
    sr_status r;
    sqlite3_stmt *st;
    int rc;
    char wal[4096];
    struct stat sb;

    memset(&stt, 0, sizeof stt);
    r = stmt_int(s, STMT_COUNT_PEOPLE, "counting people", &n);
    if (r != SR_OK)
        return r;
    stt.people = (uint64_t)n;
    r = stmt_int(s, STMT_COUNT_INDEX, "counting index rows", &n);
    if (r != SR_OK)
        return r;
    stt.index_entries = (uint64_t)n;
    r = stmt_int(s, STMT_PAGE_COUNT, "reading the page count", &pages);
    if (r == SR_OK)
        r = stmt_int(s, STMT_PAGE_SIZE, "reading the page size", &page_size);
    if (r != SR_OK)
        return r;
    stt.db_bytes = (uint64_t)pages * (uint64_t)page_size;

    st = s->fixed[STMT_CT_BYTES];
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        stt.ciphertext_bytes = (uint64_t)sqlite3_column_double(st, 0);
    else
        r = store_status(s, rc, "summing ciphertext");
    stmt_done(st);
    if (r != SR_OK)
        return r;

    /* people_by_kek[v - 1] for KEK versions 1..8 (the layout of
     * sr_vault_stats). */
    st = s->fixed[STMT_BY_KEK];
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t v = sqlite3_column_int64(st, 0);
        if (v >= 1 && v <= 8)
            stt.people_by_kek[v - 1] = (uint64_t)sqlite3_column_int64(st, 1);
    }
    if (rc != SQLITE_DONE)
        r = store_status(s, rc, "counting people per key version");
    stmt_done(st);
    if (r != SR_OK)
        return r;

    int w = snprintf(wal, sizeof wal, "%s-wal", s->path);
    if (w > 0 && (size_t)w < sizeof wal && stat(wal, &sb) == 0)
        stt.wal_bytes = (uint64_t)sb.st_size;
    *out = stt;
    return SR_OK;
}

/* ---- documents ----------------------------------------------------------- */

static sr_status doc_bind(store *s, sqlite3_stmt *st, const char *kind,
                          const char *key)
{
    if (strlen(kind) > STORE_DOC_KEY_MAX ||
        (key != NULL && strlen(key) > STORE_DOC_KEY_MAX)) {
        store_set_msg(s, "a document key is too long", NULL);
        return SR_ERR_INVALID;
    }
    int rc = sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK && key != NULL)
        rc = sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    return rc == SQLITE_OK ? SR_OK : store_status(s, rc, "binding a key");
}

static sr_status sqlite_doc_get(store *s, const char *kind, const char *key,
                                sr_buf *out)
{
    sqlite3_stmt *st = s->fixed[STMT_DOC_GET];
    sr_status r = doc_bind(s, st, kind, key);
    int rc;

    if (r != SR_OK)
        goto cleanup;
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        store_set_msg(s, "no such document", NULL);
        r = SR_ERR_NOT_FOUND;
    } else if (rc != SQLITE_ROW) {
        r = store_status(s, rc, "reading a document");
    } else {
        const void *v = sqlite3_column_blob(st, 0);
        size_t n = (size_t)sqlite3_column_bytes(st, 0);
        r = n > 0 ? buf_append(out, v, n) : SR_OK;
        if (r != SR_OK)
            store_set_msg(s, "a document is larger than the buffer", NULL);
    }
cleanup:
    stmt_done(st);
    return r;
}

static sr_status doc_write(store *s, unsigned which, const char *kind,
                           const char *key, const uint8_t *v, size_t len)
{
    sqlite3_stmt *st = s->fixed[which];
    sr_status r;
    int rc;

    if (len > STORE_DOC_MAX || (v == NULL && len > 0)) {
        store_set_msg(s, "a document is too large", NULL);
        return SR_ERR_INVALID;
    }
    r = doc_bind(s, st, kind, key);
    if (r != SR_OK)
        goto cleanup;
    rc = sqlite3_bind_blob(st, 3, len ? (const void *)v : (const void *)"",
                           (int)len, SQLITE_STATIC);
    write_begin();
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc != SQLITE_DONE)
        r = store_status(s, rc, "writing a document");
cleanup:
    stmt_done(st);
    return r;
}

static sr_status sqlite_doc_put(store *s, const char *kind, const char *key,
                                const uint8_t *v, size_t len)
{
    return doc_write(s, STMT_DOC_PUT, kind, key, v, len);
}

static sr_status sqlite_doc_insert(store *s, const char *kind, const char *key,
                                   const uint8_t *v, size_t len)
{
    return doc_write(s, STMT_DOC_INSERT, kind, key, v, len);
}

static sr_status sqlite_doc_delete(store *s, const char *kind, const char *key)
{
    sqlite3_stmt *st = s->fixed[STMT_DOC_DELETE];
    sr_status r = doc_bind(s, st, kind, key);
    int rc;

    if (r != SR_OK)
        goto cleanup;
    write_begin();
    rc = sqlite3_step(st);
    if (rc != SQLITE_DONE)
        r = store_status(s, rc, "deleting a document");
    else if (sqlite3_changes(s->db) == 0) {
        store_set_msg(s, "no such document", NULL);
        r = SR_ERR_NOT_FOUND;
    }
cleanup:
    stmt_done(st);
    return r;
}

static sr_status sqlite_doc_scan(store *s, const char *kind, store_doc_fn fn,
                                 void *ctx)
{
    sqlite3_stmt *st = s->fixed[STMT_DOC_SCAN];
    sr_status r = doc_bind(s, st, kind, NULL);
    int rc;

    if (r != SR_OK)
        goto cleanup;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *k = (const char *)sqlite3_column_text(st, 0);
        const void *v = sqlite3_column_blob(st, 1);
        size_t n = (size_t)sqlite3_column_bytes(st, 1);
        if (k == NULL) {
            r = store_status(s, SQLITE_NOMEM, "scanning documents");
            goto cleanup;
        }
        r = fn(ctx, k, n > 0 ? v : (const void *)"", n);
        if (r != SR_OK)
            goto cleanup;
    }
    if (rc != SQLITE_DONE)
        r = store_status(s, rc, "scanning documents");
cleanup:
    stmt_done(st);
    return r;
}

const store_ops store_sqlite_ops = {
    .name = "sqlite",
    .open = sqlite_open,
    .close = sqlite_close,
    .errmsg = sqlite_errmsg,
    .meta_get = sqlite_meta_get,
    .meta_put = sqlite_meta_put,
    .begin = sqlite_begin,
    .commit = sqlite_commit,
    .rollback = sqlite_rollback,
    .insert = sqlite_insert,
    .replace = sqlite_replace,
    .get = sqlite_get,
    .lookup = sqlite_lookup,
    .scan = sqlite_scan,
    .scan_clusters = sqlite_scan_clusters,
    .compact = sqlite_compact,
    .stats = sqlite_stats,
    .doc_get = sqlite_doc_get,
    .doc_put = sqlite_doc_put,
    .remove = sqlite_remove,
    .purge = sqlite_purge,
    .backup = sqlite_backup,
    .set_key = sqlite_set_key,
    .drop_keyless = sqlite_drop_keyless,
    .copy_to = sqlite_copy_to,
    .doc_insert = sqlite_doc_insert,
    .doc_delete = sqlite_doc_delete,
    .doc_scan = sqlite_doc_scan,
};
