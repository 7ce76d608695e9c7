/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_gen.c - the synthetic population generator (src/gen/gen.c) as a
 * specification: people are a pure function of (seed, index), SSNs are
 * valid and distinct, every person passes the record module's validation
 * of the exchange form, CSV rows follow the CSV subset, JSON strings are
 * escaped correctly and memory stays constant.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "gen/gen_int.h"
#include "record/record.h"
#include "strongroom/strongroom.h"
#include "util/util.h"

static int32_t reference_day(void)
{
    return date_days_from_civil(2026, 1, 1);
}

static int setup(void **state)
{
    (void)state;
    return sr_init() == SR_OK ? 0 : -1;
}

/* A copy of person index of g as a NUL-terminated string. */
static char *person(sr_gen *g, uint64_t index, size_t *len_out)
{
    const char *line = NULL;
    size_t len = 0;
    assert_int_equal(sr_gen_person_json(g, index, &line, &len), SR_OK);
    assert_non_null(line);
    assert_int_equal(strlen(line), len);
    char *copy = malloc(len + 1);
    assert_non_null(copy);
    memcpy(copy, line, len + 1);
    if (len_out != NULL)
        *len_out = len;
    return copy;
}

static json_t *load(const char *line)
{
    json_error_t e;
    json_t *j = json_loads(line, JSON_REJECT_DUPLICATES, &e);
    if (j == NULL)
        fail_msg("not JSON (%s at column %d): %s", e.text, e.column, line);
    assert_true(json_is_object(j));
    return j;
}

static void same_seed_and_index_give_the_same_bytes(void **state)
{
    (void)state;
    sr_gen *a, *b;
    assert_int_equal(sr_gen_new(&a, 42), SR_OK);
    assert_int_equal(sr_gen_new(&b, 42), SR_OK);
    for (uint64_t i = 0; i < 500; i++) {
        char *x = person(a, i, NULL);
        /* b visits the same people out of order: no state carries over */
        uint64_t j = 499 - i;
        char *y = person(b, j, NULL);
        char *x2 = person(a, j, NULL);
        assert_string_equal(x2, y);
        char *y2 = person(b, i, NULL);
        assert_string_equal(x, y2);
        free(x);
        free(y);
        free(x2);
        free(y2);
    }
    sr_gen_free(a);
    sr_gen_free(b);
}

static void any_slice_can_be_produced_alone(void **state)
{
    (void)state;
    sr_gen *a, *b;
    assert_int_equal(sr_gen_new(&a, 7), SR_OK);
    assert_int_equal(sr_gen_new(&b, 7), SR_OK);
    for (uint64_t i = 0; i < 1200; i++) {
        char *x = person(a, i, NULL);
        if (i >= 1000) {
            char *y = person(b, i, NULL);
            assert_string_equal(x, y);
            free(y);
        }
        free(x);
    }
    /* far indexes too */
    char *x = person(a, 21999999, NULL);
    char *y = person(b, 21999999, NULL);
    assert_string_equal(x, y);
    free(x);
    free(y);
    sr_gen_free(a);
    sr_gen_free(b);
}

static void different_seeds_give_different_people(void **state)
{
    (void)state;
    sr_gen *a, *b;
    assert_int_equal(sr_gen_new(&a, 1), SR_OK);
    assert_int_equal(sr_gen_new(&b, 2), SR_OK);
    unsigned same_ssn = 0;
    for (uint64_t i = 0; i < 200; i++) {
        char *x = person(a, i, NULL);
        char *y = person(b, i, NULL);
        assert_string_not_equal(x, y);
        same_ssn += memcmp(x, y, 20) == 0; /* {"ssn":"123-45-6789" */
        free(x);
        free(y);
    }
    assert_true(same_ssn <= 1);
    sr_gen_free(a);
    sr_gen_free(b);
}

