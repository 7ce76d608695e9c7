/* SPDX-License-Identifier: Apache-2.0 */
/*
 * crypto.c - the key hierarchy, the wrapped data keys, the field envelope
 * and the blind indexes; every primitive is libsodium's.
 *
 * Threats answered here (docs/crypto.md has every byte): a stolen key file
 * yields nothing without the passphrase (Argon2id); a stolen database
 * yields only ciphertext under per-person keys; a database administrator
 * who swaps, replays or edits ciphertext between people, classes, versions
 * or vaults fails the Poly1305 tag, because all of those are bound into
 * the associated data. Keys live in sodium_malloc memory and are wiped on
 * every path.
 */
#include <string.h>

#include <sodium.h>

#include "crypto/crypto.h"
#include "util/util.h"

/* The fixed sizes in crypto.h must be libsodium's. */
_Static_assert(CRYPTO_KEY_BYTES == crypto_aead_xchacha20poly1305_ietf_KEYBYTES,
               "key size");
_Static_assert(CRYPTO_NONCE_BYTES ==
                   crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
               "nonce size");
_Static_assert(CRYPTO_TAG_BYTES == crypto_aead_xchacha20poly1305_ietf_ABYTES,
               "tag size");
_Static_assert(CRYPTO_KEY_BYTES == crypto_kdf_KEYBYTES, "kdf key size");
_Static_assert(sizeof(((keyfile *)0)->salt) == crypto_pwhash_SALTBYTES,
               "salt size");
_Static_assert(KEYFILE_SIZE == 8 + 4 + SR_ID_BYTES + 4 + 8 + 8 + 16 +
                                   CRYPTO_NONCE_BYTES + CRYPTO_KEY_BYTES +
                                   CRYPTO_TAG_BYTES,
               "key file layout");

/* crypto_kdf contexts: exactly crypto_kdf_CONTEXTBYTES (8) characters. */
static const char kdf_ctx_kek[crypto_kdf_CONTEXTBYTES + 1] = "SRkek___";
static const char kdf_ctx_index[crypto_kdf_CONTEXTBYTES + 1] = "SRbidx__";
/* The audit keys (subkey ids are the AUDIT_KEY_* values). */
static const char kdf_ctx_audit[crypto_kdf_CONTEXTBYTES + 1] = "SRaudit_";

/* Domain-separation prefixes of the associated data. */
static const uint8_t ad_tag_wrap[4] = {'S', 'R', 'W', 'K'};
static const uint8_t ad_tag_envelope[4] = {'S', 'R', 'F', 'E'};

#define INDEX_KIND_MAX 3u
#define WRAP_AD_BYTES (4u + SR_ID_BYTES + SR_ID_BYTES + 4u)
#define ENVELOPE_AD_BYTES                                                      \
    (4u + 1u + SR_ID_BYTES + SR_ID_BYTES + 1u + 1u + 4u + 4u)

/* Plaintext up to this size is staged on the stack in crypto_open_class;
 * larger classes go through sodium_malloc. Most classes are far smaller. */
#define OPEN_STACK_BYTES 4096u

struct keyring {
    uint32_t kek_version;
    uint8_t vault_id[SR_ID_BYTES];
    uint8_t index_key[INDEX_KIND_MAX + 1][CRYPTO_KEY_BYTES]; /* [0] unused */
    uint8_t audit_key[AUDIT_KEY_COUNT][CRYPTO_KEY_BYTES];    /* [0] unused */
    uint8_t kek[][CRYPTO_KEY_BYTES]; /* kek[v - 1] is KEK version v */
};

/* ---- big-endian helpers -------------------------------------------------- */

