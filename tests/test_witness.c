/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_witness.c - the witness (strongroom/witness.h, src/audit/witness.c
 * and witness_fmt.c): its key and state, trust on first use, cosigning a
 * log that grew consistently, and refusing, with evidence, everything
 * else: a fork shown to it (two logs under one key and origin that
 * diverge), a rollback, a checkpoint signed by another key, tiles that do
 * not match the signed root. Plus the witness configuration a vault
 * publishes, as sr_log_verify holds it to the log.
 *
 * Logs are written with the audit log writer (src/audit/log.h) under a
 * fixed key, as in test_audit_log.c; two vault directories with the same
 * key and origin and different entries make a fork.
 */
#include <dirent.h>
#include <errno.h>
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
#include <sodium.h>

#include "audit/entry.h"
#include "audit/log.h"
#include "audit/note.h"
#include "audit/witness.h"
#include "strongroom/strongroom.h"
#include "util/util.h"

#include "log_fixture.h"

#define ORIGIN "strongroom.test/log"
#define WNAME "witness.test/w1"

static char *slurp_in(const char *dir, const char *rel, size_t *len)
{
    char path[4096];
    path_of(path, dir, rel);
    return slurp(path, len);
}

static void spit_in(const char *dir, const char *rel, const void *p, size_t n)
{
    char path[4096];
    path_of(path, dir, rel);
    spit(path, p, n);
}

static unsigned mode_of(const char *path)
{
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    return (unsigned)sb.st_mode & 0777u;
}

static unsigned files_in(const char *dir)
{
    unsigned n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    if (d != NULL)
        closedir(d);
    return n;
}

/* How many times needle occurs in s. */
static unsigned count_of(const char *s, const char *needle)
{
    unsigned n = 0;
    for (const char *p = strstr(s, needle); p != NULL;
         p = strstr(p + 1, needle))
        n++;
    return n;
}

/* ---- logs ---------------------------------------------------------------- */

/* An entry, different for every tag; with action and detail when given. */
static void make_entry(uint64_t tag, const char *action, const char *detail,
                       entry_outcome outcome, sr_buf *out)
{
    audit_entry e;
    memset(&e, 0, sizeof e);
    e.time_ns = 1764000000000000000ull + tag * 1000003u;
    (void)snprintf(e.principal, sizeof e.principal, "user%03u",
                   (unsigned)(tag % 17));
    (void)snprintf(e.action, sizeof e.action, "%s",
                   action != NULL ? action : "get");
    e.outcome = (uint8_t)outcome;
    (void)snprintf(e.rule, sizeof e.rule, "rule-%u", (unsigned)(tag % 13));
    if (detail != NULL)
        (void)snprintf(e.detail, sizeof e.detail, "%s", detail);
    e.count = tag;
    buf_reset(out);
    assert_int_equal(entry_encode(&e, out), SR_OK);
}

static audit_log *log_create(const char *vault)
{
    char msg[AUDIT_MSG_MAX];
    audit_log *l = NULL;
    audit_log_config c = {vault, journal_key, sign_seed, ORIGIN};
    assert_int_equal(audit_log_create(&c, msg), SR_OK);
    sr_status st = audit_log_open(&l, &c, msg);
    if (st != SR_OK)
        print_error("audit_log_open: %s\n", msg);
    assert_int_equal(st, SR_OK);
    return l;
}

static void append(audit_log *l, uint64_t tag, const char *action,
                   const char *detail, entry_outcome outcome)
{
    char msg[AUDIT_MSG_MAX];
    sr_buf b;
    uint64_t index;
    buf_init(&b, ENTRY_MAX_BYTES);
    make_entry(tag, action, detail, outcome, &b);
    assert_int_equal(audit_log_append(l, b.p, b.len, &index, msg), SR_OK);
    buf_free(&b);
}

/* Grow the log from size `from` to `to` with entries of tags base + from
 * .. base + to - 1, and checkpoint. */
static void grow_with(audit_log *l, uint64_t from, uint64_t to, uint64_t base)
{
    char msg[AUDIT_MSG_MAX];
    uint64_t size = 0;
    for (uint64_t t = from; t < to; t++)
        append(l, base + t, NULL, NULL, ENTRY_ALLOWED);
    assert_int_equal(audit_log_checkpoint(l, &size, msg), SR_OK);
    assert_int_equal(size, to);
}

