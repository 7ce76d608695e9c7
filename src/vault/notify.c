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

typedef struct notify_ctx {
    sr_vault *v;
    const access_req *r;
    unsigned granted;
    char detail[ENTRY_TEXT_MAX];
    sr_line_fn fn;
    void *fn_ctx;
    vault_held held;
} notify_ctx;

/* Read one person into the group, or hold a "gone" line for one shredded
 * since (or a decoy, which no letter goes to). */
static sr_status one(notify_ctx *x, const uint8_t id[SR_ID_BYTES])
{
    sr_vault *v = x->v;
    char hex[SR_ID_STR_LEN + 1];
    bool gone = false, full = false;
    hex_encode(hex, id, SR_ID_BYTES);
    sr_status st =
        vault_decoy_hit(v, (const uint8_t(*)[SR_ID_BYTES])id, 1, &gone);
    if (st == SR_OK && !gone) {
        st = vault_read_line(v, hex, x->granted);
        if (st == SR_OK)
            st = vault_held_add(v, &x->held, v->out.p, v->out.len, id, &full);
        buf_reset(&v->out);
        if (st == SR_ERR_NOT_FOUND) {
            gone = true;
            st = SR_OK;
            v->errmsg[0] = '\0';
        }
    }
    if (st == SR_OK && gone) {
        char line[SR_ID_STR_LEN + 32];
        int len =
            snprintf(line, sizeof line, "{\"id\":\"%s\",\"gone\":true}", hex);
        st = vault_held_add(v, &x->held, line, (size_t)len, NULL, &full);
    }
    if (st == SR_OK && full)
        st = vault_held_flush(v, &x->held, x->r, x->granted, x->detail, x->fn,
                              x->fn_ctx, "the notification");
    return st;
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
    vault_held_init(&x->held);
    for (size_t i = 0; i < n && st == SR_OK; i++)
        if (skip == NULL || !skip[i])
            st = one(x, ids[i]);
    if (st == SR_OK)
        st = vault_held_flush(v, &x->held, &r, x->granted, x->detail, fn, ctx,
                              "the notification");
    vault_held_free(&x->held);
    sodium_memzero(x, sizeof *x);
    free(x);
    return st;
}
