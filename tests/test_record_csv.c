/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_record_csv.c - the blind-index normal forms (record_norm_ssn,
 * record_norm_name) and the CSV subset of docs/csv.md (header, rows,
 * quoting, error paths). The SSNs and names here are made up.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "record/record.h"
#include "strongroom/strongroom.h"

/* ---- helpers ---------------------------------------------------------- */

static void assert_norm(const char *in, const char *want)
{
    char out[128];
    if (!record_norm_name(in, out, sizeof out))
        fail_msg("record_norm_name failed for case expecting \"%s\"", want);
    assert_string_equal(out, want);
}

static void assert_norm_fails(const char *in)
{
    char out[128];
    assert_false(record_norm_name(in, out, sizeof out));
    assert_string_equal(out, "");
}

static record_csv_layout layout_of(const char *header)
{
    record_csv_layout l;
    record_error e;
    memset(&e, 0, sizeof e);
    sr_status st = record_csv_header_parse(header, strlen(header), &l, &e);
    if (st != SR_OK)
        fail_msg("header rejected: %s: %s", e.path, e.reason);
    return l;
}

/* Parse one row against header; expect status want and return the error. */
static record_error row_error(const char *header, const char *row,
                              sr_status want)
{
    record_csv_layout l = layout_of(header);
    record_error e;
    memset(&e, 0, sizeof e);
    json_t *p = NULL;
    assert_int_equal(record_csv_row(&l, row, strlen(row), &p, &e), want);
    assert_null(p);
    return e;
}

static json_t *row_ok(const char *header, const char *row)
{
    record_csv_layout l = layout_of(header);
    record_error e;
    memset(&e, 0, sizeof e);
    json_t *p = NULL;
    sr_status st = record_csv_row(&l, row, strlen(row), &p, &e);
    if (st != SR_OK)
        fail_msg("row rejected: %s: %s", e.path, e.reason);
    assert_non_null(p);
    return p;
}

static void assert_json(json_t *got, const char *want_text)
{
    json_error_t je;
    json_t *want = json_loads(want_text, 0, &je);
    assert_non_null(want);
    if (!json_equal(got, want)) {
        char *s = json_dumps(got, JSON_SORT_KEYS);
        fail_msg("got %s", s ? s : "(null)");
    }
    json_decref(want);
}

#define MIN_HEADER "ssn,given,family,birth_date"

/* ---- SSN ------------------------------------------------------------- */

static void test_norm_ssn_accepts_dashed_and_bare_forms(void **state)
{
    (void)state;
    char out[10];
    assert_true(record_norm_ssn("123-45-6789", out));
    assert_string_equal(out, "123456789");
    assert_true(record_norm_ssn("987654321", out));
    assert_string_equal(out, "987654321");
}

static void test_norm_ssn_rejects_other_forms(void **state)
{
    (void)state;
    static const char *const bad[] = {"",
                                      "12345678",
                                      "1234567890",
                                      "123-456-789",
                                      "12-345-6789",
                                      "123 45 6789",
                                      "123-45-678a",
                                      "123456789 ",
                                      " 123456789",
                                      "123--456789",
                                      "123-45-67890",
                                      "abcdefghi",
                                      "123-45_6789"};
    char out[10];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(record_norm_ssn(bad[i], out));
    assert_false(record_norm_ssn(NULL, out));
}

/* ---- names ------------------------------------------------------------ */

static void test_norm_name_folds_diacritics(void **state)
{
    (void)state;
    assert_norm("Núñez", "nunez");
    assert_norm("Čapek", "capek");
    assert_norm("Łódź", "lodz");
    assert_norm("Øresund", "oresund");
    assert_norm("Ðorđević", "dordevic");
    assert_norm("Škoda Žižek", "skodazizek");
    assert_norm("ÀÁÂÃÄÅ àáâãäå Çç", "aaaaaaaaaaaacc");
    assert_norm("Ÿ ÿ ı ſ", "yyis");
}

