/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_audit_proofs.c - proofs as readers get them, and bulk appends:
 *
 * - the vault hands out inclusion and consistency proofs that check
 *   against the SIGNED checkpoint, even when the node index (a derived
 *   cache under audit/nodes) has been damaged: the index is then passed
 *   over and the proof rebuilt from the tiles (docs/audit.md, "Node
 *   index");
 * - a long-lived tilefs view that maps the node index (after
 *   TILEFS_MAP_AFTER reads of a height) answers every node exactly as a
 *   view reading the tiles alone;
 * - audit_log_append_many lands its batch at consecutive indexes while
 *   other threads append one entry at a time, and the log verifies.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "suite_store.h"
#include "audit/entry.h"
#include "audit/log.h"
#include "audit/merkle.h"
#include "audit/note.h"
#include "audit/tile.h"
#include "audit/tilefs.h"
#include "strongroom/strongroom.h"
#include "util/util.h"

#define PASS "proof test passphrase"
#define ENTRIES 700u

static void rm_rf(const char *path)
{
    char cmd[300];
    (void)snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0)
        print_message("cannot remove %s\n", path);
}

static void tmp_make(char out[64])
{
    memcpy(out, "/tmp/sr_proofs_XXXXXX", 22);
    assert_non_null(mkdtemp(out));
}

static void flip_byte(const char *path, long off)
{
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, off, SEEK_SET), 0);
    int c = fgetc(f);
    assert_true(c != EOF);
    assert_int_equal(fseek(f, off, SEEK_SET), 0);
    assert_int_not_equal(fputc(c ^ 0x40, f), EOF);
    assert_int_equal(fclose(f), 0);
}

/* ---- a vault with a log of some hundred entries -------------------------- */

typedef struct fixture {
    char root[64];
    char vault[128];
    sr_vault *v; /* the auditor's */
    char token[SR_TOKEN_MAX];
    uint64_t size;
    uint8_t head[32];
} fixture;

static sr_status keep_line(void *ctx, const char *line, size_t len)
{
    json_error_t err;
    json_t **out = ctx;
    json_decref(*out);
    *out = json_loadb(line, len, 0, &err);
    return *out != NULL ? SR_OK : SR_ERR_INVALID;
}

static void b64_of(json_t *o, const char *key, uint8_t out[32])
{
    const char *s = json_string_value(json_object_get(o, key));
    size_t n = 0;
    assert_non_null(s);
    assert_int_equal(sodium_base642bin(out, 32, s, strlen(s), NULL, &n, NULL,
                                       sodium_base64_VARIANT_ORIGINAL),
                     0);
    assert_int_equal(n, 32);
}

static size_t path_of(json_t *o, const char *key, uint8_t (*p)[32])
{
    json_t *a = json_object_get(o, key);
    size_t i;
    json_t *x;
    assert_true(json_is_array(a));
    json_array_foreach(a, i, x) {
        size_t n = 0;
        const char *s = json_string_value(x);
        assert_true(i < MERKLE_PROOF_MAX);
        assert_int_equal(sodium_base642bin(p[i], 32, s, strlen(s), NULL, &n,
                                           NULL,
                                           sodium_base64_VARIANT_ORIGINAL),
                         0);
    }
    return json_array_size(a);
}

/* The signed head, as sr_vault_audit_checkpoint returns it. */
static void head_of(fixture *fx)
{
    char *note = NULL;
    note_checkpoint cp;
    assert_int_equal(sr_vault_audit_checkpoint(fx->v, &note, &fx->size), SR_OK);
    const char *blank = strstr(note, "\n\n");
    assert_non_null(blank);
    assert_int_equal(
        note_checkpoint_parse(note, (size_t)(blank - note) + 1, &cp), SR_OK);
    assert_int_equal(cp.size, fx->size);
    memcpy(fx->head, cp.root, 32);
    free(note);
}

