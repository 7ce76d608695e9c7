/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_note.c - libFuzzer harness for the audit log's text formats
 * (src/audit/note): note_open against fixed known keys (a log key of type
 * 0x01 and a witness key of type 0x04, the real ones of the checkpoint in
 * the seed corpus, so both verification paths run), note_checkpoint_parse
 * on the opened body and on the raw input, and note_vkey_parse.
 * Arbitrary bytes must be refused with the documented status or accepted;
 * what is accepted must be consistent: the body is a prefix ending in "\n"
 * followed by the blank line, a parsed checkpoint formats back to exactly
 * its first three lines, and a parsed vkey formats back to its text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit/note.h"
#include "fuzz_common.h"
#include "util/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The log key of arche2025h1.staging.ct.transparency.dev and the witness
 * key of remora.n621.de (tests/data/note_vectors.txt). */
static const char log_vkey[] = "arche2025h1.staging.ct.transparency.dev"
                               "+ba2f06c0+AU0vHmlGCS/PdN8b2OaGmKprLI8HKM+"
                               "dJ472xgFYh15f";
static const char witness_vkey[] =
    "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2";

static void check_checkpoint(const char *body, size_t len)
{
    note_checkpoint cp;
    sr_status st = note_checkpoint_parse(body, len, &cp);
    if (st != SR_OK) {
        if (st != SR_ERR_CORRUPT)
            abort();
        return;
    }
    if (cp.ext_len > len)
        abort();
    sr_buf again;
    buf_init(&again, NOTE_MAX_BYTES);
    if (note_checkpoint_format(cp.origin, cp.size, cp.root, &again) != SR_OK)
        abort();
    if (again.len != len - cp.ext_len || memcmp(again.p, body, again.len) != 0)
        abort();
    buf_free(&again);
}

static void check_open(const char *msg, size_t len, const note_verifier *vs)
{
    size_t body_len = 0;
    int ok[2] = {0, 0};
    uint64_t t[2] = {0, 0};
    sr_status st = note_open(msg, len, vs, 2, &body_len, ok, t);
    if (st != SR_OK) {
        if ((st != SR_ERR_CORRUPT && st != SR_ERR_NOMEM) || body_len != 0 ||
            ok[0] || ok[1] || t[0] || t[1])
            abort();
        return;
    }
    /* body || "\n" || at least one signature line */
    if (body_len == 0 || body_len + 1 >= len || msg[body_len - 1] != '\n' ||
        msg[body_len] != '\n' || msg[len - 1] != '\n')
        abort();
    if (t[0] != 0 || t[1] > NOTE_COSIG_TIME_MAX || (t[1] != 0 && !ok[1]))
        abort();
    check_checkpoint(msg, body_len);
}

static void check_vkey(const char *text, size_t len)
{
    note_verifier v;
    char again[NOTE_VKEY_MAX];
    sr_status st = note_vkey_parse(text, len, &v);
    if (st != SR_OK) {
        if (st != SR_ERR_INVALID)
            abort();
        return;
    }
    if (note_vkey_format(&v, again, sizeof again) != SR_OK)
        abort();
    size_t n = strlen(again);
    if (len > 0 && text[len - 1] == '\n')
        len--;
    if (n != len || memcmp(again, text, n) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static note_verifier vs[2];
    static int ready;
    const char *msg = (const char *)data;

    fuzz_init_once();
    if (!ready) {
        if (note_vkey_parse(log_vkey, sizeof log_vkey - 1, &vs[0]) != SR_OK ||
            note_vkey_parse(witness_vkey, sizeof witness_vkey - 1, &vs[1]) !=
                SR_OK)
            abort();
        ready = 1;
    }
    check_open(msg, size, vs);
    check_checkpoint(msg, size);
    check_vkey(msg, size);
    return 0;
}