static void test_norm_name_folds_sharp_s_and_ligatures(void **state)
{
    (void)state;
    assert_norm("Straße", "strasse");
    assert_norm("STRAẞE", "strasse");
    assert_norm("Æsir", "aesir");
    assert_norm("Œuvre", "oeuvre");
    assert_norm("Þórsdóttir", "thorsdottir");
    assert_norm("Ĳssel", "ijssel");
}

static void test_norm_name_drops_apostrophes_hyphens_and_spaces(void **state)
{
    (void)state;
    assert_norm("O'Brien-Núñez", "obriennunez");
    assert_norm("O\xE2\x80\x99"
                "Brien",
                "obrien"); /* U+2019 */
    assert_norm("van der Berg", "vanderberg");
    assert_norm("St. John, Jr.", "stjohnjr");
    assert_norm("Smith\xC2\xA0Jones", "smithjones");     /* NBSP */
    assert_norm("Smith\xE2\x80\x94Jones", "smithjones"); /* em dash */
    assert_norm("Ka\xCA\xBB"
                "ahumanu",
                "kaahumanu"); /* okina */
    assert_norm("\t(Smith)\n", "smith");
}

static void test_norm_name_lowercases_ascii_and_keeps_digits(void **state)
{
    (void)state;
    assert_norm("McDONALD", "mcdonald");
    assert_norm("Henry 8th", "henry8th");
}

static void test_norm_name_folds_vietnamese_and_extended_b(void **state)
{
    (void)state;
    assert_norm("Nguyễn", "nguyen");
    assert_norm("Trương", "truong");
    assert_norm("Đặng", "dang");
    assert_norm("Əliyev", "eliyev");
    assert_norm("əliyev", "eliyev");
}

static void test_norm_name_folds_decomposed_marks_like_precomposed(void **state)
{
    (void)state;
    assert_norm("Nu\xCC\x81n\xCC\x83"
                "ez",
                "nunez");
}

static void test_norm_name_folds_fullwidth_latin(void **state)
{
    (void)state;
    assert_norm("\xEF\xBC\xB3\xEF\xBD\x8D\xEF\xBD\x89\xEF\xBD\x94\xEF\xBD"
                "\x88\xEF\xBC\x91",
                "smith1");
}

static void test_norm_name_keeps_other_scripts_lowercased(void **state)
{
    (void)state;
    assert_norm("ΠΑΠΑΔΟΠΟΥΛΟΣ", "παπαδοπουλοσ");
    assert_norm("Παπαδόπουλος", "παπαδόπουλοσ");
    assert_norm("ИВАНОВ", "иванов");
    assert_norm("Ёлкин", "ёлкин");
    assert_norm("Іванів-Їжак", "іванівїжак");
    assert_norm("王 小明", "王小明");
    assert_norm("ジョン・スミス", "ジョンスミス");
    assert_norm("כהן", "כהן");
}

static void test_norm_name_rejects_empty_result(void **state)
{
    (void)state;
    assert_norm_fails("");
    assert_norm_fails(" - ' . ");
    assert_norm_fails("\xE2\x80\x99\xC2\xA0");
    assert_norm_fails(NULL);
}

static void test_norm_name_rejects_invalid_utf8(void **state)
{
    (void)state;
    assert_norm_fails("Smith\xC3"); /* truncated */
    assert_norm_fails("\xC0\xAF"
                      "abc"); /* overlong */
    assert_norm_fails("\xE0\x80\xAF"
                      "abc");                /* overlong, 3 bytes */
    assert_norm_fails("ab\xED\xA0\x80");     /* surrogate */
    assert_norm_fails("ab\xF4\x90\x80\x80"); /* past U+10FFFF */
    assert_norm_fails("abc\xFF");
    assert_norm_fails("\x80"
                      "abc"); /* lone continuation */
    assert_norm_fails("N\xC3\xB1\xC3");
}

