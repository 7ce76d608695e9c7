/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_audit_log.c - the audit log writer (src/audit/log.c) and the
 * offline verifier (sr_log_verify, src/audit/verify.c), driven together:
 * appends from one and many threads and processes, the C2SP tlog-tiles
 * layout the checkpoints leave on disk (checked against a tree computed
 * here from the entries, and against literal paths from the spec), and
 * one tampering per test, each of which the verifier must name.
 *
 * Most tests share one log (the "big log", grown by checkpoints at sizes
 * 1, 255, 256, 257 and 70000, built once by the group setup); a tampering
 * test edits one file, checks the verdict, and puts the file back.
 * Tests that need unintegrated journal records fork a child that appends
 * and _exit()s without releasing the log: a crash as far as the log can
 * tell.
 *
 * SR_AUDIT_BENCH_ENTRIES=<n> (unset in the normal run) makes
 * verify_rate_on_a_large_log build an n-entry log with the independent
 * builder below and print sr_log_verify's rate.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "audit/entry.h"
#include "audit/log.h"
#include "audit/merkle.h"
#include "audit/note.h"
#include "audit/tile.h"
#include "audit/tilefs.h"
#include "strongroom/strongroom.h"
#include "util/util.h"

#include "log_fixture.h"

#define ORIGIN "strongroom.test/log"
#define HASH 32u
#define BIG_SIZE 70000u
#define APPEND_THREADS 64u

static off_t size_of(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? sb.st_size : -1;
}

static bool exists(const char *path)
{
    return size_of(path) >= 0;
}

/* A saved copy of one file, to tamper with and put back. */
typedef struct saved {
    char path[4096];
    uint8_t *p;
    size_t len;
} saved;

static void save(saved *s, const char *dir, const char *rel)
{
    path_of(s->path, dir, rel);
    s->p = slurp(s->path, &s->len);
    assert_non_null(s->p);
}

static void restore(saved *s)
{
    spit(s->path, s->p, s->len);
    free(s->p);
    s->p = NULL;
}

static void flip_byte(const char *path, size_t off)
{
    size_t len;
    uint8_t *p = slurp(path, &len);
    assert_non_null(p);
    assert_true(off < len);
    p[off] ^= 0x01;
    spit(path, p, len);
    free(p);
}

/* ---- entries ------------------------------------------------------------ */

/* A realistic entry, different for every tag (80 to 170 bytes). */
static void make_entry(uint64_t tag, sr_buf *out)
{
    audit_entry e;
    uint8_t refs[2][ENTRY_REF_BYTES];
    static const char *const actions[] = {"get", "search", "user.add", "export",
                                          "policy.set"};

    memset(&e, 0, sizeof e);
    e.time_ns = 1764000000000000000ull + tag * 1000003u;
    (void)snprintf(e.principal, sizeof e.principal, "user%03u",
                   (unsigned)(tag % 17));
    (void)snprintf(e.token, sizeof e.token, "%016llx",
                   (unsigned long long)(tag * 0x9e3779b97f4a7c15ull));
    (void)snprintf(e.action, sizeof e.action, "%s", actions[tag % 5]);
    e.outcome = (uint8_t)(1 + tag % 3);
    e.status = e.outcome == ENTRY_FAILED ? (uint8_t)SR_ERR_IO : 0;
    (void)snprintf(e.purpose, sizeof e.purpose, "background-check");
    (void)snprintf(e.case_id, sizeof e.case_id, "C-2026-%05u",
                   (unsigned)(tag % 99991));
    e.classes = (uint8_t)(tag % 64);
    (void)snprintf(e.rule, sizeof e.rule, "rule-%u", (unsigned)(tag % 13));
    if (tag % 7 == 0)
        (void)snprintf(e.detail, sizeof e.detail, "role of user%03u: %s",
                       (unsigned)(tag % 31), "reader -> reviewer");
    e.count = tag % 1000;
    e.nrefs = (uint32_t)(tag % 3);
    for (unsigned i = 0; i < 2; i++)
        for (unsigned j = 0; j < ENTRY_REF_BYTES; j++)
            refs[i][j] = (uint8_t)(tag * 31u + i * 7u + j);
    e.refs = e.nrefs > 0 ? (const uint8_t(*)[ENTRY_REF_BYTES])refs : NULL;
    buf_reset(out);
    assert_int_equal(entry_encode(&e, out), SR_OK);
}

/* ---- logs ---------------------------------------------------------------- */

static audit_log_config config_of(const char *vault)
{
    audit_log_config c;
    c.vault_dir = vault;
    c.journal_key = journal_key;
    c.sign_seed = sign_seed;
    c.origin = ORIGIN;
    return c;
}

static audit_log *log_open(const char *vault)
{
    char msg[AUDIT_MSG_MAX];
    audit_log *l = NULL;
    audit_log_config c = config_of(vault);
    sr_status st = audit_log_open(&l, &c, msg);
    if (st != SR_OK)
        print_error("audit_log_open: %s\n", msg);
    assert_int_equal(st, SR_OK);
    return l;
}

/* Opening vault's log fails as damage (SR_ERR_AUDIT), with a message
 * that names `names` (if not NULL). */
static void assert_open_fails(const char *vault, const char *names)
{
    char msg[AUDIT_MSG_MAX];
    audit_log *l = NULL;
    audit_log_config c = config_of(vault);
    assert_int_equal(audit_log_open(&l, &c, msg), SR_ERR_AUDIT);
    assert_null(l);
    if (names != NULL && strstr(msg, names) == NULL)
        fail_msg("the message does not name %s: %s", names, msg);
}

static audit_log *log_create(const char *vault)
{
    char msg[AUDIT_MSG_MAX];
    audit_log_config c = config_of(vault);
    assert_int_equal(audit_log_create(&c, msg), SR_OK);
    return log_open(vault);
}

static uint64_t append_tag(audit_log *l, uint64_t tag)
{
    char msg[AUDIT_MSG_MAX];
    sr_buf b;
    uint64_t index = UINT64_MAX;
    buf_init(&b, ENTRY_MAX_BYTES);
    make_entry(tag, &b);
    assert_int_equal(audit_log_append(l, b.p, b.len, &index, msg), SR_OK);
    buf_free(&b);
    return index;
}

static uint64_t checkpoint(audit_log *l)
{
    char msg[AUDIT_MSG_MAX];
    uint64_t size = UINT64_MAX;
    sr_status st = audit_log_checkpoint(l, &size, msg);
    if (st != SR_OK)
        print_error("audit_log_checkpoint: %s\n", msg);
    assert_int_equal(st, SR_OK);
    return size;
}

typedef struct appender {
    audit_log *l;
    uint64_t first_tag, count, stride;
    uint64_t *index_of_tag; /* indexed by tag - base */
    uint64_t base;
    int failed;
} appender;

static void *appender_main(void *arg)
{
    appender *a = arg;
    char msg[AUDIT_MSG_MAX];
    sr_buf b;
    buf_init(&b, ENTRY_MAX_BYTES);
    for (uint64_t i = 0; i < a->count; i++) {
        uint64_t tag = a->first_tag + i * a->stride, index;
        make_entry(tag, &b);
        if (audit_log_append(a->l, b.p, b.len, &index, msg) != SR_OK) {
            a->failed = 1;
            break;
        }
        a->index_of_tag[tag - a->base] = index;
    }
    buf_free(&b);
    return NULL;
}

/* Append tags base .. base + n - 1 from `threads` threads; record each
 * tag's index in index_of_tag[tag - base]. */
static void append_parallel(audit_log *l, uint64_t base, uint64_t n,
                            unsigned threads, uint64_t *index_of_tag)
{
    pthread_t t[APPEND_THREADS];
    appender a[APPEND_THREADS];
    assert_true(threads <= APPEND_THREADS && threads > 0);
    for (unsigned i = 0; i < threads; i++) {
        a[i].l = l;
        a[i].first_tag = base + i;
        a[i].stride = threads;
        a[i].count = n / threads + (i < n % threads ? 1 : 0);
        a[i].index_of_tag = index_of_tag;
        a[i].base = base;
        a[i].failed = 0;
        assert_int_equal(pthread_create(&t[i], NULL, appender_main, &a[i]), 0);
    }
    for (unsigned i = 0; i < threads; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_int_equal(a[i].failed, 0);
    }
}

