/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store.h - the storage interface (internal). A backend is a table of
 * function pointers; the vault sees only this, so SQLite (store_sqlite.c)
 * and PostgreSQL (store_pg.c) implement the same contract. Backends turn their
 * own error codes into sr_status here and nowhere else, and keep a message
 * on the handle (never an identifier: the store sees only ciphertext,
 * ids and index values).
 *
 * What a backend stores per person: the id, the record version, the KEK
 * version and the wrapped data key, and one sealed envelope per non-empty
 * field class; and for search, (kind, value, person id) blind-index rows.
 * Plus a small key/value meta table, and a table of small documents
 * (kind, key) -> blob for the principals, tokens, cases and policy
 * versions, which are few and read by key.
 */
#ifndef SR_STORE_H
#define SR_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strongroom/common.h"

struct sr_buf;

typedef struct store store;

typedef struct store_row {
    uint8_t id[SR_ID_BYTES];
    uint32_t version;     /* record version, >= 1 */
    uint32_t kek_version; /* KEK version wrapping the data key */
    /* Classes that have an envelope (SR_CLASS_BIT), as written by the
     * vault; returned by every read whatever the class mask, so the vault
     * can tell a class deleted under it from one never written. */
    unsigned present;
    const uint8_t *wrapped;
    size_t wrapped_len;
    /* Sealed envelopes; NULL/0 when the class is empty or not requested. */
    const uint8_t *cls[SR_CLASS_COUNT];
    size_t cls_len[SR_CLASS_COUNT];
    /* Where the store keeps the person (read only; writes ignore it): a
     * store that compacts (ops->compact) keeps the people of one retention
     * cluster together, so a retention run reads and deletes a few runs of
     * pages instead of a page here and there over the whole file. 0: not
     * in a cluster (written since the last compaction, or never
     * compacted). */
    uint16_t cluster;
} store_row;

typedef struct store_index {
    uint8_t kind;   /* INDEX_SSN, INDEX_NAME_DOB */
    uint64_t value; /* truncated keyed hash */
} store_index;

/* One person for remove: the id and the index rows the caller computed
 * from the record it read. */
typedef struct store_removal {
    const uint8_t *id; /* SR_ID_BYTES */
    const store_index *idx;
    size_t nidx;
} store_removal;

typedef struct store_stats {
    uint64_t people;
    uint64_t index_entries;
    uint64_t db_bytes;
    uint64_t wal_bytes;
    uint64_t ciphertext_bytes;
    uint64_t people_by_kek[8];
} store_stats;

/* Rows handed to a callback are valid only during the call. Return SR_OK to
 * go on; anything else stops the walk and is returned. */
typedef sr_status (*store_row_fn)(void *ctx, const store_row *row);

/* The cluster a person belongs in, from the row (its classes as the
 * compaction asked for them): set *cluster, 1 to 65535. */
typedef sr_status (*store_cluster_fn)(void *ctx, const store_row *row,
                                      uint16_t *cluster);

/* Called once per document; the value is valid only during the call. */
typedef sr_status (*store_doc_fn)(void *ctx, const char *key, const uint8_t *v,
                                  size_t len);

#define STORE_DOC_MAX (2u << 20)
#define STORE_DOC_KEY_MAX 256u

#define STORE_OPEN_CREATE 1u /* create a new, empty store */
#define STORE_OPEN_WRITE 2u
/* A backup's records (SQLite only): every person is written without
 * their wrapped key, an empty one in its place, whatever the row holds;
 * no key byte ever reaches the file or its journal. */
#define STORE_OPEN_KEYLESS 4u

typedef struct store_ops store_ops;

/* How far a long store operation has come (copy_to: people written). */
typedef struct store_progress {
    void (*fn)(void *ctx, uint64_t done);
    void *ctx;
} store_progress;
struct store_ops {
    const char *name;
    /* On failure *out may still be set, to read the message; close it. */
    sr_status (*open)(store **out, const char *location, unsigned flags);
    void (*close)(store *s);
    const char *(*errmsg)(const store *s);

