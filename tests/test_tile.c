/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_tile.c - the audit log's C2SP tlog-tiles arithmetic (src/audit/
 * tile.c): tile and entry-bundle paths, the widths of the tiles of a tree,
 * and the entry-bundle encoding.
 *
 * The examples are the spec's own (https://c2sp.org/tlog-tiles): index
 * 1234067 is x001/x234/067; a tree of 70,000 entries has 273 full level-0
 * tiles, a partial one of width 112, one full level-1 tile, a partial one
 * of width 17 and a level-2 tile of width 1; a tree of 256 has a full
 * level-0 tile and a level-1 tile of width 1. Paths arrive from clients,
 * so every non-canonical spelling is checked to be refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "audit/tile.h"
#include "strongroom/strongroom.h"
#include "util/util.h"

/* ---- paths --------------------------------------------------------------- */

static void expect_path(int level, uint64_t n, unsigned width, const char *want)
{
    char out[TILE_PATH_MAX];
    assert_int_equal(tile_path(out, sizeof out, level, n, width), SR_OK);
    assert_string_equal(out, want);
}

static void tile_path_writes_the_spec_examples(void **state)
{
    (void)state;
    expect_path(0, 1234067, TILE_WIDTH, "tile/0/x001/x234/067");
    expect_path(TILE_LEVEL_ENTRIES, 1234067, TILE_WIDTH,
                "tile/entries/x001/x234/067");
    expect_path(0, 0, TILE_WIDTH, "tile/0/000");
    expect_path(0, 273, 112, "tile/0/273.p/112");
    expect_path(TILE_LEVEL_ENTRIES, 273, 112, "tile/entries/273.p/112");
    expect_path(1, 1, 17, "tile/1/001.p/17");
    expect_path(2, 0, 1, "tile/2/000.p/1");
    expect_path(1, 999, TILE_WIDTH, "tile/1/999");
    expect_path(1, 1000, TILE_WIDTH, "tile/1/x001/000");
    expect_path(3, 1000000, 255, "tile/3/x001/x000/000.p/255");
    expect_path(63, UINT64_MAX, 9,
                "tile/63/x018/x446/x744/x073/x709/x551/615.p/9");
}

static void tile_path_rejects_bad_level_width_or_short_buffer(void **state)
{
    (void)state;
    char out[TILE_PATH_MAX];
    memset(out, '#', sizeof out);
    assert_int_equal(tile_path(out, sizeof out, -2, 0, TILE_WIDTH),
                     SR_ERR_INVALID);
    assert_int_equal(tile_path(out, sizeof out, 64, 0, TILE_WIDTH),
                     SR_ERR_INVALID);
    assert_int_equal(tile_path(out, sizeof out, 0, 0, 0), SR_ERR_INVALID);
    assert_int_equal(tile_path(out, sizeof out, 0, 0, TILE_WIDTH + 1),
                     SR_ERR_INVALID);
    assert_int_equal(tile_path(NULL, sizeof out, 0, 0, TILE_WIDTH),
                     SR_ERR_INVALID);
    /* "tile/0/x001/x234/067" is 20 bytes: it needs 21 with the NUL. */
    assert_int_equal(tile_path(out, 20, 0, 1234067, TILE_WIDTH),
                     SR_ERR_INVALID);
    assert_int_equal(tile_path(out, 0, 0, 1234067, TILE_WIDTH), SR_ERR_INVALID);
    for (size_t i = 0; i < sizeof out; i++)
        assert_int_equal(out[i], '#');
    assert_int_equal(tile_path(out, 21, 0, 1234067, TILE_WIDTH), SR_OK);
    assert_string_equal(out, "tile/0/x001/x234/067");
}

static void tile_path_max_holds_the_longest_path(void **state)
{
    (void)state;
    char out[TILE_PATH_MAX];
    assert_int_equal(
        tile_path(out, sizeof out, TILE_LEVEL_ENTRIES, UINT64_MAX, 255), SR_OK);
    assert_int_equal(strlen(out), 52);
    assert_true(strlen(out) < TILE_PATH_MAX);
}