static char *vkey_of(const char *vault)
{
    char path[4096];
    size_t len;
    path_of(path, vault, "log.vkey");
    char *k = (char *)slurp(path, &len);
    assert_non_null(k);
    return k;
}

static sr_status verify_with(const char *vault, const char *vkey,
                             const sr_log_verify_options *opt,
                             sr_log_report *rep)
{
    char logdir[4096];
    path_of(logdir, vault, "log");
    return sr_log_verify(logdir, vkey, opt, rep);
}

static sr_status verify(const char *vault, sr_log_report *rep)
{
    char *k = vkey_of(vault);
    sr_status st = verify_with(vault, k, NULL, rep);
    free(k);
    return st;
}

static void assert_verifies(const char *vault, uint64_t size)
{
    sr_log_report rep;
    sr_status st = verify(vault, &rep);
    if (st != SR_OK)
        print_error("sr_log_verify: %s\n", rep.message);
    assert_int_equal(st, SR_OK);
    assert_string_equal(rep.message, "ok");
    assert_int_equal(rep.size, size);
    assert_int_equal(rep.entries, size);
    assert_true(rep.first_bad == UINT64_MAX);
}

/* Verification fails with SR_ERR_AUDIT, a message holding `needle`, and
 * first_bad as given. */
static void assert_fails(const char *vault, const char *needle,
                         uint64_t first_bad)
{
    sr_log_report rep;
    sr_status st = verify(vault, &rep);
    if (st != SR_ERR_AUDIT || strstr(rep.message, needle) == NULL ||
        rep.first_bad != first_bad)
        print_error("got %d, first_bad %llu: %s\n(wanted \"%s\", %llu)\n",
                    (int)st, (unsigned long long)rep.first_bad, rep.message,
                    needle, (unsigned long long)first_bad);
    assert_int_equal(st, SR_ERR_AUDIT);
    assert_non_null(strstr(rep.message, needle));
    assert_true(rep.first_bad == first_bad);
}

/* A signed checkpoint (size, root) for ORIGIN, by the key of `seed`. */
static void make_checkpoint(const uint8_t seed[32], uint64_t size,
                            const uint8_t root[HASH], sr_buf *note)
{
    note_signer s;
    sr_buf body;
    buf_init(&body, 4096);
    assert_int_equal(note_signer_from_seed(&s, ORIGIN, NOTE_TYPE_ED25519, seed),
                     SR_OK);
    assert_int_equal(note_checkpoint_format(ORIGIN, size, root, &body), SR_OK);
    assert_int_equal(note_sign((const char *)body.p, body.len, &s, note),
                     SR_OK);
    note_signer_wipe(&s);
    buf_free(&body);
}

/* ---- the expected tree ------------------------------------------------- */

/* Everything about a log the tests can predict: which tag sits at which
 * index, and the hashes of every level, computed here with nothing but
 * the RFC 9162 hash functions. */
typedef struct expect {
    uint64_t n;
    uint64_t *tag_of;       /* [n] */
    uint8_t (*lv[3])[HASH]; /* levels 0, 1, 2 */
    uint64_t lv_count[3];
} expect;

static void expect_build(expect *x)
{
    sr_buf b;
    buf_init(&b, ENTRY_MAX_BYTES);
    for (unsigned l = 0; l < 3; l++) {
        x->lv_count[l] = x->n >> (8 * l);
        free(x->lv[l]);
        x->lv[l] = calloc(x->lv_count[l] + 1, HASH);
        assert_non_null(x->lv[l]);
    }
    for (uint64_t i = 0; i < x->n; i++) {
        make_entry(x->tag_of[i], &b);
        merkle_leaf_hash(b.p, b.len, x->lv[0][i]);
    }
    for (unsigned l = 1; l < 3; l++)
        for (uint64_t i = 0; i < x->lv_count[l]; i++)
            assert_int_equal(merkle_root_of_leaves((const uint8_t(*)[HASH])(
                                                       x->lv[l - 1] + i * 256),
                                                   256, x->lv[l][i]),
                             SR_OK);
    buf_free(&b);
}

static void expect_free(expect *x)
{
    free(x->tag_of);
    for (unsigned l = 0; l < 3; l++)
        free(x->lv[l]);
    memset(x, 0, sizeof *x);
}

/* The bundle of tile k, width w, as the tags predict it. */
static void expect_bundle(const expect *x, uint64_t k, unsigned w, sr_buf *out)
{
    sr_buf e;
    buf_init(&e, ENTRY_MAX_BYTES);
    buf_reset(out);
    for (unsigned i = 0; i < w; i++) {
        make_entry(x->tag_of[k * 256 + i], &e);
        assert_int_equal(bundle_add(out, e.p, e.len), SR_OK);
    }
    buf_free(&e);
}

/* Every tile and bundle a tree of `size` leaves implies exists under
 * logdir with exactly the predicted bytes. */
static void check_layout(const char *logdir, const expect *x, uint64_t size)
{
    sr_buf want;
    buf_init(&want, (size_t)256 * 65537);
    for (int level = -1; level < 3; level++) {
        unsigned l = level < 0 ? 0 : (unsigned)level;
        uint64_t count = size >> (8 * l);
        for (uint64_t n = 0; n * 256 < count; n++) {
            char rel[TILE_PATH_MAX], path[4096];
            unsigned w = tile_width(level, n, size);
            assert_true(w > 0);
            assert_int_equal(tile_path(rel, sizeof rel, level, n, w), SR_OK);
            path_of(path, logdir, rel);
            size_t len;
            uint8_t *got = slurp(path, &len);
            if (got == NULL)
                print_error("missing %s for size %llu\n", rel,
                            (unsigned long long)size);
            assert_non_null(got);
            if (level < 0) {
                expect_bundle(x, n, w, &want);
                assert_int_equal(len, want.len);
                assert_memory_equal(got, want.p, len);
            } else {
                assert_int_equal(len, (size_t)w * HASH);
                assert_memory_equal(got, x->lv[l][n * 256], len);
            }
            free(got);
        }
    }
    buf_free(&want);
}

/* ---- the big log, shared ------------------------------------------------- */

static char big[64];
static expect bigx;

/* Grow the log to `to` entries (tags = indexes for one thread, any order
 * for many), checkpoint, and record which tag went where. */
static void grow(audit_log *l, uint64_t to, unsigned threads)
{
    uint64_t from = audit_log_pending_end(l), n = to - from;
    uint64_t *idx = calloc(n, sizeof *idx);
    assert_non_null(idx);
    if (threads <= 1) {
        for (uint64_t t = from; t < to; t++)
            idx[t - from] = append_tag(l, t);
    } else {
        append_parallel(l, from, n, threads, idx);
    }
    for (uint64_t t = 0; t < n; t++) {
        assert_true(idx[t] >= from && idx[t] < to);
        assert_true(bigx.tag_of[idx[t]] == UINT64_MAX); /* distinct */
        bigx.tag_of[idx[t]] = from + t;
    }
    free(idx);
    assert_int_equal(checkpoint(l), to);
}

static int big_setup(void **state)
{
    (void)state;
    if (sr_init() != SR_OK)
        return -1;
    tmp_make(big);
    tmp_count = 0; /* the group's, removed by big_teardown */
    bigx.n = BIG_SIZE;
    bigx.tag_of = malloc(BIG_SIZE * sizeof *bigx.tag_of);
    if (bigx.tag_of == NULL)
        return -1;
    memset(bigx.tag_of, 0xff, BIG_SIZE * sizeof *bigx.tag_of);
    audit_log *l = log_create(big);
    grow(l, 1, 1);
    grow(l, 255, 1);
    grow(l, 256, 1);
    grow(l, 257, 1);
    grow(l, BIG_SIZE, APPEND_THREADS);
    audit_log_release(l);
    expect_build(&bigx);
    return 0;
}

