/* SPDX-License-Identifier: Apache-2.0 */
/*
 * crypto.h - the key hierarchy and the envelopes (internal), all libsodium.
 * Every byte is documented in docs/crypto.md.
 *
 *   passphrase --Argon2id--> sealing key --XChaCha20-Poly1305--> root key
 *   root key --crypto_kdf--> KEK v (one per key version), index keys
 *   KEK v --XChaCha20-Poly1305--> per-person data key (wrapped key)
 *   data key --XChaCha20-Poly1305--> one envelope per field class
 *
 * Every open verifies the tag before writing a byte of plaintext and is
 * SR_WARN_UNUSED. Keys live in sodium_malloc memory (guarded, locked) and
 * are wiped on every path.
 */
#ifndef SR_CRYPTO_H
#define SR_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strongroom/common.h"

#define CRYPTO_KEY_BYTES 32u
#define CRYPTO_NONCE_BYTES 24u /* XChaCha20-Poly1305 */
#define CRYPTO_TAG_BYTES 16u

/* ---- the root key file (vault.key) --------------------------------------- */

#define KEYFILE_MAGIC "SRVAULT1" /* 8 bytes, no NUL */
#define KEYFILE_SIZE 136u
#define KEYFILE_LAYOUT_VERSION 1u
#define KEYFILE_KDF_ARGON2ID13 1u
/* The serialized bytes before `sealed`: the associated data of the seal. */
#define KEYFILE_HEADER_BYTES                                                   \
    (KEYFILE_SIZE - CRYPTO_KEY_BYTES - CRYPTO_TAG_BYTES)

typedef struct keyfile {
    uint8_t vault_id[SR_ID_BYTES];
    uint32_t kdf_alg; /* 1 = Argon2id v1.3 */
    uint64_t opslimit;
    uint64_t memlimit; /* bytes */
    uint8_t salt[16];
    uint8_t nonce[CRYPTO_NONCE_BYTES];
    uint8_t sealed[CRYPTO_KEY_BYTES + CRYPTO_TAG_BYTES];
} keyfile;

/* Parse exactly KEYFILE_SIZE bytes. Errors: SR_ERR_NOT_VAULT (wrong size or
 * magic), SR_ERR_VERSION (unknown layout or KDF), SR_ERR_CORRUPT (KDF
 * parameters out of the range libsodium accepts). */
SR_WARN_UNUSED sr_status keyfile_parse(const uint8_t *p, size_t n,
                                       keyfile *out);
void keyfile_serialize(const keyfile *kf, uint8_t out[KEYFILE_SIZE]);

/* Set kdf_alg, opslimit and memlimit from a libsodium Argon2id preset:
 * profile is an sr_kdf_profile (0 moderate, 1 interactive, 2 sensitive).
 * SR_ERR_INVALID for another value. */
SR_WARN_UNUSED sr_status keyfile_kdf_preset(keyfile *kf, unsigned profile);

/* Seal root under the passphrase: fills salt, nonce and sealed; vault_id,
 * kdf_alg, opslimit and memlimit must be set. SR_ERR_NOMEM if Argon2id
 * cannot get its memory. */
SR_WARN_UNUSED sr_status keyfile_seal(keyfile *kf, const char *pass,
                                      size_t pass_len,
                                      const uint8_t root[CRYPTO_KEY_BYTES]);
/* Recover the root key. SR_ERR_AUTH if the passphrase is wrong (or the file
 * was altered: the tag cannot tell the two apart). */
SR_WARN_UNUSED sr_status keyfile_open(const keyfile *kf, const char *pass,
                                      size_t pass_len,
                                      uint8_t root[CRYPTO_KEY_BYTES]);

/* ---- the key ring -------------------------------------------------------- */

/* Blind-index kinds; each has its own key. INDEX_CLUSTER tags no index
 * row: it keys a person's retention cluster (vault_cluster_of). */
enum { INDEX_SSN = 1, INDEX_NAME_DOB = 2, INDEX_CLUSTER = 3 };

typedef struct keyring keyring;

