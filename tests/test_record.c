/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_record.c - the person model as a specification: every rule of
 * docs/formats/person.schema.json accepted and rejected with the right
 * JSON pointer and a message that never carries the value; the canonical
 * binary encoding of docs/record-format.md (round trip, canonicality, the
 * documented worked example, strict decoding); and RFC 7386 merge patch
 * against the examples of its Appendix A.
 *
 * Most cases start from RICH, a person using every member, and change one
 * value with set_at() so each test states exactly the rule it exercises.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "record/record.h"
#include "strongroom/strongroom.h"

/* 2024-06-01: every date in the fixtures is before it. */
static int32_t today(void)
{
    return date_days_from_civil(2024, 6, 1);
}

/* A person using every member of the schema, in schema order. */
static const char RICH[] =
    "{\"id\":\"0123456789abcdef0123456789abcdef\","
    "\"ssn\":\"123-45-6789\","
    "\"name\":{\"given\":\"Zo\\u00eb\",\"middle\":\"Ann\","
    "\"family\":\"O'Brien-\\u0141ukasz\",\"suffix\":\"Jr.\"},"
    "\"former_names\":[{\"given\":\"Zo\\u00eb\",\"family\":\"Smith\"}],"
    "\"birth\":{\"date\":\"1980-02-29\",\"city\":\"Z\\u00fcrich\","
    "\"state\":\"ZH\",\"country\":\"CH\"},"
    "\"sex\":\"F\","
    "\"citizenship\":[\"US\",\"CH\"],"
    "\"addresses\":[{\"street\":\"1 Main St\",\"city\":\"Springfield\","
    "\"state\":\"IL\",\"postal_code\":\"62701\",\"country\":\"US\","
    "\"from\":\"2001-01-01\",\"to\":\"2010-12-31\"},"
    "{\"street\":\"2 Elm\",\"city\":\"Bern\",\"country\":\"CH\"}],"
    "\"phones\":[\"+1 (555) 123-4567\",\"555-0100\"],"
    "\"emails\":[\"zoe@example.org\"],"
    "\"employment\":[{\"agency\":\"DOE\",\"position\":\"Analyst\","
    "\"kind\":\"contractor\",\"employer\":\"Acme\",\"status\":\"former\","
    "\"start\":\"2005-03-01\",\"end\":\"2009-06-30\"},"
    "{\"agency\":\"DOS\",\"kind\":\"employee\",\"status\":\"current\","
    "\"start\":\"2010-01-04\"}],"
    "\"investigations\":[{\"case_number\":\"CASE-2020-0001\","
    "\"type\":\"tier5\",\"status\":\"closed\",\"opened\":\"2020-01-02\","
    "\"closed\":\"2020-06-30\",\"adjudication\":\"favorable\","
    "\"sections\":{\"relatives\":[{\"relation\":\"mother\","
    "\"name\":{\"given\":\"Eve\",\"family\":\"Smith\"},"
    "\"birth_date\":\"1950-05-05\",\"citizenship\":\"US\"}],"
    "\"foreign_contacts\":[{\"name\":\"Hans\",\"country\":\"DE\","
    "\"nature\":\"friend\",\"frequency\":\"yearly\"}],"
    "\"financial\":[{\"date\":\"2015-01-01\",\"kind\":\"bankruptcy\","
    "\"details\":\"chapter 7\",\"amount\":12000},"
    "{\"date\":\"2016-01-01\",\"kind\":\"lien\",\"amount\":99.5}],"
    "\"police\":[{\"date\":\"2001-07-04\",\"kind\":\"citation\"}],"
    "\"drug_use\":[],"
    "\"mental_health\":[{\"date\":\"2012-12-12\",\"kind\":\"counseling\","
    "\"amount\":-0.25}],"
    "\"references\":[{\"name\":\"Bob\",\"phone\":\"555-0199\","
    "\"relation\":\"colleague\"}],"
    "\"notes\":\"Line one\\nline two\\ttabbed\"}}],"
    "\"fingerprints\":[{\"finger\":1,\"format\":\"iso-19794-2-2005\","
    "\"template\":\"Rk1SACAyMAA=\"},"
    "{\"finger\":10,\"format\":\"ansi-378-2004\",\"template\":\"\"}]}";

static const char MINIMAL[] =
    "{\"ssn\":\"123-45-6789\",\"name\":{\"given\":\"Ada\","
    "\"family\":\"Lovelace\"},\"birth\":{\"date\":\"1815-12-10\"}}";

/* ---- helpers ------------------------------------------------------------- */

/* Text from json_dumps comes from jansson's (wiping) allocator, which
 * sr_init installed: release it through the same. */
static void jfree(void *ptr)
{
    json_malloc_t m;
    json_free_t f;
    json_get_alloc_funcs(&m, &f);
    f(ptr);
}

static json_t *J(const char *text)
{
    json_error_t je;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &je);
    if (v == NULL)
        fail_msg("fixture does not parse: %s", je.text);
    return v;
}

/* A string of n copies of unit. */
static json_t *rep(const char *unit, size_t n)
{
    size_t u = strlen(unit);
    char *s = malloc(u * n + 1);
    assert_non_null(s);
    for (size_t i = 0; i < n; i++)
        memcpy(s + i * u, unit, u);
    s[u * n] = '\0';
    json_t *v = json_string(s);
    free(s);
    assert_non_null(v);
    return v;
}

/* Set (v != NULL) or delete (v == NULL) the member at a simple pointer
 * ("/a/0/b"; an index one past the end appends). Steals v. */
static void set_at(json_t *root, const char *ptr, json_t *v)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", ptr);
    json_t *cur = root;
    char *seg = buf + 1;
    for (;;) {
        char *slash = strchr(seg, '/');
        if (slash != NULL)
            *slash = '\0';
        bool last = slash == NULL;
        if (json_is_array(cur)) {
            size_t i = (size_t)strtoul(seg, NULL, 10);
            if (last) {
                if (v == NULL)
                    assert_int_equal(json_array_remove(cur, i), 0);
                else if (i == json_array_size(cur))
                    assert_int_equal(json_array_append_new(cur, v), 0);
                else
                    assert_int_equal(json_array_set_new(cur, i, v), 0);
                return;
            }
            cur = json_array_get(cur, i);
        } else {
            if (last) {
                if (v == NULL)
                    assert_int_equal(json_object_del(cur, seg), 0);
                else
                    assert_int_equal(json_object_set_new(cur, seg, v), 0);
                return;
            }
            cur = json_object_get(cur, seg);
        }
        assert_non_null(cur);
        seg = slash + 1;
    }
}

static void check_no_secret(const record_error *err, const char *secret)
{
    char msg[512];
    record_error_format(err, msg, sizeof msg);
    if (secret != NULL && strstr(msg, secret) != NULL)
        fail_msg("message leaks the value: %s", msg);
}

/* RICH with the member at ptr set to v (or deleted) must be rejected with
 * exactly want_path, a reason containing want_reason and without secret. */
static void expect_reject(const char *ptr, json_t *v, const char *want_path,
                          const char *want_reason, const char *secret)
{
    json_t *p = J(RICH);
    set_at(p, ptr, v);
    record_error err;
    memset(&err, 0, sizeof err);
    assert_int_equal(record_validate(p, today(), &err), SR_ERR_INVALID);
    if (strcmp(err.path, want_path) != 0 ||
        strstr(err.reason, want_reason) == NULL)
        fail_msg("got \"%s: %s\", want \"%s: ...%s...\"", err.path, err.reason,
                 want_path, want_reason);
    check_no_secret(&err, secret);
    /* The encoder refuses the same person. */
    sr_buf out;
    buf_init(&out, RECORD_MAX_ENCODED);
    sr_status st = SR_OK;
    for (int c = 0; c < SR_CLASS_COUNT && st == SR_OK; c++)
        st = record_encode_class(p, (sr_class)c, &out);
    /* Only "in the future" is left to record_validate. */
    if (strstr(want_reason, "future") == NULL)
        assert_int_equal(st, SR_ERR_INVALID);
    buf_free(&out);
    json_decref(p);
}

static void expect_accept(const char *ptr, json_t *v)
{
    json_t *p = J(RICH);
    set_at(p, ptr, v);
    record_error err;
    memset(&err, 0, sizeof err);
    sr_status st = record_validate(p, today(), &err);
    if (st != SR_OK)
        fail_msg("rejected: %s: %s", err.path, err.reason);
    json_decref(p);
}

/* Encode every class of p into enc[c]. */
static void encode_all(const json_t *p, sr_buf enc[SR_CLASS_COUNT])
{
    for (int c = 0; c < SR_CLASS_COUNT; c++) {
        buf_init(&enc[c], RECORD_MAX_ENCODED);
        assert_int_equal(record_encode_class(p, (sr_class)c, &enc[c]), SR_OK);
    }
}