static int big_teardown(void **state)
{
    (void)state;
    rm_rf(big);
    expect_free(&bigx);
    return 0;
}

static void big_path(char out[4096], const char *rel)
{
    char logdir[4096];
    path_of(logdir, big, "log");
    path_of(out, logdir, rel);
}

/* Where entry `index` starts in its bundle (at its length prefix). */
static size_t entry_offset(uint64_t index)
{
    sr_buf e;
    size_t off = 0;
    buf_init(&e, ENTRY_MAX_BYTES);
    for (uint64_t i = index / 256 * 256; i < index; i++) {
        make_entry(bigx.tag_of[i], &e);
        off += 2 + e.len;
    }
    buf_free(&e);
    return off;
}

/* ---- tests: creating, appending, the layout --------------------------- */

static void create_writes_an_empty_signed_log(void **state)
{
    char dir[64], path[4096], msg[AUDIT_MSG_MAX];
    (void)state;
    tmp_make(dir);
    audit_log_config c = config_of(dir);
    assert_int_equal(audit_log_create(&c, msg), SR_OK);
    path_of(path, dir, "log/checkpoint");
    assert_true(exists(path));
    path_of(path, dir, "log/history/0");
    assert_true(exists(path));
    path_of(path, dir, "audit/journal");
    assert_true(exists(path));
    path_of(path, dir, "log.vkey");
    size_t len;
    char *vkey = (char *)slurp(path, &len);
    assert_non_null(vkey);
    assert_true(len > 0 && vkey[len - 1] == '\n');
    assert_int_equal(strncmp(vkey, ORIGIN "+", strlen(ORIGIN) + 1), 0);
    free(vkey);
    assert_int_equal(audit_log_create(&c, msg), SR_ERR_EXISTS);

    sr_log_report rep;
    assert_int_equal(verify(dir, &rep), SR_OK);
    assert_int_equal(rep.size, 0);
    assert_int_equal(rep.checkpoints, 1); /* history/0 */
    rm_rf(dir);
}

static void appends_from_one_thread_get_consecutive_indexes(void **state)
{
    char dir[64];
    (void)state;
    tmp_make(dir);
    audit_log *l = log_create(dir);
    for (uint64_t i = 0; i < 40; i++)
        assert_int_equal(append_tag(l, i), i);
    assert_int_equal(audit_log_pending_end(l), 40);
    assert_int_equal(checkpoint(l), 40);
    /* Nothing pending: a second checkpoint keeps the size. */
    assert_int_equal(checkpoint(l), 40);
    audit_log_release(l);
    assert_verifies(dir, 40);
    rm_rf(dir);
}

static void appends_from_eight_threads_all_land_once(void **state)
{
    enum { THREADS = 8, PER = 100, N = THREADS * PER };
    char dir[64], rel[TILE_PATH_MAX], path[4096];
    uint64_t idx[N];
    bool seen[N];
    (void)state;
    tmp_make(dir);
    audit_log *l = log_create(dir);
    append_parallel(l, 0, N, THREADS, idx);
    memset(seen, 0, sizeof seen);
    for (unsigned t = 0; t < N; t++) {
        assert_true(idx[t] < N);
        assert_false(seen[idx[t]]);
        seen[idx[t]] = true;
    }
    assert_int_equal(checkpoint(l), N);
    audit_log_release(l);

    /* Each entry sits at the index its append returned. */
    expect x;
    memset(&x, 0, sizeof x);
    x.n = N;
    x.tag_of = malloc(N * sizeof *x.tag_of);
    assert_non_null(x.tag_of);
    for (unsigned t = 0; t < N; t++)
        x.tag_of[idx[t]] = t;
    expect_build(&x);
    char logdir[4096];
    path_of(logdir, dir, "log");
    check_layout(logdir, &x, N);
    assert_int_equal(tile_path(rel, sizeof rel, -1, 3, 32), SR_OK);
    path_of(path, logdir, rel);
    assert_true(exists(path)); /* 800 = 3 * 256 + 32 */
    expect_free(&x);
    assert_verifies(dir, N);
    rm_rf(dir);
}

static void checkpoints_lay_out_full_and_partial_tiles(void **state)
{
    static const struct {
        uint64_t size;
        const char *present[6];
    } cases[] = {
        {1, {"tile/0/000.p/1", "tile/entries/000.p/1", "history/1"}},
        {255, {"tile/0/000.p/255", "tile/entries/000.p/255", "history/255"}},
        {256,
         {"tile/0/000", "tile/entries/000", "tile/1/000.p/1", "history/256"}},
        {257,
         {"tile/0/001.p/1", "tile/entries/001.p/1", "tile/1/000.p/1",
          "history/257"}},
        {BIG_SIZE,
         {"tile/0/272", "tile/0/273.p/112", "tile/entries/273.p/112",
          "tile/1/000", "tile/1/001.p/17", "tile/2/000.p/1"}},
    };
    char logdir[4096], path[4096];
    (void)state;
    path_of(logdir, big, "log");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (size_t j = 0; j < 6 && cases[i].present[j] != NULL; j++) {
            path_of(path, logdir, cases[i].present[j]);
            if (!exists(path))
                print_error("missing %s\n", cases[i].present[j]);
            assert_true(exists(path));
        }
        check_layout(logdir, &bigx, cases[i].size);
    }
    /* Sizes: a level-0 tile of width w is 32 w bytes; a bundle holds each
     * entry behind a 2-byte length. */
    big_path(path, "tile/0/273.p/112");
    assert_int_equal(size_of(path), 112 * 32);
    big_path(path, "tile/1/001.p/17");
    assert_int_equal(size_of(path), 17 * 32);
    big_path(path, "tile/2/000.p/1");
    assert_int_equal(size_of(path), 32);
    big_path(path, "tile/0/000.p/1");
    sr_buf e;
    buf_init(&e, ENTRY_MAX_BYTES);
    make_entry(bigx.tag_of[0], &e);
    big_path(path, "tile/entries/000.p/1");
    assert_int_equal(size_of(path), (off_t)(2 + e.len));
    buf_free(&e);
    /* No tile past the tree: 70000 leaves have no level-3 tile, and no
     * full tile 0/273. */
    big_path(path, "tile/3");
    assert_false(exists(path));
    big_path(path, "tile/0/273");
    assert_false(exists(path));
    /* The root of the tree computed here is the signed one. */
    big_path(path, "checkpoint");
    size_t len;
    char *cp = (char *)slurp(path, &len);
    assert_non_null(cp);
    note_checkpoint parsed;
    size_t body = (size_t)(strstr(cp, "\n\n") - cp) + 1;
    assert_int_equal(note_checkpoint_parse(cp, body, &parsed), SR_OK);
    merkle_leaves ml = {(const uint8_t(*)[HASH])bigx.lv[0], BIG_SIZE};
    uint8_t root[HASH];
    assert_int_equal(merkle_root(merkle_leaves_node, &ml, BIG_SIZE, root),
                     SR_OK);
    assert_memory_equal(parsed.root, root, HASH);
    free(cp);
}

static void the_grown_log_verifies_with_its_history(void **state)
{
    sr_log_report rep;
    (void)state;
    assert_verifies(big, BIG_SIZE);
    assert_int_equal(verify(big, &rep), SR_OK);
    /* history/0, 1, 255, 256, 257, 70000 */
    assert_int_equal(rep.checkpoints, 6);
    assert_int_equal(rep.cosignatures, 0);
}

