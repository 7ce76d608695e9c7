/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench/baseline.c - the yardstick Strongroom is measured against: the
 * same people in one SQLite table, written the way people usually write
 * it (jansson, prepared statements, one transaction per 10,000 people,
 * one thread). Compiled twice: against plain SQLite, and with SR_SQLCIPHER
 * against Debian's SQLCipher with `PRAGMA key` and the cipher defaults.
 *
 *   baseline ingest DB FILE.jsonl     load the people; prints the rate
 *   baseline lookup DB FILE.jsonl N   time N SSN and N family+DOB lookups
 *
 * Table: persons(id INTEGER PRIMARY KEY, ssn TEXT NOT NULL UNIQUE, given,
 * family, dob, then one JSON text column per field class: birth (identity:
 * birth, sex, citizenship), name (name, former_names), contact (addresses,
 * phones, emails), employment, investigations, fingerprints), plus an index
 * on (family COLLATE NOCASE, dob). Only the current family name is
 * indexed; Strongroom also indexes former names and folds diacritics, so
 * it does a little more work per person than this baseline. WAL mode and
 * synchronous=FULL, as Strongroom; other settings are SQLite's defaults.
 *
 * The person is split into columns by bench_person_parse (benchutil.c),
 * as bench/baseline_pg.c does.
 *
 * The key for SQLCipher is $BENCH_SQLCIPHER_KEY or a fixed benchmark key.
 * Output is one line of key=value pairs for bench/run to read.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#ifdef SR_SQLCIPHER
#include <sqlcipher/sqlite3.h>
#define ENGINE "sqlcipher"
#else
#include <sqlite3.h>
#define ENGINE "sqlite"
#endif

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benchutil.h"

#define BATCH 10000u

static const char schema_sql[] =
    "CREATE TABLE persons("
    " id INTEGER PRIMARY KEY,"
    " ssn TEXT NOT NULL UNIQUE,"
    " given TEXT, family TEXT, dob TEXT,"
    " birth TEXT, name TEXT, contact TEXT, employment TEXT,"
    " investigations TEXT, fingerprints TEXT);"
    "CREATE INDEX persons_family_dob ON persons(family COLLATE NOCASE, dob);";

static const char insert_sql[] =
    "INSERT INTO persons(ssn, given, family, dob, birth, name, contact,"
    " employment, investigations, fingerprints)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";

#define COLUMNS                                                                \
    "id, ssn, given, family, dob, birth, name, contact, employment,"           \
    " investigations, fingerprints"
static const char by_ssn_sql[] =
    "SELECT " COLUMNS " FROM persons WHERE ssn = ?1";
static const char by_name_dob_sql[] =
    "SELECT " COLUMNS " FROM persons"
    " WHERE family = ?1 COLLATE NOCASE AND dob = ?2";

static int usage(void)
{
    fprintf(stderr,
            "usage: bench_baseline_" ENGINE " ingest DB FILE.jsonl\n"
            "       bench_baseline_" ENGINE " lookup DB FILE.jsonl N\n");
    return 2;
}

static bool exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fprintf(stderr, "baseline: %s: %s\n", sql,
                msg != NULL ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return false;
    }
    return true;
}

/* Open (creating if asked), key it under SQLCipher, set the journal. */
static bool db_open(const char *path, bool create, sqlite3 **out)
{
    sqlite3 *db = NULL;
    /* Lookups open read-write too: SQLCipher's SQLite (3.15) cannot read
     * a WAL database read-only once its -shm file is gone. */
    int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
    *out = NULL;
    if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
        fprintf(stderr, "baseline: cannot open %s: %s\n", path,
                db != NULL ? sqlite3_errmsg(db) : "out of memory");
        (void)sqlite3_close(db);
        return false;
    }
#ifdef SR_SQLCIPHER
    {
        const char *key = getenv("BENCH_SQLCIPHER_KEY");
        if (key == NULL || *key == '\0')
            key = "strongroom benchmark key";
        /* A pragma takes no parameters; %Q quotes the key safely. */
        char *sql = sqlite3_mprintf("PRAGMA key = %Q", key);
        if (sql == NULL) {
            fprintf(stderr, "baseline: out of memory\n");
            (void)sqlite3_close(db);
            return false;
        }
        bool ok = exec(db, sql);
        sqlite3_free(sql);
        if (!ok) {
            (void)sqlite3_close(db);
            return false;
        }
    }