    /* Meta values are small blobs (at most 4 KiB). */
    sr_status (*meta_get)(store *s, const char *key, uint8_t *buf, size_t cap,
                          size_t *len);
    sr_status (*meta_put)(store *s, const char *key, const uint8_t *v,
                          size_t len);

    /* Writes between begin and commit are atomic; rollback undoes them. */
    sr_status (*begin)(store *s);
    sr_status (*commit)(store *s);
    sr_status (*rollback)(store *s);

    /* Insert a new person with its index rows. SR_ERR_EXISTS if the id is
     * taken (practically never: ids are random). */
    sr_status (*insert)(store *s, const store_row *row, const store_index *idx,
                        size_t nidx);
    /* Replace a person whose stored version is row->version - 1; its index
     * rows old_idx (as the caller computed them from the record it read)
     * give way to idx. The caller names the old rows so the store needs
     * no second index by person, which would double the random writes of
     * every insert. SR_ERR_CONFLICT if the version moved, SR_ERR_NOT_FOUND. */
    sr_status (*replace)(store *s, const store_row *row,
                         const store_index *old_idx, size_t nold,
                         const store_index *idx, size_t nidx);
    /* Delete the people rm[0..n) with their index rows (one statement on
     * PostgreSQL, so a retention run pays one round trip per batch, not
     * per person). The bytes are overwritten in the file (secure delete);
     * they stay in the write-ahead log until purge. SR_ERR_NOT_FOUND if
     * any of them is not there. Outside a transaction all of them go or
     * none; inside the caller's, a failure leaves that transaction to be
     * rolled back whole (no savepoint per call: a retention run removes
     * 65,536 people in one). */
    sr_status (*remove)(store *s, const store_removal *rm, size_t n);
    /* Copy the write-ahead log into the file and empty it, so no page
     * image written before lives on in it. SR_ERR_LOCKED while another
     * connection still reads an older state (try again when it is done). */
    sr_status (*purge)(store *s);

    /* Backups (docs/retention.md, "Backups"). backup writes a consistent
     * copy of the store to path (a new file, fsynced) with every person's
     * wrapped data key emptied, and no byte of them left in its free
     * space: the records without their keys. Works on a read-only
     * handle. set_key puts a person's wrapped key back (kek_version, len
     * bytes) into a restored copy; SR_ERR_NOT_FOUND if no such person,
     * SR_ERR_EXISTS if theirs is there. drop_keyless deletes every person
     * left without a key, with their index rows (secure delete), and says
     * how many. */
    sr_status (*backup)(store *s, const char *path);
    sr_status (*set_key)(store *s, const uint8_t id[SR_ID_BYTES],
                         uint32_t kek_version, const uint8_t *wrapped,
                         size_t len);
    sr_status (*drop_keyless)(store *s, uint64_t *removed);
    /* Write everything of this store into dst, a new, empty store of
     * either backend opened for writing: the meta values, the documents,
     * and every person with their index rows, read in one snapshot of s
     * and written in one transaction of dst, committed here (rolled back
     * on failure; then s's message says what failed). A keyless dst
     * (STORE_OPEN_KEYLESS) gets no key. No transaction of s may be open.
     * backup is copy_to into a new keyless SQLite file; moving a vault
     * onto PostgreSQL is copy_to into a PostgreSQL store. progress (may
     * be NULL) hears the people written so far after each batch. */
    sr_status (*copy_to)(store *s, const struct store_ops *dst_ops, store *dst,
                         const struct store_progress *progress);
    /* Remove the store that open(STORE_OPEN_CREATE) made through this
     * handle, with whatever was written into it since: its tables, in one
     * transaction, so the database is as it was before (a move that
     * failed, or whose copy the vault could not take up). Only for a
     * store this very handle created. NULL for SQLite, whose file the
     * caller removes. */
    sr_status (*discard)(store *s);
    /* Fetch one person with the classes in class_mask. */
    sr_status (*get)(store *s, const uint8_t id[SR_ID_BYTES],
                     unsigned class_mask, store_row_fn fn, void *ctx);
    /* Every person whose index row (kind, value) exists, with the classes
     * in class_mask. */
    sr_status (*lookup)(store *s, uint8_t kind, uint64_t value,
                        unsigned class_mask, store_row_fn fn, void *ctx);
    /* Optional, for bulk imports (NULL: the caller loops over lookup and
     * insert). lookup_any: every person with an index row (kind, v) for
     * any v in values[0..n-1], each once, in no particular order.
     * insert_many: n new people and their index rows (idx[i], nidx[i])
     * at once, inside the caller's transaction; SR_ERR_EXISTS if an id
     * is taken, and the transaction is then lost. */
    sr_status (*lookup_any)(store *s, uint8_t kind, const uint64_t *values,
                            size_t n, unsigned class_mask, store_row_fn fn,
                            void *ctx);
    sr_status (*insert_many)(store *s, const store_row *rows,
                             const store_index *const *idx, const size_t *nidx,
                             size_t n);
    /* Every person, in storage order: SQLite's is the order of each
     * person's last write (a replace appends), PostgreSQL's the order of
     * insertion. */
    sr_status (*scan)(store *s, unsigned class_mask, store_row_fn fn,
                      void *ctx);
    sr_status (*stats)(store *s, store_stats *st);

