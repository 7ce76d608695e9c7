/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log.h - the vault's audit log on disk (internal): durable appends with
 * group commit, and integration into C2SP tlog-tiles with signed
 * checkpoints.
 *
 * Files (docs/audit.md):
 *   <vault>/log/checkpoint, log/tile/..., log/history/<size>   (public)
 *   <vault>/log.vkey           the checkpoint verifier key (signed-note text)
 *   <vault>/audit/journal      entries not yet in tiles, MAC-chained
 *   <vault>/audit/lock         serialises writers across processes
 *   <vault>/audit/nodes/<h>    node hashes for fast proofs (derived)
 *
 * audit_log_append returns only when the entry is on disk (written and
 * fdatasync'd in the journal): that is the durability log-then-reveal
 * needs. Concurrent appends from threads of one process share one sync.
 * Several processes may append to one vault's log; a file lock orders
 * them. audit_log_checkpoint moves the journal into tiles and signs a new
 * checkpoint.
 *
 * One audit_log per vault directory per process, shared by every vault
 * handle on it (audit_log_open counts references); all functions are
 * thread-safe. Once a write or sync fails the log is marked broken and
 * every later append fails: after a failed fsync nothing can be trusted
 * to be on disk, and fail-closed is the rule.
 */
#ifndef SR_AUDIT_LOG_H
#define SR_AUDIT_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "strongroom/common.h"
#include "util/util.h"

typedef struct audit_log audit_log;

#define AUDIT_MSG_MAX 512u
#define AUDIT_ORIGIN_MAX 128u

typedef struct audit_log_config {
    const char *vault_dir;
    const uint8_t *journal_key; /* 32 bytes: the journal MAC chain */
    const uint8_t *sign_seed;   /* 32 bytes: the Ed25519 checkpoint key */
    const char *origin;         /* checkpoint origin and key name */
} audit_log_config;

/* Create the log of a new vault: an empty tree, its signed checkpoint, an
 * empty journal, and <vault>/log.vkey. SR_ERR_EXISTS if there is one. */
SR_WARN_UNUSED sr_status audit_log_create(const audit_log_config *c,
                                          char msg[AUDIT_MSG_MAX]);

/* Open (or share) the log of a vault. Checks, before anything is read or
 * written: the checkpoint's signature, that the tiles hash to its root,
 * and the journal's MAC chain (a torn record at the end, from a crash
 * before its sync, is cut away with anything after the records: it was
 * never acknowledged; docs/audit.md, "Journal"). Any other mismatch is
 * SR_ERR_AUDIT with the reason in msg. */
SR_WARN_UNUSED sr_status audit_log_open(audit_log **out,
                                        const audit_log_config *c,
                                        char msg[AUDIT_MSG_MAX]);
/* Drop one reference; the last one checkpoints if entries are pending
 * (errors are ignored there: they were reported by the appends) and
 * frees. Accepts NULL. */
void audit_log_release(audit_log *l);

/* Append one encoded entry; on SR_OK it is durable and *index is its
 * leaf index. SR_ERR_AUDIT (the log is broken or failed verification),
 * SR_ERR_FULL, SR_ERR_IO, with the reason in msg. */
SR_WARN_UNUSED sr_status audit_log_append(audit_log *l, const uint8_t *e,
                                          size_t len, uint64_t *index,
                                          char msg[AUDIT_MSG_MAX]);

/* The same in two steps, so a caller can do other work (give a handle
 * back) between queueing an entry and its sync: audit_log_submit checks
 * and queues a copy of the entry and returns at once; audit_ticket_wait
 * returns when it is durable (or failed), with its leaf index, and frees
 * the ticket. Every ticket must be waited for: a queued entry stays
 * queued until its ticket's thread (or any later appender) leads a batch,
 * and the ticket holds a reference to the log. NULL waits for nothing. */
typedef struct sr_audit_ticket audit_ticket; /* vault.h's sr_audit_ticket */
SR_WARN_UNUSED sr_status audit_log_submit(audit_log *l, const uint8_t *e,
                                          size_t len, audit_ticket **out,
                                          char msg[AUDIT_MSG_MAX]);
SR_WARN_UNUSED sr_status audit_ticket_wait(audit_ticket *t, uint64_t *index,
                                           char msg[AUDIT_MSG_MAX]);

/* Append n encoded entries (1 <= n <= AUDIT_APPEND_MANY_MAX) as one
 * batch: one write and one sync, at consecutive leaf indexes from *first.
 * On SR_OK all are durable; on failure none was acknowledged (as for
 * audit_log_append). For bulk writers: the benchmark grows logs with it. */
#define AUDIT_APPEND_MANY_MAX 65536u
SR_WARN_UNUSED sr_status audit_log_append_many(audit_log *l,
                                               const uint8_t *const *e,
                                               const size_t *len, size_t n,
                                               uint64_t *first,
                                               char msg[AUDIT_MSG_MAX]);

/* Integrate every durable entry into the tiles and sign a checkpoint for
 * the new size (nothing is written if no entry is pending). *size gets
 * the checkpoint's tree size. */
SR_WARN_UNUSED sr_status audit_log_checkpoint(audit_log *l, uint64_t *size,
                                              char msg[AUDIT_MSG_MAX]);

/* The latest checkpoint's tree size and root hash, read from
 * <log>/checkpoint and its signature checked with this log's key: what
 * proofs built from the tiles and the node index must agree with. */
SR_WARN_UNUSED sr_status audit_log_head(audit_log *l, uint64_t *size,
                                        uint8_t root[32],
                                        char msg[AUDIT_MSG_MAX]);

/* Since the log was opened in this process: how long appending calls
 * waited (queue, write and sync), how long each journal sync took, and how
 * many batches were synced. */
void audit_log_stats(audit_log *l, sr_latency *append, sr_latency *sync,
                     uint64_t *batches);

/* Entries appended, integrated or not. */
uint64_t audit_log_pending_end(audit_log *l);

/* Paths for readers. */
const char *audit_log_dir(const audit_log *l);       /* <vault>/log */
const char *audit_log_nodes_dir(const audit_log *l); /* <vault>/audit/nodes */

#endif
