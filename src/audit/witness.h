/* SPDX-License-Identifier: Apache-2.0 */
/*
 * witness.h - the file formats of witnessing (internal): a witness's key
 * file, and the witness configuration a vault publishes beside its log
 * together with the audit entries that record it. Pure code: no I/O; the
 * public side is strongroom/witness.h (the witness itself) and the
 * sr_vault_witness_* calls of strongroom/vault.h.
 *
 * Witness key file (<state>/witness.key, mode 0600):
 *
 *   "SRWITNESS1\n" name "\n" base64(Ed25519 seed, 32 bytes) "\n"
 *
 * name is the cosignature/v1 key name (signed-note rules, at most
 * NOTE_NAME_MAX bytes); the base64 is RFC 4648 section 4, padded, in its
 * one canonical spelling (44 characters). Nothing else: no comments, no
 * "\r", no trailing bytes, so one key has exactly one file.
 *
 * Witness configuration (<vault>/log/witnesses, public):
 *
 *   "min " decimal(K) "\n" (vkey "\n"){N}
 *
 * K in 0..N without leading zeros, N in 0..SR_LOG_WITNESS_MAX, each vkey a
 * cosignature/v1 verifier key (type 0x04), no key twice. Every change is
 * an allowed audit entry witness.add, witness.remove or witness.require
 * whose detail ends in WITNESS_CFG_TAG and the lowercase hex SHA-256 of
 * the whole file it produced, so a verifier holds the file to the signed
 * log.
 */
#ifndef SR_AUDIT_WITNESS_H
#define SR_AUDIT_WITNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit/note.h"
#include "strongroom/audit.h"
#include "strongroom/common.h"

#define WITNESS_KEY_MAGIC "SRWITNESS1\n"
#define WITNESS_KEY_MAGIC_LEN (sizeof WITNESS_KEY_MAGIC - 1)
#define WITNESS_SEED_B64 44u /* canonical padded base64 of 32 bytes */
/* The largest key file: magic, name, "\n", seed, "\n". */
#define WITNESS_KEY_FILE_MAX                                                   \
    (WITNESS_KEY_MAGIC_LEN + NOTE_NAME_MAX + 1u + WITNESS_SEED_B64 + 1u)

#define WITNESS_CFG_FILE "witnesses" /* in the log directory */
#define WITNESS_CFG_TAG "config sha256 "
/* "min 16\n" and 16 vkeys with their newlines. */
#define WITNESS_CFG_MAX (16u + SR_LOG_WITNESS_MAX * NOTE_VKEY_MAX)

/* Parse a witness key file (len bytes at p) into a cosignature/v1 signer
 * (note_signer_from_seed; release it with note_signer_wipe). Strict: the
 * exact layout above, a valid key name, the canonical base64 of exactly
 * 32 bytes. The seed passes through locked memory and is wiped. Errors:
 * SR_ERR_CORRUPT for anything else, SR_ERR_NOMEM; *s is then zeroed. */
SR_WARN_UNUSED sr_status witness_key_parse(const uint8_t *p, size_t len,
                                           note_signer *s);

/* Write the key file of s (a NOTE_TYPE_COSIG_V1 signer; its seed is the
 * first half of s->sk) to out (cap bytes; WITNESS_KEY_FILE_MAX always
 * suffices), *len its length. out holds the secret seed: give it locked
 * memory and wipe it. Errors: SR_ERR_INVALID (another type, no key, cap
 * too small); out is then wiped. */
SR_WARN_UNUSED sr_status witness_key_format(const note_signer *s, char *out,
                                            size_t cap, size_t *len);

/* Parse a witness configuration (len bytes at p): keys[0 .. *n) get the
 * verifiers (cap of them; SR_LOG_WITNESS_MAX always suffices), *min the
 * required count. Errors: SR_ERR_CORRUPT (not the layout above, a key
 * that is not a cosignature/v1 verifier key, a key listed twice, K > N,
 * more than cap keys); *n and *min are then 0. */
SR_WARN_UNUSED sr_status witness_cfg_parse(const uint8_t *p, size_t len,
                                           note_verifier *keys, size_t cap,
                                           size_t *n, unsigned *min);

/* Is this audit entry a change of the witness configuration (an allowed
 * witness.add, witness.remove or witness.require whose detail ends in
 * WITNESS_CFG_TAG and 64 lowercase hex digits)? If so the configuration's
 * SHA-256 goes to hash. */
bool witness_cfg_entry(const char *action, unsigned outcome, const char *detail,
                       uint8_t hash[32]);

#endif
