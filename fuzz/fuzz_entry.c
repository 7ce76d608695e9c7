/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_entry.c - libFuzzer harness for entry_decode, the parser of audit
 * log entries: the leaf data of the Merkle tree, which a verifier reads
 * from tile bundles anyone may have handed it. Arbitrary bytes must be
 * refused cleanly (SR_ERR_CORRUPT, SR_ERR_VERSION) or decoded; whatever
 * decodes must encode back to exactly the same bytes, since a leaf hash
 * may pin only one meaning (two encodings of one entry would let a log
 * show the same event under two hashes). Seeds: fuzz/corpus/entry/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit/entry.h"
#include "fuzz_common.h"
#include "util/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    audit_entry e;
    sr_buf again;

    fuzz_init_once();
    sr_status st = entry_decode(data, size, &e);
    if (st != SR_OK) {
        if (st != SR_ERR_CORRUPT && st != SR_ERR_VERSION)
            abort();
        return 0;
    }
    if (size > ENTRY_MAX_BYTES || e.nrefs > ENTRY_REFS_MAX)
        abort();
    /* refs borrow the input: they must lie inside it. */
    if (e.nrefs > 0 && ((const uint8_t *)e.refs < data ||
                        (const uint8_t *)(e.refs + e.nrefs) > data + size))
        abort();
    buf_init(&again, ENTRY_MAX_BYTES);
    if (entry_encode(&e, &again) != SR_OK)
        abort();
    if (again.len != size || (size > 0 && memcmp(again.p, data, size) != 0))
        abort();
    buf_free(&again);
    return 0;
}
