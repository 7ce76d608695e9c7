/* SPDX-License-Identifier: Apache-2.0 */
/*
 * note.h - the text formats of the audit log's signed tree heads (internal):
 * C2SP signed notes (c2sp.org/signed-note), tlog checkpoints
 * (c2sp.org/tlog-checkpoint) and Ed25519 witness cosignatures
 * (c2sp.org/tlog-cosignature, cosignature/v1). Pure code: no file or
 * network I/O, no global state; every function is reentrant, and a signer
 * or verifier may be shared read-only between threads.
 *
 *   signed note = text ("\n"-terminated lines) || "\n" || signature line+
 *   signature line = "— " (U+2014, space) name " " base64(key ID || sig) "\n"
 *   key ID = SHA-256(name || 0x0A || type || public key)[:4]
 *   type 0x01: Ed25519 over the text
 *   type 0x04: cosignature/v1, Ed25519 over
 *              "cosignature/v1\ntime " decimal(t) "\n" || text,
 *              signature payload key ID || u64be(t) || sig
 *   verifier key (vkey) = name "+" hex(key ID) "+" base64(type || pubkey)
 *
 * Limits (the specs ask verifiers to pick some, and to accept at least 16
 * signatures): a signed note is at most NOTE_MAX_BYTES, carries at most
 * NOTE_MAX_SIGS signature lines, each of at most NOTE_SIG_MAX decoded
 * bytes (room for every assigned type, ML-DSA-44 cosignatures included);
 * key names are at most NOTE_NAME_MAX bytes and checkpoint origins at most
 * NOTE_ORIGIN_MAX. Base64 everywhere is RFC 4648 section 4, padded, and
 * only its one canonical spelling is accepted.
 *
 * Adding a cosignature to a signed note is concatenation: a signed note
 * ends in a complete signature line, so note_cosign's line is appended to
 * it as is (mind NOTE_MAX_SIGS and NOTE_MAX_BYTES).
 */
#ifndef SR_AUDIT_NOTE_H
#define SR_AUDIT_NOTE_H

#include <stddef.h>
#include <stdint.h>

#include "strongroom/common.h"
#include "util/util.h"

#define NOTE_NAME_MAX 128u                  /* bytes of a key name */
#define NOTE_ORIGIN_MAX (NOTE_NAME_MAX * 2) /* bytes of a checkpoint origin */
#define NOTE_MAX_BYTES (1u << 20)           /* a whole signed note */
#define NOTE_MAX_SIGS 100u                  /* signature lines per note */
#define NOTE_SIG_MAX 8192u /* decoded bytes of one signature line */

#define NOTE_TYPE_ED25519 0x01u       /* signed-note Ed25519 */
#define NOTE_TYPE_COSIG_V1 0x04u      /* tlog-cosignature Ed25519 */
#define NOTE_COSIG_TIME_MAX INT64_MAX /* timestamps are at most 2^63 - 1 */

/* Longest vkey text, NUL included: name "+" 8 hex "+" 44 base64 chars. */
#define NOTE_VKEY_MAX (NOTE_NAME_MAX + 55u)

/* A signing key. sk (64 bytes, libsodium's seed || public key layout) lives
 * in sodium_malloc memory, read-only once made; only note_signer_wipe
 * releases it. */
typedef struct note_signer {
    char name[NOTE_NAME_MAX + 1];
    uint8_t type; /* NOTE_TYPE_ED25519 or NOTE_TYPE_COSIG_V1 */
    uint8_t keyhash[4];
    uint8_t pk[32];
    uint8_t *sk;
} note_signer;

/* A known key, as a relying party is configured with it. */
typedef struct note_verifier {
    char name[NOTE_NAME_MAX + 1];
    uint8_t type; /* NOTE_TYPE_ED25519 or NOTE_TYPE_COSIG_V1 */
    uint8_t keyhash[4];
    uint8_t pk[32];
} note_verifier;

/* ---- keys ------------------------------------------------------------ */

/* Derive a signer from a 32-byte Ed25519 seed (crypto_sign_seed_keypair)
 * for key name `name` (NUL-terminated) and signature type `type`. The
 * secret key goes to sodium_malloc memory; the caller owns it and releases
 * it with note_signer_wipe. *s is overwritten, not released: wipe a signer
 * before reusing it. Errors: SR_ERR_INVALID (name empty, longer than
 * NOTE_NAME_MAX, not UTF-8, or holding a Unicode space, a control
 * character or '+'; unknown type), SR_ERR_NOMEM. On error *s is zeroed. */
SR_WARN_UNUSED sr_status note_signer_from_seed(note_signer *s, const char *name,
                                               uint8_t type,
                                               const uint8_t seed[32]);

/* Wipe the secret key and the struct. Accepts NULL, a zeroed struct and a
 * signer already wiped. */
void note_signer_wipe(note_signer *s);

/* The verifier of a signer's key (name, type, key ID, public key). */
void note_verifier_from_signer(note_verifier *v, const note_signer *s);

/* A verifier for public key pk under key name `name` (checked as
 * note_signer_from_seed checks it) and type. SR_ERR_INVALID otherwise;
 * *v is then zeroed. */
SR_WARN_UNUSED sr_status note_verifier_make(note_verifier *v, const char *name,
                                            uint8_t type, const uint8_t pk[32]);

