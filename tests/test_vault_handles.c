/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_vault_handles.c - what a server relies on when it keeps many
 * handles on one vault (sr_vault_open_another): deferred audit syncs
 * (sr_vault_defer_audit, tickets) keep log-then-reveal, the family's
 * token cache never outlives a revocation or a disabled principal, and a
 * second writer (sr_vault_open_another_writer) signs people in beside the
 * first.
 *
 * One vault per test: an intake service that stored PEOPLE people, a
 * clerk (hr-clerk) who reads them, an auditor; the writer is the family's
 * first handle, as in `strongroom serve`.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "suite_store.h"
#include "log_fixture.h"
#include "strongroom/strongroom.h"

#define PASS "handles test passphrase"
#define PEOPLE 8u

typedef struct fixture {
    char root[64], vault[128];
    sr_vault *w; /* the writer, authenticated as the administrator */
    char admin[SR_TOKEN_MAX], clerk[SR_TOKEN_MAX], auditor[SR_TOKEN_MAX];
    char clerk_id[SR_TOKEN_ID_MAX];
    char ids[PEOPLE][SR_ID_STR_LEN + 1];
} fixture;

static const sr_access HR = {"hr-action", NULL, NULL};

static void principal(sr_vault *v, const char *name, const char *role,
                      char token[SR_TOKEN_MAX], char id[SR_TOKEN_ID_MAX])
{
    char ignored[SR_TOKEN_ID_MAX];
    assert_int_equal(sr_vault_user_add(v, name, role, 1, NULL, 0), SR_OK);
    assert_int_equal(sr_vault_token_create(v, name, 0, NULL, token,
                                           id != NULL ? id : ignored),
                     SR_OK);
}

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    sr_init_options opt = {SR_KDF_INTERACTIVE, 1000, NULL, 0, NULL, 0, NULL};
    char intake[SR_TOKEN_MAX];
    sr_gen *g = NULL;
    assert_non_null(fx);
    assert_int_equal(sr_init(), SR_OK);
    tmp_make(fx->root);
    (void)snprintf(fx->vault, sizeof fx->vault, "%s/vault", fx->root);
    opt.store = suite_store();
    assert_int_equal(
        sr_vault_create(&fx->w, fx->vault, PASS, strlen(PASS), &opt, fx->admin),
        SR_OK);
    principal(fx->w, "intake", "intake", intake, NULL);
    principal(fx->w, "clerk", "hr-clerk", fx->clerk, fx->clerk_id);
    principal(fx->w, "auditor", "auditor", fx->auditor, NULL);
    sr_vault_close(fx->w);
    assert_int_equal(
        sr_vault_open(&fx->w, fx->vault, PASS, strlen(PASS), SR_OPEN_WRITE),
        SR_OK);
    assert_int_equal(sr_vault_authenticate(fx->w, intake, strlen(intake)),
                     SR_OK);
    assert_int_equal(sr_gen_new(&g, 7), SR_OK);
    for (unsigned i = 0; i < PEOPLE; i++) {
        const char *line;
        size_t len;
        sr_access acc = {"intake", NULL, NULL};
        assert_int_equal(sr_gen_person_json(g, i, &line, &len), SR_OK);
        assert_int_equal(sr_vault_put(fx->w, &acc, line, len, fx->ids[i]),
                         SR_OK);
    }
    sr_gen_free(g);
    assert_int_equal(sr_vault_authenticate(fx->w, fx->admin, strlen(fx->admin)),
                     SR_OK);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    sr_vault_close(fx->w);
    (void)tmp_teardown(NULL); /* removes fx->root */
    free(fx);
    return 0;
}

/* A read handle of the writer's family, signed in as the clerk. */
static sr_vault *clerk_handle(fixture *fx, bool defer)
{
    sr_vault *r = NULL;
    assert_int_equal(sr_vault_open_another(&r, fx->w), SR_OK);
    assert_int_equal(
        sr_vault_authenticate_request(r, fx->clerk, strlen(fx->clerk)), SR_OK);
    if (defer)
        assert_int_equal(sr_vault_defer_audit(r, true), SR_OK);
    return r;
}