static void put_u32be(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void put_u64be(uint8_t *p, uint64_t v)
{
    put_u32be(p, (uint32_t)(v >> 32));
    put_u32be(p + 4, (uint32_t)v);
}

/* ---- the key file -------------------------------------------------------- */

/* Parameters libsodium's Argon2id accepts; anything else in a key file is
 * damage (or an attempt to make crypto_pwhash allocate without bound). */
static bool kdf_params_ok(uint32_t alg, uint64_t ops, uint64_t mem)
{
    if (alg != KEYFILE_KDF_ARGON2ID13)
        return false;
    if (ops < crypto_pwhash_argon2id_OPSLIMIT_MIN ||
        ops > crypto_pwhash_argon2id_OPSLIMIT_MAX)
        return false;
    if (mem < crypto_pwhash_argon2id_MEMLIMIT_MIN ||
        mem > crypto_pwhash_argon2id_MEMLIMIT_MAX)
        return false;
    return true;
}

sr_status keyfile_parse(const uint8_t *p, size_t n, keyfile *out)
{
    sr_reader r;
    const uint8_t *magic;
    uint32_t layout;
    keyfile kf;

    if (p == NULL || n != KEYFILE_SIZE)
        return SR_ERR_NOT_VAULT;
    reader_init(&r, p, n);
    if (!reader_bytes(&r, 8, &magic) || memcmp(magic, KEYFILE_MAGIC, 8) != 0)
        return SR_ERR_NOT_VAULT;
    if (!reader_u32be(&r, &layout))
        return SR_ERR_NOT_VAULT;
    if (layout != KEYFILE_LAYOUT_VERSION)
        return SR_ERR_VERSION;
    if (!reader_copy(&r, kf.vault_id, sizeof kf.vault_id) ||
        !reader_u32be(&r, &kf.kdf_alg) || !reader_u64be(&r, &kf.opslimit) ||
        !reader_u64be(&r, &kf.memlimit) ||
        !reader_copy(&r, kf.salt, sizeof kf.salt) ||
        !reader_copy(&r, kf.nonce, sizeof kf.nonce) ||
        !reader_copy(&r, kf.sealed, sizeof kf.sealed) || reader_left(&r) != 0)
        return SR_ERR_NOT_VAULT; /* unreachable: the size was checked */
    if (kf.kdf_alg != KEYFILE_KDF_ARGON2ID13)
        return SR_ERR_VERSION;
    if (!kdf_params_ok(kf.kdf_alg, kf.opslimit, kf.memlimit))
        return SR_ERR_CORRUPT;
    *out = kf;
    return SR_OK;
}

void keyfile_serialize(const keyfile *kf, uint8_t out[KEYFILE_SIZE])
{
    uint8_t *p = out;

    memcpy(p, KEYFILE_MAGIC, 8);
    p += 8;
    put_u32be(p, KEYFILE_LAYOUT_VERSION);
    p += 4;
    memcpy(p, kf->vault_id, SR_ID_BYTES);
    p += SR_ID_BYTES;
    put_u32be(p, kf->kdf_alg);
    p += 4;
    put_u64be(p, kf->opslimit);
    p += 8;
    put_u64be(p, kf->memlimit);
    p += 8;
    memcpy(p, kf->salt, sizeof kf->salt);
    p += sizeof kf->salt;
    memcpy(p, kf->nonce, sizeof kf->nonce);
    p += sizeof kf->nonce;
    memcpy(p, kf->sealed, sizeof kf->sealed);
}

sr_status keyfile_kdf_preset(keyfile *kf, unsigned profile)
{
    kf->kdf_alg = KEYFILE_KDF_ARGON2ID13;
    switch (profile) {
    case 0: /* SR_KDF_MODERATE */
        kf->opslimit = crypto_pwhash_argon2id_OPSLIMIT_MODERATE;
        kf->memlimit = crypto_pwhash_argon2id_MEMLIMIT_MODERATE;
        return SR_OK;
    case 1: /* SR_KDF_INTERACTIVE */
        kf->opslimit = crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE;
        kf->memlimit = crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE;
        return SR_OK;
    case 2: /* SR_KDF_SENSITIVE */
        kf->opslimit = crypto_pwhash_argon2id_OPSLIMIT_SENSITIVE;
        kf->memlimit = crypto_pwhash_argon2id_MEMLIMIT_SENSITIVE;
        return SR_OK;
    default:
        return SR_ERR_INVALID;
    }
}

/* Stretch the passphrase into a sealing key (sodium_malloc'd, caller
 * frees). crypto_pwhash fails only when it cannot allocate its memlimit
 * (the parameters were range-checked), hence SR_ERR_NOMEM. */
static sr_status keyfile_derive(const keyfile *kf, const char *pass,
                                size_t pass_len, uint8_t **key_out)
{
    sr_status st = SR_OK;
    uint8_t *key = NULL;

    *key_out = NULL;
    if (!kdf_params_ok(kf->kdf_alg, kf->opslimit, kf->memlimit)) {
        st = SR_ERR_INVALID;
        goto cleanup;
    }
    if (pass == NULL || pass_len == 0 ||
        pass_len > crypto_pwhash_argon2id_PASSWD_MAX) {
        st = SR_ERR_INVALID;
        goto cleanup;
    }
    key = sodium_malloc(CRYPTO_KEY_BYTES);
    if (key == NULL) {
        st = SR_ERR_NOMEM;
        goto cleanup;
    }
    if (crypto_pwhash(key, CRYPTO_KEY_BYTES, pass, pass_len, kf->salt,
                      kf->opslimit, (size_t)kf->memlimit,
                      crypto_pwhash_ALG_ARGON2ID13) != 0) {
        st = SR_ERR_NOMEM;
        goto cleanup;
    }
    *key_out = key;
    key = NULL;
cleanup:
    sodium_free(key); /* wipes; accepts NULL */
    return st;
}

sr_status keyfile_seal(keyfile *kf, const char *pass, size_t pass_len,
                       const uint8_t root[CRYPTO_KEY_BYTES])
{
    sr_status st;
    uint8_t *key = NULL;
    uint8_t header[KEYFILE_SIZE];

    randombytes_buf(kf->salt, sizeof kf->salt);
    randombytes_buf(kf->nonce, sizeof kf->nonce);
    st = keyfile_derive(kf, pass, pass_len, &key);
    if (st != SR_OK)
        goto cleanup;
    /* The AD is the serialized header: editing the vault id or weakening
     * the KDF parameters in the file makes the open fail. */
    keyfile_serialize(kf, header);
    if (crypto_aead_xchacha20poly1305_ietf_encrypt(
            kf->sealed, NULL, root, CRYPTO_KEY_BYTES, header,
            KEYFILE_HEADER_BYTES, NULL, kf->nonce, key) != 0) {
        st = SR_ERR_INTERNAL;
        goto cleanup;
    }
cleanup:
    sodium_free(key);
    sodium_memzero(header, sizeof header);
    return st;
}

sr_status keyfile_open(const keyfile *kf, const char *pass, size_t pass_len,
                       uint8_t root[CRYPTO_KEY_BYTES])
{
    sr_status st;
    uint8_t *key = NULL;
    uint8_t header[KEYFILE_SIZE];

    keyfile_serialize(kf, header);
    st = keyfile_derive(kf, pass, pass_len, &key);
    if (st != SR_OK)
        goto cleanup;
    /* On a tag failure libsodium zeroes root and returns -1; no unverified
     * byte of the root key is ever written. */
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            root, NULL, NULL, kf->sealed, sizeof kf->sealed, header,
            KEYFILE_HEADER_BYTES, kf->nonce, key) != 0) {
        st = SR_ERR_AUTH;
        goto cleanup;
    }
