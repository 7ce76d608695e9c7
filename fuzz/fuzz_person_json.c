/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_person_json.c - libFuzzer harness for the exchange-form parser:
 * record_parse on arbitrary bytes; every person it accepts must encode in
 * every class, decode back to an equal person (bar "id", which no class
 * holds) and re-encode to the same bytes. Error messages must stay free of
 * control characters (they go to logs as one line).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "record/record.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_message(const record_error *err)
{
    for (const char *s = err->path; *s; s++)
        if ((unsigned char)*s < 0x20)
            abort();
    for (const char *s = err->reason; *s; s++)
        if ((unsigned char)*s < 0x20)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_init_once();
    /* A fixed "today" keeps runs reproducible. */
    const int32_t today = date_days_from_civil(2024, 6, 1);
    json_t *p = NULL;
    record_error err;
    memset(&err, 0, sizeof err);
    if (record_parse((const char *)data, size, today, &p, &err) != SR_OK) {
        check_message(&err);
        return 0;
    }
    json_t *q = json_object();
    if (q == NULL)
        abort();
    for (int c = 0; c < SR_CLASS_COUNT; c++) {
        sr_buf a, b;
        buf_init(&a, RECORD_MAX_ENCODED);
        buf_init(&b, RECORD_MAX_ENCODED);
        if (record_encode_class(p, (sr_class)c, &a) != SR_OK)
            abort();
        if (record_decode_class(a.p, a.len, (sr_class)c, q, &err) != SR_OK)
            abort();
        if (record_encode_class(q, (sr_class)c, &b) != SR_OK)
            abort();
        if (a.len != b.len || (a.len && memcmp(a.p, b.p, a.len) != 0))
            abort();
        buf_free(&a);
        buf_free(&b);
    }
    (void)json_object_del(p, "id");
    if (!json_equal(p, q))
        abort();
    json_decref(p);
    json_decref(q);
    return 0;
}