static void reopening_continues_the_tree(void **state)
{
    char dir[64], path[4096];
    (void)state;
    tmp_make(dir);
    audit_log *l = log_create(dir);
    for (uint64_t i = 0; i < 10; i++)
        assert_int_equal(append_tag(l, i), i);
    audit_log_release(l); /* checkpoints what is pending */
    path_of(path, dir, "log/history/10");
    assert_true(exists(path));
    l = log_open(dir);
    assert_int_equal(audit_log_pending_end(l), 10);
    for (uint64_t i = 10; i < 300; i++)
        assert_int_equal(append_tag(l, i), i);
    assert_int_equal(checkpoint(l), 300);
    audit_log_release(l);
    l = log_open(dir);
    assert_int_equal(append_tag(l, 300), 300);
    audit_log_release(l);
    assert_verifies(dir, 301);
    sr_log_report rep;
    assert_int_equal(verify(dir, &rep), SR_OK);
    assert_int_equal(rep.checkpoints, 4); /* 0, 10, 300, 301 */
    rm_rf(dir);
}

static void two_vaults_keep_two_trees(void **state)
{
    char a[64], b[64];
    (void)state;
    tmp_make(a);
    tmp_make(b);
    audit_log *la = log_create(a), *lb = log_create(b);
    assert_true(la != lb);
    for (uint64_t i = 0; i < 20; i++) {
        assert_int_equal(append_tag(la, i), i);
        if (i % 2 == 0)
            assert_int_equal(append_tag(lb, 1000 + i), i / 2);
    }
    assert_int_equal(checkpoint(la), 20);
    assert_int_equal(checkpoint(lb), 10);
    audit_log_release(la);
    audit_log_release(lb);
    assert_verifies(a, 20);
    assert_verifies(b, 10);
    /* Same key, different trees: b's checkpoint over a's tiles fails. */
    char from[4096], to[4096];
    saved s;
    path_of(from, b, "log/checkpoint");
    path_of(to, a, "log/checkpoint");
    save(&s, a, "log/checkpoint");
    size_t len;
    uint8_t *p = slurp(from, &len);
    spit(to, p, len);
    free(p);
    sr_log_report rep;
    assert_int_equal(verify(a, &rep), SR_ERR_AUDIT);
    restore(&s);
    rm_rf(a);
    rm_rf(b);
}

/* Fork a child that opens the log, appends tags from .. from + n - 1,
 * and dies without releasing it (no checkpoint, no cleanup; the records
 * stay in the journal). Each must land at an index below `below`, and
 * with `exact` at the index of its tag. Returns the child's pid. */
static pid_t fork_appender(const char *vault, uint64_t from, uint64_t n,
                           uint64_t below, bool exact)
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char msg[AUDIT_MSG_MAX];
        audit_log *l = NULL;
        audit_log_config c = config_of(vault);
        sr_buf b;
        buf_init(&b, ENTRY_MAX_BYTES);
        if (audit_log_open(&l, &c, msg) != SR_OK)
            _exit(10);
        for (uint64_t t = from; t < from + n; t++) {
            uint64_t index;
            make_entry(t, &b);
            if (audit_log_append(l, b.p, b.len, &index, msg) != SR_OK ||
                index >= below || (exact && index != t))
                _exit(11);
        }
        _exit(0);
    }
    return pid;
}

/* Wait for fork_appender's child; it must have appended them all. */
static void appender_done(pid_t pid)
{
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* In a child: append tags from .. from + n - 1 at their own indexes, and
 * die without releasing the log. */
static void append_and_crash(const char *vault, uint64_t from, uint64_t n)
{
    appender_done(fork_appender(vault, from, n, UINT64_MAX, true));
}

static void appended_entries_survive_a_crash(void **state)
{
    char dir[64];
    (void)state;
    tmp_make(dir);
    audit_log *l = log_create(dir);
    for (uint64_t i = 0; i < 5; i++)
        assert_int_equal(append_tag(l, i), i);
    assert_int_equal(checkpoint(l), 5);
    audit_log_release(l);

    append_and_crash(dir, 5, 7);
    l = log_open(dir);
    assert_int_equal(audit_log_pending_end(l), 12);
    assert_int_equal(checkpoint(l), 12);
    audit_log_release(l);
    assert_verifies(dir, 12);

    /* The crashed child's entries are the ones in the bundle. */
    char path[4096];
    path_of(path, dir, "log/tile/entries/000.p/12");
    size_t len;
    uint8_t *got = slurp(path, &len);
    assert_non_null(got);
    expect x;
    memset(&x, 0, sizeof x);
    x.n = 12;
    x.tag_of = malloc(12 * sizeof *x.tag_of);
    assert_non_null(x.tag_of);
    for (unsigned i = 0; i < 12; i++)
        x.tag_of[i] = i;
    sr_buf want;
    buf_init(&want, (size_t)256 * 65537);
    expect_bundle(&x, 0, 12, &want);
    assert_int_equal(len, want.len);
    assert_memory_equal(got, want.p, len);
    buf_free(&want);
    free(got);
    expect_free(&x);
    rm_rf(dir);
}

static void witness_cosignatures_are_counted(void **state)
{
    static const uint8_t wseed[32] = {7, 7, 7};
    char dir[64], vk[NOTE_VKEY_MAX];
    note_signer w;
    note_verifier wv;
    (void)state;
    tmp_make(dir);
    audit_log *l = log_create(dir);
    (void)append_tag(l, 1);
    audit_log_release(l);

    assert_int_equal(
        note_signer_from_seed(&w, "witness.test/w1", NOTE_TYPE_COSIG_V1, wseed),
        SR_OK);
    note_verifier_from_signer(&wv, &w);
    assert_int_equal(note_vkey_format(&wv, vk, sizeof vk), SR_OK);
    const char *wkeys[1] = {vk};
    sr_log_verify_options opt;
    memset(&opt, 0, sizeof opt);
    opt.witness_vkeys = wkeys;
    opt.witness_count = 1;
    opt.min_cosignatures = 1;
    sr_log_report rep;
    char *key = vkey_of(dir);

    /* Not cosigned yet. */
    assert_int_equal(verify_with(dir, key, &opt, &rep), SR_ERR_AUDIT);
    assert_non_null(strstr(rep.message, "0 valid witness cosignatures"));

    /* Cosign: the line is appended to the signed checkpoint. */
    char path[4096];
    path_of(path, dir, "log/checkpoint");
    size_t len;
    char *cp = (char *)slurp(path, &len);
    assert_non_null(cp);
    size_t body = (size_t)(strstr(cp, "\n\n") - cp) + 1;
    sr_buf note;
    buf_init(&note, 1 << 16);
    assert_int_equal(buf_append(&note, cp, len), SR_OK);
    assert_int_equal(note_cosign(cp, body, 1764000000, &w, &note), SR_OK);
    spit(path, note.p, note.len);
    assert_int_equal(verify_with(dir, key, &opt, &rep), SR_OK);
    assert_int_equal(rep.cosignatures, 1);

    /* More than there are witnesses is a caller's error. */
    opt.min_cosignatures = 2;
    assert_int_equal(verify_with(dir, key, &opt, &rep), SR_ERR_INVALID);
    /* One witness key given twice is refused, not counted twice. */
    const char *dup[2] = {vk, vk};
    opt.witness_vkeys = dup;
    opt.witness_count = 2;
    opt.min_cosignatures = 2;
    assert_int_equal(verify_with(dir, key, &opt, &rep), SR_ERR_INVALID);

    note_signer_wipe(&w);
    buf_free(&note);
    free(cp);
    free(key);
    rm_rf(dir);
}

static void bad_keys_and_arguments_are_refused(void **state)
{
    sr_log_report rep;
    char *key = vkey_of(big);
    (void)state;
    assert_int_equal(verify_with(big, "not a key", NULL, &rep), SR_ERR_INVALID);
    assert_true(rep.first_bad == UINT64_MAX);
    assert_int_equal(sr_log_verify(NULL, key, NULL, &rep), SR_ERR_INVALID);
    assert_int_equal(sr_log_verify("/nonexistent/sr", key, NULL, &rep),
                     SR_ERR_NOT_FOUND);
    assert_non_null(strstr(rep.message, "checkpoint"));
    free(key);
}

/* ---- tests: tampering with the big log ---------------------------------- */

/* Where needle first occurs in p[0..len). */
static const uint8_t *find(const uint8_t *p, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(p + i, needle, n) == 0)
            return p + i;
    return NULL;
}