static void free_all(sr_buf enc[SR_CLASS_COUNT])
{
    for (int c = 0; c < SR_CLASS_COUNT; c++)
        buf_free(&enc[c]);
}

static json_t *decode_all(sr_buf enc[SR_CLASS_COUNT], const int *order)
{
    json_t *q = json_object();
    record_error err;
    for (int k = 0; k < SR_CLASS_COUNT; k++) {
        int c = order ? order[k] : k;
        sr_status st =
            record_decode_class(enc[c].p, enc[c].len, (sr_class)c, q, &err);
        if (st != SR_OK)
            fail_msg("class %d: %s: %s", c, err.path, err.reason);
    }
    return q;
}

/* The identity payload of RICH, for the decoder's rejection tests. */
static void rich_identity(sr_buf *out)
{
    json_t *p = J(RICH);
    buf_init(out, RECORD_MAX_ENCODED);
    assert_int_equal(record_encode_class(p, SR_CLASS_IDENTITY, out), SR_OK);
    json_decref(p);
}

static sr_status decode_bytes(const uint8_t *b, size_t n, sr_class c,
                              record_error *err)
{
    json_t *q = json_object();
    sr_status st = record_decode_class(b, n, c, q, err);
    json_decref(q);
    return st;
}

/* The search path reads the SSN straight from the identity encoding; it
 * must agree with the full decoder and refuse what is not identity. */
static void test_identity_ssn_reads_the_ssn_without_decoding(void **state)
{
    (void)state;
    sr_buf id;
    char ssn[10];
    rich_identity(&id);
    json_t *q = json_object();
    record_error err;
    assert_int_equal(
        record_decode_class(id.p, id.len, SR_CLASS_IDENTITY, q, &err), SR_OK);
    assert_true(record_identity_ssn(id.p, id.len, ssn));
    char norm[10];
    assert_true(
        record_norm_ssn(json_string_value(json_object_get(q, "ssn")), norm));
    assert_string_equal(ssn, norm);
    assert_false(record_identity_ssn(id.p, 0, ssn));
    assert_false(record_identity_ssn(id.p, 3, ssn)); /* cut in the SSN */
    id.p[0] ^= 0x80;                                 /* unknown version */
    assert_false(record_identity_ssn(id.p, id.len, ssn));
    id.p[0] ^= 0x80;

    sr_buf name;
    json_t *p = J(RICH);
    buf_init(&name, RECORD_MAX_ENCODED);
    assert_int_equal(record_encode_class(p, SR_CLASS_NAME, &name), SR_OK);
    assert_false(record_identity_ssn(name.p, name.len, ssn));
    json_decref(p);
    json_decref(q);
    buf_free(&name);
    buf_free(&id);
}

/* The employment class of RICH with its employment replaced by emp (JSON
 * text), encoded into out. */
static void employment_of(const char *emp, sr_buf *out)
{
    json_t *p = J(RICH);
    json_t *e = J(emp);
    assert_int_equal(json_object_set_new(p, "employment", e), 0);
    buf_init(out, RECORD_MAX_ENCODED);
    assert_int_equal(record_encode_class(p, SR_CLASS_EMPLOYMENT, out), SR_OK);
    json_decref(p);
}

/* A retention run reads the day a person left straight from the
 * employment encoding: the latest end when every job is former, else -1,
 * as the decoded JSON says; and refuses bytes that are not employment. */