static void tile_path_parse_round_trips_many_tiles(void **state)
{
    (void)state;
    uint64_t ns[200];
    size_t k = 0;
    /* Around every group boundary and every power of two. */
    for (uint64_t p = 1; p <= UINT64_MAX / 10; p *= 10) {
        ns[k++] = p - 1;
        ns[k++] = p;
        ns[k++] = p + 1;
    }
    for (unsigned b = 0; b < 64; b++)
        ns[k++] = (uint64_t)1 << b;
    ns[k++] = UINT64_MAX;
    ns[k++] = UINT64_MAX - 1;
    ns[k++] = 1234067;
    assert_true(k <= sizeof ns / sizeof ns[0]);

    const unsigned widths[] = {1, 2, 9, 10, 99, 100, 255, TILE_WIDTH};
    for (int level = TILE_LEVEL_ENTRIES; level <= TILE_LEVEL_MAX; level++) {
        for (size_t i = 0; i < k; i++) {
            for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++) {
                char out[TILE_PATH_MAX];
                int l2;
                uint64_t n2;
                unsigned w2;
                assert_int_equal(
                    tile_path(out, sizeof out, level, ns[i], widths[w]), SR_OK);
                assert_int_equal(
                    tile_path_parse(out, strlen(out), &l2, &n2, &w2), SR_OK);
                assert_int_equal(l2, level);
                assert_int_equal(n2, ns[i]);
                assert_int_equal(w2, widths[w]);
            }
        }
    }
    /* And every index below 3000 at one level. */
    for (uint64_t n = 0; n < 3000; n++) {
        char out[TILE_PATH_MAX];
        int l2;
        uint64_t n2;
        unsigned w2;
        assert_int_equal(tile_path(out, sizeof out, 0, n, TILE_WIDTH), SR_OK);
        assert_int_equal(tile_path_parse(out, strlen(out), &l2, &n2, &w2),
                         SR_OK);
        assert_int_equal(n2, n);
    }
}

static void tile_path_parse_accepts_exactly_the_spec_grammar(void **state)
{
    (void)state;
    int l;
    uint64_t n;
    unsigned w;
    assert_int_equal(tile_path_parse("tile/0/x001/x234/067", 20, &l, &n, &w),
                     SR_OK);
    assert_int_equal(l, 0);
    assert_int_equal(n, 1234067);
    assert_int_equal(w, TILE_WIDTH);
    assert_int_equal(
        tile_path_parse("tile/entries/x001/000.p/255", 27, &l, &n, &w), SR_OK);
    assert_int_equal(l, TILE_LEVEL_ENTRIES);
    assert_int_equal(n, 1000);
    assert_int_equal(w, 255);
    assert_int_equal(tile_path_parse("tile/63/000.p/1", 15, &l, &n, &w), SR_OK);
    assert_int_equal(l, 63);
    assert_int_equal(n, 0);
    assert_int_equal(w, 1);
    /* The length given is the path: no NUL needed, none looked for. */
    assert_int_equal(tile_path_parse("tile/1/005XYZ", 10, &l, &n, &w), SR_OK);
    assert_int_equal(l, 1);
    assert_int_equal(n, 5);
}