static void an_edited_entry_is_named(void **state)
{
    saved s;
    (void)state;
    /* Entry 1000 (tile 3, hash 232): a byte of its case id, so that it
     * still decodes. */
    save(&s, big, "log/tile/entries/003");
    sr_buf e;
    buf_init(&e, ENTRY_MAX_BYTES);
    make_entry(bigx.tag_of[1000], &e);
    const uint8_t *c = find(e.p, e.len, "C-2026-");
    assert_non_null(c);
    size_t off = entry_offset(1000) + 2 + (size_t)(c - e.p) + 8;
    flip_byte(s.path, off);
    assert_fails(big, "entry 1000 differs", 1000);
    restore(&s);

    /* One that no longer decodes: its version byte. */
    save(&s, big, "log/tile/entries/003");
    flip_byte(s.path, entry_offset(1000) + 2);
    assert_fails(big, "entry 1000", 1000);
    restore(&s);

    /* In the partial bundle at the right edge, where only the signed root
     * can tell the entry from the tile. */
    save(&s, big, "log/tile/entries/273.p/112");
    make_entry(bigx.tag_of[69990], &e);
    c = find(e.p, e.len, "C-2026-");
    off = entry_offset(69990) + 2 + (size_t)(c - e.p) + 9;
    flip_byte(s.path, off);
    assert_fails(big, "entry 69990 differs", 69990);
    restore(&s);
    buf_free(&e);
    assert_verifies(big, BIG_SIZE);
}

static void an_entry_edited_with_its_tile_hash_is_still_caught(void **state)
{
    saved b, t;
    uint8_t leaf[HASH];
    (void)state;
    /* Entry 1000 edited, and hash 232 of tile 0/003 made to match it: the
     * level-1 hash over that tile gives it away, and the signed root says
     * the entries, not the tiles, are what changed. */
    save(&b, big, "log/tile/entries/003");
    save(&t, big, "log/tile/0/003");
    size_t off = entry_offset(1000), next = entry_offset(1001);
    flip_byte(b.path, off + 2 + 20);
    size_t len;
    uint8_t *p = slurp(b.path, &len);
    assert_non_null(p);
    merkle_leaf_hash(p + off + 2, next - off - 2, leaf);
    free(p);
    p = slurp(t.path, &len);
    assert_non_null(p);
    memcpy(p + 232 * HASH, leaf, HASH);
    spit(t.path, p, len);
    free(p);
    assert_fails(big, "entries 768 to 1023 do not hash to tile 1/000 hash 3",
                 768);
    restore(&b);
    restore(&t);
    assert_verifies(big, BIG_SIZE);
}

static void an_edited_tile_hash_is_named(void **state)
{
    saved s;
    (void)state;
    save(&s, big, "log/tile/0/004");
    flip_byte(s.path, 17 * 32 + 3);
    assert_fails(big, "tile 0/004: hash 17 differs", UINT64_MAX);
    restore(&s);

    save(&s, big, "log/tile/0/273.p/112");
    flip_byte(s.path, 5 * 32);
    assert_fails(big, "tile 0/273.p/112: hash 5 differs", UINT64_MAX);
    restore(&s);

    save(&s, big, "log/tile/1/000");
    flip_byte(s.path, 7 * 32 + 31);
    assert_fails(big, "tile 1/000: hash 7 differs", UINT64_MAX);
    restore(&s);

    save(&s, big, "log/tile/1/001.p/17");
    flip_byte(s.path, 3 * 32 + 9);
    assert_fails(big, "tile 1/001.p/17: hash 3 differs", UINT64_MAX);
    restore(&s);

    save(&s, big, "log/tile/2/000.p/1");
    flip_byte(s.path, 0);
    assert_fails(big, "tile 2/000.p/1: hash 0 differs", UINT64_MAX);
    restore(&s);

    /* A tile cut short is named too. */
    save(&s, big, "log/tile/0/100");
    spit(s.path, s.p, s.len - 1);
    assert_fails(big, "tile 0/100: 8191 bytes, expected 8192", UINT64_MAX);
    restore(&s);
    assert_verifies(big, BIG_SIZE);
}

static void a_dropped_entry_is_named(void **state)
{
    saved s;
    (void)state;
    /* Entry 522 is hash 10 of bundle 2. */
    save(&s, big, "log/tile/entries/002");
    size_t a = entry_offset(522), b = entry_offset(523);
    uint8_t *p = malloc(s.len);
    assert_non_null(p);
    memcpy(p, s.p, a);
    memcpy(p + a, s.p + b, s.len - b);
    spit(s.path, p, s.len - (b - a));
    free(p);
    assert_fails(big, "entry 522", 522);
    assert_fails(big, "holds 255 entries where 256 are expected", 522);
    restore(&s);
    assert_verifies(big, BIG_SIZE);
}

static void swapped_entries_are_named(void **state)
{
    saved s;
    (void)state;
    /* Entries 600 and 601: hashes 88 and 89 of bundle 2. */
    save(&s, big, "log/tile/entries/002");
    size_t a = entry_offset(600), b = entry_offset(601), c = entry_offset(602);
    uint8_t *p = malloc(s.len);
    assert_non_null(p);
    memcpy(p, s.p, s.len);
    memcpy(p + a, s.p + b, c - b);
    memcpy(p + a + (c - b), s.p + a, b - a);
    spit(s.path, p, s.len);
    free(p);
    assert_fails(big, "entry 600 differs", 600);
    restore(&s);
    assert_verifies(big, BIG_SIZE);
}

static void a_truncated_log_is_named(void **state)
{
    saved b, t;
    (void)state;
    save(&b, big, "log/tile/entries/273.p/112");
    save(&t, big, "log/tile/0/273.p/112");
    assert_int_equal(unlink(b.path), 0);
    assert_int_equal(unlink(t.path), 0);
    assert_fails(big, "entry bundle entries/273.p/112 is missing", 69888);
    restore(&b);
    restore(&t);

    /* A full bundle gone from the middle. */
    save(&b, big, "log/tile/entries/100");
    assert_int_equal(unlink(b.path), 0);
    assert_fails(big, "entry bundle entries/100 is missing", 25600);
    restore(&b);
    assert_verifies(big, BIG_SIZE);
}

static void a_rolled_back_checkpoint_is_caught_by_history(void **state)
{
    saved cp;
    char hist[4096];
    (void)state;
    /* The checkpoint of size 257, validly signed, put back over the one of
     * 70000: the tiles do cover 257, but history/ knows better. */
    save(&cp, big, "log/checkpoint");
    big_path(hist, "history/257");
    size_t len;
    uint8_t *p = slurp(hist, &len);
    assert_non_null(p);
    spit(cp.path, p, len);
    free(p);
    assert_fails(big, "history/70000: size 70000 is past the checkpoint's",
                 UINT64_MAX);
    restore(&cp);
    assert_verifies(big, BIG_SIZE);
}

static void a_checkpoint_signed_by_another_key_fails(void **state)
{
    saved cp;
    note_checkpoint parsed;
    (void)state;
    save(&cp, big, "log/checkpoint");
    size_t body = (size_t)((uint8_t *)strstr((char *)cp.p, "\n\n") - cp.p) + 1;
    assert_int_equal(note_checkpoint_parse((char *)cp.p, body, &parsed), SR_OK);
    sr_buf note;
    buf_init(&note, 1 << 16);
    make_checkpoint(other_seed, parsed.size, parsed.root, &note);
    spit(cp.path, note.p, note.len);
    assert_fails(big, "checkpoint: not signed by the log key", UINT64_MAX);
    buf_free(&note);
    restore(&cp);
    assert_verifies(big, BIG_SIZE);
}