static bool ssn_ok(const char *s)
{
    if (strlen(s) != 11 || s[3] != '-' || s[6] != '-')
        return false;
    for (int i = 0; i < 11; i++)
        if (i != 3 && i != 6 && (s[i] < '0' || s[i] > '9'))
            return false;
    int area = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
    int group = (s[4] - '0') * 10 + (s[5] - '0');
    int serial = (s[7] - '0') * 1000 + (s[8] - '0') * 100 + (s[9] - '0') * 10 +
                 (s[10] - '0');
    return area >= 1 && area <= 899 && area != 666 && group >= 1 && serial >= 1;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static void ssns_of_20000_people_are_valid_and_distinct(void **state)
{
    (void)state;
    enum { N = 20000 };
    sr_gen *g;
    assert_int_equal(sr_gen_new(&g, 2026), SR_OK);
    uint32_t *v = malloc(N * sizeof *v);
    assert_non_null(v);
    for (uint64_t i = 0; i < N; i++) {
        /* a block at the start and one near the end of the SSN space */
        uint64_t index = i < N / 2 ? i : 888931098u - N + i;
        char *x = person(g, index, NULL);
        json_t *j = load(x);
        const char *ssn = json_string_value(json_object_get(j, "ssn"));
        assert_non_null(ssn);
        if (!ssn_ok(ssn))
            fail_msg("invalid SSN %s at index %llu", ssn,
                     (unsigned long long)index);
        char digits[10];
        assert_true(record_norm_ssn(ssn, digits));
        v[i] = (uint32_t)strtoul(digits, NULL, 10);
        json_decref(j);
        free(x);
    }
    qsort(v, N, sizeof *v, cmp_u32);
    for (size_t i = 1; i < N; i++)
        assert_true(v[i - 1] != v[i]);
    free(v);
    sr_gen_free(g);
}

static void every_person_passes_record_validation(void **state)
{
    (void)state;
    sr_gen *g;
    assert_int_equal(sr_gen_new(&g, 99), SR_OK);
    for (uint64_t i = 0; i < 5000; i++) {
        const char *line;
        size_t len;
        assert_int_equal(sr_gen_person_json(g, i, &line, &len), SR_OK);
        json_t *p = NULL;
        record_error err;
        sr_status st = record_parse(line, len, reference_day(), &p, &err);
        if (st != SR_OK) {
            char msg[400];
            record_error_format(&err, msg, sizeof msg);
            fail_msg("person %llu: %s\n%s", (unsigned long long)i, msg, line);
        }
        json_decref(p);
    }
    sr_gen_free(g);
}

/* The schema's order of the top-level members. */
static const char *const member_order[] = {
    "id",          "ssn",    "name",        "former_names",
    "birth",       "sex",    "citizenship", "addresses",
    "phones",      "emails", "employment",  "investigations",
    "fingerprints"};

static int member_rank(const char *key)
{
    for (int i = 0; i < (int)(sizeof member_order / sizeof *member_order); i++)
        if (strcmp(member_order[i], key) == 0)
            return i;
    return -1;
}

static void members_come_in_schema_order_without_spaces(void **state)
{
    (void)state;
    sr_gen *g;
    assert_int_equal(sr_gen_new(&g, 5), SR_OK);
    for (uint64_t i = 0; i < 500; i++) {
        char *x = person(g, i, NULL);
        json_error_t e;
        json_t *j = json_loads(x, JSON_PRESERVE_ORDER, &e);
        assert_non_null(j);
        int last = -1;
        for (void *it = json_object_iter(j); it != NULL;
             it = json_object_iter_next(j, it)) {
            int r = member_rank(json_object_iter_key(it));
            assert_true(r > last);
            last = r;
        }
        /* compact: re-dumping compactly in order gives the same bytes
         * (json_dumpb: sr_init gave jansson an allocator of its own) */
        size_t flags =
            JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(8);
        size_t n = json_dumpb(j, NULL, 0, flags);
        char *again = malloc(n + 1);
        assert_non_null(again);
        assert_int_equal(json_dumpb(j, again, n, flags), n);
        again[n] = 0;
        assert_string_equal(again, x);
        free(again);
        json_decref(j);
        free(x);
    }
    sr_gen_free(g);
}

static void
fingerprints_are_distinct_fingers_with_base64_templates(void **state)
{
    (void)state;
    sr_gen *g;
    assert_int_equal(sr_gen_new(&g, 11), SR_OK);
    unsigned people_with = 0, with_investigation = 0;
    for (uint64_t i = 0; i < 2000; i++) {
        char *x = person(g, i, NULL);
        json_t *j = load(x);
        json_t *fp = json_object_get(j, "fingerprints");
        bool inv = json_object_get(j, "investigations") != NULL;
        with_investigation += inv;
        if (fp != NULL) {
            people_with++;
            assert_true(inv);
            assert_in_range(json_array_size(fp), 2, 10);
            unsigned seen = 0;
            size_t k;
            json_t *f;
            json_array_foreach(fp, k, f) {
                json_int_t finger =
                    json_integer_value(json_object_get(f, "finger"));
                assert_in_range(finger, 1, 10);
                assert_false(seen & (1u << finger));
                seen |= 1u << finger;
                const char *t =
                    json_string_value(json_object_get(f, "template"));
                assert_non_null(t);
                uint8_t bin[600];
                size_t n = 0;
                assert_int_equal(
                    sodium_base642bin(bin, sizeof bin, t, strlen(t), NULL, &n,
                                      NULL, sodium_base64_VARIANT_ORIGINAL),
                    0);
                assert_in_range(n, 200, 500);
                assert_memory_equal(bin, "FMR\0", 4);
            }
        }
        json_decref(j);
        free(x);
    }
    /* about 60% are investigated, most of them fingerprinted */
    assert_in_range(with_investigation, 1000, 1400);
    assert_true(people_with > with_investigation / 2);
    sr_gen_free(g);
}

static void the_average_person_is_about_two_kilobytes(void **state)
{
    (void)state;
    sr_gen *g;
    assert_int_equal(sr_gen_new(&g, 1), SR_OK);
    size_t total = 0;
    for (uint64_t i = 0; i < 10000; i++) {
        const char *line;
        size_t len;
        assert_int_equal(sr_gen_person_json(g, i, &line, &len), SR_OK);
        total += len;
    }
    assert_in_range(total / 10000, 1500, 3000);
    sr_gen_free(g);
}

static void csv_rows_follow_the_header_and_validate(void **state)
{
    (void)state;
    assert_string_equal(sr_gen_csv_header(), record_csv_header());
    record_csv_layout layout;
    record_error err;
    const char *h = sr_gen_csv_header();
    assert_int_equal(record_csv_header_parse(h, strlen(h), &layout, &err),
                     SR_OK);
    sr_gen *g;
    assert_int_equal(sr_gen_new(&g, 3), SR_OK);
    unsigned quoted = 0;
    for (uint64_t i = 0; i < 3000; i++) {
        char *js = person(g, i, NULL);
        json_t *full = load(js);
        const char *line;
        size_t len;
        assert_int_equal(sr_gen_person_csv(g, i, &line, &len), SR_OK);
        assert_int_equal(strlen(line), len);
        assert_null(memchr(line, '\n', len));
        quoted += memchr(line, '"', len) != NULL;
        json_t *p = NULL;
        sr_status st = record_csv_row(&layout, line, len, &p, &err);
        if (st == SR_OK)
            st = record_validate(p, reference_day(), &err);
        if (st != SR_OK) {
            char msg[400];
            record_error_format(&err, msg, sizeof msg);
            fail_msg("row %llu: %s\n%s", (unsigned long long)i, msg, line);
        }
        /* the row is the same person as the JSON line */
        assert_true(json_equal(json_object_get(p, "ssn"),
                               json_object_get(full, "ssn")));
        assert_true(json_equal(json_object_get(p, "name"),
                               json_object_get(full, "name")));
        assert_true(json_equal(json_object_get(p, "birth"),
                               json_object_get(full, "birth")));
        json_t *addrs = json_object_get(full, "addresses");
        assert_true(
            json_equal(json_array_get(json_object_get(p, "addresses"), 0),
                       json_array_get(addrs, json_array_size(addrs) - 1)));
        json_decref(p);
        json_decref(full);
        free(js);
    }
    assert_true(quoted > 0); /* commas in employer names were quoted */
    sr_gen_free(g);
}

static void json_strings_escape_quotes_backslashes_and_controls(void **state)
{
    (void)state;
    static const char in[] = "a\"b\\c/d\n\r\t\b\f\x01\x1f\x7f \xc3\xa9nd";
    sr_buf b;
    buf_init(&b, 1024);
    assert_int_equal(gen_json_string(&b, in, sizeof in - 1), SR_OK);
    assert_int_equal(buf_append_byte(&b, 0), SR_OK);
    assert_string_equal((const char *)b.p,
                        "\"a\\\"b\\\\c/d\\n\\r\\t\\b\\f\\u0001\\u001f\x7f "
                        "\xc3\xa9nd\"");
    json_error_t e;
    json_t *j = json_loads((const char *)b.p, JSON_DECODE_ANY, &e);
    assert_non_null(j);
    assert_int_equal(json_string_length(j), sizeof in - 1);
    assert_memory_equal(json_string_value(j), in, sizeof in - 1);
    json_decref(j);
    /* the cap is respected and reported */
    buf_reset(&b);
    sr_buf small;
    buf_init(&small, 4);
    assert_int_not_equal(gen_json_string(&small, "abcdef", 6), SR_OK);
    buf_free(&small);
    buf_free(&b);
}

static void generating_100000_people_keeps_one_bounded_buffer(void **state)
{
    (void)state;
    sr_gen *g;
    assert_int_equal(sr_gen_new(&g, 8), SR_OK);
    size_t longest = 0;
    for (uint64_t i = 0; i < 100000; i++) {
        const char *line;
        size_t len;
        assert_int_equal(sr_gen_person_json(g, i, &line, &len), SR_OK);
        if (len > longest)
            longest = len;
    }
    assert_true(gen_buffer_capacity(g) <= 64 * 1024);
    assert_true(gen_buffer_capacity(g) > longest);
    sr_gen_free(g);
}

static void bad_arguments_are_rejected(void **state)
{
    (void)state;
    sr_gen *g;
    const char *line;
    size_t len;
    assert_int_equal(sr_gen_new(NULL, 1), SR_ERR_INVALID);
    assert_int_equal(sr_gen_new(&g, 1), SR_OK);
    assert_int_equal(sr_gen_person_json(NULL, 0, &line, &len), SR_ERR_INVALID);
    assert_int_equal(sr_gen_person_json(g, 0, NULL, &len), SR_ERR_INVALID);
    assert_int_equal(sr_gen_person_csv(g, 0, &line, NULL), SR_ERR_INVALID);
    sr_gen_free(g);
    sr_gen_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(same_seed_and_index_give_the_same_bytes),
        cmocka_unit_test(any_slice_can_be_produced_alone),
        cmocka_unit_test(different_seeds_give_different_people),
        cmocka_unit_test(ssns_of_20000_people_are_valid_and_distinct),
        cmocka_unit_test(every_person_passes_record_validation),
        cmocka_unit_test(members_come_in_schema_order_without_spaces),
        cmocka_unit_test(
            fingerprints_are_distinct_fingers_with_base64_templates),
        cmocka_unit_test(the_average_person_is_about_two_kilobytes),
        cmocka_unit_test(csv_rows_follow_the_header_and_validate),
        cmocka_unit_test(json_strings_escape_quotes_backslashes_and_controls),
        cmocka_unit_test(generating_100000_people_keeps_one_bounded_buffer),
        cmocka_unit_test(bad_arguments_are_rejected),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
