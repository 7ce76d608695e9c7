/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tests/sr_reseal.c - the script tests' way to make a test vault cheap to
 * open (tests/reseal.h): `sr_reseal VAULT_DIR`, the passphrase in
 * $STRONGROOM_PASSPHRASE. Built with the tests only; tests/srcli.py runs
 * it after every `init` it makes.
 */
#include <stdio.h>
#include <stdlib.h>

#include "reseal.h"

int main(int argc, char **argv)
{
    char path[4096];
    const char *pass = getenv("STRONGROOM_PASSPHRASE");
    if (argc != 2 || pass == NULL || *pass == '\0') {
        fprintf(stderr,
                "usage: STRONGROOM_PASSPHRASE=... sr_reseal VAULT_DIR\n");
        return 2;
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "sr_reseal: libsodium did not start\n");
        return 1;
    }
    int n = snprintf(path, sizeof path, "%s/vault.key", argv[1]);
    if (n < 0 || (size_t)n >= sizeof path) {
        fprintf(stderr, "sr_reseal: the vault path is too long\n");
        return 2;
    }
    if (!reseal_cheaply(path, pass)) {
        fprintf(stderr, "sr_reseal: cannot reseal %s\n", path);
        return 1;
    }
    return 0;
}