static void tile_path_parse_rejects_every_other_spelling(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "tile",
        "tile/",
        "tile/0",
        "tile/0/",
        "tile/0/67",       /* groups have three digits */
        "tile/0/0067",     /* ... exactly */
        "tile/0/x000/067", /* a leading zero group */
        "tile/0/x000/x001/067",
        "tile/00/000", /* leading zero in the level */
        "tile/01/000",
        "tile/64/000", /* levels are 0..63 */
        "tile/100/000",
        "tile/-1/000", /* entries are "entries", not -1 */
        "tile/+1/000",
        "tile/ 1/000",
        "tile//000",
        "tile/0/001/234", /* every group but the last has an x */
        "tile/0/x001",    /* ... and the last has none */
        "tile/0/x001/x234",
        "tile/0/X001/234",
        "tile/0/x001//234",
        "tile/0/x01/234",
        "tile/0/1a3",
        "tile/0/+12",
        "tile/0/-12",
        "tile/0/000.p/0", /* widths are 1..255 */
        "tile/0/000.p/256",
        "tile/0/000.p/1000",
        "tile/0/000.p/010", /* no leading zeros */
        "tile/0/000.p/00",
        "tile/0/000.p/",
        "tile/0/000.p",
        "tile/0/000.P/5",
        "tile/0/000.p/5/",
        "tile/0/000.p/+5",
        "tile/0/000/",
        "tile/0/000 ",
        "/tile/0/000",
        "TILE/0/000",
        "tile/0/../000",
        "tile/entry/000",
        "tile/entries/",
        "tile/entries/000.p/",
        "tile/entries000",
        "tile/0/x018/x446/x744/x073/x709/x551/616", /* 2^64 */
        "tile/0/x099/x999/x999/x999/x999/x999/999",
        "tile/0/x001/x000/x000/x000/x000/x000/x000/000", /* 10^21 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int l = 99;
        uint64_t n = 99;
        unsigned w = 99;
        if (tile_path_parse(bad[i], strlen(bad[i]), &l, &n, &w) !=
            SR_ERR_INVALID)
            fail_msg("accepted \"%s\"", bad[i]);
        /* The outputs are only written on success. */
        assert_int_equal(l, 99);
        assert_int_equal(n, 99);
        assert_int_equal(w, 99);
    }
    /* A NUL inside the given length is not part of any path. */
    int l;
    uint64_t n;
    unsigned w;
    assert_int_equal(tile_path_parse("tile/0/000\0", 11, &l, &n, &w),
                     SR_ERR_INVALID);
    assert_int_equal(tile_path_parse("tile/0\0/000", 11, &l, &n, &w),
                     SR_ERR_INVALID);
    assert_int_equal(tile_path_parse(NULL, 0, &l, &n, &w), SR_ERR_INVALID);
}

/* ---- widths -------------------------------------------------------------- */

static void tile_width_matches_the_spec_examples(void **state)
{
    (void)state;
    /* 70,000 entries: 273 full level-0 tiles, then one of width 112. */
    assert_int_equal(tile_width(0, 0, 70000), TILE_WIDTH);
    assert_int_equal(tile_width(0, 272, 70000), TILE_WIDTH);
    assert_int_equal(tile_width(0, 273, 70000), 112);
    assert_int_equal(tile_width(0, 274, 70000), 0);
    assert_int_equal(tile_width(TILE_LEVEL_ENTRIES, 272, 70000), TILE_WIDTH);
    assert_int_equal(tile_width(TILE_LEVEL_ENTRIES, 273, 70000), 112);
    assert_int_equal(tile_width(TILE_LEVEL_ENTRIES, 274, 70000), 0);
    /* One full level-1 tile, one of width 17; one level-2 tile of 1. */
    assert_int_equal(tile_width(1, 0, 70000), TILE_WIDTH);
    assert_int_equal(tile_width(1, 1, 70000), 17);
    assert_int_equal(tile_width(1, 2, 70000), 0);
    assert_int_equal(tile_width(2, 0, 70000), 1);
    assert_int_equal(tile_width(2, 1, 70000), 0);
    assert_int_equal(tile_width(3, 0, 70000), 0);
    /* 256 entries: a full level-0 tile and a level-1 tile of width 1. */
    assert_int_equal(tile_width(0, 0, 256), TILE_WIDTH);
    assert_int_equal(tile_width(0, 1, 256), 0);
    assert_int_equal(tile_width(1, 0, 256), 1);
    assert_int_equal(tile_width(2, 0, 256), 0);
}