static void test_norm_name_rejects_result_too_long_for_cap(void **state)
{
    (void)state;
    char out[6];
    assert_true(record_norm_name("Smith", out, 6));
    assert_string_equal(out, "smith");
    assert_false(record_norm_name("Smiths", out, 6));
    assert_string_equal(out, "");
    /* ß grows to two bytes: "ss" and the NUL need three. */
    assert_false(record_norm_name("ß", out, 2));
    assert_true(record_norm_name("ß", out, 3));
    assert_string_equal(out, "ss");
    assert_false(record_norm_name("a", out, 0));
}

/* ---- CSV header --------------------------------------------------------- */

static void test_csv_header_is_accepted_by_its_own_parser(void **state)
{
    (void)state;
    record_csv_layout l = layout_of(record_csv_header());
    assert_int_equal(l.ncols, 22);
    for (unsigned i = 0; i < l.ncols; i++)
        assert_int_equal(l.col[i], (int)i);
}

static void test_csv_header_accepts_columns_in_any_order(void **state)
{
    (void)state;
    record_csv_layout l = layout_of("birth_date,family,sex,ssn,given");
    assert_int_equal(l.ncols, 5);
    assert_int_equal(l.col[0], 5);
    assert_int_equal(l.col[1], 3);
    assert_int_equal(l.col[2], 9);
    assert_int_equal(l.col[3], 0);
    assert_int_equal(l.col[4], 1);
}

static void test_csv_header_skips_bom_and_trailing_crlf(void **state)
{
    (void)state;
    record_csv_layout l = layout_of("\xEF\xBB\xBF" MIN_HEADER "\r\n");
    assert_int_equal(l.ncols, 4);
    l = layout_of(MIN_HEADER "\r");
    assert_int_equal(l.ncols, 4);
    l = layout_of("\"ssn\",given,\"family\",birth_date");
    assert_int_equal(l.ncols, 4);
}

static record_error header_error(const char *header)
{
    record_csv_layout l;
    record_error e;
    memset(&e, 0, sizeof e);
    assert_int_equal(record_csv_header_parse(header, strlen(header), &l, &e),
                     SR_ERR_INVALID);
    return e;
}

static void test_csv_header_rejects_unknown_column_naming_it(void **state)
{
    (void)state;
    record_error e = header_error(MIN_HEADER ",nickname");
    assert_string_equal(e.path, "/csv/nickname");
    assert_string_equal(e.reason, "unknown column at position 5");
    e = header_error("SSN,given,family,birth_date");
    assert_string_equal(e.path, "/csv");
    assert_string_equal(e.reason, "unknown column at position 1");
}

static void test_csv_header_does_not_echo_a_data_row(void **state)
{
    (void)state;
    /* A file without its header: line one is a person. */
    record_error e = header_error("123-45-6789,Zebulon,Quarrington,1980-01-02");
    assert_string_equal(e.path, "/csv");
    assert_null(strstr(e.reason, "123"));
    assert_null(strstr(e.reason, "Zebulon"));
}

static void test_csv_header_rejects_repeated_column(void **state)
{
    (void)state;
    record_error e = header_error("ssn,given,family,ssn,birth_date");
    assert_string_equal(e.path, "/csv/ssn");
    assert_string_equal(e.reason, "column repeated at positions 1 and 4");
}

static void test_csv_header_rejects_missing_required_column(void **state)
{
    (void)state;
    record_error e = header_error("ssn,given,family,sex");
    assert_string_equal(e.path, "/csv/birth_date");
    assert_string_equal(e.reason, "required column missing from the header");
    e = header_error("given,family,birth_date");
    assert_string_equal(e.path, "/csv/ssn");
}