/* The leaf count of the log as a fresh checkpoint sees it. */
static uint64_t log_size(sr_vault *v)
{
    char *note = NULL;
    uint64_t size = 0;
    assert_int_equal(sr_vault_audit_checkpoint(v, &note, &size), SR_OK);
    free(note);
    return size;
}

static void get_one(sr_vault *v, const char *id)
{
    char *line = NULL;
    size_t len = 0;
    assert_int_equal(sr_vault_get(v, &HR, id, 0, &line, &len), SR_OK);
    assert_true(len > 0);
    sr_secret_free(line);
}

/* ---- deferred audit syncs ------------------------------------------------ */

static void test_a_writer_cannot_defer_its_syncs(void **state)
{
    fixture *fx = *state;
    /* A write is logged before its commit: deferring would reorder it. */
    assert_int_equal(sr_vault_defer_audit(fx->w, true), SR_ERR_INVALID);
    assert_null(sr_vault_take_ticket(fx->w));
}

static void test_a_deferred_read_hands_over_a_ticket_for_its_entry(void **state)
{
    fixture *fx = *state;
    sr_vault *r = clerk_handle(fx, true);
    uint64_t before = log_size(fx->w);
    get_one(r, fx->ids[0]);
    sr_audit_ticket *t = sr_vault_take_ticket(r);
    assert_non_null(t);
    assert_null(sr_vault_take_ticket(r)); /* now the caller's alone */
    sr_vault_close(r);                    /* the ticket outlives the handle */
    uint64_t entry = 0;
    char msg[256];
    assert_int_equal(sr_audit_ticket_wait(t, &entry, msg, sizeof msg), SR_OK);
    /* The read's "get" is the next entry, and durable: in the log. */
    assert_int_equal(entry, before);
    assert_int_equal(log_size(fx->w), before + 1);
}

static void test_a_second_call_waits_for_the_ticket_still_held(void **state)
{
    fixture *fx = *state;
    sr_vault *r = clerk_handle(fx, true);
    uint64_t before = log_size(fx->w);
    get_one(r, fx->ids[1]);
    get_one(r, fx->ids[2]); /* settles the first, queues its own */
    assert_int_equal(sr_vault_last_entry(r), before);
    sr_audit_ticket *t = sr_vault_take_ticket(r);
    uint64_t entry = 0;
    assert_int_equal(sr_audit_ticket_wait(t, &entry, NULL, 0), SR_OK);
    assert_int_equal(entry, before + 1);
    sr_vault_close(r);
}

static void test_closing_or_turning_off_settles_a_ticket_left(void **state)
{
    fixture *fx = *state;
    sr_vault *r = clerk_handle(fx, true);
    uint64_t before = log_size(fx->w);
    get_one(r, fx->ids[3]);
    assert_int_equal(sr_vault_defer_audit(r, false), SR_OK);
    assert_null(sr_vault_take_ticket(r));
    assert_int_equal(sr_vault_last_entry(r), before);
    assert_int_equal(sr_vault_defer_audit(r, true), SR_OK);
    get_one(r, fx->ids[4]);
    sr_vault_close(r); /* with its ticket */
    assert_int_equal(log_size(fx->w), before + 2);
}

static void test_waiting_for_no_ticket_is_a_no_op(void **state)
{
    (void)state;
    uint64_t entry = 0;
    char msg[8] = "x";
    assert_int_equal(sr_audit_ticket_wait(NULL, &entry, msg, sizeof msg),
                     SR_OK);
    assert_int_equal(entry, UINT64_MAX);
    assert_string_equal(msg, "");
}

/* Many threads, each with a deferred handle: every ticket's entry is its
 * own, and together they are exactly the entries appended. */
#define THREADS 8u
#define READS 25u

typedef struct reader {
    fixture *fx;
    sr_vault *r; /* opened and signed in by the main thread */
    unsigned k;
    unsigned failures;
    uint64_t entries[READS];
} reader;