static void a_forked_history_checkpoint_is_named(void **state)
{
    saved h;
    char path[4096];
    uint8_t root[HASH];
    sr_buf note;
    sr_log_report rep;
    (void)state;
    buf_init(&note, 1 << 16);

    /* A validly signed checkpoint of size 256 with another root. */
    save(&h, big, "log/history/256");
    memset(root, 0xab, sizeof root);
    make_checkpoint(sign_seed, 256, root, &note);
    spit(h.path, note.p, note.len);
    assert_fails(big, "history/256: its root differs", UINT64_MAX);
    restore(&h);

    /* A size that never was checkpointed: consistent is fine, a fork is
     * not. */
    big_path(path, "history/1000");
    assert_int_equal(
        merkle_root_of_leaves((const uint8_t(*)[HASH])bigx.lv[0], 1000, root),
        SR_OK);
    buf_reset(&note);
    make_checkpoint(sign_seed, 1000, root, &note);
    spit(path, note.p, note.len);
    assert_int_equal(verify(big, &rep), SR_OK);
    assert_int_equal(rep.checkpoints, 7);
    root[0] ^= 1;
    buf_reset(&note);
    make_checkpoint(sign_seed, 1000, root, &note);
    spit(path, note.p, note.len);
    assert_fails(big, "history/1000: its root differs", UINT64_MAX);

    /* Signed by another key; named for another size. */
    root[0] ^= 1;
    buf_reset(&note);
    make_checkpoint(other_seed, 1000, root, &note);
    spit(path, note.p, note.len);
    assert_fails(big, "history/1000: not signed by the log key", UINT64_MAX);
    buf_reset(&note);
    make_checkpoint(sign_seed, 999, root, &note);
    spit(path, note.p, note.len);
    assert_fails(big, "history/1000: holds the checkpoint of size 999",
                 UINT64_MAX);
    assert_int_equal(unlink(path), 0);

    /* The leftover of an interrupted atomic write is no checkpoint. */
    big_path(path, "history/1000.tmp4242");
    spit(path, "junk", 4);
    assert_verifies(big, BIG_SIZE);
    assert_int_equal(unlink(path), 0);
    buf_free(&note);
}

/* ---- tests: what audit_log_open refuses ---------------------------------- */

/* A small vault whose journal holds unintegrated records 5 .. 9 after a
 * crash; *rec_off is where record `which` starts in the journal. */
static void vault_with_pending(char dir[64], unsigned which, size_t *rec_off)
{
    tmp_make(dir);
    audit_log *l = log_create(dir);
    for (uint64_t i = 0; i < 5; i++)
        assert_int_equal(append_tag(l, i), i);
    assert_int_equal(checkpoint(l), 5);
    audit_log_release(l);
    append_and_crash(dir, 5, 5);
    /* Journal: 32-byte header, then records of 4 + 8 + len + 16 bytes. */
    sr_buf e;
    buf_init(&e, ENTRY_MAX_BYTES);
    *rec_off = 32;
    for (unsigned r = 0; r < which; r++) {
        make_entry(5 + r, &e);
        *rec_off += 28 + e.len;
    }
    buf_free(&e);
}

static void an_edited_journal_record_fails_open(void **state)
{
    char dir[64], path[4096];
    size_t off;
    audit_log *l = NULL;
    (void)state;
    vault_with_pending(dir, 2, &off);
    path_of(path, dir, "audit/journal");
    flip_byte(path, off + 12 + 3); /* a byte of record 2's entry */
    assert_open_fails(dir, "journal");
    flip_byte(path, off + 12 + 3);
    l = log_open(dir);
    assert_int_equal(checkpoint(l), 10);
    audit_log_release(l);
    assert_verifies(dir, 10);
    rm_rf(dir);
}

static void an_edited_record_length_fails_open(void **state)
{
    char dir[64], path[4096];
    size_t off;
    audit_log *l = NULL;
    (void)state;
    /* Record 2's length over 65535: no writer writes that, so it is
     * damage, not a torn tail to be cut off with records 2 to 4. */
    vault_with_pending(dir, 2, &off);
    path_of(path, dir, "audit/journal");
    off_t before = size_of(path);
    flip_byte(path, off + 1);
    assert_open_fails(dir, NULL);
    assert_int_equal(size_of(path), before); /* nothing cut */
    flip_byte(path, off + 1);
    l = log_open(dir);
    assert_int_equal(audit_log_pending_end(l), 10);
    audit_log_release(l);
    assert_verifies(dir, 10);
    rm_rf(dir);
}

/* The end of record `which` (0 .. 4) of vault_with_pending's journal. */
static size_t pending_record_end(unsigned which)
{
    size_t off;
    sr_buf e;
    buf_init(&e, ENTRY_MAX_BYTES);
    off = 32;
    for (unsigned r = 0; r <= which; r++) {
        make_entry(5 + r, &e);
        off += 28 + e.len;
    }
    buf_free(&e);
    return off;
}

static void a_torn_last_journal_record_is_dropped(void **state)
{
    char dir[64], path[4096];
    size_t off;
    (void)state;
    vault_with_pending(dir, 4, &off);
    path_of(path, dir, "audit/journal");
    /* Cut off by the end of the file: three bytes short of its end. */
    size_t end = pending_record_end(4);
    assert_true((size_t)size_of(path) >= end);
    assert_int_equal(truncate(path, (off_t)(end - 3)), 0);
    audit_log *l = log_open(dir);
    assert_int_equal(audit_log_pending_end(l), 9);
    assert_int_equal(size_of(path), (off_t)off); /* cut at its start */
    assert_int_equal(checkpoint(l), 9);
    audit_log_release(l);
    assert_verifies(dir, 9);
    rm_rf(dir);
}

/* Zero bytes [from, to) of the file at path. */
static void zero_range(const char *path, size_t from, size_t to)
{
    size_t len;
    uint8_t *p = slurp(path, &len);
    assert_non_null(p);
    assert_true(from <= to && to <= len);
    memset(p + from, 0, to - from);
    spit(path, p, len);
    free(p);
}

static void an_append_keeps_the_journal_size_and_its_room_is_zeros(void **state)
{
    char dir[64], path[4096];
    (void)state;
    tmp_make(dir);
    audit_log *l = log_create(dir);
    path_of(path, dir, "audit/journal");
    assert_int_equal(append_tag(l, 0), 0);
    off_t grown = size_of(path);
    /* Room written ahead: the next appends overwrite it and the file's
     * size (so its inode) does not change with them. */
    assert_true(grown >= 16 * 1024);
    assert_int_equal(grown % 4096, 0);
    for (uint64_t i = 1; i < 5; i++) {
        assert_int_equal(append_tag(l, i), i);
        assert_int_equal(size_of(path), grown);
    }
    /* The journal holds the five records, then only zeros. */
    size_t len;
    uint8_t *p = slurp(path, &len);
    assert_non_null(p);
    sr_buf e;
    buf_init(&e, ENTRY_MAX_BYTES);
    size_t end = 32;
    for (uint64_t i = 0; i < 5; i++) {
        make_entry(i, &e);
        assert_int_equal(p[end + 3], (uint8_t)(e.len & 0xff));
        end += 28 + e.len;
    }
    buf_free(&e);
    for (size_t i = end; i < len; i++)
        assert_int_equal(p[i], 0);
    free(p);
    /* Appends go on past the room: it grows. */
    for (uint64_t i = 5; i < 200; i++)
        assert_int_equal(append_tag(l, i), i);
    assert_true(size_of(path) > grown);
    assert_int_equal(checkpoint(l), 200);
    audit_log_release(l);
    assert_verifies(dir, 200);
    rm_rf(dir);
}

static void two_processes_append_into_one_room(void **state)
{
    char dir[64], path[4096];
    pid_t kids[2];
    (void)state;
    /* Each process grows the room when it runs out, and finds what the
     * other wrote there: 2 x 300 appends, interleaved, through several
     * growths; every one lands once. */
    tmp_make(dir);
    audit_log *l = log_create(dir);
    audit_log_release(l);
    for (int k = 0; k < 2; k++)
        kids[k] =
            fork_appender(dir, 1000u * (uint64_t)(k + 1), 300, 600, false);
    for (int k = 0; k < 2; k++)
        appender_done(kids[k]);
    path_of(path, dir, "audit/journal");
    assert_int_equal(size_of(path) % 4096, 0);
    l = log_open(dir);
    assert_int_equal(audit_log_pending_end(l), 600);
    assert_int_equal(checkpoint(l), 600);
    audit_log_release(l);
    assert_verifies(dir, 600);
    rm_rf(dir);
}