cleanup:
    sodium_free(key);
    sodium_memzero(header, sizeof header);
    return st;
}

/* ---- the key ring -------------------------------------------------------- */

sr_status keyring_new(keyring **out, const uint8_t root[CRYPTO_KEY_BYTES],
                      const uint8_t vault_id[SR_ID_BYTES], uint32_t kek_version)
{
    sr_status st = SR_OK;
    keyring *k = NULL;

    *out = NULL;
    if (kek_version == 0 || kek_version > KEYRING_MAX_KEK_VERSION) {
        st = SR_ERR_INVALID;
        goto cleanup;
    }
    k = sodium_malloc(sizeof *k + (size_t)kek_version * CRYPTO_KEY_BYTES);
    if (k == NULL) {
        st = SR_ERR_NOMEM;
        goto cleanup;
    }
    k->kek_version = kek_version;
    memcpy(k->vault_id, vault_id, SR_ID_BYTES);
    sodium_memzero(k->index_key[0], CRYPTO_KEY_BYTES);
    for (uint32_t v = 1; v <= kek_version; v++) {
        if (crypto_kdf_derive_from_key(k->kek[v - 1], CRYPTO_KEY_BYTES, v,
                                       kdf_ctx_kek, root) != 0) {
            st = SR_ERR_INTERNAL;
            goto cleanup;
        }
    }
    for (unsigned kind = 1; kind <= INDEX_KIND_MAX; kind++) {
        if (crypto_kdf_derive_from_key(k->index_key[kind], CRYPTO_KEY_BYTES,
                                       kind, kdf_ctx_index, root) != 0) {
            st = SR_ERR_INTERNAL;
            goto cleanup;
        }
    }
    for (unsigned id = 1; id < AUDIT_KEY_COUNT; id++) {
        if (crypto_kdf_derive_from_key(k->audit_key[id], CRYPTO_KEY_BYTES, id,
                                       kdf_ctx_audit, root) != 0) {
            st = SR_ERR_INTERNAL;
            goto cleanup;
        }
    }
    /* Read-only from here: a stray write into the ring faults instead of
     * silently corrupting a key. */
    if (sodium_mprotect_readonly(k) != 0) {
        st = SR_ERR_INTERNAL;
        goto cleanup;
    }
    *out = k;
    k = NULL;
cleanup:
    sodium_free(k); /* wipes the partial ring */
    return st;
}

