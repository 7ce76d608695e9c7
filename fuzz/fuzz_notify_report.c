/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_notify_report.c - libFuzzer harness for the breach report reader
 * of breach notify (src/notify/report.c): the report is a file the
 * officer hands in, which anyone could have edited. The input is split
 * into lines as the reader splits a file; each line is accepted or
 * refused with a message naming it; what is kept is bounded by the lines
 * given, and after the end no person is named twice.
 * Seeds: fuzz/corpus/notify_report/.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "notify/notify_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    notify_report r;
    char msg[NOTIFY_MSG_MAX];
    const char *p = (const char *)data, *end = p + size;
    sr_status st = SR_OK;
    size_t lines = 0;

    fuzz_init_once();
    notify_report_init(&r);
    while (st == SR_OK && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
        msg[0] = '\0';
        st = notify_report_line(&r, p, len, msg);
        lines++;
        if (st != SR_OK && (st != SR_ERR_INVALID || msg[0] == '\0'))
            abort();
        p += len + 1;
    }
    if (r.n + r.unresolved + r.decoys > lines || r.lines != lines)
        abort();
    if (st == SR_OK && notify_report_end(&r, msg) == SR_OK)
        for (size_t i = 1; i < r.n; i++)
            if (memcmp(r.p[i - 1].id, r.p[i].id, SR_ID_BYTES) >= 0)
                abort();
    notify_report_free(&r);
    return 0;
}
