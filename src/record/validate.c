/* SPDX-License-Identifier: Apache-2.0 */
/*
 * validate.c - checks a person in the exchange form against the schema
 * table (schema.c): parsing with jansson, then one recursive walk that
 * applies each kind's rules and the cross-member rules of each object.
 *
 * Every failure names the JSON pointer of the member and the rule, never
 * the value: these messages are logged, and the values are SSNs and
 * names. The same walk checks freshly decoded binary records (encode.c),
 * so a rule added here binds both directions.
 */
#include <string.h>

#include <sodium.h>

#include "record/schema.h"

/* ---- strings ------------------------------------------------------------- */

/* ECMA-262 \s (WhiteSpace and LineTerminator, as JSON Schema patterns use
 * it) plus U+0085, which some mail systems also treat as a line break. */
static bool is_space(uint32_t cp)
{
    switch (cp) {
    case 0x09:
    case 0x0a:
    case 0x0b:
    case 0x0c:
    case 0x0d:
    case 0x20:
    case 0x85:
    case 0xa0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202f:
    case 0x205f:
    case 0x3000:
    case 0xfeff:
        return true;
    default:
        return cp >= 0x2000 && cp <= 0x200a;
    }
}

static bool all_in(const char *s, size_t len, const char *set)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] == '\0' || strchr(set, s[i]) == NULL)
            return false;
    return true;
}

static bool is_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static unsigned digits_value(const char *s, size_t n)
{
    unsigned v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10u + (unsigned)(s[i] - '0');
    return v;
}

static sr_status check_ssn(const char *s, size_t len, const record_path *p,
                           record_error *err)
{
    if (len != 11 || s[3] != '-' || s[6] != '-' || !is_digits(s, 3) ||
        !is_digits(s + 4, 2) || !is_digits(s + 7, 4)) {
        record_fail(err, p, "must match NNN-NN-NNNN");
        return SR_ERR_INVALID;
    }
    /* SSA rules: these areas, group and serial were never issued. */
    unsigned area = digits_value(s, 3);
    if (area == 0 || area == 666 || area >= 900) {
        record_fail(err, p, "SSN area must not be 000, 666 or 900-999");
        return SR_ERR_INVALID;
    }
    if (digits_value(s + 4, 2) == 0) {
        record_fail(err, p, "SSN group must not be 00");
        return SR_ERR_INVALID;
    }
    if (digits_value(s + 7, 4) == 0) {
        record_fail(err, p, "SSN serial must not be 0000");
        return SR_ERR_INVALID;
    }
    return SR_OK;
}

static sr_status check_base64(const char *s, size_t len, uint32_t max,
                              const record_path *p, record_error *err)
{
    if (len > max) {
        record_fail(err, p, "too long (at most %u characters)", max);
        return SR_ERR_INVALID;
    }
    /* Decode, then re-encode and compare: only the one canonical spelling
     * of each template is accepted, so equal templates give equal bytes
     * and the binary form converts back to exactly this text. */
    sr_status st = SR_OK;
    sr_buf bin, txt;
    buf_init(&bin, RECORD_MAX_TEMPLATE_BYTES + 3);
    buf_init(&txt, (size_t)max + 1);
    size_t bin_len = 0;
    if (len > 0 && (st = buf_reserve(&bin, len / 4 * 3 + 3)) != SR_OK)
        goto cleanup;
    if (len > 0 && sodium_base642bin(bin.p, bin.cap, s, len, NULL, &bin_len,
                                     NULL, sodium_base64_VARIANT_ORIGINAL) != 0)
        goto bad;
    bin.len = bin_len;
    size_t enc_len =
        sodium_base64_ENCODED_LEN(bin_len, sodium_base64_VARIANT_ORIGINAL);
    if ((st = buf_reserve(&txt, enc_len)) != SR_OK)
        goto cleanup;
    if (len > 0) {
        sodium_bin2base64((char *)txt.p, enc_len, bin.p, bin_len,
                          sodium_base64_VARIANT_ORIGINAL);
        txt.len = enc_len - 1;
    }
    if (txt.len != len || (len > 0 && memcmp(txt.p, s, len) != 0))
        goto bad;
    goto cleanup;
bad:
    record_fail(err, p, "must be canonical padded base64");
    st = SR_ERR_INVALID;
cleanup:
    buf_free(&bin);
    buf_free(&txt);
    return st;
}