static void test_csv_header_rejects_empty_and_malformed_lines(void **state)
{
    (void)state;
    record_error e = header_error("");
    assert_string_equal(e.path, "/csv");
    assert_string_equal(e.reason, "empty header line");
    e = header_error("\xEF\xBB\xBF\r\n");
    assert_string_equal(e.reason, "empty header line");
    e = header_error("ssn,\"given,family,birth_date");
    assert_string_equal(e.reason, "header column 2: unterminated quoted cell");
    e = header_error(MIN_HEADER ",");
    assert_string_equal(e.reason, "unknown column at position 5");
}

/* ---- CSV rows ------------------------------------------------------------ */

static void test_csv_row_builds_the_exchange_form(void **state)
{
    (void)state;
    const char *row =
        "123-45-6789,Zebulon,Q,Quarrington,Jr,1980-01-02,Springfield,IL,US,"
        "M,US;CA,1 Main St,Columbus,OH,43004,US,2019-05-01,DOE,Engineer,"
        "contractor,Acme Corp,2020-02-03";
    json_t *p = row_ok(record_csv_header(), row);
    assert_json(
        p, "{\"ssn\":\"123-45-6789\","
           " \"name\":{\"given\":\"Zebulon\",\"middle\":\"Q\","
           "          \"family\":\"Quarrington\",\"suffix\":\"Jr\"},"
           " \"birth\":{\"date\":\"1980-01-02\",\"city\":\"Springfield\","
           "           \"state\":\"IL\",\"country\":\"US\"},"
           " \"sex\":\"M\", \"citizenship\":[\"US\",\"CA\"],"
           " \"addresses\":[{\"street\":\"1 Main St\",\"city\":\"Columbus\","
           "   \"state\":\"OH\",\"postal_code\":\"43004\",\"country\":\"US\","
           "   \"from\":\"2019-05-01\"}],"
           " \"employment\":[{\"agency\":\"DOE\",\"position\":\"Engineer\","
           "   \"kind\":\"contractor\",\"employer\":\"Acme Corp\","
           "   \"status\":\"current\",\"start\":\"2020-02-03\"}]}");
    json_decref(p);
}

static void test_csv_row_empty_cells_are_absent_members(void **state)
{
    (void)state;
    json_t *p = row_ok(record_csv_header(),
                       "123-45-6789,Ann,,Lee,,1990-12-31,,,,,,,,,,,,,,,,");
    assert_json(p, "{\"ssn\":\"123-45-6789\","
                   " \"name\":{\"given\":\"Ann\",\"family\":\"Lee\"},"
                   " \"birth\":{\"date\":\"1990-12-31\"}}");
    json_decref(p);

    /* Nothing at all: no name, no birth - record_validate reports them. */
    p = row_ok(MIN_HEADER ",city", ",,,,");
    assert_json(p, "{}");
    json_decref(p);
}

static void test_csv_row_partial_groups_keep_only_present_members(void **state)
{
    (void)state;
    json_t *p = row_ok(MIN_HEADER ",city,agency",
                       "123-45-6789,Ann,Lee,1990-12-31,Dayton,NSA");
    assert_json(p, "{\"ssn\":\"123-45-6789\","
                   " \"name\":{\"given\":\"Ann\",\"family\":\"Lee\"},"
                   " \"birth\":{\"date\":\"1990-12-31\"},"
                   " \"addresses\":[{\"city\":\"Dayton\"}],"
                   " \"employment\":[{\"agency\":\"NSA\","
                   "                  \"status\":\"current\"}]}");
    json_decref(p);
}

static void test_csv_row_follows_the_header_order(void **state)
{
    (void)state;
    json_t *p =
        row_ok("birth_date,family,given,ssn", "1990-12-31,Lee,Ann,123-45-6789");
    assert_json(p, "{\"ssn\":\"123-45-6789\","
                   " \"name\":{\"given\":\"Ann\",\"family\":\"Lee\"},"
                   " \"birth\":{\"date\":\"1990-12-31\"}}");
    json_decref(p);
}