static void grow(audit_log *l, uint64_t from, uint64_t to)
{
    grow_with(l, from, to, 0);
}

/* A vault directory with a log of n entries (tags 0..n-1). */
static audit_log *vault_with(char dir[64], uint64_t n)
{
    tmp_make(dir);
    audit_log *l = log_create(dir);
    grow(l, 0, n);
    return l;
}

static char *log_vkey(const char *vault)
{
    size_t len;
    char *k = slurp_in(vault, "log.vkey", &len);
    assert_non_null(k);
    return k;
}

static void logdir_of(char out[4096], const char *vault)
{
    path_of(out, vault, "log");
}

/* A witness in a new directory; its vkey text to vkey. */
static void witness_make(char dir[64], char state[4096], const char *name,
                         char vkey[SR_WITNESS_VKEY_MAX])
{
    tmp_make(dir);
    path_of(state, dir, "state");
    assert_int_equal(sr_witness_init(state, name, vkey, SR_WITNESS_VKEY_MAX),
                     SR_OK);
}

static sr_status cosign(const char *state, const char *vault, int publish,
                        sr_witness_result *res)
{
    char logdir[4096];
    char *key = log_vkey(vault);
    logdir_of(logdir, vault);
    sr_status st = sr_witness_cosign(state, logdir, key, publish, res);
    free(key);
    return st;
}

static void assert_cosigns(const char *state, const char *vault, int publish,
                           sr_witness_result *res)
{
    sr_status st = cosign(state, vault, publish, res);
    if (st != SR_OK)
        print_error("sr_witness_cosign: %s\n", res->message);
    assert_int_equal(st, SR_OK);
    assert_int_equal(res->fork, 0);
}

/* The state file of ORIGIN under rel ("logs" or "cosigned"): the first 16
 * hex digits of SHA-256(origin), computed here from the documentation. */
static void state_file(char out[4096], const char *state, const char *rel)
{
    uint8_t h[crypto_hash_sha256_BYTES];
    char hex[17], sub[64];
    crypto_hash_sha256(h, (const uint8_t *)ORIGIN, strlen(ORIGIN));
    hex_encode(hex, h, 8);
    (void)snprintf(sub, sizeof sub, "%s/%s", rel, hex);
    path_of(out, state, sub);
}

static char *last_seen(const char *state, size_t *len)
{
    char path[4096];
    state_file(path, state, "logs");
    return slurp(path, len);
}

/* Open a note with the log key and a witness key: *wok says whether the
 * witness's cosignature verified; the log's must. */
static void open_with_witness(const char *note, size_t len, const char *vault,
                              const char *wvkey, int *wok)
{
    note_verifier vs[2];
    int ok[2] = {0, 0};
    size_t body = 0;
    char *lk = log_vkey(vault);
    assert_int_equal(note_vkey_parse(lk, strlen(lk), &vs[0]), SR_OK);
    assert_int_equal(note_vkey_parse(wvkey, strlen(wvkey), &vs[1]), SR_OK);
    assert_int_equal(note_open(note, len, vs, 2, &body, ok, NULL), SR_OK);
    assert_int_equal(ok[0], 1);
    *wok = ok[1];
    free(lk);
}

static sr_status verify_with(const char *vault, const char *const *wkeys,
                             size_t nw, unsigned min, sr_log_report *rep)
{
    char logdir[4096];
    sr_log_verify_options opt;
    char *key = log_vkey(vault);
    memset(&opt, 0, sizeof opt);
    opt.witness_vkeys = wkeys;
    opt.witness_count = nw;
    opt.min_cosignatures = min;
    logdir_of(logdir, vault);
    sr_status st = sr_log_verify(logdir, key, &opt, rep);
    free(key);
    return st;
}

/* ---- tests: the key -------------------------------------------------------
 */