static void test_employment_left_reads_the_day_without_decoding(void **state)
{
    (void)state;
    static const struct {
        const char *emp;
        const char *left; /* NULL: not separated */
    } cases[] = {
        {"[{\"agency\":\"DOE\",\"kind\":\"employee\",\"status\":"
         "\"former\",\"start\":\"1990-01-02\",\"end\":\"1999-12-31\"}]",
         "1999-12-31"},
        /* The latest end, whatever the order of the jobs. */
        {"[{\"agency\":\"DOE\",\"position\":\"Analyst\",\"kind\":"
         "\"contractor\",\"employer\":\"Acme\",\"status\":\"former\","
         "\"start\":\"2001-01-02\",\"end\":\"2011-05-06\"},"
         "{\"agency\":\"DOS\",\"kind\":\"employee\",\"status\":"
         "\"former\",\"start\":\"1990-01-02\",\"end\":\"2000-03-04\"}]",
         "2011-05-06"},
        /* One job still current: not separated. */
        {"[{\"agency\":\"DOE\",\"kind\":\"employee\",\"status\":"
         "\"former\",\"start\":\"1990-01-02\",\"end\":\"1999-12-31\"},"
         "{\"agency\":\"DOS\",\"kind\":\"employee\",\"status\":"
         "\"current\",\"start\":\"2000-01-02\"}]",
         NULL},
        {"[{\"agency\":\"DOS\",\"kind\":\"employee\",\"status\":"
         "\"current\",\"start\":\"2000-01-02\"}]",
         NULL},
        /* Before 1970: a negative day, and still a day (a run once took
         * it for "not separated" and kept these people for ever). */
        {"[{\"agency\":\"DOE\",\"kind\":\"employee\",\"status\":"
         "\"former\",\"start\":\"1950-01-02\",\"end\":\"1960-07-01\"}]",
         "1960-07-01"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sr_buf b;
        int32_t day = 7, want = RECORD_NOT_SEPARATED;
        employment_of(cases[i].emp, &b);
        if (cases[i].left != NULL)
            assert_true(date_parse(cases[i].left, 10, &want));
        assert_true(record_employment_left(b.p, b.len, &day));
        assert_int_equal(day, want);
        /* Cut short, or with a byte more: not an employment encoding. */
        if (cases[i].left != NULL) {
            assert_false(record_employment_left(b.p, b.len - 1, &day));
            assert_int_equal(buf_append_byte(&b, 0), SR_OK);
            assert_false(record_employment_left(b.p, b.len, &day));
        }
        buf_free(&b);
    }
    /* RICH's own: one job current. */
    sr_buf b;
    json_t *p = J(RICH);
    int32_t day = 0;
    buf_init(&b, RECORD_MAX_ENCODED);
    assert_int_equal(record_encode_class(p, SR_CLASS_EMPLOYMENT, &b), SR_OK);
    assert_true(record_employment_left(b.p, b.len, &day));
    assert_int_equal(day, RECORD_NOT_SEPARATED);
    /* Another class's bytes are refused. */
    buf_reset(&b);
    assert_int_equal(record_encode_class(p, SR_CLASS_CONTACT, &b), SR_OK);
    assert_false(record_employment_left(b.p, b.len, &day));
    json_decref(p);
    buf_free(&b);
}

/* ---- the whole person ---------------------------------------------------- */

static void test_accepts_rich_person_using_every_member(void **state)
{
    (void)state;
    expect_accept("/sex", json_string("F"));
}

static void test_accepts_minimal_person(void **state)
{
    (void)state;
    json_t *p = J(MINIMAL);
    record_error err;
    assert_int_equal(record_validate(p, today(), &err), SR_OK);
    json_decref(p);
}

static void test_rejects_non_object_person_at_root(void **state)
{
    (void)state;
    json_t *p = J("[1]");
    record_error err;
    assert_int_equal(record_validate(p, today(), &err), SR_ERR_INVALID);
    assert_string_equal(err.path, "");
    assert_non_null(strstr(err.reason, "object"));
    json_decref(p);
}

static void test_rejects_missing_ssn_with_path(void **state)
{
    (void)state;
    expect_reject("/ssn", NULL, "/ssn", "missing", NULL);
}

static void test_rejects_missing_birth_date_with_path(void **state)
{
    (void)state;
    expect_reject("/birth/date", NULL, "/birth/date", "missing", NULL);
}

static void test_rejects_missing_family_name_with_path(void **state)
{
    (void)state;
    expect_reject("/name/family", NULL, "/name/family", "missing", NULL);
}

static void test_rejects_missing_required_nested_in_array(void **state)
{
    (void)state;
    expect_reject("/investigations/0/sections/relatives/0/name/given", NULL,
                  "/investigations/0/sections/relatives/0/name/given",
                  "missing", NULL);
}

static void test_rejects_unknown_top_level_member_naming_it(void **state)
{
    (void)state;
    expect_reject("/nickname", json_string("Zed"), "/nickname",
                  "unknown member", "Zed");
}

static void test_rejects_unknown_address_member_naming_it(void **state)
{
    (void)state;
    expect_reject("/addresses/0/zip", json_string("62701"), "/addresses/0/zip",
                  "unknown member", "62701");
}

static void test_unknown_member_name_is_pointer_escaped(void **state)
{
    (void)state;
    expect_reject("/birth/a~b", json_true(), "/birth/a~0b", "unknown member",
                  NULL);
    json_t *p = J(RICH);
    assert_int_equal(
        json_object_set_new(json_object_get(p, "birth"), "x/y\nz", json_true()),
        0);
    record_error err;
    assert_int_equal(record_validate(p, today(), &err), SR_ERR_INVALID);
    assert_string_equal(err.path, "/birth/x~1y?z");
    json_decref(p);
}

static void test_allows_id_of_up_to_64_bytes(void **state)
{
    (void)state;
    expect_accept("/id", rep("a", 64));
}

static void test_rejects_id_over_64_bytes(void **state)
{
    (void)state;
    json_t *p = J(RICH);
    set_at(p, "/id", rep("a", 65));
    record_error err;
    assert_int_equal(record_validate(p, today(), &err), SR_ERR_INVALID);
    assert_string_equal(err.path, "/id");
    json_decref(p);
}

static void test_rejects_wrong_types_with_path(void **state)
{
    (void)state;
    expect_reject("/name/given", json_integer(5), "/name/given",
                  "must be a string", NULL);
    expect_reject("/name", json_string("Zoe"), "/name", "must be an object",
                  "Zoe");
    expect_reject("/phones", json_string("555-0100"), "/phones",
                  "must be an array", "555-0100");
    expect_reject("/sex", json_integer(1), "/sex", "must be one of", NULL);
}

/* ---- SSN ----------------------------------------------------------------- */

static void test_rejects_ssn_without_dashes_with_path(void **state)
{
    (void)state;
    expect_reject("/ssn", json_string("123456789"), "/ssn", "NNN-NN-NNNN",
                  "123456789");
}

static void test_rejects_ssn_area_000_with_path(void **state)
{
    (void)state;
    expect_reject("/ssn", json_string("000-12-3456"), "/ssn", "area",
                  "000-12-3456");
}

static void test_rejects_ssn_area_666_with_path(void **state)
{
    (void)state;
    expect_reject("/ssn", json_string("666-12-3456"), "/ssn", "area",
                  "666-12-3456");
}

static void test_rejects_ssn_area_900_to_999_with_path(void **state)
{
    (void)state;
    expect_reject("/ssn", json_string("900-12-3456"), "/ssn", "area",
                  "900-12-3456");
    expect_reject("/ssn", json_string("999-12-3456"), "/ssn", "area",
                  "999-12-3456");
}

static void test_rejects_ssn_group_00_with_path(void **state)
{
    (void)state;
    expect_reject("/ssn", json_string("123-00-3456"), "/ssn", "group",
                  "123-00-3456");
}

static void test_rejects_ssn_serial_0000_with_path(void **state)
{
    (void)state;
    expect_reject("/ssn", json_string("123-45-0000"), "/ssn", "serial",
                  "123-45-0000");
}

static void test_accepts_ssn_areas_next_to_forbidden_ones(void **state)
{
    (void)state;
    expect_accept("/ssn", json_string("001-01-0001"));
    expect_accept("/ssn", json_string("665-99-9999"));
    expect_accept("/ssn", json_string("667-01-0001"));
    expect_accept("/ssn", json_string("899-99-9999"));
}

/* ---- text, strings and lengths ------------------------------------------- */

static void test_rejects_empty_text_with_path(void **state)
{
    (void)state;
    expect_reject("/birth/city", json_string(""), "/birth/city", "empty", NULL);
}

static void test_counts_text_length_in_code_points(void **state)
{
    (void)state;
    /* 256 two-byte characters are 512 bytes but 256 code points. */
    expect_accept("/name/given", rep("\xc3\xa9", 256));
    expect_accept("/name/given", rep("\xf0\x9f\x98\x80", 256));
    expect_reject("/name/given", rep("\xc3\xa9", 257), "/name/given",
                  "too long", "\xc3\xa9\xc3\xa9");
}

static void test_rejects_control_characters_in_text(void **state)
{
    (void)state;
    expect_reject("/name/family", json_string("Smi\x1fth"), "/name/family",
                  "control", "Smi");
    expect_reject("/name/family", json_string("Smi\x7fth"), "/name/family",
                  "control", "Smi");
    expect_reject("/addresses/1/street", json_string("a\tb"),
                  "/addresses/1/street", "control", NULL);
}

static void test_accepts_unicode_outside_c0_and_del_in_text(void **state)
{
    (void)state;
    /* U+0080..U+009F are not in the schema's excluded range. */
    expect_accept("/name/family", json_string("\xc2\x85\xe2\x80\xa8x"));
}

static void test_counts_suffix_length_in_code_points(void **state)
{
    (void)state;
    expect_accept("/name/suffix", rep("\xc3\xbc", 16));
    expect_reject("/name/suffix", rep("\xc3\xbc", 17), "/name/suffix",
                  "too long", NULL);
}

static void test_allows_empty_suffix_and_postal_code(void **state)
{
    (void)state;
    expect_accept("/name/suffix", json_string(""));
    expect_accept("/addresses/0/postal_code", json_string(""));
}

static void test_rejects_postal_code_over_16(void **state)
{
    (void)state;
    expect_reject("/addresses/0/postal_code", rep("9", 17),
                  "/addresses/0/postal_code", "too long", NULL);
}

static void test_rejects_notes_over_65536_code_points(void **state)
{
    (void)state;
    expect_accept("/investigations/0/sections/notes", rep("\xc3\xa9", 65536));
    expect_reject("/investigations/0/sections/notes", rep("n", 65537),
                  "/investigations/0/sections/notes", "too long", NULL);
}

static void test_rejects_details_over_4096_code_points(void **state)
{
    (void)state;
    expect_reject(
        "/investigations/0/sections/financial/0/details", rep("d", 4097),
        "/investigations/0/sections/financial/0/details", "too long", NULL);
}

static void test_rejects_reference_phone_over_24(void **state)
{
    (void)state;
    expect_reject("/investigations/0/sections/references/0/phone", rep("5", 25),
                  "/investigations/0/sections/references/0/phone", "too long",
                  NULL);
}

/* ---- enums and countries ----------------------------------------------- */

static void test_accepts_each_sex_value(void **state)
{
    (void)state;
    expect_accept("/sex", json_string("M"));
    expect_accept("/sex", json_string("X"));
}

static void test_rejects_unknown_enum_value_with_path(void **state)
{
    (void)state;
    expect_reject("/sex", json_string("f"), "/sex", "F, M, X", NULL);
    expect_reject("/employment/1/kind", json_string("intern"),
                  "/employment/1/kind", "must be one of", "intern");
    expect_reject("/investigations/0/type", json_string("tier6"),
                  "/investigations/0/type", "must be one of", "tier6");
    expect_reject("/fingerprints/0/format", json_string("wsq"),
                  "/fingerprints/0/format", "must be one of", "wsq");
}

static void test_rejects_bad_country_codes_with_path(void **state)
{
    (void)state;
    expect_reject("/birth/country", json_string("ch"), "/birth/country",
                  "capital", NULL);
    expect_reject("/citizenship/1", json_string("USA"), "/citizenship/1",
                  "capital", "USA");
}

/* ---- counts -------------------------------------------------------------- */

static void test_enforces_max_items_of_citizenship(void **state)
{
    (void)state;
    expect_accept("/citizenship", J("[\"AA\",\"BB\",\"CC\",\"DD\",\"EE\","
                                    "\"FF\",\"GG\",\"HH\"]"));
    expect_reject("/citizenship",
                  J("[\"AA\",\"BB\",\"CC\",\"DD\",\"EE\","
                    "\"FF\",\"GG\",\"HH\",\"II\"]"),
                  "/citizenship", "too many items (at most 8)", NULL);
}

static void test_enforces_max_items_of_fingerprints(void **state)
{
    (void)state;
    json_t *a = json_array();
    for (int i = 0; i < 11; i++)
        json_array_append_new(a, J("{\"finger\":2,\"format\":"
                                   "\"ansi-378-2004\",\"template\":\"\"}"));
    expect_reject("/fingerprints", a, "/fingerprints", "at most 10", NULL);
}

static void test_accepts_empty_arrays(void **state)
{
    (void)state;
    expect_accept("/phones", json_array());
}

/* ---- dates --------------------------------------------------------------- */

static void test_rejects_impossible_date_with_path(void **state)
{
    (void)state;
    expect_reject("/birth/date", json_string("1981-02-29"), "/birth/date",
                  "calendar", "1981-02-29");
    expect_reject("/birth/date", json_string("1980-13-01"), "/birth/date",
                  "calendar", "1980-13-01");
    expect_reject("/birth/date", json_string("1980-1-01"), "/birth/date",
                  "calendar", NULL);
}

static void test_accepts_leap_day(void **state)
{
    (void)state;
    expect_accept("/birth/date", json_string("2000-02-29"));
}

static void test_rejects_future_date_with_path(void **state)
{
    (void)state;
    expect_reject("/addresses/0/to", json_string("2024-06-02"),
                  "/addresses/0/to", "future", "2024-06-02");
}

static void test_accepts_date_of_today(void **state)
{
    (void)state;
    expect_accept("/addresses/0/to", json_string("2024-06-01"));
}

static void test_rejects_address_to_before_from(void **state)
{
    (void)state;
    expect_reject("/addresses/0/to", json_string("2000-12-31"),
                  "/addresses/0/to", "before from", "2000");
}

static void test_accepts_address_to_equal_from(void **state)
{
    (void)state;
    expect_accept("/addresses/0/to", json_string("2001-01-01"));
}

static void test_rejects_employment_end_before_start(void **state)
{
    (void)state;
    expect_reject("/employment/0/end", json_string("2005-02-28"),
                  "/employment/0/end", "before start", NULL);
}

static void test_rejects_former_employment_without_end(void **state)
{
    (void)state;
    expect_reject("/employment/0/end", NULL, "/employment/0/end",
                  "required when status is former", NULL);
}

static void test_rejects_current_employment_with_end(void **state)
{
    (void)state;
    expect_reject("/employment/1/end", json_string("2011-01-01"),
                  "/employment/1/end", "absent when status is current", NULL);
}

static void test_rejects_investigation_closed_before_opened(void **state)
{
    (void)state;
    expect_reject("/investigations/0/closed", json_string("2019-12-31"),
                  "/investigations/0/closed", "before opened", NULL);
}

/* ---- patterns ------------------------------------------------------------ */

static void test_accepts_phone_forms(void **state)
{
    (void)state;
    expect_accept("/phones/0", json_string("1234"));
    expect_accept("/phones/0", json_string("+(0) 1-2"));
    expect_accept("/phones/0", rep("9", 24));
    expect_accept("/phones/0", json_string("+123456789012345678901234"));
}

static void test_rejects_bad_phones_with_path(void **state)
{
    (void)state;
    expect_reject("/phones/1", json_string("555"), "/phones/1", "pattern",
                  "555");
    expect_reject("/phones/1", json_string("555-CALL"), "/phones/1", "pattern",
                  "CALL");
    expect_reject("/phones/1", rep("9", 25), "/phones/1", "pattern", NULL);
    expect_reject("/phones/1", json_string("++1234"), "/phones/1", "pattern",
                  NULL);
    expect_reject("/phones/1", json_string("1234+"), "/phones/1", "pattern",
                  NULL);
}

static void test_accepts_email_with_unicode_and_controls(void **state)
{
    (void)state;
    expect_accept("/emails/0", json_string("z\xc3\xb6\x65@b\xc3\xbc.ch"));
    expect_accept("/emails/0", json_string("a@b"));
}

static void test_rejects_bad_emails_with_path(void **state)
{
    (void)state;
    expect_reject("/emails/0", json_string("zoe.example.org"), "/emails/0",
                  "local@domain", "zoe");
    expect_reject("/emails/0", json_string("a@b@c"), "/emails/0",
                  "local@domain", NULL);
    expect_reject("/emails/0", json_string("@b"), "/emails/0", "local@domain",
                  NULL);
    expect_reject("/emails/0", json_string("a@"), "/emails/0", "local@domain",
                  NULL);
}

static void test_rejects_whitespace_in_email(void **state)
{
    (void)state;
    static const char *const spaces[] = {" ",
                                         "\t",
                                         "\n",
                                         "\r",
                                         "\v",
                                         "\f",
                                         "\xc2\x85",
                                         "\xc2\xa0",
                                         "\xe1\x9a\x80",
                                         "\xe2\x80\x80",
                                         "\xe2\x80\x8a",
                                         "\xe2\x80\xa8",
                                         "\xe2\x80\xa9",
                                         "\xe2\x80\xaf",
                                         "\xe2\x81\x9f",
                                         "\xe3\x80\x80",
                                         "\xef\xbb\xbf"};
    for (size_t i = 0; i < sizeof spaces / sizeof spaces[0]; i++) {
        char buf[32];
        snprintf(buf, sizeof buf, "zoe%s@example.org", spaces[i]);
        expect_reject("/emails/0", json_string(buf), "/emails/0", "whitespace",
                      "zoe");
    }
}

static void test_rejects_email_over_254_code_points(void **state)
{
    (void)state;
    char buf[300];
    memset(buf, 'a', 252);
    memcpy(buf + 252, "@b", 3);
    expect_accept("/emails/0", json_string(buf)); /* 254 */
    memset(buf, 'a', 253);
    memcpy(buf + 253, "@b", 3);
    expect_reject("/emails/0", json_string(buf), "/emails/0", "too long", NULL);
}

static void test_accepts_and_rejects_case_numbers(void **state)
{
    (void)state;
    expect_accept("/investigations/0/case_number", json_string("A-1-"));
    expect_accept("/investigations/0/case_number", rep("Z", 32));
    expect_reject("/investigations/0/case_number", json_string("case-1"),
                  "/investigations/0/case_number", "pattern", "case-1");
    expect_reject("/investigations/0/case_number", json_string("AB1"),
                  "/investigations/0/case_number", "pattern", NULL);
    expect_reject("/investigations/0/case_number", rep("Z", 33),
                  "/investigations/0/case_number", "pattern", NULL);
}

/* ---- numbers ------------------------------------------------------------- */

static void test_accepts_fingers_1_to_10(void **state)
{
    (void)state;
    expect_accept("/fingerprints/0/finger", json_integer(1));
    expect_accept("/fingerprints/0/finger", json_integer(10));
}

static void test_rejects_finger_out_of_range_with_path(void **state)
{
    (void)state;
    expect_reject("/fingerprints/1/finger", json_integer(0),
                  "/fingerprints/1/finger", "from 1 to 10", NULL);
    expect_reject("/fingerprints/1/finger", json_integer(11),
                  "/fingerprints/1/finger", "from 1 to 10", NULL);
}

static void test_rejects_finger_that_is_not_a_json_integer(void **state)
{
    (void)state;
    expect_reject("/fingerprints/0/finger", json_real(1.0),
                  "/fingerprints/0/finger", "integer", NULL);
    expect_reject("/fingerprints/0/finger", json_string("1"),
                  "/fingerprints/0/finger", "integer", NULL);
}

static void test_accepts_integer_and_real_amounts(void **state)
{
    (void)state;
    expect_accept("/investigations/0/sections/financial/0/amount",
                  json_integer(-9223372036854775807LL - 1));
    expect_accept("/investigations/0/sections/financial/0/amount",
                  json_real(1e300));
}

static void test_rejects_amount_that_is_not_a_number(void **state)
{
    (void)state;
    expect_reject("/investigations/0/sections/financial/0/amount",
                  json_string("12000"),
                  "/investigations/0/sections/financial/0/amount",
                  "must be a number", "12000");
}

/* ---- templates ----------------------------------------------------------- */

static void test_accepts_canonical_base64_templates(void **state)
{
    (void)state;
    expect_accept("/fingerprints/0/template", json_string("QQ=="));
    expect_accept("/fingerprints/0/template", json_string("QUI="));
    expect_accept("/fingerprints/0/template", json_string("QUJD+/8="));
    expect_accept("/fingerprints/0/template", rep("QUJD", 4096));
}

static void test_rejects_non_canonical_base64_templates(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "QR==",     "QQ",   "QQ=", "QQ= =",    "Q Q==",   "QUJD\n",
        "QUJD-_8=", "====", "QUJ", "QUJD====", "QQ==QQ=="};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_reject("/fingerprints/0/template", json_string(bad[i]),
                      "/fingerprints/0/template", "base64", NULL);
}

