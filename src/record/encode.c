/* SPDX-License-Identifier: Apache-2.0 */
/*
 * encode.c - the canonical binary encoding of each field class of a person
 * (docs/record-format.md) and its strict decoder, both driven by the
 * schema table (schema.c).
 *
 * Canonical means equal people give equal bytes: members go out in tag
 * order, every integer as its shortest LEB128, every value in exactly one
 * spelling. The decoder accepts only what the encoder produces (it reads
 * through the bounded sr_reader, rejects unknown, repeated or out-of-order
 * tags, overlong varints and trailing bytes, then runs the validator over
 * the result), so decode followed by encode gives back the same bytes:
 * the vault can authenticate and compare encodings without re-parsing.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "record/schema.h"

/* The first byte of every non-empty class payload. */
#define RECORD_ENCODING_VERSION 1u

/* NUMBER values carry one kind byte: JSON integers and reals stay apart,
 * so 5 and 5.0 round-trip as they came. */
#define NUMBER_INTEGER 0u
#define NUMBER_REAL 1u

/* 0001-01-01 .. 9999-12-31: the dates "YYYY-MM-DD" can spell. */
#define DAYS_MIN (-719162)
#define DAYS_MAX 2932896

#define SSN_MAX 999999999u

static uint64_t zigzag(int64_t v)
{
    return v < 0 ? ~((uint64_t)v << 1) : (uint64_t)v << 1;
}

static int64_t unzigzag(uint64_t u)
{
    /* u >> 1 fits int64_t, so neither branch overflows. */
    return (u & 1u) ? -(int64_t)(u >> 1) - 1 : (int64_t)(u >> 1);
}

/* ---- encoding ------------------------------------------------------------ */

static sr_status enc_string(sr_buf *out, const char *s, size_t len)
{
    sr_status st = buf_append_varint(out, len);
    return st != SR_OK ? st : buf_append(out, s, len);
}

static sr_status enc_value(const record_type *t, const json_t *v, sr_buf *out);

static sr_status enc_object(const record_type *t, const json_t *v, sr_buf *out)
{
    const json_t *slots[RECORD_MAX_MEMBERS];
    sr_status st = record_object_slots(t, v, slots, NULL, NULL);
    if (st != SR_OK)
        return st;
    uint64_t present = 0;
    for (uint8_t i = 0; i < t->nmembers; i++)
        present += slots[i] != NULL;
    if ((st = buf_append_varint(out, present)) != SR_OK)
        return st;
    for (uint8_t i = 0; i < t->nmembers; i++) {
        if (slots[i] == NULL)
            continue;
        if ((st = buf_append_varint(out, (uint64_t)i + 1)) != SR_OK ||
            (st = enc_value(t->members[i].type, slots[i], out)) != SR_OK)
            return st;
    }
    return SR_OK;
}