static sr_status check_string(const record_type *t, const json_t *v,
                              int32_t today, const record_path *p,
                              record_error *err)
{
    if (!json_is_string(v)) {
        record_fail(err, p, "must be a string");
        return SR_ERR_INVALID;
    }
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);

    /* One pass: count code points (JSON Schema lengths are in code
     * points, not bytes) and collect what the patterns care about. */
    size_t cps = 0, ats = 0, at_pos = 0;
    bool control = false, space = false, nul = false;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t start = i;
        uint8_t c = (uint8_t)s[i];
        if (c < 0x80) {
            /* ASCII, most of every person: no decoding needed. */
            i++;
            cps++;
            nul |= c == 0;
            control |= c < 0x20 || c == 0x7f;
            space |= c == ' ' || (c >= 0x09 && c <= 0x0d);
            if (c == '@') {
                ats++;
                at_pos = start;
            }
            continue;
        }
        if (!record_utf8_next(s, len, &i, &cp)) {
            record_fail(err, p, "must be valid UTF-8");
            return SR_ERR_INVALID;
        }
        cps++;
        nul |= cp == 0;
        control |= cp < 0x20 || cp == 0x7f;
        space |= is_space(cp);
        if (cp == '@') {
            ats++;
            at_pos = start;
        }
    }
    /* JSON input cannot carry U+0000 (jansson rejects it), so a NUL can
     * only come from a crafted record; refuse it everywhere. */
    if (nul) {
        record_fail(err, p, "must not contain U+0000");
        return SR_ERR_INVALID;
    }

    switch (t->kind) {
    case RK_ID:
        if (len > t->max) {
            record_fail(err, p, "too long (at most %u bytes)", t->max);
            return SR_ERR_INVALID;
        }
        return SR_OK;
    case RK_TEXT:
        if (cps < t->min) {
            record_fail(err, p, "must not be empty");
            return SR_ERR_INVALID;
        }
        if (cps > t->max) {
            record_fail(err, p, "too long (at most %u characters)", t->max);
            return SR_ERR_INVALID;
        }
        if (control) {
            record_fail(err, p, "must not contain control characters");
            return SR_ERR_INVALID;
        }
        return SR_OK;
    case RK_STRING:
        if (cps > t->max) {
            record_fail(err, p, "too long (at most %u characters)", t->max);
            return SR_ERR_INVALID;
        }
        return SR_OK;
    case RK_DATE: {
        int32_t days;
        if (!date_parse(s, len, &days)) {
            record_fail(err, p, "must be a real calendar date YYYY-MM-DD");
            return SR_ERR_INVALID;
        }
        if (days > today) {
            record_fail(err, p, "must not be in the future");
            return SR_ERR_INVALID;
        }
        return SR_OK;
    }
    case RK_COUNTRY:
        if (len != 2 || !all_in(s, 2, "ABCDEFGHIJKLMNOPQRSTUVWXYZ")) {
            record_fail(err, p, "must be two capital letters (ISO 3166-1)");
            return SR_ERR_INVALID;
        }
        return SR_OK;
    case RK_SSN:
        return check_ssn(s, len, p, err);
    case RK_PHONE: {
        size_t off = len > 0 && s[0] == '+' ? 1 : 0;
        if (len - off < 4 || len - off > 24 ||
            !all_in(s + off, len - off, "0123456789 ()-")) {
            record_fail(err, p, "must match pattern ^\\+?[0-9 ()-]{4,24}$");
            return SR_ERR_INVALID;
        }
        return SR_OK;
    }
    case RK_EMAIL:
        if (cps > t->max) {
            record_fail(err, p, "too long (at most %u characters)", t->max);
            return SR_ERR_INVALID;
        }
        if (ats != 1 || at_pos == 0 || at_pos == len - 1 || space) {
            record_fail(err, p, "must be local@domain without whitespace");
            return SR_ERR_INVALID;
        }
        return SR_OK;
    case RK_CASE_NUMBER:
        if (len < 4 || len > 32 ||
            !all_in(s, len, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")) {
            record_fail(err, p, "must match pattern ^[A-Z0-9-]{4,32}$");
            return SR_ERR_INVALID;
        }
        return SR_OK;
    case RK_BASE64:
        return check_base64(s, len, t->max, p, err);
    case RK_ENUM:
        for (uint8_t i = 0; i < t->nenums; i++)
            if (strlen(t->enums[i]) == len && memcmp(t->enums[i], s, len) == 0)
                return SR_OK;
        record_fail(err, p, "must be one of: %s", t->enum_list);
        return SR_ERR_INVALID;
    default:
        record_fail(err, p, "schema table error");
        return SR_ERR_INTERNAL;
    }
}