static void a_record_torn_in_the_room_is_dropped(void **state)
{
    char dir[64], path[4096];
    size_t off;
    (void)state;
    /* A crash of the machine wrote the first part of record 9 into the
     * room and lost the rest, its MAC among it: zeros there. */
    vault_with_pending(dir, 4, &off);
    path_of(path, dir, "audit/journal");
    size_t end = pending_record_end(4);
    assert_true((size_t)size_of(path) > end);
    zero_range(path, off + 40, end);
    audit_log *l = log_open(dir);
    assert_int_equal(audit_log_pending_end(l), 9);
    assert_int_equal(size_of(path), (off_t)off); /* cut at its start */
    assert_int_equal(append_tag(l, 9), 9);
    assert_int_equal(checkpoint(l), 10);
    audit_log_release(l);
    assert_verifies(dir, 10);
    rm_rf(dir);
}

static void a_zeroed_mac_with_records_after_it_fails_open(void **state)
{
    char dir[64], path[4096];
    size_t off;
    (void)state;
    /* Record 7's MAC zeroed, records 8 and 9 whole after it: damage, not
     * a torn tail, and nothing is cut. */
    vault_with_pending(dir, 2, &off);
    path_of(path, dir, "audit/journal");
    size_t end = pending_record_end(2);
    off_t before = size_of(path);
    zero_range(path, end - 16, end);
    assert_open_fails(dir, "entry 7");
    assert_int_equal(size_of(path), before);
    rm_rf(dir);
}

static void bytes_after_the_records_are_cut_at_open(void **state)
{
    char dir[64], path[4096];
    size_t off;
    (void)state;
    /* A crash of the machine lost the first sector of an append (record
     * 9's header) and kept a later one: bytes after the end of the
     * records, where the next append would land amid them. */
    vault_with_pending(dir, 4, &off);
    path_of(path, dir, "audit/journal");
    size_t end = pending_record_end(4);
    zero_range(path, off, off + 12);
    assert_true((size_t)size_of(path) > end);
    audit_log *l = log_open(dir);
    assert_int_equal(audit_log_pending_end(l), 9);
    assert_int_equal(size_of(path), (off_t)off);
    for (uint64_t i = 9; i < 40; i++)
        assert_int_equal(append_tag(l, i), i);
    assert_int_equal(checkpoint(l), 40);
    audit_log_release(l);
    assert_verifies(dir, 40);
    rm_rf(dir);
}

/* A vault of 300 entries (tiles 0/000, 0/001.p/44, 1/000.p/1). */
static void vault_of_300(char dir[64])
{
    tmp_make(dir);
    audit_log *l = log_create(dir);
    for (uint64_t i = 0; i < 300; i++)
        assert_int_equal(append_tag(l, i), i);
    assert_int_equal(checkpoint(l), 300);
    audit_log_release(l);
}

static void tiles_that_miss_the_checkpoint_fail_open(void **state)
{
    static const struct {
        const char *rel;
        size_t off;
    } edits[] = {
        {"log/tile/1/000.p/1", 4},        /* a frontier node */
        {"log/tile/0/001.p/44", 40 * 32}, /* under the frontier */
        {"log/tile/0/001.p/44", 0},
    };
    char dir[64], path[4096], msg[AUDIT_MSG_MAX];
    (void)state;
    vault_of_300(dir);
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        audit_log *l = NULL;
        audit_log_config c = config_of(dir);
        path_of(path, dir, edits[i].rel);
        flip_byte(path, edits[i].off);
        sr_status st = audit_log_open(&l, &c, msg);
        if (st != SR_ERR_AUDIT)
            print_error("%s: open gave %d\n", edits[i].rel, (int)st);
        assert_int_equal(st, SR_ERR_AUDIT);
        assert_null(l);
        flip_byte(path, edits[i].off);
    }
    assert_verifies(dir, 300);
    rm_rf(dir);
}

static void a_damaged_partial_bundle_is_not_extended(void **state)
{
    char dir[64], path[4096], msg[AUDIT_MSG_MAX];
    uint64_t size = 0;
    (void)state;
    vault_of_300(dir);
    path_of(path, dir, "log/tile/entries/001.p/44");
    flip_byte(path, 40);
    audit_log *l = log_open(dir);
    for (uint64_t i = 300; i < 520; i++)
        assert_int_equal(append_tag(l, i), i);
    /* Integrating would copy the damaged entries into the full bundle 1
     * and sign a checkpoint over them. */
    assert_int_equal(audit_log_checkpoint(l, &size, msg), SR_ERR_AUDIT);
    flip_byte(path, 40);
    assert_int_equal(checkpoint(l), 520);
    audit_log_release(l);
    assert_verifies(dir, 520);
    rm_rf(dir);
}

/* The root through tilefs with the node index, as a proof server reads. */
static void root_through_index(const char *dir, uint64_t size,
                               uint8_t root[HASH])
{
    char logdir[4096], nodes[4096];
    tilefs *t = NULL;
    path_of(logdir, dir, "log");
    path_of(nodes, dir, "audit/nodes");
    assert_int_equal(tilefs_open(&t, logdir, nodes, size), SR_OK);
    assert_int_equal(merkle_root(tilefs_node, t, size, root), SR_OK);
    tilefs_free(t);
}

static void the_node_index_is_only_a_cache(void **state)
{
    char dir[64], path[4096];
    uint8_t want[HASH], got[HASH];
    (void)state;
    vault_of_300(dir);
    /* The whole index gone: checkpoints go on and start it again. */
    path_of(path, dir, "audit/nodes");
    rm_rf(path);
    audit_log *l = log_open(dir);
    for (uint64_t i = 300; i < 600; i++)
        assert_int_equal(append_tag(l, i), i);
    assert_int_equal(checkpoint(l), 600);
    /* One file gone: rewritten from a later node on, with a hole before
     * it, which readers must not take for hashes. */
    path_of(path, dir, "audit/nodes/03");
    assert_int_equal(unlink(path), 0);
    for (uint64_t i = 600; i < 700; i++)
        assert_int_equal(append_tag(l, i), i);
    assert_int_equal(checkpoint(l), 700);
    audit_log_release(l);
    assert_true(exists(path));
    assert_verifies(dir, 700);
    root_through_index(dir, 700, got);
    expect x;
    memset(&x, 0, sizeof x);
    x.n = 700;
    x.tag_of = malloc(700 * sizeof *x.tag_of);
    assert_non_null(x.tag_of);
    for (unsigned i = 0; i < 700; i++)
        x.tag_of[i] = i;
    expect_build(&x);
    assert_int_equal(
        merkle_root_of_leaves((const uint8_t(*)[HASH])x.lv[0], 700, want),
        SR_OK);
    assert_memory_equal(got, want, HASH);
    /* And at 600 = 512 + 64 + 16 + 8, whose frontier takes node (3, 74)
     * from the index: in the hole, as nodes/03 restarted at (3, 75). */
    root_through_index(dir, 600, got);
    assert_int_equal(
        merkle_root_of_leaves((const uint8_t(*)[HASH])x.lv[0], 600, want),
        SR_OK);
    assert_memory_equal(got, want, HASH);
    expect_free(&x);
    rm_rf(dir);
}

/* ---- an independent builder, and the rate ------------------------------- */

typedef struct builder {
    char logdir[4096];
    uint8_t lv[8][256][HASH];
} builder;

static void build_write(builder *b, int level, uint64_t n, unsigned w,
                        const void *p, size_t len)
{
    char rel[TILE_PATH_MAX], path[4096];
    assert_int_equal(tile_path(rel, sizeof rel, level, n, w), SR_OK);
    path_of(path, b->logdir, rel);
    assert_int_equal(dirs_for_file(path, 0755), SR_OK);
    spit(path, p, len);
}

