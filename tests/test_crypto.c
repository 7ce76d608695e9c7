/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_crypto.c - the key file, the key ring, wrapped data keys, the field
 * envelope and the blind indexes (src/crypto). Each test name states the
 * behaviour it pins; the attacks of the threat model (a DBA swapping,
 * replaying or editing ciphertext) are spelled out one AD field at a time.
 *
 * Vectors live in tests/data: xchacha20poly1305.kat is the published
 * draft-irtf-cfrg-xchacha-03 A.3.1 vector; crypto_frozen_v1.txt was
 * produced by this implementation when format v1 was fixed and freezes
 * the byte layouts (a change that breaks existing vaults fails here).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "crypto/crypto.h"
#include "strongroom/strongroom.h"
#include "util/util.h"

/* ---- helpers ---------------------------------------------------------- */

static const char test_pass[] = "correct horse battery staple";

/* The cheapest Argon2id libsodium allows: the tests are about the format,
 * not the cost. */
static keyfile keyfile_min(void)
{
    keyfile kf;
    memset(&kf, 0, sizeof kf);
    for (unsigned i = 0; i < SR_ID_BYTES; i++)
        kf.vault_id[i] = (uint8_t)(0xA0 + i);
    kf.kdf_alg = KEYFILE_KDF_ARGON2ID13;
    kf.opslimit = crypto_pwhash_argon2id_OPSLIMIT_MIN;
    kf.memlimit = crypto_pwhash_argon2id_MEMLIMIT_MIN;
    return kf;
}

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed + i * 7u);
}

static keyring *ring_of(uint8_t root_seed, uint8_t vault_seed, uint32_t kek)
{
    uint8_t root[CRYPTO_KEY_BYTES], vid[SR_ID_BYTES];
    keyring *k = NULL;
    fill(root, sizeof root, root_seed);
    fill(vid, sizeof vid, vault_seed);
    assert_int_equal(keyring_new(&k, root, vid, kek), SR_OK);
    assert_non_null(k);
    return k;
}

static envelope_ad ad_sample(void)
{
    envelope_ad ad;
    fill(ad.vault_id, sizeof ad.vault_id, 1);
    fill(ad.person_id, sizeof ad.person_id, 2);
    ad.cls = SR_CLASS_IDENTITY;
    ad.present = SR_CLASS_BIT(SR_CLASS_IDENTITY) | SR_CLASS_BIT(SR_CLASS_NAME);
    ad.record_version = 3;
    ad.key_version = 1;
    return ad;
}

/* Read "name = hex" from a data file under tests/data into out (n bytes). */
static void vector_get(const char *file, const char *name, uint8_t *out,
                       size_t n)
{
    const char *dir = getenv("SR_SOURCE_DIR");
    char path[1024], line[4096];
    int w =
        snprintf(path, sizeof path, "%s/tests/data/%s", dir ? dir : ".", file);
    assert_true(w > 0 && (size_t)w < sizeof path);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        fail_msg("cannot open %s (set SR_SOURCE_DIR)", path);
    size_t nl = strlen(name);
    bool found = false;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, name, nl) != 0 || line[nl] != ' ')
            continue;
        char *v = strchr(line, '=');
        assert_non_null(v);
        v++;
        while (*v == ' ')
            v++;
        size_t len = strcspn(v, "\r\n");
        if (!hex_decode(out, n, v, len))
            fail_msg("%s: %s is not %zu bytes of hex", file, name, n);
        found = true;
        break;
    }
    fclose(f);
    if (!found)
        fail_msg("%s: no vector named %s", file, name);
}

/* ---- the primitive, against its published vector ---------------------- */

static void xchacha20poly1305_matches_draft_vector_a31(void **state)
{
    (void)state;
    static const char pt[] = "Ladies and Gentlemen of the class of '99: If I "
                             "could offer you only one tip for the future, "
                             "sunscreen would be it.";
    const size_t n = sizeof pt - 1;
    uint8_t key[32], nonce[24], aad[12], want[114 + 16], got[114 + 16];
    assert_int_equal(n, 114);
    vector_get("xchacha20poly1305.kat", "key", key, sizeof key);
    vector_get("xchacha20poly1305.kat", "nonce", nonce, sizeof nonce);
    vector_get("xchacha20poly1305.kat", "aad", aad, sizeof aad);
    vector_get("xchacha20poly1305.kat", "ciphertext_and_tag", want,
               sizeof want);
    assert_int_equal(crypto_aead_xchacha20poly1305_ietf_encrypt(
                         got, NULL, (const uint8_t *)pt, n, aad, sizeof aad,
                         NULL, nonce, key),
                     0);
    assert_memory_equal(got, want, sizeof want);
}

/* Why crypto_open_class stages plaintext: on a failed tag libsodium's
 * decrypt zeroes the output buffer rather than leaving it alone. */
static void libsodium_decrypt_zeroes_output_on_tag_failure(void **state)
{
    (void)state;
    uint8_t key[32], nonce[24], ct[16 + 16], out[16];
    fill(key, sizeof key, 9);
    fill(nonce, sizeof nonce, 3);
    uint8_t pt[16] = "sixteen bytes!!";
    assert_int_equal(crypto_aead_xchacha20poly1305_ietf_encrypt(
                         ct, NULL, pt, sizeof pt, NULL, 0, NULL, nonce, key),
                     0);
    ct[0] ^= 1;
    memset(out, 0xAA, sizeof out);
    assert_int_not_equal(
        crypto_aead_xchacha20poly1305_ietf_decrypt(
            out, NULL, NULL, ct, sizeof ct, NULL, 0, nonce, key),
        0);
    uint8_t zero[16] = {0};
    assert_memory_equal(out, zero, sizeof out);
}

