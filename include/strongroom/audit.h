/* SPDX-License-Identifier: Apache-2.0 */
/*
 * strongroom/audit.h - offline verification of a vault's audit log.
 *
 * The audit log is an RFC 9162 Merkle tree published as static files in
 * the C2SP tlog-tiles layout (https://c2sp.org/tlog-tiles) under one
 * directory, <vault>/log:
 *
 *   checkpoint                 the latest signed tree head (a C2SP signed
 *                              note, c2sp.org/tlog-checkpoint)
 *   tile/<L>/<N>[.p/<W>]       hash tiles
 *   tile/entries/<N>[.p/<W>]   entry bundles
 *   history/<size>             every earlier signed checkpoint
 *
 * and <vault>/log.vkey holds the verifier key of the checkpoint signer.
 * sr_log_verify needs nothing else: no vault key and no database, so an
 * auditor can run it on a copy of the log directory. It recomputes the
 * whole tree from the entries and so costs one pass over the log; memory
 * stays bounded whatever the log's size.
 */
#ifndef STRONGROOM_AUDIT_H
#define STRONGROOM_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The most witness keys one verification takes (and a vault publishes). */
#define SR_LOG_WITNESS_MAX 16

/* What, beyond the log's own signature, the caller asks of the log. A NULL
 * options pointer means all fields zero. */
typedef struct sr_log_verify_options {
    const char *const *witness_vkeys; /* witness verifier key texts */
    size_t witness_count;
    /* The latest checkpoint must carry at least this many valid
     * cosignatures by distinct keys of witness_vkeys. */
    unsigned min_cosignatures;
    /* When set, and witness_count and min_cosignatures are both 0, the
     * witness keys and the count come from logdir/witnesses, the witness
     * configuration a vault publishes (sr_vault_witness_add, _remove,
     * _require; "min K" then one verifier key per line), and that file is
     * held to the log: it must be the configuration whose SHA-256 the
     * log's latest allowed witness.add, witness.remove or
     * witness.require entry recorded, and may be absent only when the
     * log records none. So the file is as trustworthy as the signed log,
     * and deleting or editing it fails verification. */
    int use_witness_file;
    /* Called from the calling thread as the pass goes on (done of total
     * entries recomputed), at most a few hundred times per million
     * entries; may be NULL. */
    void (*progress)(void *ctx, uint64_t done, uint64_t total);
    void *progress_ctx;
} sr_log_verify_options;

#define SR_LOG_REPORT_MSG 512

/* What sr_log_verify found. Filled on every return, failure included. */
typedef struct sr_log_report {
    uint64_t size;             /* tree size of the latest checkpoint */
    uint64_t entries;          /* entries recomputed */
    uint64_t checkpoints;      /* history checkpoints checked consistent */
    uint64_t first_bad;        /* index of the first bad entry; UINT64_MAX if
                                  none or not applicable */
    unsigned cosignatures;     /* valid witness cosignatures on the latest
                                  checkpoint */
    unsigned min_cosignatures; /* how many were required (given, or from
                                  logdir/witnesses) */
    int witness_file;          /* logdir/witnesses was used */
    char message[SR_LOG_REPORT_MSG]; /* what failed, naming the entry,
                                        tile or file; "ok" */
} sr_log_report;

/* Verify the audit log in logdir (the directory holding checkpoint, tile/
 * and history/) against the log's verifier key vkey_text (the contents of
 * log.vkey; one trailing newline is allowed).
 *
 * SR_OK, with rep->message "ok", only when all of this holds:
 *   - logdir/checkpoint is a well-formed checkpoint signed by that key,
 *     carrying at least opt->min_cosignatures valid witness cosignatures;
 *   - every entry bundle the checkpoint's size implies is present, holds
 *     exactly its number of entries, and every entry decodes;
 *   - the tree recomputed from the entries matches every hash of every
 *     tile at every level, and its root is the checkpoint's;
 *   - every file in logdir/history/ is a checkpoint of the same log signed
 *     by that key, named by its tree size, no larger than the latest, and
 *     whose root is the recomputed tree's root at that size (no fork, no
 *     rollback). Leftovers of an interrupted atomic write
 *     ("<size>.tmp<pid>") are ignored; a missing history/ is no history;
 *   - with opt->use_witness_file (and no keys given), logdir/witnesses is
 *     well-formed and is the configuration the log last recorded, or is
 *     absent and the log records none.
 *
 * On failure rep->message names what failed: "checkpoint: ...",
 * "history/<size>: ...", "entry <i>: ...", "entry bundle entries/<N>: ...",
 * "tile <L>/<N>: hash <j> differs ...", "witnesses: ...". An entry that was
 * edited, dropped, reordered or does not decode, and a bundle that is missing,
 * sets rep->first_bad to the index of the first entry that differs from the
 * signed tree; a damaged tile alone (the entries still hash to the signed
 * root) leaves it UINT64_MAX. When several things are wrong the message
 * names the entry fault first, then a tile fault, then a history fault,
 * then the witness configuration.
 *
 * Errors: SR_ERR_INVALID (a NULL argument, an unparsable log or witness
 * key, a log key that is not an Ed25519 signed-note key, a witness key
 * given twice or equal to the log key, more cosignatures asked for than
 * witnesses given); SR_ERR_NOT_FOUND (logdir/checkpoint does not exist);
 * SR_ERR_AUDIT (the log fails verification, as above, or the witness
 * configuration in use is malformed or not the log's); SR_ERR_IO,
 * SR_ERR_NOMEM. rep->message says which in every case.
 *
 * Reads only; the log directory may be read-only. Needs sr_init first.
 * Thread-safe: calls share no state. Uses up to one thread per CPU
 * (at most 8) internally; they are joined before it returns.
 */
SR_API SR_WARN_UNUSED sr_status sr_log_verify(const char *logdir,
                                              const char *vkey_text,
                                              const sr_log_verify_options *opt,
                                              sr_log_report *rep);

#ifdef __cplusplus
}
#endif
#endif