static int vault_setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    sr_init_options opt = {SR_KDF_INTERACTIVE, 1000, NULL, 0, NULL, 0, NULL};
    char admin[SR_TOKEN_MAX], id[SR_TOKEN_ID_MAX];
    assert_non_null(fx);
    assert_int_equal(sr_init(), SR_OK);
    tmp_make(fx->root);
    (void)snprintf(fx->vault, sizeof fx->vault, "%s/vault", fx->root);
    opt.store = suite_store();
    assert_int_equal(
        sr_vault_create(&fx->v, fx->vault, PASS, strlen(PASS), &opt, admin),
        SR_OK);
    assert_int_equal(sr_vault_user_add(fx->v, "auditor", "auditor", 1, NULL, 0),
                     SR_OK);
    assert_int_equal(
        sr_vault_token_create(fx->v, "auditor", 0, NULL, fx->token, id), SR_OK);
    sr_vault_close(fx->v);
    assert_int_equal(
        sr_vault_open(&fx->v, fx->vault, PASS, strlen(PASS), SR_OPEN_READ),
        SR_OK);
    /* Every sign-in is an entry: enough of them for three tile levels'
     * worth of heights, and a partial right edge. */
    for (unsigned i = 0; i < ENTRIES; i++)
        assert_int_equal(
            sr_vault_authenticate(fx->v, fx->token, strlen(fx->token)), SR_OK);
    head_of(fx);
    assert_true(fx->size > ENTRIES);
    *state = fx;
    return 0;
}

static int vault_teardown(void **state)
{
    fixture *fx = *state;
    sr_vault_close(fx->v);
    rm_rf(fx->root);
    free(fx);
    return 0;
}

static void check_inclusion(fixture *fx, uint64_t index)
{
    json_t *o = NULL;
    uint8_t leaf[32], root[32], p[MERKLE_PROOF_MAX][32];
    assert_int_equal(sr_vault_audit_inclusion(fx->v, index, 0, keep_line, &o),
                     SR_OK);
    assert_non_null(o);
    b64_of(o, "leaf_hash", leaf);
    b64_of(o, "root_hash", root);
    size_t n = path_of(o, "inclusion_path", p);
    assert_memory_equal(root, fx->head, 32);
    assert_int_equal(merkle_verify_inclusion(leaf, index, fx->size,
                                             (const uint8_t(*)[32])p, n,
                                             fx->head),
                     SR_OK);
    json_decref(o);
}

static void check_consistency(fixture *fx, uint64_t m)
{
    json_t *o = NULL;
    uint8_t r1[32], r2[32], p[MERKLE_PROOF_MAX][32];
    assert_int_equal(sr_vault_audit_consistency(fx->v, m, 0, keep_line, &o),
                     SR_OK);
    assert_non_null(o);
    b64_of(o, "first_root", r1);
    b64_of(o, "second_root", r2);
    size_t n = path_of(o, "consistency_path", p);
    assert_memory_equal(r2, fx->head, 32);
    assert_int_equal(merkle_verify_consistency(m, fx->size, r1, fx->head,
                                               (const uint8_t(*)[32])p, n),
                     SR_OK);
    json_decref(o);
}

static void proofs_check_against_the_signed_head(void **state)
{
    fixture *fx = *state;
    for (uint64_t i = 0; i < fx->size; i += 37)
        check_inclusion(fx, i);
    check_inclusion(fx, fx->size - 1);
    for (uint64_t m = 1; m <= fx->size; m += 53)
        check_consistency(fx, m);
}

/* Damage the index at every height a proof of entry 5 and the root read:
 * the vault must notice and still answer from the tiles. */
static void a_damaged_node_index_is_passed_over(void **state)
{
    fixture *fx = *state;
    char path[256];
    struct stat sb;
    unsigned damaged = 0;
    for (unsigned h = 0; h < 12; h++) {
        (void)snprintf(path, sizeof path, "%s/audit/nodes/%02u", fx->vault, h);
        if (stat(path, &sb) != 0)
            continue;
        /* The sibling of entry 5's ancestor, and the last node. */
        long sib = (long)(((5u >> h) ^ 1u) * 32u);
        if (sib + 32 <= sb.st_size)
            flip_byte(path, sib + 3);
        flip_byte(path, (long)sb.st_size - 5);
        damaged++;
    }
    assert_true(damaged >= 9); /* heights 0 .. 8 at least */
    check_inclusion(fx, 5);
    check_inclusion(fx, fx->size - 1);
    check_consistency(fx, 6);
    check_consistency(fx, fx->size - 3);
}

static void node_rw(const char *vault, unsigned h, uint64_t i, uint8_t hash[32],
                    bool write)
{
    char path[256];
    (void)snprintf(path, sizeof path, "%s/audit/nodes/%02u", vault, h);
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, (long)(i * 32u), SEEK_SET), 0);
    if (write)
        assert_int_equal(fwrite(hash, 1, 32, f), 32);
    else
        assert_int_equal(fread(hash, 1, 32, f), 32);
    assert_int_equal(fclose(f), 0);
}

/* A forgery that agrees with itself: a made-up leaf at index 5 and every
 * ancestor of it, up to the largest perfect subtree on the left, rewritten
 * in the index to match. A proof built from that index checks against the
 * root built from the same index; only the signed head tells them apart. */