static void init_writes_a_private_key_and_refuses_a_second_init(void **state)
{
    char dir[64], st_dir[4096], path[4096], vkey[SR_WITNESS_VKEY_MAX],
        again[SR_WITNESS_VKEY_MAX];
    note_verifier v;
    note_signer s;
    size_t len, len2;
    (void)state;
    witness_make(dir, st_dir, WNAME, vkey);

    assert_int_equal(mode_of(st_dir), 0700);
    path_of(path, st_dir, "witness.key");
    assert_int_equal(mode_of(path), 0600);
    char *key = slurp(path, &len);
    assert_non_null(key);
    assert_int_equal(strncmp(key, "SRWITNESS1\n" WNAME "\n", 27), 0);
    /* The key file holds the key the vkey names. */
    assert_int_equal(witness_key_parse((const uint8_t *)key, len, &s), SR_OK);
    note_verifier_from_signer(&v, &s);
    assert_int_equal(note_vkey_format(&v, again, sizeof again), SR_OK);
    assert_string_equal(again, vkey);
    note_signer_wipe(&s);

    path_of(path, st_dir, "witness.vkey");
    char *vk = slurp(path, &len2);
    assert_non_null(vk);
    assert_int_equal(len2, strlen(vkey) + 1);
    assert_int_equal(vk[len2 - 1], '\n');
    assert_memory_equal(vk, vkey, len2 - 1);
    assert_int_equal(note_vkey_parse(vkey, strlen(vkey), &v), SR_OK);
    assert_int_equal(v.type, NOTE_TYPE_COSIG_V1);
    assert_string_equal(v.name, WNAME);

    /* A second init never replaces the key. */
    assert_int_equal(
        sr_witness_init(st_dir, "witness.test/w2", again, sizeof again),
        SR_ERR_EXISTS);
    path_of(path, st_dir, "witness.key");
    char *key2 = slurp(path, &len2);
    assert_int_equal(len2, len);
    assert_memory_equal(key2, key, len);
    path_of(path, st_dir, "witness.vkey");
    free(vk);
    vk = slurp(path, &len2);
    assert_memory_equal(vk, vkey, strlen(vkey));

    /* Bad names and a short buffer are refused before anything is made. */
    path_of(path, dir, "other");
    assert_int_equal(sr_witness_init(path, "bad name", again, sizeof again),
                     SR_ERR_INVALID);
    assert_int_equal(sr_witness_init(path, "a+b", again, sizeof again),
                     SR_ERR_INVALID);
    assert_int_equal(sr_witness_init(path, WNAME, again, 40), SR_ERR_INVALID);
    assert_int_equal(access(path, F_OK), -1);
    free(key);
    free(key2);
    free(vk);
}

static void two_witnesses_get_two_keys(void **state)
{
    char d1[64], d2[64], s1[4096], s2[4096], v1[SR_WITNESS_VKEY_MAX],
        v2[SR_WITNESS_VKEY_MAX];
    (void)state;
    witness_make(d1, s1, WNAME, v1);
    witness_make(d2, s2, WNAME, v2);
    assert_string_not_equal(v1, v2);
}

/* Each corpus file's name states what the parser must do with it:
 * valid_* parse, invalid_* are refused. */
static void corpus_files_are_what_their_names_say(void **state)
{
    static const char *const dirs[] = {"witness_key", "witness_cfg"};
    const char *src = getenv("SR_SOURCE_DIR");
    (void)state;
    if (src == NULL)
        skip();
    for (unsigned d = 0; d < 2; d++) {
        char dir[4096], sub[64];
        (void)snprintf(sub, sizeof sub, "fuzz/corpus/%s", dirs[d]);
        path_of(dir, src, sub);
        DIR *dh = opendir(dir);
        struct dirent *e;
        unsigned seen = 0;
        assert_non_null(dh);
        while ((e = readdir(dh)) != NULL) {
            size_t len;
            bool valid = strncmp(e->d_name, "valid_", 6) == 0;
            if (!valid && strncmp(e->d_name, "invalid_", 8) != 0)
                continue;
            char *p = slurp_in(dir, e->d_name, &len);
            sr_status st;
            if (d == 0) {
                note_signer s;
                st = witness_key_parse((const uint8_t *)p, len, &s);
                note_signer_wipe(&s);
            } else {
                note_verifier k[SR_LOG_WITNESS_MAX];
                size_t n;
                unsigned min;
                st = witness_cfg_parse((const uint8_t *)p, len, k,
                                       SR_LOG_WITNESS_MAX, &n, &min);
            }
            if ((st == SR_OK) != valid)
                print_error("%s/%s: %s\n", dirs[d], e->d_name,
                            sr_status_str(st));
            assert_int_equal(st == SR_OK, valid);
            free(p);
            seen++;
        }
        closedir(dh);
        assert_true(seen >= 10);
    }
}

/* ---- tests: cosigning ---------------------------------------------------- */

