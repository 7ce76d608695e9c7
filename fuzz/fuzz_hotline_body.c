/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_hotline_body.c - libFuzzer harness for hl_body_check and, through
 * it, hl_stix_check (src/hotline/body.h): the first byte picks the kind
 * of message, the rest is the body. Every answer is a status; a refusal
 * carries a printable reason.
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
    if (st != SR_OK) {
        if (st != SR_ERR_INVALID || err[0] == 0)
            abort();
        for (size_t i = 0; err[i] != 0; i++)
            if ((unsigned char)err[i] < 0x20 || (unsigned char)err[i] >= 0x7f)
                abort();
    }
    return 0;
}
