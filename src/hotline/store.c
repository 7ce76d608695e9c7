/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hotline/store.c - a hotline node's messages in SQLite (store.h).
 */
#include "hotline/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

struct hl_store {
    sqlite3 *db;
    sqlite3_stmt *held; /* the last hl_store_get's row, kept for its blobs */
};

static const char schema[] =
    "PRAGMA journal_mode = WAL;"
    "PRAGMA synchronous = FULL;"
    "CREATE TABLE IF NOT EXISTS messages("
    " id BLOB PRIMARY KEY CHECK (length(id) = 16),"
    " outgoing INTEGER NOT NULL,"
    " peer TEXT NOT NULL, case_id TEXT NOT NULL, seq INTEGER NOT NULL,"
    " kind INTEGER NOT NULL, tlp INTEGER NOT NULL, sent TEXT NOT NULL,"
    " envelope BLOB NOT NULL, env_hash BLOB NOT NULL, body BLOB NOT NULL,"
    " state INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
    " next_attempt INTEGER NOT NULL DEFAULT 0, last_error TEXT,"
    " receipt BLOB, at INTEGER NOT NULL, done_at INTEGER,"
    " deadline INTEGER,"
    " UNIQUE(peer, case_id, outgoing, seq));";

#define COLUMNS                                                                \
    "id, outgoing, peer, case_id, seq, kind, tlp, sent, envelope, env_hash,"   \
    " body, state, attempts, next_attempt, last_error, receipt, at, done_at,"  \
    " deadline"

static sr_status fail(sqlite3 *db, char msg[HL_STORE_MSG_MAX], const char *what)
{
    int rc = db != NULL ? sqlite3_extended_errcode(db) : SQLITE_NOMEM;
    (void)snprintf(msg, HL_STORE_MSG_MAX, "node.db: %s: %s", what,
                   db != NULL ? sqlite3_errmsg(db) : "out of memory");
    switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
        return SR_ERR_EXISTS;
    case SQLITE_FULL:
        return SR_ERR_FULL;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return SR_ERR_LOCKED;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return SR_ERR_CORRUPT;
    case SQLITE_NOMEM:
        return SR_ERR_NOMEM;
    default:
        return SR_ERR_IO;
    }
}

