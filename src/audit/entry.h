/* SPDX-License-Identifier: Apache-2.0 */
/*
 * entry.h - one audit log entry: who did what, why, to whom and with what
 * outcome (internal). The encoding is the leaf data of the Merkle tree, so
 * it is canonical: one entry has exactly one encoding, and the decoder
 * refuses every other byte string (docs/audit.md has the layout).
 *
 * An entry never holds an identifier: people are named by their reference
 * (crypto_person_ref, a keyed hash of the random person id), and the text
 * fields carry principal names, purposes, case ids and rule ids only.
 */
#ifndef SR_AUDIT_ENTRY_H
#define SR_AUDIT_ENTRY_H

#include <stddef.h>
#include <stdint.h>

#include "strongroom/common.h"
#include "util/util.h"

#define ENTRY_FORMAT_VERSION 1u
#define ENTRY_NAME_MAX 64u   /* principal, purpose, case, action */
#define ENTRY_TOKEN_MAX 32u  /* token id, hex */
#define ENTRY_TEXT_MAX 512u  /* rule and detail */
#define ENTRY_REF_BYTES 16u  /* CRYPTO_PERSON_REF_BYTES */
#define ENTRY_REFS_MAX 1024u /* people named by one entry */
/* The largest encoding: fits a tile bundle's 16-bit length. */
#define ENTRY_MAX_BYTES 65535u

typedef enum entry_outcome {
    ENTRY_ALLOWED = 1, /* the policy allowed it and it was done */
    ENTRY_DENIED = 2,  /* the policy or authentication refused it */
    ENTRY_FAILED = 3   /* allowed, but failed (status says why) */
} entry_outcome;

typedef struct audit_entry {
    uint64_t time_ns; /* wall clock, Unix nanoseconds */
    char principal[ENTRY_NAME_MAX + 1];
    char token[ENTRY_TOKEN_MAX + 1]; /* the token id that authenticated */
    char action[ENTRY_NAME_MAX + 1]; /* "get", "user.add", ... */
    uint8_t outcome;                 /* entry_outcome */
    uint8_t status;                  /* sr_status of the result */
    char purpose[ENTRY_NAME_MAX + 1];
    char case_id[ENTRY_NAME_MAX + 1];
    uint8_t classes;                 /* SR_CLASS_BIT mask revealed/asked */
    char rule[ENTRY_TEXT_MAX + 1];   /* the policy rule that decided */
    char detail[ENTRY_TEXT_MAX + 1]; /* admin changes: what changed */
    uint64_t count;                  /* people matched, stored, ... */
    uint32_t nrefs;                  /* people named below */
    const uint8_t (*refs)[ENTRY_REF_BYTES]; /* borrowed; decode points
                                               into the input */
} audit_entry;

/* Encode e (appending to out). SR_ERR_INVALID if a field is too long, holds
 * a control character or invalid UTF-8, or the outcome is unknown. */
SR_WARN_UNUSED sr_status entry_encode(const audit_entry *e, sr_buf *out);

/* Decode exactly one entry from p[0..len); e->refs points into p.
 * SR_ERR_CORRUPT for anything but the canonical encoding of a valid entry,
 * SR_ERR_VERSION for another format version. */
SR_WARN_UNUSED sr_status entry_decode(const uint8_t *p, size_t len,
                                      audit_entry *e);

/* A short name for an outcome ("allowed", "denied", "failed"), NULL if
 * unknown. */
const char *entry_outcome_name(unsigned outcome);

#endif