/* Write v's vkey text, "<name>+<8 lowercase hex>+<base64(type || pk)>",
 * NUL-terminated, into out (cap bytes; NOTE_VKEY_MAX always suffices).
 * Errors: SR_ERR_INVALID (cap too small, or v not a valid verifier); out is
 * then an empty string if cap > 0. */
SR_WARN_UNUSED sr_status note_vkey_format(const note_verifier *v, char *out,
                                          size_t cap);

/* Parse vkey text of len bytes (one trailing "\n" is ignored) into *v.
 * Strict: a valid key name of at most NOTE_NAME_MAX bytes, exactly 8
 * lowercase hex digits, canonical base64 of 33 bytes whose type byte is
 * 0x01 or 0x04, and the key ID must be the one the name, type and key
 * derive. Errors: SR_ERR_INVALID for anything else; *v is then zeroed. */
SR_WARN_UNUSED sr_status note_vkey_parse(const char *text, size_t len,
                                         note_verifier *v);

/* ---- signed notes ---------------------------------------------------- */

/* Sign the note text body (len bytes, ending in "\n", UTF-8 without
 * control characters other than "\n") with a NOTE_TYPE_ED25519 signer and
 * append the signed note, body || "\n" || signature line, to out. Errors:
 * SR_ERR_INVALID (malformed body, a signer of another type, or a note that
 * would exceed NOTE_MAX_BYTES or out's cap), SR_ERR_NOMEM; out is then as
 * it was. */
SR_WARN_UNUSED sr_status note_sign(const char *body, size_t len,
                                   const note_signer *s, sr_buf *out);

/* Split the signed note msg (len bytes) and check its signatures against
 * the nv known keys vs. On SR_OK the note is well-formed, every signature
 * line whose name and key ID match a known key verified under it, and:
 *   *body_len = length of the note text (msg[0..*body_len), ending "\n");
 *   verified[i] = 1 if at least one valid signature by vs[i] is present,
 *                 else 0;
 *   times[i] = for a NOTE_TYPE_COSIG_V1 verifier, the latest timestamp of
 *              its valid cosignatures; 0 otherwise.
 * Signature lines of unknown keys (name or key ID differ from every known
 * key) are checked for syntax only and otherwise ignored, as the spec
 * requires. SR_OK does NOT mean anyone trusted signed: the caller decides
 * which verified[] it needs (the spec: no verified known key, reject).
 * vs and verified may be NULL only when nv is 0; times may be NULL.
 * Errors: SR_ERR_CORRUPT (malformed note: over NOTE_MAX_BYTES, not UTF-8,
 * control characters, no blank line before the signatures, a bad
 * signature line, bad base64, over NOTE_MAX_SIGS lines; or a signature by
 * a known key that does not verify), SR_ERR_INVALID (two entries of vs
 * share name and key ID), SR_ERR_NOMEM. On error *body_len, verified[]
 * and times[] are all 0. */
SR_WARN_UNUSED sr_status note_open(const char *msg, size_t len,
                                   const note_verifier *vs, size_t nv,
                                   size_t *body_len, int *verified,
                                   uint64_t *times);

/* ---- checkpoints ----------------------------------------------------- */

typedef struct note_checkpoint {
    char origin[NOTE_ORIGIN_MAX + 1]; /* NUL-terminated */
    uint64_t size;
    uint8_t root[32];
    size_t ext_len; /* bytes of extension lines after the root line, at the
                       end of the body */
} note_checkpoint;

/* Append the checkpoint text origin "\n" decimal(size) "\n" base64(root)
 * "\n" to body. origin is NUL-terminated: non-empty, at most
 * NOTE_ORIGIN_MAX bytes of UTF-8 without control characters (the spec
 * recommends, and callers should use, a schema-less URL without spaces or
 * '+'). No extension lines are written (the spec recommends none).
 * Errors: SR_ERR_INVALID (bad origin, body's cap), SR_ERR_NOMEM; body is
 * then as it was. */
SR_WARN_UNUSED sr_status note_checkpoint_format(const char *origin,
                                                uint64_t size,
                                                const uint8_t root[32],
                                                sr_buf *body);

/* Parse a checkpoint text (a note body, len bytes, as note_open returns
 * it): a non-empty origin line of at most NOTE_ORIGIN_MAX bytes, the tree
 * size in decimal without leading zeros ("0" for the empty tree) that
 * fits 64 bits, the canonical base64 of a 32-byte root hash, then any
 * number of non-empty extension lines, each ending in "\n". Errors:
 * SR_ERR_CORRUPT for anything else (including a text over NOTE_MAX_BYTES,
 * not UTF-8 or with control characters); *cp is then zeroed. */
SR_WARN_UNUSED sr_status note_checkpoint_parse(const char *body, size_t len,
                                               note_checkpoint *cp);

/* Cosign the checkpoint text cp_body (len bytes; it must parse with
 * note_checkpoint_parse; extension lines are signed too, as
 * tlog-cosignature requires) at POSIX time t with a NOTE_TYPE_COSIG_V1
 * signer, and append the signature line "— <name> <base64>\n" to out: the
 * line to append to the signed checkpoint. Errors: SR_ERR_INVALID (not a
 * checkpoint, t over NOTE_COSIG_TIME_MAX, a signer of another type, out's
 * cap), SR_ERR_NOMEM; out is then as it was. */
SR_WARN_UNUSED sr_status note_cosign(const char *cp_body, size_t len,
                                     uint64_t t, const note_signer *witness,
                                     sr_buf *out);

#endif