static void tile_width_of_empty_tiny_and_huge_trees(void **state)
{
    (void)state;
    for (int level = TILE_LEVEL_ENTRIES; level <= TILE_LEVEL_MAX; level++)
        assert_int_equal(tile_width(level, 0, 0), 0);
    assert_int_equal(tile_width(0, 0, 1), 1);
    assert_int_equal(tile_width(TILE_LEVEL_ENTRIES, 0, 255), 255);
    assert_int_equal(tile_width(1, 0, 255), 0);
    /* 2^64 - 1: level 7 holds 255 nodes of height 56; nothing above. */
    assert_int_equal(tile_width(0, (UINT64_MAX >> 8) - 1, UINT64_MAX),
                     TILE_WIDTH);
    assert_int_equal(tile_width(0, UINT64_MAX >> 8, UINT64_MAX), 255);
    assert_int_equal(tile_width(7, 0, UINT64_MAX), 255);
    assert_int_equal(tile_width(8, 0, UINT64_MAX), 0);
    assert_int_equal(tile_width(63, 0, UINT64_MAX), 0);
    assert_int_equal(tile_width(0, UINT64_MAX, UINT64_MAX), 0);
    /* Levels outside the spec have no tiles. */
    assert_int_equal(tile_width(-2, 0, 70000), 0);
    assert_int_equal(tile_width(64, 0, 70000), 0);
}

static void tile_width_sums_to_the_level_count(void **state)
{
    (void)state;
    /* For any size, the widths of a level's tiles add up to the number of
     * nodes at that level, and only the last tile may be partial. */
    const uint64_t sizes[] = {1,     255,   256,   257,           65535,
                              65536, 65537, 70000, 16777216 + 300};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        for (unsigned level = 0; level < 4; level++) {
            uint64_t sum = 0, n = 0;
            unsigned w;
            while ((w = tile_width((int)level, n, sizes[s])) != 0) {
                assert_true(w == TILE_WIDTH ||
                            tile_width((int)level, n + 1, sizes[s]) == 0);
                sum += w;
                n++;
            }
            assert_int_equal(sum, tile_level_count(level, sizes[s]));
        }
    }
}

static void tile_level_count_shifts_by_8_bits_a_level(void **state)
{
    (void)state;
    assert_int_equal(tile_level_count(0, 70000), 70000);
    assert_int_equal(tile_level_count(1, 70000), 273);
    assert_int_equal(tile_level_count(2, 70000), 1);
    assert_int_equal(tile_level_count(3, 70000), 0);
    assert_int_equal(tile_level_count(7, UINT64_MAX), 255);
    assert_int_equal(tile_level_count(8, UINT64_MAX), 0);
    assert_int_equal(tile_level_count(63, UINT64_MAX), 0);
    assert_int_equal(tile_level_count(1000, UINT64_MAX), 0);
}

/* ---- entry bundles ------------------------------------------------------- */

typedef struct seen {
    uint64_t calls;
    uint8_t *entries[8];
    size_t lens[8];
    uint64_t fail_at; /* UINT64_MAX: never */
} seen;

static sr_status collect(void *ctx, uint64_t i, const uint8_t *data, size_t len)
{
    seen *s = ctx;
    if (i == s->fail_at)
        return SR_ERR_IO;
    assert_int_equal(i, s->calls);
    assert_true(i < 8);
    s->entries[i] = malloc(len ? len : 1);
    assert_non_null(s->entries[i]);
    if (len)
        memcpy(s->entries[i], data, len);
    s->lens[i] = len;
    s->calls++;
    return SR_OK;
}

static void seen_free(seen *s)
{
    for (size_t i = 0; i < s->calls && i < 8; i++)
        free(s->entries[i]);
    s->calls = 0;
}