static void the_first_checkpoint_is_trusted_on_first_use(void **state)
{
    char v[64], wd[64], ws[4096], wk[SR_WITNESS_VKEY_MAX], path[4096];
    sr_witness_result res;
    size_t len;
    int wok;
    (void)state;
    audit_log *l = vault_with(v, 5);
    witness_make(wd, ws, WNAME, wk);

    assert_cosigns(ws, v, 0, &res);
    assert_int_equal(res.first_seen, 1);
    assert_int_equal(res.old_size, 0);
    assert_int_equal(res.new_size, 5);
    assert_int_equal(res.published, 0);
    assert_non_null(strstr(res.message, "trusted on first use"));

    /* The last-seen checkpoint is the log's note; the cosigned one
     * carries a cosignature that verifies under the witness key. */
    char *seen = last_seen(ws, &len);
    assert_non_null(seen);
    open_with_witness(seen, len, v, wk, &wok);
    assert_int_equal(wok, 0);
    state_file(path, ws, "cosigned");
    char *cos = slurp(path, &len);
    assert_non_null(cos);
    open_with_witness(cos, len, v, wk, &wok);
    assert_int_equal(wok, 1);
    /* Without --publish the log is untouched. */
    char *cp = slurp_in(v, "log/checkpoint", &len);
    assert_int_equal(count_of(cp, WNAME), 0);

    /* The same checkpoint again: cosigned again, no error. */
    assert_cosigns(ws, v, 0, &res);
    assert_int_equal(res.first_seen, 0);
    assert_int_equal(res.old_size, 5);
    assert_int_equal(res.new_size, 5);
    free(seen);
    free(cos);
    free(cp);
    audit_log_release(l);
}

static void consistent_growth_is_cosigned_published_and_verifies(void **state)
{
    char v[64], d1[64], d2[64], s1[4096], s2[4096], k1[SR_WITNESS_VKEY_MAX],
        k2[SR_WITNESS_VKEY_MAX];
    sr_witness_result res;
    sr_log_report rep;
    size_t len;
    int wok;
    (void)state;
    audit_log *l = vault_with(v, 5);
    witness_make(d1, s1, WNAME, k1);
    witness_make(d2, s2, "witness.test/w2", k2);
    assert_cosigns(s1, v, 0, &res);

    /* Across a tile boundary, so the proof takes nodes from two levels. */
    grow(l, 5, 300);
    assert_cosigns(s1, v, 1, &res);
    assert_int_equal(res.first_seen, 0);
    assert_int_equal(res.old_size, 5);
    assert_int_equal(res.new_size, 300);
    assert_int_equal(res.published, 1);
    assert_non_null(strstr(res.message, "from size 5 to 300"));
    char *cp = slurp_in(v, "log/checkpoint", &len);
    open_with_witness(cp, len, v, k1, &wok);
    assert_int_equal(wok, 1);
    char *hist = slurp_in(v, "log/history/300", &len);
    assert_string_equal(hist, cp);

    /* One witness of one required passes; two required of two fails. */
    const char *one[1] = {k1}, *two[2] = {k1, k2};
    assert_int_equal(verify_with(v, one, 1, 1, &rep), SR_OK);
    assert_int_equal(rep.cosignatures, 1);
    assert_int_equal(verify_with(v, two, 2, 2, &rep), SR_ERR_AUDIT);
    assert_non_null(strstr(rep.message, "1 valid witness cosignatures, 2"));
    /* The second witness's cosignature makes two. */
    assert_cosigns(s2, v, 1, &res);
    assert_int_equal(res.first_seen, 1);
    assert_int_equal(verify_with(v, two, 2, 2, &rep), SR_OK);
    assert_int_equal(rep.cosignatures, 2);

    /* Cosigning again replaces this witness's line, never piles them up. */
    free(cp);
    assert_cosigns(s1, v, 1, &res);
    assert_int_equal(res.published, 1);
    cp = slurp_in(v, "log/checkpoint", &len);
    assert_int_equal(count_of(cp, WNAME " "), 1);
    assert_int_equal(count_of(cp, "witness.test/w2 "), 1);
    assert_int_equal(verify_with(v, two, 2, 2, &rep), SR_OK);

    /* The log writer reads its published, cosigned checkpoint back. */
    grow(l, 300, 301);
    free(cp);
    cp = slurp_in(v, "log/checkpoint", &len);
    assert_int_equal(count_of(cp, WNAME), 0);
    assert_int_equal(verify_with(v, one, 1, 1, &rep), SR_ERR_AUDIT);
    assert_cosigns(s1, v, 1, &res);
    assert_int_equal(res.old_size, 300);
    assert_int_equal(verify_with(v, one, 1, 1, &rep), SR_OK);
    free(cp);
    free(hist);
    audit_log_release(l);
}