/* No cmocka assertions off the main thread: failures are counted. */
static void *read_many(void *arg)
{
    reader *rd = arg;
    for (unsigned i = 0; i < READS; i++) {
        char *line = NULL;
        size_t len = 0;
        if (sr_vault_get(rd->r, &HR, rd->fx->ids[(rd->k + i) % PEOPLE], 0,
                         &line, &len) != SR_OK)
            rd->failures++;
        sr_secret_free(line);
        sr_audit_ticket *t = sr_vault_take_ticket(rd->r);
        if (t == NULL ||
            sr_audit_ticket_wait(t, &rd->entries[i], NULL, 0) != SR_OK)
            rd->failures++;
    }
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void test_concurrent_tickets_get_distinct_durable_entries(void **state)
{
    fixture *fx = *state;
    reader rd[THREADS];
    pthread_t th[THREADS];
    uint64_t all[THREADS * READS];
    uint64_t before = log_size(fx->w);
    memset(rd, 0, sizeof rd);
    for (unsigned k = 0; k < THREADS; k++) {
        rd[k].fx = fx;
        rd[k].k = k;
        rd[k].r = clerk_handle(fx, true);
    }
    for (unsigned k = 0; k < THREADS; k++)
        assert_int_equal(pthread_create(&th[k], NULL, read_many, &rd[k]), 0);
    for (unsigned k = 0; k < THREADS; k++) {
        assert_int_equal(pthread_join(th[k], NULL), 0);
        assert_int_equal(rd[k].failures, 0);
        sr_vault_close(rd[k].r);
        memcpy(all + k * READS, rd[k].entries, sizeof rd[k].entries);
    }
    qsort(all, THREADS * READS, sizeof all[0], cmp_u64);
    /* The authentications logged nothing (sr_vault_authenticate_request):
     * the reads are exactly the entries after `before`. */
    for (unsigned i = 0; i < THREADS * READS; i++)
        assert_int_equal(all[i], before + i);
    assert_int_equal(log_size(fx->w), before + THREADS * READS);
}

/* ---- the family's token cache -------------------------------------------- */

static void test_a_revoked_token_fails_on_the_next_request(void **state)
{
    fixture *fx = *state;
    sr_vault *r = clerk_handle(fx, false); /* checked once: cached */
    assert_int_equal(
        sr_vault_authenticate_request(r, fx->clerk, strlen(fx->clerk)), SR_OK);
    assert_int_equal(sr_vault_token_revoke(fx->w, fx->clerk_id), SR_OK);
    assert_int_equal(
        sr_vault_authenticate_request(r, fx->clerk, strlen(fx->clerk)),
        SR_ERR_AUTH);
    assert_string_equal(sr_vault_principal(r), "");
    char *line = NULL;
    size_t len = 0;
    assert_int_not_equal(sr_vault_get(r, &HR, fx->ids[0], 0, &line, &len),
                         SR_OK);
    assert_null(line);
    sr_vault_close(r);
}

static void test_a_disabled_principal_fails_on_the_next_request(void **state)
{
    fixture *fx = *state;
    sr_vault *r = clerk_handle(fx, false);
    assert_int_equal(sr_vault_user_disable(fx->w, "clerk"), SR_OK);
    assert_int_equal(
        sr_vault_authenticate_request(r, fx->clerk, strlen(fx->clerk)),
        SR_ERR_AUTH);
    sr_vault_close(r);
}

static void test_a_cached_token_still_needs_its_secret(void **state)
{
    fixture *fx = *state;
    sr_vault *r = clerk_handle(fx, false);
    /* Same id, another secret: one base64 digit inside it changed (not
     * the last, whose low bits must be zero). */
    char forged[SR_TOKEN_MAX];
    (void)snprintf(forged, sizeof forged, "%s", fx->clerk);
    size_t n = strlen(forged);
    forged[n - 10] = forged[n - 10] == 'A' ? 'B' : 'A';
    assert_int_equal(sr_vault_authenticate_request(r, forged, n), SR_ERR_AUTH);
    assert_int_equal(
        sr_vault_authenticate_request(r, fx->clerk, strlen(fx->clerk)), SR_OK);
    assert_string_equal(sr_vault_principal(r), "clerk");
    assert_string_equal(sr_vault_role(r), "hr-clerk");
    sr_vault_close(r);
}

static void test_handles_without_the_write_lock_cache_nothing(void **state)
{
    fixture *fx = *state;
    /* A read-only process: another process may revoke at any time, so
     * every request reads the token again. */
    sr_vault *ro = NULL, *r = NULL, *w2 = NULL;
    sr_vault_close(fx->w);
    fx->w = NULL;
    assert_int_equal(
        sr_vault_open(&ro, fx->vault, PASS, strlen(PASS), SR_OPEN_READ), SR_OK);
    assert_int_equal(sr_vault_open_another(&r, ro), SR_OK);
    assert_int_equal(
        sr_vault_authenticate_request(r, fx->clerk, strlen(fx->clerk)), SR_OK);
    assert_int_equal(
        sr_vault_open(&w2, fx->vault, PASS, strlen(PASS), SR_OPEN_WRITE),
        SR_OK);
    assert_int_equal(sr_vault_authenticate(w2, fx->admin, strlen(fx->admin)),
                     SR_OK);
    assert_int_equal(sr_vault_token_revoke(w2, fx->clerk_id), SR_OK);
    assert_int_equal(
        sr_vault_authenticate_request(r, fx->clerk, strlen(fx->clerk)),
        SR_ERR_AUTH);
    sr_vault_close(r);
    sr_vault_close(ro);
    fx->w = w2;
}

/* ---- a second writer ------------------------------------------------------
 */

static void test_a_second_writer_comes_only_from_the_lock_holder(void **state)
{
    fixture *fx = *state;
    sr_vault *r = NULL, *w2 = NULL;
    assert_int_equal(sr_vault_open_another(&r, fx->w), SR_OK);
    assert_int_equal(sr_vault_open_another_writer(&w2, r), SR_ERR_INVALID);
    sr_vault_close(w2);
    sr_vault_close(r);
}

static void test_a_sign_in_on_the_second_writer_is_good_everywhere(void **state)
{
    fixture *fx = *state;
    const char pass[] = "pat's own passphrase";
    char token[SR_TOKEN_MAX];
    sr_vault *w2 = NULL, *r = NULL;
    assert_int_equal(
        sr_vault_user_add(fx->w, "pat", "hr-clerk", 0, pass, strlen(pass)),
        SR_OK);
    assert_int_equal(sr_vault_open_another_writer(&w2, fx->w), SR_OK);
    assert_int_equal(sr_vault_login(w2, "pat", "wrong", 5, 0, token),
                     SR_ERR_AUTH);
    assert_int_equal(sr_vault_login(w2, "pat", pass, strlen(pass), 0, token),
                     SR_OK);
    /* The first writer goes on writing meanwhile. */
    assert_int_equal(sr_vault_user_add(fx->w, "sam", "auditor", 1, NULL, 0),
                     SR_OK);
    assert_int_equal(sr_vault_open_another(&r, fx->w), SR_OK);
    assert_int_equal(sr_vault_authenticate_request(r, token, strlen(token)),
                     SR_OK);
    assert_string_equal(sr_vault_principal(r), "pat");
    get_one(r, fx->ids[5]);
    sr_vault_close(r);
    sr_vault_close(w2);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_a_writer_cannot_defer_its_syncs),
        T(test_a_deferred_read_hands_over_a_ticket_for_its_entry),
        T(test_a_second_call_waits_for_the_ticket_still_held),
        T(test_closing_or_turning_off_settles_a_ticket_left),
        T(test_waiting_for_no_ticket_is_a_no_op),
        T(test_concurrent_tickets_get_distinct_durable_entries),
        T(test_a_revoked_token_fails_on_the_next_request),
        T(test_a_disabled_principal_fails_on_the_next_request),
        T(test_a_cached_token_still_needs_its_secret),
        T(test_handles_without_the_write_lock_cache_nothing),
        T(test_a_second_writer_comes_only_from_the_lock_holder),
        T(test_a_sign_in_on_the_second_writer_is_good_everywhere),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