static void test_rejects_template_over_16384_characters(void **state)
{
    (void)state;
    expect_reject("/fingerprints/0/template", rep("QUJD", 4097),
                  "/fingerprints/0/template", "too long", NULL);
}

/* ---- messages ------------------------------------------------------------ */

static void test_messages_never_contain_the_name(void **state)
{
    (void)state;
    expect_reject("/name/family", rep("Secretname\x01", 3), "/name/family",
                  "control", "Secretname");
    expect_reject("/name/given", rep("Secretname", 30), "/name/given",
                  "too long", "Secretname");
}

static void test_error_format_joins_path_and_reason(void **state)
{
    (void)state;
    record_error e;
    char out[512];
    snprintf(e.path, sizeof e.path, "/ssn");
    snprintf(e.reason, sizeof e.reason, "bad");
    record_error_format(&e, out, sizeof out);
    assert_string_equal(out, "/ssn: bad");
    e.path[0] = '\0';
    record_error_format(&e, out, sizeof out);
    assert_string_equal(out, "bad");
    record_error_format(&e, out, 2);
    assert_string_equal(out, "b");
}

/* ---- parsing ------------------------------------------------------------- */

static void test_parse_accepts_valid_person(void **state)
{
    (void)state;
    json_t *p = NULL;
    record_error err;
    assert_int_equal(record_parse(RICH, strlen(RICH), today(), &p, &err),
                     SR_OK);
    assert_true(json_is_object(p));
    json_decref(p);
}