/* Two logs under one key and origin: the same first 6 entries, then
 * different ones. Shown one, then the other, the witness must refuse. */
static void a_fork_shown_to_the_witness_is_refused_with_evidence(void **state)
{
    char a[64], b[64], wd[64], ws[4096], wk[SR_WITNESS_VKEY_MAX], forks[4096];
    sr_witness_result res;
    size_t len, len2;
    (void)state;
    audit_log *la = vault_with(a, 6);
    audit_log *lb = vault_with(b, 6);
    grow(la, 6, 10);
    grow_with(lb, 6, 10, 1000); /* size 10 too, other entries */
    witness_make(wd, ws, WNAME, wk);
    path_of(forks, ws, "forks");

    assert_cosigns(ws, a, 1, &res);
    char *before = last_seen(ws, &len);
    assert_non_null(before);

    /* The same size, another root. */
    assert_int_equal(cosign(ws, b, 1, &res), SR_ERR_AUDIT);
    assert_int_equal(res.fork, 1);
    assert_int_equal(res.published, 0);
    assert_int_equal(res.old_size, 10);
    assert_int_equal(res.new_size, 10);
    assert_non_null(strstr(res.message, "fork: two signed checkpoints"));
    assert_non_null(strstr(res.message, "evidence in"));
    assert_int_equal(files_in(forks), 1);
    char *after = last_seen(ws, &len2);
    assert_int_equal(len2, len);
    assert_memory_equal(after, before, len);
    free(after);
    /* Not published to the forked log either. */
    char *cpb = slurp_in(b, "log/checkpoint", &len2);
    assert_int_equal(count_of(cpb, WNAME), 0);

    /* The evidence holds both signed checkpoints. */
    DIR *d = opendir(forks);
    struct dirent *e;
    char *ev = NULL;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.') {
            assert_non_null(strstr(e->d_name, "-10-10"));
            ev = slurp_in(forks, e->d_name, &len2);
        }
    closedir(d);
    assert_non_null(ev);
    char *cpa = slurp_in(a, "log/checkpoint", &len2);
    assert_non_null(strstr(ev, cpb));
    assert_non_null(strstr(ev, before));
    free(ev);

    /* A larger tree that does not begin with the last-seen one: the
     * tiles hash to its signed root, and their prefix is not ours. */
    grow_with(lb, 10, 400, 1000);
    assert_int_equal(cosign(ws, b, 0, &res), SR_ERR_AUDIT);
    assert_int_equal(res.fork, 1);
    assert_int_equal(res.new_size, 400);
    assert_non_null(strstr(res.message, "begins with a tree of size 10"));
    after = last_seen(ws, &len2);
    assert_memory_equal(after, before, len);
    free(after);
    assert_int_equal(files_in(forks), 2);

    /* The honest log grows on: still cosigned. */
    grow(la, 10, 20);
    assert_cosigns(ws, a, 1, &res);
    assert_int_equal(res.old_size, 10);
    assert_int_equal(res.new_size, 20);
    /* And the fork, larger still, is still refused. */
    assert_int_equal(cosign(ws, b, 0, &res), SR_ERR_AUDIT);
    assert_int_equal(res.fork, 1);
    free(before);
    free(cpa);
    free(cpb);
    audit_log_release(la);
    audit_log_release(lb);
}

static void a_rollback_is_refused(void **state)
{
    char v[64], wd[64], ws[4096], wk[SR_WITNESS_VKEY_MAX];
    sr_witness_result res;
    size_t len, len_old, len2;
    (void)state;
    audit_log *l = vault_with(v, 10);
    witness_make(wd, ws, WNAME, wk);
    char *old = slurp_in(v, "log/checkpoint", &len_old);
    grow(l, 10, 20);
    assert_cosigns(ws, v, 0, &res);
    char *before = last_seen(ws, &len);

    /* The log (or a mirror) shows the older, genuinely signed head. */
    char *cur = slurp_in(v, "log/checkpoint", &len2);
    spit_in(v, "log/checkpoint", old, len_old);
    assert_int_equal(cosign(ws, v, 1, &res), SR_ERR_AUDIT);
    assert_int_equal(res.fork, 1);
    assert_int_equal(res.old_size, 20);
    assert_int_equal(res.new_size, 10);
    assert_non_null(strstr(res.message, "rollback"));
    char *after = last_seen(ws, &len2);
    assert_memory_equal(after, before, len);
    spit_in(v, "log/checkpoint", cur, strlen(cur));
    assert_cosigns(ws, v, 0, &res);
    free(old);
    free(cur);
    free(before);
    free(after);
    audit_log_release(l);
}

