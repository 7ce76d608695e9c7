/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_record_binary.c - libFuzzer harness for the class decoder: the first
 * byte picks the class, the rest is the payload. Whatever decodes must be
 * the canonical encoding of what it decoded to, so encoding it again must
 * give exactly the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "record/record.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_init_once();
    if (size < 1)
        return 0;
    sr_class c = (sr_class)(data[0] % SR_CLASS_COUNT);
    json_t *q = json_object();
    if (q == NULL)
        abort();
    record_error err;
    sr_status st = record_decode_class(data + 1, size - 1, c, q, &err);
    if (st == SR_OK) {
        sr_buf b;
        buf_init(&b, RECORD_MAX_ENCODED);
        if (record_encode_class(q, c, &b) != SR_OK)
            abort();
        if (b.len != size - 1 || (b.len && memcmp(b.p, data + 1, b.len) != 0))
            abort();
        buf_free(&b);
    } else if (st != SR_ERR_CORRUPT && st != SR_ERR_VERSION) {
        abort();
    }
    json_decref(q);
    return 0;
}
