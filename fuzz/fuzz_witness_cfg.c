/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_witness_cfg.c - libFuzzer harness for witness_cfg_parse, the parser
 * of the witness configuration a vault publishes beside its log
 * (<vault>/log/witnesses, src/audit/witness.h), which any keyless
 * verifier reads. Arbitrary bytes must be refused (SR_ERR_CORRUPT, with
 * nothing reported) or parsed; what parses must be consistent: K <= N <=
 * SR_LOG_WITNESS_MAX, every key a distinct cosignature/v1 verifier, and
 * "min K\n" with the keys' texts rebuilds exactly the input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/witness.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    note_verifier keys[SR_LOG_WITNESS_MAX];
    char vkey[NOTE_VKEY_MAX], head[16];
    size_t n = 99;
    unsigned min = 99;
    sr_buf again;

    fuzz_init_once();
    sr_status st =
        witness_cfg_parse(data, size, keys, SR_LOG_WITNESS_MAX, &n, &min);
    if (st != SR_OK) {
        if (st != SR_ERR_CORRUPT || n != 0 || min != 0)
            abort();
        return 0;
    }
    if (min > n || n > SR_LOG_WITNESS_MAX)
        abort();
    buf_init(&again, WITNESS_CFG_MAX);
    (void)snprintf(head, sizeof head, "min %u\n", min);
    if (buf_append_str(&again, head) != SR_OK)
        abort();
    for (size_t i = 0; i < n; i++) {
        if (keys[i].type != NOTE_TYPE_COSIG_V1 ||
            note_vkey_format(&keys[i], vkey, sizeof vkey) != SR_OK ||
            buf_append_str(&again, vkey) != SR_OK ||
            buf_append_byte(&again, '\n') != SR_OK)
            abort();
        for (size_t j = 0; j < i; j++)
            if (strcmp(keys[i].name, keys[j].name) == 0 &&
                memcmp(keys[i].keyhash, keys[j].keyhash, 4) == 0)
                abort();
    }
    if (again.len != size || memcmp(again.p, data, size) != 0)
        abort();
    buf_free(&again);
    return 0;
}