static void
test_parse_reports_malformed_json_position_without_input(void **state)
{
    (void)state;
    static const char bad[] =
        "{\"ssn\": \"123-45-6789\",\n \"x\": 123-45-6789}";
    json_t *p = (json_t *)1;
    record_error err;
    assert_int_equal(record_parse(bad, strlen(bad), today(), &p, &err),
                     SR_ERR_INVALID);
    assert_null(p);
    assert_string_equal(err.path, "");
    assert_non_null(strstr(err.reason, "malformed JSON at line 2 column"));
    check_no_secret(&err, "123-45");
    check_no_secret(&err, "6789");
}

static void test_parse_rejects_duplicate_members(void **state)
{
    (void)state;
    static const char dup[] =
        "{\"ssn\":\"123-45-6789\",\"ssn\":\"123-45-6789\"}";
    json_t *p = NULL;
    record_error err;
    assert_int_equal(record_parse(dup, strlen(dup), today(), &p, &err),
                     SR_ERR_INVALID);
    assert_non_null(strstr(err.reason, "duplicate"));
    check_no_secret(&err, "6789");
}

static void test_parse_rejects_text_over_the_bound(void **state)
{
    (void)state;
    size_t n = RECORD_MAX_JSON + 1;
    char *big = malloc(n);
    assert_non_null(big);
    memset(big, ' ', n);
    big[0] = '{';
    big[n - 1] = '}';
    json_t *p = NULL;
    record_error err;
    assert_int_equal(record_parse(big, n, today(), &p, &err), SR_ERR_INVALID);
    assert_non_null(strstr(err.reason, "too large"));
    free(big);
}

static void test_parse_validates_after_parsing(void **state)
{
    (void)state;
    static const char t[] =
        "{\"ssn\":\"666-45-6789\",\"name\":{\"given\":\"A\","
        "\"family\":\"B\"},\"birth\":{\"date\":\"1990-01-01\"}}";
    json_t *p = NULL;
    record_error err;
    assert_int_equal(record_parse(t, strlen(t), today(), &p, &err),
                     SR_ERR_INVALID);
    assert_null(p);
    assert_string_equal(err.path, "/ssn");
}

/* ---- classes ------------------------------------------------------------- */

static void test_maps_members_to_classes(void **state)
{
    (void)state;
    assert_int_equal(record_class_of_member("ssn"), SR_CLASS_IDENTITY);
    assert_int_equal(record_class_of_member("birth"), SR_CLASS_IDENTITY);
    assert_int_equal(record_class_of_member("sex"), SR_CLASS_IDENTITY);
    assert_int_equal(record_class_of_member("citizenship"), SR_CLASS_IDENTITY);
    assert_int_equal(record_class_of_member("name"), SR_CLASS_NAME);
    assert_int_equal(record_class_of_member("former_names"), SR_CLASS_NAME);
    assert_int_equal(record_class_of_member("addresses"), SR_CLASS_CONTACT);
    assert_int_equal(record_class_of_member("phones"), SR_CLASS_CONTACT);
    assert_int_equal(record_class_of_member("emails"), SR_CLASS_CONTACT);
    assert_int_equal(record_class_of_member("employment"), SR_CLASS_EMPLOYMENT);
    assert_int_equal(record_class_of_member("investigations"),
                     SR_CLASS_INVESTIGATION);
    assert_int_equal(record_class_of_member("fingerprints"),
                     SR_CLASS_BIOMETRIC);
    assert_int_equal(record_class_of_member("id"), -1);
    assert_int_equal(record_class_of_member("nickname"), -1);
    assert_int_equal(record_class_of_member(""), -1);
}

/* ---- encoding ------------------------------------------------------------ */

static void test_round_trips_rich_person_in_schema_order(void **state)
{
    (void)state;
    json_t *p = J(RICH);
    sr_buf enc[SR_CLASS_COUNT];
    encode_all(p, enc);
    /* Decode in reverse class order: the result is still in schema order. */
    static const int order[SR_CLASS_COUNT] = {5, 4, 3, 2, 1, 0};
    json_t *q = decode_all(enc, order);
    assert_int_equal(json_object_del(p, "id"), 0);
    assert_true(json_equal(p, q));
    char *a = json_dumps(p, JSON_COMPACT), *b = json_dumps(q, JSON_COMPACT);
    assert_string_equal(a, b);
    jfree(a);
    jfree(b);
    /* Integer and real amounts stay what they were. */
    json_t *f = json_object_get(
        json_object_get(json_array_get(json_object_get(q, "investigations"), 0),
                        "sections"),
        "financial");
    assert_true(
        json_is_integer(json_object_get(json_array_get(f, 0), "amount")));
    assert_true(json_is_real(json_object_get(json_array_get(f, 1), "amount")));
    free_all(enc);
    json_decref(p);
    json_decref(q);
}

static void test_round_trips_minimal_person_with_empty_classes(void **state)
{
    (void)state;
    json_t *p = J(MINIMAL);
    sr_buf enc[SR_CLASS_COUNT];
    encode_all(p, enc);
    assert_true(enc[SR_CLASS_IDENTITY].len > 0);
    assert_true(enc[SR_CLASS_NAME].len > 0);
    assert_int_equal(enc[SR_CLASS_CONTACT].len, 0);
    assert_int_equal(enc[SR_CLASS_EMPLOYMENT].len, 0);
    assert_int_equal(enc[SR_CLASS_INVESTIGATION].len, 0);
    assert_int_equal(enc[SR_CLASS_BIOMETRIC].len, 0);
    json_t *q = decode_all(enc, NULL);
    assert_true(json_equal(p, q));
    free_all(enc);
    json_decref(p);
    json_decref(q);
}

static void
test_encoding_is_canonical_across_member_order_and_spelling(void **state)
{
    (void)state;
    json_t *a = J(MINIMAL);
    json_t *b = J("{\"birth\":{\"date\":\"1815-12-10\"},\"name\":{"
                  "\"family\":\"Lovelace\",\"given\":\"\\u0041da\"},"
                  "\"id\":\"ignored\",\"ssn\":\"123-45-6789\"}");
    sr_buf ea[SR_CLASS_COUNT], eb[SR_CLASS_COUNT];
    encode_all(a, ea);
    encode_all(b, eb);
    for (int c = 0; c < SR_CLASS_COUNT; c++) {
        assert_int_equal(ea[c].len, eb[c].len);
        if (ea[c].len)
            assert_memory_equal(ea[c].p, eb[c].p, ea[c].len);
    }
    free_all(ea);
    free_all(eb);
    json_decref(a);
    json_decref(b);
}

static void test_encoding_distinguishes_integer_and_real_amounts(void **state)
{
    (void)state;
    json_t *a = J(RICH), *b = J(RICH);
    set_at(a, "/investigations/0/sections/financial/1/amount", json_integer(5));
    set_at(b, "/investigations/0/sections/financial/1/amount", json_real(5.0));
    sr_buf ea, eb;
    buf_init(&ea, RECORD_MAX_ENCODED);
    buf_init(&eb, RECORD_MAX_ENCODED);
    assert_int_equal(record_encode_class(a, SR_CLASS_INVESTIGATION, &ea),
                     SR_OK);
    assert_int_equal(record_encode_class(b, SR_CLASS_INVESTIGATION, &eb),
                     SR_OK);
    assert_true(ea.len != eb.len || memcmp(ea.p, eb.p, ea.len) != 0);
    buf_free(&ea);
    buf_free(&eb);
    json_decref(a);
    json_decref(b);
}

/* The worked example of docs/record-format.md, byte for byte. */
static void test_encodes_documented_worked_example(void **state)
{
    (void)state;
    json_t *p = J("{\"ssn\":\"123-45-6789\",\"name\":{\"given\":\"Ada\","
                  "\"family\":\"Lovelace\"},\"birth\":{\"date\":\"1815-12-10\","
                  "\"country\":\"GB\"},\"sex\":\"F\"}");
    static const uint8_t identity[] = {0x01, 0x03, 0x02, 0x95, 0x9a, 0xef,
                                       0x3a, 0x05, 0x02, 0x01, 0x9b, 0xef,
                                       0x06, 0x04, 0x47, 0x42, 0x06, 0x00};
    static const uint8_t name[] = {0x01, 0x01, 0x03, 0x02, 0x01, 0x03, 0x41,
                                   0x64, 0x61, 0x03, 0x08, 0x4c, 0x6f, 0x76,
                                   0x65, 0x6c, 0x61, 0x63, 0x65};
    sr_buf enc[SR_CLASS_COUNT];
    encode_all(p, enc);
    assert_int_equal(enc[SR_CLASS_IDENTITY].len, sizeof identity);
    assert_memory_equal(enc[SR_CLASS_IDENTITY].p, identity, sizeof identity);
    assert_int_equal(enc[SR_CLASS_NAME].len, sizeof name);
    assert_memory_equal(enc[SR_CLASS_NAME].p, name, sizeof name);
    free_all(enc);
    json_decref(p);
}