sr_status keyring_clone(const keyring *k, keyring **out)
{
    size_t size = sizeof *k + (size_t)k->kek_version * CRYPTO_KEY_BYTES;
    keyring *c = sodium_malloc(size);
    *out = NULL;
    if (c == NULL)
        return SR_ERR_NOMEM;
    memcpy(c, k, size);
    if (sodium_mprotect_readonly(c) != 0) {
        sodium_free(c);
        return SR_ERR_INTERNAL;
    }
    *out = c;
    return SR_OK;
}

void keyring_free(keyring *k)
{
    sodium_free(k); /* makes it writable, wipes, unlocks; accepts NULL */
}

uint32_t keyring_kek_version(const keyring *k)
{
    return k->kek_version;
}

const uint8_t *keyring_audit_key(const keyring *k, unsigned which)
{
    return which > 0 && which < AUDIT_KEY_COUNT ? k->audit_key[which] : NULL;
}

void crypto_person_ref(const keyring *k, const uint8_t id[SR_ID_BYTES],
                       uint8_t ref[CRYPTO_PERSON_REF_BYTES])
{
    /* Keyed BLAKE2b cannot fail for these sizes. */
    (void)crypto_generichash(ref, CRYPTO_PERSON_REF_BYTES, id, SR_ID_BYTES,
                             k->audit_key[AUDIT_KEY_PERSON_REF],
                             CRYPTO_KEY_BYTES);
}

void crypto_decoy_ref(const keyring *k, const uint8_t id[SR_ID_BYTES],
                      uint8_t ref[CRYPTO_PERSON_REF_BYTES])
{
    (void)crypto_generichash(ref, CRYPTO_PERSON_REF_BYTES, id, SR_ID_BYTES,
                             k->audit_key[AUDIT_KEY_DECOY], CRYPTO_KEY_BYTES);
}

void crypto_query_digest(const keyring *k, const uint8_t *in, size_t n,
                         uint8_t out[CRYPTO_QUERY_DIGEST_BYTES])
{
    (void)crypto_generichash(out, CRYPTO_QUERY_DIGEST_BYTES, in, n,
                             k->audit_key[AUDIT_KEY_QUERY], CRYPTO_KEY_BYTES);
}

void crypto_ids_digest(const keyring *k, const char *label,
                       const uint8_t (*ids)[SR_ID_BYTES], size_t n,
                       uint8_t out[CRYPTO_QUERY_DIGEST_BYTES])
{
    crypto_generichash_state h;
    (void)crypto_generichash_init(&h, k->audit_key[AUDIT_KEY_QUERY],
                                  CRYPTO_KEY_BYTES, CRYPTO_QUERY_DIGEST_BYTES);
    (void)crypto_generichash_update(&h, (const uint8_t *)label,
                                    strlen(label) + 1);
    for (size_t i = 0; i < n; i++)
        (void)crypto_generichash_update(&h, ids[i], SR_ID_BYTES);
    (void)crypto_generichash_final(&h, out, CRYPTO_QUERY_DIGEST_BYTES);
    sodium_memzero(&h, sizeof h);
}

void crypto_decoy_seal(const keyring *k, const uint8_t id[SR_ID_BYTES],
                       uint8_t out[CRYPTO_DECOY_SEALED_BYTES])
{
    randombytes_buf(out, CRYPTO_NONCE_BYTES);
    (void)crypto_aead_xchacha20poly1305_ietf_encrypt(
        out + CRYPTO_NONCE_BYTES, NULL, id, SR_ID_BYTES, k->vault_id,
        SR_ID_BYTES, NULL, out, k->audit_key[AUDIT_KEY_DECOY]);
}

sr_status crypto_decoy_open(const keyring *k, const uint8_t *in, size_t n,
                            uint8_t id[SR_ID_BYTES])
{
    if (in == NULL || n != CRYPTO_DECOY_SEALED_BYTES ||
        crypto_aead_xchacha20poly1305_ietf_decrypt(
            id, NULL, NULL, in + CRYPTO_NONCE_BYTES, n - CRYPTO_NONCE_BYTES,
            k->vault_id, SR_ID_BYTES, in, k->audit_key[AUDIT_KEY_DECOY]) != 0)
        return SR_ERR_CORRUPT;
    return SR_OK;
}

