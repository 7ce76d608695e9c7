/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench/audit_bench.c - what the audit log costs (docs/audit.md): durable
 * appends, the price of log-then-reveal on reads, proofs and the full
 * verification, all on the real disk and through the code paths the vault
 * itself uses. It reaches internals (src/audit, vault_int.h), as a
 * benchmark of them must.
 *
 *   bench_audit WORKDIR [--people N] [--sizes "1000000 10000000"]
 *               [--secs S] [--samples K] [--parts abcd] [--keep]
 *
 * a. Durable appends per second through audit_log_append, from 1, 8 and
 *    64 threads, each for S seconds (default 3), on a fresh log in
 *    WORKDIR/append: entries shaped like a clerk's "get" (entry_encode,
 *    one person reference), each acknowledged only once written and
 *    fdatasync'd (group commit shares the sync between threads).
 * b. A vault of N people (default 100,000: strongroom gen seed 1, loaded
 *    with sr_vault_import) in WORKDIR/vault; reads per second of random
 *    people by 1 and by 64 threads, each with its own handle as an
 *    hr-clerk: logged (sr_vault_get: policy, read and decrypt, durable
 *    entry, copy out) and unlogged (vault_read_line: read and decrypt
 *    only), S seconds each after a warm-up.
 * c. That vault's log grown to each size of --sizes with
 *    audit_log_append_many (batches of 16,384 entries, one write and one
 *    sync each) and a checkpoint every 2^20 entries; then, over K
 *    random indexes (default 20,000) after a warm-up pass on others:
 *    inclusion and consistency proofs from tilefs_node over the log and
 *    the node index (the vault's path, src/vault/audit.c), alone and with
 *    the leaf, the roots and the check the vault does before handing a
 *    proof out; and sr_vault_audit_inclusion end to end (K / 10 calls).
 * d. sr_log_verify over the whole log at each size.
 * e. sr_vault_breach_report at each size (it verifies the log, reads every
 *    entry, resolves the references against the vault): one clerk's
 *    entries, and everyone's in a window of a tenth of the log.
 *
 * Every measurement is one line of key=value pairs on stdout, for
 * bench/run; progress goes to stderr. WORKDIR is removed at the end
 * unless --keep. Benchmark code: it prints and exits freely.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "audit/entry.h"
#include "audit/log.h"
#include "audit/merkle.h"
#include "audit/tilefs.h"
#include "benchutil.h"
#include "strongroom/strongroom.h"
#include "vault/vault_int.h"

#define PASS "strongroom audit benchmark passphrase"
#define MAX_THREADS 64u
#define GROW_CHUNK ((uint64_t)1 << 20)
#define GROW_BATCH 16384u
#define CLERK_CLASSES 0x0fu /* identity, name, contact, employment */

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("bench_audit: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void note(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("bench_audit: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* An entry as a clerk's read writes it (src/vault/access.c): principal,
 * token id, "get", allowed, purpose, four classes, rule, one person. */
static void make_entry(uint64_t tag, sr_buf *out)
{
    audit_entry e;
    uint8_t ref[ENTRY_REF_BYTES];
    uint64_t s = tag;
    memset(&e, 0, sizeof e);
    e.time_ns = 1764000000000000000ull + tag * 1000003u;
    (void)snprintf(e.principal, sizeof e.principal, "clerk%02u",
                   (unsigned)(tag % 40));
    (void)snprintf(e.token, sizeof e.token, "%016llx",
                   (unsigned long long)(0x5eed0000u + tag % 40));
    memcpy(e.action, "get", 4);
    e.outcome = ENTRY_ALLOWED;
    memcpy(e.purpose, "hr-action", 10);
    e.classes = CLERK_CLASSES;
    memcpy(e.rule, "allow", 6);
    e.count = 1;
    uint64_t a = splitmix(&s), b = splitmix(&s);
    memcpy(ref, &a, 8);
    memcpy(ref + 8, &b, 8);
    e.refs = (const uint8_t(*)[ENTRY_REF_BYTES])ref;
    e.nrefs = 1;
    buf_reset(out);
    if (entry_encode(&e, out) != SR_OK)
        die("entry_encode failed");
}

/* ---- threads appending to one log ---------------------------------------- */

typedef struct appender {
    audit_log *l;
    atomic_int *stop; /* run until set, or */
    uint64_t count;   /* this many appends (when stop is NULL) */
    uint64_t tag;     /* first tag; each append takes the next */
    pthread_barrier_t *go;
    uint64_t done;
} appender;

static void *appender_main(void *arg)
{
    appender *a = arg;
    char msg[AUDIT_MSG_MAX];
    sr_buf b;
    uint64_t index;
    buf_init(&b, ENTRY_MAX_BYTES);
    (void)pthread_barrier_wait(a->go);
    while (a->stop != NULL ? atomic_load(a->stop) == 0 : a->done < a->count) {
        make_entry(a->tag++, &b);
        if (audit_log_append(a->l, b.p, b.len, &index, msg) != SR_OK)
            die("audit_log_append: %s", msg);
        a->done++;
    }
    buf_free(&b);
    return NULL;
}

/* Append from `threads` threads, either for `secs` seconds (count 0) or
 * `count` entries in all. Returns the entries appended; *elapsed the
 * seconds from the start to the last thread's end. */
static uint64_t append_run(audit_log *l, unsigned threads, double secs,
                           uint64_t count, uint64_t tag, double *elapsed)
{
    pthread_t t[MAX_THREADS];
    appender a[MAX_THREADS];
    pthread_barrier_t go;
    atomic_int stop = 0;
    uint64_t total = 0;
    if (pthread_barrier_init(&go, NULL, threads + 1) != 0)
        die("pthread_barrier_init");
    for (unsigned i = 0; i < threads; i++) {
        memset(&a[i], 0, sizeof a[i]);
        a[i].l = l;
        a[i].stop = count == 0 ? &stop : NULL;
        a[i].count = count / threads + (i < count % threads ? 1 : 0);
        a[i].tag = tag + (uint64_t)i * ((uint64_t)1 << 40);
        a[i].go = &go;
        if (pthread_create(&t[i], NULL, appender_main, &a[i]) != 0)
            die("pthread_create");
    }
    (void)pthread_barrier_wait(&go);
    double t0 = bench_now();
    if (count == 0) {
        struct timespec ts = {(time_t)secs,
                              (long)((secs - (double)(time_t)secs) * 1e9)};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        }
        atomic_store(&stop, 1);
    }
    for (unsigned i = 0; i < threads; i++) {
        (void)pthread_join(t[i], NULL);
        total += a[i].done;
    }
    *elapsed = bench_now() - t0;
    (void)pthread_barrier_destroy(&go);
    return total;
}

/* ---- a. durable appends -------------------------------------------------- */

/* What one durable append must wait for on this disk: a small write at
 * the end of a file, then fdatasync (the journal's pattern, without the
 * log). With group commit, T threads can at best reach about T / 2
 * appends per this latency (half of them wait while the other half's
 * batch syncs). */
static void sync_probe(const char *dir)
{
    enum { N = 200 };
    char path[4200];
    uint8_t rec[100];
    double us[N];
    memset(rec, 0x5a, sizeof rec);
    (void)snprintf(path, sizeof path, "%s/sync-probe", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        die("open %s: %s", path, strerror(errno));
    for (int i = 0; i < N; i++) {
        double t0 = bench_now();
        if (pwrite(fd, rec, sizeof rec, (off_t)i * (off_t)sizeof rec) !=
                (ssize_t)sizeof rec ||
            fdatasync(fd) != 0)
            die("write %s: %s", path, strerror(errno));
        us[i] = (bench_now() - t0) * 1e6;
    }
    close(fd);
    (void)unlink(path);
    printf("part=sync samples=%d append_fdatasync_p50_us=%.0f "
           "append_fdatasync_p99_us=%.0f\n",
           N, bench_percentile(us, N, 50), bench_percentile(us, N, 99));
    fflush(stdout);
}

static void part_appends(const char *work, double secs)
{
    static const uint8_t jkey[32] = "audit bench journal key........";
    static const uint8_t seed[32] = "audit bench signing seed.......";
    static const unsigned threads[] = {1, 8, 64};
    char dir[4096], msg[AUDIT_MSG_MAX];
    audit_log *l = NULL;
    sr_buf b;
    (void)snprintf(dir, sizeof dir, "%s/append", work);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        die("mkdir %s: %s", dir, strerror(errno));
    audit_log_config c = {dir, jkey, seed, "strongroom.bench/append"};
    if (audit_log_create(&c, msg) != SR_OK ||
        audit_log_open(&l, &c, msg) != SR_OK)
        die("audit log in %s: %s", dir, msg);
    sync_probe(dir);
    buf_init(&b, ENTRY_MAX_BYTES);
    make_entry(1, &b);
    note("durable appends, %zu-byte entries, %.0f s per thread count", b.len,
         secs);
    for (size_t i = 0; i < sizeof threads / sizeof threads[0]; i++) {
        double el;
        uint64_t n =
            append_run(l, threads[i], secs, 0, (uint64_t)(i + 1) << 50, &el);
        printf("part=append threads=%u entry_bytes=%zu appends=%llu "
               "secs=%.3f rate=%.0f\n",
               threads[i], b.len, (unsigned long long)n, el, (double)n / el);
        fflush(stdout);
    }
    buf_free(&b);
    audit_log_release(l);
}

/* ---- b. reads, logged and not -------------------------------------------- */

typedef struct tokens {
    char intake[SR_TOKEN_MAX];
    char clerk[SR_TOKEN_MAX];
    char auditor[SR_TOKEN_MAX];
} tokens;

static void principal(sr_vault *v, const char *name, const char *role,
                      char token[SR_TOKEN_MAX])
{
    char id[SR_TOKEN_ID_MAX];
    if (sr_vault_user_add(v, name, role, 1, NULL, 0) != SR_OK ||
        sr_vault_token_create(v, name, 0, NULL, token, id) != SR_OK)
        die("principal %s: %s", name, sr_vault_errmsg(v));
}

/* The policy without read budgets: the clerk here stands for an HR
 * system reading for as long as the bench runs, far past any budget
 * (docs/policy.md, "Read budgets"). */
static void lift_budgets(sr_vault *v)
{
    char *text = NULL;
    uint32_t version;
    json_error_t jerr;
    json_free_t jfree; /* the library gives jansson its own allocator */
    json_get_alloc_funcs(NULL, &jfree);
    if (sr_vault_policy_get(v, &text, &version) != SR_OK)
        die("policy: %s", sr_vault_errmsg(v));
    json_t *pol = json_loads(text, 0, &jerr), *role;
    const char *name;
    free(text);
    if (pol == NULL)
        die("policy: %s", jerr.text);
    json_object_foreach(json_object_get(pol, "roles"), name, role)
        (void)json_object_del(role, "budget");
    text = json_dumps(pol, JSON_COMPACT);
    json_decref(pol);
    if (text == NULL ||
        sr_vault_policy_set(v, text, strlen(text), &version) != SR_OK)
        die("policy set: %s", sr_vault_errmsg(v));
    jfree(text);
}

static sr_vault *open_as(const char *dir, const char *token, unsigned flags)
{
    sr_vault *v = NULL;
    sr_status st = sr_vault_open(&v, dir, PASS, strlen(PASS), flags);
    if (st == SR_OK)
        st = sr_vault_authenticate(v, token, strlen(token));
    if (st != SR_OK)
        die("open %s: %s", dir,
            v != NULL ? sr_vault_errmsg(v) : sr_status_str(st));
    return v;
}

static void write_population(const char *path, uint64_t n)
{
    sr_gen *g = NULL;
    FILE *f = fopen(path, "w");
    if (f == NULL || sr_gen_new(&g, 1) != SR_OK)
        die("cannot write %s", path);
    for (uint64_t i = 0; i < n; i++) {
        const char *line;
        size_t len;
        if (sr_gen_person_json(g, i, &line, &len) != SR_OK ||
            fwrite(line, 1, len, f) != len || fputc('\n', f) == EOF)
            die("cannot write %s", path);
    }
    sr_gen_free(g);
    if (fclose(f) != 0)
        die("cannot write %s", path);
}

static void make_vault(const char *vdir, const char *people_file,
                       uint64_t people, tokens *tk)
{
    sr_init_options opt = {SR_KDF_INTERACTIVE, people, NULL, 0, NULL, 0, NULL};
    char admin[SR_TOKEN_MAX];
    sr_vault *v = NULL;
    sr_status st = sr_vault_create(&v, vdir, PASS, strlen(PASS), &opt, admin);
    if (st != SR_OK)
        die("create %s: %s", vdir,
            v != NULL ? sr_vault_errmsg(v) : sr_status_str(st));
    principal(v, "intake", "intake", tk->intake);
    principal(v, "clerk", "hr-clerk", tk->clerk);
    principal(v, "auditor", "auditor", tk->auditor);
    lift_budgets(v);
    sr_vault_close(v);

    note("importing %llu people", (unsigned long long)people);
    double t0 = bench_now();
    v = open_as(vdir, tk->intake, SR_OPEN_WRITE);
    sr_import_options io;
    sr_import_summary sum;
    sr_access acc = {"intake", NULL, NULL};
    memset(&io, 0, sizeof io);
    io.format = SR_FORMAT_JSONL;
    if (sr_vault_import(v, &acc, people_file, &io, &sum) != SR_OK)
        die("import: %s", sr_vault_errmsg(v));
    if (sum.stored != people)
        die("import stored %llu of %llu people", (unsigned long long)sum.stored,
            (unsigned long long)people);
    sr_vault_close(v);
    note("imported in %.1f s", bench_now() - t0);
}

typedef struct idlist {
    char (*id)[SR_ID_STR_LEN + 1];
    size_t n, cap;
} idlist;

static sr_status collect_id(void *ctx, const store_row *row)
{
    idlist *l = ctx;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 4096;
        l->id = realloc(l->id, l->cap * sizeof *l->id);
        if (l->id == NULL)
            die("out of memory");
    }
    hex_encode(l->id[l->n++], row->id, SR_ID_BYTES);
    return SR_OK;
}

typedef struct reader {
    sr_vault *v;
    const char *vdir;
    const char *token;
    const idlist *ids;
    sem_t *opening;
    pthread_barrier_t *ready;
    /* per run */
    atomic_int *phase; /* 0 wait, 1 run, 2 stop, 3 quit */
    int logged;
    uint64_t done;
    uint64_t rng;
    pthread_barrier_t *go, *end;
} reader;

static void read_one(reader *r)
{
    const char *id = r->ids->id[splitmix(&r->rng) % r->ids->n];
    if (r->logged) {
        sr_access acc = {"hr-action", NULL, NULL};
        char *json = NULL;
        size_t len;
        if (sr_vault_get(r->v, &acc, id, 0, &json, &len) != SR_OK)
            die("get: %s", sr_vault_errmsg(r->v));
        sr_secret_free(json);
    } else {
        if (vault_read_line(r->v, id, CLERK_CLASSES) != SR_OK)
            die("vault_read_line: %s", sr_vault_errmsg(r->v));
        buf_reset(&r->v->out);
    }
}

static void *reader_main(void *arg)
{
    reader *r = arg;
    /* Argon2id takes 64 MiB a derivation: a few at a time. */
    while (sem_wait(r->opening) != 0 && errno == EINTR) {
    }
    r->v = open_as(r->vdir, r->token, SR_OPEN_READ);
    (void)sem_post(r->opening);
    (void)pthread_barrier_wait(r->ready);
    for (;;) {
        (void)pthread_barrier_wait(r->go);
        if (atomic_load(r->phase) == 3)
            break;
        r->done = 0;
        while (atomic_load(r->phase) == 1) {
            read_one(r);
            r->done++;
        }
        (void)pthread_barrier_wait(r->end);
    }
    sr_vault_close(r->v);
    return NULL;
}

typedef struct pool {
    pthread_t t[MAX_THREADS];
    reader r[MAX_THREADS];
    unsigned n;
    atomic_int phase;
    pthread_barrier_t ready, go, end;
    sem_t opening;
} pool;

static void pool_start(pool *p, unsigned n, const char *vdir, const char *token,
                       const idlist *ids)
{
    memset(p, 0, sizeof *p);
    p->n = n;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (sem_init(&p->opening, 0, cpus > 0 ? (unsigned)cpus : 1u) != 0 ||
        pthread_barrier_init(&p->ready, NULL, n + 1) != 0 ||
        pthread_barrier_init(&p->go, NULL, n + 1) != 0 ||
        pthread_barrier_init(&p->end, NULL, n + 1) != 0)
        die("pool");
    for (unsigned i = 0; i < n; i++) {
        reader *r = &p->r[i];
        r->vdir = vdir;
        r->token = token;
        r->ids = ids;
        r->opening = &p->opening;
        r->ready = &p->ready;
        r->phase = &p->phase;
        r->go = &p->go;
        r->end = &p->end;
        r->rng = 0x1234567ull * (i + 1);
        if (pthread_create(&p->t[i], NULL, reader_main, r) != 0)
            die("pthread_create");
    }
    (void)pthread_barrier_wait(&p->ready);
}

/* Reads per second with every thread of p reading for secs. */
static double pool_run(pool *p, int logged, double secs)
{
    uint64_t total = 0;
    for (unsigned i = 0; i < p->n; i++)
        p->r[i].logged = logged;
    atomic_store(&p->phase, 1);
    (void)pthread_barrier_wait(&p->go);
    double t0 = bench_now();
    struct timespec ts = {(time_t)secs,
                          (long)((secs - (double)(time_t)secs) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
    atomic_store(&p->phase, 2);
    (void)pthread_barrier_wait(&p->end);
    double el = bench_now() - t0;
    for (unsigned i = 0; i < p->n; i++)
        total += p->r[i].done;
    return (double)total / el;
}

static void pool_stop(pool *p)
{
    atomic_store(&p->phase, 3);
    (void)pthread_barrier_wait(&p->go);
    for (unsigned i = 0; i < p->n; i++)
        (void)pthread_join(p->t[i], NULL);
    (void)pthread_barrier_destroy(&p->ready);
    (void)pthread_barrier_destroy(&p->go);
    (void)pthread_barrier_destroy(&p->end);
    (void)sem_destroy(&p->opening);
}

static void part_reads(const char *vdir, const tokens *tk, uint64_t people,
                       double secs)
{
    static const unsigned threads[] = {1, 64};
    idlist ids;
    memset(&ids, 0, sizeof ids);
    sr_vault *v = open_as(vdir, tk->clerk, SR_OPEN_READ);
    if (v->ops->scan(v->st, 0, collect_id, &ids) != SR_OK || ids.n != people)
        die("cannot list the people (%zu)", ids.n);
    sr_vault_close(v);

    for (size_t k = 0; k < sizeof threads / sizeof threads[0]; k++) {
        pool *p = calloc(1, sizeof *p);
        if (p == NULL)
            die("out of memory");
        note("reads: opening %u handles", threads[k]);
        pool_start(p, threads[k], vdir, tk->clerk, &ids);
        (void)pool_run(p, 0, secs / 2); /* warm the page cache */
        /* Alternate, so drift (page cache, other load) hits both. */
        double un[2], lo[2];
        for (int rep = 0; rep < 2; rep++) {
            un[rep] = pool_run(p, 0, secs / 2);
            lo[rep] = pool_run(p, 1, secs / 2);
        }
        double u = (un[0] + un[1]) / 2, l = (lo[0] + lo[1]) / 2;
        printf("part=reads people=%llu threads=%u unlogged_rate=%.0f "
               "logged_rate=%.0f cost_ratio=%.3f unlogged_us=%.1f "
               "logged_us=%.1f\n",
               (unsigned long long)people, threads[k], u, l, u / l, 1e6 / u,
               1e6 / l);
        fflush(stdout);
        pool_stop(p);
        free(p);
    }
    free(ids.id);
}

/* ---- c and d. proofs and verification ------------------------------------ */

/* Append entries have .. to - 1 in batches of GROW_BATCH (one write and
 * one sync each: audit_log_append_many), checkpointing every GROW_CHUNK. */
static void grow(audit_log *l, uint64_t to)
{
    char msg[AUDIT_MSG_MAX];
    uint64_t have = audit_log_pending_end(l), size, first;
    double t_app = 0, t_cp = 0;
    sr_buf *b = calloc(GROW_BATCH, sizeof *b);
    const uint8_t **p = calloc(GROW_BATCH, sizeof *p);
    size_t *len = calloc(GROW_BATCH, sizeof *len);
    if (b == NULL || p == NULL || len == NULL)
        die("out of memory");
    for (size_t i = 0; i < GROW_BATCH; i++)
        buf_init(&b[i], ENTRY_MAX_BYTES);
    note("growing the log from %llu to %llu entries", (unsigned long long)have,
         (unsigned long long)to);
    while (have < to) {
        uint64_t until = have + GROW_CHUNK < to ? have + GROW_CHUNK : to;
        double t0 = bench_now();
        while (have < until) {
            size_t n =
                until - have < GROW_BATCH ? (size_t)(until - have) : GROW_BATCH;
            for (size_t i = 0; i < n; i++) {
                make_entry((have + i) << 8, &b[i]);
                p[i] = b[i].p;
                len[i] = b[i].len;
            }
            if (audit_log_append_many(l, p, len, n, &first, msg) != SR_OK)
                die("audit_log_append_many: %s", msg);
            have = first + n;
        }
        t_app += bench_now() - t0;
        t0 = bench_now();
        if (audit_log_checkpoint(l, &size, msg) != SR_OK)
            die("checkpoint: %s", msg);
        t_cp += bench_now() - t0;
    }
    for (size_t i = 0; i < GROW_BATCH; i++)
        buf_free(&b[i]);
    free(b);
    free(p);
    free(len);
    printf("part=grow size=%llu append_secs=%.1f checkpoint_secs=%.1f\n",
           (unsigned long long)to, t_app, t_cp);
    fflush(stdout);
}

static sr_status count_line(void *ctx, const char *line, size_t len)
{
    (void)line;
    *(size_t *)ctx += len;
    return SR_OK;
}

static void report(const char *what, uint64_t size, double *us, size_t n)
{
    double p50 = bench_percentile(us, n, 50), p99 = bench_percentile(us, n, 99);
    printf("part=proof size=%llu kind=%s samples=%zu p50_us=%.2f "
           "p99_us=%.2f\n",
           (unsigned long long)size, what, n, p50, p99);
    fflush(stdout);
}

static void part_proofs(sr_vault *va, uint64_t size, size_t samples)
{
    audit_log *l = va->log;
    tilefs *t = NULL;
    uint8_t proof[MERKLE_PROOF_MAX][32], leaf[32], r1[32], r2[32];
    size_t n;
    uint64_t rng = 0xbe9c4u ^ size;
    double *us = calloc(samples, sizeof *us);
    uint64_t *idx = calloc(samples, sizeof *idx);
    if (us == NULL || idx == NULL)
        die("out of memory");
    if (tilefs_open(&t, audit_log_dir(l), audit_log_nodes_dir(l), size) !=
        SR_OK)
        die("tilefs_open");

    /* Warm-up on other indexes, then each kind over the same sample. */
    for (size_t i = 0; i < samples; i++) {
        uint64_t j = splitmix(&rng) % size;
        if (merkle_inclusion_proof(tilefs_node, t, j, size, proof,
                                   MERKLE_PROOF_MAX, &n) != SR_OK)
            die("inclusion proof of %llu: %s", (unsigned long long)j,
                tilefs_errmsg(t));
    }
    for (size_t i = 0; i < samples; i++)
        idx[i] = splitmix(&rng) % size;

    /* Inclusion: the path alone; with the leaf and the root, as the
     * vault computes them (src/vault/audit.c); and with the check the
     * vault makes before handing the proof out. */
    for (int kind = 0; kind < 3; kind++) {
        for (size_t i = 0; i < samples; i++) {
            double t0 = bench_now();
            sr_status st = SR_OK;
            if (kind > 0)
                st = tilefs_node(t, 0, idx[i], leaf);
            if (st == SR_OK)
                st = merkle_inclusion_proof(tilefs_node, t, idx[i], size, proof,
                                            MERKLE_PROOF_MAX, &n);
            if (st == SR_OK && kind > 0)
                st = merkle_root(tilefs_node, t, size, r1);
            if (st == SR_OK && kind > 1)
                st = merkle_verify_inclusion(
                    leaf, idx[i], size, (const uint8_t(*)[32])proof, n, r1);
            us[i] = (bench_now() - t0) * 1e6;
            if (st != SR_OK)
                die("inclusion proof of %llu: %s", (unsigned long long)idx[i],
                    tilefs_errmsg(t));
        }
        report(kind == 0   ? "inclusion"
               : kind == 1 ? "inclusion+root"
                           : "inclusion+root+verify",
               size, us, samples);
    }
    /* Consistency from a random earlier size to this one, likewise. */
    for (int kind = 0; kind < 3; kind++) {
        for (size_t i = 0; i < samples; i++) {
            uint64_t m = 1 + idx[i] % size;
            double t0 = bench_now();
            sr_status st = merkle_consistency_proof(
                tilefs_node, t, m, size, proof, MERKLE_PROOF_MAX, &n);
            if (st == SR_OK && kind > 0)
                st = merkle_root(tilefs_node, t, m, r1);
            if (st == SR_OK && kind > 0)
                st = merkle_root(tilefs_node, t, size, r2);
            if (st == SR_OK && kind > 1)
                st = merkle_verify_consistency(m, size, r1, r2,
                                               (const uint8_t(*)[32])proof, n);
            us[i] = (bench_now() - t0) * 1e6;
            if (st != SR_OK)
                die("consistency proof from %llu: %s", (unsigned long long)m,
                    tilefs_errmsg(t));
        }
        report(kind == 0   ? "consistency"
               : kind == 1 ? "consistency+roots"
                           : "consistency+roots+verify",
               size, us, samples);
    }
    tilefs_free(t);

    /* The public calls: a checkpoint (nothing new to integrate: it reads
     * and checks the signed head), a fresh view, the proof, the root, the
     * checks, JSON. */
    size_t calls = samples / 10 > 0 ? samples / 10 : 1, sink = 0;
    for (int kind = 0; kind < 2; kind++) {
        for (size_t i = 0; i < calls; i++) {
            double t0 = bench_now();
            sr_status st =
                kind == 0
                    ? sr_vault_audit_inclusion(va, idx[i], 0, count_line, &sink)
                    : sr_vault_audit_consistency(va, 1 + idx[i] % size, 0,
                                                 count_line, &sink);
            us[i] = (bench_now() - t0) * 1e6;
            if (st != SR_OK)
                die("%s: %s",
                    kind == 0 ? "sr_vault_audit_inclusion"
                              : "sr_vault_audit_consistency",
                    sr_vault_errmsg(va));
        }
        report(kind == 0 ? "sr_vault_audit_inclusion"
                         : "sr_vault_audit_consistency",
               size, us, calls);
    }
    free(us);
    free(idx);
}

static void part_verify(const char *vdir, uint64_t size)
{
    char path[4200];
    sr_buf vk;
    sr_log_report rep;
    buf_init(&vk, 4096);
    (void)snprintf(path, sizeof path, "%s/log.vkey", vdir);
    if (file_read(path, &vk) != SR_OK || buf_append_byte(&vk, 0) != SR_OK)
        die("cannot read %s", path);
    (void)snprintf(path, sizeof path, "%s/log", vdir);
    double t0 = bench_now();
    sr_status st = sr_log_verify(path, (const char *)vk.p, NULL, &rep);
    double el = bench_now() - t0;
    if (st != SR_OK)
        die("sr_log_verify: %s", rep.message);
    printf("part=verify size=%llu entries=%llu secs=%.2f rate=%.0f\n",
           (unsigned long long)size, (unsigned long long)rep.entries, el,
           (double)rep.entries / el);
    fflush(stdout);
    buf_free(&vk);
}

/* ---- e. the breach report ------------------------------------------------ */

static sr_status count_report(void *ctx, const char *line, size_t len)
{
    uint64_t *c = ctx;
    (void)line;
    c[0]++;
    c[1] += len;
    return SR_OK;
}

/* sr_vault_breach_report over the whole log: one clerk's entries (the
 * grown entries' tags step by 256, so clerk08 made a fifth of them, each
 * naming one person), then a window of a tenth of the log's time
 * (everyone's). Each verifies the log first. */
static void part_breach(sr_vault *va, uint64_t size)
{
    static const char *const what[] = {"principal", "window"};
    for (int k = 0; k < 2; k++) {
        sr_breach_query q;
        uint64_t out[2] = {0, 0};
        memset(&q, 0, sizeof q);
        if (k == 0) {
            q.principal = "clerk08";
        } else {
            q.since_ns = 1764000000000000000ull + (size / 2 << 8) * 1000003u;
            q.until_ns = q.since_ns + (size / 10 << 8) * 1000003u;
        }
        double t0 = bench_now();
        sr_status st = sr_vault_breach_report(va, &q, count_report, out);
        double el = bench_now() - t0;
        if (st != SR_OK)
            die("sr_vault_breach_report: %s", sr_vault_errmsg(va));
        printf("part=breach size=%llu query=%s secs=%.1f rate=%.0f "
               "lines=%llu bytes=%llu\n",
               (unsigned long long)size, what[k], el, (double)size / el,
               (unsigned long long)out[0], (unsigned long long)out[1]);
        fflush(stdout);
    }
}

/* ---- main ---------------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    const char *work = NULL, *parts = "abcde", *sizes_arg = "1000000 10000000";
    size_t people = 100000, samples = 20000, sz;
    double secs = 3;
    int keep = 0;
    uint64_t sizes[16];
    size_t nsizes = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--people") == 0 && i + 1 < argc &&
            bench_parse_count(argv[i + 1], &people))
            i++;
        else if (strcmp(a, "--samples") == 0 && i + 1 < argc &&
                 bench_parse_count(argv[i + 1], &samples))
            i++;
        else if (strcmp(a, "--secs") == 0 && i + 1 < argc &&
                 bench_parse_count(argv[i + 1], &sz))
            secs = (double)sz, i++;
        else if (strcmp(a, "--sizes") == 0 && i + 1 < argc)
            sizes_arg = argv[++i];
        else if (strcmp(a, "--parts") == 0 && i + 1 < argc)
            parts = argv[++i];
        else if (strcmp(a, "--keep") == 0)
            keep = 1;
        else if (a[0] != '-' && work == NULL)
            work = a;
        else
            work = NULL, argc = 0;
    }
    char *copy = strdup(sizes_arg), *save = NULL;
    for (char *tok = strtok_r(copy, " ,", &save); tok != NULL;
         tok = strtok_r(NULL, " ,", &save)) {
        if (nsizes == 16 || !bench_parse_count(tok, &sz))
            work = NULL;
        else
            sizes[nsizes++] = sz;
    }
    free(copy);
    if (work == NULL || argc == 0 || people == 0 || samples == 0) {
        fprintf(stderr,
                "usage: bench_audit WORKDIR [--people N] [--sizes \"M N\"] "
                "[--secs S] [--samples K] [--parts abcde] [--keep]\n");
        return 2;
    }
    qsort(sizes, nsizes, sizeof *sizes, cmp_u64);
    if (sr_init() != SR_OK)
        die("the library did not start");
    if (mkdir(work, 0700) != 0)
        die("WORKDIR %s must not exist yet: %s", work, strerror(errno));

    if (strchr(parts, 'a') != NULL)
        part_appends(work, secs);

    bool need_vault = strpbrk(parts, "bcde") != NULL;
    char vdir[4096], pop[4096];
    tokens tk;
    (void)snprintf(vdir, sizeof vdir, "%s/vault", work);
    (void)snprintf(pop, sizeof pop, "%s/people.jsonl", work);
    if (need_vault) {
        note("writing %zu people (seed 1)", people);
        write_population(pop, people);
        make_vault(vdir, pop, people, &tk);
        (void)unlink(pop);
    }
    if (strchr(parts, 'b') != NULL)
        part_reads(vdir, &tk, people, secs * 2);
    if (strpbrk(parts, "cde") != NULL) {
        sr_vault *va = open_as(vdir, tk.auditor, SR_OPEN_READ);
        for (size_t i = 0; i < nsizes; i++) {
            grow(va->log, sizes[i]);
            if (strchr(parts, 'c') != NULL)
                part_proofs(va, sizes[i], samples);
            if (strchr(parts, 'd') != NULL)
                part_verify(vdir, sizes[i]);
            if (strchr(parts, 'e') != NULL)
                part_breach(va, sizes[i]);
        }
        sr_vault_close(va);
    }
    if (!keep) {
        char cmd[4200];
        (void)snprintf(cmd, sizeof cmd, "rm -rf -- '%s'", work);
        if (strchr(work, '\'') != NULL || system(cmd) != 0)
            note("could not remove %s", work);
    }
    return 0;
}
