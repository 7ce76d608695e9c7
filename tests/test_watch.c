/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_watch.c - the watch files behind read budgets and freezes
 * (src/watch): the sliding hour and day, distinct people, searches and
 * the room a search needs; freezes and unfreezes; and the file shared by
 * two handles, cut at a torn end, refused when damaged, and rewritten
 * without losing what is still in the windows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "log_fixture.h"
#include "watch/watch.h"

#define T0 UINT64_C(1796000000000) /* ms */
#define HOUR ((uint64_t)WATCH_HOUR_MS)
#define DAY ((uint64_t)WATCH_DAY_MS)

static void ref_of(unsigned i, uint8_t ref[WATCH_REF_BYTES])
{
    memset(ref, 0, WATCH_REF_BYTES);
    ref[0] = (uint8_t)i;
    ref[1] = (uint8_t)(i >> 8);
    ref[15] = 0xa5;
}

static void apply(watch_state *s, watch_kind kind, uint64_t ms, unsigned who,
                  const char *reason, uint64_t now)
{
    watch_record r = {ms, kind, {0}, ""};
    uint8_t b[WATCH_RECORD_BYTES];
    char msg[WATCH_MSG_MAX];
    if (kind == WATCH_PERSON)
        ref_of(who, r.ref);
    if (reason != NULL)
        (void)snprintf(r.reason, sizeof r.reason, "%s", reason);
    watch_record_encode(&r, b);
    assert_int_equal(watch_apply(s, b, sizeof b, 0, now, msg), SR_OK);
}

/* The rule that reading person `who` at now would break, or NULL (the
 * windows moved on to now first, as the file layer does at each lock). */
static const char *over(watch_state *s, const policy_budget *b, uint64_t now,
                        unsigned who)
{
    uint8_t ref[1][WATCH_REF_BYTES];
    ref_of(who, ref[0]);
    assert_int_equal(watch_prune(s, now), SR_OK);
    return watch_over_budget(s, b, now, (const uint8_t(*)[WATCH_REF_BYTES])ref,
                             1, 0, false);
}

static void the_hour_budget_counts_distinct_people(void **state)
{
    (void)state;
    policy_budget b = {20, 60, 0};
    watch_state s;
    watch_state_init(&s);
    for (unsigned i = 0; i < 20; i++) {
        assert_null(over(&s, &b, T0 + i, i));
        apply(&s, WATCH_PERSON, T0 + i, i, NULL, T0 + i);
    }
    /* The 21st person is one too many; the first again costs nothing. */
    assert_string_equal(over(&s, &b, T0 + 30, 20), "budget.people_per_hour");
    assert_null(over(&s, &b, T0 + 30, 0));
    /* A batch (a search's matches) counts each person once. */
    uint8_t two[2][WATCH_REF_BYTES];
    ref_of(3, two[0]);
    ref_of(3, two[1]);
    assert_null(watch_over_budget(
        &s, &b, T0 + 30, (const uint8_t(*)[WATCH_REF_BYTES])two, 2, 0, false));
    /* An hour after the first reads the hour has room again. */
    assert_null(over(&s, &b, T0 + HOUR + 20, 20));
    watch_state_free(&s);
}

static void the_day_budget_outlasts_the_hour(void **state)
{
    (void)state;
    policy_budget b = {20, 30, 0};
    watch_state s;
    watch_state_init(&s);
    for (unsigned i = 0; i < 20; i++)
        apply(&s, WATCH_PERSON, T0, i, NULL, T0);
    uint64_t later = T0 + 2 * HOUR;
    for (unsigned i = 20; i < 30; i++) {
        assert_null(over(&s, &b, later, i));
        apply(&s, WATCH_PERSON, later, i, NULL, later);
    }
    assert_string_equal(over(&s, &b, later, 30), "budget.people_per_day");
    /* Someone read two hours ago is charged again this hour, but is no
     * new person for the day. */
    assert_null(over(&s, &b, later, 0));
    /* A day after the first reads, they have left the window. */
    assert_null(over(&s, &b, T0 + DAY + 1, 30));
    assert_int_equal(watch_prune(&s, T0 + DAY + 1), SR_OK);
    assert_int_equal(s.day_people, 10);
    watch_state_free(&s);
}

