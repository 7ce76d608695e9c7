/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_backup_keys.c - libFuzzer harness for the key file of a backup
 * (src/vault/backup.c), read back by `strongroom backup restore` from a
 * file kept apart from the vault, which anyone could have edited. The
 * input's first line is read as the header and each later line as a key
 * line: each is refused or decoded, and a decoded key line written back
 * the way the vault writes it decodes to the same key.
 * Seeds: fuzz/corpus/backup_keys/.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "vault/vault_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size;
    bool first = true;

    fuzz_init_once();
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
        if (first) {
            uint8_t vid[SR_ID_BYTES];
            sr_status hs = vault_keys_header(p, len, vid);
            if (hs != SR_OK && hs != SR_ERR_INVALID)
                abort();
            first = false;
        } else {
            vault_key_line k, again;
            if (vault_keys_line(p, len, &k) == SR_OK) {
                char id[2 * SR_ID_BYTES + 1], w[2 * WRAPPED_KEY_BYTES + 1],
                    line[512];
                hex_encode(id, k.id, SR_ID_BYTES);
                hex_encode(w, k.wrapped, WRAPPED_KEY_BYTES);
                int n = snprintf(line, sizeof line,
                                 "{\"id\":\"%s\",\"kek\":%" PRIu32
                                 ",\"wrapped\":\"%s\"}",
                                 id, k.kek, w);
                if (n < 0 ||
                    vault_keys_line(line, (size_t)n, &again) != SR_OK ||
                    memcmp(k.id, again.id, sizeof k.id) != 0 ||
                    k.kek != again.kek ||
                    memcmp(k.wrapped, again.wrapped, sizeof k.wrapped) != 0)
                    abort();
            }
        }
        p += len + 1;
    }
    return 0;
}