static void test_csv_row_quoted_cells_hold_commas_and_quotes(void **state)
{
    (void)state;
    json_t *p =
        row_ok(MIN_HEADER ",street", "\"123-45-6789\",\"Robert \"\"Bob\"\"\","
                                     "\"Smith, Jr.\",1970-01-01,\"\"");
    assert_json(p, "{\"ssn\":\"123-45-6789\","
                   " \"name\":{\"given\":\"Robert \\\"Bob\\\"\","
                   "          \"family\":\"Smith, Jr.\"},"
                   " \"birth\":{\"date\":\"1970-01-01\"}}");
    json_decref(p);
}

static void test_csv_row_strips_crlf(void **state)
{
    (void)state;
    json_t *p = row_ok(MIN_HEADER, "123-45-6789,Ann,Lee,1990-12-31\r\n");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(p, "birth"), "date")),
        "1990-12-31");
    json_decref(p);
    p = row_ok(MIN_HEADER, "123-45-6789,Ann,Lee,\"1990-12-31\"\r");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(p, "birth"), "date")),
        "1990-12-31");
    json_decref(p);
}

static void test_csv_row_splits_citizenship_list(void **state)
{
    (void)state;
    json_t *p = row_ok(MIN_HEADER ",citizenship",
                       "123-45-6789,Ann,Lee,1990-12-31,US;GB;IE");
    assert_json(json_object_get(p, "citizenship"), "[\"US\",\"GB\",\"IE\"]");
    json_decref(p);
    record_error e =
        row_error(MIN_HEADER ",citizenship",
                  "123-45-6789,Ann,Lee,1990-12-31,US;;IE", SR_ERR_INVALID);
    assert_string_equal(e.path, "/csv/citizenship");
    assert_string_equal(e.reason, "cell 5: item 2 of the ';' list is empty");
    e = row_error(MIN_HEADER ",citizenship",
                  "123-45-6789,Ann,Lee,1990-12-31,US;", SR_ERR_INVALID);
    assert_string_equal(e.reason, "cell 5: item 2 of the ';' list is empty");
}

static void test_csv_row_rejects_unterminated_quote(void **state)
{
    (void)state;
    record_error e = row_error(MIN_HEADER, "123-45-6789,\"Ann,Lee,1990-12-31",
                               SR_ERR_INVALID);
    assert_string_equal(e.path, "/csv/given");
    assert_string_equal(e.reason, "cell 2: unterminated quoted cell");
}

static void test_csv_row_rejects_stray_quotes(void **state)
{
    (void)state;
    record_error e = row_error(
        MIN_HEADER, "123-45-6789,Ann,\"Lee\"x,1990-12-31", SR_ERR_INVALID);
    assert_string_equal(e.path, "/csv/family");
    assert_string_equal(e.reason, "cell 3: text after the closing quote");
    e = row_error(MIN_HEADER, "123-45-6789,An\"n,Lee,1990-12-31",
                  SR_ERR_INVALID);
    assert_string_equal(e.path, "/csv/given");
    assert_string_equal(e.reason, "cell 2: quote inside an unquoted cell");
}

static void test_csv_row_rejects_embedded_line_breaks(void **state)
{
    (void)state;
    record_error e = row_error(
        MIN_HEADER, "123-45-6789,\"A\nn\",Lee,1990-12-31", SR_ERR_INVALID);
    assert_string_equal(e.reason, "cell 2: line break inside a quoted cell");
    e = row_error(MIN_HEADER, "123-45-6789,Ann\r,Lee,1990-12-31",
                  SR_ERR_INVALID);
    assert_string_equal(e.reason, "cell 2: line break inside the row");
}

