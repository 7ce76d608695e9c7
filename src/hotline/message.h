/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hotline/message.h - the hotline's messages between partner nodes
 * (issue 9, docs/hotline.md): signed by the sending node, encrypted end to
 * end to the receiving one, bound to their header.
 *
 * A node has three key pairs: Ed25519 to sign what it sends, X25519 to
 * receive, and Ed25519 to sign its log's checkpoints. Its public half
 * travels as one line,
 *
 *   srnode1:<name>:<base64(signing key || receiving key || log key)>
 *
 * and a partner adds it with `hotline peer add`. A message is one JSON
 * object with exactly these members:
 *
 *   {"hotline":1, "from":NODE, "to":NODE, "case":CASE, "seq":N,
 *    "id":HEX32, "kind":KIND, "tlp":TLP, "sent":"YYYY-MM-DDTHH:MM:SSZ",
 *    "epk":B64, "nonce":B64, "ct":B64, "sig":B64}
 *
 * The body (JSON text, hotline/body.h) is encrypted with
 * XChaCha20-Poly1305 under a key made for this message alone: BLAKE2b-256
 * of the X25519 product of a fresh key pair (its public half is `epk`)
 * and the recipient's key, then `epk` and the recipient's key. The
 * header is the cipher's associated data, so a body cannot be moved under
 * another header. The sender signs the header and the ciphertext with
 * Ed25519: the recipient can show anyone that the sender sent exactly
 * these bytes. Both are computed over one binary encoding (below), never
 * over JSON text, so the JSON's spelling does not matter to them.
 *
 * Opening checks, in order: the shape and every member (bounded), that
 * `to` is this node, that `from` is a known peer and the signature is
 * its own, then decrypts. What is refused says why, never with the body.
 * Order and replays (seq, id) are the receiving node's to check: it
 * keeps the state.
 */
#ifndef STRONGROOM_HOTLINE_MESSAGE_H
#define STRONGROOM_HOTLINE_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strongroom/common.h"

#define HL_NAME_MAX 63u        /* node names: [a-z0-9][a-z0-9.-]* */
#define HL_CASE_MAX 64u        /* case ids: [A-Za-z0-9._:-]+ */
#define HL_BODY_MAX (8u << 20) /* plaintext bytes of one body */
/* The longest envelope: the body's ciphertext in base64 and the rest. */
#define HL_ENVELOPE_MAX ((HL_BODY_MAX + 16u) / 3u * 4u + 4096u)
#define HL_ID_BYTES 16u
#define HL_PUBLIC_MAX (8u + HL_NAME_MAX + 1u + 128u + 1u)
#define HL_ERR_MAX 200u

typedef enum hl_kind {
    HL_REQUEST,  /* a case referral */
    HL_ACK,      /* the request was received and is being handled */
    HL_RESPONSE, /* an answer */
    HL_CLOSE,    /* the case is closed */
    HL_RECEIPT,  /* signed proof of delivery of another message */
    HL_KIND_COUNT
} hl_kind;

/* TLP 2.0 labels (FIRST). */
typedef enum hl_tlp {
    HL_TLP_CLEAR,
    HL_TLP_GREEN,
    HL_TLP_AMBER,
    HL_TLP_AMBER_STRICT,
    HL_TLP_RED,
    HL_TLP_COUNT
} hl_tlp;

const char *hl_kind_name(hl_kind k);
const char *hl_tlp_name(hl_tlp t); /* "TLP:RED", ... */
/* Parse "TLP:AMBER+STRICT" etc.; SR_ERR_INVALID otherwise. */
sr_status hl_tlp_parse(const char *s, hl_tlp *out);

/* May a message so marked be passed on to a node other than the one it
 * was sent to? Only CLEAR and GREEN (community-wide) may; AMBER and
 * AMBER+STRICT stay within the recipient's organisation, RED with the
 * recipient. */
bool hl_tlp_may_forward(hl_tlp t);

/* A partner node as its public line gives it (and, in a node's peers
 * file, where it is reached). */
#define HL_URL_MAX 255u
typedef struct hl_peer {
    char name[HL_NAME_MAX + 1];
    uint8_t sign_pk[32];      /* Ed25519 */
    uint8_t box_pk[32];       /* X25519 */
    uint8_t log_pk[32];       /* Ed25519: its log's checkpoints */
    char url[HL_URL_MAX + 1]; /* "" when not known */
} hl_peer;

/* This node: its name and its secret keys (sodium_malloc'd, locked). */
typedef struct hl_identity hl_identity;

/* A new identity with fresh keys. */
SR_WARN_UNUSED sr_status hl_identity_new(hl_identity **out, const char *name);
/* The identity a 32-byte secret seed gives: both key pairs are derived
 * from it (libsodium's KDF, context "hlnode__", subkeys 1 and 2), so a
 * node's key file need hold only the seed. */
#define HL_SEED_BYTES 32u
SR_WARN_UNUSED sr_status hl_identity_from_seed(hl_identity **out,
                                               const char *name,
                                               const uint8_t seed[32]);