static void a_self_consistent_forged_index_is_caught(void **state)
{
    fixture *fx = *state;
    uint8_t cur[32], sib[32];
    unsigned top = 0;
    while (((uint64_t)2 << top) <= fx->size)
        top++; /* 2^top: the largest perfect subtree on the left */
    memset(cur, 0x11, sizeof cur);
    for (unsigned h = 0; h <= top; h++) {
        uint64_t i = (uint64_t)5 >> h;
        node_rw(fx->vault, h, i, cur, true);
        if (h == top)
            break;
        node_rw(fx->vault, h, i ^ 1u, sib, false);
        if ((i & 1u) == 0)
            merkle_node_hash(cur, sib, cur);
        else
            merkle_node_hash(sib, cur, cur);
    }
    check_inclusion(fx, 5);
    check_inclusion(fx, 4);
    check_consistency(fx, 7);
}

/* ---- the mapped index answers as the tiles do ---------------------------- */

static void a_mapped_index_reads_as_the_tiles(void **state)
{
    fixture *fx = *state;
    char logdir[256], nodes[256];
    tilefs *with = NULL, *without = NULL;
    uint8_t a[32], b[32];
    /* Its tiles are intact (the previous test damaged only the index);
     * start the index again from here. */
    (void)snprintf(logdir, sizeof logdir, "%s/log", fx->vault);
    (void)snprintf(nodes, sizeof nodes, "%s/audit/nodes", fx->vault);
    rm_rf(nodes); /* a clean index from here on */
    /* Grow the log: the next checkpoint writes the index afresh. */
    uint64_t before = fx->size;
    for (unsigned i = 0; i < 300; i++)
        assert_int_equal(
            sr_vault_authenticate(fx->v, fx->token, strlen(fx->token)), SR_OK);
    head_of(fx);
    assert_true(fx->size >= before + 300);
    assert_int_equal(tilefs_open(&with, logdir, nodes, fx->size), SR_OK);
    assert_int_equal(tilefs_open(&without, logdir, NULL, fx->size), SR_OK);
    /* Every node from `before` on, several passes: the first reads, the
     * later ones come from the mapping. */
    for (int pass = 0; pass < 3; pass++)
        for (unsigned h = 0; h < 12; h++)
            for (uint64_t i = (before >> h) + 1; i < (fx->size >> h); i++) {
                assert_int_equal(tilefs_node(with, h, i, a), SR_OK);
                assert_int_equal(tilefs_node(without, h, i, b), SR_OK);
                assert_memory_equal(a, b, 32);
            }
    assert_int_equal(merkle_root(tilefs_node, with, fx->size, a), SR_OK);
    assert_memory_equal(a, fx->head, 32);
    tilefs_free(with);
    tilefs_free(without);
}

/* ---- bulk appends -------------------------------------------------------- */

static const uint8_t jkey[32] = "proof test journal key.........";
static const uint8_t seed[32] = "proof test signing seed........";

static void make_entry(uint64_t tag, sr_buf *out)
{
    audit_entry e;
    memset(&e, 0, sizeof e);
    e.time_ns = 1764000000000000000ull + tag;
    (void)snprintf(e.principal, sizeof e.principal, "p%llu",
                   (unsigned long long)tag);
    memcpy(e.action, "get", 4);
    e.outcome = ENTRY_ALLOWED;
    e.count = tag;
    buf_reset(out);
    assert_int_equal(entry_encode(&e, out), SR_OK);
}

typedef struct single {
    audit_log *l;
    uint64_t tag;
} single;

static void *single_main(void *arg)
{
    single *s = arg;
    char msg[AUDIT_MSG_MAX];
    sr_buf b;
    uint64_t index;
    buf_init(&b, ENTRY_MAX_BYTES);
    for (unsigned i = 0; i < 200; i++) {
        make_entry(s->tag + i, &b);
        if (audit_log_append(s->l, b.p, b.len, &index, msg) != SR_OK)
            break;
    }
    buf_free(&b);
    return NULL;
}

typedef struct find {
    unsigned want;
    uint64_t count;
} find;

static sr_status find_entry(void *ctx, uint64_t i, const uint8_t *data,
                            size_t len)
{
    find *f = ctx;
    audit_entry e;
    if (i == f->want) {
        if (entry_decode(data, len, &e) != SR_OK)
            return SR_ERR_CORRUPT;
        f->count = e.count;
    }
    return SR_OK;
}