/* ---- the key file -------------------------------------------------------- */

static void keyfile_round_trip_recovers_the_root_key(void **state)
{
    (void)state;
    keyfile kf = keyfile_min(), back;
    uint8_t root[CRYPTO_KEY_BYTES], got[CRYPTO_KEY_BYTES];
    uint8_t bytes[KEYFILE_SIZE], again[KEYFILE_SIZE];
    randombytes_buf(root, sizeof root);
    assert_int_equal(keyfile_seal(&kf, test_pass, strlen(test_pass), root),
                     SR_OK);
    keyfile_serialize(&kf, bytes);
    assert_memory_equal(bytes, KEYFILE_MAGIC, 8);
    assert_int_equal(keyfile_parse(bytes, sizeof bytes, &back), SR_OK);
    keyfile_serialize(&back, again);
    assert_memory_equal(bytes, again, KEYFILE_SIZE);
    assert_int_equal(keyfile_open(&back, test_pass, strlen(test_pass), got),
                     SR_OK);
    assert_memory_equal(root, got, sizeof root);
}

static void keyfile_seal_uses_fresh_salt_and_nonce(void **state)
{
    (void)state;
    keyfile a = keyfile_min(), b = keyfile_min();
    uint8_t root[CRYPTO_KEY_BYTES];
    fill(root, sizeof root, 5);
    assert_int_equal(keyfile_seal(&a, test_pass, strlen(test_pass), root),
                     SR_OK);
    assert_int_equal(keyfile_seal(&b, test_pass, strlen(test_pass), root),
                     SR_OK);
    assert_memory_not_equal(a.salt, b.salt, sizeof a.salt);
    assert_memory_not_equal(a.nonce, b.nonce, sizeof a.nonce);
    assert_memory_not_equal(a.sealed, b.sealed, sizeof a.sealed);
}

static void keyfile_wrong_passphrase_is_auth_error(void **state)
{
    (void)state;
    keyfile kf = keyfile_min();
    uint8_t root[CRYPTO_KEY_BYTES], got[CRYPTO_KEY_BYTES];
    fill(root, sizeof root, 11);
    assert_int_equal(keyfile_seal(&kf, test_pass, strlen(test_pass), root),
                     SR_OK);
    assert_int_equal(keyfile_open(&kf, "correct horse battery stapl", 27, got),
                     SR_ERR_AUTH);
    assert_int_equal(keyfile_open(&kf, "Correct horse battery staple",
                                  strlen(test_pass), got),
                     SR_ERR_AUTH);
}

/* An attacker who edits the vault id, the KDF parameters, the salt or the
 * nonce in the file (to weaken or redirect it) gets SR_ERR_AUTH: the
 * header is the associated data of the seal. */
static void keyfile_edited_header_field_is_auth_error(void **state)
{
    (void)state;
    keyfile kf = keyfile_min(), bad;
    uint8_t root[CRYPTO_KEY_BYTES], got[CRYPTO_KEY_BYTES];
    fill(root, sizeof root, 12);
    assert_int_equal(keyfile_seal(&kf, test_pass, strlen(test_pass), root),
                     SR_OK);
    bad = kf;
    bad.vault_id[0] ^= 1;
    assert_int_equal(keyfile_open(&bad, test_pass, strlen(test_pass), got),
                     SR_ERR_AUTH);
    bad = kf;
    bad.opslimit += 1;
    assert_int_equal(keyfile_open(&bad, test_pass, strlen(test_pass), got),
                     SR_ERR_AUTH);
    bad = kf;
    bad.memlimit += 1024;
    assert_int_equal(keyfile_open(&bad, test_pass, strlen(test_pass), got),
                     SR_ERR_AUTH);
    bad = kf;
    bad.salt[15] ^= 0x80;
    assert_int_equal(keyfile_open(&bad, test_pass, strlen(test_pass), got),
                     SR_ERR_AUTH);
    bad = kf;
    bad.nonce[3] ^= 4;
    assert_int_equal(keyfile_open(&bad, test_pass, strlen(test_pass), got),
                     SR_ERR_AUTH);
    bad = kf;
    bad.sealed[47] ^= 1;
    assert_int_equal(keyfile_open(&bad, test_pass, strlen(test_pass), got),
                     SR_ERR_AUTH);
}

static void keyfile_parse_rejects_wrong_size_or_magic(void **state)
{
    (void)state;
    keyfile kf = keyfile_min(), out;
    uint8_t b[KEYFILE_SIZE + 1];
    keyfile_serialize(&kf, b);
    b[KEYFILE_SIZE] = 0;
    assert_int_equal(keyfile_parse(b, KEYFILE_SIZE, &out), SR_OK);
    assert_int_equal(keyfile_parse(b, KEYFILE_SIZE - 1, &out),
                     SR_ERR_NOT_VAULT);
    assert_int_equal(keyfile_parse(b, KEYFILE_SIZE + 1, &out),
                     SR_ERR_NOT_VAULT);
    assert_int_equal(keyfile_parse(b, 0, &out), SR_ERR_NOT_VAULT);
    assert_int_equal(keyfile_parse(NULL, KEYFILE_SIZE, &out), SR_ERR_NOT_VAULT);
    b[7] = '2'; /* "SRVAULT2" */
    assert_int_equal(keyfile_parse(b, KEYFILE_SIZE, &out), SR_ERR_NOT_VAULT);
}

