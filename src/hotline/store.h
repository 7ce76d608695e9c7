/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hotline/store.h - a hotline node's messages on disk (<node>/node.db,
 * SQLite, WAL, synchronous=FULL): every message it sent or received, as
 * sealed on the wire, with its body sealed again to the node itself, and
 * its delivery state.
 *
 *   messages(id PRIMARY KEY, outgoing, peer, case_id, seq, kind, tlp,
 *            sent, envelope, env_hash, body, state, attempts,
 *            next_attempt, last_error, receipt, at, done_at,
 *            UNIQUE(peer, case_id, outgoing, seq))
 *
 * The UNIQUE constraint is the order and replay rule's last line: one
 * message per sequence number per case and direction.
 */
#ifndef STRONGROOM_HOTLINE_STORE_H
#define STRONGROOM_HOTLINE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hotline/message.h"
#include "strongroom/common.h"

typedef struct hl_store hl_store;

typedef enum hl_state {
    HL_QUEUED = 0,    /* outgoing, not yet receipted */
    HL_DELIVERED = 1, /* outgoing, the recipient's receipt kept */
    HL_RECEIVED = 2   /* incoming */
} hl_state;

/* One stored message; the blobs point into the store's row (valid until
 * the next call on the store) or, for hl_store_put, the caller's. */
typedef struct hl_record {
    hl_header h;
    bool outgoing;
    hl_state state;
    const uint8_t *envelope;
    size_t envelope_len;
    uint8_t env_hash[32];
    const uint8_t *body; /* sealed to this node */
    size_t body_len;
    const uint8_t *receipt;
    size_t receipt_len;
    uint32_t attempts;
    int64_t next_attempt, at, done_at;
    int64_t deadline; /* a request's response_deadline, Unix s; 0: none */
    char last_error[HL_ERR_MAX];
} hl_record;

#define HL_STORE_MSG_MAX 300u

SR_WARN_UNUSED sr_status hl_store_open(hl_store **out, const char *path,
                                       char msg[HL_STORE_MSG_MAX]);
void hl_store_close(hl_store *s);

/* The next sequence number for (peer, case) in one direction (1 for a
 * new case). */
SR_WARN_UNUSED sr_status hl_store_next_seq(hl_store *s, const char *peer,
                                           const char *case_id, bool outgoing,
                                           uint64_t *seq,
                                           char msg[HL_STORE_MSG_MAX]);
/* Insert a message. SR_ERR_EXISTS if its id or its (peer, case,
 * direction, seq) is taken. */
SR_WARN_UNUSED sr_status hl_store_put(hl_store *s, const hl_record *r,
                                      char msg[HL_STORE_MSG_MAX]);
/* The message with this id; SR_ERR_NOT_FOUND. */
SR_WARN_UNUSED sr_status hl_store_get(hl_store *s,
                                      const uint8_t id[HL_ID_BYTES],
                                      hl_record *r, char msg[HL_STORE_MSG_MAX]);
/* Every message, oldest first; outgoing queued ones only if queued_only. */
typedef sr_status (*hl_record_fn)(void *ctx, const hl_record *r);
SR_WARN_UNUSED sr_status hl_store_each(hl_store *s, bool queued_only,
                                       hl_record_fn fn, void *ctx,
                                       char msg[HL_STORE_MSG_MAX]);
/* An outgoing message delivered (its receipt), or a failed attempt. */
SR_WARN_UNUSED sr_status hl_store_delivered(hl_store *s,
                                            const uint8_t id[HL_ID_BYTES],
                                            const uint8_t *receipt, size_t len,
                                            int64_t now,
                                            char msg[HL_STORE_MSG_MAX]);
SR_WARN_UNUSED sr_status hl_store_attempt_failed(hl_store *s,
                                                 const uint8_t id[HL_ID_BYTES],
                                                 int64_t next_attempt,
                                                 const char *why,
                                                 char msg[HL_STORE_MSG_MAX]);

/* One request and how it was handled, seen from this node: sent by it
 * (outgoing) or received. Times are Unix seconds, 0 for none. answered:
 * when the first response was taken in (a request sent) or receipted by
 * the requester (a request received). */
typedef struct hl_case {
    bool outgoing;
    char peer[HL_NAME_MAX + 1];
    char case_id[HL_CASE_MAX + 1];
    int64_t requested, deadline, answered;
    bool acked, closed;
} hl_case;
typedef sr_status (*hl_case_fn)(void *ctx, const hl_case *c);
/* Every request, oldest first. */
SR_WARN_UNUSED sr_status hl_store_cases(hl_store *s, hl_case_fn fn, void *ctx,
                                        char msg[HL_STORE_MSG_MAX]);

/* Run fixed SQL (BEGIN IMMEDIATE, COMMIT, ROLLBACK). */
SR_WARN_UNUSED sr_status hl_store_exec(hl_store *s, const char *sql,
                                       char msg[HL_STORE_MSG_MAX]);

#endif