static void a_checkpoint_not_signed_by_the_log_key_is_refused(void **state)
{
    char v[64], wd[64], ws[4096], wk[SR_WITNESS_VKEY_MAX], logdir[4096];
    sr_witness_result res;
    note_signer s;
    sr_buf body, note;
    size_t len, len2;
    uint8_t root[32];
    (void)state;
    audit_log *l = vault_with(v, 4);
    witness_make(wd, ws, WNAME, wk);
    assert_cosigns(ws, v, 0, &res);
    char *before = last_seen(ws, &len);
    char *cur = slurp_in(v, "log/checkpoint", &len2);

    /* Same name, another key, a larger tree. */
    buf_init(&body, 4096);
    buf_init(&note, 4096);
    memset(root, 0x5a, sizeof root);
    assert_int_equal(
        note_signer_from_seed(&s, ORIGIN, NOTE_TYPE_ED25519, other_seed),
        SR_OK);
    assert_int_equal(note_checkpoint_format(ORIGIN, 50, root, &body), SR_OK);
    assert_int_equal(note_sign((const char *)body.p, body.len, &s, &note),
                     SR_OK);
    spit_in(v, "log/checkpoint", note.p, note.len);
    assert_int_equal(cosign(ws, v, 1, &res), SR_ERR_AUDIT);
    assert_int_equal(res.fork, 0);
    assert_non_null(strstr(res.message, "not signed by the log key"));

    /* A stripped signature: no signature lines at all. */
    spit_in(v, "log/checkpoint", body.p, body.len);
    assert_int_equal(cosign(ws, v, 1, &res), SR_ERR_AUDIT);
    assert_int_equal(res.fork, 0);
    char *after = last_seen(ws, &len2);
    assert_memory_equal(after, before, len);
    free(after);

    /* The witness's key, or garbage, as the log key: a caller's error. */
    logdir_of(logdir, v);
    spit_in(v, "log/checkpoint", cur, strlen(cur));
    assert_int_equal(sr_witness_cosign(ws, logdir, wk, 0, &res),
                     SR_ERR_INVALID);
    assert_int_equal(sr_witness_cosign(ws, logdir, "nonsense", 0, &res),
                     SR_ERR_INVALID);
    assert_int_equal(sr_witness_cosign(NULL, logdir, wk, 0, &res),
                     SR_ERR_INVALID);

    /* A checkpoint of another origin under the right key cannot exist
     * (the origin is the key name); a missing checkpoint is not found. */
    char *key = log_vkey(v);
    char missing[4096];
    path_of(missing, wd, "nolog");
    assert_int_equal(sr_witness_cosign(ws, missing, key, 0, &res),
                     SR_ERR_NOT_FOUND);
    free(key);
    note_signer_wipe(&s);
    buf_free(&body);
    buf_free(&note);
    free(before);
    free(cur);
    audit_log_release(l);
}

/* The tiles are untrusted: damaged ones make the witness refuse (without
 * crying fork: they prove nothing), and once repaired it cosigns. */
