/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_keyfile.c - libFuzzer harness for keyfile_parse, the parser of the
 * one file an attacker may hand us before any key is known (vault.key).
 * Arbitrary bytes must be refused cleanly or parsed; whatever parses must
 * serialize back to exactly the same bytes (the format has no slack an
 * attacker could use to make two files mean one key file), and its KDF
 * parameters must be inside libsodium's range.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/crypto.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    keyfile kf;
    uint8_t again[KEYFILE_SIZE];

    fuzz_init_once();
    sr_status st = keyfile_parse(data, size, &kf);
    if (st != SR_OK) {
        if (st != SR_ERR_NOT_VAULT && st != SR_ERR_VERSION &&
            st != SR_ERR_CORRUPT)
            abort();
        return 0;
    }
    if (size != KEYFILE_SIZE)
        abort();
    keyfile_serialize(&kf, again);
    if (memcmp(again, data, KEYFILE_SIZE) != 0)
        abort();
    if (kf.opslimit < crypto_pwhash_argon2id_OPSLIMIT_MIN ||
        kf.opslimit > crypto_pwhash_argon2id_OPSLIMIT_MAX ||
        kf.memlimit < crypto_pwhash_argon2id_MEMLIMIT_MIN ||
        kf.memlimit > crypto_pwhash_argon2id_MEMLIMIT_MAX)
        abort();
    return 0;
}