/* Byte offsets of docs/crypto.md. */
#define OFF_LAYOUT 8
#define OFF_KDF_ALG 28
#define OFF_OPSLIMIT 32
#define OFF_MEMLIMIT 40
#define OFF_SALT 48
#define OFF_NONCE 64
#define OFF_SEALED 88

static void put_be(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static void keyfile_parse_rejects_unknown_layout_or_kdf(void **state)
{
    (void)state;
    keyfile kf = keyfile_min(), out;
    uint8_t b[KEYFILE_SIZE];
    keyfile_serialize(&kf, b);
    put_be(b + OFF_LAYOUT, 2, 4);
    assert_int_equal(keyfile_parse(b, sizeof b, &out), SR_ERR_VERSION);
    keyfile_serialize(&kf, b);
    put_be(b + OFF_KDF_ALG, 2, 4);
    assert_int_equal(keyfile_parse(b, sizeof b, &out), SR_ERR_VERSION);
    put_be(b + OFF_KDF_ALG, 0, 4);
    assert_int_equal(keyfile_parse(b, sizeof b, &out), SR_ERR_VERSION);
}

/* Parameters outside libsodium's range are refused before Argon2id could
 * be asked for, say, 2^63 bytes of memory. */
static void keyfile_parse_rejects_kdf_params_out_of_range(void **state)
{
    (void)state;
    keyfile kf = keyfile_min(), out;
    uint8_t b[KEYFILE_SIZE];
    const uint64_t bad_ops[] = {
        0, crypto_pwhash_argon2id_OPSLIMIT_MIN - 1,
        (uint64_t)crypto_pwhash_argon2id_OPSLIMIT_MAX + 1, UINT64_MAX};
    const uint64_t bad_mem[] = {
        0, crypto_pwhash_argon2id_MEMLIMIT_MIN - 1,
        (uint64_t)crypto_pwhash_argon2id_MEMLIMIT_MAX + 1, UINT64_MAX};
    for (size_t i = 0; i < sizeof bad_ops / sizeof bad_ops[0]; i++) {
        keyfile_serialize(&kf, b);
        put_be(b + OFF_OPSLIMIT, bad_ops[i], 8);
        assert_int_equal(keyfile_parse(b, sizeof b, &out), SR_ERR_CORRUPT);
    }
    for (size_t i = 0; i < sizeof bad_mem / sizeof bad_mem[0]; i++) {
        keyfile_serialize(&kf, b);
        put_be(b + OFF_MEMLIMIT, bad_mem[i], 8);
        assert_int_equal(keyfile_parse(b, sizeof b, &out), SR_ERR_CORRUPT);
    }
    /* The bounds themselves are accepted. */
    keyfile_serialize(&kf, b);
    put_be(b + OFF_OPSLIMIT, crypto_pwhash_argon2id_OPSLIMIT_MAX, 8);
    put_be(b + OFF_MEMLIMIT, crypto_pwhash_argon2id_MEMLIMIT_MAX, 8);
    assert_int_equal(keyfile_parse(b, sizeof b, &out), SR_OK);
}

static void keyfile_layout_matches_documented_offsets(void **state)
{
    (void)state;
    keyfile kf = keyfile_min();
    uint8_t b[KEYFILE_SIZE];
    fill(kf.salt, sizeof kf.salt, 0x30);
    fill(kf.nonce, sizeof kf.nonce, 0x40);
    fill(kf.sealed, sizeof kf.sealed, 0x50);
    kf.opslimit = 0x0102030405060708u;
    kf.memlimit = 0x1112131415161718u;
    keyfile_serialize(&kf, b);
    assert_int_equal(OFF_SEALED, KEYFILE_HEADER_BYTES);
    assert_int_equal(b[OFF_LAYOUT + 3], 1);
    assert_memory_equal(b + 12, kf.vault_id, SR_ID_BYTES);
    assert_int_equal(b[OFF_KDF_ALG + 3], 1);
    assert_int_equal(b[OFF_OPSLIMIT], 0x01);
    assert_int_equal(b[OFF_OPSLIMIT + 7], 0x08);
    assert_int_equal(b[OFF_MEMLIMIT], 0x11);
    assert_memory_equal(b + OFF_SALT, kf.salt, 16);
    assert_memory_equal(b + OFF_NONCE, kf.nonce, 24);
    assert_memory_equal(b + OFF_SEALED, kf.sealed, 48);
}

static void keyfile_presets_are_libsodium_argon2id_presets(void **state)
{
    (void)state;
    keyfile kf = keyfile_min();
    assert_int_equal(keyfile_kdf_preset(&kf, 0), SR_OK);
    assert_int_equal(kf.opslimit, 3);
    assert_int_equal(kf.memlimit, 256u << 20);
    assert_int_equal(keyfile_kdf_preset(&kf, 1), SR_OK);
    assert_int_equal(kf.opslimit, 2);
    assert_int_equal(kf.memlimit, 64u << 20);
    assert_int_equal(keyfile_kdf_preset(&kf, 2), SR_OK);
    assert_int_equal(kf.opslimit, 4);
    assert_int_equal(kf.memlimit, 1024u << 20);
    assert_int_equal(kf.kdf_alg, KEYFILE_KDF_ARGON2ID13);
    assert_int_equal(keyfile_kdf_preset(&kf, 3), SR_ERR_INVALID);
}

static void keyfile_interactive_preset_round_trips(void **state)
{
    (void)state;
    keyfile kf = keyfile_min();
    uint8_t root[CRYPTO_KEY_BYTES], got[CRYPTO_KEY_BYTES];
    fill(root, sizeof root, 77);
    assert_int_equal(keyfile_kdf_preset(&kf, 1), SR_OK);
    assert_int_equal(keyfile_seal(&kf, test_pass, strlen(test_pass), root),
                     SR_OK);
    assert_int_equal(keyfile_open(&kf, test_pass, strlen(test_pass), got),
                     SR_OK);
    assert_memory_equal(root, got, sizeof root);
}

static void keyfile_rejects_empty_passphrase(void **state)
{
    (void)state;
    keyfile kf = keyfile_min();
    uint8_t root[CRYPTO_KEY_BYTES] = {0};
    assert_int_equal(keyfile_seal(&kf, "", 0, root), SR_ERR_INVALID);
}

/* Format freeze: a key file written by v1 still opens, to the same root. */
static void keyfile_frozen_v1_file_still_opens(void **state)
{
    (void)state;
    uint8_t b[KEYFILE_SIZE], want[CRYPTO_KEY_BYTES], got[CRYPTO_KEY_BYTES];
    keyfile kf;
    vector_get("crypto_frozen_v1.txt", "keyfile", b, sizeof b);
    vector_get("crypto_frozen_v1.txt", "root", want, sizeof want);
    assert_int_equal(keyfile_parse(b, sizeof b, &kf), SR_OK);
    assert_int_equal(keyfile_open(&kf, test_pass, strlen(test_pass), got),
                     SR_OK);
    assert_memory_equal(got, want, sizeof want);
}

/* ---- the key ring and wrapped keys -------------------------------------- */

static void keyring_rejects_kek_version_zero_or_too_large(void **state)
{
    (void)state;
    uint8_t root[CRYPTO_KEY_BYTES] = {1}, vid[SR_ID_BYTES] = {2};
    keyring *k = (keyring *)&k; /* must be reset to NULL */
    assert_int_equal(keyring_new(&k, root, vid, 0), SR_ERR_INVALID);
    assert_null(k);
    assert_int_equal(keyring_new(&k, root, vid, KEYRING_MAX_KEK_VERSION + 1),
                     SR_ERR_INVALID);
    assert_null(k);
    keyring_free(NULL);
}

static void wrap_then_unwrap_returns_the_data_key(void **state)
{
    (void)state;
    keyring *k = ring_of(1, 2, 3);
    uint8_t pid[SR_ID_BYTES], dk[CRYPTO_KEY_BYTES], got[CRYPTO_KEY_BYTES];
    uint8_t w[WRAPPED_KEY_BYTES];
    assert_int_equal(keyring_kek_version(k), 3);
    fill(pid, sizeof pid, 40);
    crypto_data_key_new(dk);
    for (uint32_t v = 1; v <= 3; v++) {
        assert_int_equal(crypto_wrap_key(k, v, pid, dk, w), SR_OK);
        assert_int_equal(crypto_unwrap_key(k, v, pid, w, sizeof w, got), SR_OK);
        assert_memory_equal(dk, got, sizeof dk);
    }
    keyring_free(k);
}

static void unwrap_for_another_person_is_corrupt(void **state)
{
    (void)state;
    keyring *k = ring_of(1, 2, 1);
    uint8_t pid[SR_ID_BYTES], other[SR_ID_BYTES], dk[CRYPTO_KEY_BYTES];
    uint8_t got[CRYPTO_KEY_BYTES], w[WRAPPED_KEY_BYTES];
    fill(pid, sizeof pid, 40);
    memcpy(other, pid, sizeof other);
    other[15] ^= 1;
    crypto_data_key_new(dk);
    assert_int_equal(crypto_wrap_key(k, 1, pid, dk, w), SR_OK);
    assert_int_equal(crypto_unwrap_key(k, 1, other, w, sizeof w, got),
                     SR_ERR_CORRUPT);
    keyring_free(k);
}

static void unwrap_in_another_vault_is_corrupt(void **state)
{
    (void)state;
    /* Same root, different vault id: the AD binds the vault. */
    keyring *a = ring_of(1, 2, 1), *b = ring_of(1, 9, 1);
    /* Different root, same vault id: the KEK differs. */
    keyring *c = ring_of(7, 2, 1);
    uint8_t pid[SR_ID_BYTES], dk[CRYPTO_KEY_BYTES], got[CRYPTO_KEY_BYTES];
    uint8_t w[WRAPPED_KEY_BYTES];
    fill(pid, sizeof pid, 40);
    crypto_data_key_new(dk);
    assert_int_equal(crypto_wrap_key(a, 1, pid, dk, w), SR_OK);
    assert_int_equal(crypto_unwrap_key(b, 1, pid, w, sizeof w, got),
                     SR_ERR_CORRUPT);
    assert_int_equal(crypto_unwrap_key(c, 1, pid, w, sizeof w, got),
                     SR_ERR_CORRUPT);
    keyring_free(a);
    keyring_free(b);
    keyring_free(c);
}

static void unwrap_under_wrong_or_unknown_kek_version_fails(void **state)
{
    (void)state;
    keyring *k = ring_of(1, 2, 2);
    uint8_t pid[SR_ID_BYTES], dk[CRYPTO_KEY_BYTES], got[CRYPTO_KEY_BYTES];
    uint8_t w[WRAPPED_KEY_BYTES];
    fill(pid, sizeof pid, 40);
    crypto_data_key_new(dk);
    assert_int_equal(crypto_wrap_key(k, 2, pid, dk, w), SR_OK);
    assert_int_equal(crypto_unwrap_key(k, 1, pid, w, sizeof w, got),
                     SR_ERR_CORRUPT);
    assert_int_equal(crypto_unwrap_key(k, 0, pid, w, sizeof w, got),
                     SR_ERR_VERSION);
    assert_int_equal(crypto_unwrap_key(k, 3, pid, w, sizeof w, got),
                     SR_ERR_VERSION);
    assert_int_equal(crypto_wrap_key(k, 3, pid, dk, w), SR_ERR_VERSION);
    assert_int_equal(crypto_wrap_key(k, 0, pid, dk, w), SR_ERR_VERSION);
    keyring_free(k);
}

static void unwrap_of_altered_or_wrong_length_key_is_corrupt(void **state)
{
    (void)state;
    keyring *k = ring_of(1, 2, 1);
    uint8_t pid[SR_ID_BYTES], dk[CRYPTO_KEY_BYTES], got[CRYPTO_KEY_BYTES];
    uint8_t w[WRAPPED_KEY_BYTES + 1];
    fill(pid, sizeof pid, 40);
    crypto_data_key_new(dk);
    assert_int_equal(crypto_wrap_key(k, 1, pid, dk, w), SR_OK);
    assert_int_equal(
        crypto_unwrap_key(k, 1, pid, w, WRAPPED_KEY_BYTES - 1, got),
        SR_ERR_CORRUPT);
    assert_int_equal(
        crypto_unwrap_key(k, 1, pid, w, WRAPPED_KEY_BYTES + 1, got),
        SR_ERR_CORRUPT);
    assert_int_equal(crypto_unwrap_key(k, 1, pid, NULL, 0, got),
                     SR_ERR_CORRUPT);
    for (size_t i = 0; i < WRAPPED_KEY_BYTES; i += 9) {
        w[i] ^= 0x20;
        assert_int_equal(
            crypto_unwrap_key(k, 1, pid, w, WRAPPED_KEY_BYTES, got),
            SR_ERR_CORRUPT);
        w[i] ^= 0x20;
    }
    keyring_free(k);
}

static void frozen_v1_wrapped_key_and_envelope_still_open(void **state)
{
    (void)state;
    const char *f = "crypto_frozen_v1.txt";
    uint8_t root[CRYPTO_KEY_BYTES], vid[SR_ID_BYTES], pid[SR_ID_BYTES];
    uint8_t w[WRAPPED_KEY_BYTES], dk[CRYPTO_KEY_BYTES], want[CRYPTO_KEY_BYTES];
    uint8_t env[ENVELOPE_OVERHEAD + 11], pt[11];
    keyring *k = NULL;
    vector_get(f, "root", root, sizeof root);
    vector_get(f, "vault_id", vid, sizeof vid);
    vector_get(f, "person_id", pid, sizeof pid);
    vector_get(f, "wrapped_kek2", w, sizeof w);
    vector_get(f, "data_key", want, sizeof want);
    assert_int_equal(keyring_new(&k, root, vid, 2), SR_OK);
    assert_int_equal(crypto_unwrap_key(k, 2, pid, w, sizeof w, dk), SR_OK);
    assert_memory_equal(dk, want, sizeof dk);
    envelope_ad ad;
    memcpy(ad.vault_id, vid, SR_ID_BYTES);
    memcpy(ad.person_id, pid, SR_ID_BYTES);
    ad.cls = SR_CLASS_NAME;
    ad.present = SR_CLASS_BIT(SR_CLASS_IDENTITY) | SR_CLASS_BIT(SR_CLASS_NAME);
    ad.record_version = 7;
    ad.key_version = 2;
    vector_get(f, "envelope_name_v7", env, sizeof env);
    assert_int_equal(crypto_open_class(dk, &ad, env, sizeof env, pt), SR_OK);
    assert_memory_equal(pt, "hello world", 11);
    /* And the blind indexes of the frozen ring keep their values. */
    uint8_t b[8];
    vector_get(f, "index_ssn_123456789_bits22", b, 4);
    uint64_t v = (uint64_t)b[0] << 24 | (uint64_t)b[1] << 16 |
                 (uint64_t)b[2] << 8 | b[3];
    assert_int_equal(
        crypto_blind_index(k, INDEX_SSN, (const uint8_t *)"123456789", 9, 22),
        v);
    keyring_free(k);
}

/* ---- the envelope -------------------------------------------------------- */

static void envelope_round_trips_and_has_41_bytes_overhead(void **state)
{
    (void)state;
    uint8_t dk[CRYPTO_KEY_BYTES], pt[300], ct[300 + ENVELOPE_OVERHEAD];
    uint8_t got[300];
    envelope_ad ad = ad_sample();
    assert_int_equal(ENVELOPE_OVERHEAD, 41);
    crypto_data_key_new(dk);
    randombytes_buf(pt, sizeof pt);
    assert_int_equal(crypto_seal_class(dk, &ad, pt, sizeof pt, ct), SR_OK);
    assert_int_equal(ct[0], ENVELOPE_VERSION);
    assert_int_equal(crypto_open_class(dk, &ad, ct, sizeof ct, got), SR_OK);
    assert_memory_equal(pt, got, sizeof pt);
    /* An empty class seals and opens too (41 bytes). */
    assert_int_equal(crypto_seal_class(dk, &ad, NULL, 0, ct), SR_OK);
    assert_int_equal(crypto_open_class(dk, &ad, ct, ENVELOPE_OVERHEAD, got),
                     SR_OK);
}

static void envelope_nonces_are_random(void **state)
{
    (void)state;
    uint8_t dk[CRYPTO_KEY_BYTES], a[8 + ENVELOPE_OVERHEAD],
        b[8 + ENVELOPE_OVERHEAD];
    envelope_ad ad = ad_sample();
    crypto_data_key_new(dk);
    assert_int_equal(
        crypto_seal_class(dk, &ad, (const uint8_t *)"12345678", 8, a), SR_OK);
    assert_int_equal(
        crypto_seal_class(dk, &ad, (const uint8_t *)"12345678", 8, b), SR_OK);
    assert_memory_not_equal(a + 1, b + 1, CRYPTO_NONCE_BYTES);
}

/* Open ct under ad and expect SR_ERR_CORRUPT with out left untouched. */
static void expect_corrupt_untouched(const uint8_t *dk, const envelope_ad *ad,
                                     const uint8_t *ct, size_t n)
{
    size_t ptlen = n >= ENVELOPE_OVERHEAD ? n - ENVELOPE_OVERHEAD : 0;
    uint8_t *out = malloc(ptlen + 1), *marker = malloc(ptlen + 1);
    assert_non_null(out);
    assert_non_null(marker);
    memset(out, 0xAA, ptlen + 1);
    memset(marker, 0xAA, ptlen + 1);
    assert_int_equal(crypto_open_class(dk, ad, ct, n, out), SR_ERR_CORRUPT);
    assert_memory_equal(out, marker, ptlen + 1);
    free(out);
    free(marker);
}

/* A DBA moving ciphertext between people, classes, record versions, key
 * versions or vaults is caught: each AD field, changed alone. */
static void envelope_each_changed_ad_field_is_corrupt(void **state)
{
    (void)state;
    uint8_t dk[CRYPTO_KEY_BYTES], pt[64], ct[64 + ENVELOPE_OVERHEAD];
    envelope_ad ad = ad_sample(), bad;
    crypto_data_key_new(dk);
    randombytes_buf(pt, sizeof pt);
    assert_int_equal(crypto_seal_class(dk, &ad, pt, sizeof pt, ct), SR_OK);

    bad = ad;
    bad.vault_id[0] ^= 1;
    expect_corrupt_untouched(dk, &bad, ct, sizeof ct);
    bad = ad;
    bad.person_id[SR_ID_BYTES - 1] ^= 1;
    expect_corrupt_untouched(dk, &bad, ct, sizeof ct);
    bad = ad;
    bad.cls = SR_CLASS_NAME;
    expect_corrupt_untouched(dk, &bad, ct, sizeof ct);
    bad = ad;
    bad.present = (uint8_t)(ad.present & ~SR_CLASS_BIT(SR_CLASS_NAME));
    expect_corrupt_untouched(dk, &bad, ct, sizeof ct); /* a class deleted */
    bad = ad;
    bad.record_version = ad.record_version + 1; /* replayed older version */
    expect_corrupt_untouched(dk, &bad, ct, sizeof ct);
    bad = ad;
    bad.key_version = ad.key_version + 1;
    expect_corrupt_untouched(dk, &bad, ct, sizeof ct);
    /* A different data key (another person's) fails too. */
    uint8_t dk2[CRYPTO_KEY_BYTES];
    crypto_data_key_new(dk2);
    expect_corrupt_untouched(dk2, &ad, ct, sizeof ct);
}

static void envelope_flipped_byte_is_corrupt_and_output_untouched(void **state)
{
    (void)state;
    uint8_t dk[CRYPTO_KEY_BYTES], pt[100], ct[100 + ENVELOPE_OVERHEAD];
    envelope_ad ad = ad_sample();
    crypto_data_key_new(dk);
    randombytes_buf(pt, sizeof pt);
    assert_int_equal(crypto_seal_class(dk, &ad, pt, sizeof pt, ct), SR_OK);
    for (size_t i = 0; i < sizeof ct; i++) { /* version, nonce, ct, tag */
        ct[i] ^= 0x01;
        expect_corrupt_untouched(dk, &ad, ct, sizeof ct);
        ct[i] ^= 0x01;
    }
}

/* Above OPEN_STACK_BYTES the stage is sodium_malloc'd; same contract. */
static void
envelope_large_class_flipped_byte_leaves_output_untouched(void **state)
{
    (void)state;
    const size_t n = 100000;
    uint8_t dk[CRYPTO_KEY_BYTES];
    uint8_t *pt = malloc(n), *ct = malloc(n + ENVELOPE_OVERHEAD),
            *got = malloc(n);
    envelope_ad ad = ad_sample();
    assert_non_null(pt);
    assert_non_null(ct);
    assert_non_null(got);
    crypto_data_key_new(dk);
    randombytes_buf(pt, n);
    assert_int_equal(crypto_seal_class(dk, &ad, pt, n, ct), SR_OK);
    assert_int_equal(crypto_open_class(dk, &ad, ct, n + ENVELOPE_OVERHEAD, got),
                     SR_OK);
    assert_memory_equal(pt, got, n);
    ct[n / 2] ^= 0x80;
    expect_corrupt_untouched(dk, &ad, ct, n + ENVELOPE_OVERHEAD);
    free(pt);
    free(ct);
    free(got);
}

static void envelope_short_or_unknown_version_is_corrupt(void **state)
{
    (void)state;
    uint8_t dk[CRYPTO_KEY_BYTES], ct[10 + ENVELOPE_OVERHEAD];
    envelope_ad ad = ad_sample();
    crypto_data_key_new(dk);
    assert_int_equal(
        crypto_seal_class(dk, &ad, (const uint8_t *)"0123456789", 10, ct),
        SR_OK);
    for (size_t n = 0; n < ENVELOPE_OVERHEAD; n++)
        expect_corrupt_untouched(dk, &ad, ct, n);
    expect_corrupt_untouched(dk, &ad, NULL, 0);
    /* Truncating the tag off the end is not a shorter valid envelope. */
    expect_corrupt_untouched(dk, &ad, ct, sizeof ct - 1);
    ct[0] = 2;
    expect_corrupt_untouched(dk, &ad, ct, sizeof ct);
}

/* ---- blind indexes ------------------------------------------------------- */

static void index_bits_give_two_to_four_people_per_value(void **state)
{
    (void)state;
    assert_int_equal(crypto_index_bits(100000), 15);   /* 3.1 per value */
    assert_int_equal(crypto_index_bits(1000000), 18);  /* 3.8 per value */
    assert_int_equal(crypto_index_bits(25000000), 23); /* 3.0 per value */
    assert_int_equal(crypto_index_bits(0), INDEX_BITS_MIN);
    assert_int_equal(crypto_index_bits(1000), INDEX_BITS_MIN);
    assert_int_equal(crypto_index_bits(UINT64_MAX), INDEX_BITS_MAX);
    /* Exactly at a power of two times 2 the next bit is taken. */
    assert_int_equal(crypto_index_bits(2u << 20), 20);
    assert_int_equal(crypto_index_bits((2u << 20) - 1), 19);
    /* Never fewer than INDEX_TARGET_PER_VALUE people per value on
     * average, never more than twice that (within the clamp). */
    for (uint64_t n = 1024; n < (1ull << 50); n = n * 3 + 1) {
        unsigned b = crypto_index_bits(n);
        double per = (double)n / (double)(1ull << b);
        if (b > INDEX_BITS_MIN && b < INDEX_BITS_MAX) {
            assert_true(per >= INDEX_TARGET_PER_VALUE);
            assert_true(per < 2 * INDEX_TARGET_PER_VALUE);
        }
    }
}

static void blind_index_is_deterministic_and_keyed(void **state)
{
    (void)state;
    keyring *a = ring_of(1, 2, 1), *a2 = ring_of(1, 2, 4),
            *b = ring_of(3, 2, 1);
    const uint8_t *ssn = (const uint8_t *)"123456789";
    uint64_t x = crypto_blind_index(a, INDEX_SSN, ssn, 9, 48);
    assert_true(x < (1ull << 48));
    assert_int_equal(x, crypto_blind_index(a, INDEX_SSN, ssn, 9, 48));
    /* The index keys do not depend on the KEK version. */
    assert_int_equal(x, crypto_blind_index(a2, INDEX_SSN, ssn, 9, 48));
    /* Another root: another key, another value (at 48 bits a collision
     * is a 2^-48 event). */
    assert_int_not_equal(x, crypto_blind_index(b, INDEX_SSN, ssn, 9, 48));
    /* Another kind over the same bytes: unrelated value. */
    assert_int_not_equal(x, crypto_blind_index(a, INDEX_NAME_DOB, ssn, 9, 48));
    assert_int_not_equal(
        x,
        crypto_blind_index(a, INDEX_SSN, (const uint8_t *)"123456788", 9, 48));
    keyring_free(a);
    keyring_free(a2);
    keyring_free(b);
}

static void blind_index_keeps_only_the_top_bits(void **state)
{
    (void)state;
    keyring *k = ring_of(1, 2, 1);
    uint8_t in[9];
    for (unsigned i = 0; i < 2000; i++) {
        randombytes_buf(in, sizeof in);
        uint64_t full = crypto_blind_index(k, INDEX_SSN, in, sizeof in, 48);
        for (unsigned bits = INDEX_BITS_MIN; bits <= INDEX_BITS_MAX; bits++) {
            uint64_t v = crypto_blind_index(k, INDEX_SSN, in, sizeof in, bits);
            assert_true(v < (1ull << bits));
            /* A vault re-sized to fewer bits keeps a prefix. */
            assert_int_equal(v, full >> (48 - bits));
        }
    }
    keyring_free(k);
}

static void blind_index_spreads_over_all_values(void **state)
{
    (void)state;
    keyring *k = ring_of(1, 2, 1);
    unsigned seen[256] = {0};
    char in[16];
    /* 25,600 inputs into 256 buckets: every bucket is hit, none badly
     * overfull (a generous bound; the expectation is 100). */
    for (unsigned i = 0; i < 25600; i++) {
        int w = snprintf(in, sizeof in, "%09u", i);
        assert_true(w == 9);
        seen[crypto_blind_index(k, INDEX_SSN, (const uint8_t *)in, 9, 8)]++;
    }
    for (unsigned i = 0; i < 256; i++) {
        assert_true(seen[i] > 40);
        assert_true(seen[i] < 180);
    }
    keyring_free(k);
}

static void blind_index_rejects_unknown_kind_or_bits(void **state)
{
    (void)state;
    keyring *k = ring_of(1, 2, 1);
    const uint8_t *in = (const uint8_t *)"x";
    assert_int_equal(crypto_blind_index(k, 0, in, 1, 20), INDEX_INVALID);
    assert_int_equal(crypto_blind_index(k, INDEX_CLUSTER + 1, in, 1, 20),
                     INDEX_INVALID);
    assert_int_equal(crypto_blind_index(k, INDEX_SSN, in, 1, 7), INDEX_INVALID);
    assert_int_equal(crypto_blind_index(k, INDEX_SSN, in, 1, 49),
                     INDEX_INVALID);
    assert_int_not_equal(crypto_blind_index(k, INDEX_SSN, NULL, 0, 20),
                         INDEX_INVALID);
    keyring_free(k);
}

/* Not a correctness test: prints the cost of one seal and one open of a
 * 300-byte class, for the bench notes. */
static void envelope_seal_and_open_300_bytes_speed(void **state)
{
    (void)state;
    uint8_t dk[CRYPTO_KEY_BYTES], pt[300], ct[300 + ENVELOPE_OVERHEAD];
    envelope_ad ad = ad_sample();
    const unsigned rounds = 200000;
    crypto_data_key_new(dk);
    randombytes_buf(pt, sizeof pt);
    uint64_t t0 = now_ns();
    for (unsigned i = 0; i < rounds; i++)
        assert_int_equal(crypto_seal_class(dk, &ad, pt, sizeof pt, ct), SR_OK);
    uint64_t t1 = now_ns();
    for (unsigned i = 0; i < rounds; i++)
        assert_int_equal(crypto_open_class(dk, &ad, ct, sizeof ct, pt), SR_OK);
    uint64_t t2 = now_ns();
    print_message("seal 300 B: %.0f ns, open 300 B: %.0f ns\n",
                  (double)(t1 - t0) / rounds, (double)(t2 - t1) / rounds);
}

int main(void)
{
    if (sr_init() != SR_OK)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(xchacha20poly1305_matches_draft_vector_a31),
        cmocka_unit_test(libsodium_decrypt_zeroes_output_on_tag_failure),
        cmocka_unit_test(keyfile_round_trip_recovers_the_root_key),
        cmocka_unit_test(keyfile_seal_uses_fresh_salt_and_nonce),
        cmocka_unit_test(keyfile_wrong_passphrase_is_auth_error),
        cmocka_unit_test(keyfile_edited_header_field_is_auth_error),
        cmocka_unit_test(keyfile_parse_rejects_wrong_size_or_magic),
        cmocka_unit_test(keyfile_parse_rejects_unknown_layout_or_kdf),
        cmocka_unit_test(keyfile_parse_rejects_kdf_params_out_of_range),
        cmocka_unit_test(keyfile_layout_matches_documented_offsets),
        cmocka_unit_test(keyfile_presets_are_libsodium_argon2id_presets),
        cmocka_unit_test(keyfile_interactive_preset_round_trips),
        cmocka_unit_test(keyfile_rejects_empty_passphrase),
        cmocka_unit_test(keyfile_frozen_v1_file_still_opens),
        cmocka_unit_test(keyring_rejects_kek_version_zero_or_too_large),
        cmocka_unit_test(wrap_then_unwrap_returns_the_data_key),
        cmocka_unit_test(unwrap_for_another_person_is_corrupt),
        cmocka_unit_test(unwrap_in_another_vault_is_corrupt),
        cmocka_unit_test(unwrap_under_wrong_or_unknown_kek_version_fails),
        cmocka_unit_test(unwrap_of_altered_or_wrong_length_key_is_corrupt),
        cmocka_unit_test(frozen_v1_wrapped_key_and_envelope_still_open),
        cmocka_unit_test(envelope_round_trips_and_has_41_bytes_overhead),
        cmocka_unit_test(envelope_nonces_are_random),
        cmocka_unit_test(envelope_each_changed_ad_field_is_corrupt),
        cmocka_unit_test(envelope_flipped_byte_is_corrupt_and_output_untouched),
        cmocka_unit_test(
            envelope_large_class_flipped_byte_leaves_output_untouched),
        cmocka_unit_test(envelope_short_or_unknown_version_is_corrupt),
        cmocka_unit_test(index_bits_give_two_to_four_people_per_value),
        cmocka_unit_test(blind_index_is_deterministic_and_keyed),
        cmocka_unit_test(blind_index_keeps_only_the_top_bits),
        cmocka_unit_test(blind_index_spreads_over_all_values),
        cmocka_unit_test(blind_index_rejects_unknown_kind_or_bits),
        cmocka_unit_test(envelope_seal_and_open_300_bytes_speed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