static void tiles_that_do_not_match_the_signed_root_are_refused(void **state)
{
    char v[64], wd[64], ws[4096], wk[SR_WITNESS_VKEY_MAX], forks[4096];
    sr_witness_result res;
    size_t len, len2, tlen;
    (void)state;
    audit_log *l = vault_with(v, 5);
    witness_make(wd, ws, WNAME, wk);
    assert_cosigns(ws, v, 0, &res);
    char *before = last_seen(ws, &len);
    grow(l, 5, 300);
    path_of(forks, ws, "forks");

    /* A level-0 hash under the proof's nodes (leaves 0..255; the root at
     * 300 comes from the level-1 tile, so only the proof sees it). */
    char *tile = slurp_in(v, "log/tile/0/000", &tlen);
    assert_non_null(tile);
    assert_int_equal(tlen, 256 * 32);
    tile[3 * 32] ^= 0x01;
    spit_in(v, "log/tile/0/000", tile, tlen);
    assert_int_equal(cosign(ws, v, 1, &res), SR_ERR_AUDIT);
    assert_int_equal(res.fork, 0);
    assert_non_null(strstr(res.message, "does not verify"));
    tile[3 * 32] ^= 0x01;
    spit_in(v, "log/tile/0/000", tile, tlen);

    /* The right-edge tile, which the root itself depends on. */
    char *edge = slurp_in(v, "log/tile/0/001.p/44", &tlen);
    assert_non_null(edge);
    edge[0] ^= 0x01;
    spit_in(v, "log/tile/0/001.p/44", edge, tlen);
    assert_int_equal(cosign(ws, v, 1, &res), SR_ERR_AUDIT);
    assert_int_equal(res.fork, 0);
    assert_non_null(strstr(res.message, "do not hash to its signed root"));
    edge[0] ^= 0x01;
    spit_in(v, "log/tile/0/001.p/44", edge, tlen);

    /* A missing tile. */
    char *up = slurp_in(v, "log/tile/1/000.p/1", &tlen);
    assert_non_null(up);
    char path[4096];
    path_of(path, v, "log/tile/1/000.p/1");
    assert_int_equal(unlink(path), 0);
    assert_int_equal(cosign(ws, v, 1, &res), SR_ERR_AUDIT);
    assert_int_equal(res.fork, 0);
    spit(path, up, tlen);

    char *after = last_seen(ws, &len2);
    assert_int_equal(len2, len);
    assert_memory_equal(after, before, len);
    assert_int_equal(files_in(forks), 0);
    char *cp = slurp_in(v, "log/checkpoint", &len2);
    assert_int_equal(count_of(cp, WNAME), 0);

    /* Repaired: cosigned. */
    assert_cosigns(ws, v, 1, &res);
    assert_int_equal(res.new_size, 300);
    free(tile);
    free(edge);
    free(up);
    free(before);
    free(after);
    free(cp);
    audit_log_release(l);
}

static void damaged_witness_state_is_refused(void **state)
{
    char v[64], wd[64], ws[4096], wk[SR_WITNESS_VKEY_MAX], path[4096],
        other[4096];
    sr_witness_result res;
    size_t len, klen;
    (void)state;
    audit_log *l = vault_with(v, 3);
    witness_make(wd, ws, WNAME, wk);
    assert_cosigns(ws, v, 0, &res);

    /* An edited last-seen checkpoint no longer verifies: refused, not
     * silently re-trusted. */
    char *seen = last_seen(ws, &len);
    state_file(path, ws, "logs");
    char *edited = strdup(seen);
    char *nl = strchr(edited, '\n');
    nl[1] = nl[1] == '3' ? '2' : '3';
    spit(path, edited, len);
    assert_int_equal(cosign(ws, v, 0, &res), SR_ERR_AUDIT);
    assert_non_null(strstr(res.message, "last-seen"));
    spit(path, seen, len);
    assert_cosigns(ws, v, 0, &res);

    /* A damaged key file; a missing one. */
    path_of(path, ws, "witness.key");
    char *key = slurp(path, &klen);
    spit(path, key, klen - 1);
    assert_int_equal(cosign(ws, v, 0, &res), SR_ERR_CORRUPT);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(cosign(ws, v, 0, &res), SR_ERR_NOT_FOUND);
    path_of(other, wd, "nowhere");
    assert_int_equal(cosign(other, v, 0, &res), SR_ERR_NOT_FOUND);
    spit(path, key, klen);
    assert_cosigns(ws, v, 0, &res);
    free(seen);
    free(edited);
    free(key);
    audit_log_release(l);
}

/* ---- tests: the published witness configuration -------------------------- */

static sr_status verify_file(const char *vault, sr_log_report *rep)
{
    char logdir[4096];
    sr_log_verify_options opt;
    char *key = log_vkey(vault);
    memset(&opt, 0, sizeof opt);
    opt.use_witness_file = 1;
    logdir_of(logdir, vault);
    sr_status st = sr_log_verify(logdir, key, &opt, rep);
    free(key);
    return st;
}