    /* Retention clusters (docs/storage.md, "Compaction"). Optional: NULL
     * in a backend that keeps none (PostgreSQL), and then every row reads
     * back with cluster 0.
     *
     * scan_clusters: every person of the clusters clusters[0..n), cluster
     * by cluster in the order given, each in storage order; cluster 0 is
     * everyone not in a cluster.
     *
     * compact: rewrite the whole store into a new file, people ordered by
     * the cluster fn gives each (fn sees the classes in class_mask), in
     * one snapshot, and put it in place of the old, whose bytes are then
     * overwritten with zeros. Every row and index row is written in key
     * order, so the new file holds no stale copy of anything (a page split
     * in the middle of a tree leaves some behind). Needs the writer's
     * lock and no open transaction; SR_ERR_LOCKED if another connection
     * still reads the write-ahead log. On failure the store is as it was.
     * progress (may be NULL) hears the people read, then written. */
    sr_status (*scan_clusters)(store *s, const uint16_t *clusters, size_t n,
                               unsigned class_mask, store_row_fn fn, void *ctx);
    sr_status (*compact)(store *s, unsigned class_mask, store_cluster_fn fn,
                         void *ctx, const struct store_progress *progress);

    /* Documents: at most STORE_DOC_MAX bytes each, kind and key at most
     * STORE_DOC_KEY_MAX bytes of text. doc_get appends the value to out
     * (SR_ERR_NOT_FOUND if absent); doc_put inserts or replaces;
     * doc_insert fails with SR_ERR_EXISTS if the key is taken; doc_delete
     * of an absent key is SR_ERR_NOT_FOUND; doc_scan walks one kind in
     * key order. */
    sr_status (*doc_get)(store *s, const char *kind, const char *key,
                         struct sr_buf *out);
    sr_status (*doc_put)(store *s, const char *kind, const char *key,
                         const uint8_t *v, size_t len);
    sr_status (*doc_insert)(store *s, const char *kind, const char *key,
                            const uint8_t *v, size_t len);
    sr_status (*doc_delete)(store *s, const char *kind, const char *key);
    sr_status (*doc_scan)(store *s, const char *kind, store_doc_fn fn,
                          void *ctx);
};

extern const store_ops store_sqlite_ops;
/* Remove a SQLite store's file at path and its -wal and -shm beside it
 * (what is not there is no error): a failed backup, a moved vault. */
void store_sqlite_remove(const char *path);
/* PostgreSQL 15 and later (store_pg.c); the location is a libpq
 * connection string or URI. */
extern const store_ops store_pg_ops;
/* Is conninfo a connection string libpq can parse? *password tells
 * whether it carries one. */
bool store_pg_conninfo_check(const char *conninfo, bool *password);

/* ---- shared by the backends (store_common.c) ---------------------------- */

/* Make path, a backup's new file (mode 0600), refusing one that exists
 * (SR_ERR_EXISTS; SR_ERR_IO with errno kept). */
