/* SPDX-License-Identifier: Apache-2.0 */
/*
 * entry.c - the canonical binary encoding of an audit log entry.
 *
 * Layout (docs/audit.md), every integer an unsigned LEB128 varint in its
 * shortest form, every string a varint length and that many bytes of UTF-8
 * without control characters:
 *
 *   u8 version (1) | time_ns | principal | token | action | u8 outcome |
 *   u8 status | purpose | case | u8 classes | rule | detail | count |
 *   nrefs | nrefs x 16-byte person references
 *
 * The decoder accepts exactly what the encoder writes (the fuzz target
 * checks decode(encode(x)) == x byte for byte), so an entry's leaf hash
 * pins its meaning.
 */
#include <string.h>

#include "audit/entry.h"
#include "record/schema.h"

/* Text a log reader will print: valid UTF-8, no C0 controls or DEL. */
static bool text_ok(const char *s, size_t len)
{
    size_t i = 0;
    uint32_t cp;

    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f) { /* ASCII: most of every entry */
            i++;
            continue;
        }
        if (!record_utf8_next(s, len, &i, &cp))
            return false;
        if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0))
            return false;
    }
    return true;
}

static sr_status put_str(sr_buf *out, const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n > max || !text_ok(s, n))
        return SR_ERR_INVALID;
    sr_status st = buf_append_varint(out, n);
    if (st == SR_OK && n > 0)
        st = buf_append(out, s, n);
    return st;
}

sr_status entry_encode(const audit_entry *e, sr_buf *out)
{
    sr_status st;

    if (entry_outcome_name(e->outcome) == NULL || e->classes > SR_CLASS_ALL ||
        e->nrefs > ENTRY_REFS_MAX || (e->nrefs > 0 && e->refs == NULL))
        return SR_ERR_INVALID;
    size_t start = out->len;
    st = buf_append_byte(out, ENTRY_FORMAT_VERSION);
    if (st == SR_OK)
        st = buf_append_varint(out, e->time_ns);
    if (st == SR_OK)
        st = put_str(out, e->principal, ENTRY_NAME_MAX);
    if (st == SR_OK)
        st = put_str(out, e->token, ENTRY_TOKEN_MAX);
    if (st == SR_OK)
        st = put_str(out, e->action, ENTRY_NAME_MAX);
    if (st == SR_OK)
        st = buf_append_byte(out, e->outcome);
    if (st == SR_OK)
        st = buf_append_byte(out, e->status);
    if (st == SR_OK)
        st = put_str(out, e->purpose, ENTRY_NAME_MAX);
    if (st == SR_OK)
        st = put_str(out, e->case_id, ENTRY_NAME_MAX);
    if (st == SR_OK)
        st = buf_append_byte(out, e->classes);
    if (st == SR_OK)
        st = put_str(out, e->rule, ENTRY_TEXT_MAX);
    if (st == SR_OK)
        st = put_str(out, e->detail, ENTRY_TEXT_MAX);
    if (st == SR_OK)
        st = buf_append_varint(out, e->count);
    if (st == SR_OK)
        st = buf_append_varint(out, e->nrefs);
    if (st == SR_OK && e->nrefs > 0)
        st = buf_append(out, e->refs, (size_t)e->nrefs * ENTRY_REF_BYTES);
    if (st == SR_OK && out->len - start > ENTRY_MAX_BYTES)
        st = SR_ERR_INVALID;
    if (st != SR_OK)
        out->len = start;
    return st;
}

static bool get_str(sr_reader *r, char *dst, size_t max)
{
    uint64_t n;
    const uint8_t *p;

    if (!reader_varint(r, &n) || n > max || !reader_bytes(r, (size_t)n, &p))
        return false;
    if (!text_ok((const char *)p, (size_t)n))
        return false;
    memcpy(dst, p, (size_t)n);
    dst[n] = '\0';
    return true;
}

sr_status entry_decode(const uint8_t *p, size_t len, audit_entry *e)
{
    sr_reader r;
    uint8_t version;
    uint64_t nrefs;
    const uint8_t *refs = NULL;

    memset(e, 0, sizeof *e);
    if (len > ENTRY_MAX_BYTES)
        return SR_ERR_CORRUPT;
    reader_init(&r, p, len);
    if (!reader_u8(&r, &version))
        return SR_ERR_CORRUPT;
    if (version != ENTRY_FORMAT_VERSION)
        return SR_ERR_VERSION;
    bool ok =
        reader_varint(&r, &e->time_ns) &&
        get_str(&r, e->principal, ENTRY_NAME_MAX) &&
        get_str(&r, e->token, ENTRY_TOKEN_MAX) &&
        get_str(&r, e->action, ENTRY_NAME_MAX) && reader_u8(&r, &e->outcome) &&
        reader_u8(&r, &e->status) && get_str(&r, e->purpose, ENTRY_NAME_MAX) &&
        get_str(&r, e->case_id, ENTRY_NAME_MAX) && reader_u8(&r, &e->classes) &&
        get_str(&r, e->rule, ENTRY_TEXT_MAX) &&
        get_str(&r, e->detail, ENTRY_TEXT_MAX) &&
        reader_varint(&r, &e->count) && reader_varint(&r, &nrefs);
    if (!ok || nrefs > ENTRY_REFS_MAX ||
        !reader_bytes(&r, (size_t)nrefs * ENTRY_REF_BYTES, &refs) ||
        reader_left(&r) != 0 || entry_outcome_name(e->outcome) == NULL ||
        e->classes > SR_CLASS_ALL) {
        memset(e, 0, sizeof *e);
        return SR_ERR_CORRUPT;
    }
    e->nrefs = (uint32_t)nrefs;
    e->refs = nrefs > 0 ? (const uint8_t(*)[ENTRY_REF_BYTES])refs : NULL;
    return SR_OK;
}

const char *entry_outcome_name(unsigned outcome)
{
    switch (outcome) {
    case ENTRY_ALLOWED:
        return "allowed";
    case ENTRY_DENIED:
        return "denied";
    case ENTRY_FAILED:
        return "failed";
    default:
        return NULL;
    }
}
