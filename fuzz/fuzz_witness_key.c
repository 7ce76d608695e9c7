/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_witness_key.c - libFuzzer harness for witness_key_parse, the parser
 * of a witness's key file (<state>/witness.key, src/audit/witness.h).
 * Arbitrary bytes must be refused cleanly (SR_ERR_CORRUPT) or parsed;
 * whatever parses must be a cosignature/v1 signer and format back to
 * exactly the same bytes (one key, one file: no slack for an attacker),
 * and a refusal must leave the signer zeroed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit/witness.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const note_signer zero;
    char again[WITNESS_KEY_FILE_MAX + 1];
    size_t len = 0;
    note_signer s;

    fuzz_init_once();
    sr_status st = witness_key_parse(data, size, &s);
    if (st != SR_OK) {
        if ((st != SR_ERR_CORRUPT && st != SR_ERR_NOMEM) ||
            memcmp(&s, &zero, sizeof s) != 0)
            abort();
        return 0;
    }
    if (s.type != NOTE_TYPE_COSIG_V1 || s.sk == NULL)
        abort();
    if (witness_key_format(&s, again, sizeof again, &len) != SR_OK ||
        len != size || memcmp(again, data, size) != 0)
        abort();
    note_signer_wipe(&s);
    return 0;
}
