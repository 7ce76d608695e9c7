/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_norm_name.c - libFuzzer harness for the blind-index normalisation
 * (record_norm_name, record_norm_ssn). Checks the contracts that keep the
 * index keys sound: the output is always NUL-terminated within cap, is
 * never empty on success, contains no ASCII uppercase, space or
 * punctuation, and normalising it again changes nothing.
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
    if (size == 0 || size > 4096)
        return 0;

    /* The first byte picks the output cap, to reach the too-long paths. */
    size_t cap = (size_t)data[0] + 1;
    char *in = malloc(size);
    char *out = malloc(cap);
    char *again = malloc(cap);
    if (in == NULL || out == NULL || again == NULL)
        abort();
    memcpy(in, data + 1, size - 1);
    in[size - 1] = '\0';

    if (record_norm_name(in, out, cap)) {
        size_t n = strnlen(out, cap);
        if (n == 0 || n >= cap)
            abort();
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)out[i];
            if (c < 0x80 && !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
                abort();
        }
        /* A key normalised twice must be the same key. */
        if (!record_norm_name(out, again, cap) || strcmp(out, again) != 0)
            abort();
    }

    char ssn[10];
    if (record_norm_ssn(in, ssn)) {
        if (strlen(ssn) != 9 || strspn(ssn, "0123456789") != 9)
            abort();
    }

    free(in);
    free(out);
    free(again);
    return 0;
}