#endif
    if (create && (!exec(db, "PRAGMA journal_mode = WAL") ||
                   !exec(db, "PRAGMA synchronous = FULL"))) {
        (void)sqlite3_close(db);
        return false;
    }
    *out = db;
    return true;
}

static bool db_close(sqlite3 *db)
{
    if (sqlite3_close(db) != SQLITE_OK) {
        fprintf(stderr, "baseline: close: %s\n", sqlite3_errmsg(db));
        return false;
    }
    return true;
}

static bool bind_text(sqlite3_stmt *q, int i, const char *s)
{
    int rc = s != NULL ? sqlite3_bind_text(q, i, s, -1, SQLITE_STATIC)
                       : sqlite3_bind_null(q, i);
    return rc == SQLITE_OK;
}

typedef enum row_result { ROW_STORED, ROW_REJECTED, ROW_FATAL } row_result;

/* Parse one line and insert it. A line that is not a person with an SSN is
 * rejected (counted, not fatal), like Strongroom's import does. */
static row_result insert_line(sqlite3 *db, sqlite3_stmt *ins, const char *line,
                              size_t len)
{
    bench_person p;
    row_result res = ROW_FATAL;
    int got = bench_person_parse(line, len, &p);
    if (got <= 0) {
        res = got == 0 ? ROW_REJECTED : ROW_FATAL;
        goto cleanup;
    }
    bool bound = bind_text(ins, 1, p.ssn) && bind_text(ins, 2, p.given) &&
                 bind_text(ins, 3, p.family) && bind_text(ins, 4, p.dob);
    for (int i = 0; i < BENCH_CLASSES && bound; i++)
        bound = bind_text(ins, 5 + i, p.col[i]);
    if (!bound) {
        fprintf(stderr, "baseline: bind: %s\n", sqlite3_errmsg(db));
        goto cleanup;
    }
    int rc = sqlite3_step(ins);
    if (rc == SQLITE_DONE) {
        res = ROW_STORED;
    } else if ((rc & 0xff) == SQLITE_CONSTRAINT) {
        res = ROW_REJECTED; /* duplicate SSN */
    } else {
        fprintf(stderr, "baseline: insert: %s\n", sqlite3_errmsg(db));
    }
cleanup:
    /* Reset before freeing: the statement holds the strings (STATIC). */
    (void)sqlite3_reset(ins);
    (void)sqlite3_clear_bindings(ins);
    bench_person_free(&p);
    return res;
}

static int cmd_ingest(const char *dbpath, const char *file)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *ins = NULL;
    bench_reader r;
    bool reader_open = false, in_tx = false;
    int ret = 1;
    uint64_t stored = 0, rejected = 0, in_batch = 0;
    char *line;
    size_t len;
    int rc;

    double t0 = bench_now();
    if (!db_open(dbpath, true, &db))
        goto cleanup;
    if (!exec(db, schema_sql))
        goto cleanup;
    if (sqlite3_prepare_v2(db, insert_sql, -1, &ins, NULL) != SQLITE_OK) {
        fprintf(stderr, "baseline: prepare: %s\n", sqlite3_errmsg(db));
        goto cleanup;
    }
    reader_open = bench_reader_open(&r, file, BENCH_MAX_LINE);
    if (!reader_open)
        goto cleanup;
    while ((rc = bench_reader_next(&r, &line, &len)) == 1) {
        if (len == 0)
            continue;
        if (!in_tx) {
            if (!exec(db, "BEGIN"))
                goto cleanup;
            in_tx = true;
        }
        row_result res = insert_line(db, ins, line, len);
        if (res == ROW_FATAL)
            goto cleanup;
        if (res == ROW_REJECTED) {
            rejected++;
            continue;
        }
        stored++;
        if (++in_batch == BATCH) {
            if (!exec(db, "COMMIT"))
                goto cleanup;
            in_tx = false;
            in_batch = 0;
        }
    }
    if (rc < 0)
        goto cleanup;
    if (in_tx) {
        if (!exec(db, "COMMIT"))
            goto cleanup;
        in_tx = false;
    }
    ret = 0;
cleanup:
    if (in_tx)
        (void)exec(db, "ROLLBACK");
    if (reader_open)
        bench_reader_close(&r);
    (void)sqlite3_finalize(ins);
    if (db != NULL && !db_close(db))
        ret = 1;
    if (ret == 0) {
        double secs = bench_now() - t0;
        printf("engine=%s stored=%llu rejected=%llu seconds=%.3f "
               "rate=%.0f\n",
               ENGINE, (unsigned long long)stored, (unsigned long long)rejected,
               secs, secs > 0 ? (double)stored / secs : 0.0);
    }
    return ret;
}