void crypto_data_key_new(uint8_t dk[CRYPTO_KEY_BYTES])
{
    crypto_aead_xchacha20poly1305_ietf_keygen(dk);
}

/* "SRWK" || vault_id || person_id || u32be kek_version */
static void wrap_ad(uint8_t ad[WRAP_AD_BYTES], const keyring *k,
                    const uint8_t person_id[SR_ID_BYTES], uint32_t kek_version)
{
    memcpy(ad, ad_tag_wrap, 4);
    memcpy(ad + 4, k->vault_id, SR_ID_BYTES);
    memcpy(ad + 4 + SR_ID_BYTES, person_id, SR_ID_BYTES);
    put_u32be(ad + 4 + 2 * SR_ID_BYTES, kek_version);
}

sr_status crypto_wrap_key(const keyring *k, uint32_t kek_version,
                          const uint8_t person_id[SR_ID_BYTES],
                          const uint8_t dk[CRYPTO_KEY_BYTES],
                          uint8_t out[WRAPPED_KEY_BYTES])
{
    uint8_t ad[WRAP_AD_BYTES];

    if (kek_version == 0 || kek_version > k->kek_version)
        return SR_ERR_VERSION;
    wrap_ad(ad, k, person_id, kek_version);
    /* XChaCha20's 192-bit nonce makes random nonces safe for any number of
     * wraps under one KEK (no counter to keep in sync). */
    randombytes_buf(out, CRYPTO_NONCE_BYTES);
    if (crypto_aead_xchacha20poly1305_ietf_encrypt(
            out + CRYPTO_NONCE_BYTES, NULL, dk, CRYPTO_KEY_BYTES, ad, sizeof ad,
            NULL, out, k->kek[kek_version - 1]) != 0)
        return SR_ERR_INTERNAL;
    return SR_OK;
}

sr_status crypto_unwrap_key(const keyring *k, uint32_t kek_version,
                            const uint8_t person_id[SR_ID_BYTES],
                            const uint8_t *wrapped, size_t n,
                            uint8_t dk[CRYPTO_KEY_BYTES])
{
    uint8_t ad[WRAP_AD_BYTES];

    if (kek_version == 0 || kek_version > k->kek_version)
        return SR_ERR_VERSION;
    if (wrapped == NULL || n != WRAPPED_KEY_BYTES)
        return SR_ERR_CORRUPT;
    wrap_ad(ad, k, person_id, kek_version);
    /* Verifies before decrypting; on failure dk is zeroed, never filled
     * with unverified bytes. */
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            dk, NULL, NULL, wrapped + CRYPTO_NONCE_BYTES,
            n - CRYPTO_NONCE_BYTES, ad, sizeof ad, wrapped,
            k->kek[kek_version - 1]) != 0)
        return SR_ERR_CORRUPT;
    return SR_OK;
}

/* ---- the field envelope -------------------------------------------------- */

/* "SRFE" || version || vault_id || person_id || class || present ||
 * u32be record_version || u32be key_version. Binding the record version
 * defeats replaying an older ciphertext of one class into a newer row;
 * binding the class and person defeats swapping envelopes between columns
 * and rows; binding the set of present classes defeats deleting one. */
static void envelope_ad_encode(uint8_t out[ENVELOPE_AD_BYTES],
                               const envelope_ad *ad, uint8_t version)
{
    uint8_t *p = out;

    memcpy(p, ad_tag_envelope, 4);
    p += 4;
    *p++ = version;
    memcpy(p, ad->vault_id, SR_ID_BYTES);
    p += SR_ID_BYTES;
    memcpy(p, ad->person_id, SR_ID_BYTES);
    p += SR_ID_BYTES;
    *p++ = ad->cls;
    *p++ = ad->present;
    put_u32be(p, ad->record_version);
    put_u32be(p + 4, ad->key_version);
}