/* Keys of the audit log, derived from the root key under context
 * "SRaudit_" with these subkey ids (docs/audit.md). */
enum {
    AUDIT_KEY_PERSON_REF = 1, /* keyed hash of a person id in log entries */
    AUDIT_KEY_JOURNAL = 2,    /* MAC chain of the not-yet-tiled journal */
    AUDIT_KEY_LOG_SIGN = 3,   /* seed of the Ed25519 checkpoint key */
    AUDIT_KEY_TOKEN = 4,      /* keyed hash of API token secrets */
    AUDIT_KEY_DECOY = 5,      /* decoy markers: their keys and sealed ids */
    AUDIT_KEY_QUERY = 6,      /* keyed digests of approved searches */
    AUDIT_KEY_COUNT = 7
};

/* KEK versions a ring can hold (one is added per key rotation). */
#define KEYRING_MAX_KEK_VERSION 1024u

/* Derive the KEKs (versions 1..kek_version) and index keys from root. The
 * ring keeps no copy of root and is read-only once built. Errors:
 * SR_ERR_NOMEM, SR_ERR_INVALID (kek_version 0 or above
 * KEYRING_MAX_KEK_VERSION). */
SR_WARN_UNUSED sr_status keyring_new(keyring **out,
                                     const uint8_t root[CRYPTO_KEY_BYTES],
                                     const uint8_t vault_id[SR_ID_BYTES],
                                     uint32_t kek_version);
/* A copy of k in its own guarded, read-only memory (a further handle on
 * the same vault). Errors: SR_ERR_NOMEM, SR_ERR_INTERNAL. */
SR_WARN_UNUSED sr_status keyring_clone(const keyring *k, keyring **out);
void keyring_free(keyring *k);
uint32_t keyring_kek_version(const keyring *k);

/* One of the AUDIT_KEY_* keys (CRYPTO_KEY_BYTES), NULL for another id. */
const uint8_t *keyring_audit_key(const keyring *k, unsigned which);

/* The reference to a person in the audit log: keyed BLAKE2b of the id, so
 * the log names nobody to a reader without the vault key, while an
 * auditor with it can find a person's entries or resolve a reference. */
#define CRYPTO_PERSON_REF_BYTES 16u
void crypto_person_ref(const keyring *k, const uint8_t id[SR_ID_BYTES],
                       uint8_t ref[CRYPTO_PERSON_REF_BYTES]);

/* A wrapped data key: nonce || ciphertext || tag. */
/*
 * Decoy people (src/vault/decoy.c) are marked in the store by a keyed
 * reference of their id (BLAKE2b-128 under AUDIT_KEY_DECOY, unlike the
 * audit log's person references) holding the id sealed under the same
 * key (XChaCha20-Poly1305, the vault id as associated data): a reader of
 * the database without the keys cannot tell decoys from people.
 */
#define CRYPTO_DECOY_SEALED_BYTES                                              \
    (CRYPTO_NONCE_BYTES + SR_ID_BYTES + CRYPTO_TAG_BYTES)
void crypto_decoy_ref(const keyring *k, const uint8_t id[SR_ID_BYTES],
                      uint8_t ref[CRYPTO_PERSON_REF_BYTES]);
void crypto_decoy_seal(const keyring *k, const uint8_t id[SR_ID_BYTES],
                       uint8_t out[CRYPTO_DECOY_SEALED_BYTES]);
/* SR_ERR_CORRUPT if in is not a sealed id of this vault. */
SR_WARN_UNUSED sr_status crypto_decoy_open(const keyring *k, const uint8_t *in,
                                           size_t n, uint8_t id[SR_ID_BYTES]);

/* A keyed digest (BLAKE2b-256 under AUDIT_KEY_QUERY) of a search's terms,
 * so an approval can be bound to the exact search without storing the
 * identifiers it names. */
#define CRYPTO_QUERY_DIGEST_BYTES 32u
void crypto_query_digest(const keyring *k, const uint8_t *in, size_t n,
                         uint8_t out[CRYPTO_QUERY_DIGEST_BYTES]);