static void test_encode_appends_and_leaves_buffer_intact_on_error(void **state)
{
    (void)state;
    json_t *p = J(RICH);
    sr_buf out;
    buf_init(&out, RECORD_MAX_ENCODED);
    assert_int_equal(buf_append(&out, "xy", 2), SR_OK);
    assert_int_equal(record_encode_class(p, SR_CLASS_NAME, &out), SR_OK);
    assert_true(out.len > 2);
    assert_memory_equal(out.p, "xy", 2);
    /* A cap too small for the payload: out is left as it was. */
    sr_buf small;
    buf_init(&small, 8);
    assert_int_equal(buf_append(&small, "ab", 2), SR_OK);
    assert_int_not_equal(record_encode_class(p, SR_CLASS_CONTACT, &small),
                         SR_OK);
    assert_int_equal(small.len, 2);
    buf_free(&small);
    buf_free(&out);
    json_decref(p);
}

static void test_encode_rejects_unknown_member_and_bad_class(void **state)
{
    (void)state;
    json_t *p = J(MINIMAL);
    sr_buf out;
    buf_init(&out, RECORD_MAX_ENCODED);
    assert_int_equal(record_encode_class(p, SR_CLASS_COUNT, &out),
                     SR_ERR_INVALID);
    set_at(p, "/nick", json_string("x"));
    assert_int_equal(record_encode_class(p, SR_CLASS_BIOMETRIC, &out),
                     SR_ERR_INVALID);
    assert_int_equal(out.len, 0);
    buf_free(&out);
    json_decref(p);
}

/* ---- decoding ------------------------------------------------------------ */

static void test_decode_then_encode_gives_same_bytes(void **state)
{
    (void)state;
    json_t *p = J(RICH);
    sr_buf enc[SR_CLASS_COUNT];
    encode_all(p, enc);
    json_t *q = decode_all(enc, NULL);
    sr_buf again[SR_CLASS_COUNT];
    encode_all(q, again);
    for (int c = 0; c < SR_CLASS_COUNT; c++) {
        assert_int_equal(enc[c].len, again[c].len);
        assert_memory_equal(enc[c].p, again[c].p, enc[c].len);
    }
    free_all(enc);
    free_all(again);
    json_decref(p);
    json_decref(q);
}

static void test_decode_rejects_every_truncation(void **state)
{
    (void)state;
    json_t *p = J(RICH);
    sr_buf enc[SR_CLASS_COUNT];
    encode_all(p, enc);
    for (int c = 0; c < SR_CLASS_COUNT; c++) {
        for (size_t n = 1; n < enc[c].len; n++) {
            record_error err;
            sr_status st = decode_bytes(enc[c].p, n, (sr_class)c, &err);
            if (st == SR_OK)
                fail_msg("class %d accepted a %zu-byte prefix", c, n);
        }
    }
    free_all(enc);
    json_decref(p);
}

static void test_decode_rejects_trailing_bytes(void **state)
{
    (void)state;
    sr_buf b;
    rich_identity(&b);
    assert_int_equal(buf_append_byte(&b, 0), SR_OK);
    record_error err;
    assert_int_equal(decode_bytes(b.p, b.len, SR_CLASS_IDENTITY, &err),
                     SR_ERR_CORRUPT);
    buf_free(&b);
}

static void test_decode_flipped_bits_fail_or_reencode_identically(void **state)
{
    (void)state;
    json_t *p = J(RICH);
    sr_buf enc[SR_CLASS_COUNT];
    encode_all(p, enc);
    unsigned rejected = 0, total = 0;
    for (int c = 0; c < SR_CLASS_COUNT; c++) {
        for (size_t i = 0; i < enc[c].len; i++) {
            for (unsigned bit = 0; bit < 8; bit++) {
                enc[c].p[i] ^= (uint8_t)(1u << bit);
                json_t *q = json_object();
                record_error err;
                sr_status st = record_decode_class(enc[c].p, enc[c].len,
                                                   (sr_class)c, q, &err);
                total++;
                if (st != SR_OK) {
                    rejected++;
                } else {
                    /* Accepted only if it is the canonical form of what
                     * it decoded to. */
                    sr_buf again;
                    buf_init(&again, RECORD_MAX_ENCODED);
                    assert_int_equal(
                        record_encode_class(q, (sr_class)c, &again), SR_OK);
                    assert_int_equal(again.len, enc[c].len);
                    assert_memory_equal(again.p, enc[c].p, again.len);
                    buf_free(&again);
                }
                json_decref(q);
                enc[c].p[i] ^= (uint8_t)(1u << bit);
            }
        }
    }
    assert_true(rejected > total / 4);
    free_all(enc);
    json_decref(p);
}

static void test_decode_rejects_unknown_version(void **state)
{
    (void)state;
    sr_buf b;
    rich_identity(&b);
    b.p[0] = 2;
    record_error err;
    assert_int_equal(decode_bytes(b.p, b.len, SR_CLASS_IDENTITY, &err),
                     SR_ERR_VERSION);
    buf_free(&b);
}

static void test_decode_rejects_version_byte_without_members(void **state)
{
    (void)state;
    static const uint8_t b[] = {0x01, 0x00};
    record_error err;
    assert_int_equal(decode_bytes(b, 1, SR_CLASS_CONTACT, &err),
                     SR_ERR_CORRUPT);
    assert_int_equal(decode_bytes(b, 2, SR_CLASS_CONTACT, &err),
                     SR_ERR_CORRUPT);
}

static void test_decode_accepts_empty_payload_as_empty_class(void **state)
{
    (void)state;
    json_t *q = J(MINIMAL);
    record_error err;
    assert_int_equal(record_decode_class(NULL, 0, SR_CLASS_BIOMETRIC, q, &err),
                     SR_OK);
    json_t *m = J(MINIMAL);
    assert_true(json_equal(q, m));
    json_decref(q);
    json_decref(m);
}

static void
test_decode_rejects_empty_payload_of_class_with_required_member(void **state)
{
    (void)state;
    record_error err;
    assert_int_equal(decode_bytes(NULL, 0, SR_CLASS_IDENTITY, &err),
                     SR_ERR_CORRUPT);
    assert_string_equal(err.path, "/ssn");
    assert_int_equal(decode_bytes(NULL, 0, SR_CLASS_NAME, &err),
                     SR_ERR_CORRUPT);
}

/* phones (tag 9) once, then twice, out of order, a tag of another class,
 * an unknown tag and the never-encoded "id". */
static void test_decode_rejects_bad_tags(void **state)
{
    (void)state;
    record_error err;
    static const uint8_t ok[] = {0x01, 0x01, 0x09, 0x01, 0x04,
                                 '5',  '5',  '5',  '5'};
    assert_int_equal(decode_bytes(ok, sizeof ok, SR_CLASS_CONTACT, &err),
                     SR_OK);
    static const uint8_t dup[] = {0x01, 0x02, 0x09, 0x00, 0x09, 0x00};
    assert_int_equal(decode_bytes(dup, sizeof dup, SR_CLASS_CONTACT, &err),
                     SR_ERR_CORRUPT);
    assert_non_null(strstr(err.reason, "order"));
    static const uint8_t order[] = {0x01, 0x02, 0x09, 0x00, 0x08, 0x00};
    assert_int_equal(decode_bytes(order, sizeof order, SR_CLASS_CONTACT, &err),
                     SR_ERR_CORRUPT);
    static const uint8_t other[] = {0x01, 0x01, 0x06, 0x00};
    assert_int_equal(decode_bytes(other, sizeof other, SR_CLASS_CONTACT, &err),
                     SR_ERR_CORRUPT);
    static const uint8_t unknown[] = {0x01, 0x01, 0x0e, 0x00};
    assert_int_equal(
        decode_bytes(unknown, sizeof unknown, SR_CLASS_CONTACT, &err),
        SR_ERR_CORRUPT);
    static const uint8_t id[] = {0x01, 0x01, 0x01, 0x00};
    assert_int_equal(decode_bytes(id, sizeof id, SR_CLASS_IDENTITY, &err),
                     SR_ERR_CORRUPT);
}

static void test_decode_rejects_overlong_varint(void **state)
{
    (void)state;
    /* The phone count 0 written as 0x80 0x00. */
    static const uint8_t b[] = {0x01, 0x01, 0x09, 0x80, 0x00};
    record_error err;
    assert_int_equal(decode_bytes(b, sizeof b, SR_CLASS_CONTACT, &err),
                     SR_ERR_CORRUPT);
    assert_non_null(strstr(err.reason, "varint"));
}

