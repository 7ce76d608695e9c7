/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench/baseline_pg.c - the PostgreSQL yardstick (issue 7): the same
 * people stored the way a PostgreSQL user would first protect them, with
 * pgcrypto. Each sensitive field is encrypted by the server with
 * pgp_sym_encrypt under an application key sent with every statement
 * (pgcrypto's defaults: AES-128, iterated and salted S2K), and the SSN is
 * found through a plain index on its SHA-256 (digest()). Name + birth date
 * searches use a second index on SHA-256 of lower(family) || '|' || dob.
 *
 *   bench_baseline_pgcrypto ingest CONNINFO FILE.jsonl
 *   bench_baseline_pgcrypto lookup CONNINFO FILE.jsonl N
 *
 * Ingest: jansson, one prepared INSERT a person, one transaction per
 * 10,000 people, one connection (as bench/baseline.c does for SQLite).
 * Lookup: N SSN and N family+DOB searches on bench_load_samples' sample,
 * each returning the id and the decrypted name columns: what a Strongroom
 * search reveals. Output is one line of key=value pairs for bench/pg.
 *
 * The key is $BENCH_PGCRYPTO_KEY or a fixed benchmark key. The database
 * named by CONNINFO must exist; ingest (re)creates the table.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benchutil.h"

#define BATCH 10000u

static const char schema_sql[] =
    "CREATE EXTENSION IF NOT EXISTS pgcrypto;"
    "DROP TABLE IF EXISTS persons;"
    "CREATE TABLE persons("
    " id bigserial PRIMARY KEY,"
    " ssn_hash bytea NOT NULL UNIQUE,"
    " name_hash bytea,"
    " ssn bytea, given bytea, family bytea, dob bytea,"
    " birth bytea, name bytea, contact bytea, employment bytea,"
    " investigations bytea, fingerprints bytea);"
    "CREATE INDEX persons_name_hash ON persons(name_hash);";

/* $1 ssn, $2 given, $3 family, $4 dob, $5..$10 the classes, $11 the key. */
static const char insert_sql[] =
    "INSERT INTO persons(ssn_hash, name_hash, ssn, given, family, dob,"
    " birth, name, contact, employment, investigations, fingerprints)"
    " VALUES (digest($1, 'sha256'),"
    " digest(lower($3) || '|' || $4, 'sha256'),"
    " pgp_sym_encrypt($1, $11), pgp_sym_encrypt($2, $11),"
    " pgp_sym_encrypt($3, $11), pgp_sym_encrypt($4, $11),"
    " pgp_sym_encrypt($5, $11), pgp_sym_encrypt($6, $11),"
    " pgp_sym_encrypt($7, $11), pgp_sym_encrypt($8, $11),"
    " pgp_sym_encrypt($9, $11), pgp_sym_encrypt($10, $11))";

static const char by_ssn_sql[] =
    "SELECT id, pgp_sym_decrypt(name, $2) FROM persons"
    " WHERE ssn_hash = digest($1, 'sha256')";
static const char by_name_dob_sql[] =
    "SELECT id, pgp_sym_decrypt(name, $3) FROM persons"
    " WHERE name_hash = digest(lower($1) || '|' || $2, 'sha256')";

static int usage(void)
{
    fprintf(stderr,
            "usage: bench_baseline_pgcrypto ingest CONNINFO FILE.jsonl\n"
            "       bench_baseline_pgcrypto lookup CONNINFO FILE.jsonl "
            "N\n");
    return 2;
}

static const char *bench_key(void)
{
    const char *key = getenv("BENCH_PGCRYPTO_KEY");
    return key != NULL && *key != '\0' ? key : "strongroom benchmark key";
}

/* Run a command that returns no rows; false (message on stderr) if not. */
static bool exec(PGconn *db, const char *sql)
{
    PGresult *r = PQexec(db, sql);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        fprintf(stderr, "baseline_pg: %.60s...: %s", sql, PQerrorMessage(db));
    PQclear(r);
    return ok;
}

static PGconn *db_open(const char *conninfo)
{
    PGconn *db = PQconnectdb(conninfo);
    if (db == NULL || PQstatus(db) != CONNECTION_OK) {
        fprintf(stderr, "baseline_pg: cannot connect: %s",
                db != NULL ? PQerrorMessage(db) : "out of memory\n");
        PQfinish(db);
        return NULL;
    }
    return db;
}

static bool prepare(PGconn *db, const char *name, const char *sql, int n)
{
    PGresult *r = PQprepare(db, name, sql, n, NULL);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        fprintf(stderr, "baseline_pg: prepare %s: %s", name,
                PQerrorMessage(db));
    PQclear(r);
    return ok;
}

typedef enum row_result { ROW_STORED, ROW_REJECTED, ROW_FATAL } row_result;

static row_result insert_line(PGconn *db, const char *line, size_t len,
                              const char *key)
{
    bench_person p;
    row_result res = ROW_FATAL;
    int got = bench_person_parse(line, len, &p);
    if (got <= 0) {
        res = got == 0 ? ROW_REJECTED : ROW_FATAL;
        goto cleanup;
    }
    const char *params[11] = {p.ssn, p.given, p.family, p.dob};
    for (int i = 0; i < BENCH_CLASSES; i++)
        params[4 + i] = p.col[i];
    params[10] = key;
    PGresult *r = PQexecPrepared(db, "ins", 11, params, NULL, NULL, 0);
    if (PQresultStatus(r) == PGRES_COMMAND_OK) {
        res = ROW_STORED;
    } else {
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        /* 23505: a duplicate SSN, rejected as Strongroom's import does.
         * It aborts the transaction: the batch is lost, so it is fatal
         * unless the caller's data has no duplicates (gen's has none). */
        fprintf(stderr, "baseline_pg: insert: %s", PQerrorMessage(db));
        if (state != NULL && strcmp(state, "23505") == 0)
            fprintf(stderr, "baseline_pg: duplicate SSN in the input\n");
    }
    PQclear(r);
cleanup:
    bench_person_free(&p);
    return res;
}

static int cmd_ingest(const char *conninfo, const char *file)
{
    PGconn *db = NULL;
    bench_reader r;
    bool reader_open = false, in_tx = false;
    int ret = 1;
    uint64_t stored = 0, rejected = 0, in_batch = 0;
    char *line;
    size_t len;
    int rc;
    const char *key = bench_key();

    double t0 = bench_now();
    db = db_open(conninfo);
    if (db == NULL || !exec(db, "SET client_min_messages = warning") ||
        !exec(db, schema_sql) || !prepare(db, "ins", insert_sql, 11))
        goto cleanup;
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
        row_result res = insert_line(db, line, len, key);
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
    PQfinish(db);
    if (ret == 0) {
        double secs = bench_now() - t0;
        printf("engine=pgcrypto stored=%llu rejected=%llu seconds=%.3f "
               "rate=%.0f\n",
               (unsigned long long)stored, (unsigned long long)rejected, secs,
               secs > 0 ? (double)stored / secs : 0.0);
    }
    return ret;
}

/* Run one prepared search; read every column of every row. Returns the
 * number of rows, or -1 on error. */
static int run_query(PGconn *db, const char *stmt, int n,
                     const char *const *params, size_t *sink)
{
    PGresult *r = PQexecPrepared(db, stmt, n, params, NULL, NULL, 0);
    int rows = -1;
    if (PQresultStatus(r) == PGRES_TUPLES_OK) {
        rows = PQntuples(r);
        for (int i = 0; i < rows; i++)
            for (int c = 0; c < PQnfields(r); c++) {
                int b = PQgetlength(r, i, c);
                if (b > 0)
                    *sink += (size_t)(unsigned char)PQgetvalue(r, i, c)[b - 1] +
                             (size_t)b;
            }
    } else {
        fprintf(stderr, "baseline_pg: %s: %s", stmt, PQerrorMessage(db));
    }
    PQclear(r);
    return rows;
}

/* One phase of searches (by SSN or by family name and birth date), each
 * client on a connection of its own. */
typedef struct phase {
    bench_phase b; /* first: bench_lookups runs the phases */
    const char *conninfo, *key;
} phase;

typedef struct client {
    phase *ph;
    PGconn *db;
    size_t sink;
} client;

static void *client_open(void *ctx)
{
    phase *ph = ctx;
    client *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->ph = ph;
    c->db = db_open(ph->conninfo);
    if (c->db == NULL || !prepare(c->db, "ssn", by_ssn_sql, 2) ||
        !prepare(c->db, "name", by_name_dob_sql, 3)) {
        PQfinish(c->db);
        free(c);
        return NULL;
    }
    return c;
}

static bool client_one(void *state, size_t i)
{
    client *c = state;
    const phase *ph = c->ph;
    const bench_sample *s = &ph->b.s[i];
    const char *by_ssn[2] = {s->ssn, ph->key};
    const char *by_name[3] = {s->family, s->dob, ph->key};
    double t0 = bench_now();
    int rows = ph->b.by_name ? run_query(c->db, "name", 3, by_name, &c->sink)
                             : run_query(c->db, "ssn", 2, by_ssn, &c->sink);
    ph->b.t[i] = (bench_now() - t0) * 1e6;
    if (rows == 0)
        fprintf(stderr, "baseline_pg: sample %zu: %s not found\n", i,
                ph->b.by_name ? "family+DOB" : "SSN");
    return rows > 0;
}

static void client_close(void *state)
{
    client *c = state;
    c->ph->b.sink += c->sink;
    PQfinish(c->db);
    free(c);
}

static const bench_client_ops client_ops = {client_open, client_one,
                                            client_close};

static int cmd_lookup(const char *conninfo, const char *file, const char *ns)
{
    bench_sample *s = NULL;
    size_t n = 0, want;
    unsigned clients;
    int ret = 1;

    if (!bench_parse_count(ns, &want)) {
        fprintf(stderr, "baseline_pg: N must be a positive number\n");
        return 2;
    }
    if (!bench_clients_wanted(&clients))
        return 2;
    if (!bench_load_samples(file, want, &s, &n))
        return 1;
    phase ph = {{s, NULL, false, 0}, conninfo, bench_key()};
    if (bench_lookups("pgcrypto", clients, n, &client_ops, &ph.b))
        ret = 0;
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