/* Run q (already bound) to the end, reading every column of every row, as
 * an application would. Returns the number of rows, or -1 on error. */
static long run_query(sqlite3 *db, sqlite3_stmt *q, size_t *sink)
{
    long rows = 0;
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        int n = sqlite3_column_count(q);
        for (int i = 0; i < n; i++) {
            const unsigned char *t = sqlite3_column_text(q, i);
            int b = sqlite3_column_bytes(q, i);
            if (t != NULL && b > 0)
                *sink += (size_t)t[b - 1] + (size_t)b;
        }
        rows++;
    }
    if (rc != SQLITE_DONE) {
        fprintf(stderr, "baseline: query: %s\n", sqlite3_errmsg(db));
        rows = -1;
    }
    (void)sqlite3_reset(q);
    (void)sqlite3_clear_bindings(q);
    return rows;
}

static int cmd_lookup(const char *dbpath, const char *file, const char *ns)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *by_ssn = NULL, *by_name = NULL;
    bench_sample *s = NULL;
    double *t_ssn = NULL, *t_name = NULL;
    size_t n = 0, want, sink = 0;
    int ret = 1;

    if (!bench_parse_count(ns, &want)) {
        fprintf(stderr, "baseline: N must be a positive number\n");
        return 2;
    }
    if (!bench_load_samples(file, want, &s, &n))
        goto cleanup;
    t_ssn = calloc(n, sizeof *t_ssn);
    t_name = calloc(n, sizeof *t_name);
    if (t_ssn == NULL || t_name == NULL) {
        fprintf(stderr, "baseline: out of memory\n");
        goto cleanup;
    }
    if (!db_open(dbpath, false, &db))
        goto cleanup;
    if (sqlite3_prepare_v2(db, by_ssn_sql, -1, &by_ssn, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, by_name_dob_sql, -1, &by_name, NULL) !=
            SQLITE_OK) {
        fprintf(stderr, "baseline: prepare: %s\n", sqlite3_errmsg(db));
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++) {
        double t0 = bench_now();
        if (sqlite3_bind_text(by_ssn, 1, s[i].ssn, -1, SQLITE_STATIC) !=
            SQLITE_OK) {
            fprintf(stderr, "baseline: bind: %s\n", sqlite3_errmsg(db));
            goto cleanup;
        }
        long rows = run_query(db, by_ssn, &sink);
        t_ssn[i] = (bench_now() - t0) * 1e6;
        if (rows < 1) {
            if (rows == 0)
                fprintf(stderr, "baseline: sample %zu: SSN not found\n", i);
            goto cleanup;
        }
    }
    for (size_t i = 0; i < n; i++) {
        double t0 = bench_now();
        if (sqlite3_bind_text(by_name, 1, s[i].family, -1, SQLITE_STATIC) !=
                SQLITE_OK ||
            sqlite3_bind_text(by_name, 2, s[i].dob, -1, SQLITE_STATIC) !=
                SQLITE_OK) {
            fprintf(stderr, "baseline: bind: %s\n", sqlite3_errmsg(db));
            goto cleanup;
        }
        long rows = run_query(db, by_name, &sink);
        t_name[i] = (bench_now() - t0) * 1e6;
        if (rows < 1) {
            if (rows == 0)
                fprintf(stderr, "baseline: sample %zu: family+DOB not found\n",
                        i);
            goto cleanup;
        }
    }
    printf("engine=%s samples=%zu ssn_p50_us=%.1f ssn_p99_us=%.1f "
           "name_p50_us=%.1f name_p99_us=%.1f sink=%zu\n",
           ENGINE, n, bench_percentile(t_ssn, n, 50),
           bench_percentile(t_ssn, n, 99), bench_percentile(t_name, n, 50),
           bench_percentile(t_name, n, 99), sink % 10);
    ret = 0;
cleanup:
    (void)sqlite3_finalize(by_ssn);
    (void)sqlite3_finalize(by_name);
    if (db != NULL && !db_close(db))
        ret = 1;
    free(t_ssn);
    free(t_name);
    free(s);
    return ret;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "ingest") == 0)
        return cmd_ingest(argv[2], argv[3]);
    if (argc == 5 && strcmp(argv[1], "lookup") == 0)
        return cmd_lookup(argv[2], argv[3], argv[4]);
    return usage();
}