sr_status store_backup_claim(const char *path);
/* The backup op of both backends: claim path, open a new keyless SQLite
 * store there, copy s into it with ops->copy_to (no key byte is ever
 * written, so none can be left in a page's free space) and sync it; on
 * failure the file is removed and why says what failed unless copy_to
 * has put that on s already (why is then ""). */
#define STORE_WHY_MAX 320u
sr_status store_backup_copy(store *s, const store_ops *ops, const char *path,
                            char why[STORE_WHY_MAX]);

/* copy_to's writing side, shared by the backends: rows are copied out of
 * the source into a batch and written STORE_SINK_BATCH at a time
 * (insert_many where dst has it, else insert each), inside the dst
 * transaction the sink begins and store_sink_end commits (or rolls back,
 * given a failure). Index rows come as text "kind:value,kind:value" (the
 * source's string_agg or group_concat of them; NULL or "" for none). On
 * failure the sink's message (msg) says what failed, with dst's words. */
#define STORE_SINK_BATCH 256u
#define STORE_SINK_INDEX_MAX 32u
typedef struct store_sink {
    const store_ops *ops;
    store *dst;
    size_t n;
    store_row rows[STORE_SINK_BATCH];
    store_index idx[STORE_SINK_BATCH][STORE_SINK_INDEX_MAX];
    const store_index *idxp[STORE_SINK_BATCH];
    size_t nidx[STORE_SINK_BATCH];
    uint8_t *arena; /* the batch's row bytes */
    size_t used, cap;
    const store_progress *progress; /* or NULL */
    uint64_t written;
    char msg[256];
} store_sink;
sr_status store_sink_begin(store_sink *k, const store_ops *ops, store *dst,
                           const store_progress *progress);
sr_status store_sink_meta(store_sink *k, const char *key, const uint8_t *v,
                          size_t len);
sr_status store_sink_doc(store_sink *k, const char *kind, const char *key,
                         const uint8_t *v, size_t len);
sr_status store_sink_person(store_sink *k, const store_row *row,
                            const char *index_text);
/* The same with the index rows already read (at most
 * STORE_SINK_INDEX_MAX). */
sr_status store_sink_person_idx(store_sink *k, const store_row *row,
                                const store_index *idx, size_t nidx);
/* Write what is batched and commit if st is SR_OK; else roll back. Frees
 * the sink's memory either way and returns the outcome. */
sr_status store_sink_end(store_sink *k, sr_status st);
/* Index rows as the sources give them, "kind:value,kind:value" (NULL or
 * "" for none), into idx[0..*n), at most STORE_SINK_INDEX_MAX; false for
 * anything else (a tampered or damaged store). */
bool store_index_text_parse(const char *t, store_index *idx, size_t *n);

/* A row fit to write: versions from 1, a wrapped key, no empty envelope.
 * store_row_valid_keyless: the same but for the key (a backup's rows). */
bool store_row_valid(const store_row *row);
bool store_row_valid_keyless(const store_row *row);

/* The row-returning queries. Each returns id, version, kek_version,
 * wrapped, c0..c5 and present, in that order, then whatever the backend's
 * own tail adds (SQLite's: seq); a class outside the mask is selected as
 * a NULL literal, so its envelope is never read. */
typedef enum store_query {
    STORE_Q_GET,    /* one person by id */
    STORE_Q_LOOKUP, /* the people under one index value (persons as p) */
    STORE_Q_SCAN,   /* everyone, in storage order */
    STORE_Q_RANGE,  /* the people of a range of storage (SQLite's clusters) */
    STORE_QUERIES
} store_query;
#define STORE_SQL_MAX 512u
/* What differs between SQL dialects: each query's text after the class
 * columns (its FROM and WHERE, with the dialect's parameters), and a
 * class column not asked for. */
typedef struct store_dialect {
    const char *tails[STORE_QUERIES];
    const char *null_column;
} store_dialect;
void store_masked_sql(char sql[STORE_SQL_MAX], store_query q, unsigned mask,
                      const store_dialect *d);

/* The current schema version of every backend. */
#define STORE_SCHEMA_VERSION 2u

#endif