static void test_csv_row_rejects_wrong_cell_count(void **state)
{
    (void)state;
    record_error e =
        row_error(MIN_HEADER, "123-45-6789,Ann,Lee", SR_ERR_INVALID);
    assert_string_equal(e.path, "/csv");
    assert_string_equal(e.reason, "row has 3 cells; the header has 4 columns");
    e = row_error(MIN_HEADER, "123-45-6789,Ann,Lee,1990-12-31,",
                  SR_ERR_INVALID);
    assert_string_equal(e.reason, "row has 5 cells; the header has 4 columns");
    e = row_error(MIN_HEADER, "1,2,3,4,5,\"6", SR_ERR_INVALID);
    assert_string_equal(e.reason,
                        "row has more than 4 cells; the header has 4 columns");
    e = row_error(MIN_HEADER, "\r\n", SR_ERR_INVALID);
    assert_string_equal(e.reason, "empty row");
}

static void test_csv_row_rejects_bad_bytes(void **state)
{
    (void)state;
    record_error e = row_error(MIN_HEADER, "123-45-6789,Ann,L\xC3,1990-12-31",
                               SR_ERR_INVALID);
    assert_string_equal(e.path, "/csv/family");
    assert_string_equal(e.reason, "cell 3 is not valid UTF-8");

    record_csv_layout l = layout_of(MIN_HEADER);
    static const char nul_row[] = "123-45-6789,A\0n,Lee,1990-12-31";
    json_t *p = NULL;
    assert_int_equal(record_csv_row(&l, nul_row, sizeof nul_row - 1, &p, &e),
                     SR_ERR_INVALID);
    assert_null(p);
    assert_string_equal(e.path, "/csv/given");
    assert_string_equal(e.reason, "cell 2 contains a NUL byte");
}

static void test_csv_row_bounds_cell_and_line_length(void **state)
{
    (void)state;
    static char row[70000];
    record_csv_layout l = layout_of(MIN_HEADER);
    record_error e;
    json_t *p = NULL;

    /* 4096 bytes fit in a cell, 4097 do not. */
    memset(row, 'a', sizeof row);
    memcpy(row, "1,", 2);
    memcpy(row + 2 + 4096, ",c,d", 4);
    assert_int_equal(record_csv_row(&l, row, 2 + 4096 + 4, &p, &e), SR_OK);
    json_decref(p);
    p = NULL;
    row[2 + 4096] = 'a';
    memcpy(row + 2 + 4097, ",c,d", 4);
    assert_int_equal(record_csv_row(&l, row, 2 + 4097 + 4, &p, &e),
                     SR_ERR_INVALID);
    assert_string_equal(e.path, "/csv/given");
    assert_string_equal(e.reason, "cell 2 longer than 4096 bytes");

    memset(row, ',', sizeof row);
    assert_int_equal(record_csv_row(&l, row, sizeof row, &p, &e),
                     SR_ERR_INVALID);
    assert_string_equal(e.reason, "row longer than 65536 bytes");
    assert_null(p);
}

/* Cell values are SSNs and names, and error messages go to logs. */
static void test_csv_errors_never_contain_cell_values(void **state)
{
    (void)state;
    static const char *const rows[] = {
        "123-45-6789,\"Zebulon,Quarrington,1980-01-02",
        "123-45-6789,\"Zebulon\"x,Quarrington,1980-01-02",
        "123-45-6789,Zeb\"ulon,Quarrington,1980-01-02",
        "123-45-6789,Zebulon,Quarrington",
        "123-45-6789,Zebulon,Quarrington,1980-01-02,Zebulon",
        "123-45-6789,Zebulon\xC3,Quarrington,1980-01-02",
        "123-45-6789,Zebulon,\"Quarrington\n\",1980-01-02",
    };
    char formatted[512];
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        record_error e = row_error(MIN_HEADER, rows[i], SR_ERR_INVALID);
        int w =
            snprintf(formatted, sizeof formatted, "%s %s", e.path, e.reason);
        assert_true(w > 0);
        assert_null(strstr(formatted, "123"));
        assert_null(strstr(formatted, "6789"));
        assert_null(strstr(formatted, "Zeb"));
        assert_null(strstr(formatted, "Quarr"));
        assert_null(strstr(formatted, "1980"));
    }
}