sr_status crypto_seal_class(const uint8_t dk[CRYPTO_KEY_BYTES],
                            const envelope_ad *ad, const uint8_t *pt, size_t n,
                            uint8_t *out)
{
    uint8_t adb[ENVELOPE_AD_BYTES];

    if (n > crypto_aead_xchacha20poly1305_ietf_MESSAGEBYTES_MAX ||
        (n > 0 && pt == NULL))
        return SR_ERR_INVALID;
    envelope_ad_encode(adb, ad, ENVELOPE_VERSION);
    out[0] = ENVELOPE_VERSION;
    randombytes_buf(out + 1, CRYPTO_NONCE_BYTES);
    if (crypto_aead_xchacha20poly1305_ietf_encrypt(out + 1 + CRYPTO_NONCE_BYTES,
                                                   NULL, pt, n, adb, sizeof adb,
                                                   NULL, out + 1, dk) != 0)
        return SR_ERR_INTERNAL;
    return SR_OK;
}

sr_status crypto_open_class(const uint8_t dk[CRYPTO_KEY_BYTES],
                            const envelope_ad *ad, const uint8_t *ct, size_t n,
                            uint8_t *pt)
{
    sr_status st = SR_OK;
    uint8_t adb[ENVELOPE_AD_BYTES];
    uint8_t stack[OPEN_STACK_BYTES];
    uint8_t *scratch = NULL;
    size_t ptlen = 0;

    if (ct == NULL || n < ENVELOPE_OVERHEAD || ct[0] != ENVELOPE_VERSION) {
        st = SR_ERR_CORRUPT;
        goto cleanup;
    }
    ptlen = n - ENVELOPE_OVERHEAD;
    envelope_ad_encode(adb, ad, ct[0]);
    /*
     * libsodium's decrypt checks the tag before decrypting, but on failure
     * it zeroes the output (aead_chacha20poly1305.c: memset(m, 0, mlen)),
     * so decrypting straight into pt would not leave it untouched as our
     * contract promises. Stage the plaintext and copy it out only after
     * the tag verified; the stage is wiped on every path.
     */
    scratch = ptlen <= sizeof stack ? stack : sodium_malloc(ptlen);
    if (scratch == NULL) {
        st = SR_ERR_NOMEM;
        goto cleanup;
    }
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            scratch, NULL, NULL, ct + 1 + CRYPTO_NONCE_BYTES,
            n - 1 - CRYPTO_NONCE_BYTES, adb, sizeof adb, ct + 1, dk) != 0) {
        st = SR_ERR_CORRUPT;
        goto cleanup;
    }
    if (ptlen > 0)
        memcpy(pt, scratch, ptlen);
cleanup:
    if (scratch == stack)
        sodium_memzero(stack, ptlen);
    else
        sodium_free(scratch);
    return st;
}

/* ---- blind indexes ------------------------------------------------------- */

unsigned crypto_index_bits(uint64_t expected_people)
{
    /* floor(log2(expected / T)) == floor(log2(floor(expected / T))) for
     * expected >= T, so integer division loses nothing. */
    uint64_t q = expected_people / INDEX_TARGET_PER_VALUE;
    unsigned bits = 0;

    while (q > 1) {
        q >>= 1;
        bits++;
    }
    if (bits < INDEX_BITS_MIN)
        bits = INDEX_BITS_MIN;
    if (bits > INDEX_BITS_MAX)
        bits = INDEX_BITS_MAX;
    return bits;
}

uint64_t crypto_blind_index(const keyring *k, unsigned kind, const uint8_t *in,
                            size_t n, unsigned bits)
{
    crypto_generichash_state state;
    uint8_t h[crypto_generichash_BYTES];
    uint8_t kb;
    uint64_t v = 0;

    if (kind == 0 || kind > INDEX_KIND_MAX || bits < INDEX_BITS_MIN ||
        bits > INDEX_BITS_MAX || (in == NULL && n > 0))
        return INDEX_INVALID;
    kb = (uint8_t)kind;
    /* BLAKE2b-256 keyed with the kind's own key over kind || input: a DBA
     * without the key cannot compute index values, and the same input
     * under two kinds gives unrelated values. */
    if (crypto_generichash_init(&state, k->index_key[kind], CRYPTO_KEY_BYTES,
                                sizeof h) != 0 ||
        crypto_generichash_update(&state, &kb, 1) != 0 ||
        (n > 0 && crypto_generichash_update(&state, in, n) != 0) ||
        crypto_generichash_final(&state, h, sizeof h) != 0) {
        v = INDEX_INVALID;
        goto cleanup;
    }
    for (unsigned i = 0; i < 8; i++)
        v = (v << 8) | h[i];
    v >>= 64u - bits;
cleanup:
    sodium_memzero(&state, sizeof state);
    sodium_memzero(h, sizeof h);
    return v;
}