static void searches_and_room_for_one_more(void **state)
{
    (void)state;
    policy_budget b = {2, 0, 3};
    watch_state s;
    watch_state_init(&s);
    for (unsigned i = 0; i < 3; i++) {
        assert_null(watch_over_budget(&s, &b, T0, NULL, 0, 1, true));
        apply(&s, WATCH_SEARCH, T0, 0, NULL, T0);
    }
    assert_string_equal(watch_over_budget(&s, &b, T0, NULL, 0, 1, true),
                        "budget.searches_per_hour");
    assert_int_equal(watch_prune(&s, T0 + HOUR + 1), SR_OK);
    assert_null(watch_over_budget(&s, &b, T0 + HOUR + 1, NULL, 0, 1, true));
    /* At the people budget a search is refused before it looks. */
    watch_state_free(&s);
    watch_state_init(&s);
    apply(&s, WATCH_PERSON, T0, 1, NULL, T0);
    assert_null(watch_over_budget(&s, &b, T0, NULL, 0, 1, true));
    apply(&s, WATCH_PERSON, T0, 2, NULL, T0);
    assert_string_equal(watch_over_budget(&s, &b, T0, NULL, 0, 1, true),
                        "budget.people_per_hour");
    /* No limits: never over. */
    policy_budget none = {0, 0, 0};
    assert_null(watch_over_budget(&s, &none, T0, NULL, 0, 100, true));
    watch_state_free(&s);
}

static void an_unfreeze_clears_the_counts(void **state)
{
    (void)state;
    watch_state s;
    watch_state_init(&s);
    apply(&s, WATCH_PERSON, T0, 1, NULL, T0);
    apply(&s, WATCH_SEARCH, T0, 0, NULL, T0);
    apply(&s, WATCH_FREEZE, T0 + 1, 0, "budget.people_per_hour", T0 + 1);
    assert_true(s.frozen);
    assert_string_equal(s.reason, "budget.people_per_hour");
    /* A freeze older than a day still holds. */
    char msg[WATCH_MSG_MAX];
    assert_int_equal(watch_apply(&s, NULL, 0, 0, T0 + 3 * DAY, msg), SR_OK);
    assert_true(s.frozen);
    apply(&s, WATCH_UNFREEZE, T0 + 2, 0, "ticket-4711", T0 + 2);
    assert_false(s.frozen);
    assert_int_equal(s.day_people, 0);
    assert_int_equal(watch_hour_searches(&s), 0);
    watch_state_free(&s);
}

static void damaged_records_are_named(void **state)
{
    (void)state;
    uint8_t b[3 * WATCH_RECORD_BYTES];
    char msg[WATCH_MSG_MAX];
    watch_record ok = {T0, WATCH_SEARCH, {0}, ""};
    watch_record_encode(&ok, b);
    watch_record_encode(&ok, b + WATCH_RECORD_BYTES);
    watch_record_encode(&ok, b + 2 * WATCH_RECORD_BYTES);
    watch_state s;
    watch_state_init(&s);
    b[WATCH_RECORD_BYTES + 8] = 9; /* the second: an unknown kind */
    assert_int_equal(watch_apply(&s, b, sizeof b, 40, T0, msg), SR_ERR_CORRUPT);
    assert_string_equal(msg, "record 41 has an unknown kind");
    b[WATCH_RECORD_BYTES + 8] = WATCH_FREEZE; /* with no reason */
    assert_int_equal(watch_apply(&s, b, sizeof b, 0, T0, msg), SR_ERR_CORRUPT);
    assert_string_equal(msg, "record 1 has a reason that is not a name");
    b[WATCH_RECORD_BYTES + 8] = WATCH_SEARCH;
    b[WATCH_RECORD_BYTES + 12] = 1;
    assert_int_equal(watch_apply(&s, b, sizeof b, 0, T0, msg), SR_ERR_CORRUPT);
    assert_string_equal(msg, "record 1 has non-zero padding");
    assert_int_equal(watch_apply(&s, b, 50, 0, T0, msg), SR_ERR_CORRUPT);
    watch_state_free(&s);
}

/* ---- the file ------------------------------------------------------------ */

static int teardown(void **state)
{
    (void)state;
    while (tmp_count > 0)
        rm_rf(tmp_dirs[--tmp_count]);
    return 0;
}

static watch_file *open_locked(const char *dir, uint64_t now)
{
    watch_file *w;
    char msg[WATCH_MSG_MAX];
    assert_int_equal(watch_file_open(dir, "pat", &w, msg), SR_OK);
    assert_int_equal(watch_file_lock(w, now, msg), SR_OK);
    return w;
}

static void append(watch_file *w, watch_kind kind, uint64_t ms, unsigned who,
                   const char *reason)
{
    char msg[WATCH_MSG_MAX];
    watch_record r = {ms, kind, {0}, ""};
    if (kind == WATCH_PERSON)
        ref_of(who, r.ref);
    if (reason != NULL)
        (void)snprintf(r.reason, sizeof r.reason, "%s", reason);
    assert_int_equal(watch_file_append(w, &r, 1, reason != NULL, ms, msg),
                     SR_OK);
}

