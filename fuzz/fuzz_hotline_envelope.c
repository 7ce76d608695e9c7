/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_hotline_envelope.c - libFuzzer harness for hl_open, the parser of a
 * hotline message from another node (src/hotline/message.h). The
 * recipient and its one peer have fixed keys (seeds of 0x01 and 0x02
 * bytes), so the corpus holds real envelopes from the peer that open, and
 * mutations reach past the signature when they keep it. A refusal must
 * leave no body, a cleared header and a printable reason; an envelope
 * that opens must have a header that passes every check, and its body
 * goes through hl_body_check.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "hotline/body.h"
#include "hotline/message.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static hl_identity *me;
    static hl_peer peer;
    static const hl_header zero;
    fuzz_init_once();
    if (me == NULL) {
        uint8_t seed[HL_SEED_BYTES];
        hl_identity *sender = NULL;
        memset(seed, 2, sizeof seed);
        if (hl_identity_from_seed(&sender, "us-cert", seed) != SR_OK)
            abort();
        hl_identity_peer(sender, &peer);
        hl_identity_free(sender);
        memset(seed, 1, sizeof seed);
        if (hl_identity_from_seed(&me, "cn-cert", seed) != SR_OK)
            abort();
    }
    hl_header h;
    uint8_t *body = NULL;
    size_t blen = 0;
    char err[HL_ERR_MAX];
    sr_status st =
        hl_open(me, &peer, 1, (const char *)data, size, &h, &body, &blen, err);
    if (st != SR_OK) {
        if (body != NULL || memcmp(&h, &zero, sizeof h) != 0 || err[0] == 0)
            abort();
        for (size_t i = 0; err[i] != 0; i++)
            if ((unsigned char)err[i] < 0x20 || (unsigned char)err[i] >= 0x7f)
                abort();
        return 0;
    }
    if (body == NULL || !hl_name_ok(h.from, strlen(h.from)) ||
        strcmp(h.to, "cn-cert") != 0 || h.seq < 1 ||
        hl_kind_name(h.kind) == NULL || hl_tlp_name(h.tlp) == NULL)
        abort();
    sr_status bst = hl_body_check(h.kind, body, blen, err);
    if (bst != SR_OK && bst != SR_ERR_INVALID)
        abort();
    hl_body_free(body, blen);
    return 0;
}
