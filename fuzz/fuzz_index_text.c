/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_index_text.c - libFuzzer harness for store_index_text_parse, which
 * reads a person's blind-index rows as the database gives them to
 * copy_to ("kind:value,..."; a DBA can put anything there). Checks that
 * it never writes past STORE_SINK_INDEX_MAX rows, and that what it
 * accepts prints back to the same text.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_init_once();
    if (size > 4096)
        return 0;
    char *in = malloc(size + 1);
    if (in == NULL)
        abort();
    memcpy(in, data, size);
    in[size] = '\0';
    store_index idx[STORE_SINK_INDEX_MAX + 1];
    size_t n = 99;
    memset(idx, 0xa5, sizeof idx);
    if (store_index_text_parse(in, idx, &n)) {
        if (n > STORE_SINK_INDEX_MAX)
            abort();
        /* Canonical text (plain decimal, no sign or spaces) round-trips. */
        char back[STORE_SINK_INDEX_MAX * 32 + 1];
        size_t len = 0;
        back[0] = '\0';
        for (size_t i = 0; i < n; i++)
            len += (size_t)snprintf(back + len, sizeof back - len,
                                    "%s%u:%" PRIu64, i ? "," : "",
                                    (unsigned)idx[i].kind, idx[i].value);
        bool canonical = strspn(in, "0123456789:,") == size;
        for (size_t i = 0; canonical && i + 1 < size; i++)
            if ((in[i] == '0' &&
                 (i == 0 || in[i - 1] == ':' || in[i - 1] == ',') &&
                 in[i + 1] >= '0' && in[i + 1] <= '9'))
                canonical = false; /* a leading zero */
        if (canonical && strcmp(back, in) != 0)
            abort();
    } else if (n > STORE_SINK_INDEX_MAX) {
        abort();
    }
    /* Past the room it was given, nothing was touched. */
    const uint8_t *tail = (const uint8_t *)&idx[STORE_SINK_INDEX_MAX];
    for (size_t i = 0; i < sizeof idx[0]; i++)
        if (tail[i] != 0xa5)
            abort();
    free(in);
    return 0;
}