static void two_handles_see_each_others_records(void **state)
{
    (void)state;
    char dir[64], msg[WATCH_MSG_MAX];
    tmp_make(dir);
    watch_file *a = open_locked(dir, T0);
    append(a, WATCH_PERSON, T0, 1, NULL);
    append(a, WATCH_PERSON, T0, 2, NULL);
    watch_file_unlock(a);
    watch_file *b = open_locked(dir, T0);
    assert_int_equal(watch_file_state(b)->day_people, 2);
    append(b, WATCH_FREEZE, T0 + 5, 0, "decoy.read");
    watch_file_unlock(b);
    assert_int_equal(watch_file_lock(a, T0 + 6, msg), SR_OK);
    assert_true(watch_file_state(a)->frozen);
    assert_string_equal(watch_file_state(a)->reason, "decoy.read");
    watch_file_unlock(a);
    watch_file_close(a);
    watch_file_close(b);
}

static void a_torn_end_is_cut_and_damage_is_refused(void **state)
{
    (void)state;
    char dir[64], path[128], msg[WATCH_MSG_MAX];
    tmp_make(dir);
    watch_file *w = open_locked(dir, T0);
    append(w, WATCH_PERSON, T0, 1, NULL);
    watch_file_unlock(w);
    watch_file_close(w);
    (void)snprintf(path, sizeof path, "%s/watch/pat", dir);
    FILE *f = fopen(path, "ab");
    assert_non_null(f);
    assert_int_equal(fwrite("\x01\x02\x03", 1, 3, f), 3); /* a torn append */
    assert_int_equal(fclose(f), 0);
    w = open_locked(dir, T0);
    assert_int_equal(watch_file_state(w)->day_people, 1);
    append(w, WATCH_PERSON, T0, 2, NULL);
    watch_file_unlock(w);
    watch_file_close(w);
    w = open_locked(dir, T0);
    assert_int_equal(watch_file_state(w)->day_people, 2);
    watch_file_unlock(w);
    watch_file_close(w);
    /* A record edited into nonsense: the file is refused, by name. */
    f = fopen(path, "r+b");
    assert_non_null(f);
    assert_int_equal(
        fseek(f, WATCH_HEADER_BYTES + WATCH_RECORD_BYTES + 8, SEEK_SET), 0);
    assert_int_equal(fputc(7, f), 7);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(watch_file_open(dir, "pat", &w, msg), SR_OK);
    assert_int_equal(watch_file_lock(w, T0, msg), SR_ERR_CORRUPT);
    assert_string_equal(msg, "watch/pat: record 1 has an unknown kind");
    watch_file_close(w);
}

static void a_long_file_is_rewritten_with_what_still_counts(void **state)
{
    (void)state;
    char dir[64], path[128], msg[WATCH_MSG_MAX];
    struct stat sb;
    tmp_make(dir);
    (void)snprintf(path, sizeof path, "%s/watch/pat", dir);
    watch_file *a = open_locked(dir, T0);
    watch_file *b;
    assert_int_equal(watch_file_open(dir, "pat", &b, msg), SR_OK);
    append(a, WATCH_FREEZE, T0, 0, "manual");
    unsigned n = WATCH_COMPACT_BYTES / WATCH_RECORD_BYTES + 10;
    for (unsigned i = 0; i < n; i++)
        append(a, WATCH_PERSON, T0 + i, i, NULL);
    /* Two days on: a few new reads, the old ones out of every window. */
    uint64_t later = T0 + 2 * DAY;
    for (unsigned i = 0; i < 5; i++)
        append(a, WATCH_PERSON, later, 100000 + i, NULL);
    watch_file_unlock(a);
    assert_int_equal(stat(path, &sb), 0);
    assert_true(sb.st_size <
                (off_t)(WATCH_HEADER_BYTES + 10 * WATCH_RECORD_BYTES));
    /* A handle opened before the rewrite follows it. */
    assert_int_equal(watch_file_lock(b, later, msg), SR_OK);
    assert_int_equal(watch_file_state(b)->day_people, 5);
    assert_true(watch_file_state(b)->frozen);
    assert_string_equal(watch_file_state(b)->reason, "manual");
    watch_file_unlock(b);
    assert_int_equal(watch_file_lock(a, later, msg), SR_OK);
    assert_int_equal(watch_file_state(a)->day_people, 5);
    watch_file_unlock(a);
    watch_file_close(a);
    watch_file_close(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_hour_budget_counts_distinct_people),
        cmocka_unit_test(the_day_budget_outlasts_the_hour),
        cmocka_unit_test(searches_and_room_for_one_more),
        cmocka_unit_test(an_unfreeze_clears_the_counts),
        cmocka_unit_test(damaged_records_are_named),
        cmocka_unit_test_teardown(two_handles_see_each_others_records,
                                  teardown),
        cmocka_unit_test_teardown(a_torn_end_is_cut_and_damage_is_refused,
                                  teardown),
        cmocka_unit_test_teardown(
            a_long_file_is_rewritten_with_what_still_counts, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
