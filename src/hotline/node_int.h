/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hotline/node_int.h - what the parts of a hotline node share: the node
 * handle, its log's keys and batched entries, and the helpers more than
 * one part calls. node.c: the node's directory, keys and peers, listing,
 * cases and attachments; queue.c: messages queued and taken in, with
 * their receipts; deliver.c: delivery to the peers over HTTPS;
 * peerlog.c: witnessing the peers' logs and keeping their cosignatures
 * of this node's. Internal: not installed.
 */
#ifndef SR_HOTLINE_NODE_INT_H
#define SR_HOTLINE_NODE_INT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "audit/log.h"
#include "hotline/body.h"
#include "hotline/files.h"
#include "hotline/store.h"
#include "strongroom/hotline.h"
#include "util/util.h"

struct sr_hotline {
    char dir[PATH_MAX];
    hl_identity *id;
    hl_peer *peers; /* HL_PEERS_MAX */
    size_t npeers;
    struct stat peers_seen; /* the peers file as last read */
    hl_store *store;        /* node.db, opened at the first message */
    audit_log *log;         /* the node's transparency log, opened with store */
    char log_dir[PATH_MAX]; /* <dir>/log */
    char msg[SR_HOTLINE_MSG_MAX];
    hl_scratch scratch; /* bodies taken in and receipts are opened here */
};

/* The log's keys and origin ("strongroom-hotline/NAME"), for creating
 * or opening it; the keys in locked memory, freed by hl_log_keys_free. */
typedef struct log_keys {
    uint8_t *journal, *sign;
    char origin[AUDIT_ORIGIN_MAX + 1];
} log_keys;

/* Log entries gathered to be appended together: one sync for a batch. */
typedef struct log_batch {
    sr_buf *e;
    size_t n, cap;
} log_batch;

/* A reply to an HTTP request, read into p (at most cap bytes). */
typedef struct reply {
    char *p;
    size_t len, cap;
    bool too_long;
} reply;

/* node.c */
/* Write the message (printf-style) into msg, SR_HOTLINE_MSG_MAX bytes;
 * returns st. */
sr_status hl_say(char *msg, sr_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* dir "/" name into out; false if it does not fit. */
bool hl_path_in(char out[PATH_MAX], const char *dir, const char *name);

/* The node's log keys and origin, derived from its identity. */
sr_status hl_log_keys_of(const hl_identity *id, log_keys *k);

/* Free the keys of k. */
void hl_log_keys_free(log_keys *k);

/* Read the peers file again if it changed since it was last read (a
 * `peer add` from another process replaces it), or always with force.
 * A running server thus sees a new peer at its next request. */
sr_status hl_load_peers(sr_hotline *h, bool force);

/* queue.c */
/* Open node.db and the node's log (checked: a log that fails its checks
 * fails every message operation). */
sr_status hl_store_of(sr_hotline *h);

/* The message named id (32 hex digits) from node.db, its raw id in raw;
 * a message that names id and the cause if it is not there. r's body
 * lives until the store's next read. */
sr_status hl_message_get(sr_hotline *h, const char *id,
                         uint8_t raw[HL_ID_BYTES], hl_record *r);

/* Free lb's entries and empty it. */
void hl_log_batch_free(log_batch *lb);

/* Encode one entry about a message into lb: what happened to it, by its
 * hashes and numbers, never its content. action: "hotline.send.KIND",
 * "hotline.receive.KIND" or "hotline.delivered"; extra: more detail (a
 * receipt's hash), or NULL. */
sr_status hl_log_add(log_batch *lb, const char *action, const char *peer,
                     const hl_header *hd, const uint8_t env_hash[32],
                     const char *extra);

/* End a write transaction: lb's entries appended to the log, durably,
 * before the commit (the log never lacks what the node holds; it may
 * name an attempt that did not stay), then COMMIT; on any failure the
 * transaction is rolled back. lb is emptied either way. */
sr_status hl_log_and_commit(sr_hotline *h, log_batch *lb);

/* End a write transaction that failed; its own failure changes nothing
 * (the connection rolls back when it closes). */
void hl_rollback(hl_store *s);

/* The peer called name, or NULL. */
const hl_peer *hl_peer_named(const sr_hotline *h, const char *name);

/* Now, as RFC 3339 UTC text and as Unix seconds. */
void hl_now_utc(char out[21], int64_t *secs);

/* deliver.c */
/* A request to <peer url>/<path>: a POST of body (envelopes, one a line)
 * when body is not NULL, else a GET; the reply into r (at most r->cap
 * bytes). false, with why, if it could not be made; else *status is the
 * HTTP status. */
bool hl_http_call(const hl_peer *to, const char *ca_file, const char *path,
                  const char *body, size_t len, reply *r, long *status,
                  char why[HL_ERR_MAX]);

/* peerlog.c */
/* The bytes a node signs to vouch for its witness's cosignature of a
 * partner's checkpoint: "srcosig1\n" vkey "\n" note. */
sr_status hl_cosig_message(const char *vkey, const char *note, sr_buf *out);
#endif
