/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_hotline_body.c - libFuzzer harness for hl_body_check and, through
 * it, hl_stix_check and the personal_data check (src/hotline/body.h):
 * the first byte picks the kind of message, the rest is the body. Every answer
 * is a status; a refusal carries a printable reason.
 */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_common.h"
#include "hotline/body.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[HL_ERR_MAX];
    fuzz_init_once();
    if (size == 0)
        return 0;
    hl_kind kind = (hl_kind)(data[0] % HL_KIND_COUNT);
    sr_status st = hl_body_check(kind, data + 1, size - 1, err);
    /* A checked body with personal data is refused under TLP:AMBER, and
     * only such a body. */
    if (st == SR_OK &&
        (hl_body_check_marked(kind, HL_TLP_AMBER, data + 1, size - 1, err) ==
         SR_OK) == hl_body_personal(kind, data + 1, size - 1))
        abort();
    if (st != SR_OK) {
        if (st != SR_ERR_INVALID || err[0] == 0)
            abort();
        for (size_t i = 0; err[i] != 0; i++)
            if ((unsigned char)err[i] < 0x20 || (unsigned char)err[i] >= 0x7f)
                abort();
    }
    return 0;
}
