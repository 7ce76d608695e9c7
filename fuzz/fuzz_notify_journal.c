/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_notify_journal.c - libFuzzer harness for the journal of a breach
 * notify run (src/notify/journal.c), read back from the output directory
 * when a run resumes. A journal is refused or parsed; a parsed one has
 * no more people than whole lines, stops its valid bytes at a line's end,
 * names each person once, and each person it names is found again.
 * Seeds: fuzz/corpus/notify_journal/ (their header is the one below).
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "notify/notify_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    notify_journal j;
    char msg[NOTIFY_MSG_MAX], header[200];

    fuzz_init_once();
    notify_journal_header(header, "r", "t");
    msg[0] = '\0';
    if (notify_journal_parse((const char *)data, size, header, &j, msg) !=
        SR_OK) {
        if (msg[0] == '\0')
            abort();
        return 0;
    }
    size_t lines = 0;
    for (size_t i = 0; i < size; i++)
        lines += data[i] == '\n';
    if (j.n + 1 > lines || j.valid > size || data[j.valid - 1] != '\n')
        abort();
    for (size_t i = 0; i < j.n; i++)
        if (notify_journal_find(&j, j.d[i].id) != &j.d[i] || j.d[i].outcome > 2)
            abort();
    notify_journal_free(&j);
    return 0;
}