static sr_status build_emit(void *ctx, unsigned height, uint64_t index,
                            const uint8_t hash[HASH])
{
    builder *b = ctx;
    if (height % 8 != 0)
        return SR_OK;
    memcpy(b->lv[height / 8][index % 256], hash, HASH);
    if (index % 256 == 255)
        build_write(b, (int)(height / 8), index / 256, 256, b->lv[height / 8],
                    sizeof b->lv[0]);
    return SR_OK;
}

/* Write a log of entries make_entry(0 .. n-1) straight from the pure
 * modules (tile names, bundles, the frontier, notes), without log.c and
 * without fsync: the cross-check of log.c's layout, and a quick way to a
 * large log. */
static void build_direct(const char *vault, uint64_t n)
{
    builder *b = calloc(1, sizeof *b);
    merkle_frontier f;
    sr_buf e, bundle, note;
    uint8_t root[HASH];
    char path[4096];
    assert_non_null(b);
    path_of(b->logdir, vault, "log");
    buf_init(&e, ENTRY_MAX_BYTES);
    buf_init(&bundle, (size_t)256 * 65537);
    buf_init(&note, 1 << 16);
    merkle_frontier_init(&f);
    for (uint64_t i = 0; i < n; i++) {
        uint8_t leaf[HASH];
        make_entry(i, &e);
        assert_int_equal(bundle_add(&bundle, e.p, e.len), SR_OK);
        if (i % 256 == 255) {
            build_write(b, -1, i / 256, 256, bundle.p, bundle.len);
            buf_reset(&bundle);
        }
        merkle_leaf_hash(e.p, e.len, leaf);
        assert_int_equal(merkle_frontier_append(&f, leaf, build_emit, b),
                         SR_OK);
    }
    for (unsigned l = 0; l < 8; l++) {
        uint64_t count = tile_level_count(l, n);
        if (count % 256 != 0)
            build_write(b, (int)l, count / 256, (unsigned)(count % 256),
                        b->lv[l], (count % 256) * HASH);
    }
    if (n % 256 != 0)
        build_write(b, -1, n / 256, (unsigned)(n % 256), bundle.p, bundle.len);
    merkle_frontier_root(&f, root);
    make_checkpoint(sign_seed, n, root, &note);
    path_of(path, b->logdir, "checkpoint");
    spit(path, note.p, note.len);

    /* log.vkey, as audit_log_create writes it. */
    note_signer s;
    note_verifier v;
    char vk[NOTE_VKEY_MAX + 1];
    assert_int_equal(
        note_signer_from_seed(&s, ORIGIN, NOTE_TYPE_ED25519, sign_seed), SR_OK);
    note_verifier_from_signer(&v, &s);
    note_signer_wipe(&s);
    assert_int_equal(note_vkey_format(&v, vk, sizeof vk), SR_OK);
    size_t vl = strlen(vk);
    vk[vl] = '\n';
    path_of(path, vault, "log.vkey");
    spit(path, vk, vl + 1);
    buf_free(&e);
    buf_free(&bundle);
    buf_free(&note);
    free(b);
}

static void log_c_writes_what_an_independent_builder_writes(void **state)
{
    enum { N = 1000 };
    char a[64], b[64], rel[TILE_PATH_MAX], pa[4096], pb[4096];
    (void)state;
    tmp_make(a);
    tmp_make(b);
    audit_log *l = log_create(a);
    for (uint64_t i = 0; i < N; i++)
        assert_int_equal(append_tag(l, i), i);
    assert_int_equal(checkpoint(l), N);
    audit_log_release(l);
    build_direct(b, N);
    assert_verifies(b, N);

    /* Every file of the builder's, byte for byte: tiles, bundles, the
     * checkpoint (Ed25519 signatures are deterministic) and log.vkey. */
    const char *fixed[] = {"log/checkpoint", "log.vkey"};
    for (size_t i = 0; i < 2; i++) {
        size_t la, lb;
        path_of(pa, a, fixed[i]);
        path_of(pb, b, fixed[i]);
        uint8_t *x = slurp(pa, &la), *y = slurp(pb, &lb);
        assert_non_null(x);
        assert_non_null(y);
        assert_int_equal(la, lb);
        assert_memory_equal(x, y, la);
        free(x);
        free(y);
    }
    for (int level = -1; level < 2; level++) {
        uint64_t count = level < 1 ? N : N >> 8;
        for (uint64_t n = 0; n * 256 < count; n++) {
            size_t la, lb;
            unsigned w = tile_width(level, n, N);
            assert_int_equal(tile_path(rel, sizeof rel, level, n, w), SR_OK);
            char r2[TILE_PATH_MAX + 8];
            (void)snprintf(r2, sizeof r2, "log/%s", rel);
            path_of(pa, a, r2);
            path_of(pb, b, r2);
            uint8_t *x = slurp(pa, &la), *y = slurp(pb, &lb);
            assert_non_null(x);
            assert_non_null(y);
            assert_int_equal(la, lb);
            assert_memory_equal(x, y, la);
            free(x);
            free(y);
        }
    }
    rm_rf(a);
    rm_rf(b);
}

static void verify_rate_on_a_large_log(void **state)
{
    const char *env = getenv("SR_AUDIT_BENCH_ENTRIES");
    char dir[64];
    struct timespec t0, t1;
    sr_log_report rep;
    (void)state;
    if (env == NULL)
        skip();
    uint64_t n = strtoull(env, NULL, 10);
    assert_true(n > 0);
    tmp_make(dir);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    build_direct(dir, n);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double build = (double)(t1.tv_sec - t0.tv_sec) +
                   (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    for (int run = 0; run < 3; run++) {
        clock_gettime(CLOCK_MONOTONIC, &t0);
        assert_int_equal(verify(dir, &rep), SR_OK);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double s = (double)(t1.tv_sec - t0.tv_sec) +
                   (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        print_message("verify: %llu entries in %.3f s: %.0f entries/s "
                      "(built in %.1f s)\n",
                      (unsigned long long)rep.entries, s,
                      (double)rep.entries / s, build);
    }
    rm_rf(dir);
}

#define T(fn) cmocka_unit_test_teardown(fn, tmp_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(create_writes_an_empty_signed_log),
        T(appends_from_one_thread_get_consecutive_indexes),
        T(appends_from_eight_threads_all_land_once),
        T(checkpoints_lay_out_full_and_partial_tiles),
        T(the_grown_log_verifies_with_its_history),
        T(reopening_continues_the_tree),
        T(two_vaults_keep_two_trees),
        T(appended_entries_survive_a_crash),
        T(witness_cosignatures_are_counted),
        T(bad_keys_and_arguments_are_refused),
        T(an_edited_entry_is_named),
        T(an_entry_edited_with_its_tile_hash_is_still_caught),
        T(an_edited_tile_hash_is_named),
        T(a_dropped_entry_is_named),
        T(swapped_entries_are_named),
        T(a_truncated_log_is_named),
        T(a_rolled_back_checkpoint_is_caught_by_history),
        T(a_checkpoint_signed_by_another_key_fails),
        T(a_forked_history_checkpoint_is_named),
        T(an_edited_journal_record_fails_open),
        T(an_edited_record_length_fails_open),
        T(a_torn_last_journal_record_is_dropped),
        T(an_append_keeps_the_journal_size_and_its_room_is_zeros),
        T(two_processes_append_into_one_room),
        T(a_record_torn_in_the_room_is_dropped),
        T(a_zeroed_mac_with_records_after_it_fails_open),
        T(bytes_after_the_records_are_cut_at_open),
        T(tiles_that_miss_the_checkpoint_fail_open),
        T(a_damaged_partial_bundle_is_not_extended),
        T(the_node_index_is_only_a_cache),
        T(log_c_writes_what_an_independent_builder_writes),
        T(verify_rate_on_a_large_log),
    };
    return cmocka_run_group_tests(tests, big_setup, big_teardown);
}