sr_status hl_store_open(hl_store **out, const char *path,
                        char msg[HL_STORE_MSG_MAX])
{
    *out = NULL;
    hl_store *s = calloc(1, sizeof *s);
    if (s == NULL)
        return SR_ERR_NOMEM;
    int rc = sqlite3_open_v2(
        path, &s->db,
        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    sr_status st = SR_OK;
    if (rc != SQLITE_OK || sqlite3_busy_timeout(s->db, 5000) != SQLITE_OK ||
        sqlite3_exec(s->db, schema, NULL, NULL, NULL) != SQLITE_OK)
        st = fail(s->db, msg, "cannot open");
    if (st != SR_OK) {
        hl_store_close(s);
        return st;
    }
    *out = s;
    return SR_OK;
}

void hl_store_close(hl_store *s)
{
    if (s == NULL)
        return;
    (void)sqlite3_finalize(s->held);
    (void)sqlite3_close(s->db);
    free(s);
}

static sr_status prepare(hl_store *s, const char *sql, sqlite3_stmt **q,
                         char msg[HL_STORE_MSG_MAX])
{
    if (sqlite3_prepare_v2(s->db, sql, -1, q, NULL) != SQLITE_OK)
        return fail(s->db, msg, "cannot prepare a statement");
    return SR_OK;
}

sr_status hl_store_next_seq(hl_store *s, const char *peer, const char *case_id,
                            bool outgoing, uint64_t *seq,
                            char msg[HL_STORE_MSG_MAX])
{
    sqlite3_stmt *q = NULL;
    sr_status st = prepare(s,
                           "SELECT coalesce(max(seq), 0) + 1 FROM messages "
                           "WHERE peer = ?1 AND case_id = ?2 AND "
                           "outgoing = ?3 AND kind <> ?4",
                           &q, msg);
    if (st != SR_OK)
        return st;
    (void)sqlite3_bind_text(q, 1, peer, -1, SQLITE_STATIC);
    (void)sqlite3_bind_text(q, 2, case_id, -1, SQLITE_STATIC);
    (void)sqlite3_bind_int(q, 3, outgoing);
    (void)sqlite3_bind_int(q, 4, HL_RECEIPT);
    if (sqlite3_step(q) == SQLITE_ROW)
        *seq = (uint64_t)sqlite3_column_int64(q, 0);
    else
        st = fail(s->db, msg, "cannot read the case's sequence");
    (void)sqlite3_finalize(q);
    return st;
}

static void bind_blob(sqlite3_stmt *q, int i, const void *p, size_t n)
{
    if (p == NULL)
        (void)sqlite3_bind_null(q, i);
    else
        (void)sqlite3_bind_blob64(q, i, n > 0 ? p : "", n, SQLITE_STATIC);
}

sr_status hl_store_put(hl_store *s, const hl_record *r,
                       char msg[HL_STORE_MSG_MAX])
{
    sqlite3_stmt *q = NULL;
    sr_status st =
        prepare(s,
                "INSERT INTO messages(" COLUMNS ") VALUES(?1, ?2, ?3, ?4, ?5,"
                " ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,"
                " ?19)",
                &q, msg);
    if (st != SR_OK)
        return st;
    bind_blob(q, 1, r->h.id, HL_ID_BYTES);
    (void)sqlite3_bind_int(q, 2, r->outgoing);
    (void)sqlite3_bind_text(q, 3, r->outgoing ? r->h.to : r->h.from, -1,
                            SQLITE_STATIC);
    (void)sqlite3_bind_text(q, 4, r->h.case_id, -1, SQLITE_STATIC);
    (void)sqlite3_bind_int64(q, 5, (sqlite3_int64)r->h.seq);
    (void)sqlite3_bind_int(q, 6, (int)r->h.kind);
    (void)sqlite3_bind_int(q, 7, (int)r->h.tlp);
    (void)sqlite3_bind_text(q, 8, r->h.sent, -1, SQLITE_STATIC);
    bind_blob(q, 9, r->envelope, r->envelope_len);
    bind_blob(q, 10, r->env_hash, sizeof r->env_hash);
    bind_blob(q, 11, r->body, r->body_len);
    (void)sqlite3_bind_int(q, 12, (int)r->state);
    (void)sqlite3_bind_int64(q, 13, r->attempts);
    (void)sqlite3_bind_int64(q, 14, r->next_attempt);
    if (r->last_error[0] != '\0')
        (void)sqlite3_bind_text(q, 15, r->last_error, -1, SQLITE_STATIC);
    else
        (void)sqlite3_bind_null(q, 15);
    bind_blob(q, 16, r->receipt, r->receipt_len);
    (void)sqlite3_bind_int64(q, 17, r->at);
    if (r->done_at != 0)
        (void)sqlite3_bind_int64(q, 18, r->done_at);
    else
        (void)sqlite3_bind_null(q, 18);
    if (r->deadline != 0)
        (void)sqlite3_bind_int64(q, 19, r->deadline);
    else
        (void)sqlite3_bind_null(q, 19);
    if (sqlite3_step(q) != SQLITE_DONE)
        st = fail(s->db, msg, "cannot store the message");
    (void)sqlite3_finalize(q);
    return st;
}

/* Column i as a blob pointer (NULL for NULL). */
static const uint8_t *col_blob(sqlite3_stmt *q, int i, size_t *n)
{
    const uint8_t *p = sqlite3_column_blob(q, i);
    *n = (size_t)sqlite3_column_bytes(q, i);
    return p;
}

static sr_status row_read(sqlite3_stmt *q, hl_record *r,
                          char msg[HL_STORE_MSG_MAX])
{
    size_t n = 0;
    memset(r, 0, sizeof *r);
    const uint8_t *id = col_blob(q, 0, &n);
    const unsigned char *peer = sqlite3_column_text(q, 2);
    const unsigned char *cas = sqlite3_column_text(q, 3);
    const unsigned char *sent = sqlite3_column_text(q, 7);
    const uint8_t *hash = NULL;
    size_t hn = 0;
    hash = col_blob(q, 9, &hn);
    int kind = sqlite3_column_int(q, 5), tlp = sqlite3_column_int(q, 6);
    if (id == NULL || n != HL_ID_BYTES || peer == NULL || cas == NULL ||
        sent == NULL || hash == NULL || hn != 32 || kind < 0 ||
        kind >= HL_KIND_COUNT || tlp < 0 || tlp >= HL_TLP_COUNT) {
        (void)snprintf(msg, HL_STORE_MSG_MAX, "node.db: a malformed row");
        return SR_ERR_CORRUPT;
    }
    memcpy(r->h.id, id, HL_ID_BYTES);
    r->outgoing = sqlite3_column_int(q, 1) != 0;
    (void)snprintf(r->outgoing ? r->h.to : r->h.from, sizeof r->h.to, "%s",
                   (const char *)peer);
    (void)snprintf(r->h.case_id, sizeof r->h.case_id, "%s", (const char *)cas);
    r->h.seq = (uint64_t)sqlite3_column_int64(q, 4);
    r->h.kind = (hl_kind)kind;
    r->h.tlp = (hl_tlp)tlp;
    (void)snprintf(r->h.sent, sizeof r->h.sent, "%s", (const char *)sent);
    r->envelope = col_blob(q, 8, &r->envelope_len);
    memcpy(r->env_hash, hash, 32);
    r->body = col_blob(q, 10, &r->body_len);
    r->state = (hl_state)sqlite3_column_int(q, 11);
    r->attempts = (uint32_t)sqlite3_column_int64(q, 12);
    r->next_attempt = sqlite3_column_int64(q, 13);
    const unsigned char *err = sqlite3_column_text(q, 14);
    if (err != NULL)
        (void)snprintf(r->last_error, sizeof r->last_error, "%s",
                       (const char *)err);
    r->receipt = col_blob(q, 15, &r->receipt_len);
    r->at = sqlite3_column_int64(q, 16);
    r->done_at = sqlite3_column_int64(q, 17);
    r->deadline = sqlite3_column_int64(q, 18);
    return SR_OK;
}

sr_status hl_store_get(hl_store *s, const uint8_t id[HL_ID_BYTES], hl_record *r,
                       char msg[HL_STORE_MSG_MAX])
{
    (void)sqlite3_finalize(s->held);
    s->held = NULL;
    sr_status st = prepare(s, "SELECT " COLUMNS " FROM messages WHERE id = ?1",
                           &s->held, msg);
    if (st != SR_OK)
        return st;
    bind_blob(s->held, 1, id, HL_ID_BYTES);
    int rc = sqlite3_step(s->held);
    if (rc == SQLITE_ROW)
        return row_read(s->held, r, msg);
    if (rc == SQLITE_DONE) {
        (void)snprintf(msg, HL_STORE_MSG_MAX, "no such message");
        return SR_ERR_NOT_FOUND;
    }
    return fail(s->db, msg, "cannot read a message");
}

sr_status hl_store_each(hl_store *s, bool queued_only, hl_record_fn fn,
                        void *ctx, char msg[HL_STORE_MSG_MAX])
{
    sqlite3_stmt *q = NULL;
    hl_record r;
    sr_status st = prepare(
        s,
        queued_only ? "SELECT " COLUMNS " FROM messages WHERE outgoing = 1 "
                      "AND state = 0 ORDER BY at, rowid"
                    : "SELECT " COLUMNS " FROM messages ORDER BY at, rowid",
        &q, msg);
    int rc = SQLITE_DONE;
    while (st == SR_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        st = row_read(q, &r, msg);
        if (st == SR_OK)
            st = fn(ctx, &r);
    }
    if (st == SR_OK && rc != SQLITE_DONE)
        st = fail(s->db, msg, "cannot list the messages");
    (void)sqlite3_finalize(q);
    return st;
}

static sr_status update(hl_store *s, const char *sql,
                        const uint8_t id[HL_ID_BYTES], const void *blob,
                        size_t len, int64_t when, const char *text,
                        char msg[HL_STORE_MSG_MAX])
{
    sqlite3_stmt *q = NULL;
    sr_status st = prepare(s, sql, &q, msg);
    if (st != SR_OK)
        return st;
    bind_blob(q, 1, id, HL_ID_BYTES);
    bind_blob(q, 2, blob, len);
    (void)sqlite3_bind_int64(q, 3, when);
    (void)sqlite3_bind_text(q, 4, text != NULL ? text : "", -1, SQLITE_STATIC);
    if (sqlite3_step(q) != SQLITE_DONE)
        st = fail(s->db, msg, "cannot update a message");
    else if (sqlite3_changes(s->db) != 1) {
        (void)snprintf(msg, HL_STORE_MSG_MAX, "no such queued message");
        st = SR_ERR_NOT_FOUND;
    }
    (void)sqlite3_finalize(q);
    return st;
}

sr_status hl_store_delivered(hl_store *s, const uint8_t id[HL_ID_BYTES],
                             const uint8_t *receipt, size_t len, int64_t now,
                             char msg[HL_STORE_MSG_MAX])
{
    return update(s,
                  "UPDATE messages SET state = 1, receipt = ?2, done_at = ?3, "
                  "last_error = NULLIF(?4, '') WHERE id = ?1 AND state = 0",
                  id, receipt, len, now, NULL, msg);
}

sr_status hl_store_attempt_failed(hl_store *s, const uint8_t id[HL_ID_BYTES],
                                  int64_t next_attempt, const char *why,
                                  char msg[HL_STORE_MSG_MAX])
{
    return update(s,
                  "UPDATE messages SET attempts = attempts + 1, "
                  "next_attempt = ?3, last_error = ?4, "
                  "receipt = coalesce(?2, receipt) "
                  "WHERE id = ?1 AND state = 0",
                  id, NULL, 0, next_attempt, why, msg);
}

sr_status hl_store_exec(hl_store *s, const char *sql,
                        char msg[HL_STORE_MSG_MAX])
{
    (void)sqlite3_finalize(s->held); /* a held read would block a write */
    s->held = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return fail(s->db, msg, sql);
    return SR_OK;
}

sr_status hl_store_cases(hl_store *s, hl_case_fn fn, void *ctx,
                         char msg[HL_STORE_MSG_MAX])
{
    /* One row a request: whether the other side acknowledged it, when it
     * was first answered (taken in, for a request this node sent; its
     * receipt kept, for one it received) and whether the case closed. */
    static const char sql[] =
        "SELECT r.outgoing, r.peer, r.case_id, r.at, r.deadline,"
        " EXISTS(SELECT 1 FROM messages a WHERE a.peer = r.peer AND"
        "  a.case_id = r.case_id AND a.outgoing <> r.outgoing AND"
        "  a.kind = ?1 AND (a.outgoing = 0 OR a.state = 1)),"
        " (SELECT min(CASE WHEN x.outgoing = 1 THEN x.done_at ELSE x.at END)"
        "  FROM messages x WHERE x.peer = r.peer AND x.case_id = r.case_id"
        "  AND x.outgoing <> r.outgoing AND x.kind = ?2 AND"
        "  (x.outgoing = 0 OR x.state = 1)),"
        " EXISTS(SELECT 1 FROM messages c WHERE c.peer = r.peer AND"
        "  c.case_id = r.case_id AND c.kind = ?3)"
        " FROM messages r WHERE r.kind = ?4 ORDER BY r.at, r.rowid";
    sqlite3_stmt *q = NULL;
    sr_status st = prepare(s, sql, &q, msg);
    if (st != SR_OK)
        return st;
    (void)sqlite3_bind_int(q, 1, HL_ACK);
    (void)sqlite3_bind_int(q, 2, HL_RESPONSE);
    (void)sqlite3_bind_int(q, 3, HL_CLOSE);
    (void)sqlite3_bind_int(q, 4, HL_REQUEST);
    int rc = SQLITE_DONE;
    while (st == SR_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        hl_case c;
        memset(&c, 0, sizeof c);
        const unsigned char *peer = sqlite3_column_text(q, 1);
        const unsigned char *cas = sqlite3_column_text(q, 2);
        if (peer == NULL || cas == NULL) {
            (void)snprintf(msg, HL_STORE_MSG_MAX, "node.db: a malformed row");
            st = SR_ERR_CORRUPT;
            break;
        }
        c.outgoing = sqlite3_column_int(q, 0) != 0;
        (void)snprintf(c.peer, sizeof c.peer, "%s", (const char *)peer);
        (void)snprintf(c.case_id, sizeof c.case_id, "%s", (const char *)cas);
        c.requested = sqlite3_column_int64(q, 3);
        c.deadline = sqlite3_column_int64(q, 4);
        c.acked = sqlite3_column_int(q, 5) != 0;
        c.answered = sqlite3_column_int64(q, 6); /* 0: NULL */
        c.closed = sqlite3_column_int(q, 7) != 0;
        st = fn(ctx, &c);
    }
    if (st == SR_OK && rc != SQLITE_DONE)
        st = fail(s->db, msg, "cannot list the cases");
    (void)sqlite3_finalize(q);
    return st;
}