static void bundle_round_trips_entries_of_every_length(void **state)
{
    (void)state;
    const size_t lens[] = {0, 1, 255, 256, BUNDLE_ENTRY_MAX};
    const size_t count = sizeof lens / sizeof lens[0];
    uint8_t *data = malloc(BUNDLE_ENTRY_MAX);
    sr_buf b;
    seen s = {.fail_at = UINT64_MAX};
    size_t total = 0;
    assert_non_null(data);
    for (size_t i = 0; i < BUNDLE_ENTRY_MAX; i++)
        data[i] = (uint8_t)(i * 31u + 7u);
    buf_init(&b, 1u << 20);
    for (size_t i = 0; i < count; i++) {
        assert_int_equal(bundle_add(&b, data, lens[i]), SR_OK);
        total += 2 + lens[i];
    }
    assert_int_equal(b.len, total);
    /* Big-endian uint16 lengths: 255 is 00 ff, 256 is 01 00. */
    assert_int_equal(b.p[0], 0x00);
    assert_int_equal(b.p[1], 0x00);
    assert_int_equal(b.p[2], 0x00);
    assert_int_equal(b.p[3], 0x01);
    assert_int_equal(b.p[5], 0x00);
    assert_int_equal(b.p[6], 0xff);

    assert_int_equal(bundle_parse(b.p, b.len, (unsigned)count, collect, &s),
                     SR_OK);
    assert_int_equal(s.calls, count);
    for (size_t i = 0; i < count; i++) {
        assert_int_equal(s.lens[i], lens[i]);
        if (lens[i])
            assert_memory_equal(s.entries[i], data, lens[i]);
    }
    seen_free(&s);
    /* fn may be NULL: the bundle is only checked. */
    assert_int_equal(bundle_parse(b.p, b.len, (unsigned)count, NULL, NULL),
                     SR_OK);
    buf_free(&b);
    free(data);
}

static void
bundle_add_refuses_long_entries_and_leaves_buffer_unchanged(void **state)
{
    (void)state;
    uint8_t *data = calloc(1, BUNDLE_ENTRY_MAX + 1);
    sr_buf b;
    assert_non_null(data);
    buf_init(&b, 64);
    assert_int_equal(bundle_add(&b, data, 3), SR_OK);
    assert_int_equal(bundle_add(&b, data, BUNDLE_ENTRY_MAX + 1),
                     SR_ERR_INVALID);
    assert_int_equal(b.len, 5);
    /* The buffer's cap is 64: an entry that would pass it is refused
     * whole, never as a length prefix without its bytes. */
    assert_int_equal(bundle_add(&b, data, 58), SR_ERR_INVALID);
    assert_int_equal(b.len, 5);
    assert_int_equal(bundle_add(&b, data, 57), SR_OK);
    assert_int_equal(b.len, 64);
    assert_int_equal(bundle_add(&b, NULL, 0), SR_ERR_INVALID); /* full */
    assert_int_equal(bundle_add(NULL, data, 1), SR_ERR_INVALID);
    buf_free(&b);
    free(data);
}