static void test_decode_rejects_invalid_enum_value(void **state)
{
    (void)state;
    /* identity: ssn 123-45-6789, birth {date}, sex 3 (only 0..2 exist) */
    static const uint8_t b[] = {0x01, 0x03, 0x02, 0x95, 0x9a, 0xef, 0x3a,
                                0x05, 0x01, 0x01, 0x00, 0x06, 0x03};
    record_error err;
    assert_int_equal(decode_bytes(b, sizeof b, SR_CLASS_IDENTITY, &err),
                     SR_ERR_CORRUPT);
    assert_string_equal(err.path, "/sex");
    uint8_t good[sizeof b];
    memcpy(good, b, sizeof b);
    good[sizeof b - 1] = 0x02;
    assert_int_equal(decode_bytes(good, sizeof good, SR_CLASS_IDENTITY, &err),
                     SR_OK);
}

static void test_decode_rejects_invalid_utf8(void **state)
{
    (void)state;
    static const uint8_t b[] = {0x01, 0x01, 0x09, 0x01, 0x04,
                                '5',  0xc0, 0x80, '5'};
    record_error err;
    assert_int_equal(decode_bytes(b, sizeof b, SR_CLASS_CONTACT, &err),
                     SR_ERR_CORRUPT);
    assert_string_equal(err.path, "/phones/0");
}

static void test_decode_rejects_values_breaking_schema_rules(void **state)
{
    (void)state;
    /* SSN 666-45-6789, then a phone "55" too short for the pattern. */
    static const uint8_t ssn[] = {0x01, 0x02, 0x02, 0xd5, 0xa5, 0xe5,
                                  0xbd, 0x02, 0x05, 0x01, 0x01, 0x00};
    record_error err;
    assert_int_equal(decode_bytes(ssn, sizeof ssn, SR_CLASS_IDENTITY, &err),
                     SR_ERR_CORRUPT);
    assert_string_equal(err.path, "/ssn");
    static const uint8_t phone[] = {0x01, 0x01, 0x09, 0x01, 0x02, '5', '5'};
    assert_int_equal(decode_bytes(phone, sizeof phone, SR_CLASS_CONTACT, &err),
                     SR_ERR_CORRUPT);
    /* identity without the required ssn */
    static const uint8_t nossn[] = {0x01, 0x01, 0x05, 0x01, 0x01, 0x00};
    assert_int_equal(decode_bytes(nossn, sizeof nossn, SR_CLASS_IDENTITY, &err),
                     SR_ERR_CORRUPT);
    assert_string_equal(err.path, "/ssn");
}

static void test_decode_leaves_person_untouched_on_error(void **state)
{
    (void)state;
    json_t *q = J(MINIMAL), *m = J(MINIMAL);
    static const uint8_t b[] = {0x01, 0x01, 0x09, 0x01, 0x04,
                                '5',  '5',  '5',  '5',  0x0a};
    record_error err;
    assert_int_equal(
        record_decode_class(b, sizeof b, SR_CLASS_CONTACT, q, &err),
        SR_ERR_CORRUPT);
    assert_true(json_equal(q, m));
    json_decref(q);
    json_decref(m);
}

/* ---- merge patch: RFC 7386 Appendix A ------------------------------------ */

/* Apply patch to target (both JSON texts) and compare with want. */
static void merge_case(const char *target, const char *patch, const char *want)
{
    json_t *t = J(target), *p = J(patch), *w = J(want);
    record_error err;
    assert_int_equal(record_merge_patch(t, p, &err), SR_OK);
    if (!json_equal(t, w)) {
        char *got = json_dumps(t, JSON_COMPACT);
        fail_msg("%s + %s gave %s, want %s", target, patch, got, want);
    }
    json_decref(t);
    json_decref(p);
    json_decref(w);
}

static void test_merge_patch_rfc7386_appendix_a_objects(void **state)
{
    (void)state;
    /* RFC 7386, Appendix A, the cases whose target and patch are objects. */
    merge_case("{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}");
    merge_case("{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}");
    merge_case("{\"a\":\"b\"}", "{\"a\":null}", "{}");
    merge_case("{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}", "{\"b\":\"c\"}");
    merge_case("{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}");
    merge_case("{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}");
    merge_case("{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}",
               "{\"a\":{\"b\":\"d\"}}");
    merge_case("{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}");
    merge_case("{\"e\":null}", "{\"a\":1}", "{\"e\":null,\"a\":1}");
    merge_case("{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", "{\"a\":{\"bb\":{}}}");
}

static void test_merge_patch_rfc7386_appendix_a_nested_non_objects(void **state)
{
    (void)state;
    /* Appendix A's cases with array/scalar targets or patches, one level
     * down (the target of record_merge_patch is a person, an object). */
    merge_case("{\"x\":[\"a\",\"b\"]}", "{\"x\":[\"c\",\"d\"]}",
               "{\"x\":[\"c\",\"d\"]}");
    merge_case("{\"x\":{\"a\":\"b\"}}", "{\"x\":[\"c\"]}", "{\"x\":[\"c\"]}");
    merge_case("{\"x\":{\"a\":\"foo\"}}", "{\"x\":null}", "{}");
    merge_case("{\"x\":{\"a\":\"foo\"}}", "{\"x\":\"bar\"}", "{\"x\":\"bar\"}");
    merge_case("{\"x\":[1,2]}", "{\"x\":{\"a\":\"b\",\"c\":null}}",
               "{\"x\":{\"a\":\"b\"}}");
}

static void test_merge_patch_rejects_non_object_patch(void **state)
{
    (void)state;
    json_t *t = J(MINIMAL), *p = J("[\"c\"]");
    record_error err;
    assert_int_equal(record_merge_patch(t, p, &err), SR_ERR_INVALID);
    json_decref(p);
    p = json_null();
    assert_int_equal(record_merge_patch(t, p, &err), SR_ERR_INVALID);
    json_t *m = J(MINIMAL);
    assert_true(json_equal(t, m));
    json_decref(t);
    json_decref(m);
}

static void test_merge_patch_does_not_share_nodes_with_patch(void **state)
{
    (void)state;
    json_t *t = J(MINIMAL), *p = J("{\"phones\":[\"5550100\"]}");
    record_error err;
    assert_int_equal(record_merge_patch(t, p, &err), SR_OK);
    assert_int_equal(
        json_array_append_new(json_object_get(p, "phones"), json_string("1")),
        0);
    assert_int_equal(json_array_size(json_object_get(t, "phones")), 1);
    json_decref(t);
    json_decref(p);
}

static void test_merge_patch_result_is_validated_by_caller(void **state)
{
    (void)state;
    json_t *t = J(MINIMAL), *p = J("{\"ssn\":null,\"sex\":\"M\"}");
    record_error err;
    assert_int_equal(record_merge_patch(t, p, &err), SR_OK);
    assert_int_equal(record_validate(t, today(), &err), SR_ERR_INVALID);
    assert_string_equal(err.path, "/ssn");
    json_decref(t);
    json_decref(p);
}

/* ---- named fields (record_fields_*) ------------------------------------- */

static void test_fields_parse_to_one_canonical_form(void **state)
{
    (void)state;
    record_fields f, g;
    char why[RECORD_FIELDS_REASON];
    static const char text[] = " birth.date , name,name.family,ssn";
    assert_true(record_fields_parse(text, strlen(text), &f, why));
    /* Schema order; the whole name stands for name.family. */
    assert_string_equal(f.canon, "ssn,name,birth.date");
    assert_int_equal(f.classes, SR_CLASS_BIT(SR_CLASS_IDENTITY) |
                                    SR_CLASS_BIT(SR_CLASS_NAME));
    assert_true(record_fields_parse(f.canon, strlen(f.canon), &g, why));
    assert_string_equal(g.canon, f.canon);
    assert_true(record_fields_parse("addresses", 9, &g, why));
    assert_int_equal(g.classes, SR_CLASS_BIT(SR_CLASS_CONTACT));
}

static void test_fields_refuse_what_is_not_a_field(void **state)
{
    (void)state;
    record_fields f;
    char why[RECORD_FIELDS_REASON];
    static const char *const bad[] = {"",
                                      "id",
                                      "name,",
                                      "nme",
                                      "name.nick",
                                      "ssn.digits",
                                      "addresses.city",
                                      "birth..date",
                                      "birth.date.",
                                      ",ssn"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_false(record_fields_parse(bad[i], strlen(bad[i]), &f, why));
        assert_true(why[0] != '\0');
    }
    /* The reason names the position, never the text given. */
    assert_false(record_fields_parse("ssn,123-45-6789", 15, &f, why));
    assert_non_null(strstr(why, "field 2"));
    assert_null(strstr(why, "6789"));
}