void hl_identity_free(hl_identity *id);
/* The identity's public half as a peer, and as its public line. */
void hl_identity_peer(const hl_identity *id, hl_peer *out);
SR_WARN_UNUSED sr_status hl_peer_format(const hl_peer *p, char *out,
                                        size_t cap);
/* Parse a public line (the whole of it: no spaces, no newline). */
SR_WARN_UNUSED sr_status hl_peer_parse(const char *s, size_t len, hl_peer *out);

/* The identity's name, and its seed (HL_SEED_BYTES, secret) for the
 * node's key file. */
const char *hl_identity_name(const hl_identity *id);
const uint8_t *hl_identity_seed(const hl_identity *id);

/* Subkey n (4 or more: 1-3 are the identity's own) of the seed, for the
 * node's other uses: 4 the log's journal MAC key, 5 the log's checkpoint
 * signing seed. */
#define HL_SUBKEY_LOG_JOURNAL 4u
#define HL_SUBKEY_LOG_SIGN 5u
SR_WARN_UNUSED sr_status hl_identity_subkey(const hl_identity *id, uint64_t n,
                                            uint8_t out[32]);

/* A detached Ed25519 signature of m by the node's signing key (the one
 * its messages are signed with; peers know it from its public line). */
void hl_identity_sign(const hl_identity *id, const uint8_t *m, size_t len,
                      uint8_t sig[64]);

/* Is s a valid node name or case id? */
bool hl_name_ok(const char *s, size_t len);
bool hl_case_ok(const char *s, size_t len);

typedef struct hl_header {
    char from[HL_NAME_MAX + 1];
    char to[HL_NAME_MAX + 1];
    char case_id[HL_CASE_MAX + 1];
    uint64_t seq; /* per case and direction, from 1 */
    uint8_t id[HL_ID_BYTES];
    hl_kind kind;
    hl_tlp tlp;
    char sent[21]; /* YYYY-MM-DDTHH:MM:SSZ */
} hl_header;

/* Seal body (len bytes) from `me` to `to` under header h (h->from must
 * be me's name and h->to the peer's). *out gets the envelope (malloc'd,
 * NUL-terminated, *out_len bytes without the NUL). */
SR_WARN_UNUSED sr_status hl_seal(const hl_identity *me, const hl_peer *to,
                                 const hl_header *h, const uint8_t *body,
                                 size_t len, char **out, size_t *out_len);

/* Open an envelope addressed to `me` from one of peers[0..npeers-1]. On
 * success *h is its header and *body (sodium_malloc'd: free with
 * hl_body_free) its plaintext; otherwise err says why (no body bytes)
 * and the status is SR_ERR_INVALID (malformed), SR_ERR_VERSION (not
 * version 1), SR_ERR_AUTH (not for this node, unknown sender, bad
 * signature) or SR_ERR_CORRUPT (the ciphertext does not open). */
SR_WARN_UNUSED sr_status hl_open(const hl_identity *me, const hl_peer *peers,
                                 size_t npeers, const char *env, size_t len,
                                 hl_header *h, uint8_t **body, size_t *body_len,
                                 char err[HL_ERR_MAX]);

/* Locked memory that bodies are opened into, kept from one open to the
 * next (a sodium_malloc costs about 50 us here: one a message was a
 * tenth of the hotline's time). Start it {NULL, 0}; hl_scratch_free
 * wipes and releases it. */
typedef struct hl_scratch {
    uint8_t *p;
    size_t cap;
} hl_scratch;
void hl_scratch_free(hl_scratch *s);

/* hl_open, the plaintext opened into scratch: *body points into it, valid
 * until its next use. */
SR_WARN_UNUSED sr_status hl_open_in(const hl_identity *me, const hl_peer *peers,
                                    size_t npeers, const char *env, size_t len,
                                    hl_header *h, hl_scratch *scratch,
                                    const uint8_t **body, size_t *body_len,
                                    char err[HL_ERR_MAX]);
void hl_body_free(uint8_t *body, size_t len);

/* A body as the node keeps it for itself (sent or received): sealed
 * with XChaCha20-Poly1305 under subkey 3 of its seed, the message id as
 * associated data, so a copy cannot be moved to another message. The
 * sealed form is nonce || ciphertext (malloc'd). hl_self_open gives the
 * body in sodium_malloc'd memory (free with hl_body_free), NUL-terminated;
 * SR_ERR_CORRUPT if it does not open. */
SR_WARN_UNUSED sr_status hl_self_seal(const hl_identity *me,
                                      const uint8_t id[HL_ID_BYTES],
                                      const uint8_t *body, size_t len,
                                      uint8_t **out, size_t *out_len);
SR_WARN_UNUSED sr_status hl_self_open(const hl_identity *me,
                                      const uint8_t id[HL_ID_BYTES],
                                      const uint8_t *sealed, size_t len,
                                      uint8_t **body, size_t *body_len);

/* The SHA-256 of an envelope's bytes: what a receipt and the log name. */
void hl_envelope_hash(const char *env, size_t len, uint8_t out[32]);

#endif