static void test_csv_row_rejects_a_forged_layout(void **state)
{
    (void)state;
    record_csv_layout l = {.ncols = 2, .col = {0, 99}};
    record_error e;
    json_t *p = NULL;
    assert_int_equal(record_csv_row(&l, "a,b", 3, &p, &e), SR_ERR_INVALID);
    l.col[1] = 0; /* repeated */
    assert_int_equal(record_csv_row(&l, "a,b", 3, &p, &e), SR_ERR_INVALID);
    l.ncols = RECORD_CSV_MAX_COLS + 1;
    assert_int_equal(record_csv_row(&l, "a,b", 3, &p, &e), SR_ERR_INVALID);
    assert_null(p);
}

static int setup(void **state)
{
    (void)state;
    return sr_init() == SR_OK ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_norm_ssn_accepts_dashed_and_bare_forms),
        cmocka_unit_test(test_norm_ssn_rejects_other_forms),
        cmocka_unit_test(test_norm_name_folds_diacritics),
        cmocka_unit_test(test_norm_name_folds_sharp_s_and_ligatures),
        cmocka_unit_test(test_norm_name_drops_apostrophes_hyphens_and_spaces),
        cmocka_unit_test(test_norm_name_lowercases_ascii_and_keeps_digits),
        cmocka_unit_test(test_norm_name_folds_vietnamese_and_extended_b),
        cmocka_unit_test(
            test_norm_name_folds_decomposed_marks_like_precomposed),
        cmocka_unit_test(test_norm_name_folds_fullwidth_latin),
        cmocka_unit_test(test_norm_name_keeps_other_scripts_lowercased),
        cmocka_unit_test(test_norm_name_rejects_empty_result),
        cmocka_unit_test(test_norm_name_rejects_invalid_utf8),
        cmocka_unit_test(test_norm_name_rejects_result_too_long_for_cap),
        cmocka_unit_test(test_csv_header_is_accepted_by_its_own_parser),
        cmocka_unit_test(test_csv_header_accepts_columns_in_any_order),
        cmocka_unit_test(test_csv_header_skips_bom_and_trailing_crlf),
        cmocka_unit_test(test_csv_header_rejects_unknown_column_naming_it),
        cmocka_unit_test(test_csv_header_does_not_echo_a_data_row),
        cmocka_unit_test(test_csv_header_rejects_repeated_column),
        cmocka_unit_test(test_csv_header_rejects_missing_required_column),
        cmocka_unit_test(test_csv_header_rejects_empty_and_malformed_lines),
        cmocka_unit_test(test_csv_row_builds_the_exchange_form),
        cmocka_unit_test(test_csv_row_empty_cells_are_absent_members),
        cmocka_unit_test(test_csv_row_partial_groups_keep_only_present_members),
        cmocka_unit_test(test_csv_row_follows_the_header_order),
        cmocka_unit_test(test_csv_row_quoted_cells_hold_commas_and_quotes),
        cmocka_unit_test(test_csv_row_strips_crlf),
        cmocka_unit_test(test_csv_row_splits_citizenship_list),
        cmocka_unit_test(test_csv_row_rejects_unterminated_quote),
        cmocka_unit_test(test_csv_row_rejects_stray_quotes),
        cmocka_unit_test(test_csv_row_rejects_embedded_line_breaks),
        cmocka_unit_test(test_csv_row_rejects_wrong_cell_count),
        cmocka_unit_test(test_csv_row_rejects_bad_bytes),
        cmocka_unit_test(test_csv_row_bounds_cell_and_line_length),
        cmocka_unit_test(test_csv_errors_never_contain_cell_values),
        cmocka_unit_test(test_csv_row_rejects_a_forged_layout),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
