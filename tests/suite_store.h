/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tests/suite_store.h - where a C test's vault keeps its people: the
 * embedded SQLite file (NULL), or, when SR_SUITE_STORE names a PostgreSQL
 * server (tests/with_pg.sh --suite), a new database of that server, so the
 * same test runs on both backends (ctest's *_pg variants).
 */
#ifndef STRONGROOM_TEST_SUITE_STORE_H
#define STRONGROOM_TEST_SUITE_STORE_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <libpq-fe.h>

/* A connection string for a new database (valid until the next call),
 * NULL for SQLite; exits the test on failure. */
static const char *suite_store(void)
{
    static char conninfo[1024];
    static unsigned made;
    char sql[96];
    const char *server = getenv("SR_SUITE_STORE");
    if (server == NULL || server[0] == '\0')
        return NULL;
    (void)snprintf(sql, sizeof sql, "CREATE DATABASE sr_suite_%ld_%u",
                   (long)getpid(), ++made);
    PGconn *c = PQconnectdb(server);
    PGresult *r = PQstatus(c) == CONNECTION_OK ? PQexec(c, sql) : NULL;
    int ok = r != NULL && PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        fprintf(stderr, "suite_store: %s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    /* The last dbname in a connection string wins. */
    int w = snprintf(conninfo, sizeof conninfo, "%s dbname=sr_suite_%ld_%u",
                     server, (long)getpid(), made);
    if (!ok || w < 0 || (size_t)w >= sizeof conninfo)
        exit(1);
    return conninfo;
}

#endif
