/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tests/reseal.h - reseal a test vault's root key under the smallest
 * Argon2id parameters libsodium accepts (1 pass, 8 KiB).
 *
 * Every command of the CLI derives the key from the passphrase: about
 * 0.2 s at "interactive" on the 2-core reference machine, which is most
 * of what a CLI test spends. The KDF is the subject of test_crypto and of
 * no test that reseals; the key file format allows these parameters, and
 * nothing else in the vault changes. For tests only: the product offers
 * no weaker profile than "interactive".
 */
#ifndef SR_TESTS_RESEAL_H
#define SR_TESTS_RESEAL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "crypto/crypto.h"
#include "util/util.h"

/* Reseal the key file at path (opened with pass) under the minimum
 * parameters, replacing it atomically. False if it cannot be read, opened
 * or written. */
static inline bool reseal_cheaply(const char *path, const char *pass)
{
    sr_buf b;
    keyfile kf;
    uint8_t bytes[KEYFILE_SIZE];
    bool ok = false;
    uint8_t *rootkey = sodium_malloc(CRYPTO_KEY_BYTES);
    buf_init(&b, KEYFILE_SIZE);
    if (rootkey == NULL || file_read(path, &b) != SR_OK ||
        keyfile_parse(b.p, b.len, &kf) != SR_OK ||
        keyfile_open(&kf, pass, strlen(pass), rootkey) != SR_OK)
        goto done;
    kf.opslimit = crypto_pwhash_argon2id_OPSLIMIT_MIN;
    kf.memlimit = crypto_pwhash_argon2id_MEMLIMIT_MIN;
    if (keyfile_seal(&kf, pass, strlen(pass), rootkey) != SR_OK)
        goto done;
    keyfile_serialize(&kf, bytes);
    ok = file_write_atomic(path, bytes, sizeof bytes, 0600) == SR_OK;
done:
    sodium_free(rootkey);
    buf_free(&b);
    return ok;
}

#endif