/* The count field of entry i as stored: it says which append wrote it. */
static uint64_t count_at(tilefs *t, uint64_t i)
{
    sr_buf b;
    unsigned w;
    find f = {(unsigned)(i % 256), UINT64_MAX};
    buf_init(&b, (size_t)256 * 65537u);
    assert_int_equal(tilefs_read_bundle(t, i / 256, &b, &w), SR_OK);
    assert_int_equal(bundle_parse(b.p, b.len, w, find_entry, &f), SR_OK);
    buf_free(&b);
    return f.count;
}

static void a_batch_lands_in_one_piece(void **state)
{
    (void)state;
    enum { BATCH = 3000, SINGLES = 4 };
    char dir[64], msg[AUDIT_MSG_MAX], logdir[128];
    audit_log *l = NULL;
    sr_buf *b = calloc(BATCH, sizeof *b);
    const uint8_t **p = calloc(BATCH, sizeof *p);
    size_t *len = calloc(BATCH, sizeof *len);
    pthread_t t[SINGLES];
    single s[SINGLES];
    uint64_t first = 0, size = 0;
    assert_non_null(b);
    assert_non_null(p);
    assert_non_null(len);
    tmp_make(dir);
    audit_log_config c = {dir, jkey, seed, "strongroom.test/batch"};
    assert_int_equal(audit_log_create(&c, msg), SR_OK);
    assert_int_equal(audit_log_open(&l, &c, msg), SR_OK);
    for (unsigned i = 0; i < BATCH; i++) {
        buf_init(&b[i], ENTRY_MAX_BYTES);
        make_entry(1000000u + i, &b[i]);
        p[i] = b[i].p;
        len[i] = b[i].len;
    }
    for (unsigned i = 0; i < SINGLES; i++) {
        s[i].l = l;
        s[i].tag = 10000u * (i + 1);
        assert_int_equal(pthread_create(&t[i], NULL, single_main, &s[i]), 0);
    }
    assert_int_equal(audit_log_append_many(l, p, len, BATCH, &first, msg),
                     SR_OK);
    for (unsigned i = 0; i < SINGLES; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    /* Refused whole: an empty batch, and one with a malformed entry. */
    assert_int_equal(audit_log_append_many(l, p, len, 0, &first, msg),
                     SR_ERR_INVALID);
    uint8_t junk[3] = {9, 9, 9};
    const uint8_t *bad[2] = {p[0], junk};
    size_t bad_len[2] = {len[0], sizeof junk};
    uint64_t ignored;
    assert_int_equal(audit_log_append_many(l, bad, bad_len, 2, &ignored, msg),
                     SR_ERR_INVALID);
    assert_int_equal(audit_log_checkpoint(l, &size, msg), SR_OK);
    assert_int_equal(size, BATCH + SINGLES * 200u);
    audit_log_release(l);

    tilefs *tf = NULL;
    (void)snprintf(logdir, sizeof logdir, "%s/log", dir);
    assert_int_equal(tilefs_open(&tf, logdir, NULL, size), SR_OK);
    for (unsigned i = 0; i < BATCH; i++)
        assert_int_equal(count_at(tf, first + i), 1000000u + i);
    tilefs_free(tf);

    char vkpath[128];
    sr_buf vk;
    sr_log_report rep;
    (void)snprintf(vkpath, sizeof vkpath, "%s/log.vkey", dir);
    buf_init(&vk, 4096);
    assert_int_equal(file_read(vkpath, &vk), SR_OK);
    assert_int_equal(buf_append_byte(&vk, 0), SR_OK);
    assert_int_equal(sr_log_verify(logdir, (const char *)vk.p, NULL, &rep),
                     SR_OK);
    assert_int_equal(rep.size, size);
    buf_free(&vk);
    for (unsigned i = 0; i < BATCH; i++)
        buf_free(&b[i]);
    free(b);
    free(p);
    free(len);
    rm_rf(dir);
}

int main(void)
{
    const struct CMUnitTest vault_tests[] = {
        cmocka_unit_test(proofs_check_against_the_signed_head),
        cmocka_unit_test(a_damaged_node_index_is_passed_over),
        cmocka_unit_test(a_self_consistent_forged_index_is_caught),
        cmocka_unit_test(a_mapped_index_reads_as_the_tiles),
    };
    const struct CMUnitTest log_tests[] = {
        cmocka_unit_test(a_batch_lands_in_one_piece),
    };
    int failed = cmocka_run_group_tests_name("vault proofs", vault_tests,
                                             vault_setup, vault_teardown);
    return failed +
           cmocka_run_group_tests_name("bulk appends", log_tests, NULL, NULL);
}
