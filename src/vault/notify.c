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

/* Read one person into the group, or hold a "gone" line for one shredded
 * since (or a decoy, which no letter goes to). */
static sr_status one(vault_held *h, const uint8_t id[SR_ID_BYTES])
{
    sr_vault *v = h->v;
    char hex[SR_ID_STR_LEN + 1];
    bool gone = false;
    hex_encode(hex, id, SR_ID_BYTES);
    sr_status st =
        vault_decoy_hit(v, (const uint8_t(*)[SR_ID_BYTES])id, 1, &gone);
    if (st == SR_OK && !gone) {
        st = vault_read_line(v, hex, h->granted);
        if (st == SR_OK)
            st = vault_held_add(h, v->out.p, v->out.len, id);
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
        st = vault_held_add(h, line, (size_t)len, NULL);
    }
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
    vault_held *h = calloc(1, sizeof *h);
    if (h == NULL)
        return vault_fail(v, SR_ERR_NOMEM, "out of memory");
    /* Decided first, so a refusal is logged whatever the list holds; then
     * a bulk read: only under a second person's approval of these very
     * people. */
    unsigned granted;
    sr_status st = vault_authorize(v, &r, &granted);
    if (st == SR_OK)
        st = vault_people_digest(v, ids, n, digest);
    if (st == SR_OK)
        st = vault_held_begin(v, &r, digest, fn, ctx, "the notification", h);
    for (size_t i = 0; i < n && st == SR_OK; i++)
        if (skip == NULL || !skip[i])
            st = one(h, ids[i]);
    if (st == SR_OK)
        st = vault_held_flush(h);
    vault_held_free(h);
    free(h);
    return st;
}
