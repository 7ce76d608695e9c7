/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_csv.c - libFuzzer harness for the CSV subset: the first line of the
 * input is the header (record_csv_header_parse), every further line a row
 * (record_csv_row). Besides memory safety it checks two contracts: a row
 * that parses is a JSON object, and an error always has a reason.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "record/record.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The length of the line starting at data[0..size), without its '\n'. */
static size_t line_len(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    return nl != NULL ? (size_t)(nl - data) : size;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_init_once();

    size_t pos = 0;
    size_t n = line_len(data, size);
    record_csv_layout layout;
    record_error err;
    if (record_csv_header_parse((const char *)data, n, &layout, &err) !=
        SR_OK) {
        if (err.reason[0] == '\0')
            abort();
        return 0;
    }
    pos = n < size ? n + 1 : size;
    while (pos < size) {
        n = line_len(data + pos, size - pos);
        json_t *person = NULL;
        sr_status st =
            record_csv_row(&layout, (const char *)data + pos, n, &person, &err);
        if (st == SR_OK) {
            if (!json_is_object(person))
                abort();
            json_decref(person);
        } else if (person != NULL || err.reason[0] == '\0') {
            abort();
        }
        pos += n < size - pos ? n + 1 : size - pos;
    }
    return 0;
}
