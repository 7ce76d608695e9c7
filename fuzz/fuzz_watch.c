/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_watch.c - libFuzzer harness for the records of a principal's watch
 * file (src/watch): read back by every process that checks a budget or a
 * freeze, from a file on disk that anyone with access to the vault
 * directory could have edited. Each record must be refused with a fault
 * or decoded, and what decodes must encode back to the same bytes (one
 * meaning per record); applying the input must give SR_OK or
 * SR_ERR_CORRUPT, and never more people or searches than records.
 * Seeds: fuzz/corpus/watch/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "watch/watch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char msg[WATCH_MSG_MAX];
    size_t whole = size - size % WATCH_RECORD_BYTES;
    size_t records = whole / WATCH_RECORD_BYTES;
    uint64_t now = 0;

    fuzz_init_once();
    for (size_t i = 0; i < records; i++) {
        const uint8_t *in = data + i * WATCH_RECORD_BYTES;
        uint8_t again[WATCH_RECORD_BYTES];
        watch_record r;
        if (watch_record_decode(in, &r) != NULL)
            continue;
        watch_record_encode(&r, again);
        if (memcmp(again, in, WATCH_RECORD_BYTES) != 0)
            abort();
        if (r.ms > now)
            now = r.ms;
    }
    watch_state s;
    watch_state_init(&s);
    sr_status st = watch_apply(&s, data, whole, 0, now, msg);
    if (st != SR_OK && st != SR_ERR_CORRUPT)
        abort();
    if (s.day_people + watch_hour_searches(&s) > records ||
        watch_hour_people(&s) > records)
        abort();
    if (st == SR_OK && watch_apply(&s, data, size, 0, now, msg) !=
                           (size == whole ? SR_OK : SR_ERR_CORRUPT))
        abort();
    policy_budget b = {1, 2, 3};
    (void)watch_over_budget(&s, &b, now, NULL, 0, 1, true);
    if (watch_prune(&s, now) != SR_OK)
        abort();
    watch_state_free(&s);
    return 0;
}
