/* SPDX-License-Identifier: Apache-2.0 */
/*
 * notify.c - the vault's half of breach notification: the name and
 * contact classes of exactly the people an approved "notify" approval
 * names, under the incident-response purpose, logged a group at a time
 * before anything is revealed. The letters themselves are written by
 * src/notify/ (strongroom breach notify).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "vault_int.h"

/* People per audit entry. */
#define NOTIFY_GROUP 256u
/* Room for one held line. */
#define NOTIFY_LINE_MAX (RECORD_MAX_JSON + 4096u)

typedef struct notify_ctx {
    sr_vault *v;
    const access_req *r;
    unsigned granted;
    char detail[ENTRY_TEXT_MAX];
    sr_line_fn fn;
    void *fn_ctx;
    sr_buf lines; /* held until the group's entry is on disk */
    uint8_t ids[NOTIFY_GROUP][SR_ID_BYTES];
    size_t n;    /* people read in the group */
    size_t held; /* lines held, theirs and the gone */
} notify_ctx;

/* Log the people read so far, then hand every held line over. */
static sr_status flush(notify_ctx *x)
{
    sr_status st = SR_OK;
    if (x->n > 0)
        st = vault_record(
            x->v, x->r, ENTRY_ALLOWED, SR_OK, x->granted, x->detail, x->n,
            (const uint8_t(*)[SR_ID_BYTES])x->ids, (uint32_t)x->n);
    for (size_t off = 0; st == SR_OK && off < x->lines.len;) {
        const uint8_t *nl = memchr(x->lines.p + off, '\n', x->lines.len - off);
        size_t len = (size_t)(nl - (x->lines.p + off));
        st = x->fn(x->fn_ctx, (const char *)x->lines.p + off, len);
        if (st != SR_OK)
            st = vault_fail(x->v, st,
                            "the notification was stopped by its writer");
        off += len + 1;
    }
    buf_reset(&x->lines);
    x->n = 0;
    x->held = 0;
    return st;
}

static sr_status hold(notify_ctx *x, const void *p, size_t len)
{
    sr_status st = buf_append(&x->lines, p, len);
    if (st == SR_OK)
        st = buf_append_byte(&x->lines, '\n');
    if (st != SR_OK)
        return vault_fail(x->v, st, "out of memory");
    x->held++;
    return SR_OK;
}

/* Read one person into the group, or hold a "gone" line for one shredded
 * since (or a decoy, which no letter goes to). */
static sr_status one(notify_ctx *x, const uint8_t id[SR_ID_BYTES])
{
    sr_vault *v = x->v;
    char hex[SR_ID_STR_LEN + 1];
    bool decoy = false;
    hex_encode(hex, id, SR_ID_BYTES);
    sr_status st =
        vault_decoy_hit(v, (const uint8_t(*)[SR_ID_BYTES])id, 1, &decoy);
    if (st != SR_OK)
        return st;
    if (!decoy) {
        st = vault_read_line(v, hex, x->granted);
        if (st == SR_OK) {
            st = hold(x, v->out.p, v->out.len);
            buf_reset(&v->out);
            if (st == SR_OK)
                memcpy(x->ids[x->n++], id, SR_ID_BYTES);
            return st;
        }
        buf_reset(&v->out);
        if (st != SR_ERR_NOT_FOUND)
            return st;
        v->errmsg[0] = '\0';
    }
    char gone[SR_ID_STR_LEN + 32];
    int len = snprintf(gone, sizeof gone, "{\"id\":\"%s\",\"gone\":true}", hex);
    return hold(x, gone, (size_t)len);
}

sr_status sr_vault_notify_read(sr_vault *v, const sr_access *acc,
                               const uint8_t (*ids)[SR_ID_BYTES], size_t n,
                               const bool *skip, sr_line_fn fn, void *ctx)
{
    access_req r = {POLICY_GET, "notify", acc, NULL, SR_NOTIFY_CLASSES};
    char digest[VAULT_DIGEST_HEX];
    if (acc == NULL || acc->purpose == NULL ||
        strcmp(acc->purpose, SR_NOTIFY_PURPOSE) != 0)
        return vault_fail(v, SR_ERR_INVALID,
                          "a notification is read under purpose "
                          "\"" SR_NOTIFY_PURPOSE "\"");
    notify_ctx *x = calloc(1, sizeof *x);
    if (x == NULL)
        return vault_fail(v, SR_ERR_NOMEM, "out of memory");
    sr_status st = vault_authorize(v, &r, &x->granted);
    if (st == SR_OK)
        st = vault_people_digest(v, ids, n, digest);
    /* Always a bulk read: only under a second person's approval of these
     * very people. */
    if (st == SR_OK)
        st = vault_approval_check(v, &r, digest, x->detail);
    if (st != SR_OK) {
        free(x);
        return st;
    }
    x->v = v;
    x->r = &r;
    x->fn = fn;
    x->fn_ctx = ctx;
    buf_init(&x->lines, (size_t)4 * NOTIFY_GROUP * NOTIFY_LINE_MAX);
    for (size_t i = 0; i < n && st == SR_OK; i++) {
        if (skip != NULL && skip[i])
            continue;
        st = one(x, ids[i]);
        if (st == SR_OK &&
            (x->n == NOTIFY_GROUP || x->held == 4 * NOTIFY_GROUP))
            st = flush(x);
    }
    if (st == SR_OK)
        st = flush(x);
    buf_free(&x->lines);
    sodium_memzero(x, sizeof *x);
    free(x);
    return st;
}
