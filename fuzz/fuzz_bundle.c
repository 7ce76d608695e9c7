/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_bundle.c - libFuzzer harness for the two parsers of the audit log's
 * public files that a client or a copied log directory controls: the tile
 * path a server is asked for (tile_path_parse) and the entry bundle a
 * verifier downloads (bundle_parse).
 *
 * The first input byte picks the parser: even, the rest is a path; odd,
 * the second byte + 1 is the expected entry count and the rest is a
 * bundle. Arbitrary bytes must be refused cleanly or parsed, and whatever
 * parses must encode back to exactly the same bytes: one spelling per
 * tile, one encoding per bundle.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit/tile.h"
#include "fuzz_common.h"
#include "util/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_path(const uint8_t *p, size_t n)
{
    int level;
    uint64_t index;
    unsigned width;
    char again[TILE_PATH_MAX];

    sr_status st = tile_path_parse((const char *)p, n, &level, &index, &width);
    if (st != SR_OK) {
        if (st != SR_ERR_INVALID)
            abort();
        return;
    }
    if (tile_path(again, sizeof again, level, index, width) != SR_OK)
        abort();
    if (strlen(again) != n || memcmp(again, p, n) != 0)
        abort();
}

/* Re-encode each entry as the parser hands it out. */
static sr_status reencode(void *ctx, uint64_t i, const uint8_t *data,
                          size_t len)
{
    (void)i;
    return bundle_add(ctx, data, len);
}

static void fuzz_bundle(unsigned expect, const uint8_t *p, size_t n)
{
    sr_buf b;
    buf_init(&b, n + 1);
    sr_status st = bundle_parse(p, n, expect, reencode, &b);
    if (st != SR_OK) {
        if (st != SR_ERR_CORRUPT)
            abort();
        /* Checked whole before any entry is handed out. */
        if (b.len != 0)
            abort();
        buf_free(&b);
        return;
    }
    if (b.len != n || (n > 0 && memcmp(b.p, p, n) != 0))
        abort();
    buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_init_once();
    if (size < 1)
        return 0;
    if ((data[0] & 1u) == 0) {
        fuzz_path(data + 1, size - 1);
    } else {
        if (size < 2)
            return 0;
        fuzz_bundle((unsigned)data[1] + 1u, data + 2, size - 2);
    }
    return 0;
}
