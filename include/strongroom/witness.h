/* SPDX-License-Identifier: Apache-2.0 */
/*
 * strongroom/witness.h - a witness for Strongroom audit logs (and any log
 * published as C2SP tlog-tiles under C2SP tlog-checkpoints).
 *
 * A witness keeps, for each log it watches, the last checkpoint it saw,
 * and cosigns a new checkpoint (c2sp.org/tlog-cosignature, cosignature/v1)
 * only once it has checked an RFC 9162 consistency proof from that one to
 * the new one. A log that shows it a checkpoint that does not extend the
 * last-seen one (a smaller tree, another root at the same size, or a tree
 * whose prefix is not the last-seen tree) has forked or rolled back: the
 * witness refuses, keeps the two signed checkpoints as evidence, and
 * stays where it was. Relying parties that require cosignatures from
 * witnesses they trust (sr_log_verify's min_cosignatures) thus know that
 * everyone is shown one and the same log.
 *
 * A witness is a directory of its own (its "state"), mode 0700:
 *
 *   witness.key        the Ed25519 seed and key name (mode 0600; the
 *                      format is in src/audit/witness.h)
 *   witness.vkey       its verifier key text, to hand to relying parties
 *   lock               serialises the witness's own calls
 *   logs/<H>           the last-seen checkpoint of the log whose origin
 *                      hashes to H (the first 16 hex digits of
 *                      SHA-256(origin)), as the log signed it
 *   cosigned/<H>       that checkpoint with this witness's cosignature
 *   forks/<T>-<M>-<N>  evidence of a refusal at Unix time T: the
 *                      last-seen checkpoint (size M) and the refused one
 *                      (size N), both signed by the log
 *
 * The log's tiles are untrusted: the consistency proof is computed from
 * them and then checked against the two SIGNED roots, so damaged tiles
 * can make the witness refuse but never make it cosign.
 */
#ifndef STRONGROOM_WITNESS_H
#define STRONGROOM_WITNESS_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Room for a witness's verifier key text with its NUL (a key name of at
 * most 128 bytes, "+", 8 hex digits, "+", 44 base64 characters). */
#define SR_WITNESS_VKEY_MAX 184
#define SR_WITNESS_MSG_MAX 1024

/* What sr_witness_cosign did. Filled on every return, failure included. */
typedef struct sr_witness_result {
    uint64_t old_size; /* the last-seen tree size (0 when first seen) */
    uint64_t new_size; /* the tree size of the log's checkpoint (0 if it
                          could not be read) */
    int first_seen;    /* no last-seen checkpoint: trusted on first use */
    int fork;          /* refused: a fork or a rollback; evidence kept */
    int published;     /* the cosignature was added to logdir/checkpoint */
    char message[SR_WITNESS_MSG_MAX]; /* what was done, or why not */
} sr_witness_result;

/*
 * Make a new witness in state_dir (created, mode 0700, if missing): a
 * random Ed25519 key named `name` (a signed-note key name: non-empty, at
 * most 128 bytes of UTF-8 without spaces, control characters or '+'; a
 * schema-less URL such as "witness.example.org/w1" is the custom),
 * stored in state_dir/witness.key (mode 0600), and its cosignature/v1
 * verifier key in state_dir/witness.vkey. The verifier key text (no
 * newline) is written to vkey_out (cap bytes, at least
 * SR_WITNESS_VKEY_MAX). The seed lives only in locked memory and the key
 * file, and is wiped.
 *
 * Errors: SR_ERR_INVALID (a NULL argument, a bad name, cap too small),
 * SR_ERR_EXISTS (state_dir already holds a witness key: it is never
 * replaced), SR_ERR_IO, SR_ERR_FULL, SR_ERR_NOMEM. Needs sr_init first.
 * Thread-safe; two calls racing on one directory make one key.
 */
SR_API SR_WARN_UNUSED sr_status sr_witness_init(const char *state_dir,
                                                const char *name,
                                                char *vkey_out, size_t cap);

/*
 * Witness the log in logdir (the directory holding checkpoint, tile/ and
 * history/, as <vault>/log) whose checkpoints are signed by the key
 * log_vkey_text (a signed-note Ed25519 verifier key; one trailing newline
 * allowed; its name is the log's origin).
 *
 * Reads logdir/checkpoint and checks its signature by the log key, then
 * holds it against the last-seen checkpoint of that origin:
 *   - none yet: trust on first use (res->first_seen);
 *   - the same size and root: cosigned again;
 *   - a larger tree: the consistency proof from the last-seen size is
 *     computed from the log's tiles and must verify against both signed
 *     roots;
 *   - a smaller tree, another root at the same size, or a larger tree
 *     whose tiles hash to the new signed root but whose prefix at the
 *     last-seen size does not hash to the last-seen root: a rollback or
 *     a fork. Refused with SR_ERR_AUDIT and res->fork set; both signed
 *     checkpoints are written to state_dir/forks/ (res->message names the
 *     file) and the last-seen checkpoint stays as it was.
 * On acceptance the new checkpoint becomes the last-seen one (durably,
 * before the cosignature leaves the call), is cosigned at the current
 * time, and is written with the cosignature to state_dir/cosigned/<H>.
 * Earlier cosignatures by this witness's key on the checkpoint are
 * replaced, not accumulated.
 *
 * With publish != 0 the cosignature is also added to logdir/checkpoint,
 * but only if that file still holds exactly the bytes that were checked
 * (the log may have moved on meanwhile; then it is left alone and the
 * message says so), and to logdir/history/<size> when that holds the same
 * bytes. When logdir's parent holds a vault's writers' lock
 * (<vault>/audit/lock), it is held while comparing and replacing, so a
 * checkpoint the vault writes meanwhile is never overwritten.
 *
 * Errors: SR_ERR_INVALID (a NULL argument, an unparsable or non-Ed25519
 * log key); SR_ERR_NOT_FOUND (no witness key in state_dir, no
 * logdir/checkpoint); SR_ERR_CORRUPT (a damaged witness key file);
 * SR_ERR_AUDIT (refused: the checkpoint is not signed by the log key or
 * names another origin; the stored last-seen checkpoint no longer
 * verifies under the log key; the tiles are missing or do not hash to
 * the signed root, so consistency cannot be checked; or a fork or
 * rollback, with res->fork); SR_ERR_IO, SR_ERR_FULL, SR_ERR_NOMEM.
 * res->message says which. A refusal cosigns nothing. If only the
 * publishing fails (the cosignature is already made and kept in
 * state_dir/cosigned/), its error is returned and the message says so.
 *
 * Needs sr_init first. Calls on one state_dir are serialised by a lock
 * file (across processes too); calls on distinct ones are independent.
 */
SR_API SR_WARN_UNUSED sr_status sr_witness_cosign(const char *state_dir,
                                                  const char *logdir,
                                                  const char *log_vkey_text,
                                                  int publish,
                                                  sr_witness_result *res);

#ifdef __cplusplus
}
#endif
#endif