static void test_fields_pick_only_the_named_and_only_checks_them(void **state)
{
    (void)state;
    record_fields f;
    char why[RECORD_FIELDS_REASON];
    assert_true(record_fields_parse("name.family,birth.date", 22, &f, why));
    json_t *p = J("{\"id\":\"x\",\"ssn\":\"123-45-6789\","
                  "\"name\":{\"given\":\"Ann\",\"family\":\"Lee\"},"
                  "\"birth\":{\"date\":\"1980-01-02\",\"city\":\"Ely\"},"
                  "\"phones\":[\"5550100\"]}");
    json_t *got = record_fields_pick(&f, p);
    json_t *want = J("{\"name\":{\"family\":\"Lee\"},"
                     "\"birth\":{\"date\":\"1980-01-02\"}}");
    assert_true(json_equal(got, want));
    assert_true(record_fields_only(&f, got));
    assert_false(record_fields_only(&f, p));
    json_t *more = J("{\"name\":{\"family\":\"Lee\",\"given\":\"A\"}}");
    assert_false(record_fields_only(&f, more));
    json_t *other = J("{\"phones\":[]}");
    assert_false(record_fields_only(&f, other));
    json_t *flat = J("{\"name\":\"Lee\"}");
    assert_false(record_fields_only(&f, flat));
    /* A person without a named field simply lacks it. */
    json_t *thin = J("{\"ssn\":\"123-45-6789\"}");
    json_t *none = record_fields_pick(&f, thin);
    assert_int_equal(json_object_size(none), 0);
    assert_true(record_fields_only(&f, none));
    json_decref(p);
    json_decref(got);
    json_decref(want);
    json_decref(more);
    json_decref(other);
    json_decref(flat);
    json_decref(thin);
    json_decref(none);
}

int main(void)
{
    if (sr_init() != SR_OK)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepts_rich_person_using_every_member),
        cmocka_unit_test(test_accepts_minimal_person),
        cmocka_unit_test(test_rejects_non_object_person_at_root),
        cmocka_unit_test(test_rejects_missing_ssn_with_path),
        cmocka_unit_test(test_rejects_missing_birth_date_with_path),
        cmocka_unit_test(test_rejects_missing_family_name_with_path),
        cmocka_unit_test(test_rejects_missing_required_nested_in_array),
        cmocka_unit_test(test_rejects_unknown_top_level_member_naming_it),
        cmocka_unit_test(test_rejects_unknown_address_member_naming_it),
        cmocka_unit_test(test_unknown_member_name_is_pointer_escaped),
        cmocka_unit_test(test_allows_id_of_up_to_64_bytes),
        cmocka_unit_test(test_rejects_id_over_64_bytes),
        cmocka_unit_test(test_rejects_wrong_types_with_path),
        cmocka_unit_test(test_rejects_ssn_without_dashes_with_path),
        cmocka_unit_test(test_rejects_ssn_area_000_with_path),
        cmocka_unit_test(test_rejects_ssn_area_666_with_path),
        cmocka_unit_test(test_rejects_ssn_area_900_to_999_with_path),
        cmocka_unit_test(test_rejects_ssn_group_00_with_path),
        cmocka_unit_test(test_rejects_ssn_serial_0000_with_path),
        cmocka_unit_test(test_accepts_ssn_areas_next_to_forbidden_ones),
        cmocka_unit_test(test_rejects_empty_text_with_path),
        cmocka_unit_test(test_counts_text_length_in_code_points),
        cmocka_unit_test(test_rejects_control_characters_in_text),
        cmocka_unit_test(test_accepts_unicode_outside_c0_and_del_in_text),
        cmocka_unit_test(test_counts_suffix_length_in_code_points),
        cmocka_unit_test(test_allows_empty_suffix_and_postal_code),
        cmocka_unit_test(test_rejects_postal_code_over_16),
        cmocka_unit_test(test_rejects_notes_over_65536_code_points),
        cmocka_unit_test(test_rejects_details_over_4096_code_points),
        cmocka_unit_test(test_rejects_reference_phone_over_24),
        cmocka_unit_test(test_accepts_each_sex_value),
        cmocka_unit_test(test_rejects_unknown_enum_value_with_path),
        cmocka_unit_test(test_rejects_bad_country_codes_with_path),
        cmocka_unit_test(test_enforces_max_items_of_citizenship),
        cmocka_unit_test(test_enforces_max_items_of_fingerprints),
        cmocka_unit_test(test_accepts_empty_arrays),
        cmocka_unit_test(test_rejects_impossible_date_with_path),
        cmocka_unit_test(test_accepts_leap_day),
        cmocka_unit_test(test_rejects_future_date_with_path),
        cmocka_unit_test(test_accepts_date_of_today),
        cmocka_unit_test(test_rejects_address_to_before_from),
        cmocka_unit_test(test_accepts_address_to_equal_from),
        cmocka_unit_test(test_rejects_employment_end_before_start),
        cmocka_unit_test(test_rejects_former_employment_without_end),
        cmocka_unit_test(test_rejects_current_employment_with_end),
        cmocka_unit_test(test_rejects_investigation_closed_before_opened),
        cmocka_unit_test(test_accepts_phone_forms),
        cmocka_unit_test(test_rejects_bad_phones_with_path),
        cmocka_unit_test(test_accepts_email_with_unicode_and_controls),
        cmocka_unit_test(test_rejects_bad_emails_with_path),
        cmocka_unit_test(test_rejects_whitespace_in_email),
        cmocka_unit_test(test_rejects_email_over_254_code_points),
        cmocka_unit_test(test_accepts_and_rejects_case_numbers),
        cmocka_unit_test(test_accepts_fingers_1_to_10),
        cmocka_unit_test(test_rejects_finger_out_of_range_with_path),
        cmocka_unit_test(test_rejects_finger_that_is_not_a_json_integer),
        cmocka_unit_test(test_accepts_integer_and_real_amounts),
        cmocka_unit_test(test_rejects_amount_that_is_not_a_number),
        cmocka_unit_test(test_accepts_canonical_base64_templates),
        cmocka_unit_test(test_rejects_non_canonical_base64_templates),
        cmocka_unit_test(test_rejects_template_over_16384_characters),
        cmocka_unit_test(test_messages_never_contain_the_name),
        cmocka_unit_test(test_error_format_joins_path_and_reason),
        cmocka_unit_test(test_parse_accepts_valid_person),
        cmocka_unit_test(
            test_parse_reports_malformed_json_position_without_input),
        cmocka_unit_test(test_parse_rejects_duplicate_members),
        cmocka_unit_test(test_parse_rejects_text_over_the_bound),
        cmocka_unit_test(test_parse_validates_after_parsing),
        cmocka_unit_test(test_maps_members_to_classes),
        cmocka_unit_test(test_round_trips_rich_person_in_schema_order),
        cmocka_unit_test(test_round_trips_minimal_person_with_empty_classes),
        cmocka_unit_test(
            test_encoding_is_canonical_across_member_order_and_spelling),
        cmocka_unit_test(test_encoding_distinguishes_integer_and_real_amounts),
        cmocka_unit_test(test_encodes_documented_worked_example),
        cmocka_unit_test(test_encode_appends_and_leaves_buffer_intact_on_error),
        cmocka_unit_test(test_encode_rejects_unknown_member_and_bad_class),
        cmocka_unit_test(test_decode_then_encode_gives_same_bytes),
        cmocka_unit_test(test_decode_rejects_every_truncation),
        cmocka_unit_test(test_decode_rejects_trailing_bytes),
        cmocka_unit_test(test_decode_flipped_bits_fail_or_reencode_identically),
        cmocka_unit_test(test_decode_rejects_unknown_version),
        cmocka_unit_test(test_decode_rejects_version_byte_without_members),
        cmocka_unit_test(test_decode_accepts_empty_payload_as_empty_class),
        cmocka_unit_test(
            test_decode_rejects_empty_payload_of_class_with_required_member),
        cmocka_unit_test(test_decode_rejects_bad_tags),
        cmocka_unit_test(test_decode_rejects_overlong_varint),
        cmocka_unit_test(test_decode_rejects_invalid_enum_value),
        cmocka_unit_test(test_decode_rejects_invalid_utf8),
        cmocka_unit_test(test_decode_rejects_values_breaking_schema_rules),
        cmocka_unit_test(test_decode_leaves_person_untouched_on_error),
        cmocka_unit_test(test_identity_ssn_reads_the_ssn_without_decoding),
        cmocka_unit_test(test_employment_left_reads_the_day_without_decoding),
        cmocka_unit_test(test_merge_patch_rfc7386_appendix_a_objects),
        cmocka_unit_test(
            test_merge_patch_rfc7386_appendix_a_nested_non_objects),
        cmocka_unit_test(test_merge_patch_rejects_non_object_patch),
        cmocka_unit_test(test_merge_patch_does_not_share_nodes_with_patch),
        cmocka_unit_test(test_merge_patch_result_is_validated_by_caller),
        cmocka_unit_test(test_fields_parse_to_one_canonical_form),
        cmocka_unit_test(test_fields_refuse_what_is_not_a_field),
        cmocka_unit_test(test_fields_pick_only_the_named_and_only_checks_them),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