static void the_published_configuration_is_held_to_the_log(void **state)
{
    char v[64], wd[64], ws[4096], wk[SR_WITNESS_VKEY_MAX], detail[256], hex[65];
    uint8_t h[32];
    sr_witness_result res;
    sr_log_report rep;
    size_t len;
    (void)state;
    audit_log *l = vault_with(v, 3);
    witness_make(wd, ws, WNAME, wk);

    /* No file and no entry: nothing required. */
    assert_int_equal(verify_file(v, &rep), SR_OK);
    assert_int_equal(rep.witness_file, 0);

    /* A file the log never recorded. */
    char cfg[512];
    int n = snprintf(cfg, sizeof cfg, "min 1\n%s\n", wk);
    spit_in(v, "log/witnesses", cfg, (size_t)n);
    assert_int_equal(verify_file(v, &rep), SR_ERR_AUDIT);
    assert_non_null(strstr(rep.message, "0 valid witness cosignatures, 1"));
    assert_cosigns(ws, v, 1, &res);
    assert_int_equal(verify_file(v, &rep), SR_ERR_AUDIT);
    assert_non_null(strstr(rep.message, "records no witness configuration"));

    /* Recorded: the entry names the file's hash. A later denied change,
     * and another action with such a detail, do not count. */
    crypto_hash_sha256(h, (const uint8_t *)cfg, (unsigned long long)n);
    hex_encode(hex, h, 32);
    (void)snprintf(detail, sizeof detail, "min 1 config sha256 %s", hex);
    append(l, 100, "witness.require", detail, ENTRY_ALLOWED);
    memset(hex, 'e', 64);
    (void)snprintf(detail, sizeof detail, "min 0 config sha256 %s", hex);
    append(l, 101, "witness.require", detail, ENTRY_DENIED);
    append(l, 102, "user.add", detail, ENTRY_ALLOWED);
    grow(l, 6, 6);
    assert_cosigns(ws, v, 1, &res);
    assert_int_equal(verify_file(v, &rep), SR_OK);
    assert_int_equal(rep.witness_file, 1);
    assert_int_equal(rep.min_cosignatures, 1);
    assert_int_equal(rep.cosignatures, 1);
    char *cp = slurp_in(v, "log/checkpoint", &len);
    assert_non_null(cp);

    /* Edited: fails, naming the entry. */
    spit_in(v, "log/witnesses", "min 0\n", 6);
    assert_int_equal(verify_file(v, &rep), SR_ERR_AUDIT);
    assert_non_null(strstr(rep.message, "witnesses: differs"));
    assert_non_null(strstr(rep.message, "entry 3"));
    /* Removed: fails too. */
    char path[4096];
    path_of(path, v, "log/witnesses");
    assert_int_equal(unlink(path), 0);
    assert_int_equal(verify_file(v, &rep), SR_ERR_AUDIT);
    assert_non_null(strstr(rep.message, "the file was removed"));
    /* Malformed. */
    spit_in(v, "log/witnesses", "min 2\n", 6);
    assert_int_equal(verify_file(v, &rep), SR_ERR_AUDIT);
    assert_non_null(strstr(rep.message, "not a witness configuration"));
    spit_in(v, "log/witnesses", cfg, (size_t)n);
    assert_int_equal(verify_file(v, &rep), SR_OK);

    /* Explicit keys or counts win over the file. */
    const char *one[1] = {wk};
    spit_in(v, "log/witnesses", "min 0\n", 6);
    assert_int_equal(verify_with(v, one, 1, 1, &rep), SR_OK);
    assert_int_equal(rep.witness_file, 0);
    free(cp);
    audit_log_release(l);
}

#define T(fn) cmocka_unit_test_teardown(fn, tmp_teardown)

static int setup(void **state)
{
    (void)state;
    return sr_init() == SR_OK ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(init_writes_a_private_key_and_refuses_a_second_init),
        T(two_witnesses_get_two_keys),
        T(corpus_files_are_what_their_names_say),
        T(the_first_checkpoint_is_trusted_on_first_use),
        T(consistent_growth_is_cosigned_published_and_verifies),
        T(a_fork_shown_to_the_witness_is_refused_with_evidence),
        T(a_rollback_is_refused),
        T(a_checkpoint_not_signed_by_the_log_key_is_refused),
        T(tiles_that_do_not_match_the_signed_root_are_refused),
        T(damaged_witness_state_is_refused),
        T(the_published_configuration_is_held_to_the_log),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