/* The same keyed digest of a label and a list of person ids, hashed as
 * they come (a notification's people: millions of them). */
void crypto_ids_digest(const keyring *k, const char *label,
                       const uint8_t (*ids)[SR_ID_BYTES], size_t n,
                       uint8_t out[CRYPTO_QUERY_DIGEST_BYTES]);

#define WRAPPED_KEY_BYTES                                                      \
    (CRYPTO_NONCE_BYTES + CRYPTO_KEY_BYTES + CRYPTO_TAG_BYTES)

/* Make a fresh random data key in dk (caller's secure memory). */
void crypto_data_key_new(uint8_t dk[CRYPTO_KEY_BYTES]);

/* Wrap dk under KEK kek_version, bound to the vault and the person. */
SR_WARN_UNUSED sr_status crypto_wrap_key(const keyring *k, uint32_t kek_version,
                                         const uint8_t person_id[SR_ID_BYTES],
                                         const uint8_t dk[CRYPTO_KEY_BYTES],
                                         uint8_t out[WRAPPED_KEY_BYTES]);
/* SR_ERR_CORRUPT if the wrapped key was altered or belongs to another
 * person or vault; SR_ERR_VERSION for an unknown KEK version. */
SR_WARN_UNUSED sr_status crypto_unwrap_key(const keyring *k,
                                           uint32_t kek_version,
                                           const uint8_t person_id[SR_ID_BYTES],
                                           const uint8_t *wrapped, size_t n,
                                           uint8_t dk[CRYPTO_KEY_BYTES]);

/* ---- the field envelope -------------------------------------------------- */

/* What a class ciphertext is bound to (its associated data). */
typedef struct envelope_ad {
    uint8_t vault_id[SR_ID_BYTES];
    uint8_t person_id[SR_ID_BYTES];
    uint8_t cls;             /* sr_class */
    uint8_t present;         /* SR_CLASS_BIT of every class the person has */
    uint32_t record_version; /* goes up on every update of the person */
    uint32_t key_version;    /* KEK version wrapping the data key */
} envelope_ad;

#define ENVELOPE_VERSION 1u
/* version byte || nonce || ciphertext || tag */
#define ENVELOPE_OVERHEAD (1u + CRYPTO_NONCE_BYTES + CRYPTO_TAG_BYTES)

/* Seal n bytes of pt into out (n + ENVELOPE_OVERHEAD bytes). */
SR_WARN_UNUSED sr_status crypto_seal_class(const uint8_t dk[CRYPTO_KEY_BYTES],
                                           const envelope_ad *ad,
                                           const uint8_t *pt, size_t n,
                                           uint8_t *out);
/* Open an envelope of n bytes into pt (n - ENVELOPE_OVERHEAD bytes).
 * SR_ERR_CORRUPT if the envelope is short, of an unknown version, or does
 * not verify under dk and ad; pt is then untouched. */
SR_WARN_UNUSED sr_status crypto_open_class(const uint8_t dk[CRYPTO_KEY_BYTES],
                                           const envelope_ad *ad,
                                           const uint8_t *ct, size_t n,
                                           uint8_t *pt);

/* ---- blind indexes ------------------------------------------------------- */

/* Bits to keep so that between INDEX_TARGET_PER_VALUE and twice that many
 * people share each value at expected_people (clamped to [8, 48]): several
 * by design (docs/crypto.md), and few, since a search decrypts them all. */
#define INDEX_TARGET_PER_VALUE 2u
#define INDEX_BITS_MIN 8u
#define INDEX_BITS_MAX 48u
unsigned crypto_index_bits(uint64_t expected_people);

/* Keyed BLAKE2b of the normalised value under kind's key, truncated to the
 * top `bits` bits, as an integer. An unknown kind or bits outside
 * [INDEX_BITS_MIN, INDEX_BITS_MAX] is a caller bug and returns
 * INDEX_INVALID, which is never a value (values are < 2^48). */
#define INDEX_INVALID UINT64_MAX
uint64_t crypto_blind_index(const keyring *k, unsigned kind, const uint8_t *in,
                            size_t n, unsigned bits);

#endif