/* ---- objects ------------------------------------------------------------- */

sr_status record_object_slots(const record_type *t, const json_t *obj,
                              const json_t **slots, const record_path *p,
                              record_error *err)
{
    if (!json_is_object(obj)) {
        record_fail(err, p, "must be an object");
        return SR_ERR_INVALID;
    }
    for (uint8_t i = 0; i < t->nmembers; i++)
        slots[i] = NULL;
    const char *key;
    json_t *val;
    /* jansson iterators take a non-const object but do not modify it. */
    json_t *o = (json_t *)(uintptr_t)obj;
    json_object_foreach(o, key, val) {
        int i = record_member_find(t, key, strlen(key));
        if (i < 0) {
            record_path here = {p, key, 0};
            record_fail(err, &here, "unknown member");
            return SR_ERR_INVALID;
        }
        slots[i] = val;
    }
    return SR_OK;
}

static int enum_index(const record_type *t, const json_t *v)
{
    const char *s = json_string_value(v);
    for (uint8_t i = 0; s != NULL && i < t->nenums; i++)
        if (strcmp(t->enums[i], s) == 0)
            return i;
    return -1;
}

static int32_t date_of(const json_t *v)
{
    int32_t days = 0;
    if (!date_parse(json_string_value(v), json_string_length(v), &days))
        return 0; /* unreachable: checked before */
    return days;
}

static sr_status check_object(const record_type *t, const json_t *v,
                              int32_t today, const record_path *p,
                              record_error *err)
{
    const json_t *slots[RECORD_MAX_MEMBERS];
    sr_status st = record_object_slots(t, v, slots, p, err);
    if (st != SR_OK)
        return st;
    for (uint8_t i = 0; i < t->nmembers; i++) {
        const record_member *m = &t->members[i];
        record_path here = {p, m->name, 0};
        if (slots[i] == NULL) {
            if (m->required) {
                record_fail(err, &here, "required member is missing");
                return SR_ERR_INVALID;
            }
            continue;
        }
        st = record_check_value(m->type, slots[i], today, &here, err);
        if (st != SR_OK)
            return st;
    }
    if (t->order_lo && slots[t->order_lo - 1] && slots[t->order_hi - 1] &&
        date_of(slots[t->order_hi - 1]) < date_of(slots[t->order_lo - 1])) {
        record_path here = {p, t->members[t->order_hi - 1].name, 0};
        record_fail(err, &here, "must not be before %s",
                    t->members[t->order_lo - 1].name);
        return SR_ERR_INVALID;
    }
    if (t->dep_on && slots[t->dep_on - 1]) {
        const record_member *on = &t->members[t->dep_on - 1];
        int e = enum_index(on->type, slots[t->dep_on - 1]);
        bool want = e == t->dep_value;
        bool have = slots[t->dep_target - 1] != NULL;
        record_path here = {p, t->members[t->dep_target - 1].name, 0};
        if (want && !have) {
            record_fail(err, &here, "required when %s is %s", on->name,
                        on->type->enums[t->dep_value]);
            return SR_ERR_INVALID;
        }
        if (!want && have && e >= 0) {
            record_fail(err, &here, "must be absent when %s is %s", on->name,
                        on->type->enums[e]);
            return SR_ERR_INVALID;
        }
    }
    return SR_OK;
}