static void
bundle_parse_rejects_malformed_bundles_before_any_callback(void **state)
{
    (void)state;
    /* Two entries: "ab" and "c". */
    static const uint8_t good[] = {0, 2, 'a', 'b', 0, 1, 'c'};
    static const uint8_t trailing[] = {0, 2, 'a', 'b', 0, 1, 'c', 0};
    static const uint8_t half_len[] = {0, 2, 'a', 'b', 0};
    static const uint8_t past_end[] = {0, 2, 'a', 'b', 0, 2, 'c'};
    static const uint8_t huge_len[] = {0, 2, 'a', 'b', 0xff, 0xff, 'c'};
    seen s = {.fail_at = UINT64_MAX};

    assert_int_equal(bundle_parse(good, sizeof good, 2, collect, &s), SR_OK);
    assert_int_equal(s.calls, 2);
    seen_free(&s);

    struct {
        const uint8_t *p;
        size_t len;
        unsigned expect;
    } cases[] = {
        {trailing, sizeof trailing, 2}, /* trailing bytes */
        {good, sizeof good, 1},         /* more entries than expected */
        {good, sizeof good, 3},         /* fewer entries than expected */
        {half_len, sizeof half_len, 2}, /* a length cut in half */
        {past_end, sizeof past_end, 2}, /* a length past the end */
        {huge_len, sizeof huge_len, 2},
        {good, 0, 1}, /* empty */
        {NULL, 0, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(bundle_parse(cases[i].p, cases[i].len, cases[i].expect,
                                      collect, &s),
                         SR_ERR_CORRUPT);
        assert_int_equal(s.calls, 0);
    }
    /* A bundle holds 1..256 entries: asking for another count is a bug. */
    assert_int_equal(bundle_parse(good, sizeof good, 0, collect, &s),
                     SR_ERR_INVALID);
    assert_int_equal(
        bundle_parse(good, sizeof good, TILE_WIDTH + 1, collect, &s),
        SR_ERR_INVALID);
    assert_int_equal(bundle_parse(NULL, 3, 1, collect, &s), SR_ERR_INVALID);
    assert_int_equal(s.calls, 0);
}

static void bundle_parse_of_a_full_bundle_needs_256_entries(void **state)
{
    (void)state;
    sr_buf b;
    buf_init(&b, 1u << 16);
    for (unsigned i = 0; i < TILE_WIDTH; i++) {
        uint8_t e[2] = {(uint8_t)i, (uint8_t)(i >> 8)};
        assert_int_equal(bundle_add(&b, e, i % 3), SR_OK);
    }
    assert_int_equal(bundle_parse(b.p, b.len, TILE_WIDTH, NULL, NULL), SR_OK);
    assert_int_equal(bundle_parse(b.p, b.len, TILE_WIDTH - 1, NULL, NULL),
                     SR_ERR_CORRUPT);
    assert_int_equal(bundle_parse(b.p, b.len - 1, TILE_WIDTH, NULL, NULL),
                     SR_ERR_CORRUPT);
    buf_free(&b);
}

static void bundle_parse_passes_callback_errors_through(void **state)
{
    (void)state;
    static const uint8_t good[] = {0, 2, 'a', 'b', 0, 1, 'c', 0, 0};
    seen s = {.fail_at = 1};
    assert_int_equal(bundle_parse(good, sizeof good, 3, collect, &s),
                     SR_ERR_IO);
    assert_int_equal(s.calls, 1);
    seen_free(&s);
}

int main(void)
{
    if (sr_init() != SR_OK)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tile_path_writes_the_spec_examples),
        cmocka_unit_test(tile_path_rejects_bad_level_width_or_short_buffer),
        cmocka_unit_test(tile_path_max_holds_the_longest_path),
        cmocka_unit_test(tile_path_parse_round_trips_many_tiles),
        cmocka_unit_test(tile_path_parse_accepts_exactly_the_spec_grammar),
        cmocka_unit_test(tile_path_parse_rejects_every_other_spelling),
        cmocka_unit_test(tile_width_matches_the_spec_examples),
        cmocka_unit_test(tile_width_of_empty_tiny_and_huge_trees),
        cmocka_unit_test(tile_width_sums_to_the_level_count),
        cmocka_unit_test(tile_level_count_shifts_by_8_bits_a_level),
        cmocka_unit_test(bundle_round_trips_entries_of_every_length),
        cmocka_unit_test(
            bundle_add_refuses_long_entries_and_leaves_buffer_unchanged),
        cmocka_unit_test(
            bundle_parse_rejects_malformed_bundles_before_any_callback),
        cmocka_unit_test(bundle_parse_of_a_full_bundle_needs_256_entries),
        cmocka_unit_test(bundle_parse_passes_callback_errors_through),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