static sr_status enc_base64(const char *s, size_t len, sr_buf *out)
{
    /* The text was checked canonical, so its decoded size is exact. */
    size_t pad = len >= 1 && s[len - 1] == '='
                     ? (len >= 2 && s[len - 2] == '=' ? 2 : 1)
                     : 0;
    size_t n = len / 4 * 3 - pad, got = 0;
    sr_status st = buf_append_varint(out, n);
    if (st != SR_OK || n == 0)
        return st;
    if ((st = buf_reserve(out, n)) != SR_OK)
        return st;
    if (sodium_base642bin(out->p + out->len, n, s, len, NULL, &got, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        got != n)
        return SR_ERR_INVALID;
    out->len += n;
    return SR_OK;
}

static sr_status enc_value(const record_type *t, const json_t *v, sr_buf *out)
{
    sr_status st;
    switch (t->kind) {
    case RK_OBJECT:
        return enc_object(t, v, out);
    case RK_ARRAY: {
        size_t n = json_array_size(v);
        if ((st = buf_append_varint(out, n)) != SR_OK)
            return st;
        for (size_t i = 0; i < n; i++)
            if ((st = enc_value(t->items, json_array_get(v, i), out)) != SR_OK)
                return st;
        return SR_OK;
    }
    case RK_INT:
        return buf_append_varint(out, (uint64_t)json_integer_value(v));
    case RK_NUMBER:
        if (json_is_integer(v)) {
            if ((st = buf_append_byte(out, NUMBER_INTEGER)) != SR_OK)
                return st;
            return buf_append_varint(out, zigzag(json_integer_value(v)));
        } else {
            double d = json_real_value(v);
            uint64_t bits;
            memcpy(&bits, &d, sizeof bits);
            if ((st = buf_append_byte(out, NUMBER_REAL)) != SR_OK ||
                (st = buf_append_u32be(out, (uint32_t)(bits >> 32))) != SR_OK)
                return st;
            return buf_append_u32be(out, (uint32_t)bits);
        }
    case RK_ENUM: {
        const char *s = json_string_value(v);
        for (uint8_t i = 0; i < t->nenums; i++)
            if (strcmp(t->enums[i], s) == 0)
                return buf_append_varint(out, i);
        return SR_ERR_INVALID;
    }
    default:
        break;
    }

    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    switch (t->kind) {
    case RK_DATE: {
        int32_t days;
        if (!date_parse(s, len, &days))
            return SR_ERR_INVALID;
        return buf_append_varint(out, zigzag(days));
    }
    case RK_COUNTRY:
        return buf_append(out, s, 2);
    case RK_SSN: {
        /* "AAA-GG-SSSS" -> AAAGGSSSS as one integer: 4 bytes, not 12. */
        uint64_t x = 0;
        for (size_t i = 0; i < len; i++)
            if (s[i] != '-')
                x = x * 10u + (uint64_t)(s[i] - '0');
        return buf_append_varint(out, x);
    }
    case RK_BASE64:
        return enc_base64(s, len, out);
    default:
        return enc_string(out, s, len);
    }
}

sr_status record_encode_class(const json_t *person, sr_class c, sr_buf *out)
{
    const record_type *t = record_schema_person();
    const json_t *slots[RECORD_MAX_MEMBERS];
    if ((unsigned)c >= SR_CLASS_COUNT || out == NULL)
        return SR_ERR_INVALID;
    sr_status st = record_object_slots(t, person, slots, NULL, NULL);
    if (st != SR_OK)
        return st;

    /* Check the members of this class only: each class is encoded once
     * per import, so the whole person is checked once in all. The date
     * limit is the caller's business (record_validate); here only the
     * form matters. */
    uint64_t present = 0;
    for (uint8_t i = 0; i < t->nmembers; i++) {
        const record_member *m = &t->members[i];
        if (m->cls != (int8_t)c)
            continue;
        if (slots[i] == NULL) {
            if (m->required)
                return SR_ERR_INVALID;
            continue;
        }
        record_path here = {NULL, m->name, 0};
        st = record_check_value(m->type, slots[i], INT32_MAX, &here, NULL);
        if (st != SR_OK)
            return st;
        present++;
    }
    if (present == 0)
        return SR_OK;

    /* The member count makes every proper prefix of a payload invalid:
     * a cut at a member boundary is caught, not read as fewer members. */
    size_t start = out->len;
    st = buf_append_byte(out, RECORD_ENCODING_VERSION);
    if (st == SR_OK)
        st = buf_append_varint(out, present);
    for (uint8_t i = 0; st == SR_OK && i < t->nmembers; i++) {
        if (t->members[i].cls != (int8_t)c || slots[i] == NULL)
            continue;
        st = buf_append_varint(out, (uint64_t)i + 1);
        if (st == SR_OK)
            st = enc_value(t->members[i].type, slots[i], out);
    }
    if (st != SR_OK && out->p != NULL) {
        /* Leave out as it was, and no plaintext behind in its slack. */
        sodium_memzero(out->p + start, out->len - start);
        out->len = start;
    }
    return st;
}

/* ---- decoding ------------------------------------------------------------ */

static sr_status corrupt(record_error *err, const record_path *p,
                         const char *why)
{
    record_fail(err, p, "corrupt encoding: %.170s", why);
    return SR_ERR_CORRUPT;
}

static sr_status dec_varint(sr_reader *r, uint64_t *v, const record_path *p,
                            record_error *err)
{
    if (!reader_varint(r, v))
        return corrupt(err, p, "truncated or non-canonical varint");
    return SR_OK;
}

static sr_status new_string(json_t **out, const char *s, size_t len)
{
    *out = json_stringn_nocheck(s, len);
    return *out != NULL ? SR_OK : SR_ERR_NOMEM;
}

static sr_status dec_value(const record_type *t, sr_reader *r,
                           const record_path *p, json_t **out,
                           record_error *err);

static sr_status dec_object(const record_type *t, sr_reader *r,
                            const record_path *p, json_t **out,
                            record_error *err)
{
    uint64_t count, tag, prev = 0;
    sr_status st = dec_varint(r, &count, p, err);
    if (st != SR_OK)
        return st;
    if (count > t->nmembers)
        return corrupt(err, p, "too many members");
    json_t *o = json_object();
    if (o == NULL)
        return SR_ERR_NOMEM;
    for (uint64_t k = 0; k < count; k++) {
        if ((st = dec_varint(r, &tag, p, err)) != SR_OK)
            goto fail;
        if (tag <= prev) {
            st = corrupt(err, p, "member tags out of order or repeated");
            goto fail;
        }
        if (tag > t->nmembers) {
            st = corrupt(err, p, "unknown member tag");
            goto fail;
        }
        prev = tag;
        const record_member *m = &t->members[tag - 1];
        record_path here = {p, m->name, 0};
        json_t *v;
        if ((st = dec_value(m->type, r, &here, &v, err)) != SR_OK)
            goto fail;
        /* Tags ascend in table order, which is schema order: the object
         * comes out with its members in the order the schema lists. */
        if (json_object_set_new_nocheck(o, m->name, v) != 0) {
            st = SR_ERR_NOMEM;
            goto fail;
        }
    }
    *out = o;
    return SR_OK;
fail:
    json_decref(o);
    return st;
}

static sr_status dec_array(const record_type *t, sr_reader *r,
                           const record_path *p, json_t **out,
                           record_error *err)
{
    uint64_t count;
    sr_status st = dec_varint(r, &count, p, err);
    if (st != SR_OK)
        return st;
    /* Each item takes at least one byte: bound the loop by the input too. */
    if (count > t->max || count > reader_left(r))
        return corrupt(err, p, "too many items");
    json_t *a = json_array();
    if (a == NULL)
        return SR_ERR_NOMEM;
    for (size_t i = 0; i < count; i++) {
        record_path here = {p, NULL, i};
        json_t *v;
        if ((st = dec_value(t->items, r, &here, &v, err)) != SR_OK)
            goto fail;
        if (json_array_append_new(a, v) != 0) {
            st = SR_ERR_NOMEM;
            goto fail;
        }
    }
    *out = a;
    return SR_OK;
fail:
    json_decref(a);
    return st;
}

static sr_status dec_base64(sr_reader *r, const record_path *p, json_t **out,
                            record_error *err)
{
    uint64_t n;
    const uint8_t *bin;
    sr_status st = dec_varint(r, &n, p, err);
    if (st != SR_OK)
        return st;
    if (n > RECORD_MAX_TEMPLATE_BYTES)
        return corrupt(err, p, "template too long");
    if (!reader_bytes(r, (size_t)n, &bin))
        return corrupt(err, p, "truncated");
    size_t enc =
        sodium_base64_ENCODED_LEN((size_t)n, sodium_base64_VARIANT_ORIGINAL);
    sr_buf txt;
    buf_init(&txt, enc);
    if ((st = buf_reserve(&txt, enc)) != SR_OK) {
        buf_free(&txt);
        return st == SR_ERR_INVALID ? SR_ERR_INTERNAL : st;
    }
    sodium_bin2base64((char *)txt.p, enc, bin, (size_t)n,
                      sodium_base64_VARIANT_ORIGINAL);
    st = new_string(out, (const char *)txt.p, enc - 1);
    buf_free(&txt);
    return st;
}

static sr_status dec_value(const record_type *t, sr_reader *r,
                           const record_path *p, json_t **out,
                           record_error *err)
{
    uint64_t u;
    sr_status st;
    *out = NULL;
    switch (t->kind) {
    case RK_OBJECT:
        return dec_object(t, r, p, out, err);
    case RK_ARRAY:
        return dec_array(t, r, p, out, err);
    case RK_BASE64:
        return dec_base64(r, p, out, err);
    case RK_COUNTRY: {
        const uint8_t *b;
        if (!reader_bytes(r, 2, &b))
            return corrupt(err, p, "truncated");
        if (b[0] < 'A' || b[0] > 'Z' || b[1] < 'A' || b[1] > 'Z')
            return corrupt(err, p, "invalid country code");
        return new_string(out, (const char *)b, 2);
    }
    case RK_NUMBER: {
        uint8_t kind;
        if (!reader_u8(r, &kind))
            return corrupt(err, p, "truncated");
        if (kind == NUMBER_INTEGER) {
            if ((st = dec_varint(r, &u, p, err)) != SR_OK)
                return st;
            *out = json_integer(unzigzag(u));
        } else if (kind == NUMBER_REAL) {
            double d;
            if (!reader_u64be(r, &u))
                return corrupt(err, p, "truncated");
            memcpy(&d, &u, sizeof d);
            /* JSON has no NaN or infinity. */
            if (!isfinite(d))
                return corrupt(err, p, "number not finite");
            *out = json_real(d);
        } else {
            return corrupt(err, p, "invalid number kind");
        }
        return *out != NULL ? SR_OK : SR_ERR_NOMEM;
    }
    default:
        break;
    }

    /* Everything else starts with a varint. */
    if ((st = dec_varint(r, &u, p, err)) != SR_OK)
        return st;
    switch (t->kind) {
    case RK_ENUM:
        if (u >= t->nenums)
            return corrupt(err, p, "invalid enum value");
        return new_string(out, t->enums[u], strlen(t->enums[u]));
    case RK_INT:
        if (u < t->min || u > t->max)
            return corrupt(err, p, "integer out of range");
        *out = json_integer((json_int_t)u);
        return *out != NULL ? SR_OK : SR_ERR_NOMEM;
    case RK_DATE: {
        int64_t days = unzigzag(u);
        if (days < DAYS_MIN || days > DAYS_MAX)
            return corrupt(err, p, "date out of range");
        char buf[11];
        date_format((int32_t)days, buf);
        return new_string(out, buf, 10);
    }
    case RK_SSN: {
        if (u > SSN_MAX)
            return corrupt(err, p, "SSN out of range");
        char buf[12];
        uint64_t x = u;
        for (int i = 10; i >= 0; i--) {
            if (i == 3 || i == 6) {
                buf[i] = '-';
                continue;
            }
            buf[i] = (char)('0' + x % 10u);
            x /= 10u;
        }
        buf[11] = '\0';
        return new_string(out, buf, 11);
    }
    default: {
        /* Strings: the length is checked against the input before it is
         * trusted, and the bytes must be strict UTF-8. */
        const uint8_t *b;
        if (u > reader_left(r) || !reader_bytes(r, (size_t)u, &b))
            return corrupt(err, p, "truncated");
        if (!record_utf8_valid((const char *)b, (size_t)u))
            return corrupt(err, p, "invalid UTF-8");
        return new_string(out, (const char *)b, (size_t)u);
    }
    }
}

/* Put the person's members back in schema order ("id" first, members the
 * schema does not know last), so exports read the same whichever classes
 * were decoded in whichever order. */
static sr_status order_person(json_t *person)
{
    const record_type *t = record_schema_person();
    const char *key;
    json_t *val;
    int last = -1;
    bool ordered = true;
    json_object_foreach(person, key, val) {
        int i = record_member_find(t, key, strlen(key));
        if (i < 0)
            i = RECORD_MAX_MEMBERS;
        if (i < last) {
            ordered = false;
            break;
        }
        last = i;
    }
    if (ordered)
        return SR_OK;

    json_t *tmp = json_object();
    if (tmp == NULL)
        return SR_ERR_NOMEM;
    sr_status st = SR_OK;
    for (uint8_t i = 0; i < t->nmembers && st == SR_OK; i++) {
        json_t *v = json_object_get(person, t->members[i].name);
        if (v != NULL && json_object_set_nocheck(tmp, t->members[i].name, v))
            st = SR_ERR_NOMEM;
    }
    json_object_foreach(person, key, val) {
        if (st == SR_OK && record_member_find(t, key, strlen(key)) < 0 &&
            json_object_set_nocheck(tmp, key, val) != 0)
            st = SR_ERR_NOMEM;
    }
    if (st == SR_OK) {
        /* Every value is held by tmp too, so clearing frees nothing. */
        if (json_object_clear(person) != 0 ||
            json_object_update(person, tmp) != 0)
            st = SR_ERR_NOMEM;
    }
    json_decref(tmp);
    return st;
}

sr_status record_decode_class(const uint8_t *p, size_t n, sr_class c,
                              json_t *person, record_error *err)
{
    const record_type *t = record_schema_person();
    if ((unsigned)c >= SR_CLASS_COUNT || !json_is_object(person) ||
        (p == NULL && n > 0)) {
        record_fail(err, NULL, "invalid argument");
        return SR_ERR_INVALID;
    }
    if (n == 0) {
        /* An empty class: nothing stored, nothing to set; unless the class
         * holds a required member, which a valid person always has. */
        for (uint8_t i = 0; i < t->nmembers; i++) {
            if (t->members[i].cls == (int8_t)c && t->members[i].required) {
                record_path here = {NULL, t->members[i].name, 0};
                return corrupt(err, &here, "required member missing");
            }
        }
        return SR_OK;
    }
    if (n > RECORD_MAX_ENCODED)
        return corrupt(err, NULL, "too large");

    sr_reader r;
    reader_init(&r, p, n);
    uint8_t version;
    if (!reader_u8(&r, &version))
        return corrupt(err, NULL, "truncated");
    if (version != RECORD_ENCODING_VERSION) {
        record_fail(err, NULL, "unknown encoding version %u", version);
        return SR_ERR_VERSION;
    }

    /* Decode into a scratch object: person is touched only on success. */
    json_t *tmp = json_object();
    if (tmp == NULL)
        return SR_ERR_NOMEM;
    sr_status st = SR_OK;
    uint64_t count, tag, prev = 0;
    if ((st = dec_varint(&r, &count, NULL, err)) != SR_OK)
        goto cleanup;
    if (count == 0 || count > t->nmembers) {
        /* The encoder writes nothing at all for an empty class. */
        st = corrupt(err, NULL, "bad member count");
        goto cleanup;
    }
    for (uint64_t k = 0; k < count; k++) {
        if ((st = dec_varint(&r, &tag, NULL, err)) != SR_OK)
            goto cleanup;
        if (tag <= prev) {
            st = corrupt(err, NULL, "member tags out of order or repeated");
            goto cleanup;
        }
        if (tag > t->nmembers || t->members[tag - 1].cls != (int8_t)c) {
            st = corrupt(err, NULL, "unknown member tag for this class");
            goto cleanup;
        }
        prev = tag;
        const record_member *m = &t->members[tag - 1];
        record_path here = {NULL, m->name, 0};
        json_t *v;
        if ((st = dec_value(m->type, &r, &here, &v, err)) != SR_OK)
            goto cleanup;
        if (json_object_set_new_nocheck(tmp, m->name, v) != 0) {
            st = SR_ERR_NOMEM;
            goto cleanup;
        }
    }
    if (reader_left(&r) != 0) {
        st = corrupt(err, NULL, "trailing bytes");
        goto cleanup;
    }

    /* The rules of the schema hold for stored data too (bar "not in the
     * future", which depends on when it is read); and they are what makes
     * re-encoding give the same bytes. */
    for (uint8_t i = 0; i < t->nmembers; i++) {
        const record_member *m = &t->members[i];
        if (m->cls != (int8_t)c)
            continue;
        record_path here = {NULL, m->name, 0};
        json_t *v = json_object_get(tmp, m->name);
        if (v == NULL) {
            if (m->required) {
                st = corrupt(err, &here, "required member missing");
                goto cleanup;
            }
            continue;
        }
        st = record_check_value(m->type, v, INT32_MAX, &here, err);
        if (st == SR_ERR_INVALID) {
            st = SR_ERR_CORRUPT;
            if (err != NULL) {
                char why[sizeof err->reason];
                memcpy(why, err->reason, sizeof why);
                int w = snprintf(err->reason, sizeof err->reason,
                                 "corrupt encoding: %.170s", why);
                (void)w; /* truncation of a message is harmless */
            }
        }
        if (st != SR_OK)
            goto cleanup;
    }

    if (json_object_update(person, tmp) != 0) {
        st = SR_ERR_NOMEM;
        goto cleanup;
    }
    st = order_person(person);
cleanup:
    json_decref(tmp);
    return st;
}

/* The SSN is the identity class's first member (it is required, and tags
 * ascend in schema order), so a search can test a candidate without
 * building its JSON: the hot path of every blind-index lookup. */
bool record_identity_ssn(const uint8_t *p, size_t n, char out[10])
{
    const record_type *t = record_schema_person();
    uint64_t want = 0;
    for (uint8_t i = 0; i < t->nmembers; i++)
        if (strcmp(t->members[i].name, "ssn") == 0)
            want = (uint64_t)i + 1u;
    sr_reader r;
    reader_init(&r, p, n);
    uint8_t version;
    uint64_t count, tag, x;
    if (!reader_u8(&r, &version) || version != RECORD_ENCODING_VERSION ||
        !reader_varint(&r, &count) || count == 0 || !reader_varint(&r, &tag) ||
        tag != want || !reader_varint(&r, &x) || x > SSN_MAX)
        return false;
    for (int i = 8; i >= 0; i--) {
        out[i] = (char)('0' + x % 10u);
        x /= 10u;
    }
    out[9] = '\0';
    return true;
}

/* ---- reading one fact without decoding ----------------------------------- */

/* Step over one encoded value of type t (bytes already authenticated:
 * checked for shape and bounds only). */
static bool skip_value(const record_type *t, sr_reader *r, unsigned depth)
{
    uint64_t u, tag, prev = 0;
    const uint8_t *b;
    uint8_t kind;
    if (depth > 8)
        return false;
    switch (t->kind) {
    case RK_OBJECT:
        if (!reader_varint(r, &u) || u > t->nmembers)
            return false;
        for (uint64_t k = 0; k < u; k++) {
            if (!reader_varint(r, &tag) || tag <= prev || tag > t->nmembers ||
                !skip_value(t->members[tag - 1].type, r, depth + 1))
                return false;
            prev = tag;
        }
        return true;
    case RK_ARRAY:
        if (!reader_varint(r, &u) || u > t->max || u > reader_left(r))
            return false;
        for (uint64_t k = 0; k < u; k++)
            if (!skip_value(t->items, r, depth + 1))
                return false;
        return true;
    case RK_COUNTRY:
        return reader_bytes(r, 2, &b);
    case RK_NUMBER:
        if (!reader_u8(r, &kind))
            return false;
        if (kind == NUMBER_INTEGER)
            return reader_varint(r, &u);
        return kind == NUMBER_REAL && reader_bytes(r, 8, &b);
    case RK_INT:
    case RK_ENUM:
    case RK_DATE:
    case RK_SSN:
        return reader_varint(r, &u);
    default: /* strings and base64: a length, then the bytes */
        return reader_varint(r, &u) && u <= reader_left(r) &&
               reader_bytes(r, (size_t)u, &b);
    }
}

/* The index of name among t's members, or -1. */
static int member_index(const record_type *t, const char *name)
{
    for (uint8_t i = 0; i < t->nmembers; i++)
        if (strcmp(t->members[i].name, name) == 0)
            return i;
    return -1;
}

bool record_employment_left(const uint8_t *p, size_t n, int32_t *day)
{
    const record_type *person = record_schema_person();
    int emp = member_index(person, "employment");
    if (emp < 0)
        return false;
    const record_type *jobs = person->members[emp].type;
    const record_type *job = jobs->items;
    int status = member_index(job, "status"), end = member_index(job, "end");
    const record_type *st = status >= 0 ? job->members[status].type : NULL;
    uint64_t former = UINT64_MAX;
    for (uint8_t i = 0; st != NULL && i < st->nenums; i++)
        if (strcmp(st->enums[i], "former") == 0)
            former = i;
    if (end < 0 || former == UINT64_MAX)
        return false;

    sr_reader r;
    reader_init(&r, p, n);
    uint8_t version;
    uint64_t count, tag, njobs;
    *day = RECORD_NOT_SEPARATED;
    if (!reader_u8(&r, &version) || version != RECORD_ENCODING_VERSION ||
        !reader_varint(&r, &count) || count != 1 || !reader_varint(&r, &tag) ||
        tag != (uint64_t)emp + 1 || !reader_varint(&r, &njobs) ||
        njobs > jobs->max || njobs > reader_left(&r))
        return false;
    int64_t last = INT64_MIN;
    for (uint64_t j = 0; j < njobs; j++) {
        uint64_t members, prev = 0, u;
        bool left = false, ended = false;
        if (!reader_varint(&r, &members) || members > job->nmembers)
            return false;
        for (uint64_t k = 0; k < members; k++) {
            if (!reader_varint(&r, &tag) || tag <= prev || tag > job->nmembers)
                return false;
            prev = tag;
            if (tag == (uint64_t)status + 1) {
                if (!reader_varint(&r, &u))
                    return false;
                left = u == former;
            } else if (tag == (uint64_t)end + 1) {
                if (!reader_varint(&r, &u))
                    return false;
                int64_t d = unzigzag(u);
                if (d < DAYS_MIN || d > DAYS_MAX)
                    return false;
                ended = true;
                if (d > last)
                    last = d;
            } else if (!skip_value(job->members[tag - 1].type, &r, 0)) {
                return false;
            }
        }
        if (!left || !ended)
            return true; /* still employed: not separated */
    }
    if (reader_left(&r) != 0)
        return false;
    if (njobs > 0)
        *day = (int32_t)last;
    return true;
}