sr_status record_check_value(const record_type *t, const json_t *v,
                             int32_t today, const record_path *p,
                             record_error *err)
{
    switch (t->kind) {
    case RK_OBJECT:
        return check_object(t, v, today, p, err);
    case RK_ARRAY: {
        if (!json_is_array(v)) {
            record_fail(err, p, "must be an array");
            return SR_ERR_INVALID;
        }
        size_t n = json_array_size(v);
        if (n > t->max) {
            record_fail(err, p, "too many items (at most %u)", t->max);
            return SR_ERR_INVALID;
        }
        for (size_t i = 0; i < n; i++) {
            record_path here = {p, NULL, i};
            sr_status st = record_check_value(t->items, json_array_get(v, i),
                                              today, &here, err);
            if (st != SR_OK)
                return st;
        }
        return SR_OK;
    }
    case RK_INT: {
        if (!json_is_integer(v)) {
            record_fail(err, p, "must be an integer");
            return SR_ERR_INVALID;
        }
        json_int_t x = json_integer_value(v);
        if (x < (json_int_t)t->min || x > (json_int_t)t->max) {
            record_fail(err, p, "must be from %u to %u", t->min, t->max);
            return SR_ERR_INVALID;
        }
        return SR_OK;
    }
    case RK_NUMBER:
        if (!json_is_number(v)) {
            record_fail(err, p, "must be a number");
            return SR_ERR_INVALID;
        }
        return SR_OK;
    case RK_ENUM:
        if (!json_is_string(v)) {
            record_fail(err, p, "must be one of: %s", t->enum_list);
            return SR_ERR_INVALID;
        }
        return check_string(t, v, today, p, err);
    default:
        return check_string(t, v, today, p, err);
    }
}

sr_status record_validate(const json_t *person, int32_t today,
                          record_error *err)
{
    if (person == NULL) {
        record_fail(err, NULL, "must be an object");
        return SR_ERR_INVALID;
    }
    return record_check_value(record_schema_person(), person, today, NULL, err);
}

/* ---- parsing ------------------------------------------------------------- */

/* Our own words for jansson's error codes: jansson's text quotes the input
 * near the error ("... near '123-45-6789'"), which must not reach a log. */
static const char *json_error_words(enum json_error_code c)
{
    switch (c) {
    case json_error_out_of_memory:
        return "out of memory";
    case json_error_stack_overflow:
        return "nesting too deep";
    case json_error_invalid_utf8:
        return "invalid UTF-8";
    case json_error_premature_end_of_input:
        return "unexpected end of input";
    case json_error_end_of_input_expected:
        return "text after the value";
    case json_error_invalid_syntax:
        return "invalid syntax";
    case json_error_null_character:
        return "\\u0000 in a string";
    case json_error_null_byte_in_key:
        return "\\u0000 in a member name";
    case json_error_duplicate_key:
        return "duplicate member name";
    case json_error_numeric_overflow:
        return "number out of range";
    default:
        return "invalid JSON";
    }
}

sr_status record_parse(const char *text, size_t len, int32_t today,
                       json_t **out, record_error *err)
{
    *out = NULL;
    if (text == NULL && len > 0) {
        record_fail(err, NULL, "no JSON text");
        return SR_ERR_INVALID;
    }
    if (len > RECORD_MAX_JSON) {
        record_fail(err, NULL, "JSON text too large (at most %u bytes)",
                    RECORD_MAX_JSON);
        return SR_ERR_INVALID;
    }
    json_error_t je;
    json_t *v =
        json_loadb(text == NULL ? "" : text, len, JSON_REJECT_DUPLICATES, &je);
    if (v == NULL) {
        enum json_error_code c = json_error_code(&je);
        if (c == json_error_out_of_memory) {
            record_fail(err, NULL, "out of memory");
            return SR_ERR_NOMEM;
        }
        record_fail(err, NULL, "malformed JSON at line %d column %d: %s",
                    je.line, je.column, json_error_words(c));
        return SR_ERR_INVALID;
    }
    sr_status st = record_validate(v, today, err);
    if (st != SR_OK) {
        json_decref(v);
        return st;
    }
    *out = v;
    return SR_OK;
}
