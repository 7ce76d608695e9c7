/* SPDX-License-Identifier: Apache-2.0 */
/*
 * share.c - the vault's half of a referral that carries personal data
 * (docs/hotline.md, "Personal data in a referral"): named fields of named
 * people, read only under a second person's approval bound to exactly
 * those people and fields, charged to the reader's budget, logged before
 * anything is revealed, and cut down to the fields before they leave.
 * The hotline CLI puts the result into the referral's body.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "vault_int.h"

/* Read person ids[i] and hold only f's fields of it, one line, in out. */
static sr_status read_one(sr_vault *v, const uint8_t id[SR_ID_BYTES],
                          unsigned granted, const record_fields *f, sr_buf *out)
{
    char hex[SR_ID_STR_LEN + 1];
    json_error_t jerr;
    hex_encode(hex, id, SR_ID_BYTES);
    sr_status st = vault_read_line(v, hex, granted);
    json_t *person =
        st == SR_OK ? json_loadb((const char *)v->out.p, v->out.len, 0, &jerr)
                    : NULL;
    buf_reset(&v->out);
    if (st != SR_OK)
        return st;
    json_t *part = person != NULL ? record_fields_pick(f, person) : NULL;
    json_decref(person);
    size_t need = part != NULL ? json_dumpb(part, NULL, 0, JSON_COMPACT) : 0;
    if (need == 0) {
        json_decref(part);
        return vault_fail(v, SR_ERR_NOMEM, "out of memory");
    }
    st = buf_reserve(out, need + 1);
    if (st == SR_OK) {
        size_t got =
            json_dumpb(part, (char *)out->p + out->len, need, JSON_COMPACT);
        if (got == need) {
            out->len += got;
            out->p[out->len++] = '\n';
        } else {
            st = SR_ERR_INTERNAL;
        }
    }
    json_decref(part);
    return st == SR_OK ? SR_OK
                       : vault_fail(v, st, "cannot hold the shared fields");
}

sr_status sr_vault_share_read(sr_vault *v, const sr_access *acc,
                              const uint8_t (*ids)[SR_ID_BYTES], size_t n,
                              const char *fields, sr_line_fn fn, void *ctx)
{
    record_fields f;
    char digest[VAULT_DIGEST_HEX], approval[ENTRY_TEXT_MAX];
    char detail[ENTRY_TEXT_MAX];
    unsigned granted = 0;
    sr_buf lines;
    sr_status st = vault_share_fields(v, fields, &f);
    if (st != SR_OK)
        return st;
    /* Checked first: the people must be a set the approval can name. */
    st = vault_share_digest(v, &f, ids, n, digest);
    if (st != SR_OK)
        return st;
    access_req r = {POLICY_GET, "share", acc, NULL, f.classes};
    /* The policy decides for each person (a caseload role: each on the
     * case), each refusal logged naming that person; then the second
     * person's approval of exactly these people and fields. */
    for (size_t i = 0; i < n && st == SR_OK; i++) {
        r.person = ids[i];
        st = vault_authorize(v, &r, &granted);
    }
    r.person = NULL;
    if (st == SR_OK)
        st = vault_approval_check(v, &r, digest, approval);
    if (st == SR_OK)
        st = vault_budget_charge(v, &r, ids, n, 0, false, true);
    if (st != SR_OK)
        return st;
    buf_init(&lines, (size_t)n * (RECORD_MAX_JSON + 1u));
    for (size_t i = 0; i < n && st == SR_OK; i++)
        st = read_one(v, ids[i], granted, &f, &lines);
    if (st != SR_OK) {
        buf_free(&lines);
        return vault_record_failure(v, &r, st, granted);
    }
    /* Log, then reveal. */
    (void)snprintf(detail, sizeof detail, "%.40s, fields %s", approval,
                   f.canon);
    st = vault_record(v, &r, ENTRY_ALLOWED, SR_OK, granted, detail, n, ids,
                      (uint32_t)n);
    if (st == SR_OK)
        st = vault_decoy_check(v, ids, n);
    for (size_t off = 0; st == SR_OK && off < lines.len;) {
        const uint8_t *nl = memchr(lines.p + off, '\n', lines.len - off);
        size_t len = (size_t)(nl - (lines.p + off));
        st = fn(ctx, (const char *)lines.p + off, len);
        if (st != SR_OK)
            st = vault_fail(v, st, "the share was stopped by its writer");
        off += len + 1;
    }
    buf_free(&lines);
    return st;
}

sr_status sr_fields_canonical(const char *list,
                              char out[SR_SHARE_FIELDS_MAX + 1])
{
    record_fields f;
    char why[RECORD_FIELDS_REASON];
    out[0] = '\0';
    if (list == NULL || !record_fields_parse(list, strlen(list), &f, why))
        return SR_ERR_INVALID;
    memcpy(out, f.canon, sizeof f.canon);
    return SR_OK;
}
